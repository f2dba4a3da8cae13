#include "ecom/ml/transform.hpp"

#include <cmath>
#include <limits>
#include <sstream>

#include "ecom/core/error.hpp"
#include "ecom/ml/exact_bins.hpp"

namespace ecom::ml {

double signed_log1p(double x) { return x < 0 ? -std::log1p(-x) : std::log1p(x); }

std::vector<std::uint8_t> log1p_flags(const std::vector<std::string>& names,
                                      const std::vector<std::string>& log1p_names) {
  std::vector<std::uint8_t> flags(names.size(), 0);
  for (const std::string& want : log1p_names) {
    bool found = false;
    for (std::size_t j = 0; j < names.size(); ++j)
      if (names[j] == want) {
        flags[j] = 1;
        found = true;
      }
    if (!found) throw UserError("transform: log1p feature '" + want + "' is not a feature name");
  }
  return flags;
}

RowMatrix apply_log1p(const RowMatrix& x, const std::vector<std::uint8_t>& flags) {
  if (static_cast<std::size_t>(x.cols()) != flags.size())
    throw Error("apply_log1p: matrix has " + std::to_string(x.cols()) + " columns, expected " +
                std::to_string(flags.size()));
  RowMatrix g = x;
  const auto d = static_cast<std::size_t>(x.cols());
  for (Eigen::Index i = 0; i < g.rows(); ++i) {
    double* row = g.data() + static_cast<std::size_t>(i) * d;
    for (std::size_t j = 0; j < d; ++j)
      if (flags[j]) row[j] = signed_log1p(row[j]);
  }
  return g;
}

void Scaler::validate() const {
  const std::size_t d = names.size();
  if (log1p.size() != d || mean.size() != d || scale.size() != d || constant.size() != d)
    throw Error("scaler: names, log1p, mean, scale and constant differ in size");
  for (std::size_t j = 0; j < d; ++j)
    if (!std::isfinite(mean[j]) || !std::isfinite(scale[j]) || !(scale[j] > 0))
      throw Error("scaler: column '" + names[j] + "' has a non-finite mean or a scale <= 0");
}

void Scaler::transform_in_place(RowMatrix& x) const {
  const std::size_t d = dims();
  if (static_cast<std::size_t>(x.cols()) != d)
    throw Error("scaler: matrix has " + std::to_string(x.cols()) + " columns, expected " +
                std::to_string(d));
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    double* row = x.data() + static_cast<std::size_t>(i) * d;
    for (std::size_t j = 0; j < d; ++j) {
      const double g = log1p[j] ? signed_log1p(row[j]) : row[j];
      row[j] = (g - mean[j]) / scale[j];
    }
  }
}

RowMatrix Scaler::transform(const RowMatrix& x) const {
  RowMatrix z = x;
  transform_in_place(z);
  return z;
}

RowMatrix Scaler::unstandardise(const RowMatrix& z) const {
  const std::size_t d = dims();
  if (static_cast<std::size_t>(z.cols()) != d) throw Error("scaler: wrong number of columns");
  RowMatrix g = z;
  for (Eigen::Index i = 0; i < g.rows(); ++i) {
    double* row = g.data() + static_cast<std::size_t>(i) * d;
    for (std::size_t j = 0; j < d; ++j) row[j] = row[j] * scale[j] + mean[j];
  }
  return g;
}

Scaler fit_scaler(par::Comm& comm, const RowMatrix& x, const std::vector<std::string>& names,
                  const std::vector<std::string>& log1p_names) {
  const std::size_t d = names.size();
  Scaler s;
  s.names = names;
  s.log1p = log1p_flags(names, log1p_names);  // same on every rank: no agreement needed

  std::string local_error;
  RowMatrix g;
  if (static_cast<std::size_t>(x.cols()) != d && x.rows() > 0) {
    local_error = "fit_scaler: matrix has " + std::to_string(x.cols()) + " columns, expected " +
                  std::to_string(d);
  } else {
    g = x.rows() > 0 ? apply_log1p(x, s.log1p) : RowMatrix(0, static_cast<Eigen::Index>(d));
    for (Eigen::Index i = 0; i < g.rows() && local_error.empty(); ++i)
      for (std::size_t j = 0; j < d; ++j)
        if (!std::isfinite(g(i, static_cast<Eigen::Index>(j)))) {
          local_error = "fit_scaler: feature '" + names[j] + "' has a non-finite value";
          break;
        }
  }
  par::agree(comm, local_error, ExitCode::internal);

  const auto rows = static_cast<std::size_t>(g.rows());
  s.n = comm.allreduce_sum(static_cast<std::uint64_t>(rows));

  // Range per column: a constant column is detected exactly.
  std::vector<double> lo(d, std::numeric_limits<double>::infinity());
  std::vector<double> hi(d, -std::numeric_limits<double>::infinity());
  for (std::size_t i = 0; i < rows; ++i) {
    const double* row = g.data() + i * d;
    for (std::size_t j = 0; j < d; ++j) {
      lo[j] = std::min(lo[j], row[j]);
      hi[j] = std::max(hi[j], row[j]);
    }
  }
  comm.allreduce_min(std::span<double>(lo));
  comm.allreduce_max(std::span<double>(hi));

  // Pass 1: exact column sums -> first mean m0.
  BinnedSums sums(1, d);
  for (std::size_t i = 0; i < rows; ++i) sums.add_row(0, g.data() + i * d);
  const std::vector<double> total = comm.exact_combine(sums.to_exact()).values();
  const double n = static_cast<double>(s.n);
  std::vector<double> m0(d, 0.0);
  if (s.n > 0)
    for (std::size_t j = 0; j < d; ++j) m0[j] = total[j] / n;

  // Pass 2: exact sums of the deviations from m0 and of their squares.
  BinnedSums dev(2, d);
  std::vector<double> dv(d), sq(d);
  for (std::size_t i = 0; i < rows; ++i) {
    const double* row = g.data() + i * d;
    for (std::size_t j = 0; j < d; ++j) {
      dv[j] = row[j] - m0[j];
      sq[j] = dv[j] * dv[j];
    }
    dev.add_row(0, dv.data());
    dev.add_row(1, sq.data());
  }
  const std::vector<double> moments = comm.exact_combine(dev.to_exact()).values();

  s.mean.assign(d, 0.0);
  s.scale.assign(d, 1.0);
  s.constant.assign(d, 1);
  for (std::size_t j = 0; j < d; ++j) {
    if (s.n == 0) continue;
    if (lo[j] == hi[j]) {
      s.mean[j] = lo[j];
      continue;
    }
    const double sum_dev = moments[j];
    const double sum_sq = moments[d + j];
    s.mean[j] = m0[j] + sum_dev / n;
    const double ss = std::max(0.0, sum_sq - sum_dev * sum_dev / n);
    const double sd = std::sqrt(ss / n);
    s.constant[j] = 0;
    s.scale[j] = (std::isfinite(sd) && sd > 0) ? sd : 1.0;
  }
  return s;
}

}  // namespace ecom::ml
