#pragma once
// Clustering quality and agreement measures: contingency tables, adjusted Rand index, pair
// agreement (Rand index), silhouette on a keyed sample (exact Euclidean definition) and the
// simplified (centroid) silhouette over all users.
//
// Pure functions take labelings in memory; the distributed ones take a Comm and are collective.
// Counts are integers and every floating-point sum over users is exact, so the results are
// bit-identical for any number of ranks.
#include <cstdint>
#include <span>
#include <vector>

#include "ecom/ml/kmeans.hpp"
#include "ecom/par/comm.hpp"

namespace ecom::ml {

// Counts n_ij of items with label i in `a` and j in `b` (labels in [0, ka) and [0, kb)).
struct Contingency {
  int ka = 0, kb = 0;
  std::vector<std::int64_t> counts;  // row-major ka × kb
  std::int64_t at(int i, int j) const {
    return counts[static_cast<std::size_t>(i) * static_cast<std::size_t>(kb) +
                  static_cast<std::size_t>(j)];
  }
};

// Local table; `mask` (optional, same length) selects the items counted.
Contingency contingency(std::span<const std::int32_t> a, std::span<const std::int32_t> b, int ka,
                        int kb, std::span<const char> mask = {});
// Collective: the local tables summed over ranks (integers: exact).
Contingency contingency(par::Comm& comm, std::span<const std::int32_t> a,
                        std::span<const std::int32_t> b, int ka, int kb,
                        std::span<const char> mask = {});

// Adjusted Rand index (Hubert & Arabie 1985) from a contingency table, computed from exact
// integer pair counts. 1 for identical partitions up to relabelling; about 0 for independent
// ones. Degenerate tables (fewer than 2 items, or both partitions trivial in the same way) give
// 1, as scikit-learn's adjusted_rand_score.
double adjusted_rand_index(const Contingency& table);
// Rand index: the fraction of item pairs on which the two partitions agree (both together or
// both apart); 1 when there are fewer than 2 items.
double pair_agreement(const Contingency& table);

// Pure conveniences on two labelings of the same items (labels >= 0).
double adjusted_rand_index(std::span<const std::int32_t> a, std::span<const std::int32_t> b);
double pair_agreement(std::span<const std::int32_t> a, std::span<const std::int32_t> b);

struct SilhouetteResult {
  double value = 0;  // mean silhouette over the sample (NaN if undefined)
  std::uint64_t sample_size = 0;
};

// Exact Euclidean silhouette (Rousseeuw 1987) of the labelling, on the keyed sample
// {u : uniform(seed, silhouette_sample, u, 0) < min(1, sample_size / n_total)}. The sample is
// gathered on every rank (in user-id order); each rank computes s(i) for its own sampled users
// against the whole sample, distances summed in sample order. s(i) = 0 for a user alone in its
// cluster within the sample (as scikit-learn). NaN when k < 2 or the sample has < 2 clusters.
SilhouetteResult sample_silhouette(par::Comm& comm, const RowMatrix& scores,
                                   std::span<const std::uint64_t> user_ids,
                                   std::span<const std::int32_t> labels, int k,
                                   std::uint64_t sample_size, std::uint64_t seed);

// Simplified silhouette over all users: a = distance to the own centroid, b = distance to the
// nearest other centroid, s = (b − a) / max(a, b) (0 when both are 0). NaN when k < 2.
double simplified_silhouette(par::Comm& comm, const RowMatrix& scores,
                             std::span<const std::int32_t> labels, const RowMatrix& centroids);

}  // namespace ecom::ml
