// The whole recommender stage (interactions -> holdout -> ALS -> evaluation -> refit -> top-N)
// on planted tastes, under mpirun -np 1..4.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "ecom/core/hash.hpp"
#include "ecom/ml/recommend.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/random.hpp"
#include "ecom/par/vshard.hpp"

using namespace ecom;
using namespace ecom::ml;

namespace {
// Users of taste group g view/cart/buy mostly products of group g (skewed within the group);
// the global popularity ranking is therefore a poor guess for any one user.
std::vector<Event> planted_events(par::Comm& comm, int users, int groups, int per_group,
                                  std::uint32_t vshards) {
  const par::VShardMap map(vshards, comm.size());
  std::vector<Event> ev;
  for (int u = 0; u < users; ++u) {
    const std::uint64_t pseudo = mix64(static_cast<std::uint64_t>(u) + 17);
    if (map.owner_of(pseudo) != comm.rank()) continue;
    par::Stream rng(3, par::Purpose::test, static_cast<std::uint64_t>(u));
    const int group = u % groups;
    const int n = 5 + static_cast<int>(rng.index(20));
    for (int e = 0; e < n; ++e) {
      int product;
      if (rng.uniform() < 0.8) {
        const double z = rng.uniform();
        product = group * per_group + static_cast<int>(z * z * per_group);
      } else {
        // noise skewed to the first groups: the globally popular products
        const double z = rng.uniform();
        product = static_cast<int>(z * z * z * groups * per_group);
      }
      const double t = rng.uniform();
      Event x{};
      x.user = pseudo;
      x.product = 10'000 + static_cast<std::uint64_t>(product);
      x.category_id = 7'000 + static_cast<std::uint64_t>(product / per_group);
      x.time = 1'600'000'000U + static_cast<std::uint32_t>(e * 30);
      x.type = t < 0.8 ? EventType::view : t < 0.92 ? EventType::cart : EventType::purchase;
      ev.push_back(x);
    }
  }
  // One user (on whichever rank owns it) with a single remove_from_cart in group 3.
  const std::uint64_t lonely = mix64(123'456'789);
  if (map.owner_of(lonely) == comm.rank()) {
    Event x{};
    x.user = lonely;
    x.product = 10'000 + static_cast<std::uint64_t>(3 * per_group + 1);
    x.category_id = 7'003;
    x.time = 1'600'000'000U;
    x.type = EventType::remove_from_cart;
    ev.push_back(x);
  }
  std::sort(ev.begin(), ev.end(), [](const Event& a, const Event& b) {
    return a.user != b.user ? a.user < b.user : a.time < b.time;
  });
  return ev;
}
}  // namespace

