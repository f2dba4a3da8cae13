#pragma once
// Per-user behavioural features (pure: no MPI, no I/O). docs/FEATURES.md gives every formula,
// unit and edge case; this header is the contract the code keeps.
//
// Input: one rank's events sorted by io::event_less, i.e. by (user, time, type, product,
// session, price), so each user's events are one contiguous run in time order. Output: one row
// of kFeatureCount doubles per user, in ascending user order. A user's row is computed by the
// same fixed sequence of operations wherever the user sits (first in a block of a million or
// alone), so it does not depend on the number of ranks.
//
// The window (global first and last event time) must be the same on every rank: the caller
// takes the min/max of local_time_range() over ranks (Comm::allreduce_min/max) and passes it in
// FeatureContext.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ecom/core/types.hpp"

namespace ecom::features {

// Column indices of the feature matrix (the order of kFeatureNames).
enum Feature : int {
  n_events = 0,
  n_views,
  n_carts,
  n_removes,
  n_purchases,
  n_sessions,
  active_days,
  recency_days,
  monetary,
  distinct_products,
  distinct_categories,
  distinct_brands,
  tenure_days,
  days_since_last_purchase,
  avg_basket,
  max_purchase,
  avg_view_price,
  price_sensitivity,
  conversion_rate,
  cart_rate,
  abandonment_rate,
  remove_rate,
  category_concentration,
  weekend_share,
  night_share,
  events_per_session,
  session_duration,
  purchase_frequency,
  mean_days_between_purchases,
  kFeatureCount
};

inline constexpr std::array<std::string_view, kFeatureCount> kFeatureNames = {
    "n_events",
    "n_views",
    "n_carts",
    "n_removes",
    "n_purchases",
    "n_sessions",
    "active_days",
    "recency_days",
    "monetary",
    "distinct_products",
    "distinct_categories",
    "distinct_brands",
    "tenure_days",
    "days_since_last_purchase",
    "avg_basket",
    "max_purchase",
    "avg_view_price",
    "price_sensitivity",
    "conversion_rate",
    "cart_rate",
    "abandonment_rate",
    "remove_rate",
    "category_concentration",
    "weekend_share",
    "night_share",
    "events_per_session",
    "session_duration",
    "purchase_frequency",
    "mean_days_between_purchases"};

// The names as strings (e.g. for the HDF5 `names` attribute or the transform).
std::vector<std::string> feature_names();
// Index of a feature name, or -1.
int feature_index(std::string_view name);

// Features that the transform takes log1p of by default (counts, amounts, rates per time,
// durations: the heavy-tailed ones; docs/FEATURES.md).
std::vector<std::string> default_log1p_features();

// Money features (monetary, avg_basket, max_purchase, avg_view_price, and the price sums behind
// them) are capped at kMoneyCeiling per user: 10^15, a billion purchases at ingest's default
// price ceiling of 10^6. Then no later sum over users (scaler, PCA, segment means and revenue,
// k-means) can overflow, whatever finite prices a store holds (a store written before the
// price ceiling existed, or with a raised --max-price); capped_users() names the users concerned.
inline constexpr double kMoneyCeiling = 1e15;

inline constexpr double kSecondsPerDay = 86400.0;
inline constexpr double kDaysPerMonth = 30.0;

struct FeatureConfig {
  // Night = local hour of day h with night_start_hour <= h < night_end_hour; if start > end the
  // interval wraps midnight (e.g. 22 -> 6). start == end means no night. Hours in [0, 24].
  int night_start_hour = 0;
  int night_end_hour = 6;
  // Added to UTC before the hour of day and the day of week are taken (weekend and night shares
  // only; active_days are always UTC dates). E.g. 180 for Moscow time.
  int utc_offset_minutes = 0;
};

struct FeatureContext {
  std::uint32_t window_start = 0;  // global min event time (seconds since the epoch, UTC)
  std::uint32_t window_end = 0;    // global max event time
  FeatureConfig config;

  double window_days() const {
    return static_cast<double>(window_end - window_start) / kSecondsPerDay;
  }
  // The value of days_since_last_purchase and mean_days_between_purchases when undefined (no
  // purchase / fewer than two baskets): one day more than any observable value.
  double undefined_days() const { return window_days() + 1.0; }
};

using FeatureRow = std::array<double, kFeatureCount>;

// Reusable buffers so that computing millions of users allocates only once (contents are
// scratch: meaningless between calls).
struct FeatureScratch {
  std::vector<std::uint64_t> products, categories, brands, carted, bought;
  std::vector<std::uint32_t> days;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> session_times;   // (session, time)
  std::vector<std::pair<std::uint64_t, std::uint32_t>> purchase_times;  // (session, time)
};

// The features of one user. `user_events` are all events of one user, sorted by
// io::event_less (time order); must not be empty. Throws ecom::Error if the events belong to
// more than one user or lie outside the context's window, or if the config is invalid.
FeatureRow compute_user_features(std::span<const Event> user_events, const FeatureContext& ctx);
FeatureRow compute_user_features(std::span<const Event> user_events, const FeatureContext& ctx,
                                 FeatureScratch& scratch);

// Features of every user of a rank.
struct FeatureTable {
  std::vector<std::uint64_t> users;  // ascending
  std::vector<double> values;        // row-major users.size() × kFeatureCount
  std::size_t rows() const { return users.size(); }
  static constexpr std::size_t cols() { return kFeatureCount; }
  double at(std::size_t row, int feature) const {
    return values[row * kFeatureCount + static_cast<std::size_t>(feature)];
  }
};

// `events`: this rank's events sorted by io::event_less (every user one contiguous run). Throws
// ecom::Error if the users are not in ascending runs (a user split into two runs).
FeatureTable compute_features(std::span<const Event> events, const FeatureContext& ctx);

// The users of `table` whose money features reached kMoneyCeiling (capped), ascending.
std::vector<std::uint64_t> capped_users(const FeatureTable& table);

// Min and max event time of `events` ({UINT32_MAX, 0} when empty, the identities of min/max).
std::pair<std::uint32_t, std::uint32_t> local_time_range(std::span<const Event> events);

// Throws ecom::UserError if the config is invalid (hours outside [0, 24], offset beyond ±24 h).
void validate(const FeatureConfig& config);

}  // namespace ecom::features
