// Distributed ALS, evaluation and top-N under mpirun -np 1..4, against serial references that
// every rank computes from the whole (small) data set:
//  - a serial ALS with the same kernels, the same per-vshard exact Gram sums and no plans:
//    factors must be bit-identical (so they are for any P);
//  - a dense closed-form (Eigen) alternating least squares for the Cholesky option;
//  - brute-force top-N (every score, full sort) and brute-force metrics (rank-sum AUC).
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <set>
#include <vector>

#include "ecom/core/hash.hpp"
#include "ecom/ml/als.hpp"
#include "ecom/ml/interactions.hpp"
#include "ecom/ml/recommend.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/exact_sum.hpp"
#include "ecom/par/random.hpp"
#include "ecom/par/vshard.hpp"

using namespace ecom;
using namespace ecom::ml;

namespace {

constexpr std::uint32_t kV = 64;

struct DataSpec {
  int users = 120;
  int groups = 4;
  int products_per_group = 10;
  double in_taste = 0.85;
  std::uint64_t seed = 11;
};

// Global events sorted by (user, time). Planted tastes: user u prefers group u % groups.
// Extras: a user whose only events are remove_from_cart (no interactions to train on), a
// product seen exactly once.
std::vector<Event> make_events(const DataSpec& spec) {
  std::vector<Event> ev;
  const int n_products = spec.groups * spec.products_per_group;
  for (int u = 0; u < spec.users; ++u) {
    par::Stream rng(spec.seed, par::Purpose::test, static_cast<std::uint64_t>(u));
    const int group = u % spec.groups;
    const int n = 4 + static_cast<int>(rng.index(10));
    for (int e = 0; e < n; ++e) {
      int product;
      if (rng.uniform() < spec.in_taste) {
        // skewed within the group: low indices more popular
        const double z = rng.uniform();
        product =
            group * spec.products_per_group + static_cast<int>(z * z * spec.products_per_group);
      } else {
        product = static_cast<int>(rng.index(static_cast<std::uint64_t>(n_products)));
      }
      const double t = rng.uniform();
      EventType type = t < 0.75   ? EventType::view
                       : t < 0.87 ? EventType::cart
                       : t < 0.9  ? EventType::remove_from_cart
                                  : EventType::purchase;
      Event x{};
      x.user = mix64(static_cast<std::uint64_t>(u) + 1);
      x.product = 1000 + static_cast<std::uint64_t>(product);
      x.category_id = 500 + static_cast<std::uint64_t>(product / spec.products_per_group);
      x.time = 1'600'000'000U + static_cast<std::uint32_t>(e * 60);
      x.type = type;
      ev.push_back(x);
    }
  }
  // A user with only zero-weight events (category of group 1).
  Event r{};
  r.user = mix64(999'999);
  r.product = 1000 + static_cast<std::uint64_t>(spec.products_per_group);
  r.category_id = 501;
  r.time = 1'600'000'000U;
  r.type = EventType::remove_from_cart;
  ev.push_back(r);
  // A product seen once.
  Event once{};
  once.user = mix64(1);
  once.product = 77'777;
  once.category_id = 900;
  once.time = 1'600'100'000U;
  once.type = EventType::view;
  ev.push_back(once);
  std::sort(ev.begin(), ev.end(), [](const Event& a, const Event& b) {
    if (a.user != b.user) return a.user < b.user;
    if (a.time != b.time) return a.time < b.time;
    return a.product < b.product;
  });
  return ev;
}

std::vector<Event> local_events(const std::vector<Event>& all, par::Comm& comm) {
  const par::VShardMap map(kV, comm.size());
  std::vector<Event> mine;
  for (const Event& e : all)
    if (map.owner_of(e.user) == comm.rank()) mine.push_back(e);
  return mine;
}

void apply_split(std::vector<Interaction>& pairs, double fraction, std::uint64_t seed) {
  for (Interaction& it : pairs)
    it.is_test = (it.strength > 0 && keyed_holdout(seed, fraction, it.user, it.product)) ? 1 : 0;
}

bool train_pair(const Interaction& it) { return it.strength > 0 && !it.is_test; }

// ---- serial reference ALS (same kernels, same Gram rule, no distribution) -----------------
struct SerialAls {
  int k;
  std::vector<std::uint64_t> users, items;  // users sorted, items sorted by product_hash
  std::vector<double> x, y;
};

std::vector<double> serial_gram(const std::vector<double>& rows,
                                const std::vector<std::uint32_t>& vshard,
                                const std::vector<int>& has_train, int k) {
  const auto kk = static_cast<std::size_t>(k);
  par::ExactVector acc(kk * (kk + 1) / 2);
  std::vector<double> partial(kk * kk, 0.0);
  const std::size_t n = vshard.size();
  std::size_t r = 0;
  while (r < n) {
    std::size_t e = r;
    bool any = false;
    for (; e < n && vshard[e] == vshard[r]; ++e) {
      if (!has_train[e]) continue;
      any = true;
      const double* xr = rows.data() + e * kk;
      for (std::size_t a = 0; a < kk; ++a)
        for (std::size_t b = a; b < kk; ++b) partial[a * kk + b] += xr[a] * xr[b];
    }
    if (any) {
      std::size_t t = 0;
      for (std::size_t a = 0; a < kk; ++a)
        for (std::size_t b = a; b < kk; ++b) acc.add(t++, partial[a * kk + b]);
      std::fill(partial.begin(), partial.end(), 0.0);
    }
    r = e;
  }
  const auto up = acc.values();
  std::vector<double> g(kk * kk);
  std::size_t t = 0;
  for (std::size_t a = 0; a < kk; ++a)
    for (std::size_t b = a; b < kk; ++b, ++t) g[a * kk + b] = g[b * kk + a] = up[t];
  return g;
}

SerialAls serial_als(const std::vector<Interaction>& pairs, const std::vector<std::uint64_t>& users,
                     const AlsConfig& cfg) {
  const int k = cfg.factors;
  const auto kk = static_cast<std::size_t>(k);
  const par::VShardMap map(cfg.vshards, 1);
  SerialAls s;
  s.k = k;
  s.users = users;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> hp;
  for (const auto& it : pairs) hp.push_back({product_hash(it.product), it.product});
  std::sort(hp.begin(), hp.end());
  hp.erase(std::unique(hp.begin(), hp.end()), hp.end());
  for (auto& h : hp) s.items.push_back(h.second);
  auto item_index = [&](std::uint64_t p) {
    return static_cast<std::uint32_t>(
        std::lower_bound(hp.begin(), hp.end(), std::make_pair(product_hash(p), std::uint64_t{0})) -
        hp.begin());
  };
  auto user_index = [&](std::uint64_t u) {
    return static_cast<std::uint32_t>(std::lower_bound(users.begin(), users.end(), u) -
                                      users.begin());
  };
  const std::size_t nu = users.size(), ni = s.items.size();
  std::vector<std::vector<std::pair<std::uint32_t, double>>> urows(nu), irows(ni);
  for (const auto& it : pairs)  // pairs sorted by (user, product)
    if (train_pair(it))
      urows[user_index(it.user)].push_back({item_index(it.product), 1 + cfg.alpha * it.strength});
  for (std::size_t u = 0; u < nu; ++u)
    for (auto& [i, c] : urows[u]) irows[i].push_back({static_cast<std::uint32_t>(u), c});
  std::vector<int> uh(nu), ih(ni);
  std::vector<std::uint32_t> uv(nu), iv(ni);
  for (std::size_t u = 0; u < nu; ++u) {
    uh[u] = !urows[u].empty();
    uv[u] = map.vshard_of(users[u]);
  }
  for (std::size_t i = 0; i < ni; ++i) {
    ih[i] = !irows[i].empty();
    iv[i] = map.vshard_of(product_hash(s.items[i]));
  }
  s.x.assign(nu * kk, 0.0);
  s.y.assign(ni * kk, 0.0);
  for (std::size_t u = 0; u < nu; ++u)
    if (uh[u])
      for (int j = 0; j < k; ++j)
        s.x[u * kk + j] = als_init_value(cfg.seed, false, users[u], j, cfg.init_scale);
  for (std::size_t i = 0; i < ni; ++i)
    if (ih[i])
      for (int j = 0; j < k; ++j)
        s.y[i * kk + j] = als_init_value(cfg.seed, true, s.items[i], j, cfg.init_scale);
  std::vector<double> scratch(als_scratch_size(k));
  auto solve_side = [&](std::vector<std::vector<std::pair<std::uint32_t, double>>>& rows,
                        const std::vector<double>& other, std::vector<double>& mine,
                        const std::vector<double>& gram) {
    std::vector<double> g = gram;
    for (int a = 0; a < k; ++a) g[static_cast<std::size_t>(a) * kk + a] += cfg.regularization;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if (rows[r].empty()) continue;
      std::vector<std::uint32_t> idx;
      std::vector<double> conf;
      for (auto& [i, c] : rows[r]) {
        idx.push_back(i);
        conf.push_back(c);
      }
      if (cfg.cholesky)
        als_cholesky_solve<double>(k, g.data(), other.data(), idx.data(), conf.data(), idx.size(),
                                   mine.data() + r * kk, scratch.data());
      else
        als_cg_solve<double>(k, g.data(), other.data(), idx.data(), conf.data(), idx.size(),
                             cfg.cg_steps, mine.data() + r * kk, scratch.data());
    }
  };
  for (int it = 0; it < cfg.iterations; ++it) {
    solve_side(urows, s.y, s.x, serial_gram(s.y, iv, ih, k));
    solve_side(irows, s.x, s.y, serial_gram(s.x, uv, uh, k));
  }
  return s;
}

// Everything of a distributed run that the checks need, gathered on every rank.
struct Gathered {
  std::map<std::uint64_t, std::vector<double>> user_rows, item_rows;
};
Gathered gather_model(par::Comm& comm, const AlsModel& m) {
  Gathered g;
  const auto kk = static_cast<std::size_t>(m.factors);
  const auto users = comm.allgatherv<std::uint64_t>(m.users);
  const auto uf = comm.allgatherv<double>(m.user_factors);
  const auto items = comm.allgatherv<std::uint64_t>(m.items);
  const auto yf = comm.allgatherv<double>(m.item_factors);
  for (std::size_t i = 0; i < users.size(); ++i)
    g.user_rows[users[i]] =
        std::vector<double>(uf.begin() + static_cast<std::ptrdiff_t>(i * kk),
                            uf.begin() + static_cast<std::ptrdiff_t>((i + 1) * kk));
  for (std::size_t i = 0; i < items.size(); ++i)
    g.item_rows[items[i]] =
        std::vector<double>(yf.begin() + static_cast<std::ptrdiff_t>(i * kk),
                            yf.begin() + static_cast<std::ptrdiff_t>((i + 1) * kk));
  return g;
}

bool same_bits(const double* a, const double* b, std::size_t n) {
  return std::memcmp(a, b, n * sizeof(double)) == 0;
}

// Runs the distributed pipeline pieces and compares them with the serial references.
void check_against_serial(const DataSpec& spec, AlsConfig cfg, int top_n, double test_fraction) {
  auto comm = par::Comm::world();
  const auto all_events = make_events(spec);
  const auto events = local_events(all_events, comm);
  auto pairs = build_interactions(events, InteractionWeights{});
  apply_split(pairs, test_fraction, 5);
  const auto users = distinct_users(events);
  cfg.vshards = kV;
  const AlsModel model = train_als(comm, users, pairs, cfg);

  auto all_pairs = build_interactions(all_events, InteractionWeights{});
  apply_split(all_pairs, test_fraction, 5);
  const auto all_users = distinct_users(all_events);
  const SerialAls ref = serial_als(all_pairs, all_users, cfg);
  const auto kk = static_cast<std::size_t>(cfg.factors);

  // 1. factors: bit-identical to the serial run.
  for (std::size_t u = 0; u < model.users.size(); ++u) {
    const auto r =
        std::lower_bound(ref.users.begin(), ref.users.end(), model.users[u]) - ref.users.begin();
    ASSERT_TRUE(same_bits(model.user_factors.data() + u * kk,
                          ref.x.data() + static_cast<std::size_t>(r) * kk, kk))
        << "user row " << u << " differs from the serial reference";
  }
  std::map<std::uint64_t, std::size_t> ref_item;
  for (std::size_t i = 0; i < ref.items.size(); ++i) ref_item[ref.items[i]] = i;
  for (std::size_t i = 0; i < model.items.size(); ++i) {
    ASSERT_TRUE(ref_item.count(model.items[i]));
    ASSERT_TRUE(same_bits(model.item_factors.data() + i * kk,
                          ref.y.data() + ref_item[model.items[i]] * kk, kk))
        << "item row " << i << " differs";
  }
  const auto n_items_global = comm.allreduce_sum<std::uint64_t>(model.items.size());
  EXPECT_EQ(n_items_global, ref.items.size());

  // 2. catalogue and top-N vs brute force.
  const Catalogue cat = gather_catalogue(comm, model, pairs, kV);
  ASSERT_EQ(cat.size(), ref.items.size());
  std::map<std::uint64_t, double> pop;
  std::map<std::uint64_t, std::map<std::uint64_t, int>> cat_votes;
  for (const auto& it : all_pairs) {
    pop[it.product] += train_pair(it) ? it.strength : 0.0;
    cat_votes[it.product][it.category_id]++;
  }
  for (std::size_t i = 0; i < cat.size(); ++i) {
    EXPECT_DOUBLE_EQ(cat.popularity[i], pop[cat.products[i]]);
    int best = -1;
    std::uint64_t best_c = 0;
    for (auto& [c, n] : cat_votes[cat.products[i]])
      if (n > best) best = n, best_c = c;
    EXPECT_EQ(cat.category[i], best_c);
  }
  RecommendConfig rc;
  rc.top_n = top_n;
  rc.user_block = 8;  // several blocks, a partial last one
  TopNStats stats;
  const auto recs = recommend_top_n(comm, model, cat, pairs, rc, &stats);
  const auto all_recs = comm.allgatherv<Recommendation>(recs);
  // Reference: every user of the data set.
  std::vector<Recommendation> expect;
  std::vector<std::size_t> by_pop(cat.size());
  std::iota(by_pop.begin(), by_pop.end(), std::size_t{0});
  std::sort(by_pop.begin(), by_pop.end(), [&](std::size_t a, std::size_t b) {
    return cat.popularity[a] != cat.popularity[b] ? cat.popularity[a] > cat.popularity[b] : a < b;
  });
  for (std::size_t u = 0; u < ref.users.size(); ++u) {
    std::set<std::uint64_t> excluded, touched;
    std::map<std::uint64_t, int> cats;
    bool trained = false;
    for (const auto& it : all_pairs)
      if (it.user == ref.users[u]) {
        if (it.purchased()) excluded.insert(it.product);
        cats[it.category_id]++;
        trained |= train_pair(it);
      }
    std::vector<Recommendation> rows;
    if (trained) {
      std::vector<std::pair<double, std::uint64_t>> scored;
      for (std::size_t i = 0; i < cat.size(); ++i)
        if (!excluded.count(cat.products[i]))
          scored.push_back(
              {als_score(cfg.factors, ref.x.data() + u * kk, &cat.item_factors[i * kk]),
               cat.products[i]});
      std::sort(scored.begin(), scored.end(), [](auto& a, auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
      for (std::size_t r = 0; r < scored.size() && r < static_cast<std::size_t>(top_n); ++r) {
        Recommendation x;
        x.user = ref.users[u];
        x.product = scored[r].second;
        x.score = scored[r].first;
        x.rank = static_cast<std::uint32_t>(r + 1);
        x.source = RecSource::als;
        rows.push_back(x);
      }
    } else {
      std::vector<std::pair<int, std::uint64_t>> order;
      for (auto& [c, n] : cats) order.push_back({-n, c});
      std::sort(order.begin(), order.end());
      std::vector<std::pair<std::size_t, RecSource>> cand;
      for (std::size_t c = 0; c < order.size() && c < 3; ++c)
        for (std::size_t i : by_pop)
          if (cat.category[i] == order[c].second) cand.push_back({i, RecSource::category_popular});
      for (std::size_t i : by_pop) cand.push_back({i, RecSource::popular});
      std::set<std::size_t> seen;
      for (auto& [i, src] : cand) {
        if (rows.size() >= static_cast<std::size_t>(top_n)) break;
        if (excluded.count(cat.products[i]) || seen.count(i)) continue;
        seen.insert(i);
        Recommendation x;
        x.user = ref.users[u];
        x.product = cat.products[i];
        x.score = cat.popularity[i];
        x.rank = static_cast<std::uint32_t>(rows.size() + 1);
        x.source = src;
        rows.push_back(x);
      }
    }
    expect.insert(expect.end(), rows.begin(), rows.end());
  }
  ASSERT_EQ(all_recs.size(), expect.size());
  for (std::size_t i = 0; i < expect.size(); ++i) {
    ASSERT_EQ(all_recs[i].user, expect[i].user) << i;
    ASSERT_EQ(all_recs[i].product, expect[i].product) << "row " << i << " rank " << expect[i].rank;
    ASSERT_EQ(all_recs[i].rank, expect[i].rank);
    ASSERT_EQ(all_recs[i].source, expect[i].source);
    ASSERT_TRUE(same_bits(&all_recs[i].score, &expect[i].score, 1));
  }

  // 3. metrics vs brute force.
  EvaluationConfig ec;
  ec.user_block = 8;
  const Evaluation ev = evaluate_holdout(comm, model, cat, pairs, ec);
  double sums[2][5] = {{0}}, users_n = 0, auc_n[2] = {0, 0};
  std::set<std::uint64_t> covered[2];
  std::vector<std::pair<std::uint64_t, double>> user_auc[2];  // (user, AUC) for the sample check
  for (std::size_t u = 0; u < ref.users.size(); ++u) {
    std::set<std::uint64_t> train, test;
    for (const auto& it : all_pairs)
      if (it.user == ref.users[u]) {
        if (train_pair(it)) train.insert(it.product);
        if (it.strength > 0 && it.is_test) test.insert(it.product);
      }
    if (train.empty() || test.empty()) continue;
    users_n += 1;
    const std::vector<std::uint64_t> relevant(test.begin(), test.end());
    for (int rec = 0; rec < 2; ++rec) {
      std::vector<std::pair<double, std::uint64_t>> scored;
      std::vector<double> pos, neg;
      for (std::size_t i = 0; i < cat.size(); ++i) {
        if (train.count(cat.products[i])) continue;
        const double s =
            rec == 0 ? als_score(cfg.factors, ref.x.data() + u * kk, &cat.item_factors[i * kk])
                     : cat.popularity[i];
        scored.push_back({s, cat.products[i]});
        (test.count(cat.products[i]) ? pos : neg).push_back(s);
      }
      std::sort(scored.begin(), scored.end(), [](auto& a, auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
      std::vector<std::uint64_t> ranked;
      for (std::size_t r = 0; r < scored.size() && r < 10; ++r) {
        ranked.push_back(scored[r].second);
        covered[rec].insert(scored[r].second);
      }
      const auto s = score_ranking(ranked, relevant, 10);
      sums[rec][0] += s.precision;
      sums[rec][1] += s.recall;
      sums[rec][2] += s.ap;
      sums[rec][3] += s.ndcg;
      if (!neg.empty()) {
        sums[rec][4] += auc_from_scores(pos, neg);
        auc_n[rec] += 1;
        user_auc[rec].push_back({ref.users[u], auc_from_scores(pos, neg)});
      }
    }
  }
  const RankingMetrics* got[2] = {&ev.als, &ev.popularity};
  for (int rec = 0; rec < 2; ++rec) {
    EXPECT_EQ(static_cast<double>(got[rec]->users), users_n);
    const double d = std::max(1.0, users_n);
    EXPECT_NEAR(got[rec]->precision_at_10, sums[rec][0] / d, 1e-12);
    EXPECT_NEAR(got[rec]->recall_at_10, sums[rec][1] / d, 1e-12);
    EXPECT_NEAR(got[rec]->map_at_10, sums[rec][2] / d, 1e-12);
    EXPECT_NEAR(got[rec]->ndcg_at_10, sums[rec][3] / d, 1e-12);
    EXPECT_NEAR(got[rec]->auc, auc_n[rec] > 0 ? sums[rec][4] / auc_n[rec] : 0.0, 1e-12);
    EXPECT_NEAR(got[rec]->coverage,
                static_cast<double>(covered[rec].size()) / static_cast<double>(cat.size()), 1e-15);
  }

  // 4. AUC over a keyed sample of about a third of the users (the other figures unchanged):
  //    user u is in iff uniform(seed, split, u, 2^32 - 1) < auc_users / evaluated users.
  EvaluationConfig sc = ec;
  sc.auc_users = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(users_n) / 3);
  sc.seed = 77;
  const Evaluation sampled = evaluate_holdout(comm, model, cat, pairs, sc);
  const double share = users_n > static_cast<double>(sc.auc_users)
                           ? static_cast<double>(sc.auc_users) / users_n
                           : 1.0;
  const RankingMetrics* got_s[2] = {&sampled.als, &sampled.popularity};
  for (int rec = 0; rec < 2; ++rec) {
    double sum = 0, n = 0;
    for (const auto& [user, auc] : user_auc[rec])
      if (par::uniform(sc.seed, par::Purpose::split, user, 0xffffffffU) < share) {
        sum += auc;
        n += 1;
      }
    EXPECT_EQ(static_cast<double>(got_s[rec]->auc_users), n);
    EXPECT_NEAR(got_s[rec]->auc, n > 0 ? sum / n : 0.0, 1e-12);
    EXPECT_EQ(got_s[rec]->precision_at_10, got[rec]->precision_at_10);
    EXPECT_EQ(got_s[rec]->ndcg_at_10, got[rec]->ndcg_at_10);
    EXPECT_EQ(got_s[rec]->coverage, got[rec]->coverage);
  }
  if (users_n >= 30) {
    EXPECT_LT(static_cast<double>(sampled.als.auc_users), users_n);
  }
}

}  // namespace

TEST(AlsDistributed, MatchesSerialReferenceBitForBit) {
  AlsConfig cfg;
  cfg.factors = 8;
  cfg.iterations = 4;
  check_against_serial(DataSpec{}, cfg, 5, 0.2);
}

TEST(AlsDistributed, CholeskyOddK) {
  AlsConfig cfg;
  cfg.factors = 13;  // odd: kernel tails
  cfg.iterations = 3;
  cfg.cholesky = true;
  check_against_serial(DataSpec{}, cfg, 10, 0.3);
}

TEST(AlsDistributed, EmptyHoldoutAndNLargerThanCatalogue) {
  AlsConfig cfg;
  cfg.factors = 4;
  cfg.iterations = 2;
  DataSpec spec;
  spec.users = 40;
  spec.groups = 2;
  spec.products_per_group = 6;
  check_against_serial(spec, cfg, 1000, 0.0);  // N = 1000 > 13 products; no test pairs
  auto comm = par::Comm::world();
  const auto events = local_events(make_events(spec), comm);
  auto pairs = build_interactions(events, InteractionWeights{});
  const auto users = distinct_users(events);
  cfg.vshards = kV;
  const AlsModel model = train_als(comm, users, pairs, cfg);
  const Catalogue cat = gather_catalogue(comm, model, pairs, kV);
  const Evaluation ev = evaluate_holdout(comm, model, cat, pairs, EvaluationConfig{});
  EXPECT_EQ(ev.test_pairs, 0U);
  EXPECT_EQ(ev.als.users, 0U);
  EXPECT_EQ(ev.als.precision_at_10, 0.0);
  // Every user gets the catalogue minus its purchases.
  RecommendConfig rc;
  rc.top_n = 1000;
  const auto recs = recommend_top_n(comm, model, cat, pairs, rc);
  std::map<std::uint64_t, std::size_t> rows, bought;
  for (const auto& r : recs) rows[r.user]++;
  for (const auto& it : pairs) bought[it.user] += it.purchased();
  for (std::uint64_t u : users) EXPECT_EQ(rows[u], cat.size() - bought[u]);
}

TEST(AlsDistributed, RankOwningNoItems) {
  // Two products: with 3 or 4 ranks some rank owns no item (and some none of the users).
  AlsConfig cfg;
  cfg.factors = 3;
  cfg.iterations = 3;
  DataSpec spec;
  spec.users = 30;
  spec.groups = 2;
  spec.products_per_group = 1;
  check_against_serial(spec, cfg, 4, 0.2);
  auto comm = par::Comm::world();
  if (comm.size() >= 3) {
    const auto events = local_events(make_events(spec), comm);
    auto pairs = build_interactions(events, InteractionWeights{});
    cfg.vshards = kV;
    const AlsModel model = train_als(comm, distinct_users(events), pairs, cfg);
    EXPECT_GE(comm.allreduce_sum<int>(model.items.empty() ? 1 : 0), 1);
  }
}

TEST(AlsDistributed, CholeskyMatchesDenseClosedFormAls) {
  // Exact alternating least squares with dense matrices (all user-item pairs, C and P dense).
  auto comm = par::Comm::world();
  DataSpec spec;
  spec.users = 25;
  spec.groups = 3;
  spec.products_per_group = 4;
  const auto all_events = make_events(spec);
  const auto events = local_events(all_events, comm);
  auto pairs = build_interactions(events, InteractionWeights{});
  AlsConfig cfg;
  cfg.factors = 3;
  cfg.iterations = 5;
  cfg.cholesky = true;
  cfg.vshards = kV;
  const AlsModel model = train_als(comm, distinct_users(events), pairs, cfg);
  const Gathered g = gather_model(comm, model);

  const auto all_pairs = build_interactions(all_events, InteractionWeights{});
  const auto users = distinct_users(all_events);
  std::vector<std::uint64_t> items;
  for (const auto& it : all_pairs) items.push_back(it.product);
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
  const int nu = static_cast<int>(users.size()), ni = static_cast<int>(items.size()),
            k = cfg.factors;
  Eigen::MatrixXd C = Eigen::MatrixXd::Ones(nu, ni), P = Eigen::MatrixXd::Zero(nu, ni);
  for (const auto& it : all_pairs) {
    if (it.strength <= 0) continue;
    const auto u = std::lower_bound(users.begin(), users.end(), it.user) - users.begin();
    const auto i = std::lower_bound(items.begin(), items.end(), it.product) - items.begin();
    C(u, i) = 1 + cfg.alpha * it.strength;
    P(u, i) = 1;
  }
  Eigen::MatrixXd X = Eigen::MatrixXd::Zero(nu, k), Y = Eigen::MatrixXd::Zero(ni, k);
  for (int i = 0; i < ni; ++i)
    if (P.col(i).sum() > 0)
      for (int j = 0; j < k; ++j)
        Y(i, j) =
            als_init_value(cfg.seed, true, items[static_cast<std::size_t>(i)], j, cfg.init_scale);
  const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(k, k) * cfg.regularization;
  for (int it = 0; it < cfg.iterations; ++it) {
    for (int u = 0; u < nu; ++u) {
      if (P.row(u).sum() == 0) {
        X.row(u).setZero();
        continue;
      }
      const Eigen::VectorXd c = C.row(u).transpose();
      X.row(u) = (Y.transpose() * c.asDiagonal() * Y + I)
                     .ldlt()
                     .solve(Y.transpose() * c.asDiagonal() * P.row(u).transpose())
                     .transpose();
    }
    for (int i = 0; i < ni; ++i) {
      if (P.col(i).sum() == 0) {
        Y.row(i).setZero();
        continue;
      }
      const Eigen::VectorXd c = C.col(i);
      Y.row(i) = (X.transpose() * c.asDiagonal() * X + I)
                     .ldlt()
                     .solve(X.transpose() * c.asDiagonal() * P.col(i))
                     .transpose();
    }
  }
  ASSERT_EQ(g.user_rows.size(), users.size());
  for (int u = 0; u < nu; ++u)
    for (int j = 0; j < k; ++j)
      EXPECT_NEAR(g.user_rows.at(users[static_cast<std::size_t>(u)])[static_cast<std::size_t>(j)],
                  X(u, j), 1e-9);
  for (int i = 0; i < ni; ++i)
    for (int j = 0; j < k; ++j)
      EXPECT_NEAR(g.item_rows.at(items[static_cast<std::size_t>(i)])[static_cast<std::size_t>(j)],
                  Y(i, j), 1e-9);
  // Training loss: the distributed formula (Gram trace trick) vs the dense definition.
  const Eigen::MatrixXd S = X * Y.transpose();
  const double dense_loss = (C.array() * (P - S).array().square()).sum() +
                            cfg.regularization * (X.squaredNorm() + Y.squaredNorm());
  ASSERT_EQ(model.loss.size(), static_cast<std::size_t>(cfg.iterations));
  EXPECT_NEAR(model.loss.back(), dense_loss, 1e-9 * dense_loss);
  for (std::size_t t = 1; t < model.loss.size(); ++t)
    EXPECT_LE(model.loss[t], model.loss[t - 1] * (1 + 1e-12));
}

// The sparse exchanger moves the same factor rows as alltoallv: the same bits as the serial
// reference (at every rank count), and the same model as alltoallv.
TEST(AlsDistributed, SparseExchangeMatchesSerialReferenceAndAlltoallv) {
  AlsConfig cfg;
  cfg.factors = 6;
  cfg.iterations = 3;
  cfg.exchange = par::ExchangeKind::sparse;
  cfg.exchange_budget_bytes = 512;  // many rounds
  check_against_serial(DataSpec{}, cfg, 5, 0.2);

  auto comm = par::Comm::world();
  const auto events = local_events(make_events(DataSpec{}), comm);
  auto pairs = build_interactions(events, InteractionWeights{});
  apply_split(pairs, 0.2, 5);
  const auto users = distinct_users(events);
  cfg.vshards = kV;
  const AlsModel sparse = train_als(comm, users, pairs, cfg);
  cfg.exchange = par::ExchangeKind::alltoallv;
  const AlsModel dense = train_als(comm, users, pairs, cfg);
  ASSERT_EQ(sparse.user_factors.size(), dense.user_factors.size());
  ASSERT_EQ(sparse.item_factors.size(), dense.item_factors.size());
  EXPECT_TRUE(
      same_bits(sparse.user_factors.data(), dense.user_factors.data(), dense.user_factors.size()));
  EXPECT_TRUE(
      same_bits(sparse.item_factors.data(), dense.item_factors.data(), dense.item_factors.size()));
  EXPECT_EQ(sparse.loss, dense.loss);
}
