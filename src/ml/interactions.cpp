#include "ecom/ml/interactions.hpp"

#include <algorithm>
#include <cmath>

#include "ecom/core/error.hpp"
#include "ecom/par/random.hpp"

namespace ecom::ml {

std::vector<std::uint64_t> distinct_users(std::span<const Event> events) {
  std::vector<std::uint64_t> users;
  for (const Event& e : events) {
    if (!users.empty() && e.user < users.back())
      throw Error("distinct_users: events are not sorted by user");
    if (users.empty() || users.back() != e.user) users.push_back(e.user);
  }
  return users;
}

std::vector<Interaction> build_interactions(std::span<const Event> events,
                                            const InteractionWeights& weights) {
  std::vector<Interaction> out;
  out.reserve(events.size() / 2 + 1);
  // Per user: sort (product, time, index) so that the pair's events are adjacent and in time
  // order; the result depends only on the user's events.
  std::vector<std::size_t> order;
  std::size_t begin = 0;
  while (begin < events.size()) {
    std::size_t end = begin + 1;
    while (end < events.size() && events[end].user == events[begin].user) ++end;
    if (end < events.size() && events[end].user < events[begin].user)
      throw Error("build_interactions: events are not sorted by user");
    order.resize(end - begin);
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = begin + i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const Event& x = events[a];
      const Event& y = events[b];
      if (x.product != y.product) return x.product < y.product;
      if (x.time != y.time) return x.time < y.time;
      return a < b;
    });
    std::size_t i = 0;
    while (i < order.size()) {
      const Event& first = events[order[i]];
      Interaction rec;
      rec.user = first.user;
      rec.product = first.product;
      rec.first_time = first.time;
      double sum = 0.0;  // events of the pair in time order: a fixed summation order
      std::size_t j = i;
      for (; j < order.size() && events[order[j]].product == first.product; ++j) {
        const Event& e = events[order[j]];
        sum += weights.weight(e.type);
        rec.types = static_cast<std::uint8_t>(rec.types | (1U << static_cast<unsigned>(e.type)));
        rec.last_time = e.time;
        rec.category_id = e.category_id;
      }
      rec.strength = std::max(0.0, std::min(weights.cap, sum));
      out.push_back(rec);
      i = j;
    }
    begin = end;
  }
  return out;
}

bool keyed_holdout(std::uint64_t seed, double test_fraction, std::uint64_t user,
                   std::uint64_t product) {
  return par::uniform(seed, par::Purpose::split, user ^ mix64(product),
                      static_cast<std::uint32_t>(product)) < test_fraction;
}

std::size_t split_holdout(par::Comm& comm, std::span<Interaction> interactions,
                          const HoldoutConfig& config) {
  if (!(config.test_fraction >= 0.0 && config.test_fraction <= 1.0))
    throw UserError("als: holdout test_fraction must lie in [0, 1]");
  std::size_t n_test = 0;
  if (config.test_days > 0.0) {
    std::uint32_t local_max = 0;
    for (const Interaction& it : interactions) local_max = std::max(local_max, it.last_time);
    const std::uint32_t max_time = comm.allreduce_max(local_max);
    const double cutoff = static_cast<double>(max_time) - config.test_days * 86400.0;
    for (Interaction& it : interactions) {
      it.is_test = (it.strength > 0.0 && static_cast<double>(it.first_time) > cutoff) ? 1 : 0;
      n_test += it.is_test;
    }
  } else {
    for (Interaction& it : interactions) {
      it.is_test = (it.strength > 0.0 &&
                    keyed_holdout(config.seed, config.test_fraction, it.user, it.product))
                       ? 1
                       : 0;
      n_test += it.is_test;
    }
  }
  return n_test;
}

}  // namespace ecom::ml
