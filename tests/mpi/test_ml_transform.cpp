// Transform and standardisation under mpirun -np 1..4: the fitted means and scales equal a
// serial long-double two-pass reference, are bit-identical for every split of the rows over
// the ranks (including ranks with no rows), a constant column gives mean = value, scale 1 and
// z = 0 exactly (never NaN), log1p applies to the configured columns only, and bad input fails
// on every rank with a clear message.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/ml/transform.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/random.hpp"
#include "ml_split.hpp"

using namespace ecom;
using namespace ecom::ml;
using namespace ecom::ml_test;

namespace {

// Columns: counts (heavy tailed), a constant, a rate, a large-offset column, a signed column.
RowMatrix make_features(int n) {
  RowMatrix x(n, 5);
  for (int i = 0; i < n; ++i) {
    const auto id = static_cast<std::uint64_t>(i);
    const double u = par::uniform(5, par::Purpose::test, id, 0);
    x(i, 0) = std::floor(std::exp(6 * u));  // 1 .. 403
    x(i, 1) = 7.25;                         // constant
    x(i, 2) = par::uniform(5, par::Purpose::test, id, 1);
    x(i, 3) = 1e6 + 1e-3 * par::normal(5, par::Purpose::test, id, 2);
    x(i, 4) = par::normal(5, par::Purpose::test, id, 3) - 0.5;
  }
  return x;
}

const std::vector<std::string> kNames = {"count", "constant", "rate", "offset", "signed"};

}  // namespace

TEST(TransformMpi, MomentsEqualSerialTwoPassReference) {
  auto comm = par::Comm::world();
  const RowMatrix all = make_features(503);
  const Scaler s = fit_scaler(comm, my_rows(comm, all, Split::even), kNames, {"count", "signed"});
  EXPECT_EQ(s.n, 503u);
  EXPECT_EQ(s.log1p, (std::vector<std::uint8_t>{1, 0, 0, 0, 1}));
  const RowMatrix g = apply_log1p(all, s.log1p);
  for (Eigen::Index j = 0; j < g.cols(); ++j) {
    long double sum = 0;
    for (Eigen::Index i = 0; i < g.rows(); ++i) sum += g(i, j);
    const long double mean = sum / g.rows();
    long double ss = 0;
    for (Eigen::Index i = 0; i < g.rows(); ++i) ss += (g(i, j) - mean) * (g(i, j) - mean);
    const double sd = static_cast<double>(std::sqrt(ss / g.rows()));  // population
    EXPECT_NEAR(s.mean[static_cast<std::size_t>(j)], static_cast<double>(mean),
                1e-15 * std::abs(static_cast<double>(mean)) + 1e-300)
        << kNames[static_cast<std::size_t>(j)];
    if (j == 1) continue;
    EXPECT_NEAR(s.scale[static_cast<std::size_t>(j)], sd, 1e-13 * sd)
        << kNames[static_cast<std::size_t>(j)];
    EXPECT_EQ(s.constant[static_cast<std::size_t>(j)], 0);
  }
  // The transformed matrix has mean 0 and population variance 1 per non-constant column.
  const RowMatrix z = s.transform(all);
  // (Column 3 has mean 1e6 and sd 1e-3: the mean itself is only known to ulp(1e6) ≈ 1.2e-10,
  // i.e. 1.2e-7 standard deviations, which bounds how close to 0 its z-scores can average.)
  for (Eigen::Index j : {0, 2, 3, 4}) {
    const double tol = j == 3 ? 2e-7 : 1e-12;
    EXPECT_NEAR(z.col(j).mean(), 0.0, tol) << j;
    EXPECT_NEAR(z.col(j).squaredNorm() / static_cast<double>(z.rows()), 1.0, 1e-12) << j;
  }
  // Back to g(x) units.
  const RowMatrix back = s.unstandardise(z);
  EXPECT_LT((back - g).cwiseAbs().maxCoeff(), 1e-9);
}

