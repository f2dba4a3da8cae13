#pragma once
// Presets of the synthetic REES46 generator: the published figures each preset is calibrated
// to (Targets, from ../shared/data/rees46/SOURCES.md) and the behavioural parameters of the six
// planted archetypes (docs/SEGMENTS.md, "The planted archetypes").
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ecom::synth {

inline constexpr int kArchetypes = 6;
enum class Archetype : std::uint8_t {
  window_shopper = 0,
  bargain_hunter = 1,
  loyal_regular = 2,
  top_spender = 3,
  cart_abandoner = 4,
  dormant = 5,
};
inline constexpr std::array<std::string_view, kArchetypes> kArchetypeNames = {
    "window_shopper", "bargain_hunter", "loyal_regular",
    "top_spender",    "cart_abandoner", "dormant"};

// How an archetype chooses products by price: neutral, cheap (bargain) or expensive.
enum class PriceTaste : std::uint8_t { neutral = 0, cheap = 1, expensive = 2 };
inline constexpr int kPriceTastes = 3;

// Which sessions hold an archetype's purchases: distinct random sessions (while there are
// any), the user's last session, or sessions spread evenly over the user's sessions.
enum class BuyIn : std::uint8_t { any = 0, last = 1, spread = 2 };

// Per-archetype behaviour. Counts are per 31-day window and scale with the window length.
struct ArchetypeParams {
  double share = 0;         // of users
  double sessions_min = 1;  // sessions = min + Poisson(lambda)
  double sessions_lambda = 0;
  double carts_min = 0;  // abandoned-cart episodes = min + Poisson(lambda + per_view*views)
  double carts_lambda = 0;
  double carts_per_view = 0;
  double purchases_min = 0;  // purchase episodes = min + Poisson(lambda + per_view*views)
  double purchases_lambda = 0;
  double purchases_per_view = 0;
  double cart_before_purchase = 0;  // a cart event precedes the purchase with this probability
  double remove_after_cart = 0;     // an abandoned cart is followed by remove_from_cart
  BuyIn buy_in = BuyIn::any;
  PriceTaste price = PriceTaste::neutral;
  // Views per session: P(1..5), then 6 + Geometric(views_tail_q) (mean (1-q)/q), capped.
  std::array<double, 5> views_pmf{0.40, 0.155, 0.085, 0.065, 0.07};
  double views_tail_q = 0.134;
  double gap_median_s = 25;             // median seconds between consecutive events of a session
  double session_stay = 0.8;            // a view stays in the session's focus category
  double taste_focus = 0.8;             // a session's category comes from the user's taste group
  double favourite = 0.0;               // ... or from the user's favourite categories
  int favourites = 2;                   // how many favourite categories (1 or 2)
  double revisit = 0.25;                // a view goes back to a product the user viewed before
  double span_begin = 0, span_end = 1;  // activity span, fractions of the window
  bool stratified = true;               // sessions spread evenly over the span (else independent)
  double weekend_boost = 1, night_boost = 1;  // multipliers of Sat/Sun and 22:00-05:59 UTC
  double future_per_14d = 0;                  // expected purchases in 14 days after the window
};

// The published figures a preset is calibrated to (shares of rows unless noted).
struct Targets {
  std::array<double, 4> type_share{};  // view, cart, remove_from_cart, purchase
  double users_per_event = 0;
  double products_per_event = 0;
  double sessions_per_event = 0;
  double empty_category_code = 0;
  double empty_brand = 0;
  double zero_price = 0;
  double duplicate_share = 0;          // exact duplicate rows / rows
  double events_per_session_mean = 0;  // 0: no target
  double events_per_session_median = 0;
  double events_per_session_p75 = 0;
  double session_duration_median_s = 0;
  double session_duration_mean_s = 0;
};

// Shape of the ids of a data set: id = base + affine permutation of the index mod range.
struct IdShape {
  std::uint64_t base = 0;
  std::uint64_t range = 0;
};

struct Preset {
  std::string name;
  Targets targets;
  std::array<ArchetypeParams, kArchetypes> archetypes{};
  int views_cap = 400;  // views per session at most
  // Seconds between consecutive events of a session: lognormal(archetype median, gap_sigma),
  // rounded, clamped to [1, gap_cap_s].
  double gap_sigma = 2.0;
  double gap_cap_s = 3 * 3600;
  // Exact duplicate rows: probability that a row is written twice, per event type.
  std::array<double, 4> duplicate_prob{};
  // Catalogue.
  double catalogue_factor = 1.0;      // catalogue size / target distinct products
  double products_per_category = 64;  // sets the number of categories
  int min_categories = 32, max_categories = 624;
  double products_per_brand = 48;
  double category_price_mu = 4.1;  // log median price of a category
  double category_price_sigma = 1.1;
  double product_price_sigma = 0.8;  // log price spread within a category
  double price_min = 0.79, price_max = 2574.07;
  // Price taste: cheap/expensive users weight a product by (price / category median)^(-/+ g)
  // and a category by (median / shop median)^(-/+ g_category).
  double price_gamma = 2.5, price_gamma_category = 1.5;
  IdShape product_id, category_id, user_id;
  bool cosmetics_codes = false;  // category_code vocabulary
};

// "multi-category" or "cosmetics"; throws UserError otherwise.
const Preset& preset_by_name(std::string_view name);

}  // namespace ecom::synth
