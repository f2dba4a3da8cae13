#include "ecom/features/features.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "ecom/core/error.hpp"

namespace ecom::features {

namespace {

template <class T>
std::size_t sort_unique_count(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  return static_cast<std::size_t>(std::unique(v.begin(), v.end()) - v.begin());
}

double ratio_or_zero(double num, double den) { return den > 0 ? num / den : 0.0; }

// Floor division for the (possibly negative) local time.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool is_night(int hour, const FeatureConfig& c) {
  if (c.night_start_hour == c.night_end_hour) return false;
  if (c.night_start_hour < c.night_end_hour)
    return hour >= c.night_start_hour && hour < c.night_end_hour;
  return hour >= c.night_start_hour || hour < c.night_end_hour;  // wraps midnight
}

}  // namespace

std::vector<std::string> feature_names() { return {kFeatureNames.begin(), kFeatureNames.end()}; }

int feature_index(std::string_view name) {
  for (int i = 0; i < kFeatureCount; ++i)
    if (kFeatureNames[static_cast<std::size_t>(i)] == name) return i;
  return -1;
}

std::vector<std::string> default_log1p_features() {
  static constexpr Feature kHeavy[] = {
      n_events,         n_views,           n_carts,      n_removes,         n_purchases,
      n_sessions,       active_days,       monetary,     distinct_products, distinct_categories,
      distinct_brands,  avg_basket,        max_purchase, avg_view_price,    events_per_session,
      session_duration, purchase_frequency};
  std::vector<std::string> out;
  for (Feature f : kHeavy) out.emplace_back(kFeatureNames[static_cast<std::size_t>(f)]);
  return out;
}

void validate(const FeatureConfig& c) {
  auto bad_hour = [](int h) { return h < 0 || h > 24; };
  if (bad_hour(c.night_start_hour) || bad_hour(c.night_end_hour))
    throw UserError("features: night hours must lie in [0, 24], got " +
                    std::to_string(c.night_start_hour) + ".." + std::to_string(c.night_end_hour));
  if (c.utc_offset_minutes < -24 * 60 || c.utc_offset_minutes > 24 * 60)
    throw UserError("features: utc_offset_minutes must lie in [-1440, 1440], got " +
                    std::to_string(c.utc_offset_minutes));
}

std::pair<std::uint32_t, std::uint32_t> local_time_range(std::span<const Event> events) {
  std::uint32_t lo = std::numeric_limits<std::uint32_t>::max(), hi = 0;
  for (const Event& e : events) {
    lo = std::min(lo, e.time);
    hi = std::max(hi, e.time);
  }
  return {lo, hi};
}

FeatureRow compute_user_features(std::span<const Event> user_events, const FeatureContext& ctx) {
  FeatureScratch scratch;
  return compute_user_features(user_events, ctx, scratch);
}

