#pragma once
// Principal component analysis of a distributed row matrix (users × d, d small).
//
// Covariance from exactly combined sums, rank-independent (ARCHITECTURE.md §4): pass 1 takes
// the exact column sums (mean m0 = S/n), pass 2 the exact sums of the deviations d = x − m0 and
// of their products d_j·d_k (upper triangle), all with BinnedSums and Comm::exact_combine; then
// mean = m0 + Σd/n and C_jk = (Σ d_j d_k − Σd_j Σd_k / n) / (n − 1) (sample covariance, as
// numpy.cov and scikit-learn's PCA; n − 1 is replaced by 1 when n = 1). Never "sum of products
// minus product of sums" on raw values: data with mean 1e5 and standard deviation 9e-6 gets
// its variance right (SPARK-26158).
//
// Eigen::SelfAdjointEigenSolver on C (d × d); components sorted by decreasing eigenvalue;
// sign convention: each component's largest-magnitude loading is positive (ties: the lower
// index). Negative eigenvalues (rounding, at most a few ulps) count as 0 in the ratios.
// Components kept: `components` if > 0 (at most d), else the fewest whose cumulative explained
// variance ratio reaches `variance_target` (all d if never reached; 1 if the total variance is
// 0).
//
// Scores = (x − mean) · loadings, computed row by row in a fixed order (no GEMM), so a user's
// scores do not depend on where the user sits.
#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "ecom/par/comm.hpp"

namespace ecom::ml {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct PcaOptions {
  double variance_target = 0.9;  // in (0, 1]; used when components == 0
  int components = 0;            // > 0: keep exactly min(components, d)
};

struct Moments {
  std::uint64_t n = 0;
  Eigen::VectorXd mean;     // d
  Eigen::MatrixXd scatter;  // d × d: Σ (x − mean)(x − mean)ᵀ over all rows, symmetric
  // Sample covariance: scatter / (n − 1) (scatter / 1 when n <= 1).
  Eigen::MatrixXd covariance() const;
};

struct Pca {
  std::uint64_t n = 0;              // rows fitted on
  Eigen::VectorXd mean;             // d: column means of the input
  Eigen::MatrixXd covariance;       // d × d
  Eigen::VectorXd eigenvalues;      // all d, decreasing (variances along the components)
  Eigen::VectorXd explained_ratio;  // all d: max(λ, 0) / Σ max(λ, 0) (0 if the sum is 0)
  RowMatrix loadings;               // d × k: column c is component c (unit length)
  int kept() const { return static_cast<int>(loadings.cols()); }
  int dims() const { return static_cast<int>(mean.size()); }

  // Pure: (x − mean) · loadings, row by row; x must have d columns (ecom::Error otherwise).
  RowMatrix project(const RowMatrix& x) const;
};

// Collective. Exact moments of every rank's rows (bit-identical for any P and any split).
// All ranks must pass the same number of columns (a rank without rows may pass 0 × d).
Moments exact_moments(par::Comm& comm, const RowMatrix& x);

// Pure: eigen-decomposition and component choice from moments (same result on every rank).
Pca pca_from_moments(const Moments& moments, const PcaOptions& options);

// Collective: exact_moments + pca_from_moments. Throws ecom::UserError if the options are
// invalid, ecom::Error (on every rank) if a value is not finite.
Pca fit_pca(par::Comm& comm, const RowMatrix& x, const PcaOptions& options = {});

// Components to keep for eigenvalues sorted decreasing (pure; see the header comment).
int choose_components(const Eigen::VectorXd& eigenvalues, const PcaOptions& options);

// Flips the sign of each column so that its largest-magnitude entry is positive (ties: lower
// row index).
void apply_sign_convention(Eigen::MatrixXd& vectors);

void validate(const PcaOptions& options);

}  // namespace ecom::ml
