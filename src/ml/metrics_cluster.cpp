#include "ecom/ml/metrics_cluster.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ecom/core/error.hpp"
#include "ecom/ml/exact_bins.hpp"
#include "ecom/par/random.hpp"

namespace ecom::ml {

namespace {
__extension__ typedef __int128 i128;

std::int64_t pairs(std::int64_t n) { return n * (n - 1) / 2; }

struct PairCounts {
  i128 together_both = 0, together_a_only = 0, together_b_only = 0, apart_both = 0, total = 0;
};

PairCounts pair_counts(const Contingency& t) {
  std::int64_t n = 0, s = 0, a = 0, b = 0;
  std::vector<std::int64_t> col(static_cast<std::size_t>(t.kb), 0);
  for (int i = 0; i < t.ka; ++i) {
    std::int64_t row = 0;
    for (int j = 0; j < t.kb; ++j) {
      const std::int64_t v = t.at(i, j);
      row += v;
      col[static_cast<std::size_t>(j)] += v;
      s += pairs(v);
    }
    n += row;
    a += pairs(row);
  }
  for (auto v : col) b += pairs(v);
  PairCounts p;
  p.total = pairs(n);
  p.together_both = s;
  p.together_a_only = static_cast<i128>(a) - s;
  p.together_b_only = static_cast<i128>(b) - s;
  p.apart_both = p.total - a - b + s;
  return p;
}

int label_count(std::span<const std::int32_t> l) {
  std::int32_t m = -1;
  for (auto v : l) {
    if (v < 0) throw Error("labels must be non-negative");
    m = std::max(m, v);
  }
  return m + 1;
}
}  // namespace

Contingency contingency(std::span<const std::int32_t> a, std::span<const std::int32_t> b, int ka,
                        int kb, std::span<const char> mask) {
  if (a.size() != b.size()) throw Error("contingency: labelings differ in length");
  if (!mask.empty() && mask.size() != a.size()) throw Error("contingency: mask length");
  Contingency t;
  t.ka = ka;
  t.kb = kb;
  t.counts.assign(static_cast<std::size_t>(ka) * static_cast<std::size_t>(kb), 0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!mask.empty() && !mask[i]) continue;
    if (a[i] < 0 || a[i] >= ka || b[i] < 0 || b[i] >= kb)
      throw Error("contingency: label out of range");
    ++t.counts[static_cast<std::size_t>(a[i]) * static_cast<std::size_t>(kb) +
               static_cast<std::size_t>(b[i])];
  }
  return t;
}

Contingency contingency(par::Comm& comm, std::span<const std::int32_t> a,
                        std::span<const std::int32_t> b, int ka, int kb,
                        std::span<const char> mask) {
  Contingency t = contingency(a, b, ka, kb, mask);
  comm.allreduce_sum<std::int64_t>(t.counts);
  return t;
}

double adjusted_rand_index(const Contingency& table) {
  const PairCounts p = pair_counts(table);
  const i128 tp = p.together_both, fn = p.together_a_only, fp = p.together_b_only,
             tn = p.apart_both;
  if (fn == 0 && fp == 0) return 1.0;  // identical partitions (incl. degenerate ones)
  const i128 num = 2 * (tp * tn - fn * fp);
  const i128 den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn);
  return static_cast<double>(static_cast<long double>(num) / static_cast<long double>(den));
}

double pair_agreement(const Contingency& table) {
  const PairCounts p = pair_counts(table);
  if (p.total == 0) return 1.0;
  return static_cast<double>(static_cast<long double>(p.together_both + p.apart_both) /
                             static_cast<long double>(p.total));
}

double adjusted_rand_index(std::span<const std::int32_t> a, std::span<const std::int32_t> b) {
  return adjusted_rand_index(contingency(a, b, label_count(a), label_count(b)));
}

double pair_agreement(std::span<const std::int32_t> a, std::span<const std::int32_t> b) {
  return pair_agreement(contingency(a, b, label_count(a), label_count(b)));
}

