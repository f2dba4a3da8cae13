// k-means kernels without MPI: the exact binned sums against par::ExactAccumulator, the distance
// kernel against a brute-force argmin and across block sizes, weighted k-means++ on
// hand-checkable points, canonical numbering.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "ecom/ml/exact_bins.hpp"
#include "ecom/ml/kmeans.hpp"

using ecom::ml::BinnedSums;
using ecom::ml::RowMatrix;

namespace {

std::uint64_t bits(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// Doubles over a wide exponent range, both signs, some subnormals and exact cancellations.
std::vector<double> nasty_values(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> mant(0.5, 1.0);
  std::uniform_int_distribution<int> expo(-1070, 960);
  std::vector<double> v;
  for (std::size_t i = 0; i < n; ++i) {
    double x = std::ldexp(mant(g), (i % 5 == 0) ? expo(g) : static_cast<int>(g() % 40) - 20);
    if (g() & 1) x = -x;
    v.push_back(x);
    if (i % 17 == 0) v.push_back(-x);  // cancels exactly
    if (i % 101 == 0) v.push_back(std::numeric_limits<double>::denorm_min() * (1 + g() % 1000));
  }
  v.push_back(1e300);
  v.push_back(1.7e308);  // slow path (exponent >= 1990)
  v.push_back(-1.7e308);
  return v;
}

}  // namespace

TEST(BinnedSums, EqualsExactAccumulatorOnWideRange) {
  const auto v = nasty_values(20000, 1);
  ecom::par::ExactAccumulator ref;
  for (double x : v) ref.add(x);
  BinnedSums s(1);
  for (double x : v) s.add(0, x);
  EXPECT_EQ(bits(s.to_exact()[0].value()), bits(ref.value()));
}

TEST(BinnedSums, OrderAndSplitIndependent) {
  auto v = nasty_values(5000, 2);
  BinnedSums a(1);
  for (double x : v) a.add(0, x);
  std::mt19937_64 g(7);
  std::shuffle(v.begin(), v.end(), g);
  // Split into three parts summed separately, then combined exactly.
  BinnedSums p1(1), p2(1), p3(1);
  for (std::size_t i = 0; i < v.size(); ++i) (i % 3 == 0 ? p1 : i % 3 == 1 ? p2 : p3).add(0, v[i]);
  auto e = p1.to_exact();
  e.add(p2.to_exact());
  e.add(p3.to_exact());
  EXPECT_EQ(bits(e[0].value()), bits(a.to_exact()[0].value()));
}

TEST(BinnedSums, HandCheckableCancellation) {
  // 1e16 + 1 + 1 + ... − 1e16 in floating point would lose the ones; exactly it is their count.
  BinnedSums s(1);
  s.add(0, 1e16);
  for (int i = 0; i < 5000; ++i) s.add(0, 1.0);  // crosses several flushes
  s.add(0, -1e16);
  EXPECT_EQ(s.to_exact()[0].value(), 5000.0);
  s.clear();
  s.add(0, 0.1);
  s.add(0, 0.2);
  s.add(0, -0.3);
  // 0.1 + 0.2 - 0.3 exactly (as doubles): 2^-55 + ... computed by long double independently.
  const long double exact =
      static_cast<long double>(0.1) + static_cast<long double>(0.2) - static_cast<long double>(0.3);
  EXPECT_EQ(s.to_exact()[0].value(), static_cast<double>(exact));
}

TEST(BinnedSums, RowsAndClearAndNonFinite) {
  BinnedSums s(2, 3);
  const double r0[3] = {1.5, -2.0, 0.25};
  const double r1[3] = {4.0, 8.0, -16.0};
  for (int i = 0; i < 3000; ++i) {
    s.add_row(0, r0);
    s.add_row(1, r1);
  }
  auto e = s.to_exact();
  EXPECT_EQ(e[0].value(), 4500.0);
  EXPECT_EQ(e[1].value(), -6000.0);
  EXPECT_EQ(e[2].value(), 750.0);
  EXPECT_EQ(e[5].value(), -48000.0);
  s.clear();
  EXPECT_EQ(s.to_exact()[4].value(), 0.0);
  EXPECT_THROW(s.add(0, std::numeric_limits<double>::quiet_NaN()), ecom::Error);
  EXPECT_THROW(s.add(0, std::numeric_limits<double>::infinity()), ecom::Error);
}

namespace {
RowMatrix random_matrix(Eigen::Index n, Eigen::Index d, std::uint64_t seed, double scale = 1.0) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> nd(0, scale);
  RowMatrix m(n, d);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < d; ++j) m(i, j) = nd(g) + (j == 0 ? 1e3 : 0.0);
  return m;
}
}  // namespace

TEST(NearestCentroids, IndependentOfBlockSizeAndPosition) {
  for (Eigen::Index d : {1, 3, 6, 13}) {  // 13: the generic (runtime d) kernel
    const RowMatrix x = random_matrix(1003, d, 11 + static_cast<std::uint64_t>(d), 3.0);
    const RowMatrix c = random_matrix(7, d, 99, 3.0);
    std::vector<std::int32_t> ref_l(1003);
    std::vector<double> ref_d(1003);
    ecom::ml::nearest_centroids(x, 0, 1003, c, 1, ref_l.data(), ref_d.data());
    for (int block : {2, 3, 7, 64, 256, 5000}) {
      std::vector<std::int32_t> l(1003);
      std::vector<double> dd(1003);
      ecom::ml::nearest_centroids(x, 0, 1003, c, block, l.data(), dd.data());
      for (std::size_t i = 0; i < 1003; ++i) {
        ASSERT_EQ(l[i], ref_l[i]) << "d=" << d << " block=" << block << " user " << i;
        ASSERT_EQ(bits(dd[i]), bits(ref_d[i])) << "d=" << d << " block=" << block << " user " << i;
      }
    }
    // A user alone, at an odd offset, gets the same result.
    for (std::size_t i : {0u, 1u, 500u, 1002u}) {
      std::int32_t l = -1;
      double dd = 0;
      ecom::ml::nearest_centroids(x, i, 1, c, 256, &l, &dd);
      EXPECT_EQ(l, ref_l[i]);
      EXPECT_EQ(bits(dd), bits(ref_d[i]));
    }
  }
}

