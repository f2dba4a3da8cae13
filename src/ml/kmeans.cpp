#include "ecom/ml/kmeans.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <sstream>
#include <unordered_set>

#include "ecom/core/error.hpp"
#include "ecom/ml/exact_bins.hpp"
#include "ecom/par/random.hpp"

namespace ecom::ml {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Draws of weighted k-means++ use this id with counters from kPlusPlusCounter on; users' draws
// use counters 0..init_rounds, so the two never share a (id, counter) pair.
constexpr std::uint64_t kPlusPlusId = ~std::uint64_t{0};
constexpr std::uint32_t kPlusPlusCounter = 1u << 20;

// A user proposed for a global selection: smallest (key, uid) first.
struct KeyedUser {
  double key;
  std::uint64_t uid;
  std::int32_t label;
  std::int32_t pad = 0;
};
bool keyed_less(const KeyedUser& a, const KeyedUser& b) {
  return a.key < b.key || (a.key == b.key && a.uid < b.uid);
}

struct Picked {
  std::vector<KeyedUser> users;
  RowMatrix rows;
};

// Collective: the m globally smallest (key, uid) among the local proposals (index into scores).
// Each rank contributes at most m, so the traffic is P·m rows.
Picked select_smallest(par::Comm& comm, const RowMatrix& scores, Eigen::Index d,
                       std::vector<std::pair<KeyedUser, std::size_t>> local, std::size_t m) {
  auto less = [](const auto& a, const auto& b) { return keyed_less(a.first, b.first); };
  const std::size_t take = std::min(m, local.size());
  std::partial_sort(local.begin(), local.begin() + static_cast<std::ptrdiff_t>(take), local.end(),
                    less);
  std::vector<KeyedUser> keys(take);
  std::vector<double> rows(take * static_cast<std::size_t>(d));
  for (std::size_t i = 0; i < take; ++i) {
    keys[i] = local[i].first;
    for (Eigen::Index j = 0; j < d; ++j)
      rows[i * static_cast<std::size_t>(d) + static_cast<std::size_t>(j)] =
          scores(static_cast<Eigen::Index>(local[i].second), j);
  }
  const auto all_keys = comm.allgatherv<KeyedUser>(keys);
  const auto all_rows = comm.allgatherv<double>(rows);
  std::vector<std::size_t> order(all_keys.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return keyed_less(all_keys[a], all_keys[b]); });
  Picked out;
  const std::size_t n = std::min(m, order.size());
  out.rows.resize(static_cast<Eigen::Index>(n), d);
  for (std::size_t i = 0; i < n; ++i) {
    out.users.push_back(all_keys[order[i]]);
    for (Eigen::Index j = 0; j < d; ++j)
      out.rows(static_cast<Eigen::Index>(i), j) =
          all_rows[order[i] * static_cast<std::size_t>(d) + static_cast<std::size_t>(j)];
  }
  return out;
}

// Global number of users and the common dimension; throws the same error on every rank when
// the input is unusable (a rank with users has another width, or a non-finite score).
struct Shape {
  std::uint64_t n_total = 0;
  Eigen::Index d = 0;
};
Shape check_input(par::Comm& comm, const RowMatrix& scores,
                  std::span<const std::uint64_t> user_ids) {
  Shape s;
  s.n_total = comm.allreduce_sum<std::uint64_t>(static_cast<std::uint64_t>(scores.rows()));
  const long long cols = scores.rows() > 0 ? static_cast<long long>(scores.cols()) : -1;
  s.d = static_cast<Eigen::Index>(comm.allreduce_max<long long>(cols));
  std::string error;
  if (static_cast<std::size_t>(scores.rows()) != user_ids.size())
    error = "k-means: score rows and user ids differ in number";
  else if (scores.rows() > 0 && scores.cols() != s.d)
    error = "k-means: ranks hold score matrices of different widths";
  else if (!scores.allFinite())
    error = "k-means: non-finite score (NaN or infinity)";
  else
    for (std::size_t i = 1; i < user_ids.size(); ++i)
      if (user_ids[i] <= user_ids[i - 1]) {
        error = "k-means: user ids are not strictly ascending";
        break;
      }
  par::agree(comm, error, ExitCode::internal);
  if (s.d < 0) s.d = 0;
  return s;
}

