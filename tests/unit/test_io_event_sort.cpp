// Sorting (bucket pass + std::sort) against plain std::sort, and duplicate removal against a
// set-based reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "ecom/io/event_sort.hpp"
#include "ecom/io/event_store.hpp"

using namespace ecom;
using namespace ecom::io;

namespace {
std::vector<Event> random_events(std::mt19937_64& rng, std::size_t n, bool narrow) {
  std::vector<Event> v(n);
  for (auto& e : v) {
    e.user = narrow ? 1000 + rng() % 50 : rng();
    e.time = static_cast<std::uint32_t>(1569888000 + rng() % 30);
    e.type = static_cast<EventType>(rng() % 4);
    e.product = rng() % 5;
    e.session = rng() % 3;
    e.price = static_cast<double>(rng() % 3);
    set_file_tag(e, static_cast<std::uint16_t>(rng() % 3));
  }
  return v;
}
bool same_bytes(const Event& a, const Event& b) { return std::memcmp(&a, &b, sizeof(Event)) == 0; }
}  // namespace

TEST(EventSort, SameAsStdSort) {
  std::mt19937_64 rng(1);
  for (std::size_t n : {0u, 1u, 2u, 100u, 300u, 5000u, 100000u, 300000u}) {
    for (bool narrow : {false, true}) {
      auto v = random_events(rng, n, narrow);
      auto ref = v;
      std::sort(ref.begin(), ref.end(), event_tag_less);
      sort_events(v);
      ASSERT_EQ(v.size(), ref.size());
      for (std::size_t i = 0; i < n; ++i) ASSERT_TRUE(same_bytes(v[i], ref[i])) << n << " " << i;
      for (std::size_t i = 1; i < n; ++i) ASSERT_FALSE(event_less(v[i], v[i - 1]));
    }
  }
  // One user only, more events than one fine pass takes.
  std::vector<Event> one = random_events(rng, 70000, false);
  for (auto& e : one) e.user = 42;
  auto one_ref = one;
  std::sort(one_ref.begin(), one_ref.end(), event_tag_less);
  sort_events(one);
  for (std::size_t i = 0; i < one.size(); ++i) ASSERT_TRUE(same_bytes(one[i], one_ref[i]));
  // Extreme users (0 and max) in one run.
  std::vector<Event> edge = random_events(rng, 1000, false);
  edge[3].user = 0;
  edge[7].user = UINT64_MAX;
  auto ref = edge;
  std::sort(ref.begin(), ref.end(), event_tag_less);
  sort_events(edge);
  for (std::size_t i = 0; i < edge.size(); ++i) ASSERT_TRUE(same_bytes(edge[i], ref[i]));
}

TEST(EventSort, DuplicatesRemovedAgainstReference) {
  std::mt19937_64 rng(2);
  auto v = random_events(rng, 20000, true);
  // Reference: keep the minimum of each (user, time, type, product, session) group.
  std::map<std::tuple<std::uint64_t, std::uint32_t, int, std::uint64_t, std::uint64_t>, Event> ref;
  for (const auto& e : v) {
    auto key = std::make_tuple(e.user, e.time, static_cast<int>(e.type), e.product, e.session);
    auto it = ref.find(key);
    if (it == ref.end() || event_tag_less(e, it->second)) ref[key] = e;
  }
  sort_events(v);
  std::map<int, std::size_t> removed_by_file;
  const std::size_t kept =
      remove_duplicates(v, [&](const Event& e) { ++removed_by_file[file_tag(e)]; });
  ASSERT_EQ(kept, ref.size());
  std::size_t i = 0;
  for (const auto& [key, e] : ref) ASSERT_TRUE(same_bytes(v[i++], e));
  std::size_t removed = 0;
  for (auto [f, n] : removed_by_file) removed += n;
  EXPECT_EQ(removed, 20000 - kept);
}

// Duplicates that differ only in their labels (category_id, category, brand): the sort is total,
// so any input order (the order events arrive in depends on the number of ranks) gives the same
// sequence, and the kept duplicate is the one with the smallest (price, file, labels).
TEST(EventSort, LabelsMakeTheOrderTotal) {
  std::mt19937_64 rng(3);
  auto v = random_events(rng, 30000, true);
  for (auto& e : v) {
    e.category_id = rng() % 3;
    e.category = rng() % 2;
    e.brand = rng() % 3;
  }
  using Key = std::tuple<std::uint64_t, std::uint32_t, int, std::uint64_t, std::uint64_t>;
  using Rank = std::tuple<double, int, std::uint64_t, std::uint64_t, std::uint64_t>;
  std::map<Key, std::pair<Rank, Event>> keep;
  for (const auto& e : v) {
    const Key k{e.user, e.time, static_cast<int>(e.type), e.product, e.session};
    const Rank r{e.price, file_tag(e), e.category_id, e.category, e.brand};
    auto it = keep.find(k);
    if (it == keep.end() || r < it->second.first) keep[k] = {r, e};
  }
  auto w = v;
  std::shuffle(w.begin(), w.end(), rng);
  sort_events(v);
  sort_events(w);
  for (std::size_t i = 0; i < v.size(); ++i) ASSERT_TRUE(same_bytes(v[i], w[i])) << i;
  const std::size_t kept = remove_duplicates(v);
  ASSERT_EQ(kept, keep.size());
  std::size_t i = 0;
  for (const auto& [k, re] : keep) ASSERT_TRUE(same_bytes(v[i++], re.second)) << i;
}
