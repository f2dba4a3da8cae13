// Choice of k without MPI: ARI and pair agreement against brute-force pair counting and
// scikit-learn's documented values, the gap statistic's arithmetic and Tibshirani's rule, the
// elbow, the documented k rule, the k_selection.csv format.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "ecom/ml/metrics_cluster.hpp"
#include "ecom/ml/selection.hpp"

using namespace ecom::ml;

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Brute force over all pairs: the Hubert–Arabie ARI from the 2×2 pair table, and the Rand index.
void brute_force(const std::vector<std::int32_t>& a, const std::vector<std::int32_t>& b,
                 double& ari, double& rand) {
  long double n11 = 0, n10 = 0, n01 = 0, n00 = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = i + 1; j < a.size(); ++j) {
      const bool sa = a[i] == a[j], sb = b[i] == b[j];
      if (sa && sb)
        ++n11;
      else if (sa)
        ++n10;
      else if (sb)
        ++n01;
      else
        ++n00;
    }
  const long double total = n11 + n10 + n01 + n00;
  rand = total > 0 ? static_cast<double>((n11 + n00) / total) : 1.0;
  if (n10 == 0 && n01 == 0) {
    ari = 1.0;
    return;
  }
  ari = static_cast<double>(2 * (n11 * n00 - n10 * n01) /
                            ((n11 + n10) * (n10 + n00) + (n11 + n01) * (n01 + n00)));
}
}  // namespace

TEST(AdjustedRandIndex, ScikitLearnDocumentedValues) {
  // sklearn.metrics.adjusted_rand_score / rand_score docstrings.
  const std::vector<std::int32_t> a = {0, 0, 1, 1}, b = {1, 1, 0, 0};
  EXPECT_DOUBLE_EQ(adjusted_rand_index(a, b), 1.0);
  const std::vector<std::int32_t> c = {0, 0, 1, 2}, d = {0, 0, 1, 1};
  EXPECT_NEAR(adjusted_rand_index(c, d), 0.5714285714285715, 1e-15);
  EXPECT_NEAR(pair_agreement(c, d), 0.8333333333333334, 1e-15);
  const std::vector<std::int32_t> e = {0, 0, 1, 1}, f = {0, 1, 0, 1};
  EXPECT_NEAR(adjusted_rand_index(e, f), -0.5, 1e-15);
  const std::vector<std::int32_t> g = {0, 0, 0, 0}, h = {0, 1, 2, 3};
  EXPECT_DOUBLE_EQ(adjusted_rand_index(g, h), 0.0);
  // Degenerate: fewer than two items, or both trivial.
  EXPECT_DOUBLE_EQ(adjusted_rand_index(std::vector<std::int32_t>{3}, std::vector<std::int32_t>{0}),
                   1.0);
  EXPECT_DOUBLE_EQ(adjusted_rand_index(g, g), 1.0);
  EXPECT_DOUBLE_EQ(pair_agreement(std::vector<std::int32_t>{}, std::vector<std::int32_t>{}), 1.0);
}

TEST(AdjustedRandIndex, MatchesBruteForcePairCounting) {
  std::mt19937_64 g(3);
  for (int trial = 0; trial < 30; ++trial) {
    const std::size_t n = 5 + g() % 200;
    const int ka = 1 + static_cast<int>(g() % 6), kb = 1 + static_cast<int>(g() % 6);
    std::vector<std::int32_t> a(n), b(n);
    for (std::size_t i = 0; i < n; ++i) {
      a[i] = static_cast<std::int32_t>(g() % static_cast<std::uint64_t>(ka));
      // b correlated with a half of the time
      b[i] =
          (g() & 1) ? a[i] % kb : static_cast<std::int32_t>(g() % static_cast<std::uint64_t>(kb));
    }
    double ari = 0, rand = 0;
    brute_force(a, b, ari, rand);
    EXPECT_NEAR(adjusted_rand_index(a, b), ari, 1e-12) << "trial " << trial;
    EXPECT_NEAR(pair_agreement(a, b), rand, 1e-12) << "trial " << trial;
    // Symmetric and invariant to relabelling.
    EXPECT_NEAR(adjusted_rand_index(b, a), ari, 1e-12);
    auto a2 = a;
    for (auto& v : a2) v = (ka - 1) - v;
    EXPECT_NEAR(adjusted_rand_index(a2, b), ari, 1e-12);
  }
}

TEST(Contingency, MaskSelectsItems) {
  const std::vector<std::int32_t> a = {0, 1, 1, 0}, b = {1, 1, 0, 0};
  const std::vector<char> mask = {1, 0, 1, 1};
  const Contingency t = contingency(a, b, 2, 2, mask);
  EXPECT_EQ(t.at(0, 0), 1);
  EXPECT_EQ(t.at(0, 1), 1);
  EXPECT_EQ(t.at(1, 0), 1);
  EXPECT_EQ(t.at(1, 1), 0);
}

TEST(GapStatistic, ArithmeticAndOneStandardErrorRule) {
  double gap = 0, sd = 0;
  const std::vector<double> refs = {1.0, 2.0, 3.0, 4.0};
  gap_from_logs(0.5, refs, gap, sd);
  EXPECT_DOUBLE_EQ(gap, 2.5 - 0.5);
  // population sd of {1,2,3,4} = sqrt(1.25); times sqrt(1 + 1/4)
  EXPECT_DOUBLE_EQ(sd, std::sqrt(1.25) * std::sqrt(1.25));
  gap_from_logs(kNaN, refs, gap, sd);
  EXPECT_TRUE(std::isnan(gap));

  std::vector<KScore> t(5);
  const double gaps[] = {0.2, 0.5, 0.9, 0.95, 0.97};
  const double sds[] = {0.03, 0.03, 0.03, 0.1, 0.1};
  for (int i = 0; i < 5; ++i) {
    t[static_cast<std::size_t>(i)].k = i + 2;
    t[static_cast<std::size_t>(i)].gap = gaps[i];
    t[static_cast<std::size_t>(i)].gap_sd = sds[i];
  }
  // k=2: 0.2 >= 0.5-0.03? no. k=3: 0.5 >= 0.87? no. k=4: 0.9 >= 0.95-0.1 = 0.85: yes.
  EXPECT_EQ(gap_one_se_k(t), 4);
  // Strictly increasing by more than the sd everywhere: the largest gap.
  for (auto& r : t) r.gap_sd = 0.001;
  EXPECT_EQ(gap_one_se_k(t), 6);
  for (auto& r : t) r.gap = kNaN;
  EXPECT_EQ(gap_one_se_k(t), 0);
}

