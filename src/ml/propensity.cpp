#include "ecom/ml/propensity.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>

#include "ecom/core/error.hpp"
#include "ecom/core/uint128.hpp"
#include "ecom/ml/exact_bins.hpp"
#include "ecom/par/random.hpp"

namespace ecom::ml {

namespace {

constexpr double kSecondsPerDay = 86400.0;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// log(1 + exp(t)) without overflow.
double softplus(double t) { return t > 0 ? t + std::log1p(std::exp(-t)) : std::log1p(std::exp(t)); }

double sigmoid(double eta) {
  if (eta >= 0) return 1.0 / (1.0 + std::exp(-eta));
  const double e = std::exp(eta);
  return e / (1.0 + e);
}

double linear_predictor(std::span<const double> coef, const double* z_row) {
  double eta = coef[0];
  for (std::size_t j = 1; j < coef.size(); ++j) eta += coef[j] * z_row[j - 1];
  return eta;
}

// Exact, order-independent sums of one Newton pass's `width` terms per row (loss, gradient,
// Hessian upper triangle: 528 accumulators for 30 features). The same scheme as BinnedSums (one
// int64 bin per accumulator and binary exponent, the integer mantissa added), tuned for wide
// rows summed in every Newton iteration: every 1024 rows the bins are flushed into 128-bit
// integer bins (an integer addition per bin, where BinnedSums flushes each nonzero bin into a
// par::ExactAccumulator with two ldexp and two long-accumulator additions); touched exponents
// are tracked in ranges of 32 for all accumulators of a row at once (a register, not a store per
// term); the buffers are allocated once per fit. Only combine() converts to ExactAccumulator, once
// per pass. The sums are exact, so they are the same doubles as BinnedSums gives (and the same
// for any split of the rows over ranks). Exponents >= 1990 and non-finite values go straight to
// ExactAccumulator::add (which throws on NaN and infinity).
__extension__ typedef __int128 i128;

class PassSums {
 public:
  explicit PassSums(std::size_t width)
      : width_(width), bins_(kBins * width, 0), wide_(kBins * width, 0), slow_(width) {}

  void clear() {
    flush();
    for_ranges(wide_ranges_, [this](std::uint32_t e) {
      std::fill_n(wide_.begin() + static_cast<std::ptrdiff_t>(e * width_), width_, i128{0});
    });
    wide_ranges_ = 0;
    for (auto& a : slow_) a = par::ExactAccumulator{};
  }

  std::size_t width() const { return width_; }

  void add_row(const double* xs) {
    std::int64_t* const bins = bins_.data();
    const std::size_t w = width_;
    std::uint64_t ranges = 0;
    bool slow = false;
    // No call in this loop (the rare slow values are added after it), so that `ranges` stays in
    // a register: an OR into memory per term made a loop-carried store-to-load chain.
    for (std::size_t i = 0; i < w; ++i) {
      const auto bits = std::bit_cast<std::uint64_t>(xs[i]);
      const auto e = static_cast<std::uint32_t>(bits >> 52) & 0x7ffu;
      const bool big = e >= kSlowExponent;
      slow = slow || big;
      auto m = static_cast<std::int64_t>(bits & kMantissaMask);
      if (e != 0) m |= kHiddenBit;
      const std::int64_t sign = static_cast<std::int64_t>(bits) >> 63;  // 0 or -1
      bins[e * w + i] += big ? 0 : (m ^ sign) - sign;
      ranges |= std::uint64_t{1} << (e >> 5);  // 64 ranges of 32 exponents
    }
    if (slow) [[unlikely]]
      for (std::size_t i = 0; i < w; ++i)
        if (((std::bit_cast<std::uint64_t>(xs[i]) >> 52) & 0x7ffu) >= kSlowExponent)
          slow_[i].add(xs[i]);
    ranges_ |= ranges;
    if (++pending_ == kFlushEvery) flush();
  }

