#include "ecom/ml/pca.hpp"

#include <Eigen/Eigenvalues>
#include <cmath>
#include <string>

#include "ecom/core/error.hpp"
#include "ecom/ml/exact_bins.hpp"

namespace ecom::ml {

void validate(const PcaOptions& o) {
  if (!(o.variance_target > 0.0 && o.variance_target <= 1.0))
    throw UserError("pca: variance_target must lie in (0, 1], got " +
                    std::to_string(o.variance_target));
  if (o.components < 0)
    throw UserError("pca: components must be >= 0 (0: choose by variance_target), got " +
                    std::to_string(o.components));
}

Eigen::MatrixXd Moments::covariance() const {
  const double div = n > 1 ? static_cast<double>(n - 1) : 1.0;
  return scatter / div;
}

Moments exact_moments(par::Comm& comm, const RowMatrix& x) {
  // Every rank must agree on d; a rank without rows may pass any width.
  const long long my_cols = x.rows() > 0 ? static_cast<long long>(x.cols()) : -1;
  const long long cols = comm.allreduce_max(my_cols);
  std::string local_error;
  if (x.rows() > 0 && my_cols != cols) local_error = "pca: ranks disagree on the number of columns";
  for (Eigen::Index i = 0; i < x.rows() && local_error.empty(); ++i)
    for (Eigen::Index j = 0; j < x.cols(); ++j)
      if (!std::isfinite(x(i, j))) {
        local_error = "pca: non-finite value in column " + std::to_string(j);
        break;
      }
  par::agree(comm, local_error, ExitCode::internal);

  const std::size_t d = cols > 0 ? static_cast<std::size_t>(cols) : 0;
  const auto rows = static_cast<std::size_t>(x.rows());
  Moments m;
  m.n = comm.allreduce_sum(static_cast<std::uint64_t>(rows));
  m.mean = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(d));
  m.scatter = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(d));
  if (d == 0) return m;
  const double n = static_cast<double>(m.n);

  // Pass 1: exact column sums.
  BinnedSums sums(1, d);
  for (std::size_t i = 0; i < rows; ++i) sums.add_row(0, x.data() + i * d);
  const std::vector<double> total = comm.exact_combine(sums.to_exact()).values();
  std::vector<double> m0(d, 0.0);
  if (m.n > 0)
    for (std::size_t j = 0; j < d; ++j) m0[j] = total[j] / n;

  // Pass 2: exact sums of deviations (d terms) and of their products (upper triangle, row by
  // row: (0,0), (0,1), ..., (0,d-1), (1,1), ...).
  const std::size_t tri = d * (d + 1) / 2;
  BinnedSums dev(1, d + tri);
  std::vector<double> buf(d + tri);
  for (std::size_t i = 0; i < rows; ++i) {
    const double* row = x.data() + i * d;
    for (std::size_t j = 0; j < d; ++j) buf[j] = row[j] - m0[j];
    std::size_t t = d;
    for (std::size_t j = 0; j < d; ++j)
      for (std::size_t k = j; k < d; ++k) buf[t++] = buf[j] * buf[k];
    dev.add_row(0, buf.data());
  }
  const std::vector<double> s = comm.exact_combine(dev.to_exact()).values();
  if (m.n == 0) return m;
  std::size_t t = d;
  for (std::size_t j = 0; j < d; ++j) {
    m.mean(static_cast<Eigen::Index>(j)) = m0[j] + s[j] / n;
    for (std::size_t k = j; k < d; ++k) {
      double v = s[t++] - s[j] * s[k] / n;
      if (j == k && v < 0) v = 0;  // only possible by rounding of a (near) zero variance
      m.scatter(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(k)) = v;
      m.scatter(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(j)) = v;
    }
  }
  return m;
}

void apply_sign_convention(Eigen::MatrixXd& v) {
  for (Eigen::Index c = 0; c < v.cols(); ++c) {
    Eigen::Index best = 0;
    double best_abs = -1;
    for (Eigen::Index r = 0; r < v.rows(); ++r)
      if (std::abs(v(r, c)) > best_abs) {  // strict: ties keep the lower index
        best_abs = std::abs(v(r, c));
        best = r;
      }
    if (v.rows() > 0 && v(best, c) < 0) v.col(c) = -v.col(c);
  }
}

int choose_components(const Eigen::VectorXd& eigenvalues, const PcaOptions& options) {
  const auto d = static_cast<int>(eigenvalues.size());
  if (d == 0) return 0;
  if (options.components > 0) return std::min(options.components, d);
  double total = 0;
  for (int i = 0; i < d; ++i) total += std::max(0.0, eigenvalues(i));
  if (!(total > 0)) return 1;
  double cum = 0;
  for (int i = 0; i < d; ++i) {
    cum += std::max(0.0, eigenvalues(i));
    if (cum / total >= options.variance_target) return i + 1;
  }
  return d;
}

Pca pca_from_moments(const Moments& moments, const PcaOptions& options) {
  validate(options);
  const Eigen::Index d = moments.mean.size();
  Pca p;
  p.n = moments.n;
  p.mean = moments.mean;
  p.covariance = moments.covariance();
  p.eigenvalues = Eigen::VectorXd::Zero(d);
  p.explained_ratio = Eigen::VectorXd::Zero(d);
  if (d == 0) {
    p.loadings = RowMatrix(0, 0);
    return p;
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(p.covariance, Eigen::ComputeEigenvectors);
  if (solver.info() != Eigen::Success) throw Error("pca: the eigen-solver did not converge");
  // Ascending -> decreasing.
  Eigen::MatrixXd vectors(d, d);
  for (Eigen::Index c = 0; c < d; ++c) {
    p.eigenvalues(c) = solver.eigenvalues()(d - 1 - c);
    vectors.col(c) = solver.eigenvectors().col(d - 1 - c);
  }
  apply_sign_convention(vectors);
  double total = 0;
  for (Eigen::Index c = 0; c < d; ++c) total += std::max(0.0, p.eigenvalues(c));
  if (total > 0)
    for (Eigen::Index c = 0; c < d; ++c)
      p.explained_ratio(c) = std::max(0.0, p.eigenvalues(c)) / total;
  const int k = choose_components(p.eigenvalues, options);
  p.loadings = vectors.leftCols(k);
  return p;
}

Pca fit_pca(par::Comm& comm, const RowMatrix& x, const PcaOptions& options) {
  validate(options);
  return pca_from_moments(exact_moments(comm, x), options);
}

RowMatrix Pca::project(const RowMatrix& x) const {
  const auto d = static_cast<std::size_t>(mean.size());
  const auto k = static_cast<std::size_t>(loadings.cols());
  if (static_cast<std::size_t>(x.cols()) != d && x.rows() > 0)
    throw Error("pca: matrix has " + std::to_string(x.cols()) + " columns, expected " +
                std::to_string(d));
  RowMatrix scores(x.rows(), static_cast<Eigen::Index>(k));
  std::vector<double> centred(d);
  const double* w = loadings.data();  // row-major d × k
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const double* row = x.data() + static_cast<std::size_t>(i) * d;
    for (std::size_t j = 0; j < d; ++j) centred[j] = row[j] - mean(static_cast<Eigen::Index>(j));
    double* out = scores.data() + static_cast<std::size_t>(i) * k;
    for (std::size_t c = 0; c < k; ++c) {
      double acc = 0;
      for (std::size_t j = 0; j < d; ++j) acc += centred[j] * w[j * k + c];
      out[c] = acc;
    }
  }
  return scores;
}

}  // namespace ecom::ml
