// PCA under mpirun -np 1..4: the covariance from exactly combined moments is right where a
// one-pass formula fails (mean 1e5, standard deviation 9e-6: SPARK-26158), equals a serial
// long-double reference on ordinary data, is bit-identical for every split of the rows (ranks
// without rows included); eigenvalues and loadings agree with an independent SVD of the
// centred matrix; the sign convention and the component choice follow the header.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/ml/pca.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/random.hpp"
#include "ml_split.hpp"

using namespace ecom;
using namespace ecom::ml;
using namespace ecom::ml_test;

namespace {

// n rows, d = 4, correlated columns with distinct variances (eigenvalues well separated).
RowMatrix make_correlated(int n, double offset = 0) {
  RowMatrix x(n, 4);
  for (int i = 0; i < n; ++i) {
    double z[4];
    for (int j = 0; j < 4; ++j)
      z[j] = par::normal(31, par::Purpose::test, static_cast<std::uint64_t>(i),
                         static_cast<std::uint32_t>(j));
    x(i, 0) = offset + 3.0 * z[0];
    x(i, 1) = offset + 1.5 * z[0] + 1.0 * z[1];
    x(i, 2) = -offset + 0.5 * z[2];
    x(i, 3) = 0.2 * z[3] - 0.1 * z[1];
  }
  return x;
}

// Serial sample covariance in long double, two passes.
Eigen::MatrixXd reference_covariance(const RowMatrix& x) {
  const Eigen::Index n = x.rows(), d = x.cols();
  std::vector<long double> mean(static_cast<std::size_t>(d), 0);
  for (Eigen::Index j = 0; j < d; ++j) {
    for (Eigen::Index i = 0; i < n; ++i) mean[static_cast<std::size_t>(j)] += x(i, j);
    mean[static_cast<std::size_t>(j)] /= n;
  }
  Eigen::MatrixXd c(d, d);
  for (Eigen::Index a = 0; a < d; ++a)
    for (Eigen::Index b = 0; b < d; ++b) {
      long double s = 0;
      for (Eigen::Index i = 0; i < n; ++i)
        s += (x(i, a) - mean[static_cast<std::size_t>(a)]) *
             (x(i, b) - mean[static_cast<std::size_t>(b)]);
      c(a, b) = static_cast<double>(s / (n - 1));
    }
  return c;
}

}  // namespace

TEST(PcaMpi, Spark26158LargeMeanTinySpread) {
  // Column 0: mean 1e5, standard deviation about 9e-6; column 1: mean 1e5, sd about 4.5e-6,
  // half correlated with column 0.
  auto comm = par::Comm::world();
  const int n = 1001;
  RowMatrix x(n, 2);
  for (int i = 0; i < n; ++i) {
    const double a = par::normal(3, par::Purpose::test, static_cast<std::uint64_t>(i), 0);
    const double b = par::normal(3, par::Purpose::test, static_cast<std::uint64_t>(i), 1);
    x(i, 0) = 1e5 + 9e-6 * a;
    x(i, 1) = 1e5 + 4.5e-6 * (0.5 * a + 0.5 * b);
  }
  // Reference: deviations from 1e5 are exact (Sterbenz), so a long-double two-pass over them
  // is the covariance of the stored doubles to far better than 1e-6.
  const RowMatrix dev = (x.array() - 1e5).matrix();
  const Eigen::MatrixXd ref = reference_covariance(dev);
  const double ref_sd = std::sqrt(ref(0, 0));
  ASSERT_GT(ref_sd, 8e-6);
  ASSERT_LT(ref_sd, 10e-6);
  for (Split how : kSplits) {
    const Pca p = fit_pca(comm, my_rows(comm, x, how), {});
    ASSERT_EQ(p.n, static_cast<std::uint64_t>(n));
    for (Eigen::Index a = 0; a < 2; ++a) {
      EXPECT_GT(p.covariance(a, a), 0.0);
      for (Eigen::Index b = 0; b < 2; ++b)
        EXPECT_NEAR(p.covariance(a, b), ref(a, b), 1e-6 * std::abs(ref(a, b)))
            << a << "," << b << " split " << static_cast<int>(how);
    }
    EXPECT_NEAR(p.mean(0), 1e5 + static_cast<double>(dev.col(0).mean()), 1e-10);
    // Eigenvalues of the reference, from Eigen on the reference matrix.
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(ref);
    EXPECT_NEAR(p.eigenvalues(0), es.eigenvalues()(1), 1e-6 * es.eigenvalues()(1));
    EXPECT_NEAR(p.eigenvalues(1), es.eigenvalues()(0), 1e-6 * es.eigenvalues()(0));
  }
  // The test bites: the one-pass formula E[x²] − E[x]² in double is far off (or negative).
  double s = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    s += x(i, 0);
    s2 += x(i, 0) * x(i, 0);
  }
  const double naive = (s2 - s * s / n) / (n - 1);
  EXPECT_GT(std::abs(naive - ref(0, 0)), 1e-2 * ref(0, 0));
}

