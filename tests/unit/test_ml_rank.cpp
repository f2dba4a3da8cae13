// Ranking metrics on hand-made rankings (values worked out by hand in the comments).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ecom/ml/metrics_rank.hpp"
#include "ecom/par/random.hpp"

using namespace ecom::ml;

TEST(RankingMetrics, HandMadeRanking) {
  // Ranked a b c d (ids 1 2 3 4), relevant {2, 4, 9}; k = 4: hits at positions 2 and 4.
  const std::vector<std::uint64_t> ranked = {1, 2, 3, 4};
  const std::vector<std::uint64_t> relevant = {2, 4, 9};
  const auto s = score_ranking(ranked, relevant, 4);
  EXPECT_DOUBLE_EQ(s.precision, 2.0 / 4.0);
  EXPECT_DOUBLE_EQ(s.recall, 2.0 / 3.0);
  // AP = (P@2 + P@4) / min(4, 3) = (1/2 + 2/4) / 3
  EXPECT_DOUBLE_EQ(s.ap, (0.5 + 0.5) / 3.0);
  // DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3) + 1/log2(4)
  const double dcg = 1.0 / std::log2(3.0) + 1.0 / std::log2(5.0);
  const double idcg = 1.0 + 1.0 / std::log2(3.0) + 0.5;
  EXPECT_NEAR(s.ndcg, dcg / idcg, 1e-15);
}

TEST(RankingMetrics, PerfectShortAndEmptyRankings) {
  const std::vector<std::uint64_t> relevant = {5, 7};
  const auto perfect = score_ranking(std::vector<std::uint64_t>{7, 5, 1}, relevant, 10);
  EXPECT_DOUBLE_EQ(perfect.precision, 0.2);  // 2 hits / k = 10
  EXPECT_DOUBLE_EQ(perfect.recall, 1.0);
  EXPECT_DOUBLE_EQ(perfect.ap, 1.0);  // (1/1 + 2/2) / min(10, 2)
  EXPECT_DOUBLE_EQ(perfect.ndcg, 1.0);
  const auto none = score_ranking(std::vector<std::uint64_t>{}, relevant, 10);
  EXPECT_EQ(none.precision, 0.0);
  EXPECT_EQ(none.ap, 0.0);
  EXPECT_EQ(none.ndcg, 0.0);
  // Only the first k count: relevant item at position 3 with k = 2 is a miss.
  const auto cut = score_ranking(std::vector<std::uint64_t>{1, 2, 5}, relevant, 2);
  EXPECT_EQ(cut.recall, 0.0);
  // MAP normalised by min(k, |relevant|): k = 1, hit at 1 -> AP = 1.
  const auto first = score_ranking(std::vector<std::uint64_t>{5}, relevant, 1);
  EXPECT_DOUBLE_EQ(first.ap, 1.0);
  EXPECT_DOUBLE_EQ(first.recall, 0.5);
}

TEST(RankingMetrics, AucCountsMatchBruteForcePairsAndRankSum) {
  ecom::par::Stream rng(7, ecom::par::Purpose::test, 1);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<double> pos, neg;
    const int m = 1 + static_cast<int>(rng.index(5));
    const int n = 1 + static_cast<int>(rng.index(40));
    // Coarse scores so that ties occur.
    for (int i = 0; i < m; ++i) pos.push_back(static_cast<double>(rng.index(8)));
    for (int i = 0; i < n; ++i) neg.push_back(static_cast<double>(rng.index(8)));
    std::uint64_t greater = 0, equal = 0;
    double brute = 0;
    for (double p : pos)
      for (double q : neg) {
        greater += q > p;
        equal += q == p;
        brute += p > q ? 1.0 : (p == q ? 0.5 : 0.0);
      }
    brute /= static_cast<double>(m * n);
    EXPECT_NEAR(auc_from_counts(greater, equal, pos.size(), neg.size()), brute, 1e-14);
    EXPECT_NEAR(auc_from_scores(pos, neg), brute, 1e-14);
  }
  EXPECT_DOUBLE_EQ(auc_from_scores(std::vector<double>{3}, std::vector<double>{1, 2}), 1.0);
  EXPECT_DOUBLE_EQ(auc_from_scores(std::vector<double>{0}, std::vector<double>{1, 2}), 0.0);
}

TEST(RankingMetrics, SumsAverageOverUsers) {
  RankingSums sums;
  sums.add({0.1, 0.5, 0.25, 0.5});
  sums.add({0.3, 1.0, 0.75, 1.0});
  sums.add_auc(0.8);
  const auto g = sums.sums().values();
  const auto m = RankingSums::finish(g, sums.users(), sums.auc_users(), 10);
  EXPECT_DOUBLE_EQ(m.precision_at_10, 0.2);
  EXPECT_DOUBLE_EQ(m.recall_at_10, 0.75);
  EXPECT_DOUBLE_EQ(m.map_at_10, 0.5);
  EXPECT_DOUBLE_EQ(m.ndcg_at_10, 0.75);
  EXPECT_DOUBLE_EQ(m.auc, 0.8);
  EXPECT_EQ(m.users, 2U);
}