TEST(NearestCentroids, AgreesWithDirectDistancesAndBreaksTiesLow) {
  const RowMatrix x = random_matrix(2000, 6, 5);
  const RowMatrix c = random_matrix(5, 6, 6);
  std::vector<std::int32_t> l(2000);
  std::vector<double> dd(2000);
  ecom::ml::nearest_centroids(x, 0, 2000, c, 128, l.data(), dd.data());
  int checked = 0;
  for (Eigen::Index i = 0; i < 2000; ++i) {
    std::vector<long double> dist(5);
    for (Eigen::Index q = 0; q < 5; ++q)
      dist[static_cast<std::size_t>(q)] = (x.row(i) - c.row(q)).cast<long double>().squaredNorm();
    auto sorted = dist;
    std::sort(sorted.begin(), sorted.end());
    if (sorted[1] - sorted[0] < 1e-6L * (1 + sorted[0])) continue;  // near tie: rounding decides
    ++checked;
    const auto best = std::min_element(dist.begin(), dist.end()) - dist.begin();
    EXPECT_EQ(l[static_cast<std::size_t>(i)], best);
    EXPECT_NEAR(dd[static_cast<std::size_t>(i)], static_cast<double>(sorted[0]),
                1e-6 * (1 + sorted[0]));
  }
  EXPECT_GT(checked, 1900);
  // Exact ties: the point 0 between centroids -1 and +1 goes to the lower index.
  RowMatrix p(1, 1), cc(3, 1);
  p << 0.0;
  cc << 1.0, -1.0, 5.0;
  std::int32_t lab = -1;
  double d2 = 0;
  ecom::ml::nearest_centroids(p, 0, 1, cc, 256, &lab, &d2);
  EXPECT_EQ(lab, 0);
  EXPECT_EQ(d2, 1.0);
}

TEST(WeightedKMeansPP, FindsWeightedGroupMeans) {
  // Three groups far apart; weights make the weighted means hand-checkable.
  RowMatrix p(7, 2);
  p << 0, 0, 2, 0, 0, 3,   // group A
      100, 100, 102, 100,  // group B
      -50, 80, -50, 84;    // group C
  const std::vector<double> w = {1, 1, 2, 3, 1, 1, 3};
  const RowMatrix c = ecom::ml::weighted_kmeanspp(p, w, 3, 42, 30);
  std::vector<std::pair<double, double>> got;
  for (Eigen::Index i = 0; i < 3; ++i) got.emplace_back(c(i, 0), c(i, 1));
  std::sort(got.begin(), got.end());
  // A: (0·1 + 2·1 + 0·2)/4, (0 + 0 + 3·2)/4 = (0.5, 1.5); B: (100·3 + 102)/4 = 100.5, 100;
  // C: -50, (80 + 84·3)/4 = 83.
  EXPECT_DOUBLE_EQ(got[0].first, -50);
  EXPECT_DOUBLE_EQ(got[0].second, 83);
  EXPECT_DOUBLE_EQ(got[1].first, 0.5);
  EXPECT_DOUBLE_EQ(got[1].second, 1.5);
  EXPECT_DOUBLE_EQ(got[2].first, 100.5);
  EXPECT_DOUBLE_EQ(got[2].second, 100);
  // Deterministic.
  const RowMatrix again = ecom::ml::weighted_kmeanspp(p, w, 3, 42, 30);
  EXPECT_TRUE((again.array() == c.array()).all());
}

TEST(WeightedKMeansPP, ZeroWeightNeverChosenAndFewDistinctPoints) {
  RowMatrix p(3, 1);
  p << 0, 1000, 1;
  const std::vector<double> w = {5, 0, 5};
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    const RowMatrix c = ecom::ml::weighted_kmeanspp(p, w, 1, seed, 0);
    EXPECT_NE(c(0, 0), 1000.0);
  }
  // Two identical points, k = 3: still returns 3 centroids (some repeated), no crash.
  RowMatrix q(2, 2);
  q << 1, 1, 1, 1;
  const RowMatrix c = ecom::ml::weighted_kmeanspp(q, std::vector<double>{1, 1}, 3, 1, 10);
  EXPECT_EQ(c.rows(), 3);
  EXPECT_TRUE((c.array() == 1.0).all());
}

TEST(CanonicalPermutation, BySizeThenCentroid) {
  RowMatrix c(4, 1);
  c << 5, 3, 9, 1;
  const std::vector<std::uint64_t> sizes = {10, 30, 10, 5};
  const auto perm = ecom::ml::canonical_permutation(c, sizes);
  // Order: cluster 1 (30), then clusters 0 and 2 (10 each; centroid 5 < 9), then cluster 3.
  EXPECT_EQ(perm, (std::vector<std::int32_t>{1, 0, 2, 3}));
}

TEST(DeriveSeed, DistinctAndDeterministic) {
  EXPECT_EQ(ecom::ml::derive_seed(1, 10, 2), ecom::ml::derive_seed(1, 10, 2));
  EXPECT_NE(ecom::ml::derive_seed(1, 10, 2), ecom::ml::derive_seed(1, 10, 3));
  EXPECT_NE(ecom::ml::derive_seed(1, 10, 2), ecom::ml::derive_seed(1, 13, 2));
}
