// The ingest's read plan: leveled plain shares, greedy whole-file and digest assignment, and the
// byte ranges a share gives (against brute-force recomputation).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "ecom/io/input.hpp"
#include "ecom/io/read_plan.hpp"

using namespace ecom::io;

namespace {
std::uint64_t sum(const std::vector<std::uint64_t>& v) {
  return std::accumulate(v.begin(), v.end(), std::uint64_t{0});
}
}  // namespace

TEST(ReadPlan, LevelSharesWithoutLoadIsAnEvenSplit) {
  for (int p = 1; p <= 7; ++p)
    for (std::uint64_t total : {0ull, 1ull, 5ull, 1000ull, 1351099984ull}) {
      const auto s =
          level_shares(total, std::vector<std::uint64_t>(static_cast<std::size_t>(p), 0));
      ASSERT_EQ(s.size(), static_cast<std::size_t>(p));
      EXPECT_EQ(sum(s), total);
      const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
      EXPECT_LE(*hi - *lo, 1u) << p << " " << total;
      EXPECT_TRUE(std::is_sorted(s.rbegin(), s.rend()));  // the extra bytes go to low ranks
    }
}

TEST(ReadPlan, LevelSharesWaterFilling) {
  // Two ranks, one digest of the whole 1000-byte file on rank 0 (35 per byte):
  // 100 s0 + 35000 = 100 s1, s0 + s1 = 1000  ->  s0 = 325, s1 = 675.
  EXPECT_EQ(level_shares(1000, std::vector<std::uint64_t>{35000, 0}),
            (std::vector<std::uint64_t>{325, 675}));
  // A rank whose load exceeds the level gets nothing; the others level among themselves.
  EXPECT_EQ(level_shares(1000, std::vector<std::uint64_t>{0, 500000, 0}),
            (std::vector<std::uint64_t>{500, 0, 500}));
  // Random loads: the sum is exact; work (100 * share + load) is level within 2 bytes' cost
  // over the ranks with a share, and no rank without a share has less load than that level.
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    const std::size_t p = 1 + rng() % 9;
    std::vector<std::uint64_t> load(p);
    for (auto& l : load) l = rng() % 4 == 0 ? 0 : rng() % 200000;
    const std::uint64_t total = rng() % 5000;
    const auto s = level_shares(total, load);
    ASSERT_EQ(sum(s), total);
    std::uint64_t lo = UINT64_MAX, hi = 0;
    for (std::size_t r = 0; r < p; ++r)
      if (s[r] > 0) {
        lo = std::min(lo, 100 * s[r] + load[r]);
        hi = std::max(hi, 100 * s[r] + load[r]);
      }
    if (total == 0) continue;
    EXPECT_LE(hi - lo, 200u) << trial;
    for (std::size_t r = 0; r < p; ++r)
      if (s[r] == 0) {
        EXPECT_GE(load[r] + 200, lo) << trial << " rank " << r;
      }
  }
}

TEST(ReadPlan, SplitBySharesCoversTheConcatenationInRankOrder) {
  const std::vector<std::uint64_t> sizes = {10, 0, 7, 25, 3};
  const std::vector<std::uint64_t> shares = {12, 0, 20, 13};
  std::vector<std::vector<int>> owner(sizes.size());
  for (std::size_t f = 0; f < sizes.size(); ++f) owner[f].assign(sizes[f], -1);
  std::uint64_t before = 0;
  for (int r = 0; r < 4; ++r) {
    std::uint64_t mine = 0;
    for (const auto& br : split_by_shares(sizes, shares, r)) {
      ASSERT_LT(br.begin, br.end);
      for (std::uint64_t b = br.begin; b < br.end; ++b) {
        EXPECT_EQ(owner[br.file][b], -1);
        owner[br.file][b] = r;
      }
      mine += br.end - br.begin;
    }
    EXPECT_EQ(mine, shares[static_cast<std::size_t>(r)]);
    before += mine;
  }
  // Every byte read once, by ranks in increasing order along the concatenation.
  int last = 0;
  for (const auto& f : owner)
    for (int r : f) {
      ASSERT_GE(r, last);
      last = r;
    }
  // Equal shares give split_bytes' ranges.
  EXPECT_EQ(split_by_shares(std::vector<std::uint64_t>{100}, std::vector<std::uint64_t>{50, 50}, 1),
            split_bytes(std::vector<std::uint64_t>{100}, 2, 1));
}

TEST(ReadPlan, PlanReadBalancesGzipDigestsAndPlainBytes) {
  // gzip files only, no digests: the same owners as assign_whole_files.
  std::vector<PlanFile> gz = {
      {300, true, false}, {500, true, false}, {100, true, false}, {500, true, false}};
  const std::vector<std::uint64_t> gz_sizes = {300, 500, 100, 500};
  for (int p = 1; p <= 5; ++p)
    EXPECT_EQ(plan_read(gz, p).gzip_owner, assign_whole_files(gz_sizes, p)) << p;
  // One plain file with its digest on 2 ranks: rank 0 digests, and reads less.
  const auto one = plan_read(std::vector<PlanFile>{{1000, false, true}}, 2);
  EXPECT_EQ(one.digest_owner, (std::vector<int>{0}));
  EXPECT_EQ(one.gzip_owner, (std::vector<int>{-1}));
  // 100 s0 + 1000 kDigestCostCenti = 100 s1 and s0 + s1 = 1000.
  const std::uint64_t s0 = (100000 - 1000 * kDigestCostCenti) / 200;
  EXPECT_EQ(one.plain_share, (std::vector<std::uint64_t>{s0, 1000 - s0}));
  // A big gzip file keeps its rank out of the plain split; both digests (the gzip file's too)
  // go to the other rank, which then reads all the plain bytes.
  const auto mixed = plan_read(
      std::vector<PlanFile>{{1000, false, true}, {2000, true, true}, {500, false, false}}, 2);
  EXPECT_EQ(mixed.gzip_owner, (std::vector<int>{-1, 0, -1}));
  EXPECT_EQ(mixed.digest_owner, (std::vector<int>{1, 1, -1}));
  EXPECT_EQ(mixed.plain_share, (std::vector<std::uint64_t>{0, 1500}));
  // Without digests or gzip: an even split.
  const auto plain = plan_read(std::vector<PlanFile>{{10, false, false}, {11, false, false}}, 3);
  EXPECT_EQ(plain.plain_share, (std::vector<std::uint64_t>{7, 7, 7}));
  EXPECT_EQ(plain.digest_owner, (std::vector<int>{-1, -1}));
}