// Sum over ranks of one local double per rank, exactly.
double exact_total(par::Comm& comm, BinnedSums& local) {
  return comm.exact_combine(local.to_exact())[0].value();
}

// sum / count from an exact sum, corrected by the exact remainders so that it is rounded about
// once instead of twice (sum, then quotient): the mean of `count` identical values is that value
// exactly, so identical users sit exactly on their centroid. hi − q·count is exactly
// representable for q = RN(hi / count), and std::fma computes it exactly.
double exact_mean(const par::ExactAccumulator& sum, double count) {
  par::ExactAccumulator rest = sum;
  const double hi = rest.value();
  rest.add(-hi);
  const double lo = rest.value();
  const double q = hi / count;
  const double r = std::fma(-q, count, hi) + lo;
  return q + r / count;
}

}  // namespace

std::uint64_t derive_seed(std::uint64_t seed, std::uint32_t purpose, std::uint64_t tag) {
  return par::random_bits(seed, static_cast<par::Purpose>(purpose), tag, 0xffffffffu);
}

// ---- kernels ----------------------------------------------------------------------------

namespace {

// GCC/Clang vector extension: element-wise IEEE operations, i.e. each lane performs exactly
// the scalar operation (no contraction with -ffp-contract=off), on any instruction set.
using v2d = double __attribute__((vector_size(16)));
using v2l = std::int64_t __attribute__((vector_size(16)));

inline v2d load2(const double* p) {
  v2d v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store2(double* p, v2d v) { std::memcpy(p, &v, sizeof v); }

// Nearest centroid for `count` users stored by columns (x_j of user i at xcol[j·ld + i]).
// Per user, in this order and with no other rounding:
//   xn = x0·x0 + x1·x1 + ... ; dot_c = x0·c0 + x1·c1 + ... (left to right)
//   dist_c = (xn − 2·dot_c) + ‖c‖² ; label = the first c with the smallest dist_c.
// The vector bodies (four users as two lane pairs, then two users) and the scalar tail perform
// the same operations.
template <int D>
void nearest_by_columns(const double* xcol, std::size_t ld, std::size_t count, int d_runtime,
                        const double* centroids, const double* cnorm, int k, std::int32_t* labels,
                        double* best_out) {
  const int d = D > 0 ? D : d_runtime;
  std::size_t i = 0;
  if constexpr (D > 0) {
    // Four users at a time (two lane pairs): two independent chains per centroid load.
    for (; i + 4 <= count; i += 4) {
      v2d xa[D], xb[D];
      for (int j = 0; j < D; ++j) {
        xa[j] = load2(xcol + static_cast<std::size_t>(j) * ld + i);
        xb[j] = load2(xcol + static_cast<std::size_t>(j) * ld + i + 2);
      }
      v2d na = xa[0] * xa[0], nb = xb[0] * xb[0];
      for (int j = 1; j < D; ++j) {
        na += xa[j] * xa[j];
        nb += xb[j] * xb[j];
      }
      v2d best_a = {0, 0}, best_b = {0, 0}, lab_a = {0, 0}, lab_b = {0, 0};
      for (int c = 0; c < k; ++c) {
        const double* cc = centroids + static_cast<std::size_t>(c) * D;
        v2d dot_a = xa[0] * cc[0], dot_b = xb[0] * cc[0];
        for (int j = 1; j < D; ++j) {
          dot_a += xa[j] * cc[j];
          dot_b += xb[j] * cc[j];
        }
        const v2d dist_a = (na - 2.0 * dot_a) + cnorm[c];
        const v2d dist_b = (nb - 2.0 * dot_b) + cnorm[c];
        if (c == 0) {
          best_a = dist_a;
          best_b = dist_b;
        } else {
          const double cd = static_cast<double>(c);
          const v2l better_a = dist_a < best_a, better_b = dist_b < best_b;
          best_a = better_a ? dist_a : best_a;
          best_b = better_b ? dist_b : best_b;
          lab_a = better_a ? v2d{cd, cd} : lab_a;
          lab_b = better_b ? v2d{cd, cd} : lab_b;
        }
      }
      labels[i] = static_cast<std::int32_t>(lab_a[0]);
      labels[i + 1] = static_cast<std::int32_t>(lab_a[1]);
      labels[i + 2] = static_cast<std::int32_t>(lab_b[0]);
      labels[i + 3] = static_cast<std::int32_t>(lab_b[1]);
      store2(best_out + i, best_a);
      store2(best_out + i + 2, best_b);
    }
  }
  for (; i + 2 <= count; i += 2) {
    v2d x[D > 0 ? D : 1];
    auto xj = [&](int j) {
      return D > 0 ? x[j] : load2(xcol + static_cast<std::size_t>(j) * ld + i);
    };
    if constexpr (D > 0)
      for (int j = 0; j < D; ++j) x[j] = load2(xcol + static_cast<std::size_t>(j) * ld + i);
    v2d xn = xj(0) * xj(0);
    for (int j = 1; j < d; ++j) xn += xj(j) * xj(j);
    v2d best = {0, 0}, lab = {0, 0};
    for (int c = 0; c < k; ++c) {
      const double* cc = centroids + static_cast<std::size_t>(c) * static_cast<std::size_t>(d);
      v2d dot = xj(0) * cc[0];
      for (int j = 1; j < d; ++j) dot += xj(j) * cc[j];
      const v2d dist = (xn - 2.0 * dot) + cnorm[c];
      if (c == 0) {
        best = dist;
      } else {
        const v2l better = dist < best;  // strict: ties keep the lower index
        best = better ? dist : best;
        const double cd = static_cast<double>(c);
        lab = better ? v2d{cd, cd} : lab;
      }
    }
    labels[i] = static_cast<std::int32_t>(lab[0]);
    labels[i + 1] = static_cast<std::int32_t>(lab[1]);
    store2(best_out + i, best);
  }
  for (; i < count; ++i) {
    auto xs = [&](int j) { return xcol[static_cast<std::size_t>(j) * ld + i]; };
    double xn = xs(0) * xs(0);
    for (int j = 1; j < d; ++j) xn += xs(j) * xs(j);
    double best = 0;
    std::int32_t lab = 0;
    for (int c = 0; c < k; ++c) {
      const double* cc = centroids + static_cast<std::size_t>(c) * static_cast<std::size_t>(d);
      double dot = xs(0) * cc[0];
      for (int j = 1; j < d; ++j) dot += xs(j) * cc[j];
      const double dist = (xn - 2.0 * dot) + cnorm[c];
      if (c == 0 || dist < best) {
        best = dist;
        lab = c;
      }
    }
    labels[i] = lab;
    best_out[i] = best;
  }
}

using ColumnKernel = void (*)(const double*, std::size_t, std::size_t, int, const double*,
                              const double*, int, std::int32_t*, double*);
ColumnKernel column_kernel(Eigen::Index d) {
  switch (d) {
    case 1:
      return nearest_by_columns<1>;
    case 2:
      return nearest_by_columns<2>;
    case 3:
      return nearest_by_columns<3>;
    case 4:
      return nearest_by_columns<4>;
    case 5:
      return nearest_by_columns<5>;
    case 6:
      return nearest_by_columns<6>;
    case 7:
      return nearest_by_columns<7>;
    case 8:
      return nearest_by_columns<8>;
    case 9:
      return nearest_by_columns<9>;
    case 10:
      return nearest_by_columns<10>;
    case 11:
      return nearest_by_columns<11>;
    case 12:
      return nearest_by_columns<12>;
    default:
      return nearest_by_columns<0>;
  }
}

std::vector<double> centroid_norms(const RowMatrix& centroids) {
  std::vector<double> cn(static_cast<std::size_t>(centroids.rows()), 0.0);
  for (Eigen::Index c = 0; c < centroids.rows(); ++c) {
    double s = centroids(c, 0) * centroids(c, 0);
    for (Eigen::Index j = 1; j < centroids.cols(); ++j) s += centroids(c, j) * centroids(c, j);
    cn[static_cast<std::size_t>(c)] = s;
  }
  return cn;
}

}  // namespace

void nearest_centroids(const RowMatrix& scores, std::size_t first, std::size_t count,
                       const RowMatrix& centroids, int block_rows, std::int32_t* labels,
                       double* gemm_dist2) {
  const auto d = static_cast<std::size_t>(scores.cols());
  if (count == 0) return;
  if (centroids.rows() == 0) throw Error("nearest_centroids: no centroids");
  if (d == 0 || static_cast<std::size_t>(centroids.cols()) != d)
    throw Error("nearest_centroids: centroid and score widths differ");
  const std::size_t B = static_cast<std::size_t>(std::max(1, block_rows));
  std::vector<double> xt(d * B), dist(B);
  const auto cn = centroid_norms(centroids);
  const ColumnKernel kernel = column_kernel(scores.cols());
  for (std::size_t s = 0; s < count; s += B) {
    const std::size_t nb = std::min(B, count - s);
    const double* xb = scores.data() + (first + s) * d;
    for (std::size_t i = 0; i < nb; ++i)
      for (std::size_t j = 0; j < d; ++j) xt[j * B + i] = xb[i * d + j];
    kernel(xt.data(), B, nb, static_cast<int>(d), centroids.data(), cn.data(),
           static_cast<int>(centroids.rows()), labels + s,
           gemm_dist2 != nullptr ? gemm_dist2 + s : dist.data());
  }
}

RowMatrix weighted_kmeanspp(const RowMatrix& points, std::span<const double> weights, int k,
                            std::uint64_t seed, int lloyd_iter) {
  const Eigen::Index m = points.rows(), d = points.cols();
  if (m == 0) throw Error("weighted k-means++: no candidate points");
  if (k < 1) throw Error("weighted k-means++: k < 1");
  if (static_cast<Eigen::Index>(weights.size()) != m) throw Error("weighted k-means++: weights");
  RowMatrix centers(k, d);
  std::vector<char> chosen(static_cast<std::size_t>(m), 0);
  auto draw = [&](int i) {
    return par::uniform(seed, par::Purpose::kmeans_init, kPlusPlusId,
                        kPlusPlusCounter + static_cast<std::uint32_t>(i));
  };
  // Index j with cumulative mass first exceeding u·total (mass_j = 0 entries never picked).
  auto pick = [&](const std::vector<double>& mass, double u) -> Eigen::Index {
    double total = 0;
    for (double v : mass) total += v;
    if (!(total > 0)) return -1;
    const double r = u * total;
    double acc = 0;
    Eigen::Index last_positive = -1;
    for (Eigen::Index j = 0; j < m; ++j) {
      const double v = mass[static_cast<std::size_t>(j)];
      if (v <= 0) continue;
      last_positive = j;
      acc += v;
      if (acc > r) return j;
    }
    return last_positive;
  };
  auto fallback = [&](int i) -> Eigen::Index {
    for (Eigen::Index j = 0; j < m; ++j)
      if (!chosen[static_cast<std::size_t>(j)]) return j;
    return static_cast<Eigen::Index>(i) % m;
  };
  std::vector<double> mass(weights.begin(), weights.end());
  Eigen::Index j0 = pick(mass, draw(0));
  if (j0 < 0) j0 = fallback(0);
  centers.row(0) = points.row(j0);
  chosen[static_cast<std::size_t>(j0)] = 1;
  std::vector<double> d2(static_cast<std::size_t>(m));
  for (Eigen::Index j = 0; j < m; ++j)
    d2[static_cast<std::size_t>(j)] = squared_distance(&points(j, 0), &centers(0, 0), d);
  for (int i = 1; i < k; ++i) {
    for (Eigen::Index j = 0; j < m; ++j)
      mass[static_cast<std::size_t>(j)] =
          weights[static_cast<std::size_t>(j)] * d2[static_cast<std::size_t>(j)];
    Eigen::Index j = pick(mass, draw(i));
    if (j < 0) j = fallback(i);
    centers.row(i) = points.row(j);
    chosen[static_cast<std::size_t>(j)] = 1;
    for (Eigen::Index q = 0; q < m; ++q)
      d2[static_cast<std::size_t>(q)] = std::min(
          d2[static_cast<std::size_t>(q)], squared_distance(&points(q, 0), &centers(i, 0), d));
  }
  // Weighted Lloyd on the candidates (plain sums in candidate order: identical on every rank).
  auto assign = [&](std::vector<int>& a) {
    bool changed = false;
    for (Eigen::Index q = 0; q < m; ++q) {
      int best = 0;
      double bd = squared_distance(&points(q, 0), &centers(0, 0), d);
      for (int c = 1; c < k; ++c) {
        const double v = squared_distance(&points(q, 0), &centers(c, 0), d);
        if (v < bd) {
          bd = v;
          best = c;
        }
      }
      if (a[static_cast<std::size_t>(q)] != best) changed = true;
      a[static_cast<std::size_t>(q)] = best;
    }
    return changed;
  };
  std::vector<int> a(static_cast<std::size_t>(m), -1);
  assign(a);
  // Weighted sums exactly (each product w·x as its rounded value plus the exact remainder from
  // std::fma), so that a weighted mean of identical points is that point exactly.
  const auto du = static_cast<std::size_t>(d);
  par::ExactVector sums(static_cast<std::size_t>(k) * du);
  for (int it = 0; it < lloyd_iter; ++it) {
    sums.resize(static_cast<std::size_t>(k) * du);
    std::vector<double> wsum(static_cast<std::size_t>(k), 0.0);
    for (Eigen::Index q = 0; q < m; ++q) {
      const auto c = static_cast<std::size_t>(a[static_cast<std::size_t>(q)]);
      const double w = weights[static_cast<std::size_t>(q)];
      for (Eigen::Index j = 0; j < d; ++j) {
        const double prod = w * points(q, j);
        sums.add(c * du + static_cast<std::size_t>(j), prod);
        sums.add(c * du + static_cast<std::size_t>(j), std::fma(w, points(q, j), -prod));
      }
      wsum[c] += w;
    }
    for (int c = 0; c < k; ++c)
      if (wsum[static_cast<std::size_t>(c)] > 0)
        for (Eigen::Index j = 0; j < d; ++j)
          centers(c, j) =
              exact_mean(sums[static_cast<std::size_t>(c) * du + static_cast<std::size_t>(j)],
                         wsum[static_cast<std::size_t>(c)]);
    if (!assign(a)) break;
  }
  return centers;
}

std::vector<std::int32_t> canonical_permutation(const RowMatrix& centroids,
                                                std::span<const std::uint64_t> sizes) {
  const auto k = static_cast<std::size_t>(centroids.rows());
  std::vector<std::size_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (sizes[a] != sizes[b]) return sizes[a] > sizes[b];
    for (Eigen::Index j = 0; j < centroids.cols(); ++j) {
      const double x = centroids(static_cast<Eigen::Index>(a), j);
      const double y = centroids(static_cast<Eigen::Index>(b), j);
      if (x != y) return x < y;
    }
    return a < b;
  });
  std::vector<std::int32_t> perm(k);
  for (std::size_t pos = 0; pos < k; ++pos) perm[order[pos]] = static_cast<std::int32_t>(pos);
  return perm;
}

