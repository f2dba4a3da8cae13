#pragma once
// Ranking metrics for top-k recommendation (pure functions; definitions in docs/ALS.md).
#include <cstdint>
#include <span>

#include "ecom/par/exact_sum.hpp"

namespace ecom::ml {

// The evaluation record of one recommender (keys as in run.json).
struct RankingMetrics {
  double precision_at_10 = 0;  // k = RankingMetrics::k (10 by default; names keep "_at_10")
  double recall_at_10 = 0;
  double map_at_10 = 0;
  double ndcg_at_10 = 0;
  double auc = 0;
  double coverage = 0;
  int k = 10;
  std::uint64_t users = 0;      // users evaluated (>= 1 test item, >= 1 training item)
  std::uint64_t auc_users = 0;  // of those, users in the AUC sample with >= 1 negative item
};

// Per-user values at cut-off k.
struct UserRankingScores {
  double precision = 0;  // hits / k
  double recall = 0;     // hits / |relevant|
  double ap = 0;         // sum_{j<=k, rec_j relevant} precision@j / min(k, |relevant|)
  double ndcg = 0;       // DCG / ideal DCG, binary gains, log2(j + 1) discounts
};

// `ranked`: recommended items, best first (only the first k are used; fewer is allowed).
// `relevant`: the user's held-out items, sorted ascending and unique, non-empty.
UserRankingScores score_ranking(std::span<const std::uint64_t> ranked,
                                std::span<const std::uint64_t> relevant, int k);

// AUC of one user from pair counts: `greater` = number of (positive, negative) pairs where the
// negative scores strictly higher, `equal` = pairs with equal scores; n_pos * n_neg > 0.
// AUC = 1 - (greater + equal / 2) / (n_pos n_neg).
double auc_from_counts(std::uint64_t greater, std::uint64_t equal, std::uint64_t n_pos,
                       std::uint64_t n_neg);

// Reference AUC by sorting (O((m + n) log(m + n))), for tests and small inputs.
double auc_from_scores(std::span<const double> positives, std::span<const double> negatives);

// Sums of per-user values, exact (so their combination across ranks is independent of P).
class RankingSums {
 public:
  RankingSums() : sums_(5) {}
  void add(const UserRankingScores& s);
  void add_auc(double auc);
  const par::ExactVector& sums() const { return sums_; }
  std::uint64_t users() const { return users_; }
  std::uint64_t auc_users() const { return auc_users_; }
  // Averages from globally combined sums and counts (coverage is set by the caller).
  static RankingMetrics finish(std::span<const double> global_sums, std::uint64_t users,
                               std::uint64_t auc_users, int k);

 private:
  par::ExactVector sums_;  // precision, recall, ap, ndcg, auc
  std::uint64_t users_ = 0, auc_users_ = 0;
};

}  // namespace ecom::ml