FeatureRow compute_user_features(std::span<const Event> ev, const FeatureContext& ctx,
                                 FeatureScratch& s) {
  if (ev.empty()) throw Error("compute_user_features: no events");
  const FeatureConfig& cfg = ctx.config;
  const std::uint64_t user = ev.front().user;
  s.products.clear();
  s.categories.clear();
  s.brands.clear();
  s.carted.clear();
  s.bought.clear();
  s.days.clear();
  s.session_times.clear();
  s.purchase_times.clear();

  std::uint64_t count[kEventTypes] = {0, 0, 0, 0};
  std::uint32_t t_first = std::numeric_limits<std::uint32_t>::max(), t_last = 0;
  std::uint32_t t_last_purchase = 0;
  double monetary_sum = 0, view_price_sum = 0, max_price = 0;
  std::uint64_t weekend = 0, night = 0;
  const std::int64_t offset = static_cast<std::int64_t>(cfg.utc_offset_minutes) * 60;

  // One pass in the given (time) order: the sums are therefore always added in the same order.
  for (const Event& e : ev) {
    if (e.user != user) throw Error("compute_user_features: events of more than one user");
    if (e.time < ctx.window_start || e.time > ctx.window_end)
      throw Error("compute_user_features: event time outside the feature window");
    const auto type = static_cast<std::size_t>(e.type);
    if (type >= static_cast<std::size_t>(kEventTypes))
      throw Error("compute_user_features: invalid event type");
    ++count[type];
    t_first = std::min(t_first, e.time);
    t_last = std::max(t_last, e.time);
    s.products.push_back(e.product);
    s.categories.push_back(e.category_id);
    if (e.brand != kUnknownStringId) s.brands.push_back(e.brand);
    s.days.push_back(e.time / 86400U);
    s.session_times.emplace_back(e.session, e.time);
    switch (e.type) {
      case EventType::view:
        view_price_sum += e.price;
        break;
      case EventType::cart:
        s.carted.push_back(e.product);
        break;
      case EventType::remove_from_cart:
        break;
      case EventType::purchase:
        monetary_sum += e.price;
        max_price = std::max(max_price, e.price);
        t_last_purchase = std::max(t_last_purchase, e.time);
        s.bought.push_back(e.product);
        s.purchase_times.emplace_back(e.session, e.time);
        break;
    }
    const std::int64_t local = static_cast<std::int64_t>(e.time) + offset;
    const std::int64_t day = floor_div(local, 86400);
    const std::int64_t weekday = ((day + 3) % 7 + 7) % 7;  // 1970-01-01 was a Thursday; Monday = 0
    if (weekday >= 5) ++weekend;
    const auto hour = static_cast<int>((local - day * 86400) / 3600);
    if (is_night(hour, cfg)) ++night;
  }

  // Extreme prices: the sums may even have overflowed to +inf (prices are finite and >= 0, so
  // never NaN); capping keeps every feature finite and every later sum over users in range.
  monetary_sum = std::min(monetary_sum, kMoneyCeiling);
  view_price_sum = std::min(view_price_sum, kMoneyCeiling);
  max_price = std::min(max_price, kMoneyCeiling);

  const double n = static_cast<double>(ev.size());
  const double views = static_cast<double>(count[0]);
  const double carts = static_cast<double>(count[1]);
  const double removes = static_cast<double>(count[2]);
  const double purchases = static_cast<double>(count[3]);

  // Sessions: distinct ids; duration of each = last − first of its events.
  std::sort(s.session_times.begin(), s.session_times.end());
  std::uint64_t sessions = 0, duration_sum = 0;
  for (std::size_t i = 0; i < s.session_times.size();) {
    std::size_t j = i;
    while (j < s.session_times.size() && s.session_times[j].first == s.session_times[i].first) ++j;
    ++sessions;
    duration_sum += s.session_times[j - 1].second - s.session_times[i].second;
    i = j;
  }

  // Baskets: the purchases of one session; a basket's time is its first purchase.
  std::sort(s.purchase_times.begin(), s.purchase_times.end());
  std::uint64_t baskets = 0;
  std::uint32_t first_basket = std::numeric_limits<std::uint32_t>::max(), last_basket = 0;
  for (std::size_t i = 0; i < s.purchase_times.size();) {
    std::size_t j = i;
    while (j < s.purchase_times.size() && s.purchase_times[j].first == s.purchase_times[i].first)
      ++j;
    ++baskets;
    first_basket = std::min(first_basket, s.purchase_times[i].second);
    last_basket = std::max(last_basket, s.purchase_times[i].second);
    i = j;
  }

  // Category counts for the Herfindahl index (by category_id, over all events).
  std::sort(s.categories.begin(), s.categories.end());
  std::uint64_t distinct_cat = 0, sum_sq = 0;
  for (std::size_t i = 0; i < s.categories.size();) {
    std::size_t j = i;
    while (j < s.categories.size() && s.categories[j] == s.categories[i]) ++j;
    ++distinct_cat;
    const std::uint64_t c = j - i;
    sum_sq += c * c;
    i = j;
  }

  // Cart abandonment: carted products never purchased by the user in the window.
  const std::size_t n_carted = sort_unique_count(s.carted);
  s.carted.resize(n_carted);
  const std::size_t n_bought = sort_unique_count(s.bought);
  s.bought.resize(n_bought);
  std::size_t abandoned = 0;
  for (std::size_t i = 0, j = 0; i < n_carted; ++i) {
    while (j < n_bought && s.bought[j] < s.carted[i]) ++j;
    if (j == n_bought || s.bought[j] != s.carted[i]) ++abandoned;
  }

  const double end = static_cast<double>(ctx.window_end);
  FeatureRow f{};
  f[n_events] = n;
  f[n_views] = views;
  f[n_carts] = carts;
  f[n_removes] = removes;
  f[n_purchases] = purchases;
  f[n_sessions] = static_cast<double>(sessions);
  f[active_days] = static_cast<double>(sort_unique_count(s.days));
  f[recency_days] = static_cast<double>(ctx.window_end - t_last) / kSecondsPerDay;
  f[monetary] = monetary_sum;
  f[distinct_products] = static_cast<double>(sort_unique_count(s.products));
  f[distinct_categories] = static_cast<double>(distinct_cat);
  f[distinct_brands] = static_cast<double>(sort_unique_count(s.brands));
  f[tenure_days] = static_cast<double>(t_last - t_first) / kSecondsPerDay;
  f[days_since_last_purchase] = count[3] > 0
                                    ? (end - static_cast<double>(t_last_purchase)) / kSecondsPerDay
                                    : ctx.undefined_days();
  f[avg_basket] = ratio_or_zero(monetary_sum, static_cast<double>(baskets));
  f[max_purchase] = max_price;
  const double mean_view = ratio_or_zero(view_price_sum, views);
  f[avg_view_price] = mean_view;
  const double mean_paid = ratio_or_zero(monetary_sum, purchases);
  f[price_sensitivity] = (count[0] > 0 && count[3] > 0 && mean_view + mean_paid > 0)
                             ? (mean_view - mean_paid) / (mean_view + mean_paid)
                             : 0.0;
  f[conversion_rate] = ratio_or_zero(purchases, views);
  f[cart_rate] = ratio_or_zero(carts, views);
  f[abandonment_rate] =
      ratio_or_zero(static_cast<double>(abandoned), static_cast<double>(n_carted));
  f[remove_rate] = ratio_or_zero(removes, carts);
  f[category_concentration] = static_cast<double>(sum_sq) / (n * n);
  f[weekend_share] = static_cast<double>(weekend) / n;
  f[night_share] = static_cast<double>(night) / n;
  f[events_per_session] = n / static_cast<double>(sessions);
  f[session_duration] = static_cast<double>(duration_sum) / static_cast<double>(sessions) / 60.0;
  const double observed = std::max(static_cast<double>(ctx.window_end - t_first), kSecondsPerDay);
  f[purchase_frequency] =
      static_cast<double>(baskets) * (kDaysPerMonth * kSecondsPerDay) / observed;
  f[mean_days_between_purchases] = baskets >= 2
                                       ? static_cast<double>(last_basket - first_basket) /
                                             kSecondsPerDay / static_cast<double>(baskets - 1)
                                       : ctx.undefined_days();
  return f;
}