TEST(Elbow, FarthestBelowChord) {
  std::vector<KScore> t;
  const double w[] = {100, 40, 12, 10, 9, 8};
  for (int i = 0; i < 6; ++i) {
    KScore r;
    r.k = i + 1;
    r.inertia = w[i];
    t.push_back(r);
  }
  EXPECT_EQ(elbow_k(t), 3);
}

namespace {
std::vector<KScore> table(std::vector<double> sil, std::vector<double> gap,
                          std::vector<double> ari) {
  std::vector<KScore> t;
  for (std::size_t i = 0; i < sil.size(); ++i) {
    KScore r;
    r.k = static_cast<int>(i) + 2;
    r.inertia = 100.0 / static_cast<double>(i + 1);
    r.silhouette = sil[i];
    r.simplified_silhouette = sil[i];
    r.gap = gap[i];
    r.gap_sd = 0.01;
    r.stability_ari = ari[i];
    r.stability_pairs = ari[i];
    t.push_back(r);
  }
  return t;
}
}  // namespace

TEST(ChooseK, AutoRule) {
  KRule rule;
  // Planted k = 4 (k=2..6): gap jumps at 4 then flattens, silhouette peaks at 4, 4 is stable.
  auto t = table({0.5, 0.6, 0.8, 0.6, 0.5}, {0.3, 0.6, 1.0, 1.0, 1.0}, {0.9, 0.95, 1.0, 0.6, 0.5});
  KChoice c = choose_k(t, rule);
  EXPECT_EQ(c.k, 4);
  EXPECT_EQ(c.gap_k, 4);
  EXPECT_EQ(c.silhouette_k, 4);
  EXPECT_NE(c.reason.find("gap"), std::string::npos);
  // The gap's k (4) is unstable: best stable silhouette wins (k=3).
  t = table({0.5, 0.7, 0.8, 0.6, 0.5}, {0.3, 0.6, 1.0, 1.0, 1.0}, {0.9, 0.95, 0.5, 0.6, 0.5});
  c = choose_k(t, rule);
  EXPECT_EQ(c.k, 3);
  // The gap's k has a silhouette far below the best: the best silhouette wins.
  t = table({0.9, 0.6, 0.5, 0.4, 0.3}, {0.3, 0.6, 1.0, 1.0, 1.0}, {1, 1, 1, 1, 1});
  c = choose_k(t, rule);
  EXPECT_EQ(c.k, 2);
  // Within the tolerance (0.01): the gap's k is kept; just outside it: the best silhouette.
  t = table({0.605, 0.6, 0.6, 0.4, 0.3}, {0.3, 0.6, 1.0, 1.0, 1.0}, {1, 1, 1, 1, 1});
  EXPECT_EQ(choose_k(t, rule).k, 4);
  t = table({0.62, 0.6, 0.6, 0.4, 0.3}, {0.3, 0.6, 1.0, 1.0, 1.0}, {1, 1, 1, 1, 1});
  EXPECT_EQ(choose_k(t, rule).k, 2);
  rule.silhouette_tolerance = 0.05;
  EXPECT_EQ(choose_k(t, rule).k, 4);
  rule.silhouette_tolerance = 0.01;
  // Nothing stable: stability is ignored (and the reason says so).
  t = table({0.5, 0.6, 0.8, 0.6, 0.5}, {0.3, 0.6, 1.0, 1.0, 1.0}, {0.1, 0.1, 0.1, 0.1, 0.1});
  c = choose_k(t, rule);
  EXPECT_EQ(c.k, 4);
  EXPECT_NE(c.reason.find("no k reached stability"), std::string::npos);
  // No gap, no stability: silhouette alone.
  t = table({0.5, 0.6, 0.8, 0.6, 0.5}, {kNaN, kNaN, kNaN, kNaN, kNaN},
            {kNaN, kNaN, kNaN, kNaN, kNaN});
  EXPECT_EQ(choose_k(t, rule).k, 4);
  // Other methods.
  rule.method = "elbow";
  EXPECT_GE(choose_k(t, rule).k, 2);
  rule.method = "gap";
  t = table({0.9, 0.6, 0.5, 0.4, 0.3}, {0.3, 0.6, 1.0, 1.0, 1.0}, {1, 1, 1, 1, 1});
  EXPECT_EQ(choose_k(t, rule).k, 4);
  rule.method = "silhouette";
  EXPECT_EQ(choose_k(t, rule).k, 2);
  rule.method = "nonsense";
  EXPECT_THROW(choose_k(t, rule), ecom::UserError);
}

TEST(KSelectionCsv, HeaderAndEmptyNaN) {
  auto t = table({0.5}, {kNaN}, {0.25});
  const std::string csv = k_selection_csv(t);
  EXPECT_EQ(csv,
            "k,inertia,silhouette,simplified_silhouette,gap,gap_sd,stability_ari,stability_pairs\n"
            "2,100,0.5,0.5,,0.01,0.25,0.25\n");
}
