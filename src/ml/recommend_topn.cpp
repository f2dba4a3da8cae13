// Top-N recommendations: ALS scores for users with training pairs (pruned blocked scan), and for
// the others their categories' popular products, then global popularity.
#include <algorithm>
#include <chrono>
#include <vector>

#include "ecom/ml/recommend.hpp"
#include "recommend_detail.hpp"

namespace ecom::ml {
namespace {

using namespace detail;

// Catalogue indices a user's recommendations leave out (sorted), per the exclusion rule.
class Exclusions {
 public:
  Exclusions(const Catalogue& cat, std::span<const Interaction> interactions,
             const std::vector<std::size_t>& off, Exclusion rule)
      : cat_(cat), interactions_(interactions), off_(off), rule_(rule) {}
  void of(std::size_t u, std::vector<std::uint32_t>& out) const {
    out.clear();
    if (rule_ == Exclusion::none) return;
    for (std::size_t t = off_[u]; t < off_[u + 1]; ++t) {
      const Interaction& it = interactions_[t];
      if (rule_ == Exclusion::purchased && !it.purchased()) continue;
      const std::size_t i = cat_.index_of(it.product);
      if (i < cat_.size()) out.push_back(static_cast<std::uint32_t>(i));
    }
    std::sort(out.begin(), out.end());
  }