// ---- distributed -------------------------------------------------------------------------

void assign_all(par::Comm& comm, const RowMatrix& scores, const RowMatrix& centroids,
                int block_rows, std::vector<std::int32_t>& labels, std::vector<double>& dist2,
                std::vector<std::uint64_t>* sizes, double* inertia) {
  const auto n = static_cast<std::size_t>(scores.rows());
  const auto k = static_cast<std::size_t>(centroids.rows());
  const Eigen::Index d = centroids.cols();
  labels.resize(n);
  dist2.resize(n);
  nearest_centroids(scores, 0, n, centroids, block_rows, labels.data(), dist2.data());
  BinnedSums total(1);
  std::vector<std::uint64_t> counts(k, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<Eigen::Index>(labels[i]);
    dist2[i] = squared_distance(&scores(static_cast<Eigen::Index>(i), 0), &centroids(c, 0), d);
    total.add(0, dist2[i]);
    ++counts[static_cast<std::size_t>(c)];
  }
  if (inertia != nullptr) *inertia = exact_total(comm, total);
  if (sizes != nullptr) {
    comm.allreduce_sum<std::uint64_t>(counts);
    *sizes = std::move(counts);
  }
}

RowMatrix kmeans_parallel_init(par::Comm& comm, const RowMatrix& scores,
                               std::span<const std::uint64_t> user_ids,
                               const KMeansOptions& options, std::uint64_t seed, int* candidates) {
  const Shape shape = check_input(comm, scores, user_ids);
  const Eigen::Index d = shape.d;
  const int k = options.k;
  const auto n = static_cast<std::size_t>(scores.rows());
  if (k < 1) throw UserError("k-means: k must be at least 1");
  if (shape.n_total < static_cast<std::uint64_t>(k)) {
    std::ostringstream os;
    os << "k-means: k = " << k << " but only " << shape.n_total
       << (shape.n_total == 1 ? " user" : " users");
    throw UserError(os.str());
  }
  auto key0 = [&](std::size_t i) {
    return par::uniform(seed, par::Purpose::kmeans_init, user_ids[i], 0);
  };
  // First candidate: the user with the smallest key (uniform over users).
  std::vector<std::pair<KeyedUser, std::size_t>> proposals(n);
  for (std::size_t i = 0; i < n; ++i) proposals[i] = {KeyedUser{key0(i), user_ids[i], 0}, i};
  Picked first = select_smallest(comm, scores, d, proposals, 1);
  std::vector<std::uint64_t> cand_ids = {first.users[0].uid};
  std::vector<double> cand_rows(first.rows.data(), first.rows.data() + d);

  std::vector<double> d2(n);
  for (std::size_t i = 0; i < n; ++i)
    d2[i] = squared_distance(&scores(static_cast<Eigen::Index>(i), 0), cand_rows.data(), d);
  const double ell = options.oversampling * k;
  for (int t = 1; t <= options.init_rounds; ++t) {
    BinnedSums cost(1);
    for (std::size_t i = 0; i < n; ++i) cost.add(0, d2[i]);
    const double phi = exact_total(comm, cost);
    if (!(phi > 0)) break;
    std::vector<std::uint64_t> new_ids;
    std::vector<double> new_rows;
    for (std::size_t i = 0; i < n; ++i) {
      const double p = ell * d2[i] / phi;
      if (par::uniform(seed, par::Purpose::kmeans_init, user_ids[i],
                       static_cast<std::uint32_t>(t)) < p) {
        new_ids.push_back(user_ids[i]);
        for (Eigen::Index j = 0; j < d; ++j)
          new_rows.push_back(scores(static_cast<Eigen::Index>(i), j));
      }
    }
    // Rank order is user-id order, so the gathered candidates are ordered by user id.
    const auto g_ids = comm.allgatherv<std::uint64_t>(new_ids);
    const auto g_rows = comm.allgatherv<double>(new_rows);
    for (std::size_t c = 0; c < g_ids.size(); ++c) {
      const double* row = &g_rows[c * static_cast<std::size_t>(d)];
      for (std::size_t i = 0; i < n; ++i)
        d2[i] = std::min(d2[i], squared_distance(&scores(static_cast<Eigen::Index>(i), 0), row, d));
    }
    cand_ids.insert(cand_ids.end(), g_ids.begin(), g_ids.end());
    cand_rows.insert(cand_rows.end(), g_rows.begin(), g_rows.end());
  }
  // Too few candidates (tiny or degenerate data): add users in key order.
  if (cand_ids.size() < static_cast<std::size_t>(k)) {
    const std::size_t want = static_cast<std::size_t>(k) + cand_ids.size();
    Picked more = select_smallest(comm, scores, d, proposals, want);
    std::unordered_set<std::uint64_t> have(cand_ids.begin(), cand_ids.end());
    for (std::size_t q = 0; q < more.users.size() && cand_ids.size() < static_cast<std::size_t>(k);
         ++q) {
      if (have.count(more.users[q].uid)) continue;
      cand_ids.push_back(more.users[q].uid);
      for (Eigen::Index j = 0; j < d; ++j)
        cand_rows.push_back(more.rows(static_cast<Eigen::Index>(q), j));
    }
  }
  const auto m = static_cast<Eigen::Index>(cand_ids.size());
  RowMatrix cands = Eigen::Map<const RowMatrix>(cand_rows.data(), m, d);
  if (candidates != nullptr) *candidates = static_cast<int>(m);
  // Weight of a candidate: the number of users nearest to it.
  std::vector<std::int32_t> nearest(n);
  std::vector<double> unused(n);
  nearest_centroids(scores, 0, n, cands, options.block_rows, nearest.data(), unused.data());
  std::vector<std::int64_t> counts(static_cast<std::size_t>(m), 0);
  for (std::size_t i = 0; i < n; ++i) ++counts[static_cast<std::size_t>(nearest[i])];
  comm.allreduce_sum<std::int64_t>(counts);
  std::vector<double> weights(counts.begin(), counts.end());
  return weighted_kmeanspp(cands, weights, k, seed, options.init_lloyd_iter);
}

