// The synthetic generator's pure parts: calendar arithmetic and time formatting (against the C
// library's gmtime), REES46 number/UUID formatting, the dirty rows (each differs from its valid
// row in exactly the documented way), id permutations, presets, and generate_user: a pure
// function of (model, index) whose output keeps the documented invariants and whose archetypes
// behave as planted (counted over many users, not assumed).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/synth/calendar.hpp"
#include "ecom/synth/catalogue.hpp"
#include "ecom/synth/format.hpp"
#include "ecom/synth/model.hpp"
#include "ecom/synth/preset.hpp"

using namespace ecom::synth;
using ecom::EventType;

namespace {

std::vector<std::string> split(const std::string& s, char sep = ',') {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

const Model& model_1m() {
  static const Model m = [] {
    ModelOptions o;
    o.events = 1000000;
    o.seed = 1;
    return Model(o);
  }();
  return m;
}

}  // namespace

TEST(SynthCalendar, CivilDaysAndWeekdaysAgreeWithGmtime) {
  for (std::int64_t t = 0; t < 4102444800LL; t += 86400LL * 37 + 3600) {  // 1970 .. 2100
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    const std::int64_t days = t / 86400;
    EXPECT_EQ(days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday), days);
    EXPECT_EQ(weekday_of(days), (tm.tm_wday + 6) % 7);  // Monday = 0
    if (t < (1LL << 32)) {
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
      EXPECT_EQ(format_time(static_cast<std::uint32_t>(t)), buf);
    }
  }
  EXPECT_EQ(days_in_month(2020, 2), 29);
  EXPECT_EQ(days_in_month(2100, 2), 28);
  EXPECT_EQ(days_in_month(2000, 2), 29);
  EXPECT_EQ(days_in_month(2019, 11), 30);
}

TEST(SynthCalendar, MonthsParseAndMustBeConsecutive) {
  EXPECT_EQ(parse_month("2019-10").month, 10);
  for (const char* bad : {"2019-13", "2019-00", "19-10", "2019/10", "2019-1", "1969-12", ""})
    EXPECT_THROW(parse_month(bad), ecom::UserError) << bad;
  const Calendar c({"2019-12", "2020-01", "2020-02"}, 14);
  EXPECT_EQ(c.days(), 31 + 31 + 29);
  EXPECT_EQ(format_time(c.start()), "2019-12-01 00:00:00 UTC");
  EXPECT_EQ(c.month_of(31u * 86400u - 1u), 0);
  EXPECT_EQ(c.month_of(31u * 86400u), 1);
  EXPECT_EQ(c.month_of(c.window_seconds() - 1), 2);
  EXPECT_THROW(Calendar({"2019-10", "2019-12"}, 0), ecom::UserError);
  EXPECT_THROW(Calendar({"2019-11", "2019-10"}, 0), ecom::UserError);
  EXPECT_THROW(Calendar({}, 0), ecom::UserError);
  EXPECT_THROW(Calendar({"2019-10"}, -1), ecom::UserError);
}

TEST(SynthFormat, PricesAndUuids) {
  std::string s;
  append_price(s, 3579);
  s += ' ';
  append_price(s, 0);
  s += ' ';
  append_price(s, 257407);
  s += ' ';
  append_price(s, 5);
  EXPECT_EQ(s, "35.79 0.00 2574.07 0.05");
  std::uint64_t hi = ~0ULL, lo = 0;
  make_uuid_v4(hi, lo);
  s.clear();
  append_uuid(s, hi, lo);
  EXPECT_EQ(s, "ffffffff-ffff-4fff-8000-000000000000");
  hi = 0x0123456789abcdefULL;
  lo = 0xfedcba9876543210ULL;
  make_uuid_v4(hi, lo);
  s.clear();
  append_uuid(s, hi, lo);
  EXPECT_EQ(s, "01234567-89ab-4def-bedc-ba9876543210");
}