 private:
  const Catalogue& cat_;
  std::span<const Interaction> interactions_;
  const std::vector<std::size_t>& off_;
  Exclusion rule_;
};

// ALS users (user_train_count > 0), in blocks of users scored against every item block.
template <class T>
void als_rows(const AlsModel& model, const Catalogue& cat, const Exclusions& exclusions,
              std::size_t cap, const RecommendConfig& cfg,
              std::vector<std::vector<Recommendation>>& per_user) {
  const auto kk = static_cast<std::size_t>(model.factors);
  Scorer<T> scorer(cat, /*by_norm=*/true);
  const std::vector<T> xs_all = rows_as<T>(model.user_factors);
  const auto block = static_cast<std::size_t>(std::max(4, cfg.user_block));
  std::vector<std::size_t> served;
  for (std::size_t u = 0; u < model.users.size(); ++u)
    if (model.user_train_count[u] > 0) served.push_back(u);
  std::vector<T> xs;
  std::vector<TopList<T>> tops(block, TopList<T>(cap));
  std::vector<std::vector<std::uint32_t>> excl(block);
  for (std::size_t b = 0; b < served.size(); b += block) {
    const std::size_t nb = std::min(block, served.size() - b);
    xs.resize(nb * kk);
    for (std::size_t t = 0; t < nb; ++t) {
      std::copy_n(xs_all.data() + served[b + t] * kk, kk, xs.data() + t * kk);
      tops[t].clear();
      exclusions.of(served[b + t], excl[t]);
    }
    scorer.score_pruned(
        xs.data(), nb,
        [&](std::size_t t, const T* s, std::size_t n, const std::uint32_t* items) {
          scan_block(s, n, items, tops[t], excl[t]);
        },
        [&](std::size_t t) { return tops[t].threshold(); });
    for (std::size_t t = 0; t < nb; ++t) {
      const std::size_t u = served[b + t];
      auto& rows = per_user[u];
      for (std::size_t r = 0; r < tops[t].size(); ++r) {
        Recommendation rec;
        rec.user = model.users[u];
        rec.product = cat.products[tops[t].item(r)];
        rec.score = static_cast<double>(tops[t].score(r));
        rec.rank = static_cast<std::uint32_t>(r + 1);
        rec.source = RecSource::als;
        rows.push_back(rec);
      }
    }
  }
}

// The user's categories by number of pairs (descending; ties: lower id first).
void categories_of(std::span<const Interaction> pairs,
                   std::vector<std::pair<std::uint64_t, std::uint32_t>>& cat_counts) {
  cat_counts.clear();
  for (const Interaction& it : pairs) {
    const std::uint64_t c = it.category_id;
    auto found = std::find_if(cat_counts.begin(), cat_counts.end(),
                              [c](const auto& e) { return e.first == c; });
    if (found == cat_counts.end())
      cat_counts.push_back({c, 1});
    else
      ++found->second;
  }
  std::sort(cat_counts.begin(), cat_counts.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return a.first < b.first;
  });
}

// Fallback users: their categories' popular products, then global popularity.
void fallback_rows(const AlsModel& model, const Catalogue& cat,
                   std::span<const Interaction> interactions, const std::vector<std::size_t>& off,
                   const Exclusions& exclusions, std::size_t cap, const RecommendConfig& cfg,
                   std::vector<std::vector<Recommendation>>& per_user) {
  const PopularityOrder order(cat);
  std::vector<std::uint32_t> excl, chosen;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> cat_counts;
  for (std::size_t u = 0; u < model.users.size(); ++u) {
    if (model.user_train_count[u] > 0) continue;
    exclusions.of(u, excl);
    chosen.clear();
    auto& rows = per_user[u];
    auto take = [&](std::uint32_t i, RecSource src) {
      if (rows.size() >= cap) return;
      if (std::binary_search(excl.begin(), excl.end(), i)) return;
      if (std::find(chosen.begin(), chosen.end(), i) != chosen.end()) return;
      chosen.push_back(i);
      Recommendation rec;
      rec.user = model.users[u];
      rec.product = cat.products[i];
      rec.score = cat.popularity[i];
      rec.rank = static_cast<std::uint32_t>(rows.size() + 1);
      rec.source = src;
      rows.push_back(rec);
    };
    categories_of(interactions.subspan(off[u], off[u + 1] - off[u]), cat_counts);
    const std::size_t n_cats =
        std::min(cat_counts.size(), static_cast<std::size_t>(std::max(0, cfg.fallback_categories)));
    for (std::size_t c = 0; c < n_cats && rows.size() < cap; ++c) {
      const auto [b, e] = order.category_range(cat_counts[c].first);
      for (std::size_t i = b; i < e && rows.size() < cap; ++i)
        take(order.by_category[i], RecSource::category_popular);
    }
    for (std::size_t i = 0; i < order.global.size() && rows.size() < cap; ++i)
      take(order.global[i], RecSource::popular);
  }
}

// Concatenates the users' rows; with `stats`, fills it (collective).
std::vector<Recommendation> concat_rows(par::Comm& comm, const Catalogue& cat,
                                        const std::vector<std::vector<Recommendation>>& per_user,
                                        TopNStats* stats) {
  std::vector<Recommendation> out;
  std::vector<std::uint8_t> recommended(cat.size(), 0);
  std::uint64_t counts[6] = {0, 0, 0, 0, 0, 0};
  for (const auto& rows : per_user) {
    if (!rows.empty()) ++counts[3 + static_cast<int>(rows.front().source)];
    for (const auto& r : rows) {
      ++counts[static_cast<int>(r.source)];
      recommended[cat.index_of(r.product)] = 1;
      out.push_back(r);
    }
  }
  if (stats) {
    comm.allreduce_sum(std::span<std::uint64_t>(counts, 6));
    comm.allreduce_max(std::span<std::uint8_t>(recommended));
    for (int s = 0; s < 3; ++s) {
      stats->rows[s] = counts[s];
      stats->users[s] = counts[3 + s];
    }
    const auto distinct = std::count(recommended.begin(), recommended.end(), 1);
    stats->coverage =
        cat.size() ? static_cast<double>(distinct) / static_cast<double>(cat.size()) : 0.0;
  }
  return out;
}

template <class T>
std::vector<Recommendation> top_n_impl(par::Comm& comm, const AlsModel& model, const Catalogue& cat,
                                       std::span<const Interaction> interactions,
                                       const RecommendConfig& cfg, TopNStats* stats) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto cap = static_cast<std::size_t>(std::max(0, cfg.top_n));
  const auto off = pair_offsets(model.users, interactions);
  const Exclusions exclusions(cat, interactions, off, cfg.exclude);
  std::vector<std::vector<Recommendation>> per_user(model.users.size());
  als_rows<T>(model, cat, exclusions, cap, cfg, per_user);
  fallback_rows(model, cat, interactions, off, exclusions, cap, cfg, per_user);
  std::vector<Recommendation> out = concat_rows(comm, cat, per_user, stats);
  if (stats)
    stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace

std::vector<Recommendation> recommend_top_n(par::Comm& comm, const AlsModel& model,
                                            const Catalogue& catalogue,
                                            std::span<const Interaction> interactions,
                                            const RecommendConfig& config, TopNStats* stats) {
  if (model.precision == FactorPrecision::float32)
    return top_n_impl<float>(comm, model, catalogue, interactions, config, stats);
  return top_n_impl<double>(comm, model, catalogue, interactions, config, stats);
}

}  // namespace ecom::ml