TEST(Recommender, PlantedTastesBeatPopularityAndEveryUserIsServed) {
  auto comm = par::Comm::world();
  RecommenderConfig cfg;
  cfg.als.factors = 16;
  cfg.als.iterations = 8;
  cfg.als.vshards = 256;
  const int groups = 10, per_group = 30;
  const auto events = planted_events(comm, 2500, groups, per_group, cfg.als.vshards);
  const Logger log(comm.rank(), LogLevel::info);
  const RecommenderResult res = run_recommender(comm, events, cfg, &log);
  const auto& ev = res.evaluation;
  ASSERT_GT(ev.als.users, 1000U);
  EXPECT_EQ(ev.als.users, ev.popularity.users);
  EXPECT_GE(ev.als.precision_at_10, 1.5 * ev.popularity.precision_at_10)
      << ev.als.precision_at_10 << " vs " << ev.popularity.precision_at_10;
  EXPECT_GT(ev.als.ndcg_at_10, ev.popularity.ndcg_at_10);
  EXPECT_GT(ev.als.auc, 0.8);
  EXPECT_GT(ev.als.coverage, ev.popularity.coverage);
  for (double m : {ev.als.precision_at_10, ev.als.recall_at_10, ev.als.map_at_10, ev.als.ndcg_at_10,
                   ev.als.auc, ev.als.coverage})
    EXPECT_TRUE(m >= 0 && m <= 1);
  // Training loss decreases.
  ASSERT_EQ(res.model.loss.size(), 8U);
  EXPECT_LT(res.model.loss.back(), res.model.loss.front());

  // Every user has N rows, ranks 1..N, in (user, rank) order; the lonely user gets group 3's
  // products first (category_popular), ALS users only "als" rows.
  std::map<std::uint64_t, std::vector<Recommendation>> by_user;
  for (const auto& r : res.recommendations) by_user[r.user].push_back(r);
  EXPECT_EQ(by_user.size(), res.model.users.size());
  for (std::size_t u = 0; u < res.model.users.size(); ++u) {
    const auto& rows = by_user[res.model.users[u]];
    ASSERT_EQ(rows.size(), 10U);
    for (std::size_t r = 0; r < rows.size(); ++r) EXPECT_EQ(rows[r].rank, r + 1);
    if (res.model.user_train_count[u] > 0) {
      for (const auto& r : rows) EXPECT_EQ(r.source, RecSource::als);
      for (std::size_t r = 1; r < rows.size(); ++r) EXPECT_GE(rows[r - 1].score, rows[r].score);
    } else {
      EXPECT_EQ(res.model.users[u], mix64(123'456'789));
      for (std::size_t r = 0; r < rows.size(); ++r) {
        EXPECT_EQ(rows[r].source, RecSource::category_popular);  // 30 products in group 3
        EXPECT_EQ((rows[r].product - 10'000) / per_group, 3U);
      }
    }
  }
  EXPECT_TRUE(std::is_sorted(res.recommendations.begin(), res.recommendations.end(),
                             [](const Recommendation& a, const Recommendation& b) {
                               return a.user != b.user ? a.user < b.user : a.rank < b.rank;
                             }));
  EXPECT_EQ(comm.allreduce_sum<std::uint64_t>(by_user.count(mix64(123'456'789))), 1U);
  EXPECT_EQ(res.topn.users[1], 1U);

  // Float factors: the same quality (not the same bits).
  RecommenderConfig fcfg = cfg;
  fcfg.als.precision = FactorPrecision::float32;
  fcfg.refit_on_all = false;
  const RecommenderResult fres = run_recommender(comm, events, fcfg);
  EXPECT_NEAR(fres.evaluation.als.precision_at_10, ev.als.precision_at_10, 0.02);
  EXPECT_NEAR(fres.evaluation.als.auc, ev.als.auc, 0.01);
}

TEST(Recommender, TimeHoldoutUsesTheLastDays) {
  auto comm = par::Comm::world();
  const auto events = planted_events(comm, 300, 5, 10, 64);
  auto pairs = build_interactions(events, InteractionWeights{});
  HoldoutConfig h;
  h.test_days = 200.0 / 86400.0;  // pairs first seen in the last 200 s before the global max
  split_holdout(comm, pairs, h);
  std::uint32_t max_time = 0;
  for (const auto& e : events) max_time = std::max(max_time, e.time);
  max_time = comm.allreduce_max(max_time);
  for (const auto& p : pairs)
    EXPECT_EQ(p.is_test != 0, p.strength > 0 && p.first_time > max_time - 200) << p.first_time;
  EXPECT_GT(comm.allreduce_sum<std::uint64_t>(static_cast<std::uint64_t>(
                std::count_if(pairs.begin(), pairs.end(), [](auto& p) { return p.is_test; }))),
            0U);
}

TEST(Recommender, PrunedTopNMatchesBruteForceOnALargeCatalogue) {
  // 3000 products in several scoring blocks, factor norms spread over two orders of magnitude
  // (the pruned scan skips the small ones), duplicated rows (exact ties, broken by product id),
  // purchases excluded; double and float factors. recommend_top_n without stats is local.
  auto comm = par::Comm::world();
  const int k = 12, n_items = 3000, n_users = 70, top = 10;
  Catalogue cat;
  cat.factors = k;
  par::Stream rng(21, par::Purpose::test, 7);
  for (int i = 0; i < n_items; ++i) {
    cat.products.push_back(5000 + 7 * static_cast<std::uint64_t>(i));
    cat.category.push_back(1);
    cat.popularity.push_back(0);
    const double scale = std::exp(-4.0 * rng.uniform());
    for (int j = 0; j < k; ++j) {
      const double v = i % 97 == 5 ? cat.item_factors[static_cast<std::size_t>((i - 1) * k + j)]
                                   : rng.normal() * scale;
      cat.item_factors.push_back(v);
    }
  }
  AlsModel model;
  model.factors = k;
  std::vector<Interaction> pairs;
  for (int u = 0; u < n_users; ++u) {
    model.users.push_back(1000 + static_cast<std::uint64_t>(u));
    model.user_train_count.push_back(1);
    for (int j = 0; j < k; ++j) model.user_factors.push_back(rng.normal());
    for (int e = 0; e < 3; ++e) {  // three purchases (excluded)
      Interaction it;
      it.user = model.users.back();
      it.product = cat.products[static_cast<std::size_t>(rng.index(n_items))];
      it.strength = 5;
      it.types = 1U << static_cast<int>(EventType::purchase);
      pairs.push_back(it);
    }
  }
  std::sort(pairs.begin(), pairs.end(), [](const Interaction& a, const Interaction& b) {
    return a.user != b.user ? a.user < b.user : a.product < b.product;
  });
  pairs.erase(std::unique(pairs.begin(), pairs.end(),
                          [](const Interaction& a, const Interaction& b) {
                            return a.user == b.user && a.product == b.product;
                          }),
              pairs.end());
  for (auto precision : {FactorPrecision::float64, FactorPrecision::float32}) {
    model.precision = precision;
    RecommendConfig rc;
    rc.top_n = top;
    rc.user_block = 16;
    const auto recs = recommend_top_n(comm, model, cat, pairs, rc);
    ASSERT_EQ(recs.size(), static_cast<std::size_t>(n_users * top));
    for (int u = 0; u < n_users; ++u) {
      std::vector<std::pair<double, std::uint64_t>> all;
      for (int i = 0; i < n_items; ++i) {
        const std::uint64_t p = cat.products[static_cast<std::size_t>(i)];
        bool bought = false;
        for (const auto& it : pairs)
          bought |= it.user == model.users[static_cast<std::size_t>(u)] && it.product == p;
        if (bought) continue;
        const double* x = &model.user_factors[static_cast<std::size_t>(u * k)];
        const double* y = &cat.item_factors[static_cast<std::size_t>(i * k)];
        double s;
        if (precision == FactorPrecision::float64) {
          s = als_score(k, x, y);
        } else {
          std::vector<float> xf(x, x + k), yf(y, y + k);
          s = static_cast<double>(als_score(k, xf.data(), yf.data()));
        }
        all.push_back({s, p});
      }
      std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
      for (int r = 0; r < top; ++r) {
        const auto& got = recs[static_cast<std::size_t>(u * top + r)];
        ASSERT_EQ(got.product, all[static_cast<std::size_t>(r)].second)
            << "user " << u << " rank " << r + 1
            << (precision == FactorPrecision::float32 ? " float" : " double");
        ASSERT_EQ(got.score, all[static_cast<std::size_t>(r)].first);
      }
    }
  }
}