TEST(SynthFormat, EachDirtyRowBreaksExactlyItsField) {
  RowFields valid;
  valid.f = {"2019-10-05 13:07:09 UTC",
             "cart",
             "1004856",
             "2053013555631882655",
             "electronics.smartphone",
             "samsung",
             "130.76",
             "541312140",
             "72d76fde-8bb3-4e00-8c23-a032dfed738c"};
  std::string valid_row;
  for (std::size_t i = 0; i < 9; ++i) valid_row += (i ? "," : "") + valid.f[i];
  // The field each kind breaks (-1: the number of fields).
  const std::map<DirtyKind, int> field = {
      {DirtyKind::field_count, -1},       {DirtyKind::bad_time, 0},
      {DirtyKind::unknown_event_type, 1}, {DirtyKind::bad_product_id, 2},
      {DirtyKind::bad_category_id, 3},    {DirtyKind::bad_price, 6},
      {DirtyKind::bad_user_id, 7},        {DirtyKind::bad_session, 8}};
  std::set<std::string> seen;
  for (int k = 0; k < kDirtyKinds; ++k) {
    const auto kind = static_cast<DirtyKind>(k);
    EXPECT_GE(dirty_variants(kind), 2);
    for (int v = 0; v < dirty_variants(kind); ++v) {
      std::string row;
      append_dirty_row(row, valid, kind, v);
      ASSERT_EQ(row.back(), '\n');
      row.pop_back();
      EXPECT_TRUE(seen.insert(row).second) << "variant repeats: " << row;
      EXPECT_NE(row, valid_row);
      if (kind == DirtyKind::bad_price && v == 5) {  // the quoted "130,76": ten raw pieces
        EXPECT_NE(row.find("\"130,76\""), std::string::npos) << row;
        continue;
      }
      const auto f = split(row);
      if (field.at(kind) < 0) {
        EXPECT_NE(f.size(), 9u) << row;
        continue;
      }
      ASSERT_EQ(f.size(), 9u) << row;
      for (int i = 0; i < 9; ++i) {
        const auto iu = static_cast<std::size_t>(i);
        if (i == field.at(kind)) {
          EXPECT_NE(f[iu], valid.f[iu]) << row;
        } else {
          EXPECT_EQ(f[iu], valid.f[iu]) << row;
        }
      }
    }
  }
  EXPECT_EQ(kDirtyNames[static_cast<int>(DirtyKind::bad_session)], "bad_session");
}

TEST(SynthIds, PermutedIdsAreDistinctAndInRange) {
  const IdShape shape{512000000, 88000000};
  std::set<std::uint64_t> ids;
  for (std::uint64_t i = 0; i < 20000; ++i) {
    const std::uint64_t id = permuted_id(shape, 7, i);
    EXPECT_GE(id, shape.base);
    EXPECT_LT(id, shape.base + shape.range);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 20000u);
}

TEST(SynthPreset, SharesSumToOneAndUnknownNamesFail) {
  for (const char* name : {"multi-category", "cosmetics"}) {
    const Preset& p = preset_by_name(name);
    double total = 0;
    for (const auto& a : p.archetypes) total += a.share;
    EXPECT_NEAR(total, 1.0, 1e-12) << name;
    double types = 0;
    for (double t : p.targets.type_share) types += t;
    EXPECT_NEAR(types, 1.0, 1e-3) << name;
  }
  EXPECT_THROW(preset_by_name("electronics"), ecom::UserError);
}

TEST(SynthModel, GenerateUserIsAPureFunctionOfTheIndex) {
  const Model& m = model_1m();
  UserScratch s1, s2;
  UserData a, b, c;
  generate_user(m, 123, a, s1);
  for (std::uint64_t u = 0; u < 50; ++u) generate_user(m, u, c, s1);  // dirty scratch
  generate_user(m, 123, b, s1);
  UserData fresh;
  generate_user(m, 123, fresh, s2);
  for (const UserData* x : {&b, &fresh}) {
    ASSERT_EQ(a.events.size(), x->events.size());
    EXPECT_EQ(a.user_id, x->user_id);
    EXPECT_EQ(a.archetype, x->archetype);
    EXPECT_EQ(a.taste_group, x->taste_group);
    for (std::size_t i = 0; i < a.events.size(); ++i) {
      EXPECT_EQ(a.events[i].time, x->events[i].time);
      EXPECT_EQ(a.events[i].product, x->events[i].product);
      EXPECT_EQ(a.events[i].type, x->events[i].type);
      EXPECT_EQ(a.events[i].session, x->events[i].session);
    }
    ASSERT_EQ(a.future.size(), x->future.size());
  }
}