std::vector<std::uint64_t> capped_users(const FeatureTable& table) {
  // The view price sum is not a feature: avg_view_price x n_views gives it back within an ulp.
  constexpr double kNearCeiling = kMoneyCeiling * (1 - 1e-12);
  std::vector<std::uint64_t> out;
  for (std::size_t r = 0; r < table.rows(); ++r)
    if (table.at(r, monetary) >= kMoneyCeiling || table.at(r, max_purchase) >= kMoneyCeiling ||
        table.at(r, avg_view_price) * table.at(r, n_views) >= kNearCeiling)
      out.push_back(table.users[r]);
  return out;
}

FeatureTable compute_features(std::span<const Event> events, const FeatureContext& ctx) {
  validate(ctx.config);
  if (!events.empty() && ctx.window_end < ctx.window_start)
    throw Error("compute_features: window end before window start");
  FeatureTable table;
  std::size_t users = 0;
  for (std::size_t i = 0; i < events.size(); ++i)
    if (i == 0 || events[i].user != events[i - 1].user) ++users;
  table.users.reserve(users);
  table.values.resize(users * kFeatureCount);
  FeatureScratch scratch;
  std::size_t row = 0;
  for (std::size_t i = 0; i < events.size();) {
    std::size_t j = i + 1;
    while (j < events.size() && events[j].user == events[i].user) ++j;
    if (!table.users.empty() && events[i].user <= table.users.back()) {
      std::ostringstream msg;
      msg << "compute_features: events not sorted by user (a user run at row " << i
          << " does not ascend)";
      throw Error(msg.str());
    }
    table.users.push_back(events[i].user);
    const FeatureRow f = compute_user_features(events.subspan(i, j - i), ctx, scratch);
    std::copy(f.begin(), f.end(),
              table.values.begin() + static_cast<std::ptrdiff_t>(row * kFeatureCount));
    ++row;
    i = j;
  }
  return table;
}

}  // namespace ecom::features