  // The exact sums over all ranks (collective).
  std::vector<double> combine(par::Comm& comm) {
    flush();
    par::ExactVector out(width_);
    for (std::size_t i = 0; i < width_; ++i) out[i] = slow_[i];
    for_ranges(wide_ranges_, [this, &out](std::uint32_t e) {
      // v·2^shift, v split into 42-bit pieces (each an exact double, exactly scaled: the
      // pieces stay on the subnormal grid 2^-1074 and below 2^1024).
      const int shift = static_cast<int>(std::max<std::uint32_t>(e, 1)) - 1075;
      constexpr i128 mask = (i128{1} << 42) - 1;
      for (std::size_t i = 0; i < width_; ++i) {
        const i128 v = wide_[e * width_ + i];
        if (v == 0) continue;
        const i128 c = v & mask, v1 = v >> 42;
        const i128 b = v1 & mask, a = v1 >> 42;
        if (c != 0) out[i].add(std::ldexp(static_cast<double>(c), shift));
        if (b != 0) out[i].add(std::ldexp(static_cast<double>(b), shift + 42));
        if (a != 0) out[i].add(std::ldexp(static_cast<double>(a), shift + 84));
      }
    });
    return comm.exact_combine(out).values();
  }

 private:
  static constexpr std::uint32_t kBins = 2048;
  static constexpr std::uint32_t kSlowExponent = 1990;
  static constexpr std::uint32_t kFlushEvery = 1024;  // 1024·2^53 < 2^63: no int64 overflow
  static constexpr std::uint64_t kMantissaMask = (std::uint64_t{1} << 52) - 1;
  static constexpr std::int64_t kHiddenBit = std::int64_t{1} << 52;

  template <class F>
  static void for_ranges(std::uint64_t ranges, F&& f) {
    for (; ranges != 0; ranges &= ranges - 1) {
      const auto r = static_cast<std::uint32_t>(std::countr_zero(ranges));
      for (std::uint32_t e = r * 32; e < r * 32 + 32; ++e) f(e);
    }
  }

  void flush() {
    for_ranges(ranges_, [this](std::uint32_t e) {
      std::int64_t* bin = bins_.data() + e * width_;
      i128* wide = wide_.data() + e * width_;
      for (std::size_t i = 0; i < width_; ++i) {
        wide[i] += bin[i];
        bin[i] = 0;
      }
    });
    wide_ranges_ |= ranges_;
    ranges_ = 0;
    pending_ = 0;
  }