SilhouetteResult sample_silhouette(par::Comm& comm, const RowMatrix& scores,
                                   std::span<const std::uint64_t> user_ids,
                                   std::span<const std::int32_t> labels, int k,
                                   std::uint64_t sample_size, std::uint64_t seed) {
  const auto n = static_cast<std::size_t>(scores.rows());
  const Eigen::Index d = scores.cols();
  const auto n_total = comm.allreduce_sum<std::uint64_t>(n);
  const double rate = sample_size >= n_total
                          ? 1.0
                          : static_cast<double>(sample_size) / static_cast<double>(n_total);
  std::vector<std::size_t> mine;
  std::vector<double> rows;
  std::vector<std::int32_t> labs;
  for (std::size_t i = 0; i < n; ++i) {
    if (!(par::uniform(seed, par::Purpose::silhouette_sample, user_ids[i], 0) < rate)) continue;
    mine.push_back(i);
    labs.push_back(labels[i]);
    for (Eigen::Index j = 0; j < d; ++j) rows.push_back(scores(static_cast<Eigen::Index>(i), j));
  }
  const auto all_labels = comm.allgatherv<std::int32_t>(labs);
  const auto all_rows = comm.allgatherv<double>(rows);
  const long long width = comm.allreduce_max<long long>(n > 0 ? d : 0);
  SilhouetteResult res;
  res.sample_size = all_labels.size();
  std::vector<std::int64_t> count(static_cast<std::size_t>(std::max(k, 0)), 0);
  for (auto l : all_labels) ++count[static_cast<std::size_t>(l)];
  int occupied = 0;
  for (auto c : count) occupied += (c > 0);
  if (k < 2 || occupied < 2) {
    res.value = std::numeric_limits<double>::quiet_NaN();
    return res;
  }
  // The sample by columns, so that the distance loop runs over sampled users.
  const std::size_t S = all_labels.size();
  const auto w = static_cast<std::size_t>(width);
  std::vector<double> cols(w * S);
  for (std::size_t q = 0; q < S; ++q)
    for (std::size_t j = 0; j < w; ++j) cols[j * S + q] = all_rows[q * w + j];
  std::vector<double> dist(S), sums(static_cast<std::size_t>(k));
  BinnedSums total(1);
  for (std::size_t m = 0; m < mine.size(); ++m) {
    const double* x = &scores(static_cast<Eigen::Index>(mine[m]), 0);
    // Per pair, in this order: Σ_j (x_j − y_j)² left to right, then sqrt.
    std::fill(dist.begin(), dist.end(), 0.0);
    for (std::size_t j = 0; j < w; ++j) {
      const double xj = x[j];
      const double* col = &cols[j * S];
      for (std::size_t q = 0; q < S; ++q) {
        const double t = xj - col[q];
        dist[q] += t * t;
      }
    }
    for (std::size_t q = 0; q < S; ++q) dist[q] = std::sqrt(dist[q]);
    std::fill(sums.begin(), sums.end(), 0.0);
    for (std::size_t q = 0; q < S; ++q) sums[static_cast<std::size_t>(all_labels[q])] += dist[q];
    const auto own = static_cast<std::size_t>(labs[m]);
    double s = 0;
    if (count[own] > 1) {
      const double a = sums[own] / static_cast<double>(count[own] - 1);
      double b = std::numeric_limits<double>::infinity();
      for (std::size_t c = 0; c < sums.size(); ++c)
        if (c != own && count[c] > 0) b = std::min(b, sums[c] / static_cast<double>(count[c]));
      const double mx = std::max(a, b);
      s = mx > 0 ? (b - a) / mx : 0.0;
    }
    total.add(0, s);
  }
  res.value = comm.exact_combine(total.to_exact())[0].value() / static_cast<double>(S);
  return res;
}

double simplified_silhouette(par::Comm& comm, const RowMatrix& scores,
                             std::span<const std::int32_t> labels, const RowMatrix& centroids) {
  const auto n = static_cast<std::size_t>(scores.rows());
  const Eigen::Index k = centroids.rows(), d = centroids.cols();
  const auto n_total = comm.allreduce_sum<std::uint64_t>(n);
  if (k < 2 || n_total == 0) return std::numeric_limits<double>::quiet_NaN();
  BinnedSums total(1);
  for (std::size_t i = 0; i < n; ++i) {
    const double* x = &scores(static_cast<Eigen::Index>(i), 0);
    const Eigen::Index own = labels[i];
    const double a = std::sqrt(squared_distance(x, &centroids(own, 0), d));
    double b = std::numeric_limits<double>::infinity();
    for (Eigen::Index c = 0; c < k; ++c)
      if (c != own) b = std::min(b, std::sqrt(squared_distance(x, &centroids(c, 0), d)));
    const double mx = std::max(a, b);
    total.add(0, mx > 0 ? (b - a) / mx : 0.0);
  }
  return comm.exact_combine(total.to_exact())[0].value() / static_cast<double>(n_total);
}

}  // namespace ecom::ml
