#include "ecom/synth/preset.hpp"

#include "ecom/core/error.hpp"

namespace ecom::synth {

namespace {

// Archetype table helper: fields in the order of ArchetypeParams.
ArchetypeParams arch(double share, double s_min, double s_lambda) {
  ArchetypeParams a;
  a.share = share;
  a.sessions_min = s_min;
  a.sessions_lambda = s_lambda;
  return a;
}

void session_shape(ArchetypeParams& a, std::array<double, 5> pmf, double tail_q, double gap_s,
                   double stay) {
  a.views_pmf = pmf;
  a.views_tail_q = tail_q;
  a.gap_median_s = gap_s;
  a.session_stay = stay;
}

Preset make_multi_category() {
  Preset p;
  p.name = "multi-category";
  // Published 2019-Oct figures (../shared/data/rees46/SOURCES.md).
  auto& t = p.targets;
  t.type_share = {0.9607, 0.0218, 0.0, 0.0175};
  t.users_per_event = 3022290.0 / 42448764.0;     // 7.12%
  t.products_per_event = 166794.0 / 42448764.0;   // 0.393%
  t.sessions_per_event = 9244422.0 / 42448764.0;  // 21.78%
  t.empty_category_code = 0.3184;
  t.empty_brand = 0.1440;
  t.zero_price = 68673.0 / 42448764.0;  // 0.16%
  t.duplicate_share = 0.0;
  t.events_per_session_mean = 42448764.0 / 9244422.0;  // 4.59
  t.events_per_session_median = 2;
  t.events_per_session_p75 = 5;
  t.session_duration_median_s = 60;
  t.session_duration_mean_s = 17 * 60;

  using A = Archetype;
  // The archetypes differ in how often they come (sessions per month, the span of the window
  // they are active in), how long they stay (views per session, seconds between events), what
  // they look at (price level, breadth of categories), when (night, weekend) and what they do
  // (cart, buy); docs/SEGMENTS.md ("The planted archetypes") tabulates them. Their shares and
  // rates are set so that the mix meets the targets above: about 0.246 purchases, 0.31 carts,
  // 3.06 sessions and 14 rows per user (tests/e2e/check_synth.py checks the realised figures).

  // Window shoppers: come back every week or so for long, broad browsing sessions, mostly late
  // in the evening and at night; never put anything in the cart.
  auto& ws = p.archetypes[static_cast<int>(A::window_shopper)];
  ws = arch(0.300, 3, 1.2);
  session_shape(ws, {0.36, 0.14, 0.08, 0.06, 0.05}, 0.08, 36, 0.5);
  ws.taste_focus = 0.3;
  ws.revisit = 0.15;
  ws.night_boost = 15.0;
  ws.weekend_boost = 0.7;
  ws.future_per_14d = 0.05;

  // Bargain hunters: cheap products, mostly at weekends; compare, then buy about once.
  auto& bh = p.archetypes[static_cast<int>(A::bargain_hunter)];
  bh = arch(0.065, 3, 1.0);
  session_shape(bh, {0.10, 0.25, 0.25, 0.15, 0.10}, 0.3, 30, 0.8);
  bh.purchases_min = 1;
  bh.purchases_lambda = 0.1;
  bh.cart_before_purchase = 0.15;
  bh.buy_in = BuyIn::last;
  bh.price = PriceTaste::cheap;
  bh.taste_focus = 0.8;
  bh.favourite = 0.9;
  bh.favourites = 1;
  bh.revisit = 0.3;
  bh.weekend_boost = 6.0;
  bh.future_per_14d = 0.5;

  // Loyal regulars: short, focused daytime visits every few days, spread evenly over the
  // month, in their favourite categories; buy at least twice a month.
  auto& lr = p.archetypes[static_cast<int>(A::loyal_regular)];
  lr = arch(0.050, 6, 2.0);
  session_shape(lr, {0.50, 0.25, 0.12, 0.07, 0.03}, 0.5, 24, 0.95);
  lr.purchases_min = 2;
  lr.purchases_lambda = 0.2;
  lr.cart_before_purchase = 0.15;
  lr.buy_in = BuyIn::spread;
  lr.taste_focus = 0.95;
  lr.favourite = 0.8;
  lr.revisit = 0.4;
  lr.night_boost = 0.2;
  lr.weekend_boost = 0.5;
  lr.future_per_14d = 1.2;

  // Top spenders: a few daytime sessions on expensive products; buy about once, expensively.
  auto& ts = p.archetypes[static_cast<int>(A::top_spender)];
  ts = arch(0.065, 3, 1.0);
  session_shape(ts, {0.10, 0.20, 0.25, 0.20, 0.10}, 0.3, 48, 0.8);
  ts.purchases_min = 1;
  ts.purchases_lambda = 0.1;
  ts.cart_before_purchase = 0.15;
  ts.buy_in = BuyIn::last;
  ts.price = PriceTaste::expensive;
  ts.taste_focus = 0.85;
  ts.favourite = 0.9;
  ts.favourites = 1;
  ts.revisit = 0.3;
  ts.night_boost = 0.3;
  ts.future_per_14d = 0.6;

  // Cart abandoners: put one or two things in the cart and never buy.
  auto& ca = p.archetypes[static_cast<int>(A::cart_abandoner)];
  ca = arch(0.140, 2, 1.0);
  session_shape(ca, {0.30, 0.20, 0.15, 0.12, 0.08}, 0.25, 30, 0.8);
  ca.carts_min = 1;
  ca.carts_per_view = 0.1;
  ca.taste_focus = 0.8;
  ca.revisit = 0.3;
  ca.future_per_14d = 0.15;

  // Dormant: one short visit in the first week of the window, never back.
  auto& dm = p.archetypes[static_cast<int>(A::dormant)];
  dm = arch(0.380, 1, 0.05);
  session_shape(dm, {0.55, 0.25, 0.10, 0.05, 0.03}, 0.6, 30, 0.9);
  dm.span_begin = 0.0;
  dm.span_end = 0.2;
  dm.stratified = false;
  dm.taste_focus = 0.8;
  dm.revisit = 0.2;
  dm.future_per_14d = 0.02;

  p.gap_sigma = 2.15;
  p.gap_cap_s = 3 * 3600;
  p.duplicate_prob = {0, 0, 0, 0};

  p.catalogue_factor = 1.0;
  p.products_per_category = 64;
  p.min_categories = 32;
  p.max_categories = 624;
  p.products_per_brand = 48;
  p.category_price_mu = 4.1;  // median category price ~60
  p.category_price_sigma = 1.1;
  p.product_price_sigma = 0.8;
  p.price_min = 0.79;
  p.price_max = 2574.07;
  p.product_id = {1000000, 59000000};  // 1000000 .. 59999999
  p.category_id = {2053013552000000000ULL, 180000000000000000ULL};
  p.user_id = {512000000, 88000000};  // 512000000 .. 599999999
  p.cosmetics_codes = false;
  return p;
}

Preset make_cosmetics() {
  Preset p;
  p.name = "cosmetics";
  // Published Oct 2019 - Feb 2020 figures of the cosmetics shop (SOURCES.md).
  auto& t = p.targets;
  t.type_share = {0.467, 0.279, 0.192, 0.062};
  t.users_per_event = 1639358.0 / 20692840.0;     // 7.9% (whole 5-month set)
  t.products_per_event = 54571.0 / 20692840.0;    // 0.26%
  t.sessions_per_event = 4535941.0 / 20692840.0;  // 21.9%
  t.empty_category_code = 0.983;
  t.empty_brand = 0.423;
  t.zero_price = 0.0;
  t.duplicate_share = 1109098.0 / 20692840.0;  // 5.36%

  using A = Archetype;
  auto& ws = p.archetypes[static_cast<int>(A::window_shopper)];
  ws = arch(0.350, 2, 1.0);
  ws.carts_per_view = 0.2;
  ws.remove_after_cart = 0.75;
  ws.taste_focus = 0.6;
  ws.revisit = 0.2;
  ws.night_boost = 2.5;
  ws.future_per_14d = 0.05;

  auto& bh = p.archetypes[static_cast<int>(A::bargain_hunter)];
  bh = arch(0.080, 2, 1.0);
  bh.carts_per_view = 0.6;
  bh.remove_after_cart = 0.6;
  bh.purchases_min = 1;
  bh.purchases_lambda = 2.0;
  bh.cart_before_purchase = 1.0;
  bh.price = PriceTaste::cheap;
  bh.favourite = 0.7;
  bh.revisit = 0.3;
  bh.weekend_boost = 2.5;
  bh.future_per_14d = 0.6;

  auto& lr = p.archetypes[static_cast<int>(A::loyal_regular)];
  lr = arch(0.070, 5, 2.0);
  lr.carts_per_view = 0.5;
  lr.remove_after_cart = 0.5;
  lr.purchases_min = 2;
  lr.purchases_lambda = 4.0;
  lr.cart_before_purchase = 1.0;
  lr.taste_focus = 0.95;
  lr.favourite = 0.6;
  lr.revisit = 0.4;
  lr.future_per_14d = 1.5;

  auto& ts = p.archetypes[static_cast<int>(A::top_spender)];
  ts = arch(0.050, 2, 1.0);
  ts.carts_per_view = 0.6;
  ts.remove_after_cart = 0.5;
  ts.purchases_min = 1;
  ts.purchases_lambda = 3.0;
  ts.cart_before_purchase = 1.0;
  ts.price = PriceTaste::expensive;
  ts.favourite = 0.7;
  ts.revisit = 0.3;
  ts.future_per_14d = 0.8;

  auto& ca = p.archetypes[static_cast<int>(A::cart_abandoner)];
  ca = arch(0.140, 2, 1.0);
  ca.carts_min = 1;
  ca.carts_per_view = 1.0;
  ca.remove_after_cart = 0.85;
  ca.revisit = 0.3;
  ca.future_per_14d = 0.2;

  auto& dm = p.archetypes[static_cast<int>(A::dormant)];
  dm = arch(0.310, 1, 0.3);
  dm.carts_per_view = 0.2;
  dm.remove_after_cart = 0.7;
  dm.span_end = 0.25;
  dm.stratified = false;
  dm.revisit = 0.2;
  dm.future_per_14d = 0.02;

  for (auto& a : p.archetypes) session_shape(a, {0.55, 0.20, 0.10, 0.05, 0.03}, 0.3, 25, 0.8);
  p.gap_sigma = 2.0;
  p.gap_cap_s = 3 * 3600;
  // Published repeat rates per event type (SOURCES.md: remove_from_cart 24.9%, cart 2.0%,
  // purchase 0.07%, view 0.01% of the rows of the type) as probabilities that a row is written
  // twice, r / (1 - r); with the type shares they give the 5.36% of exact duplicate rows.
  p.duplicate_prob = {0.0001, 0.0204, 0.3316, 0.0007};

  p.catalogue_factor = 1.0;
  p.products_per_category = 64;
  p.min_categories = 32;
  p.max_categories = 525;
  p.products_per_brand = 20;
  p.category_price_mu = 1.8;  // median category price ~6
  p.category_price_sigma = 0.8;
  p.product_price_sigma = 0.7;
  p.price_min = 0.05;
  p.price_max = 327.78;
  p.product_id = {3700, 5946300};  // 3700 .. 5949999
  p.category_id = {1487580000000000000ULL, 720000000000000000ULL};
  p.user_id = {100000000, 490000000};  // 100000000 .. 589999999
  p.cosmetics_codes = true;
  return p;
}

}  // namespace

const Preset& preset_by_name(std::string_view name) {
  static const Preset multi = make_multi_category();
  static const Preset cosmetics = make_cosmetics();
  if (name == "multi-category") return multi;
  if (name == "cosmetics") return cosmetics;
  throw UserError("unknown preset '" + std::string(name) + "' (multi-category or cosmetics)");
}

}  // namespace ecom::synth