  std::size_t width_;
  std::vector<std::int64_t> bins_;              // exponent-major: bin (e, i) at e·width + i
  std::vector<i128> wide_;                      // the same layout
  std::uint64_t ranges_ = 0, wide_ranges_ = 0;  // touched ranges of 32 exponents
  std::vector<par::ExactAccumulator> slow_;
  std::uint32_t pending_ = 0;
};

std::size_t pass_width(std::size_t m) { return 1 + m + m * (m + 1) / 2; }  // loss, grad, Hessian

// Objective, gradient and Hessian (upper triangle mirrored) at `coef`, summed exactly; only the
// objective when `sums` has width 1 (grad and hess left empty).
struct NewtonPass {
  double objective = 0;
  Eigen::VectorXd grad;
  Eigen::MatrixXd hess;
};

NewtonPass newton_pass(par::Comm& comm, const RowMatrix& z, std::span<const std::uint8_t> y,
                       std::span<const double> coef, double l2, PassSums& sums) {
  const std::size_t m = coef.size();
  const bool full = sums.width() != 1;
  const std::size_t width = full ? pass_width(m) : 1;
  sums.clear();
  std::vector<double> buf(width), x(m);
  const auto rows = static_cast<std::size_t>(z.rows());
  for (std::size_t i = 0; i < rows; ++i) {
    const double* row = z.data() + i * (m - 1);
    const double eta = linear_predictor(coef, row);
    const double yi = y[i] ? 1.0 : 0.0;
    if (!full) {
      buf[0] = softplus(eta) - yi * eta;
      sums.add_row(buf.data());
      continue;
    }
    const double p = sigmoid(eta);
    const double w = p * (1.0 - p);
    const double r = p - yi;
    x[0] = 1.0;
    for (std::size_t j = 1; j < m; ++j) x[j] = row[j - 1];
    buf[0] = softplus(eta) - yi * eta;
    for (std::size_t j = 0; j < m; ++j) buf[1 + j] = r * x[j];
    std::size_t t = 1 + m;
    for (std::size_t j = 0; j < m; ++j) {
      const double wx = w * x[j];
      for (std::size_t k = j; k < m; ++k) buf[t++] = wx * x[k];
    }
    sums.add_row(buf.data());
  }
  const std::vector<double> s = sums.combine(comm);
  NewtonPass out;
  const auto mi = static_cast<Eigen::Index>(m);
  out.grad.resize(mi);
  out.hess.resize(mi, mi);
  double penalty = 0;
  for (std::size_t j = 1; j < m; ++j) penalty += coef[j] * coef[j];
  out.objective = s[0] + 0.5 * l2 * penalty;
  if (!full) return out;
  for (std::size_t j = 0; j < m; ++j)
    out.grad(static_cast<Eigen::Index>(j)) = s[1 + j] + (j > 0 ? l2 * coef[j] : 0.0);
  std::size_t t = 1 + m;
  for (std::size_t j = 0; j < m; ++j)
    for (std::size_t k = j; k < m; ++k) {
      double v = s[t++];
      if (j == k && j > 0) v += l2;
      out.hess(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(k)) = v;
      out.hess(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(j)) = v;
    }
  return out;
}

// Order-preserving 64-bit key of a score in [0, 1] and its bin among kAucBins (monotone).
constexpr std::uint32_t kAucBins = 4096;
std::uint64_t score_key(double s) { return std::bit_cast<std::uint64_t>(s + 0.0); }  // -0 -> +0
std::uint32_t score_bin(std::uint64_t key) {
  // key >> 46: 11 exponent bits and the top 6 mantissa bits. Scores below 2^-64 share bin 0.
  const std::uint64_t top = key >> 46;
  constexpr std::uint64_t lowest = std::uint64_t{0x3BF} << 6;  // exponent of 2^-64
  if (top < lowest) return 0;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(top - lowest, kAucBins - 1));
}

struct ScoredLabel {
  std::uint64_t key;
  std::uint64_t label;  // 0 or 1 (8 bytes: no padding in the record)
};

}  // namespace

void validate(const PropensityOptions& o) {
  if (o.label_days < 1)
    throw UserError("propensity: label days must be >= 1, got " + std::to_string(o.label_days));
  if (!(o.holdout_fraction >= 0.0 && o.holdout_fraction < 1.0))
    throw UserError("propensity: holdout fraction must lie in [0, 1), got " +
                    std::to_string(o.holdout_fraction));
  if (!(o.l2 >= 0.0) || !std::isfinite(o.l2))
    throw UserError("propensity: l2 must be finite and >= 0, got " + std::to_string(o.l2));
  if (o.max_iter < 1) throw UserError("propensity: max iterations must be >= 1");
  if (!(o.tol > 0.0)) throw UserError("propensity: tolerance must be > 0");
}

// ---- logistic regression ----------------------------------------------------------------------

double logistic_predict(std::span<const double> coef, const double* z_row) {
  return sigmoid(linear_predictor(coef, z_row));
}

std::vector<double> logistic_gradient(const RowMatrix& z, std::span<const std::uint8_t> y,
                                      std::span<const double> coef, double l2) {
  const std::size_t m = coef.size();
  std::vector<double> g(m, 0.0);
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    const double* row = z.data() + static_cast<std::size_t>(i) * (m - 1);
    const double r = logistic_predict(coef, row) - (y[static_cast<std::size_t>(i)] ? 1.0 : 0.0);
    g[0] += r;
    for (std::size_t j = 1; j < m; ++j) g[j] += r * row[j - 1];
  }
  for (std::size_t j = 1; j < m; ++j) g[j] += l2 * coef[j];
  return g;
}