TEST(SynthModel, EventsKeepTheDocumentedInvariants) {
  const Model& m = model_1m();
  const auto& cal = m.calendar();
  const std::uint32_t w0 = cal.start(), w1 = cal.start() + cal.window_seconds();
  UserScratch sc;
  UserData u;
  std::set<std::uint64_t> ids;
  for (std::uint64_t i = 0; i < 3000; ++i) {
    generate_user(m, i, u, sc);
    EXPECT_TRUE(ids.insert(u.user_id).second);
    ASSERT_FALSE(u.events.empty());
    ASSERT_FALSE(u.sessions.empty());
    for (std::size_t e = 0; e < u.events.size(); ++e) {
      const GenEvent& ev = u.events[e];
      EXPECT_GE(ev.time, w0);
      EXPECT_LT(ev.time, w1);
      if (e > 0) {
        EXPECT_LE(u.events[e - 1].time, ev.time);
      }
      ASSERT_LT(ev.session, u.sessions.size());
      EXPECT_GE(ev.time, u.sessions[ev.session].start);
      EXPECT_LE(ev.time, u.sessions[ev.session].end);
      EXPECT_LT(ev.product, m.catalogue().products().size());
      // Multi-category: no remove_from_cart, no duplicates.
      EXPECT_NE(ev.type, EventType::remove_from_cart);
      EXPECT_FALSE(ev.duplicate);
    }
    for (const auto& f : u.future) {
      EXPECT_GE(f.time, w1);
      EXPECT_LT(f.time, w1 + 86400u * static_cast<std::uint32_t>(cal.future_days()));
    }
  }
}

