#include "ecom/ml/als.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <sstream>
#include <type_traits>

#include "als_kernels.hpp"
#include "ecom/core/error.hpp"
#include "ecom/core/hash.hpp"
#include "ecom/par/exact_sum.hpp"
#include "ecom/par/random.hpp"

namespace ecom::ml {

FactorPrecision parse_factor_precision(const std::string& s) {
  if (s == "double" || s == "float64") return FactorPrecision::float64;
  if (s == "float" || s == "float32") return FactorPrecision::float32;
  throw UserError("als: precision must be \"double\" or \"float\", not \"" + s + "\"");
}

const char* name_of(FactorPrecision p) {
  return p == FactorPrecision::float32 ? "float" : "double";
}

double als_init_value(std::uint64_t seed, bool is_item, std::uint64_t id, int j, double scale) {
  const std::uint32_t counter = (is_item ? (1U << 31) : 0U) + static_cast<std::uint32_t>(j);
  return par::normal(seed, par::Purpose::als_init, id, counter) * scale;
}

std::size_t als_scratch_size(int k) {
  const auto kk = static_cast<std::size_t>(k);
  return 2 * kk * kk + 4 * kk;
}

template <class T>
void als_cg_solve(int k, const T* gram, const T* rows, const std::uint32_t* idx, const T* conf,
                  std::size_t n, int cg_steps, T* x, T* scratch) {
  kernel::cg_solve(k, gram, rows, idx, conf, n, cg_steps, x, scratch);
}
template <class T>
void als_cholesky_solve(int k, const T* gram, const T* rows, const std::uint32_t* idx,
                        const T* conf, std::size_t n, T* x, T* scratch) {
  kernel::cholesky_solve(k, gram, rows, idx, conf, n, x, scratch);
}
template <class T>
T als_dot(int k, const T* a, const T* b) {
  return kernel::dot(k, a, b);
}

template void als_cg_solve<double>(int, const double*, const double*, const std::uint32_t*,
                                   const double*, std::size_t, int, double*, double*);
template void als_cg_solve<float>(int, const float*, const float*, const std::uint32_t*,
                                  const float*, std::size_t, int, float*, float*);
template void als_cholesky_solve<double>(int, const double*, const double*, const std::uint32_t*,
                                         const double*, std::size_t, double*, double*);
template void als_cholesky_solve<float>(int, const float*, const float*, const std::uint32_t*,
                                        const float*, std::size_t, float*, float*);
template double als_dot<double>(int, const double*, const double*);
template float als_dot<float>(int, const float*, const float*);

namespace {

// ---- batch kernels, cloned per instruction set (same bits in every clone) ------------------

template <class T>
ECOM_INLINE void solve_rows_impl(int k, const T* gram, const T* other, const std::uint64_t* ptr,
                                 const std::uint32_t* col, const T* conf, std::size_t n_rows,
                                 int cg_steps, bool cholesky, T* x, T* scratch) {
  for (std::size_t r = 0; r < n_rows; ++r) {
    const std::uint64_t b = ptr[r], e = ptr[r + 1];
    T* xr = x + r * static_cast<std::size_t>(k);
    if (b == e) continue;  // no training pairs: the row stays 0 (the exact solution)
    if (cholesky)
      kernel::cholesky_solve(k, gram, other, col + b, conf + b, e - b, xr, scratch);
    else
      kernel::cg_solve(k, gram, other, col + b, conf + b, e - b, cg_steps, xr, scratch);
  }
}

__attribute__((target_clones("default", "avx2", "avx512f"))) void solve_rows_f64(
    int k, const double* gram, const double* other, const std::uint64_t* ptr,
    const std::uint32_t* col, const double* conf, std::size_t n_rows, int cg_steps, bool cholesky,
    double* x, double* scratch) {
  solve_rows_impl<double>(k, gram, other, ptr, col, conf, n_rows, cg_steps, cholesky, x, scratch);
}
__attribute__((target_clones("default", "avx2", "avx512f"))) void solve_rows_f32(
    int k, const float* gram, const float* other, const std::uint64_t* ptr,
    const std::uint32_t* col, const float* conf, std::size_t n_rows, int cg_steps, bool cholesky,
    float* x, float* scratch) {
  solve_rows_impl<float>(k, gram, other, ptr, col, conf, n_rows, cg_steps, cholesky, x, scratch);
}
void solve_rows(int k, const double* g, const double* o, const std::uint64_t* p,
                const std::uint32_t* c, const double* w, std::size_t n, int s, bool ch, double* x,
                double* sc) {
  solve_rows_f64(k, g, o, p, c, w, n, s, ch, x, sc);
}
void solve_rows(int k, const float* g, const float* o, const std::uint64_t* p,
                const std::uint32_t* c, const float* w, std::size_t n, int s, bool ch, float* x,
                float* sc) {
  solve_rows_f32(k, g, o, p, c, w, n, s, ch, x, sc);
}

// Partial Gram (upper triangle, double) of a run of rows: g[a*k+b] += x_a x_b for b >= a.
template <class T>
ECOM_INLINE void gram_add_rows_impl(int k, const T* rows, std::size_t n, double* g, double* xd) {
  for (std::size_t r = 0; r < n; ++r) {
    const T* x = rows + r * static_cast<std::size_t>(k);
    for (int a = 0; a < k; ++a) xd[a] = static_cast<double>(x[a]);
    for (int a = 0; a < k; ++a) {
      const double xa = xd[a];
      double* ga = g + static_cast<std::size_t>(a) * k;
      for (int b = a; b < k; ++b) ga[b] += xa * xd[b];
    }
  }
}
__attribute__((target_clones("default", "avx2", "avx512f"))) void gram_add_rows_f64(
    int k, const double* rows, std::size_t n, double* g, double* xd) {
  gram_add_rows_impl<double>(k, rows, n, g, xd);
}
__attribute__((target_clones("default", "avx2", "avx512f"))) void gram_add_rows_f32(
    int k, const float* rows, std::size_t n, double* g, double* xd) {
  gram_add_rows_impl<float>(k, rows, n, g, xd);
}
void gram_add_rows(int k, const double* rows, std::size_t n, double* g, double* xd) {
  gram_add_rows_f64(k, rows, n, g, xd);
}
void gram_add_rows(int k, const float* rows, std::size_t n, double* g, double* xd) {
  gram_add_rows_f32(k, rows, n, g, xd);
}

// Pair sent to the item owner by the transpose.
struct PairRecord {
  std::uint64_t user;
  std::uint64_t product;
  double strength;
  std::uint32_t train;  // 1: a training pair
  std::int32_t source;  // rank of the user owner
};
static_assert(sizeof(PairRecord) == 32);

struct HashedProduct {
  std::uint64_t hash;
  std::uint64_t product;
  bool operator<(const HashedProduct& o) const { return hash < o.hash; }
};

// Index of `product` in `sorted` (sorted by hash, unique); the product must be there.
std::uint32_t index_of(const std::vector<HashedProduct>& sorted, std::uint64_t product) {
  const HashedProduct key{product_hash(product), product};
  auto it = std::lower_bound(sorted.begin(), sorted.end(), key);
  return static_cast<std::uint32_t>(it - sorted.begin());
}

// One side of the bipartite problem as seen by the owners of its rows.
template <class T>
struct Side {
  std::size_t n_rows = 0;
  std::vector<std::uint64_t> ptr;     // CSR over training pairs: n_rows + 1
  std::vector<std::uint32_t> col;     // index into the received rows of the other side
  std::vector<T> conf;                // c = 1 + alpha r
  std::vector<std::uint32_t> vshard;  // vshard of each row (rows are grouped by it)
  std::vector<T> factors;             // n_rows x k
  // Plan: rows of this side sent to each rank (indices grouped by destination), and how many
  // rows of the other side arrive (in the order `col` refers to).
  std::vector<std::uint32_t> send_rows;
  std::vector<std::uint64_t> send_counts;  // per destination rank, in rows
  std::size_t recv_rows = 0;
  par::ExchangePlan plan;  // built once from send_counts (records: rows of k values)
  std::vector<T> other;    // received rows of the other side: recv_rows x k
};

// Builds the side's exchange plan (collective): once per training.
template <class T>
void plan_exchange(par::Comm& comm, Side<T>& side, int k, std::size_t budget) {
  side.plan = par::ExchangePlan(comm, side.send_counts, {}, static_cast<std::size_t>(k) * sizeof(T),
                                budget);
}

// Sends this side's rows along its plan; fills `to.other`.
template <class T>
void send_factors(par::Comm& comm, const par::Exchanger& exchanger, const Side<T>& from,
                  Side<T>& to, int k) {
  const auto kk = static_cast<std::size_t>(k);
  std::vector<T> buf(from.send_rows.size() * kk);
  for (std::size_t i = 0; i < from.send_rows.size(); ++i)
    std::copy_n(from.factors.data() + static_cast<std::size_t>(from.send_rows[i]) * kk, kk,
                buf.data() + i * kk);
  if (from.plan.recv_total() != to.recv_rows) throw Error("als: factor exchange size mismatch");
  to.other.resize(to.recv_rows * kk);
  exchanger.run(comm, from.plan, reinterpret_cast<const std::byte*>(buf.data()),
                reinterpret_cast<std::byte*>(to.other.data()));
}

// Y^T Y of one side, summed per vshard in double and combined exactly (full, symmetric).
template <class T>
std::vector<double> exact_gram(par::Comm& comm, const Side<T>& side, int k) {
  const auto kk = static_cast<std::size_t>(k);
  par::ExactVector acc(kk * (kk + 1) / 2);
  std::vector<double> partial(kk * kk, 0.0), xd(kk);
  auto flush = [&]() {
    std::size_t t = 0;
    for (std::size_t a = 0; a < kk; ++a)
      for (std::size_t b = a; b < kk; ++b) acc.add(t++, partial[a * kk + b]);
    std::fill(partial.begin(), partial.end(), 0.0);
  };
  std::size_t r = 0;
  while (r < side.n_rows) {
    std::size_t e = r;
    bool any = false;
    while (e < side.n_rows && side.vshard[e] == side.vshard[r]) {
      // Consecutive rows with training pairs form a run; rows without are 0 and skipped.
      std::size_t run = e;
      while (run < side.n_rows && side.vshard[run] == side.vshard[r] &&
             side.ptr[run + 1] > side.ptr[run])
        ++run;
      if (run > e) {
        gram_add_rows(k, side.factors.data() + e * kk, run - e, partial.data(), xd.data());
        any = true;
        e = run;
      } else {
        ++e;
      }
    }
    if (any) flush();
    r = e;
  }
  const std::vector<double> upper = comm.exact_sum(acc);
  std::vector<double> g(kk * kk);
  std::size_t t = 0;
  for (std::size_t a = 0; a < kk; ++a)
    for (std::size_t b = a; b < kk; ++b) {
      g[a * kk + b] = upper[t];
      g[b * kk + a] = upper[t];
      ++t;
    }
  return g;
}

template <class T>
std::vector<T> regularised(const std::vector<double>& g, int k, double lambda) {
  std::vector<T> out(g.size());
  for (std::size_t i = 0; i < g.size(); ++i) out[i] = static_cast<T>(g[i]);
  for (int a = 0; a < k; ++a)
    out[static_cast<std::size_t>(a) * k + a] =
        static_cast<T>(g[static_cast<std::size_t>(a) * k + a] + lambda);
  return out;
}

// Checks the local input; agreed across ranks (collective).
void validate_input(par::Comm& comm, const par::VShardMap& map,
                    std::span<const std::uint64_t> users, std::span<const Interaction> interactions,
                    const AlsConfig& cfg) {
  const int k = cfg.factors;
  std::string problem;
  if (k < 1 || k > 1024)
    problem = "als: factors must lie in [1, 1024]";
  else if (!(cfg.regularization >= 0.0))
    problem = "als: regularization must be >= 0";
  else if (!(cfg.alpha >= 0.0))
    problem = "als: alpha must be >= 0";
  else if (cfg.iterations < 0 || cfg.cg_steps < 1)
    problem = "als: iterations >= 0, cg_steps >= 1";
  for (std::size_t i = 1; i < users.size() && problem.empty(); ++i)
    if (!(users[i - 1] < users[i])) problem = "als: users are not sorted and unique";
  for (std::size_t i = 1; i < interactions.size() && problem.empty(); ++i) {
    const auto& a = interactions[i - 1];
    const auto& b = interactions[i];
    if (a.user > b.user || (a.user == b.user && a.product >= b.product))
      problem = "als: interactions are not sorted by (user, product)";
  }
  for (std::uint64_t u : users)
    if (problem.empty() && map.owner_of(u) != comm.rank())
      problem = "als: a user is not owned by this rank";
  par::agree(comm, problem, ExitCode::internal);
}

// Sorted by hash, one entry per product.
void sort_unique(std::vector<HashedProduct>& v) {
  std::sort(v.begin(), v.end());
  v.erase(
      std::unique(v.begin(), v.end(),
                  [](const HashedProduct& a, const HashedProduct& b) { return a.hash == b.hash; }),
      v.end());
}

// User side: CSR over training pairs, columns = needed items sorted by hash (collective: the
// missing-user check is agreed).
template <class T>
void build_user_side(par::Comm& comm, const par::VShardMap& map,
                     std::span<const std::uint64_t> users,
                     std::span<const Interaction> interactions, const AlsConfig& cfg, Side<T>& us,
                     AlsModel& model) {
  const int p = comm.size();
  us.n_rows = users.size();
  std::vector<HashedProduct> needed_items;
  for (const Interaction& it : interactions)
    if (it.is_train()) needed_items.push_back({product_hash(it.product), it.product});
  sort_unique(needed_items);
  us.recv_rows = needed_items.size();
  us.ptr.assign(us.n_rows + 1, 0);
  us.vshard.resize(us.n_rows);
  model.user_train_count.assign(us.n_rows, 0);
  std::vector<std::vector<std::uint32_t>> to_rank(static_cast<std::size_t>(p));
  std::string problem;
  std::size_t u = 0;
  for (const Interaction& it : interactions) {
    while (u < us.n_rows && users[u] < it.user) ++u;
    if (u == us.n_rows || users[u] != it.user)
      problem = "als: an interaction's user is missing from the user list";
    if (!problem.empty()) break;
    if (!it.is_train()) continue;
    ++us.ptr[u + 1];
    ++model.user_train_count[u];
    us.col.push_back(index_of(needed_items, it.product));
    us.conf.push_back(static_cast<T>(1.0 + cfg.alpha * it.strength));
    auto& dest = to_rank[static_cast<std::size_t>(item_owner(map, it.product))];
    if (dest.empty() || dest.back() != u) dest.push_back(static_cast<std::uint32_t>(u));
  }
  par::agree(comm, problem, ExitCode::internal);
  for (std::size_t i = 0; i < us.n_rows; ++i) {
    us.ptr[i + 1] += us.ptr[i];
    us.vshard[i] = map.vshard_of(users[i]);
  }
  us.send_counts.resize(static_cast<std::size_t>(p));
  for (std::size_t d = 0; d < to_rank.size(); ++d) {
    us.send_counts[d] = to_rank[d].size();
    us.send_rows.insert(us.send_rows.end(), to_rank[d].begin(), to_rank[d].end());
  }
}

// Transpose: every pair (train or not) to its item owner.
std::vector<PairRecord> transpose(par::Comm& comm, const par::VShardMap& map,
                                  std::span<const Interaction> interactions,
                                  std::size_t budget_bytes) {
  std::vector<PairRecord> out_pairs(interactions.size());
  for (std::size_t i = 0; i < interactions.size(); ++i)
    out_pairs[i] = {interactions[i].user, interactions[i].product, interactions[i].strength,
                    interactions[i].is_train() ? 1U : 0U, comm.rank()};
  return comm.exchange<PairRecord>(
      out_pairs, [&](const PairRecord& r) { return item_owner(map, r.product); }, budget_bytes);
}

// Item side from the transposed pairs: rows = owned products sorted by hash.
template <class T>
void build_item_side(int p, const par::VShardMap& map, const std::vector<PairRecord>& in_pairs,
                     const AlsConfig& cfg, Side<T>& is, AlsModel& model) {
  std::vector<HashedProduct> owned;
  owned.reserve(in_pairs.size());
  for (const PairRecord& r : in_pairs) owned.push_back({product_hash(r.product), r.product});
  sort_unique(owned);
  is.n_rows = owned.size();
  model.items.resize(is.n_rows);
  is.vshard.resize(is.n_rows);
  for (std::size_t i = 0; i < is.n_rows; ++i) {
    model.items[i] = owned[i].product;
    is.vshard[i] = map.vshard_of(owned[i].hash);
  }
  model.item_train_count.assign(is.n_rows, 0);
  // Received pairs come by source rank, each source's in (user, product) order, and user
  // ranges grow with the rank: the training users are already in ascending order.
  std::vector<std::uint32_t> item_of, user_of;
  std::vector<std::vector<std::uint32_t>> items_of_source(static_cast<std::size_t>(p));
  std::uint64_t last_user = 0;
  bool have_user = false;
  std::size_t n_users_needed = 0;
  for (const PairRecord& r : in_pairs) {
    if (!r.train) continue;
    if (!have_user || r.user != last_user) {
      if (have_user && r.user < last_user) throw Error("als: transposed users out of order");
      ++n_users_needed;
      last_user = r.user;
      have_user = true;
    }
    const std::uint32_t item = index_of(owned, r.product);
    item_of.push_back(item);
    user_of.push_back(static_cast<std::uint32_t>(n_users_needed - 1));
    items_of_source[static_cast<std::size_t>(r.source)].push_back(item);
    ++model.item_train_count[item];
  }
  is.recv_rows = n_users_needed;
  // Stable counting sort by item: each item's users stay ascending.
  is.ptr.assign(is.n_rows + 1, 0);
  for (std::uint32_t item : item_of) ++is.ptr[item + 1];
  for (std::size_t i = 0; i < is.n_rows; ++i) is.ptr[i + 1] += is.ptr[i];
  is.col.resize(item_of.size());
  is.conf.resize(item_of.size());
  std::vector<std::uint64_t> pos(is.ptr.begin(), is.ptr.end() - 1);
  std::size_t t = 0;
  for (const PairRecord& r : in_pairs) {
    if (!r.train) continue;
    const std::uint64_t at = pos[item_of[t]]++;
    is.col[at] = user_of[t];
    is.conf[at] = static_cast<T>(1.0 + cfg.alpha * r.strength);
    ++t;
  }
  is.send_counts.resize(static_cast<std::size_t>(p));
  for (std::size_t s = 0; s < items_of_source.size(); ++s) {
    auto& v = items_of_source[s];
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    is.send_counts[s] = v.size();
    is.send_rows.insert(is.send_rows.end(), v.begin(), v.end());
  }
}

// Initial factors (rows without training pairs are 0).
template <class T>
void init_factors(Side<T>& side, std::span<const std::uint64_t> ids, bool is_item,
                  const AlsConfig& cfg) {
  const auto kk = static_cast<std::size_t>(cfg.factors);
  side.factors.assign(side.n_rows * kk, T(0));
  for (std::size_t r = 0; r < side.n_rows; ++r)
    if (side.ptr[r + 1] > side.ptr[r])
      for (int j = 0; j < cfg.factors; ++j)
        side.factors[r * kk + static_cast<std::size_t>(j)] =
            static_cast<T>(als_init_value(cfg.seed, is_item, ids[r], j, cfg.init_scale));
}

// Resumes from a checkpoint (pipeline hook); returns the first sweep to run.
template <class T>
int resume_from(par::Comm& comm, const AlsConfig& cfg, Side<T>& us, Side<T>& is, AlsModel& model) {
  if (!cfg.resume) return 0;
  const AlsState* s = cfg.resume();
  if (s == nullptr) return 0;
  const bool fits = s->iteration >= 0 && s->iteration <= cfg.iterations &&
                    s->user_factors.size() == us.factors.size() &&
                    s->item_factors.size() == is.factors.size();
  par::agree(comm, fits ? "" : "als: the checkpoint does not fit this training",
             ExitCode::internal);
  std::transform(s->user_factors.begin(), s->user_factors.end(), us.factors.begin(),
                 [](double v) { return static_cast<T>(v); });
  std::transform(s->item_factors.begin(), s->item_factors.end(), is.factors.begin(),
                 [](double v) { return static_cast<T>(v); });
  model.loss = s->loss;
  return s->iteration;
}

// HKV training loss from the item side's pairs and both Gram matrices (collective).
template <class T>
double training_loss(par::Comm& comm, const Side<T>& is, int k, double lambda,
                     const std::vector<double>& gram_x, const std::vector<double>& gram_y) {
  const auto kk = static_cast<std::size_t>(k);
  // Observed pairs: c (1 - s)^2 - s^2 (the s^2 of every pair is tr(X^T X Y^T Y)).
  par::ExactVector observed(1);
  for (std::size_t i = 0; i < is.n_rows; ++i) {
    double part = 0.0;
    const T* y = is.factors.data() + i * kk;
    for (std::uint64_t t = is.ptr[i]; t < is.ptr[i + 1]; ++t) {
      const T* x = is.other.data() + static_cast<std::size_t>(is.col[t]) * kk;
      const double s = static_cast<double>(kernel::dot(k, x, y));
      const double c = static_cast<double>(is.conf[t]);
      part += c * (1.0 - s) * (1.0 - s) - s * s;
    }
    if (is.ptr[i + 1] > is.ptr[i]) observed.add(0, part);
  }
  const double obs = comm.exact_sum(observed)[0];
  double all_pairs = 0.0, trace_x = 0.0, trace_y = 0.0;
  for (std::size_t a = 0; a < kk * kk; ++a) all_pairs += gram_x[a] * gram_y[a];
  for (std::size_t a = 0; a < kk; ++a) {
    trace_x += gram_x[a * kk + a];
    trace_y += gram_y[a * kk + a];
  }
  return obs + all_pairs + lambda * (trace_x + trace_y);
}

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Solves every row of `side` given the other side's rows it received and their Gram matrix.
template <class T>
void solve_side(Side<T>& side, const std::vector<double>& gram_other, const AlsConfig& cfg,
                std::vector<T>& scratch) {
  const std::vector<T> g = regularised<T>(gram_other, cfg.factors, cfg.regularization);
  solve_rows(cfg.factors, g.data(), side.other.data(), side.ptr.data(), side.col.data(),
             side.conf.data(), side.n_rows, cfg.cg_steps, cfg.cholesky, side.factors.data(),
             scratch.data());
}

// Half a sweep: `to`'s rows solved given `from`'s rows (sent along from's plan) and their Gram
// matrix; returns `to`'s Gram matrix. Adds the phases' seconds to the model.
template <class T>
std::vector<double> half_sweep(par::Comm& comm, const par::Exchanger& exchanger,
                               const AlsConfig& cfg, const Side<T>& from, Side<T>& to,
                               const std::vector<double>& gram_from, std::vector<T>& scratch,
                               AlsModel& model) {
  auto tp = Clock::now();
  send_factors(comm, exchanger, from, to, cfg.factors);
  model.exchange_seconds += since(tp);
  tp = Clock::now();
  solve_side(to, gram_from, cfg, scratch);
  model.solve_seconds += since(tp);
  tp = Clock::now();
  std::vector<double> gram_to = exact_gram(comm, to, cfg.factors);
  model.gram_seconds += since(tp);
  return gram_to;
}

// One sweep: X given Y, then Y given X; updates gram_y and the model's timings and loss.
template <class T>
void sweep(par::Comm& comm, const par::Exchanger& exchanger, const AlsConfig& cfg, Side<T>& us,
           Side<T>& is, std::vector<double>& gram_y, std::vector<T>& scratch, AlsModel& model) {
  const std::vector<double> gram_x =
      half_sweep(comm, exchanger, cfg, is, us, gram_y, scratch, model);
  gram_y = half_sweep(comm, exchanger, cfg, us, is, gram_x, scratch, model);
  const auto tp = Clock::now();
  if (cfg.compute_loss)
    model.loss.push_back(training_loss(comm, is, cfg.factors, cfg.regularization, gram_x, gram_y));
  model.loss_seconds += since(tp);
}

void log_iteration(const Logger& log, const AlsConfig& cfg, const AlsModel& model, int iter,
                   const std::uint64_t (&sizes)[3]) {
  std::ostringstream os;
  os << "als: iteration " << (iter + 1) << "/" << cfg.iterations;
  if (cfg.compute_loss) {
    const double pairs = static_cast<double>(sizes[0]) * static_cast<double>(sizes[1]);
    os << " loss " << model.loss.back() << " (per pair " << model.loss.back() / pairs << ")";
  }
  os << " " << fixed(model.iteration_seconds.back(), 3) << " s";
  log.info(os.str());
}

template <class T>
AlsModel train_impl(par::Comm& comm, std::span<const std::uint64_t> users,
                    std::span<const Interaction> interactions, const AlsConfig& cfg,
                    const Logger* log) {
  const auto t_setup = Clock::now();
  const int k = cfg.factors;
  const par::VShardMap map(cfg.vshards, comm.size());
  const par::StageScope stage(comm.observer(), "als");
  validate_input(comm, map, users, interactions, cfg);

  AlsModel model;
  model.factors = k;
  model.precision = std::is_same_v<T, float> ? FactorPrecision::float32 : FactorPrecision::float64;
  model.users.assign(users.begin(), users.end());
  Side<T> us, is;
  build_user_side(comm, map, users, interactions, cfg, us, model);
  build_item_side(comm.size(), map, transpose(comm, map, interactions, cfg.exchange_budget_bytes),
                  cfg, is, model);
  // The factor rows travel the same way every sweep: both plans are built once.
  plan_exchange(comm, us, k, cfg.exchange_budget_bytes);
  plan_exchange(comm, is, k, cfg.exchange_budget_bytes);
  const auto exchanger = par::make_exchanger(cfg.exchange);
  init_factors(us, users, false, cfg);
  init_factors(is, std::span<const std::uint64_t>(model.items), true, cfg);

  // Global sizes (exact integer sums) for the log.
  std::uint64_t sizes[3] = {users.size(), is.n_rows, us.col.size()};
  comm.allreduce_sum(std::span<std::uint64_t>(sizes, 3));
  model.setup_seconds = since(t_setup);
  if (log)
    log->info("als: ", sizes[0], " users, ", sizes[1], " products, ", sizes[2],
              " training pairs; k=", k, " lambda=", cfg.regularization, " alpha=", cfg.alpha, " ",
              cfg.cholesky ? std::string("cholesky") : "cg(" + std::to_string(cfg.cg_steps) + ")",
              " ", name_of(model.precision), " ", par::name_of(cfg.exchange), "; setup ",
              fixed(model.setup_seconds, 2), " s");

  const int first_iter = resume_from(comm, cfg, us, is, model);
  const auto snapshot = [&](int done) {
    return AlsState{done, std::vector<double>(us.factors.begin(), us.factors.end()),
                    std::vector<double>(is.factors.begin(), is.factors.end()), model.loss};
  };
  std::vector<T> scratch(als_scratch_size(k));
  std::vector<double> gram_y = exact_gram(comm, is, k);
  for (int iter = first_iter; iter < cfg.iterations; ++iter) {
    const auto t0 = Clock::now();
    sweep(comm, *exchanger, cfg, us, is, gram_y, scratch, model);
    model.iteration_seconds.push_back(since(t0));
    if (log) log_iteration(*log, cfg, model, iter, sizes);
    if (cfg.after_iteration) cfg.after_iteration(iter + 1, [&] { return snapshot(iter + 1); });
  }
  model.user_factors.assign(us.factors.begin(), us.factors.end());
  model.item_factors.assign(is.factors.begin(), is.factors.end());
  return model;
}

}  // namespace

AlsModel train_als(par::Comm& comm, std::span<const std::uint64_t> users,
                   std::span<const Interaction> interactions, const AlsConfig& config,
                   const Logger* log) {
  if (config.precision == FactorPrecision::float32)
    return train_impl<float>(comm, users, interactions, config, log);
  return train_impl<double>(comm, users, interactions, config, log);
}

}  // namespace ecom::ml
