#include "ecom/ml/metrics_rank.hpp"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "ecom/core/error.hpp"

namespace ecom::ml {

UserRankingScores score_ranking(std::span<const std::uint64_t> ranked,
                                std::span<const std::uint64_t> relevant, int k) {
  if (k < 1) throw Error("score_ranking: k must be >= 1");
  if (relevant.empty()) throw Error("score_ranking: no relevant items");
  UserRankingScores s;
  const std::size_t n = std::min(ranked.size(), static_cast<std::size_t>(k));
  std::size_t hits = 0;
  double dcg = 0.0, ap = 0.0;
  for (std::size_t j = 0; j < n; ++j) {
    if (std::binary_search(relevant.begin(), relevant.end(), ranked[j])) {
      ++hits;
      dcg += 1.0 / std::log2(static_cast<double>(j) + 2.0);
      ap += static_cast<double>(hits) / static_cast<double>(j + 1);
    }
  }
  const std::size_t ideal_n = std::min(relevant.size(), static_cast<std::size_t>(k));
  double idcg = 0.0;
  for (std::size_t j = 0; j < ideal_n; ++j) idcg += 1.0 / std::log2(static_cast<double>(j) + 2.0);
  s.precision = static_cast<double>(hits) / static_cast<double>(k);
  s.recall = static_cast<double>(hits) / static_cast<double>(relevant.size());
  s.ap = ap / static_cast<double>(ideal_n);
  s.ndcg = dcg / idcg;
  return s;
}

double auc_from_counts(std::uint64_t greater, std::uint64_t equal, std::uint64_t n_pos,
                       std::uint64_t n_neg) {
  const double pairs = static_cast<double>(n_pos) * static_cast<double>(n_neg);
  return 1.0 - (static_cast<double>(greater) + 0.5 * static_cast<double>(equal)) / pairs;
}

double auc_from_scores(std::span<const double> positives, std::span<const double> negatives) {
  // Rank-sum (Mann-Whitney U) with mid-ranks for ties.
  std::vector<std::pair<double, int>> all;
  for (double p : positives) all.emplace_back(p, 1);
  for (double q : negatives) all.emplace_back(q, 0);
  std::sort(all.begin(), all.end());
  double rank_sum = 0.0;
  std::size_t i = 0;
  while (i < all.size()) {
    std::size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double mid = 0.5 * (static_cast<double>(i + 1) + static_cast<double>(j));
    for (std::size_t t = i; t < j; ++t)
      if (all[t].second) rank_sum += mid;
    i = j;
  }
  const double m = static_cast<double>(positives.size());
  const double n = static_cast<double>(negatives.size());
  return (rank_sum - m * (m + 1.0) / 2.0) / (m * n);
}

void RankingSums::add(const UserRankingScores& s) {
  sums_.add(0, s.precision);
  sums_.add(1, s.recall);
  sums_.add(2, s.ap);
  sums_.add(3, s.ndcg);
  ++users_;
}

void RankingSums::add_auc(double auc) {
  sums_.add(4, auc);
  ++auc_users_;
}

RankingMetrics RankingSums::finish(std::span<const double> g, std::uint64_t users,
                                   std::uint64_t auc_users, int k) {
  RankingMetrics m;
  m.k = k;
  m.users = users;
  m.auc_users = auc_users;
  if (users > 0) {
    const double n = static_cast<double>(users);
    m.precision_at_10 = g[0] / n;
    m.recall_at_10 = g[1] / n;
    m.map_at_10 = g[2] / n;
    m.ndcg_at_10 = g[3] / n;
  }
  if (auc_users > 0) m.auc = g[4] / static_cast<double>(auc_users);
  return m;
}

}  // namespace ecom::ml