KMeansResult lloyd(par::Comm& comm, const RowMatrix& scores,
                   std::span<const std::uint64_t> user_ids, const RowMatrix& initial,
                   const KMeansOptions& options) {
  const auto t0 = Clock::now();
  const auto n = static_cast<std::size_t>(scores.rows());
  const Eigen::Index k = initial.rows(), d = initial.cols();
  if (n > 0 && scores.cols() != d) throw Error("lloyd: centroid and score widths differ");
  const auto ku = static_cast<std::size_t>(k), du = static_cast<std::size_t>(d);
  KMeansResult res;
  res.centroids = initial;
  std::vector<std::int32_t> labels(n);
  std::vector<double> gd2(n);
  // Users by columns once, so that iterations need no per-block transposition (the kernel does
  // the same per-user operations either way).
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor> columns = scores;
  const ColumnKernel kernel = column_kernel(d);
  // The local cluster sums are kept from one iteration to the next and updated only for the
  // users whose cluster changed (subtract from the old, add to the new). The sums are exact, so
  // they equal the exact sums of the current members whatever the path, and bit-identical
  // results are kept; after the first iterations few users move, and an iteration costs little
  // more than the distance kernel.
  BinnedSums sums(ku, du);
  std::vector<std::int64_t> local_counts(ku, 0), counts(ku);
  std::fill(labels.begin(), labels.end(), -1);  // -1: not yet in any cluster's sums
  constexpr std::size_t kChunk = 4096;          // assign then update while the chunk is in cache
  std::vector<std::int32_t> fresh(std::min(kChunk, n));
  std::vector<double> negated(du);
  const double tol2 = options.tol * options.tol;
  for (int it = 1; it <= options.max_iter; ++it) {
    const auto cn = centroid_norms(res.centroids);
    for (std::size_t s = 0; s < n; s += kChunk) {
      const std::size_t nb = std::min(kChunk, n - s);
      kernel(columns.data() + s, n, nb, static_cast<int>(d), res.centroids.data(), cn.data(),
             static_cast<int>(k), fresh.data(), gd2.data() + s);
      for (std::size_t b = 0; b < nb; ++b) {
        const std::size_t i = s + b;
        if (fresh[b] == labels[i]) continue;
        const double* row = scores.data() + i * du;
        if (labels[i] >= 0) {
          const auto old = static_cast<std::size_t>(labels[i]);
          for (std::size_t j = 0; j < du; ++j) negated[j] = -row[j];
          sums.add_row(old, negated.data());
          --local_counts[old];
        }
        const auto c = static_cast<std::size_t>(fresh[b]);
        sums.add_row(c, row);
        ++local_counts[c];
        labels[i] = fresh[b];
      }
    }
    par::ExactVector total = comm.exact_combine(sums.to_exact());
    counts = local_counts;
    comm.allreduce_sum<std::int64_t>(counts);

    // Empty clusters: move the users farthest from their centroids (ties: lower user id) into
    // them, one each, taking them out of their old cluster's sums exactly.
    bool reseeded = false;
    std::size_t empty = 0;
    for (auto c : counts) empty += (c == 0);
    if (empty > 0) {
      std::vector<std::pair<KeyedUser, std::size_t>> far;
      for (std::size_t i = 0; i < n; ++i)
        if (gd2[i] > 0) far.push_back({KeyedUser{-gd2[i], user_ids[i], labels[i]}, i});
      Picked picked = select_smallest(comm, scores, d, std::move(far), empty);
      std::size_t next = 0;
      for (std::size_t c = 0; c < ku; ++c) {
        if (counts[c] != 0) continue;
        while (next < picked.users.size() &&
               counts[static_cast<std::size_t>(picked.users[next].label)] <= 1)
          ++next;
        if (next == picked.users.size()) break;
        const auto old = static_cast<std::size_t>(picked.users[next].label);
        for (std::size_t j = 0; j < du; ++j) {
          const double x =
              picked.rows(static_cast<Eigen::Index>(next), static_cast<Eigen::Index>(j));
          total[old * du + j].add(-x);
          total[c * du + j] = par::ExactAccumulator{};
          total[c * du + j].add(x);
        }
        --counts[old];
        counts[c] = 1;
        ++next;
        ++res.reseeded;
        reseeded = true;
      }
    }
    double max_shift2 = 0;
    for (std::size_t c = 0; c < ku; ++c) {
      if (counts[c] == 0) continue;  // could not be reseeded: keep the old centroid
      const auto cnt = static_cast<double>(counts[c]);
      double shift2 = 0;
      for (std::size_t j = 0; j < du; ++j) {
        const double v = exact_mean(total[c * du + j], cnt);
        const double delta =
            v - res.centroids(static_cast<Eigen::Index>(c), static_cast<Eigen::Index>(j));
        shift2 += delta * delta;
        res.centroids(static_cast<Eigen::Index>(c), static_cast<Eigen::Index>(j)) = v;
      }
      max_shift2 = std::max(max_shift2, shift2);
    }
    res.iterations = it;
    if (!reseeded && max_shift2 <= tol2) {
      res.converged = true;
      break;
    }
  }
  assign_all(comm, scores, res.centroids, options.block_rows, res.labels, res.dist2, &res.sizes,
             &res.inertia);
  res.n_total = 0;
  for (auto s : res.sizes) res.n_total += s;
  res.lloyd_seconds = seconds_since(t0);
  return res;
}

