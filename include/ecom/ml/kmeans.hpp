#pragma once
// Distributed k-means: k-means|| initialisation (Bahmani et al. 2012, as Spark MLlib), weighted
// k-means++ on the gathered candidates, then Lloyd iterations.
//
// Rank independence (ARCHITECTURE.md §4): every random decision is keyed by (seed, purpose,
// user id, counter); every global sum (costs, centroid sums, inertia) is exact (BinnedSums +
// Comm::exact_combine); counts are integers; ties go to the lower cluster index and, between
// users, to the lower user id; a user's distances are computed by the same fixed sequence of
// floating-point operations wherever it sits in a block. So centroids, labels and inertia are
// bit-identical for any number of ranks and any split of the users over the ranks.
//
// Inputs everywhere: `scores` is this rank's row-major n_local × d matrix (e.g. PCA scores) and
// `user_ids` its n_local user ids (pseudonyms), ascending, the ranks' ranges contiguous in rank
// order (rank r's ids all below rank r+1's). A rank may own no users. All functions taking a
// Comm are collective.
#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <vector>

#include "ecom/par/comm.hpp"

namespace ecom::ml {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct KMeansOptions {
  int k = 5;
  int max_iter = 100;         // Lloyd iterations at most
  double tol = 1e-4;          // stop when the largest centroid move (Euclidean) is <= tol
  int init_rounds = 2;        // k-means|| rounds (Spark: initializationSteps = 2)
  double oversampling = 2.0;  // expected candidates per round = oversampling · k (Spark: 2k)
  int init_lloyd_iter = 30;   // weighted Lloyd iterations on the candidates (Spark LocalKMeans)
  int n_init = 1;             // independent initialisations; the lowest inertia is kept
  int block_rows = 256;  // users per block of the distance kernel (results do not depend on it)
  bool canonical_order =
      true;  // number clusters by decreasing size (ties: centroid, lexicographic)
};

struct KMeansResult {
  RowMatrix centroids;               // k × d
  std::vector<std::int32_t> labels;  // per local user, in [0, k)
  std::vector<double> dist2;         // per local user: squared distance to its centroid (direct)
  std::vector<std::uint64_t> sizes;  // per cluster, global
  double inertia = 0;                // sum of dist2 over all users (exact)
  std::uint64_t n_total = 0;         // users over all ranks
  int iterations = 0;                // Lloyd iterations of the kept initialisation
  bool converged = false;
  int reseeded = 0;          // empty clusters reseeded (kept initialisation)
  int best_init = 0;         // which initialisation was kept
  int candidates = 0;        // k-means|| candidates (kept initialisation)
  double init_seconds = 0;   // wall time of initialisation (kept one)
  double lloyd_seconds = 0;  // wall time of the Lloyd iterations (kept one)
};

// The full algorithm: n_init × (k-means|| + Lloyd), the lowest inertia kept (ties: the earlier
// initialisation). Throws ecom::UserError on every rank if k < 1 or fewer than k users in total.
KMeansResult kmeans(par::Comm& comm, const RowMatrix& scores,
                    std::span<const std::uint64_t> user_ids, const KMeansOptions& options,
                    std::uint64_t seed);

// k-means|| initialisation: returns k initial centroids (identical on every rank).
RowMatrix kmeans_parallel_init(par::Comm& comm, const RowMatrix& scores,
                               std::span<const std::uint64_t> user_ids,
                               const KMeansOptions& options, std::uint64_t seed,
                               int* candidates = nullptr);

// Lloyd iterations from `initial` (k × d, identical on every rank).
KMeansResult lloyd(par::Comm& comm, const RowMatrix& scores,
                   std::span<const std::uint64_t> user_ids, const RowMatrix& initial,
                   const KMeansOptions& options);

// Final assignment of users to given centroids: labels, direct squared distances, global sizes
// and exact inertia (used by lloyd and to label other users, e.g. bootstrap overlaps).
void assign_all(par::Comm& comm, const RowMatrix& scores, const RowMatrix& centroids,
                int block_rows, std::vector<std::int32_t>& labels, std::vector<double>& dist2,
                std::vector<std::uint64_t>* sizes, double* inertia);

// Collective: puts a solution's centroids in canonical order (canonical_permutation) and
// relabels every user by assignment, so that ties between equidistant centroids go to the lower
// (new) index; sizes, dist2 and inertia are recomputed.
void put_in_canonical_order(par::Comm& comm, const RowMatrix& scores, int block_rows,
                            KMeansResult& result);

// ---- pure kernels (no MPI) ------------------------------------------------------------

// Nearest centroid of rows [first, first + count) of `scores` by the GEMM form
// ‖x‖² − 2 xᵀc + ‖c‖², in blocks of `block_rows`. Per user the operations are a fixed
// sequence (dot products summed over dimensions in order, no fused multiply-add), so labels and
// distances do not depend on block size or position. Ties go to the lower cluster index.
// `gemm_dist2` gets the GEMM-form squared distance (may be slightly negative by rounding).
void nearest_centroids(const RowMatrix& scores, std::size_t first, std::size_t count,
                       const RowMatrix& centroids, int block_rows, std::int32_t* labels,
                       double* gemm_dist2);

// Σ_j (a_j − b_j)², summed in order j = 0..d-1.
inline double squared_distance(const double* a, const double* b, Eigen::Index d) {
  double s = 0;
  for (Eigen::Index j = 0; j < d; ++j) {
    const double t = a[j] - b[j];
    s += t * t;
  }
  return s;
}

// Weighted k-means++ (Arthur & Vassilvitskii) on `points` (m × d, weights >= 0), followed by
// up to `lloyd_iter` weighted Lloyd iterations on the points, as Spark's LocalKMeans (weighted
// sums exact, so the weighted mean of identical points is that point exactly). Random
// draws are par::uniform(seed, kmeans_init, kPlusPlusId, i). Deterministic; when fewer than k
// distinct points exist some centroids repeat.
RowMatrix weighted_kmeanspp(const RowMatrix& points, std::span<const double> weights, int k,
                            std::uint64_t seed, int lloyd_iter);

// Relabels clusters by decreasing size (ties: lexicographically smaller centroid first, then
// old index); returns perm with new_label = perm[old_label].
std::vector<std::int32_t> canonical_permutation(const RowMatrix& centroids,
                                                std::span<const std::uint64_t> sizes);

// A seed for a sub-computation (initialisation r, gap reference b, bootstrap b, ...), keyed by
// (seed, purpose, tag): distinct tags give independent streams.
std::uint64_t derive_seed(std::uint64_t seed, std::uint32_t purpose, std::uint64_t tag);

}  // namespace ecom::ml
