// Per-user features against hand-computed users (docs/FEATURES.md gives the formulas), edge
// cases (one event, no purchase, purchases without views, zero prices, removes without carts),
// configuration (night hours, UTC offset) and the table over many users.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/features/features.hpp"

using namespace ecom;
using namespace ecom::features;

namespace {

constexpr std::uint32_t kDay = 86400;
constexpr std::uint32_t kHour = 3600;
constexpr std::uint32_t kMin = 60;
// 2019-10-01 00:00:00 UTC, a Tuesday (days_from_civil(2019, 10, 1) = 18170).
constexpr std::uint32_t D = 18170U * kDay;

Event ev(std::uint64_t user, std::uint32_t time, EventType type, std::uint64_t product,
         std::uint64_t category_id, std::uint64_t brand, double price, std::uint64_t session) {
  Event e{};
  e.user = user;
  e.time = time;
  e.type = type;
  e.product = product;
  e.category_id = category_id;
  e.category = 0;
  e.brand = brand;
  e.price = price;
  e.session = session;
  return e;
}

FeatureContext ten_days() {
  FeatureContext ctx;
  ctx.window_start = D;
  ctx.window_end = D + 10 * kDay;  // window 10 days; undefined days = 11
  return ctx;
}

// User A: three sessions on Sat 5, Mon 7 and Wed 9 October (see the comments for the values).
std::vector<Event> user_a(std::uint64_t user = 42) {
  const auto V = EventType::view, C = EventType::cart, R = EventType::remove_from_cart,
             P = EventType::purchase;
  return {
      // session 1, Saturday 02:00-02:20 (night, weekend): view, cart, buy product 100
      ev(user, D + 4 * kDay + 2 * kHour, V, 100, 1, 7, 10.0, 11),
      ev(user, D + 4 * kDay + 2 * kHour + 10 * kMin, C, 100, 1, 7, 10.0, 11),
      ev(user, D + 4 * kDay + 2 * kHour + 20 * kMin, P, 100, 1, 7, 10.0, 11),
      // session 2, Monday 12:00-13:00: product 200 carted then removed; 300 carted and bought
      // with a second 100
      ev(user, D + 6 * kDay + 12 * kHour, V, 200, 2, 0, 30.0, 22),
      ev(user, D + 6 * kDay + 12 * kHour + 5 * kMin, C, 200, 2, 0, 30.0, 22),
      ev(user, D + 6 * kDay + 12 * kHour + 6 * kMin, R, 200, 2, 0, 30.0, 22),
      ev(user, D + 6 * kDay + 12 * kHour + 30 * kMin, C, 300, 1, 8, 5.0, 22),
      ev(user, D + 6 * kDay + 13 * kHour, P, 100, 1, 7, 10.0, 22),
      ev(user, D + 6 * kDay + 13 * kHour, P, 300, 1, 8, 5.0, 22),
      // session 3, Wednesday 23:00: one view of a zero-priced product
      ev(user, D + 8 * kDay + 23 * kHour, V, 400, 3, 9, 0.0, 33),
  };
}

}  // namespace

TEST(Features, NamesAndOrder) {
  const std::vector<std::string> required = {"n_events",
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
                                             "distinct_brands"};
  const auto names = feature_names();
  ASSERT_EQ(names.size(), static_cast<std::size_t>(kFeatureCount));
  for (std::size_t i = 0; i < required.size(); ++i) EXPECT_EQ(names[i], required[i]);
  for (int i = 0; i < kFeatureCount; ++i)
    EXPECT_EQ(feature_index(names[static_cast<std::size_t>(i)]), i);
  EXPECT_EQ(feature_index("nope"), -1);
  auto sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end()) << "names must be unique";
  for (const auto& n : default_log1p_features()) EXPECT_GE(feature_index(n), 0) << n;
}