LogisticFit fit_logistic(par::Comm& comm, const RowMatrix& z, std::span<const std::uint8_t> y,
                         double l2, int max_iter, double tol) {
  const long long my_cols = z.rows() > 0 ? static_cast<long long>(z.cols()) : -1;
  const long long cols = comm.allreduce_max(my_cols);
  std::string error;
  if (z.rows() > 0 && my_cols != cols)
    error = "fit_logistic: ranks disagree on the number of columns";
  if (static_cast<std::size_t>(z.rows()) != y.size())
    error = "fit_logistic: rows and labels differ in number";
  par::agree(comm, error, ExitCode::internal);

  const std::size_t m = static_cast<std::size_t>(std::max(0LL, cols)) + 1;
  LogisticFit fit;
  fit.rows = comm.allreduce_sum(static_cast<std::uint64_t>(z.rows()));
  fit.coef.assign(m, 0.0);
  PassSums sums(pass_width(m)), loss_only(1);
  NewtonPass at = newton_pass(comm, z, y, fit.coef, l2, sums);
  std::vector<double> candidate(m);
  for (int it = 1; it <= max_iter; ++it) {
    const Eigen::VectorXd delta = at.hess.ldlt().solve(at.grad);
    // The last step (converged even at full length, or the last iteration allowed) needs only
    // the objective at the candidate: its gradient and Hessian would never be used.
    const bool last = it == max_iter || delta.cwiseAbs().maxCoeff() < tol;
    double step = 1.0;
    NewtonPass next;
    // Step halving keeps the objective from rising (Newton's full step nearly always does).
    for (int half = 0;; ++half) {
      for (std::size_t j = 0; j < m; ++j)
        candidate[j] = fit.coef[j] - step * delta(static_cast<Eigen::Index>(j));
      next = newton_pass(comm, z, y, candidate, l2, last ? loss_only : sums);
      if (next.objective <= at.objective || half == 30) break;
      step *= 0.5;
    }
    const double moved = step * delta.cwiseAbs().maxCoeff();
    fit.coef = candidate;
    at = std::move(next);
    fit.iterations = it;
    if (!std::isfinite(moved)) break;
    if (moved < tol) {
      fit.converged = true;
      break;
    }
  }
  fit.objective = at.objective;
  return fit;
}

// ---- metrics ----------------------------------------------------------------------------------

double distributed_auc(par::Comm& comm, std::span<const double> scores,
                       std::span<const std::uint8_t> labels) {
  std::string error;
  if (scores.size() != labels.size()) error = "auc: scores and labels differ in number";
  for (double s : scores)
    if (!(s >= 0.0 && s <= 1.0)) {
      error = "auc: a score is not in [0, 1]";
      break;
    }
  par::agree(comm, error, ExitCode::internal);

  // Splitters from a global histogram of score bins: rank r sorts a contiguous range of bins
  // holding about 1/P of all scores, so ranks' ranges are ordered by score.
  std::vector<std::uint64_t> hist(kAucBins, 0);
  std::vector<ScoredLabel> local(scores.size());
  std::uint64_t pos_local = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    local[i] = ScoredLabel{score_key(scores[i]), labels[i] ? 1u : 0u};
    pos_local += local[i].label;
    ++hist[score_bin(local[i].key)];
  }
  comm.allreduce_sum(std::span<std::uint64_t>(hist));
  const std::uint64_t n = comm.allreduce_sum(static_cast<std::uint64_t>(scores.size()));
  const std::uint64_t n_pos = comm.allreduce_sum(pos_local);
  const std::uint64_t n_neg = n - n_pos;
  if (n_pos == 0 || n_neg == 0) return kNaN;
  const auto p = static_cast<std::uint64_t>(comm.size());
  std::vector<int> owner(kAucBins);
  std::uint64_t before = 0;
  for (std::uint32_t b = 0; b < kAucBins; ++b) {
    owner[b] = static_cast<int>(std::min<std::uint64_t>(
        p - 1, static_cast<std::uint64_t>(static_cast<u128>(before) * p / n)));
    before += hist[b];
  }
  auto sorted = comm.exchange<ScoredLabel>(
      local, [&owner](const ScoredLabel& r) { return owner[score_bin(r.key)]; },
      std::size_t{64} << 20);
  std::sort(sorted.begin(), sorted.end(),
            [](const ScoredLabel& a, const ScoredLabel& b) { return a.key < b.key; });
  std::uint64_t neg_here = 0;
  for (const auto& r : sorted) neg_here += 1 - r.label;
  std::uint64_t neg_below = comm.exscan_sum(neg_here);
  // Twice the number of (positive, negative) pairs ordered correctly, ties counting one.
  u128 twice = 0;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    std::uint64_t pos = 0, neg = 0;
    for (; j < sorted.size() && sorted[j].key == sorted[i].key; ++j)
      (sorted[j].label ? pos : neg) += 1;
    twice += static_cast<u128>(pos) * (2 * neg_below + neg);
    neg_below += neg;
    i = j;
  }
  // Sum the 128-bit counts as two 64-bit halves (carry handled after the reduction).
  std::uint64_t halves[3] = {static_cast<std::uint64_t>(twice & 0xffffffffu),
                             static_cast<std::uint64_t>((twice >> 32) & 0xffffffffu),
                             static_cast<std::uint64_t>(twice >> 64)};
  comm.allreduce_sum(std::span<std::uint64_t>(halves, 3));
  const u128 total = static_cast<u128>(halves[0]) + (static_cast<u128>(halves[1]) << 32) +
                     (static_cast<u128>(halves[2]) << 64);
  const long double pairs2 =
      2.0L * static_cast<long double>(n_pos) * static_cast<long double>(n_neg);
  return static_cast<double>(static_cast<long double>(total) / pairs2);
}

