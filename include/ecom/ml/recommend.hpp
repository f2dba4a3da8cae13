#pragma once
// Top-N recommendations for every user (ALS with category / global popularity fallbacks) and
// the holdout evaluation of ALS against a popularity recommender. Definitions: docs/ALS.md.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ecom/core/log.hpp"
#include "ecom/ml/als.hpp"
#include "ecom/ml/interactions.hpp"
#include "ecom/ml/metrics_rank.hpp"
#include "ecom/par/comm.hpp"

namespace ecom::ml {

enum class RecSource : std::uint8_t { als = 0, category_popular = 1, popular = 2 };
const char* name_of(RecSource s);  // "als" | "category_popular" | "popular"

// Items never recommended to a user: none, the products the user purchased (default), or every
// product the user interacted with.
enum class Exclusion { none, purchased, interacted };
Exclusion parse_exclusion(const std::string& s);  // "none" | "purchased" | "interacted"
const char* name_of(Exclusion e);

struct Recommendation {
  std::uint64_t user = 0;  // pseudonym
  std::uint64_t product = 0;
  double score = 0;        // als: x_u . y_i; category_popular / popular: the popularity
  std::uint32_t rank = 0;  // 1..N
  RecSource source = RecSource::als;
  std::uint8_t pad_[3] = {0, 0, 0};
};
static_assert(sizeof(Recommendation) == 32);

// Every product the model knows (products of all pairs, trained or not), identical on every
// rank, in ascending product id.
struct Catalogue {
  int factors = 0;
  std::vector<std::uint64_t> products;
  std::vector<std::uint64_t> category;  // category_id: the most frequent over the product's
                                        // pairs (each pair counts once), ties to the lower id
  std::vector<double> popularity;       // sum of training strengths r over users
  std::vector<double> item_factors;     // products.size() x factors
  // Index of a product, or products.size() when absent.
  std::size_t index_of(std::uint64_t product) const;
  std::size_t size() const { return products.size(); }
};

// Collective. Popularity and category are computed at the item owners (pairs arrive in
// ascending user order whatever P, so the sums are P-independent); then every rank receives
// the whole catalogue with its factors by one allgatherv. Item factors are small (50k x 50
// doubles = 20 MB) and scoring needs every item against every user, so replicating them for
// the scoring phase is cheaper than any plan. Training pairs: strength > 0 and not is_test.
Catalogue gather_catalogue(par::Comm& comm, const AlsModel& model,
                           std::span<const Interaction> interactions, std::uint32_t vshards,
                           std::size_t budget_bytes = std::size_t{64} << 20);

struct RecommendConfig {
  int top_n = 10;
  Exclusion exclude = Exclusion::purchased;
  int fallback_categories = 3;  // a fallback user's categories tried, most frequent first
  int user_block = 64;          // users scored together (GEMM block)
};

struct TopNStats {
  std::uint64_t rows[3] = {0, 0, 0};   // global rows per RecSource
  std::uint64_t users[3] = {0, 0, 0};  // global users per source of their first row
  double coverage = 0;                 // distinct recommended products / catalogue
  double seconds = 0;                  // this rank's wall time
};

// Collective. N rows for every user of model.users (fewer only when the catalogue minus the
// user's exclusions is smaller), ordered by (user, rank). Users with training pairs get ALS
// scores (blocked user x item products, partial top-N, ties to the lower product id); the
// others get the most popular products of their most frequent categories, then global
// popularity. `interactions`: this rank's pairs sorted by (user, product).
std::vector<Recommendation> recommend_top_n(par::Comm& comm, const AlsModel& model,
                                            const Catalogue& catalogue,
                                            std::span<const Interaction> interactions,
                                            const RecommendConfig& config,
                                            TopNStats* stats = nullptr);

struct EvaluationConfig {
  int k = 10;
  bool auc = true;  // AUC needs every item's score for each user it is computed over
  // AUC over a keyed sample of about this many evaluated users (all when fewer; 0: all):
  // user u is in iff uniform(seed, split, u, 2^32-1) < auc_users / evaluated users.
  std::uint64_t auc_users = 20000;
  std::uint64_t seed = 42;  // run_recommender sets it to the holdout's seed
  int user_block = 64;
};

struct Evaluation {
  RankingMetrics als;
  RankingMetrics popularity;
  std::uint64_t test_pairs = 0;  // global
  double seconds = 0;
};

// Collective. Evaluated users: >= 1 test pair and >= 1 training pair. Both recommenders rank
// the catalogue minus the user's training products; relevant = the user's test products.
Evaluation evaluate_holdout(par::Comm& comm, const AlsModel& model, const Catalogue& catalogue,
                            std::span<const Interaction> interactions,
                            const EvaluationConfig& config);

// Local (pure). Fold-in of users with the item factors fixed (`ecom score`): each user's row is
// the exact (Cholesky) solution of (Y^T Y + lambda I + Y^T (C_u - I) Y) x = Y^T C_u p(u) over
// the user's pairs with strength > 0 whose product is in the catalogue (c = 1 + alpha r). Y^T Y
// is summed over the catalogue in product order, so every rank gets the same bits. Users
// without such pairs keep a zero row and user_train_count 0 (recommend_top_n serves them from
// the fallbacks). `users` sorted unique; `interactions` sorted by (user, product).
AlsModel fold_in_users(const Catalogue& catalogue, std::span<const std::uint64_t> users,
                       std::span<const Interaction> interactions, double alpha,
                       double regularization);

// Score of a user-item pair exactly as the blocked kernel computes it: sum over j ascending.
double als_score(int k, const double* x, const double* y);
float als_score(int k, const float* x, const float* y);

// ---- the whole stage, for the pipeline ---------------------------------------------------
struct RecommenderConfig {
  InteractionWeights weights;
  HoldoutConfig holdout;
  AlsConfig als;
  RecommendConfig recommend;
  EvaluationConfig evaluation;
  bool evaluate = true;
  // Recommendations from a model refitted on all pairs (default), or from the evaluated model.
  bool refit_on_all = true;
};

struct RecommenderResult {
  AlsModel model;  // the model the recommendations come from
  Catalogue catalogue;
  Evaluation evaluation;  // zero when !evaluate
  std::vector<Recommendation> recommendations;
  TopNStats topn;
  // This rank's held-out pairs (empty when !evaluate), in (user, product) order.
  std::vector<std::uint64_t> holdout_users, holdout_products;
};

// Collective. `events`: this rank's events sorted by (user, time), users owned by this rank
// (vshard range of VShardMap(config.als.vshards, P) over the pseudonym).
RecommenderResult run_recommender(par::Comm& comm, std::span<const Event> events,
                                  const RecommenderConfig& config, const Logger* log = nullptr);

}  // namespace ecom::ml