KMeansResult kmeans(par::Comm& comm, const RowMatrix& scores,
                    std::span<const std::uint64_t> user_ids, const KMeansOptions& options,
                    std::uint64_t seed) {
  if (options.n_init < 1) throw UserError("k-means: n_init must be at least 1");
  KMeansResult best;
  for (int r = 0; r < options.n_init; ++r) {
    const std::uint64_t s =
        r == 0 ? seed
               : derive_seed(seed, static_cast<std::uint32_t>(par::Purpose::kmeans_init),
                             static_cast<std::uint64_t>(r));
    const auto t0 = Clock::now();
    int cands = 0;
    RowMatrix init = kmeans_parallel_init(comm, scores, user_ids, options, s, &cands);
    const double init_s = seconds_since(t0);
    KMeansResult res = lloyd(comm, scores, user_ids, init, options);
    res.init_seconds = init_s;
    res.candidates = cands;
    res.best_init = r;
    if (r == 0 || res.inertia < best.inertia) best = std::move(res);
  }
  if (options.canonical_order) put_in_canonical_order(comm, scores, options.block_rows, best);
  return best;
}

void put_in_canonical_order(par::Comm& comm, const RowMatrix& scores, int block_rows,
                            KMeansResult& result) {
  const auto perm = canonical_permutation(result.centroids, result.sizes);
  RowMatrix c(result.centroids.rows(), result.centroids.cols());
  for (std::size_t old = 0; old < perm.size(); ++old)
    c.row(perm[old]) = result.centroids.row(static_cast<Eigen::Index>(old));
  result.centroids = std::move(c);
  // Relabel by assignment rather than through perm, so that ties between equidistant
  // centroids still go to the lower (new) index.
  assign_all(comm, scores, result.centroids, block_rows, result.labels, result.dist2, &result.sizes,
             &result.inertia);
}

}  // namespace ecom::ml