TEST(Features, HandComputedUserA) {
  const auto events = user_a();
  const FeatureRow f = compute_user_features(events, ten_days());
  EXPECT_EQ(f[n_events], 10);
  EXPECT_EQ(f[n_views], 3);
  EXPECT_EQ(f[n_carts], 3);
  EXPECT_EQ(f[n_removes], 1);
  EXPECT_EQ(f[n_purchases], 3);
  EXPECT_EQ(f[n_sessions], 3);
  EXPECT_EQ(f[active_days], 3);
  EXPECT_DOUBLE_EQ(f[recency_days],
                   25.0 / 24);  // last event Wed 9 Oct 23:00, window end 11 Oct 00:00
  EXPECT_DOUBLE_EQ(f[monetary], 25.0);
  EXPECT_EQ(f[distinct_products], 4);
  EXPECT_EQ(f[distinct_categories], 3);
  EXPECT_EQ(f[distinct_brands], 3);  // 7, 8, 9; the unknown brand does not count
  EXPECT_DOUBLE_EQ(f[tenure_days], 4.0 + 21.0 / 24);
  EXPECT_DOUBLE_EQ(f[days_since_last_purchase], 3.0 + 11.0 / 24);
  EXPECT_DOUBLE_EQ(f[avg_basket], 12.5);  // 25 over 2 baskets (sessions with a purchase)
  EXPECT_DOUBLE_EQ(f[max_purchase], 10.0);
  EXPECT_DOUBLE_EQ(f[avg_view_price], 40.0 / 3);
  EXPECT_DOUBLE_EQ(f[price_sensitivity], 3.0 / 13);  // (40/3 - 25/3) / (40/3 + 25/3)
  EXPECT_DOUBLE_EQ(f[conversion_rate], 1.0);
  EXPECT_DOUBLE_EQ(f[cart_rate], 1.0);
  EXPECT_DOUBLE_EQ(f[abandonment_rate], 1.0 / 3);  // 200 carted, never bought
  EXPECT_DOUBLE_EQ(f[remove_rate], 1.0 / 3);
  EXPECT_DOUBLE_EQ(f[category_concentration], 0.46);  // (6² + 3² + 1²) / 10²
  EXPECT_DOUBLE_EQ(f[weekend_share], 0.3);
  EXPECT_DOUBLE_EQ(f[night_share], 0.3);
  EXPECT_DOUBLE_EQ(f[events_per_session], 10.0 / 3);
  EXPECT_DOUBLE_EQ(f[session_duration], 80.0 / 3);  // (20 + 60 + 0) min / 3
  // 2 baskets over 5 d 22 h from first event to window end, per 30 days
  EXPECT_DOUBLE_EQ(f[purchase_frequency], 2.0 * 30 / (5.0 + 22.0 / 24));
  EXPECT_DOUBLE_EQ(f[mean_days_between_purchases], 2.0 + 640.0 / 1440);  // 2 d 10 h 40 min
}

TEST(Features, ConfigNightHoursAndUtcOffset) {
  const auto events = user_a();
  FeatureContext ctx = ten_days();
  ctx.config.night_start_hour = 22;  // wraps midnight: 22..6
  ctx.config.night_end_hour = 6;
  EXPECT_DOUBLE_EQ(compute_user_features(events, ctx)[night_share], 0.4);
  ctx.config.night_start_hour = 5;
  ctx.config.night_end_hour = 5;  // no night at all
  EXPECT_DOUBLE_EQ(compute_user_features(events, ctx)[night_share], 0.0);
  // Moscow time: Saturday 05:00-05:20, Monday 15:00-16:00, Thursday 02:00 -> night 0..6 = 4.
  ctx.config = FeatureConfig{};
  ctx.config.utc_offset_minutes = 180;
  auto f = compute_user_features(events, ctx);
  EXPECT_DOUBLE_EQ(f[night_share], 0.4);
  EXPECT_DOUBLE_EQ(f[weekend_share], 0.3);
  EXPECT_EQ(f[active_days], 3);  // always UTC dates
  // -3 h: Saturday 02:00 UTC becomes Friday 23:00 local: no weekend events left.
  ctx.config.utc_offset_minutes = -180;
  f = compute_user_features(events, ctx);
  EXPECT_DOUBLE_EQ(f[weekend_share], 0.0);
  EXPECT_DOUBLE_EQ(f[night_share], 0.0);  // 23:00, 09:xx, 10:xx, 20:00 local
  ctx.config.night_start_hour = 25;
  EXPECT_THROW(validate(ctx.config), UserError);
  EXPECT_THROW(compute_features(events, ctx), UserError);
}

TEST(Features, OneEventUser) {
  const std::vector<Event> events = {ev(5, D + 9 * kDay, EventType::view, 1, 77, 0, 0.0, 1)};
  const FeatureRow f = compute_user_features(events, ten_days());
  const FeatureRow expect = {1,
                             1,
                             0,
                             0,
                             0,
                             1,
                             1,
                             /*recency*/ 1.0,
                             /*monetary*/ 0,
                             1,
                             1,
                             /*brands*/ 0,
                             /*tenure*/ 0,
                             /*dslp: undefined*/ 11.0,
                             /*basket*/ 0,
                             /*max*/ 0,
                             /*view price*/ 0,
                             /*sensitivity*/ 0,
                             /*conv*/ 0,
                             /*cart*/ 0,
                             /*aband*/ 0,
                             /*remove*/ 0,
                             /*hhi*/ 1,
                             /*weekend (Thu)*/ 0,
                             /*night (00:00)*/ 1,
                             /*eps*/ 1,
                             /*dur*/ 0,
                             /*freq*/ 0,
                             /*gap: undefined*/ 11.0};
  for (int i = 0; i < kFeatureCount; ++i)
    EXPECT_DOUBLE_EQ(f[static_cast<std::size_t>(i)], expect[static_cast<std::size_t>(i)])
        << kFeatureNames[static_cast<std::size_t>(i)];
}

