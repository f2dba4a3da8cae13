#pragma once
// Distributed implicit-feedback ALS (Hu, Koren, Volinsky 2008) with the Gram-matrix trick and a
// warm-started conjugate-gradient solver (Takács et al. 2011), or an exact Cholesky solve.
//
// Layout: a user's row lives with the user's owner rank (the rank whose vshard range holds the
// pseudonym); a product's row with the owner of product_hash(product). The transposed matrix is
// built once by one all-to-all; the plans saying which factor rows travel to which rank are
// derived from it once and reused every iteration. No rank holds all user factors; a rank holds
// the item rows its users touched and the user rows its items were touched by.
//
// Determinism: each user's solve reads only that user's interactions (in product order), the
// item rows (bit-identical copies) and Y^T Y, which is summed per item vshard and combined
// exactly (par::ExactVector); likewise for items. Kernels sum in a fixed order whatever the
// instruction set (no FMA, fixed accumulator patterns), so factors, loss and everything built on
// them are bit-identical for any number of ranks.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "ecom/core/log.hpp"
#include "ecom/ml/interactions.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/exchange.hpp"
#include "ecom/par/vshard.hpp"

namespace ecom::ml {

enum class FactorPrecision { float32, float64 };
FactorPrecision parse_factor_precision(const std::string& s);  // "float" | "double"
const char* name_of(FactorPrecision p);

// A training's state after `iteration` sweeps, for checkpoints (pipeline/checkpoint.hpp): this
// rank's user and item rows (in AlsModel's order) and the loss so far. Resuming from it gives the
// same factors as an uninterrupted training, given the same ranks, data and config.
struct AlsState {
  int iteration = 0;
  std::vector<double> user_factors, item_factors, loss;
};

struct AlsConfig {
  int factors = 50;
  double regularization = 0.1;  // lambda, added to the diagonal of Y^T Y (and X^T X)
  double alpha = 1.0;           // confidence c = 1 + alpha * r
  int iterations = 15;
  int cg_steps = 3;       // conjugate-gradient steps per solve, warm-started
  bool cholesky = false;  // exact solve of each row's normal equations instead of CG
  // Double by default: recommendations must be reproducible to the last bit across rank counts
  // and machines, and near-ties in float scores are frequent at 50k items; float halves memory
  // and roughly doubles kernel speed (it is as deterministic, but ties change).
  FactorPrecision precision = FactorPrecision::float64;
  std::uint64_t seed = 42;
  double init_scale = 0.01;  // initial factors: normal(seed, als_init, id, j) * init_scale
  std::uint32_t vshards = par::kDefaultVShards;  // V of the user and item shard maps
  bool compute_loss = true;  // training loss per iteration (one extra pass over the pairs)
  std::size_t exchange_budget_bytes = std::size_t{64} << 20;
  // How factor rows travel each sweep (along plans built once per training): same results.
  par::ExchangeKind exchange = par::ExchangeKind::alltoallv;
  // Checkpoint hooks (optional, collective). `resume` is called once after setup and may return
  // a state to continue from; `after_iteration(done, snapshot)` after every sweep (it may save
  // snapshot() and may throw to stop the training).
  std::function<const AlsState*()> resume;
  std::function<void(int, const std::function<AlsState()>&)> after_iteration;
};

struct AlsModel {
  int factors = 0;
  FactorPrecision precision = FactorPrecision::float64;
  // Users of this rank (sorted pseudonyms) and their rows (users.size() x factors, row-major).
  std::vector<std::uint64_t> users;
  std::vector<std::uint32_t> user_train_count;  // training pairs per user; 0: ALS cannot serve
  std::vector<double> user_factors;
  // Products owned by this rank (sorted by product_hash) and their rows.
  std::vector<std::uint64_t> items;
  std::vector<std::uint32_t> item_train_count;
  std::vector<double> item_factors;
  // Per iteration: HKV loss sum_ui c_ui (p_ui - x_u.y_i)^2 + lambda(|X|^2 + |Y|^2) over ALL
  // user-item pairs, identical on every rank; and this rank's wall seconds.
  std::vector<double> loss;
  std::vector<double> iteration_seconds;
  double setup_seconds = 0;  // transpose and plans
  // This rank's wall seconds over all iterations, by phase (their sum is about the iterations').
  double solve_seconds = 0;     // row solves (CG or Cholesky), both sides
  double exchange_seconds = 0;  // factor rows along the plans, both sides
  double gram_seconds = 0;      // Y^T Y and X^T X, exactly combined
  double loss_seconds = 0;      // training loss
};

// Collective. `users`: this rank's users, sorted (every user of `interactions` among them).
// `interactions`: this rank's pairs sorted by (user, product). Pairs with is_test set or
// strength 0 are not trained on; their products still enter the catalogue (zero rows).
// The seed for the initial factors is config.seed; training loss is logged per iteration.
AlsModel train_als(par::Comm& comm, std::span<const std::uint64_t> users,
                   std::span<const Interaction> interactions, const AlsConfig& config,
                   const Logger* log = nullptr);

// Initial factor j of an entity: normal(seed, als_init, id, counter) * scale, with counter
// j for users and 2^31 + j for products (so a user and a product never share a stream).
double als_init_value(std::uint64_t seed, bool is_item, std::uint64_t id, int j, double scale);

// ---- per-row kernels (pure, exposed for tests and the benchmark) --------------------------
// Row solve for one entity with n observed pairs: rows[idx[t]*k .. +k) are the other side's
// factors, conf[t] = c_t = 1 + alpha r_t. `gram` is the k x k (full, symmetric, row-major)
// Y^T Y + lambda I. Solves (gram + sum_t (c_t - 1) y_t y_t^T) x = sum_t c_t y_t.
// scratch must hold at least als_scratch_size(k) values.
std::size_t als_scratch_size(int k);
template <class T>
void als_cg_solve(int k, const T* gram, const T* rows, const std::uint32_t* idx, const T* conf,
                  std::size_t n, int cg_steps, T* x, T* scratch);
template <class T>
void als_cholesky_solve(int k, const T* gram, const T* rows, const std::uint32_t* idx,
                        const T* conf, std::size_t n, T* x, T* scratch);
// Dot product in the fixed order every kernel uses (score of a user-item pair).
template <class T>
T als_dot(int k, const T* a, const T* b);

}  // namespace ecom::ml