TEST(PcaMpi, CovarianceEqualsSerialReferenceAndIsSplitIndependent) {
  auto comm = par::Comm::world();
  const RowMatrix x = make_correlated(777, 50.0);
  const Eigen::MatrixXd ref = reference_covariance(x);
  const Pca p0 = fit_pca(comm, my_rows(comm, x, Split::first_rank), {});
  for (Eigen::Index a = 0; a < 4; ++a)
    for (Eigen::Index b = 0; b < 4; ++b)
      EXPECT_NEAR(p0.covariance(a, b), ref(a, b), 1e-13 * (1 + std::abs(ref(a, b))));
  for (Split how : {Split::even, Split::last_rank, Split::middle_empty}) {
    const Pca p = fit_pca(comm, my_rows(comm, x, how), {});
    for (Eigen::Index a = 0; a < 4; ++a) {
      EXPECT_EQ(bits(p.mean(a)), bits(p0.mean(a)));
      EXPECT_EQ(bits(p.eigenvalues(a)), bits(p0.eigenvalues(a)));
      for (Eigen::Index b = 0; b < 4; ++b)
        EXPECT_EQ(bits(p.covariance(a, b)), bits(p0.covariance(a, b)));
    }
    EXPECT_EQ(p.kept(), p0.kept());
    for (Eigen::Index i = 0; i < p.loadings.size(); ++i)
      EXPECT_EQ(bits(p.loadings.data()[i]), bits(p0.loadings.data()[i]));
  }
}

TEST(PcaMpi, AgreesWithSvdOfTheCentredMatrix) {
  auto comm = par::Comm::world();
  const RowMatrix x = make_correlated(400);
  PcaOptions o;
  o.components = 4;
  const Pca p = fit_pca(comm, my_rows(comm, x, Split::even), o);
  ASSERT_EQ(p.kept(), 4);
  const Eigen::MatrixXd centred = x.rowwise() - x.colwise().mean();
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(centred, Eigen::ComputeThinV);
  double total = 0;
  for (Eigen::Index c = 0; c < 4; ++c) total += svd.singularValues()(c) * svd.singularValues()(c);
  for (Eigen::Index c = 0; c < 4; ++c) {
    const double sv = svd.singularValues()(c);
    const double var = sv * sv / (x.rows() - 1);
    EXPECT_NEAR(p.eigenvalues(c), var, 1e-10 * var);
    EXPECT_NEAR(p.explained_ratio(c), sv * sv / total, 1e-12);
    // Same direction up to sign, and our sign: largest-magnitude loading positive.
    const Eigen::VectorXd v = svd.matrixV().col(c);
    const Eigen::VectorXd l = p.loadings.col(c);
    EXPECT_NEAR(std::abs(v.dot(l)), 1.0, 1e-10);
    Eigen::Index arg = 0;
    l.cwiseAbs().maxCoeff(&arg);
    EXPECT_GT(l(arg), 0.0);
  }
  // Scores are the centred data times the loadings; their variances are the eigenvalues.
  const RowMatrix scores = p.project(x);
  const RowMatrix direct = centred * p.loadings;
  EXPECT_LT((scores - direct).cwiseAbs().maxCoeff(), 1e-11);
  for (Eigen::Index c = 0; c < 4; ++c)
    EXPECT_NEAR(scores.col(c).squaredNorm() / (x.rows() - 1), p.eigenvalues(c),
                1e-9 * p.eigenvalues(c));
  // A row's scores do not depend on where it sits.
  const RowMatrix some = p.project(x.middleRows(13, 5));
  for (Eigen::Index i = 0; i < 5; ++i)
    for (Eigen::Index c = 0; c < 4; ++c) EXPECT_EQ(bits(some(i, c)), bits(scores(13 + i, c)));
}

TEST(PcaMpi, ComponentChoice) {
  auto comm = par::Comm::world();
  const RowMatrix x = make_correlated(300);
  const Pca all = fit_pca(comm, my_rows(comm, x, Split::even), PcaOptions{1.0, 0});
  EXPECT_EQ(all.kept(), 4);
  double cum = 0;
  int want = 0;
  for (int c = 0; c < 4; ++c) {
    cum += all.explained_ratio(c);
    if (cum >= 0.9) {
      want = c + 1;
      break;
    }
  }
  EXPECT_EQ(fit_pca(comm, my_rows(comm, x, Split::even), PcaOptions{0.9, 0}).kept(), want);
  EXPECT_EQ(fit_pca(comm, my_rows(comm, x, Split::even), PcaOptions{0.9, 2}).kept(), 2);
  EXPECT_EQ(fit_pca(comm, my_rows(comm, x, Split::even), PcaOptions{0.9, 9}).kept(), 4);
  EXPECT_NEAR(all.explained_ratio.sum(), 1.0, 1e-12);
  EXPECT_THROW(fit_pca(comm, my_rows(comm, x, Split::even), PcaOptions{0.0, 0}), UserError);
  EXPECT_THROW(fit_pca(comm, my_rows(comm, x, Split::even), PcaOptions{0.9, -1}), UserError);
}

TEST(PcaMpi, ConstantAndTinyInputs) {
  auto comm = par::Comm::world();
  // All rows identical: total variance 0, one component kept, no NaN anywhere.
  RowMatrix same(20, 3);
  same.rowwise() = Eigen::RowVector3d(1.0, -2.0, 0.5);
  const Pca p = fit_pca(comm, my_rows(comm, same, Split::even), {});
  EXPECT_EQ(p.kept(), 1);
  EXPECT_TRUE(p.covariance.isZero(0));
  EXPECT_TRUE(p.explained_ratio.allFinite());
  EXPECT_TRUE(p.loadings.allFinite());
  EXPECT_TRUE(p.project(same).isZero(0));
  // One row (on the last rank only): covariance 0, mean = the row.
  const Pca one = fit_pca(comm, my_rows(comm, same.topRows(1), Split::last_rank), {});
  EXPECT_EQ(one.n, 1u);
  EXPECT_EQ(one.mean(1), -2.0);
  EXPECT_TRUE(one.covariance.isZero(0));
  // A NaN anywhere fails on every rank.
  RowMatrix bad = make_correlated(10);
  bad(9, 1) = std::nan("");
  EXPECT_THROW(fit_pca(comm, my_rows(comm, bad, Split::even), {}), Error);
}
