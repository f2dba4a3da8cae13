#include "ecom/synth/model.hpp"

#include <algorithm>
#include <cmath>

#include "ecom/core/error.hpp"
#include "ecom/par/random.hpp"
#include "ecom/synth/format.hpp"

namespace ecom::synth {

namespace {

double expected_views_per_session(const ArchetypeParams& a) {
  double e = 0, mass = 0;
  for (int k = 0; k < 5; ++k) {
    e += (k + 1) * a.views_pmf[static_cast<std::size_t>(k)];
    mass += a.views_pmf[static_cast<std::size_t>(k)];
  }
  return e + (1.0 - mass) * (6.0 + (1.0 - a.views_tail_q) / a.views_tail_q);
}

std::uint32_t products_wanted(const ModelOptions& o, const Preset& p, const Calendar& cal) {
  const double n = static_cast<double>(o.events) * p.targets.products_per_event / cal.scale() *
                   p.catalogue_factor;
  return static_cast<std::uint32_t>(std::clamp(std::llround(n), 16LL, 100000000LL));
}

const Preset& checked_preset(const ModelOptions& o) {
  if (o.events < 100) throw UserError("--events must be at least 100");
  if (o.taste_groups < 1 || o.taste_groups > 1024)
    throw UserError("--taste-groups must be in 1..1024");
  return preset_by_name(o.preset);
}

int poisson(par::Stream& s, double lambda) {
  if (lambda <= 0) return 0;
  if (lambda > 30)
    return std::max(0, static_cast<int>(std::lround(lambda + std::sqrt(lambda) * s.normal())));
  const double limit = std::exp(-lambda);
  double p = s.uniform();
  int k = 0;
  while (p > limit) {
    ++k;
    p *= s.uniform();
  }
  return k;
}

// min * max(1, scale), stochastically rounded, + Poisson(lambda * scale).
int scaled_count(par::Stream& s, double min, double lambda, double scale) {
  const double m = min * std::max(1.0, scale);
  int base = static_cast<int>(m);
  if (s.uniform() < m - base) ++base;
  return base + poisson(s, lambda * scale);
}

int draw_views(par::Stream& s, const ArchetypeParams& a, int cap) {
  const double u = s.uniform();
  double acc = 0;
  for (int k = 0; k < 5; ++k) {
    acc += a.views_pmf[static_cast<std::size_t>(k)];
    if (u < acc) return k + 1;
  }
  const double g = std::floor(std::log(1.0 - s.uniform()) / std::log(1.0 - a.views_tail_q));
  return static_cast<int>(std::min<double>(cap, 6.0 + g));
}

template <std::size_t N>
int pick_hour(const std::array<double, N>& cum, double u) {
  const double x = u * cum[N - 1];
  const auto i = static_cast<int>(std::upper_bound(cum.begin(), cum.end(), x) - cum.begin());
  return std::min(i, static_cast<int>(N) - 1);
}

}  // namespace

Model::Model(const ModelOptions& opts)
    : preset_(checked_preset(opts)),
      seed_(opts.seed),
      calendar_(opts.months, opts.future_days),
      catalogue_(preset_, opts.seed, products_wanted(opts, preset_, calendar_), opts.taste_groups) {
  for (int a = 0; a < kArchetypes; ++a)
    rows_per_user_ += preset_.archetypes[static_cast<std::size_t>(a)].share * expected_rows(a);
  users_ = static_cast<std::uint64_t>(
      std::max(1LL, std::llround(static_cast<double>(opts.events) / rows_per_user_)));
  if (users_ > preset_.user_id.range)
    throw UserError("--events is too large for the id space of the preset");
  const int D = calendar_.days();
  for (int a = 0; a < kArchetypes; ++a) {
    const auto& ap = preset_.archetypes[static_cast<std::size_t>(a)];
    auto& dc = day_cum_[static_cast<std::size_t>(a)];
    dc.assign(static_cast<std::size_t>(D) + 1, 0.0);
    for (int d = 0; d < D; ++d) {
      const int wd = calendar_.weekday(d);
      const double w = calendar_.day_weight(d) * (wd >= 5 ? ap.weekend_boost : 1.0);
      dc[static_cast<std::size_t>(d) + 1] = dc[static_cast<std::size_t>(d)] + w;
    }
    auto& hc = hour_cum_[static_cast<std::size_t>(a)];
    double acc = 0;
    for (int h = 0; h < 24; ++h) {
      const bool night = h >= 22 || h < 6;
      acc += Calendar::hour_weight(h) * (night ? ap.night_boost : 1.0);
      hc[static_cast<std::size_t>(h)] = acc;
    }
  }
}

std::uint64_t Model::user_id(std::uint64_t index) const {
  return permuted_id(preset_.user_id, seed_ ^ 0x165667b1ULL, index);
}

double Model::expected_rows(int archetype) const {
  const auto& a = preset_.archetypes[static_cast<std::size_t>(archetype)];
  const double s = calendar_.scale();
  const double lift = std::max(1.0, s);
  const double sessions = a.sessions_min * lift + a.sessions_lambda * s;
  const double views = sessions * expected_views_per_session(a);
  const double carts = a.carts_min * lift + a.carts_lambda * s + a.carts_per_view * views;
  const double purchases =
      a.purchases_min * lift + a.purchases_lambda * s + a.purchases_per_view * views;
  const double cart_rows = carts + purchases * a.cart_before_purchase;
  const double remove_rows = carts * a.remove_after_cart;
  const auto& d = preset_.duplicate_prob;
  return views * (1 + d[0]) + cart_rows * (1 + d[1]) + remove_rows * (1 + d[2]) +
         purchases * (1 + d[3]);
}

void generate_user(const Model& m, std::uint64_t idx, UserData& out, UserScratch& sc) {
  const Preset& pr = m.preset();
  const Calendar& cal = m.calendar();
  const Catalogue& cat = m.catalogue();
  const double scale = cal.scale();
  out.index = idx;
  out.user_id = m.user_id(idx);
  out.sessions.clear();
  out.events.clear();
  out.future.clear();

  // --- who the user is -----------------------------------------------------------------
  par::Stream us(m.seed(), par::Purpose::synth_user, idx);
  {
    const double u = us.uniform();
    double acc = 0;
    int a = 0;
    for (; a < kArchetypes - 1; ++a) {
      acc += pr.archetypes[static_cast<std::size_t>(a)].share;
      if (u < acc) break;
    }
    out.archetype = a;
  }
  const ArchetypeParams& ap = pr.archetypes[static_cast<std::size_t>(out.archetype)];
  const int group = static_cast<int>(us.index(static_cast<std::uint64_t>(cat.taste_groups())));
  out.taste_group = group;
  const std::uint32_t fav[2] = {cat.draw_category(group, ap.price, us.uniform()),
                                cat.draw_category(group, ap.price, us.uniform())};
  const int n_sessions = std::max(1, scaled_count(us, ap.sessions_min, ap.sessions_lambda, scale));

  auto choose_category = [&](par::Stream& s) {
    const double u = s.uniform();
    if (u < ap.favourite) return ap.favourites == 1 ? fav[0] : fav[s.index(2)];
    const double v = s.uniform();
    return cat.draw_category(v < ap.taste_focus ? group : -1, ap.price, s.uniform());
  };

  // --- sessions: when ----------------------------------------------------------------------
  par::Stream es(m.seed(), par::Purpose::synth_event, idx);
  const int D = cal.days();
  const auto& dcum = m.day_cum(out.archetype);
  const auto& hcum = m.hour_cum(out.archetype);
  const int d0 = std::clamp(static_cast<int>(std::floor(ap.span_begin * D)), 0, D - 1);
  const int d1 = std::clamp(static_cast<int>(std::ceil(ap.span_end * D)), d0 + 1, D);
  const double w0 = dcum[static_cast<std::size_t>(d0)], w1 = dcum[static_cast<std::size_t>(d1)];
  std::vector<std::uint32_t>& starts = sc.order;
  starts.clear();
  for (int k = 0; k < n_sessions; ++k) {
    const double f = ap.stratified ? (k + es.uniform()) / n_sessions : es.uniform();
    const double x = w0 + f * (w1 - w0);
    int day = static_cast<int>(std::upper_bound(dcum.begin(), dcum.end(), x) - dcum.begin()) - 1;
    day = std::clamp(day, d0, d1 - 1);
    const int hour = pick_hour(hcum, es.uniform());
    const auto sec = static_cast<std::uint32_t>(es.index(3600));
    starts.push_back(static_cast<std::uint32_t>(day) * 86400u +
                     static_cast<std::uint32_t>(hour) * 3600u + sec);
  }
  std::sort(starts.begin(), starts.end());

  // --- sessions: what is viewed --------------------------------------------------------------
  sc.items.clear();
  sc.viewed.clear();
  sc.session_views.clear();
  sc.session_first.clear();
  out.sessions.resize(static_cast<std::size_t>(n_sessions));
  for (int i = 0; i < n_sessions; ++i) {
    GenSession& gs = out.sessions[static_cast<std::size_t>(i)];
    gs.uuid_hi = es.bits();
    gs.uuid_lo = es.bits();
    make_uuid_v4(gs.uuid_hi, gs.uuid_lo);
    const int views = draw_views(es, ap, pr.views_cap);
    sc.session_views.push_back(static_cast<std::uint32_t>(views));
    sc.session_first.push_back(static_cast<std::uint32_t>(sc.items.size()));
    const std::uint32_t focus = choose_category(es);
    for (int v = 0; v < views; ++v) {
      std::uint32_t product;
      if (!sc.viewed.empty() && es.uniform() < ap.revisit) {
        product = sc.viewed[es.index(sc.viewed.size())];
      } else {
        const std::uint32_t c = es.uniform() < ap.session_stay ? focus : choose_category(es);
        product = cat.draw_product(c, group, ap.price, es.uniform());
      }
      sc.viewed.push_back(product);
      sc.items.push_back({static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(v), 0, product,
                          EventType::view});
    }
  }

  // --- carts, removals and purchases, anchored on a view -------------------------------------
  const double total_views = static_cast<double>(sc.viewed.size());
  const std::size_t n_view_items = sc.items.size();
  std::uint32_t seq = 1;
  auto anchor = [&]() -> const UserScratch::Item& {
    return sc.items[static_cast<std::size_t>(es.index(n_view_items))];
  };
  const int n_carts = scaled_count(es, ap.carts_min, ap.carts_lambda, scale) +
                      poisson(es, ap.carts_per_view * total_views);
  for (int k = 0; k < n_carts; ++k) {
    const UserScratch::Item at = anchor();
    sc.items.push_back({at.session, at.pos, seq++, at.product, EventType::cart});
    if (es.uniform() < ap.remove_after_cart)
      sc.items.push_back({at.session, at.pos, seq++, at.product, EventType::remove_from_cart});
  }
  const int n_purchases = scaled_count(es, ap.purchases_min, ap.purchases_lambda, scale) +
                          poisson(es, ap.purchases_per_view * total_views);
  // The session of each purchase (ArchetypeParams::buy_in): the last session (the purchase
  // closes the comparison), sessions spread evenly over the user's sessions (one stratum each:
  // a regular buyer's baskets), or distinct random sessions while there are any left. Within
  // its session the buyer takes the cheapest viewed product (price taste cheap), the dearest
  // (expensive) or any viewed one.
  std::vector<std::uint32_t>& free_sessions = sc.session_pick;
  free_sessions.resize(static_cast<std::size_t>(n_sessions));
  for (int i = 0; i < n_sessions; ++i)
    free_sessions[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(i);
  std::size_t n_free = free_sessions.size();
  for (int k = 0; k < n_purchases; ++k) {
    std::uint32_t session;
    if (ap.buy_in == BuyIn::last) {
      session = static_cast<std::uint32_t>(n_sessions - 1);
    } else if (ap.buy_in == BuyIn::spread && n_purchases <= n_sessions) {
      const double f = (k + 0.25 + 0.5 * es.uniform()) / n_purchases;
      session =
          static_cast<std::uint32_t>(std::min<double>(n_sessions - 1, std::floor(f * n_sessions)));
    } else if (n_free > 0) {
      const std::size_t j = static_cast<std::size_t>(es.index(n_free));
      session = free_sessions[j];
      std::swap(free_sessions[j], free_sessions[--n_free]);
    } else {
      session = static_cast<std::uint32_t>(es.index(static_cast<std::uint64_t>(n_sessions)));
    }
    const std::size_t first = sc.session_first[session], count = sc.session_views[session];
    std::size_t pick = first + static_cast<std::size_t>(es.index(count));
    if (ap.price != PriceTaste::neutral) {
      for (std::size_t v = first; v < first + count; ++v) {
        const std::uint32_t pv = cat.products()[sc.items[v].product].price_cents;
        const std::uint32_t pp = cat.products()[sc.items[pick].product].price_cents;
        if (ap.price == PriceTaste::cheap ? pv < pp : pv > pp) pick = v;
      }
    }
    const UserScratch::Item at = sc.items[pick];
    if (es.uniform() < ap.cart_before_purchase)
      sc.items.push_back({at.session, at.pos, seq++, at.product, EventType::cart});
    sc.items.push_back({at.session, at.pos, seq++, at.product, EventType::purchase});
  }
  std::sort(sc.items.begin(), sc.items.end(), [](const auto& x, const auto& y) {
    return x.session != y.session ? x.session < y.session
                                  : (x.pos != y.pos ? x.pos < y.pos : x.seq < y.seq);
  });

  // --- times: gaps within sessions; sessions end inside the window -------------------------
  const std::uint32_t W = cal.window_seconds();
  const double mu = std::log(ap.gap_median_s);
  const bool any_dup =
      pr.duplicate_prob[0] + pr.duplicate_prob[1] + pr.duplicate_prob[2] + pr.duplicate_prob[3] > 0;
  sc.events.clear();
  std::size_t it = 0;
  for (int i = 0; i < n_sessions; ++i) {
    const std::size_t begin = it;
    const std::size_t first_event = sc.events.size();
    std::uint64_t t = starts[static_cast<std::size_t>(i)];
    for (; it < sc.items.size() && sc.items[it].session == static_cast<std::uint32_t>(i); ++it) {
      if (it > begin) {
        const double g = std::exp(mu + pr.gap_sigma * es.normal());
        t += static_cast<std::uint64_t>(std::clamp(std::round(g), 1.0, pr.gap_cap_s));
      }
      sc.events.push_back({static_cast<std::uint32_t>(std::min<std::uint64_t>(t, UINT32_MAX)),
                           sc.items[it].product, static_cast<std::uint32_t>(i), sc.items[it].type,
                           false});
    }
    // Shift a session that would run past the window back inside it.
    if (t >= W && first_event < sc.events.size()) {
      const std::uint64_t shift = std::min<std::uint64_t>(t - (W - 1), sc.events[first_event].time);
      for (std::size_t e = first_event; e < sc.events.size(); ++e)
        sc.events[e].time =
            static_cast<std::uint32_t>(std::min<std::uint64_t>(sc.events[e].time - shift, W - 1));
    }
  }
  // Epoch times, exact duplicates, time order.
  out.events.reserve(sc.events.size() + sc.events.size() / 8);
  for (GenEvent e : sc.events) {
    e.time += cal.start();
    out.events.push_back(e);
    if (any_dup && es.uniform() < pr.duplicate_prob[static_cast<std::size_t>(e.type)]) {
      e.duplicate = true;
      out.events.push_back(e);
    }
  }
  std::stable_sort(out.events.begin(), out.events.end(),
                   [](const GenEvent& x, const GenEvent& y) { return x.time < y.time; });
  for (auto& s : out.sessions) {
    s.start = UINT32_MAX;
    s.end = 0;
    s.rows = 0;
  }
  for (const GenEvent& e : out.events) {
    GenSession& s = out.sessions[e.session];
    s.start = std::min(s.start, e.time);
    s.end = std::max(s.end, e.time);
    ++s.rows;
  }

  // --- the future: purchases after the window, drawn from the same tastes -----------------
  const int F = cal.future_days();
  if (F > 0 && ap.future_per_14d > 0) {
    par::Stream fs(m.seed(), par::Purpose::synth_user, idx | kFutureTag);
    const int n = poisson(fs, ap.future_per_14d * F / 14.0);
    if (n > 0) {
      // Candidates: products viewed in the window and not purchased there.
      std::vector<std::uint32_t>& cand = sc.viewed;
      std::sort(cand.begin(), cand.end());
      cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
      std::vector<std::uint32_t> bought;
      for (const auto& e : out.events)
        if (e.type == EventType::purchase) bought.push_back(e.product);
      std::sort(bought.begin(), bought.end());
      std::erase_if(cand, [&](std::uint32_t p) {
        return std::binary_search(bought.begin(), bought.end(), p);
      });
      for (int k = 0; k < n; ++k) {
        std::uint32_t product;
        if (!cand.empty() && fs.uniform() < 0.6) {
          product = cand[fs.index(cand.size())];
        } else {
          const std::uint32_t c = choose_category(fs);
          product = cat.draw_product(c, group, ap.price, fs.uniform());
        }
        const auto day = static_cast<std::uint32_t>(
            D + static_cast<int>(fs.index(static_cast<std::uint64_t>(F))));
        const int hour = pick_hour(hcum, fs.uniform());
        const auto sec = static_cast<std::uint32_t>(fs.index(3600));
        out.future.push_back(
            {cal.start() + day * 86400u + static_cast<std::uint32_t>(hour) * 3600u + sec, product});
      }
      std::sort(out.future.begin(), out.future.end(),
                [](const FuturePurchase& x, const FuturePurchase& y) {
                  return x.time != y.time ? x.time < y.time : x.product < y.product;
                });
    }
  }
}

}  // namespace ecom::synth
