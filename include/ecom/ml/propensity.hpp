#pragma once
// Purchase propensity: will a user buy in the next D days?
//
// The window [window_start, window_end] is cut at cutoff = window_end − D days. Training rows
// are the users with at least one event at or before the cutoff; their features are computed
// from those events only (each user's time-ordered prefix with time <= cutoff, passed to the
// caller's feature function), and their label is 1 if they purchased in the label period
// (cutoff, window_end]. No event of the label period ever reaches the feature function (no
// leakage: tests/mpi/test_ml_propensity.cpp). A keyed holdout of users
// (uniform(seed, propensity_split, user, 0) < holdout_fraction) measures AUC and log-loss; the
// model is fitted on the other users. The same model is then applied to the features of the full
// window (the proba of the warehouse table).
//
// The model is an L2-regularised logistic regression on standardised features (the segments'
// transform: signed log1p of the configured columns, then z-scores fitted on the training rows),
// fitted by Newton's method (IRLS). The objective is
//   sum_i [log(1 + exp(η_i)) − y_i η_i] + (λ/2)·||w||²,   η_i = b + wᵀz_i,
// the intercept b unpenalised: the same model as scikit-learn's
// LogisticRegression(C = 1/λ). Gradient and Hessian are summed exactly (BinnedSums combined with
// Comm::exact_combine), so every Newton step, and the result, is bit-identical for any number of
// ranks. Metrics are exact too: AUC from integer pair counts (a distributed sort by score),
// log-loss from an exact sum.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "ecom/core/types.hpp"
#include "ecom/ml/transform.hpp"
#include "ecom/par/comm.hpp"

namespace ecom::ml {

struct PropensityOptions {
  int label_days = 7;             // D: length of the label period at the end of the window
  double holdout_fraction = 0.2;  // keyed share of training users held out for AUC/log-loss
  double l2 = 1.0;                // λ (scikit-learn: C = 1/λ)
  int max_iter = 50;              // Newton iterations at most
  double tol = 1e-8;              // stop when no coefficient moves more than this
  std::uint64_t seed = 1;         // of the holdout split
};

// Throws UserError for an option out of range.
void validate(const PropensityOptions& options);

// ---- logistic regression --------------------------------------------------------------------

struct LogisticFit {
  std::vector<double> coef;  // intercept first, then one per column of z
  int iterations = 0;
  bool converged = false;
  double objective = 0;    // at coef (regularised sum of losses)
  std::uint64_t rows = 0;  // summed over ranks
};

// Collective. Fits the L2 logistic regression of y (0/1) on the rows of z (this rank's rows;
// every rank the same number of columns, a rank may have none). Bit-identical for any split of
// the rows over ranks.
LogisticFit fit_logistic(par::Comm& comm, const RowMatrix& z, std::span<const std::uint8_t> y,
                         double l2, int max_iter, double tol);

// Pure. σ(b + wᵀz) of one row, computed by the same sequence of operations for every row.
double logistic_predict(std::span<const double> coef, const double* z_row);

// The gradient of the objective at `coef` (pure, one rank's rows; for tests: zero at the
// optimum up to rounding).
std::vector<double> logistic_gradient(const RowMatrix& z, std::span<const std::uint8_t> y,
                                      std::span<const double> coef, double l2);

// ---- metrics ----------------------------------------------------------------------------------

// Collective. ROC AUC of scores in [0, 1] (P(score of a positive > score of a negative), ties
// counting one half, as scikit-learn's roc_auc_score), exact: pairs are counted as integers after
// a distributed sort by score. NaN if there is no positive or no negative.
double distributed_auc(par::Comm& comm, std::span<const double> scores,
                       std::span<const std::uint8_t> labels);

// Collective. Mean log-loss, probabilities clipped to [1e-15, 1 − 1e-15] (scikit-learn 1.2's
// log_loss). Exact sum. NaN when there are no rows.
double distributed_log_loss(par::Comm& comm, std::span<const double> proba,
                            std::span<const std::uint8_t> labels);

// ---- the propensity stage -----------------------------------------------------------------------

// Computes one user's features from `user_events` (one user's events, time order, all with time
// in [window_start, window_end]) into `row` (names.size() values).
using UserFeatureFn =
    std::function<void(std::span<const Event> user_events, std::uint32_t window_start,
                       std::uint32_t window_end, std::span<double> row)>;

struct PropensityModel {
  bool trained = false;
  std::string skipped;  // why not trained ("" when trained)
  std::uint32_t window_start = 0, window_end = 0, cutoff = 0;
  Scaler scaler;  // fitted on the training rows
  LogisticFit fit;
  std::uint64_t train_users = 0, train_positives = 0;
  std::uint64_t holdout_users = 0, holdout_positives = 0;
  double auc = 0, logloss = 0;  // on the holdout (NaN if undefined)
  double train_auc = 0;         // on the training rows (for over-fitting checks)

  // Pure: probabilities for rows of raw features (columns as scaler.names). Throws if untrained.
  std::vector<double> predict(const RowMatrix& raw) const;
};

// This rank's holdout rows (scores from the training-period features), for calibration plots
// and independent checks of the metrics.
struct PropensityHoldout {
  std::vector<std::uint64_t> users;  // ascending
  std::vector<double> proba;
  std::vector<std::uint8_t> label;
};

// The label-period split of one rank's events (pure).
std::uint32_t propensity_cutoff(std::uint32_t window_end, int label_days);
// Users with a purchase at time > cutoff, ascending (events sorted by user then time).
std::vector<std::uint64_t> label_period_buyers(std::span<const Event> events, std::uint32_t cutoff);

// Collective. Trains the propensity model on this rank's events (sorted by io::event_less,
// every user one contiguous run). `window_start`/`window_end` are the global min/max event
// times. If the window is not longer than D days, or the training rows lack a positive or a
// negative, the model comes back untrained with the reason in `skipped` (the same on every
// rank).
PropensityModel train_propensity(par::Comm& comm, std::span<const Event> events,
                                 std::uint32_t window_start, std::uint32_t window_end,
                                 const std::vector<std::string>& feature_names,
                                 const std::vector<std::string>& log1p_names,
                                 const UserFeatureFn& features, const PropensityOptions& options,
                                 PropensityHoldout* holdout = nullptr);

}  // namespace ecom::ml