TEST(TransformMpi, ConstantColumnGivesZeroNeverNaN) {
  auto comm = par::Comm::world();
  const RowMatrix all = make_features(50);
  const Scaler s = fit_scaler(comm, my_rows(comm, all, Split::even), kNames, {});
  EXPECT_EQ(s.constant[1], 1);
  EXPECT_EQ(s.mean[1], 7.25);
  EXPECT_EQ(s.scale[1], 1.0);
  const RowMatrix z = s.transform(all);
  for (Eigen::Index i = 0; i < z.rows(); ++i) EXPECT_EQ(z(i, 1), 0.0);
  EXPECT_TRUE(z.allFinite());
  EXPECT_NO_THROW(s.validate());
  // A constant column through log1p, and a column that is constant 0.
  RowMatrix c = RowMatrix::Zero(30, 2);
  c.col(0).setConstant(3.0);
  const Scaler t = fit_scaler(comm, my_rows(comm, c, Split::even), {"a", "b"}, {"a"});
  EXPECT_EQ(t.constant, (std::vector<std::uint8_t>{1, 1}));
  EXPECT_EQ(t.mean[0], std::log1p(3.0));
  EXPECT_EQ(t.mean[1], 0.0);
  const RowMatrix zc = t.transform(c);
  EXPECT_TRUE((zc.array() == 0.0).all());
  // A single user: every column is constant.
  const Scaler one =
      fit_scaler(comm, my_rows(comm, all.topRows(1), Split::last_rank), kNames, {"count"});
  EXPECT_EQ(one.n, 1u);
  EXPECT_TRUE((one.transform(all.topRows(1)).array() == 0.0).all());
  // No users at all: means 0, scales 1, no NaN.
  const Scaler none = fit_scaler(comm, RowMatrix(0, 5), kNames, {});
  EXPECT_EQ(none.n, 0u);
  for (std::size_t j = 0; j < 5; ++j) {
    EXPECT_EQ(none.mean[j], 0.0);
    EXPECT_EQ(none.scale[j], 1.0);
  }
}

TEST(TransformMpi, BitIdenticalForEverySplit) {
  auto comm = par::Comm::world();
  const RowMatrix all = make_features(257);
  const Scaler ref = fit_scaler(comm, my_rows(comm, all, Split::first_rank), kNames, {"count"});
  for (Split how : {Split::even, Split::last_rank, Split::middle_empty}) {
    const Scaler s = fit_scaler(comm, my_rows(comm, all, how), kNames, {"count"});
    for (std::size_t j = 0; j < 5; ++j) {
      EXPECT_EQ(bits(ref.mean[j]), bits(s.mean[j])) << j;
      EXPECT_EQ(bits(ref.scale[j]), bits(s.scale[j])) << j;
    }
  }
  // A row's transform does not depend on where it sits.
  const RowMatrix z = ref.transform(all);
  const RowMatrix z7 = ref.transform(all.middleRows(100, 7));
  for (Eigen::Index i = 0; i < 7; ++i)
    for (Eigen::Index j = 0; j < 5; ++j) EXPECT_EQ(bits(z(100 + i, j)), bits(z7(i, j)));
}

TEST(TransformMpi, LargeOffsetSmallSpread) {
  // Mean 1e5, standard deviation 9e-6: a one-pass "sum of squares minus squared sum" gets the
  // variance wrong by orders of magnitude (see SPARK-26158); the two-pass exact moments don't.
  auto comm = par::Comm::world();
  const int n = 400;
  RowMatrix x(n, 1);
  for (int i = 0; i < n; ++i) x(i, 0) = 1e5 + 9e-6 * (i % 2 == 0 ? 1.0 : -1.0);
  const Scaler s = fit_scaler(comm, my_rows(comm, x, Split::even), {"v"}, {});
  long double mean = 0;
  for (int i = 0; i < n; ++i) mean += x(i, 0) - 1e5;  // exact: Sterbenz
  mean /= n;
  long double ss = 0;
  for (int i = 0; i < n; ++i) ss += (x(i, 0) - 1e5 - mean) * (x(i, 0) - 1e5 - mean);
  const double sd = static_cast<double>(std::sqrt(ss / n));
  EXPECT_NEAR(s.scale[0], sd, 1e-6 * sd);
  EXPECT_NEAR(s.scale[0], 9e-6, 1e-3 * 9e-6);
}

TEST(TransformMpi, BadInputFailsOnEveryRank) {
  auto comm = par::Comm::world();
  RowMatrix x = make_features(40);
  EXPECT_THROW(fit_scaler(comm, my_rows(comm, x, Split::even), kNames, {"no_such_feature"}),
               UserError);
  // A NaN on the last rank only: every rank throws.
  x(39, 2) = std::nan("");
  try {
    fit_scaler(comm, my_rows(comm, x, Split::even), kNames, {});
    ADD_FAILURE() << "no error for a NaN feature";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rate"), std::string::npos) << e.what();
  }
  // The pure transform refuses a matrix of the wrong width.
  const Scaler s = fit_scaler(comm, my_rows(comm, make_features(10), Split::even), kNames, {});
  EXPECT_THROW(s.transform(RowMatrix::Zero(2, 3)), Error);
  EXPECT_EQ(signed_log1p(-3.0), -std::log1p(3.0));
  EXPECT_EQ(signed_log1p(0.0), 0.0);
}