TEST(Features, PurchasesWithoutViewsAndZeroPrice) {
  // One session, two purchases 30 min apart (the second at price 0), nothing else.
  const std::vector<Event> events = {
      ev(9, D + kDay + 10 * kHour, EventType::purchase, 1, 5, 3, 20.0, 8),
      ev(9, D + kDay + 10 * kHour + 30 * kMin, EventType::purchase, 2, 6, 0, 0.0, 8)};
  const FeatureRow f = compute_user_features(events, ten_days());
  EXPECT_EQ(f[n_purchases], 2);
  EXPECT_EQ(f[n_sessions], 1);
  EXPECT_DOUBLE_EQ(f[monetary], 20.0);
  EXPECT_DOUBLE_EQ(f[avg_basket], 20.0);  // one basket (one session)
  EXPECT_DOUBLE_EQ(f[max_purchase], 20.0);
  EXPECT_DOUBLE_EQ(f[avg_view_price], 0.0);     // no views
  EXPECT_DOUBLE_EQ(f[price_sensitivity], 0.0);  // undefined without views
  EXPECT_DOUBLE_EQ(f[conversion_rate], 0.0);    // zero denominator
  EXPECT_DOUBLE_EQ(f[cart_rate], 0.0);
  EXPECT_DOUBLE_EQ(f[abandonment_rate], 0.0);
  EXPECT_DOUBLE_EQ(f[remove_rate], 0.0);
  EXPECT_DOUBLE_EQ(f[category_concentration], 0.5);
  EXPECT_EQ(f[distinct_brands], 1);
  EXPECT_DOUBLE_EQ(f[days_since_last_purchase], 8.0 + 13.5 / 24);
  EXPECT_DOUBLE_EQ(f[session_duration], 30.0);
  EXPECT_DOUBLE_EQ(f[purchase_frequency], 30.0 / (8.0 + 14.0 / 24));
  EXPECT_DOUBLE_EQ(f[mean_days_between_purchases], 11.0);  // one basket: undefined
  EXPECT_DOUBLE_EQ(f[tenure_days], 30.0 / 1440);
}

TEST(Features, ExtremePricesAreCappedAndReported) {
  // Issue 16 item 3: two purchases priced 1e308 and DBL_MAX overflowed the money sums (+inf) and
  // every later exact sum ("result exceeds the range of double"). Now capped at kMoneyCeiling.
  const double big = 1.7976931348623157e308;
  const std::vector<Event> events = {
      ev(9, D + kDay, EventType::view, 1, 5, 3, big, 8),
      ev(9, D + kDay + kMin, EventType::view, 1, 5, 3, big, 8),
      ev(9, D + kDay + 2 * kMin, EventType::purchase, 1, 5, 3, 1e308, 8),
      ev(9, D + kDay + 3 * kMin, EventType::purchase, 2, 6, 0, big, 8),
      ev(10, D + kDay, EventType::purchase, 2, 6, 0, 20.0, 8),
      ev(11, D + kDay, EventType::view, 2, 6, 0, big, 8),
      ev(11, D + kDay + kMin, EventType::view, 2, 6, 0, 1.0, 8)};
  const FeatureTable t = compute_features(events, ten_days());
  ASSERT_EQ(t.rows(), 3u);
  for (double v : t.values) EXPECT_TRUE(std::isfinite(v)) << v;
  EXPECT_EQ(t.at(0, monetary), kMoneyCeiling);
  EXPECT_EQ(t.at(0, max_purchase), kMoneyCeiling);
  EXPECT_EQ(t.at(0, avg_basket), kMoneyCeiling);
  EXPECT_EQ(t.at(0, avg_view_price), kMoneyCeiling / 2);
  EXPECT_EQ(t.at(0, price_sensitivity), 0.0);  // both means C / 2
  EXPECT_EQ(t.at(1, monetary), 20.0);
  EXPECT_EQ(t.at(2, avg_view_price), kMoneyCeiling / 2);  // one view sum capped
  EXPECT_EQ(capped_users(t), (std::vector<std::uint64_t>{9, 11}));
  // A sum over 2^40 users at the ceiling (and of their squares) stays finite.
  EXPECT_TRUE(std::isfinite(kMoneyCeiling * kMoneyCeiling * 0x1p40));
}

