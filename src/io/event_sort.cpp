#include "ecom/io/event_sort.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "ecom/core/uint128.hpp"
#include "ecom/io/event_store.hpp"

namespace ecom::io {

namespace {

// event_tag_less, inlined into the sorts (std::sort with a function pointer calls through it).
inline bool tag_less(const Event& a, const Event& b) {
  if (a.user != b.user) return a.user < b.user;
  if (a.time != b.time) return a.time < b.time;
  if (a.type != b.type) return a.type < b.type;
  if (a.product != b.product) return a.product < b.product;
  if (a.session != b.session) return a.session < b.session;
  if (a.price != b.price) return a.price < b.price;
  if (file_tag(a) != file_tag(b)) return file_tag(a) < file_tag(b);
  // Rows equal so far may still differ in their labels: ordering by them too makes the order
  // total, so which of such duplicates is kept never depends on the arrival order (np).
  if (a.category_id != b.category_id) return a.category_id < b.category_id;
  if (a.category != b.category) return a.category < b.category;
  return a.brand < b.brand;
}
constexpr auto kTagLess = [](const Event& a, const Event& b) { return tag_less(a, b); };

}  // namespace

bool event_tag_less(const Event& a, const Event& b) { return tag_less(a, b); }

namespace {

constexpr std::size_t kPerBucket = 64;                  // events per bucket of the fine pass
constexpr std::size_t kCoarseBuckets = 1024;            // buckets of the coarse pass
constexpr std::size_t kFineMax = std::size_t{1} << 16;  // events a fine pass takes at once (4 MiB)

// Moves every event into its bucket in place (American flag sort: each event moves once) and
// returns the bucket ends. Buckets split [lo, hi] of the users evenly, so bucket order is user
// order; [lo, hi] is the whole 64-bit range with `full_range` (pseudonyms are uniform hashes:
// this saves a pass over the events), else the users' own range.
std::vector<std::size_t> bucket_pass(std::span<Event> events, std::size_t buckets,
                                     bool full_range = false) {
  std::uint64_t lo = 0, hi = UINT64_MAX;
  if (!full_range) {
    lo = hi = events[0].user;
    for (const Event& e : events) {
      lo = std::min(lo, e.user);
      hi = std::max(hi, e.user);
    }
  }
  // Bucket of user u: ((u - lo) * mult) >> 64 with mult = floor(buckets * 2^64 / width), which
  // is monotone and below `buckets` (one multiplication instead of a 128-bit division per call);
  // when the users span no more values than there are buckets, u - lo itself.
  const u128 width = static_cast<u128>(hi - lo) + 1;
  const std::uint64_t mult =
      width <= buckets ? 0 : static_cast<std::uint64_t>((static_cast<u128>(buckets) << 64) / width);
  auto bucket_of = [lo, mult](const Event& e) {
    const std::uint64_t x = e.user - lo;
    return static_cast<std::size_t>(mult == 0 ? x : (static_cast<u128>(x) * mult) >> 64);
  };
  std::vector<std::size_t> next(buckets + 1, 0), end(buckets, 0);
  for (const Event& e : events) ++next[bucket_of(e) + 1];
  for (std::size_t b = 1; b <= buckets; ++b) next[b] += next[b - 1];
  for (std::size_t b = 0; b < buckets; ++b) end[b] = next[b + 1];
  for (std::size_t b = 0; b < buckets; ++b) {
    while (next[b] < end[b]) {
      Event e = events[next[b]];
      std::size_t kb = bucket_of(e);
      while (kb != b) {
        Event& slot = events[next[kb]++];
        // The next event of bucket kb is the target when kb comes up again: bring it into the
        // cache now (the buckets' write heads are too many for the hardware prefetcher).
        __builtin_prefetch(&slot + 1, 1);
        std::swap(e, slot);
        kb = bucket_of(e);
      }
      events[next[b]++] = e;
    }
  }
  return end;
}

// Fine pass: buckets of about kPerBucket events, then std::sort of each.
void sort_fine(std::span<Event> events) {
  const std::size_t n = events.size();
  if (n < 4 * kPerBucket) {
    std::sort(events.begin(), events.end(), kTagLess);
    return;
  }
  const auto end = bucket_pass(events, n / kPerBucket);
  std::size_t start = 0;
  for (const std::size_t e : end) {
    std::sort(events.begin() + static_cast<std::ptrdiff_t>(start),
              events.begin() + static_cast<std::ptrdiff_t>(e), kTagLess);
    start = e;
  }
}

}  // namespace

void sort_events(std::span<Event> events) {
  const std::size_t n = events.size();
  if (n < 2) return;
  if (n <= kFineMax) {
    sort_fine(events);
    return;
  }
  // Large inputs: a coarse pass first, so that the fine pass (random moves) works on pieces that
  // fit in the cache. Each piece is then sorted the same way.
  const std::size_t buckets = std::min(kCoarseBuckets, n / (kFineMax / 4));
  auto one_bucket = [n](const std::vector<std::size_t>& ends) {
    std::size_t start = 0;
    for (const std::size_t e : ends) {
      if (e - start == n) return true;
      start = e;
    }
    return false;
  };
  auto end = bucket_pass(events, buckets, true);
  if (one_bucket(end)) end = bucket_pass(events, buckets);  // clustered users: their own range
  std::size_t start = 0;
  for (const std::size_t e : end) {
    if (e - start == n) {  // one user range holds everything (e.g. a single user): no progress
      sort_fine(events);
      return;
    }
    sort_events(events.subspan(start, e - start));
    start = e;
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