TEST(SynthModel, ArchetypesBehaveAsPlanted) {
  const Model& m = model_1m();
  const auto& products = m.catalogue().products();
  struct Tally {
    double users = 0, sessions = 0, purchases = 0, carts = 0, buyers = 0, carted_unbought = 0,
           night = 0, weekend = 0, events = 0, view_price = 0, views = 0, single_session = 0,
           late = 0, cheapest_of_session = 0, dearest_of_session = 0, baskets_distinct = 0;
  };
  std::map<int, Tally> t;
  UserScratch sc;
  UserData u;
  const std::uint32_t start = m.calendar().start();
  const std::uint64_t n = std::min<std::uint64_t>(m.users(), 30000);
  for (std::uint64_t i = 0; i < n; ++i) {
    generate_user(m, i, u, sc);
    Tally& x = t[u.archetype];
    x.users += 1;
    x.sessions += static_cast<double>(u.sessions.size());
    x.single_session += u.sessions.size() == 1;
    std::set<std::uint32_t> bought, carted, purchase_sessions;
    std::uint32_t last = 0;
    int purchases = 0;
    for (const GenEvent& e : u.events) {
      x.events += 1;
      last = std::max(last, e.time);
      const std::uint32_t s = e.time - start;
      const int hour = static_cast<int>(s % 86400 / 3600);
      x.night += hour < 6;
      const int wd = weekday_of((start + s) / 86400);
      x.weekend += wd >= 5;
      if (e.type == EventType::view) {
        x.views += 1;
        x.view_price += products[e.product].price_cents / 100.0;
      } else if (e.type == EventType::cart) {
        x.carts += 1;
        carted.insert(e.product);
      } else if (e.type == EventType::purchase) {
        ++purchases;
        bought.insert(e.product);
        purchase_sessions.insert(e.session);
        // Price rank of the bought product among the session's views.
        std::uint32_t lo = UINT32_MAX, hi = 0;
        for (const GenEvent& v : u.events)
          if (v.session == e.session && v.type == EventType::view) {
            lo = std::min(lo, products[v.product].price_cents);
            hi = std::max(hi, products[v.product].price_cents);
          }
        x.cheapest_of_session += products[e.product].price_cents == lo;
        x.dearest_of_session += products[e.product].price_cents == hi;
      }
    }
    x.purchases += purchases;
    x.buyers += purchases > 0;
    for (auto p : carted) x.carted_unbought += bought.count(p) == 0;
    x.late += last - start > m.calendar().window_seconds() / 2;
    x.baskets_distinct +=
        purchases > 0 && purchase_sessions.size() == static_cast<std::size_t>(purchases);
  }
  auto A = [&](Archetype a) -> const Tally& { return t[static_cast<int>(a)]; };
  const auto& ws = A(Archetype::window_shopper);
  const auto& bh = A(Archetype::bargain_hunter);
  const auto& lr = A(Archetype::loyal_regular);
  const auto& ts = A(Archetype::top_spender);
  const auto& ca = A(Archetype::cart_abandoner);
  const auto& dm = A(Archetype::dormant);
  // Shares as the preset says (30,000 users: within 1.5 points).
  for (int a = 0; a < kArchetypes; ++a)
    EXPECT_NEAR(t[a].users / static_cast<double>(n),
                m.preset().archetypes[static_cast<std::size_t>(a)].share, 0.015)
        << kArchetypeNames[static_cast<std::size_t>(a)];
  // Who buys, who carts.
  EXPECT_EQ(ws.purchases + ws.carts + ca.purchases + dm.purchases + dm.carts, 0);
  EXPECT_EQ(ca.buyers, 0);                  // no cart abandoner buys
  EXPECT_GT(ca.carted_unbought, ca.users);  // and every one leaves a cart behind
  EXPECT_EQ(bh.buyers, bh.users);
  EXPECT_EQ(ts.buyers, ts.users);
  EXPECT_EQ(lr.buyers, lr.users);
  EXPECT_GE(lr.purchases, 2 * lr.users);
  EXPECT_GT(lr.baskets_distinct, 0.95 * lr.users);  // a regular's purchases are separate baskets
  // Price: bargain hunters buy the cheapest viewed product of the session, top spenders the
  // dearest; their viewed prices differ by an order of magnitude.
  EXPECT_EQ(bh.cheapest_of_session, bh.purchases);
  EXPECT_EQ(ts.dearest_of_session, ts.purchases);
  EXPECT_GT(ts.view_price / ts.views, 5 * (ws.view_price / ws.views));
  EXPECT_LT(bh.view_price / bh.views, 0.2 * (ws.view_price / ws.views));
  // When: window shoppers at night, bargain hunters at weekends, dormant users early and once.
  EXPECT_GT(ws.night / ws.events, 2.5 * (lr.night / lr.events + ca.night / ca.events) / 2);
  EXPECT_GT(bh.weekend / bh.events, 0.55);
  EXPECT_LT(lr.weekend / lr.events, 0.25);
  EXPECT_GT(dm.single_session, 0.9 * dm.users);
  EXPECT_EQ(dm.late, 0);
  // How often: regulars come most often, dormant users least.
  EXPECT_GT(lr.sessions / lr.users, 1.5 * (ws.sessions / ws.users));
  EXPECT_LT(dm.sessions / dm.users, 1.1);
}

TEST(SynthModel, SizesFollowTheRequestedEvents) {
  for (std::uint64_t events : {1000ULL, 200000ULL, 1000000ULL}) {
    ModelOptions o;
    o.events = events;
    const Model m(o);
    const double expected = m.expected_rows_per_user() * static_cast<double>(m.users());
    EXPECT_NEAR(expected / static_cast<double>(events), 1.0, 0.01) << events;
  }
  ModelOptions o;
  o.events = 10;
  EXPECT_THROW(Model{o}, ecom::UserError);
  o.events = 1000;
  o.preset = "nope";
  EXPECT_THROW(Model{o}, ecom::UserError);
}