TEST(Features, RemovesWithoutCartsAcrossMidnight) {
  const std::vector<Event> events = {
      ev(3, D + 3 * kDay - 10, EventType::remove_from_cart, 5, 1, 0, 9.0, 4),
      ev(3, D + 3 * kDay + 10, EventType::remove_from_cart, 6, 1, 0, 9.0, 4),
      ev(3, D + 3 * kDay + 10, EventType::view, 5, 2, 0, 8.0, 4)};
  const FeatureRow f = compute_user_features(events, ten_days());
  EXPECT_EQ(f[n_removes], 2);
  EXPECT_DOUBLE_EQ(f[remove_rate], 0.0);  // no carts: zero denominator
  EXPECT_EQ(f[active_days], 2);           // the session spans two UTC dates
  EXPECT_EQ(f[n_sessions], 1);
  EXPECT_DOUBLE_EQ(f[session_duration], 20.0 / 60);
  EXPECT_DOUBLE_EQ(f[avg_view_price], 8.0);
  EXPECT_DOUBLE_EQ(f[category_concentration], 5.0 / 9);  // (2² + 1²) / 3²
  EXPECT_DOUBLE_EQ(f[weekend_share], 0.0);               // Thursday/Friday
  EXPECT_DOUBLE_EQ(f[night_share], 2.0 / 3);             // 00:00:10 twice
}

TEST(Features, DearerPurchasesGiveNegativeSensitivity) {
  const std::vector<Event> events = {ev(1, D, EventType::view, 1, 1, 0, 10.0, 1),
                                     ev(1, D + 1, EventType::purchase, 2, 1, 0, 30.0, 1)};
  EXPECT_DOUBLE_EQ(compute_user_features(events, ten_days())[price_sensitivity], -0.5);
  EXPECT_DOUBLE_EQ(compute_user_features(events, ten_days())[conversion_rate], 1.0);
}

TEST(Features, BadInputThrows) {
  auto events = user_a();
  events[3].user = 43;
  EXPECT_THROW(compute_user_features(events, ten_days()), Error);
  EXPECT_THROW(compute_user_features(std::span<const Event>{}, ten_days()), Error);
  auto late = user_a();
  FeatureContext ctx = ten_days();
  ctx.window_end = D + 5 * kDay;  // user A's last events are later
  EXPECT_THROW(compute_user_features(late, ctx), Error);
}

TEST(Features, TableOverUsersIsBlockIndependent) {
  // Users 1..40, each a copy of user A's pattern thinned by the user id, ascending runs.
  std::vector<Event> all;
  for (std::uint64_t u = 1; u <= 40; ++u) {
    const auto a = user_a(u * 1000);
    for (std::size_t i = 0; i < a.size(); ++i)
      if ((i + u) % 3 != 0 || i == 0) all.push_back(a[i]);
  }
  const FeatureContext ctx = ten_days();
  const FeatureTable table = compute_features(all, ctx);
  ASSERT_EQ(table.rows(), 40U);
  ASSERT_EQ(table.values.size(), 40U * kFeatureCount);
  // Each row equals the user computed alone, bit for bit, and any split of the events at user
  // boundaries gives the same rows.
  std::size_t begin = 0;
  for (std::size_t r = 0; r < table.rows(); ++r) {
    std::size_t end = begin;
    while (end < all.size() && all[end].user == all[begin].user) ++end;
    EXPECT_EQ(table.users[r], (r + 1) * 1000);
    const FeatureRow alone =
        compute_user_features(std::span<const Event>(all).subspan(begin, end - begin), ctx);
    EXPECT_EQ(std::memcmp(alone.data(), &table.values[r * kFeatureCount], sizeof alone), 0);
    const FeatureTable tail = compute_features(std::span<const Event>(all).subspan(begin), ctx);
    EXPECT_EQ(std::memcmp(tail.values.data(), &table.values[r * kFeatureCount],
                          tail.values.size() * sizeof(double)),
              0);
    begin = end;
  }
  EXPECT_EQ(compute_features({}, ctx).rows(), 0U);
  // A user split into two runs is refused.
  std::vector<Event> broken = all;
  std::swap(broken.front(), broken.back());
  EXPECT_THROW(compute_features(broken, ctx), Error);
  const auto range = local_time_range(all);
  EXPECT_EQ(range.first, D + 4 * kDay + 2 * kHour);
  EXPECT_EQ(range.second, D + 8 * kDay + 23 * kHour);
  EXPECT_EQ(local_time_range({}).second, 0U);
}