double distributed_log_loss(par::Comm& comm, std::span<const double> proba,
                            std::span<const std::uint8_t> labels) {
  par::agree(comm, proba.size() == labels.size() ? "" : "log_loss: sizes differ",
             ExitCode::internal);
  constexpr double eps = 1e-15;
  BinnedSums sums(1, 1);
  for (std::size_t i = 0; i < proba.size(); ++i) {
    const double p = std::clamp(proba[i], eps, 1.0 - eps);
    sums.add(0, labels[i] ? -std::log(p) : -std::log1p(-p));
  }
  const double total = comm.exact_combine(sums.to_exact()).values()[0];
  const std::uint64_t n = comm.allreduce_sum(static_cast<std::uint64_t>(proba.size()));
  return n == 0 ? kNaN : total / static_cast<double>(n);
}

// ---- the propensity stage -----------------------------------------------------------------------

std::vector<double> PropensityModel::predict(const RowMatrix& raw) const {
  if (!trained) throw Error("propensity: predict on an untrained model (" + skipped + ")");
  const RowMatrix z = scaler.transform(raw);
  std::vector<double> out(static_cast<std::size_t>(z.rows()));
  for (Eigen::Index i = 0; i < z.rows(); ++i)
    out[static_cast<std::size_t>(i)] = logistic_predict(
        fit.coef, z.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(z.cols()));
  return out;
}

std::uint32_t propensity_cutoff(std::uint32_t window_end, int label_days) {
  const std::uint64_t span = static_cast<std::uint64_t>(label_days) * 86400u;
  return window_end > span ? static_cast<std::uint32_t>(window_end - span) : 0u;
}

std::vector<std::uint64_t> label_period_buyers(std::span<const Event> events,
                                               std::uint32_t cutoff) {
  std::vector<std::uint64_t> buyers;
  for (const Event& e : events)
    if (e.time > cutoff && e.type == EventType::purchase &&
        (buyers.empty() || buyers.back() != e.user))
      buyers.push_back(e.user);
  return buyers;
}

