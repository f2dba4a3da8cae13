#pragma once
// Transform and standardise a feature matrix: y = (g(x) − mean) / scale per column, where g is
// a signed log1p, g(x) = sign(x)·log1p(|x|), for the configured heavy-tailed columns and the
// identity for the others.
//
// The moments are exact and rank-independent (ARCHITECTURE.md §4): pass 1 sums g(x) per column
// exactly (BinnedSums, combined with Comm::exact_combine) giving m0 = S/n; pass 2 sums the
// deviations d = g(x) − m0 and their squares exactly; then mean = m0 + Σd/n and the sum of
// squared deviations about the mean is Σd² − (Σd)²/n (Σd is tiny: the correction never
// cancels). Never "sum of squares minus squared sum". Population variance (divide by n, as
// scikit-learn's StandardScaler); scale = sqrt(variance). A constant column (min == max over
// all users), or no users at all, gets its value as mean and scale 1, so it transforms to 0
// exactly (never NaN).
//
// A Scaler is plain data (names, flags, means, scales) so the pipeline can store it (HDF5
// /model/scaler) and `ecom score` can re-apply it to new users with transform() (pure).
#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ecom/par/comm.hpp"

namespace ecom::ml {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Scaler {
  std::vector<std::string> names;      // column names, in matrix order
  std::vector<std::uint8_t> log1p;     // 1: the column goes through the signed log1p first
  std::vector<double> mean;            // of g(x), over all users
  std::vector<double> scale;           // population standard deviation of g(x), or 1 if constant
  std::vector<std::uint8_t> constant;  // 1: min == max over all users (scale forced to 1)
  std::uint64_t n = 0;                 // users the moments were taken over

  std::size_t dims() const { return names.size(); }
  // Throws ecom::Error if the vectors disagree in size, or a scale is not finite and > 0.
  void validate() const;

  // Pure, per element (no dependence on where a row sits). Throws ecom::Error if x.cols() !=
  // dims().
  RowMatrix transform(const RowMatrix& x) const;
  void transform_in_place(RowMatrix& x) const;
  // Inverse of the standardisation (not of the log1p): back to g(x) units, e.g. for centroids.
  RowMatrix unstandardise(const RowMatrix& z) const;
};

// g(x) = sign(x)·log1p(|x|): log1p for the non-negative features, odd so that it is defined for
// every finite x.
double signed_log1p(double x);

// Collective. Fits the scaler on every rank's rows (x: this rank's users × names.size(); a rank
// may have no rows). `log1p_names` must all be in `names` (ecom::UserError otherwise). Throws
// ecom::Error on every rank (par::agree) if any rank holds a non-finite value. Bit-identical
// for any number of ranks and any split of the rows.
Scaler fit_scaler(par::Comm& comm, const RowMatrix& x, const std::vector<std::string>& names,
                  const std::vector<std::string>& log1p_names);

// ---- the local building blocks of fit_scaler (pure), exposed for tests ----------------------

// Sets the log1p flags from the names (UserError for an unknown name).
std::vector<std::uint8_t> log1p_flags(const std::vector<std::string>& names,
                                      const std::vector<std::string>& log1p_names);
// g applied column-wise by the flags (pure).
RowMatrix apply_log1p(const RowMatrix& x, const std::vector<std::uint8_t>& flags);

}  // namespace ecom::ml
