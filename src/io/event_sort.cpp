#include "ecom/io/event_sort.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "ecom/core/uint128.hpp"
#include "ecom/io/event_store.hpp"

namespace ecom::io {

bool event_tag_less(const Event& a, const Event& b) {
  if (a.user != b.user) return a.user < b.user;
  if (a.time != b.time) return a.time < b.time;
  if (a.type != b.type) return a.type < b.type;
  if (a.product != b.product) return a.product < b.product;
  if (a.session != b.session) return a.session < b.session;
  if (a.price != b.price) return a.price < b.price;
  return file_tag(a) < file_tag(b);
}

void sort_events(std::span<Event> events) {
  const std::size_t n = events.size();
  if (n < 2) return;
  constexpr std::size_t kPerBucket = 64;
  if (n < 4 * kPerBucket) {
    std::sort(events.begin(), events.end(), event_tag_less);
    return;
  }
  std::uint64_t lo = events[0].user, hi = events[0].user;
  for (const Event& e : events) {
    lo = std::min(lo, e.user);
    hi = std::max(hi, e.user);
  }
  const std::size_t buckets = n / kPerBucket;
  const u128 width = static_cast<u128>(hi - lo) + 1;
  // Monotone in the user: bucket order is user order.
  auto bucket_of = [&](const Event& e) {
    return static_cast<std::size_t>(static_cast<u128>(e.user - lo) * buckets / width);
  };
  std::vector<std::size_t> next(buckets + 1, 0), end(buckets, 0);
  for (const Event& e : events) ++next[bucket_of(e) + 1];
  for (std::size_t b = 1; b <= buckets; ++b) next[b] += next[b - 1];
  for (std::size_t b = 0; b < buckets; ++b) end[b] = next[b + 1];
  // American flag sort: each event is moved at most once into its bucket.
  for (std::size_t b = 0; b < buckets; ++b) {
    while (next[b] < end[b]) {
      Event e = events[next[b]];
      std::size_t kb = bucket_of(e);
      while (kb != b) {
        std::swap(e, events[next[kb]++]);
        kb = bucket_of(e);
      }
      events[next[b]++] = e;
    }
  }
  std::size_t start = 0;
  for (std::size_t b = 0; b < buckets; ++b) {
    std::sort(events.begin() + static_cast<std::ptrdiff_t>(start),
              events.begin() + static_cast<std::ptrdiff_t>(end[b]), event_tag_less);
    start = end[b];
  }
}

std::size_t remove_duplicates(std::span<Event> events,
                              const std::function<void(const Event&)>& on_removed) {
  if (events.empty()) return 0;
  std::size_t out = 1;
  for (std::size_t i = 1; i < events.size(); ++i) {
    if (same_event(events[i], events[out - 1])) {
      if (on_removed) on_removed(events[i]);
      continue;
    }
    events[out++] = events[i];
  }
  return out;
}

}  // namespace ecom::io