PropensityModel train_propensity(par::Comm& comm, std::span<const Event> events,
                                 std::uint32_t window_start, std::uint32_t window_end,
                                 const std::vector<std::string>& feature_names,
                                 const std::vector<std::string>& log1p_names,
                                 const UserFeatureFn& features, const PropensityOptions& options,
                                 PropensityHoldout* holdout) {
  validate(options);
  PropensityModel model;
  model.window_start = window_start;
  model.window_end = window_end;
  model.cutoff = propensity_cutoff(window_end, options.label_days);
  model.auc = model.logloss = model.train_auc = kNaN;
  const double window_days = static_cast<double>(window_end - window_start) / kSecondsPerDay;
  if (window_end < window_start || model.cutoff <= window_start) {
    model.skipped = "the window (" + std::to_string(window_days) +
                    " days) is not longer than the label period (" +
                    std::to_string(options.label_days) + " days)";
    return model;
  }

  // Training rows: each user's prefix of events up to the cutoff (time order within a user).
  const std::size_t d = feature_names.size();
  std::vector<double> train_raw, test_raw;
  std::vector<std::uint8_t> train_y, test_y;
  std::vector<std::uint64_t> test_users;
  std::vector<double> row(d);
  std::string error;
  for (std::size_t i = 0; i < events.size() && error.empty();) {
    std::size_t j = i + 1;
    while (j < events.size() && events[j].user == events[i].user) ++j;
    const auto user_events = events.subspan(i, j - i);
    const auto split = std::partition_point(user_events.begin(), user_events.end(),
                                            [&](const Event& e) { return e.time <= model.cutoff; });
    const auto history = user_events.first(static_cast<std::size_t>(split - user_events.begin()));
    if (!history.empty()) {
      if (history.front().time < window_start) {
        error = "propensity: an event lies before the window start";
        break;
      }
      bool bought = false;
      for (auto it = split; it != user_events.end(); ++it)
        bought = bought || it->type == EventType::purchase;
      features(history, window_start, model.cutoff, row);
      const bool test = par::uniform(options.seed, par::Purpose::propensity_split, events[i].user,
                                     0) < options.holdout_fraction;
      (test ? test_raw : train_raw)
          .insert((test ? test_raw : train_raw).end(), row.begin(), row.end());
      (test ? test_y : train_y).push_back(bought ? 1 : 0);
      if (test) test_users.push_back(events[i].user);
    }
    i = j;
  }
  par::agree(comm, error, ExitCode::internal);

  auto as_matrix = [d](const std::vector<double>& v) {
    RowMatrix x(static_cast<Eigen::Index>(v.size() / std::max<std::size_t>(d, 1)),
                static_cast<Eigen::Index>(d));
    std::copy(v.begin(), v.end(), x.data());
    return x;
  };
  const RowMatrix train_x = as_matrix(train_raw);
  const RowMatrix test_x = as_matrix(test_raw);
  std::uint64_t counts[4] = {train_y.size(), 0, test_y.size(), 0};
  for (auto v : train_y) counts[1] += v;
  for (auto v : test_y) counts[3] += v;
  comm.allreduce_sum(std::span<std::uint64_t>(counts, 4));
  model.train_users = counts[0];
  model.train_positives = counts[1];
  model.holdout_users = counts[2];
  model.holdout_positives = counts[3];
  if (model.train_positives == 0 || model.train_positives == model.train_users) {
    model.skipped = "the " + std::to_string(model.train_users) + " training users include " +
                    (model.train_positives == 0 ? "no buyer" : "no non-buyer") +
                    " in the label period";
    return model;
  }

  model.scaler = fit_scaler(comm, train_x, feature_names, log1p_names);
  const RowMatrix train_z = model.scaler.transform(train_x);
  model.fit = fit_logistic(comm, train_z, train_y, options.l2, options.max_iter, options.tol);
  model.trained = true;

  std::vector<double> train_p(train_y.size());
  for (std::size_t i = 0; i < train_p.size(); ++i)
    train_p[i] = logistic_predict(model.fit.coef, train_z.data() + i * d);
  model.train_auc = distributed_auc(comm, train_p, train_y);
  const std::vector<double> test_p = model.predict(test_x);
  model.auc = distributed_auc(comm, test_p, test_y);
  model.logloss = distributed_log_loss(comm, test_p, test_y);
  if (holdout) {
    holdout->users = std::move(test_users);
    holdout->proba = test_p;
    holdout->label = std::move(test_y);
  }
  return model;
}

}  // namespace ecom::ml
