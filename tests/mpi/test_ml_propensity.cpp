// Propensity under mpirun -np 1..4: the distributed logistic regression against a serial
// Newton reference and its optimality condition, rank-split independence (bit-identical
// coefficients whatever rows each rank holds), exact distributed AUC and log-loss against serial
// references, and the leakage test: no event of the label period ever reaches the feature
// function, and changing label-period events changes nothing but the labels.
#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <vector>

#include "ecom/core/hash.hpp"
#include "ecom/ml/metrics_rank.hpp"
#include "ecom/ml/propensity.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/random.hpp"
#include "ecom/par/vshard.hpp"

using namespace ecom;
using namespace ecom::ml;

namespace {

constexpr int kCols = 4;

// Row r of a data set with a planted logistic model (the same on every rank).
void make_row(std::uint64_t r, double* z, std::uint8_t& y) {
  par::Stream rng(11, par::Purpose::test, r);
  double eta = -0.7;
  const double w[kCols] = {1.5, -2.0, 0.5, 0.0};
  for (int j = 0; j < kCols; ++j) {
    z[j] = rng.normal() * (j == 3 ? 3.0 : 1.0);
    eta += w[j] * z[j];
  }
  y = rng.uniform() < 1.0 / (1.0 + std::exp(-eta)) ? 1 : 0;
}

// Rows [lo, hi) of the data set.
void make_rows(std::uint64_t lo, std::uint64_t hi, RowMatrix& z, std::vector<std::uint8_t>& y) {
  z.resize(static_cast<Eigen::Index>(hi - lo), kCols);
  y.resize(hi - lo);
  for (std::uint64_t r = lo; r < hi; ++r) make_row(r, z.data() + (r - lo) * kCols, y[r - lo]);
}

// Serial Newton with plain sums: the textbook reference.
std::vector<double> reference_fit(const RowMatrix& z, const std::vector<std::uint8_t>& y,
                                  double l2) {
  const Eigen::Index m = z.cols() + 1;
  Eigen::VectorXd w = Eigen::VectorXd::Zero(m);
  for (int it = 0; it < 50; ++it) {
    Eigen::VectorXd g = Eigen::VectorXd::Zero(m);
    Eigen::MatrixXd h = Eigen::MatrixXd::Zero(m, m);
    for (Eigen::Index i = 0; i < z.rows(); ++i) {
      Eigen::VectorXd x(m);
      x(0) = 1;
      x.tail(m - 1) = z.row(i).transpose();
      const double p = 1 / (1 + std::exp(-x.dot(w)));
      g += (p - y[static_cast<std::size_t>(i)]) * x;
      h += p * (1 - p) * x * x.transpose();
    }
    for (Eigen::Index j = 1; j < m; ++j) {
      g(j) += l2 * w(j);
      h(j, j) += l2;
    }
    const Eigen::VectorXd step = h.ldlt().solve(g);
    w -= step;
    if (step.cwiseAbs().maxCoeff() < 1e-12) break;
  }
  return std::vector<double>(w.data(), w.data() + m);
}

constexpr std::uint64_t kRows = 3000;

}  // namespace

TEST(FitLogistic, MatchesSerialNewtonAndIsOptimal) {
  auto comm = par::Comm::world();
  const auto p = static_cast<std::uint64_t>(comm.size());
  const auto r = static_cast<std::uint64_t>(comm.rank());
  RowMatrix z;
  std::vector<std::uint8_t> y;
  make_rows(kRows * r / p, kRows * (r + 1) / p, z, y);
  const LogisticFit fit = fit_logistic(comm, z, y, 1.0, 50, 1e-10);
  EXPECT_TRUE(fit.converged);
  EXPECT_EQ(fit.rows, kRows);

  RowMatrix all;
  std::vector<std::uint8_t> all_y;
  make_rows(0, kRows, all, all_y);
  const auto ref = reference_fit(all, all_y, 1.0);
  ASSERT_EQ(fit.coef.size(), ref.size());
  for (std::size_t j = 0; j < ref.size(); ++j)
    EXPECT_NEAR(fit.coef[j], ref[j], 1e-9) << "coef " << j;
  // The planted signs are recovered (a sanity check on the data, not on the code).
  EXPECT_GT(fit.coef[1], 1.0);
  EXPECT_LT(fit.coef[2], -1.0);
  // First-order optimality over all rows (independent of how the sums were formed).
  const auto g = logistic_gradient(all, all_y, fit.coef, 1.0);
  for (double v : g) EXPECT_LT(std::abs(v), 1e-7);
}

TEST(FitLogistic, BitIdenticalForAnySplitOfTheRows) {
  auto comm = par::Comm::world();
  const auto p = static_cast<std::uint64_t>(comm.size());
  const auto r = static_cast<std::uint64_t>(comm.rank());
  auto fit_with = [&](auto&& mine) {
    std::vector<double> rows;
    std::vector<std::uint8_t> ys;
    for (std::uint64_t i = 0; i < kRows; ++i)
      if (mine(i)) {
        double z[kCols];
        std::uint8_t y;
        make_row(i, z, y);
        rows.insert(rows.end(), z, z + kCols);
        ys.push_back(y);
      }
    RowMatrix zm(static_cast<Eigen::Index>(ys.size()), kCols);
    std::copy(rows.begin(), rows.end(), zm.data());
    return fit_logistic(comm, zm, ys, 0.5, 50, 1e-10).coef;
  };
  const auto block = fit_with([&](std::uint64_t i) { return i * p / kRows == r; });
  const auto round_robin = fit_with([&](std::uint64_t i) { return i % p == r; });
  const auto last_rank = fit_with([&](std::uint64_t) { return r == p - 1; });
  EXPECT_EQ(block, round_robin);
  EXPECT_EQ(block, last_rank);
  // Every rank holds the same coefficients.
  auto c0 = block;
  comm.bcast(c0, 0);
  EXPECT_EQ(c0, block);
}

// The reported objective is the exact sum of the per-row losses (plus the penalty): the
// binned accumulation (several flushes per rank: more than 1024 rows each; a column of tiny
// values whose Hessian terms lie in the subnormal range) loses nothing, for any split.
TEST(FitLogistic, ObjectiveIsTheExactSumOfTheLosses) {
  auto comm = par::Comm::world();
  const auto p = static_cast<std::uint64_t>(comm.size());
  const auto r = static_cast<std::uint64_t>(comm.rank());
  constexpr std::uint64_t rows = 2600 * 4;
  auto tiny = [](RowMatrix& z, std::uint64_t first) {
    for (Eigen::Index i = 0; i < z.rows(); ++i)
      if ((first + static_cast<std::uint64_t>(i)) % 3 == 0) z(i, 3) *= 1e-160;
  };
  RowMatrix z;
  std::vector<std::uint8_t> y;
  make_rows(rows * r / p, rows * (r + 1) / p, z, y);
  tiny(z, rows * r / p);
  const double l2 = 0.25;
  const LogisticFit fit = fit_logistic(comm, z, y, l2, 50, 1e-10);
  EXPECT_TRUE(fit.converged);

  RowMatrix all;
  std::vector<std::uint8_t> all_y;
  make_rows(0, rows, all, all_y);
  tiny(all, 0);
  par::ExactAccumulator loss;
  for (Eigen::Index i = 0; i < all.rows(); ++i) {
    double eta = fit.coef[0];
    for (Eigen::Index j = 0; j < kCols; ++j)
      eta += fit.coef[static_cast<std::size_t>(j) + 1] * all(i, j);
    const double softplus = eta > 0 ? eta + std::log1p(std::exp(-eta)) : std::log1p(std::exp(eta));
    loss.add(softplus - (all_y[static_cast<std::size_t>(i)] ? eta : 0.0));
  }
  double penalty = 0;
  for (std::size_t j = 1; j < fit.coef.size(); ++j) penalty += fit.coef[j] * fit.coef[j];
  EXPECT_EQ(fit.objective, loss.value() + 0.5 * l2 * penalty);
  const auto g = logistic_gradient(all, all_y, fit.coef, l2);
  for (double v : g) EXPECT_LT(std::abs(v), 1e-7);
}

TEST(Metrics, DistributedAucAndLogLossMatchSerial) {
  auto comm = par::Comm::world();
  const auto p = static_cast<std::uint64_t>(comm.size());
  const auto r = static_cast<std::uint64_t>(comm.rank());
  constexpr std::uint64_t n = 5000;
  auto score_of = [](std::uint64_t i, std::uint8_t& label) {
    par::Stream rng(5, par::Purpose::test, i);
    label = rng.uniform() < 0.3 ? 1 : 0;
    double s = 1.0 / (1.0 + std::exp(-(rng.normal() + (label ? 1.0 : 0.0)) * 3.0));
    if (i % 7 == 0) s = std::round(s * 20) / 20;  // ties, 0 and 1 included
    if (i % 101 == 0) s = 1e-30;                  // below the lowest bin
    return s;
  };
  std::vector<double> mine, pos, neg;
  std::vector<std::uint8_t> labels;
  double loss = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint8_t label;
    const double s = score_of(i, label);
    (label ? pos : neg).push_back(s);
    const double c = std::clamp(s, 1e-15, 1 - 1e-15);
    loss += label ? -std::log(c) : -std::log1p(-c);
    if (i % p == r) {  // a split unrelated to the score order
      mine.push_back(s);
      labels.push_back(label);
    }
  }
  EXPECT_NEAR(distributed_auc(comm, mine, labels), auc_from_scores(pos, neg), 1e-12);
  EXPECT_NEAR(distributed_log_loss(comm, mine, labels), loss / n, 1e-12);
  // No positives: undefined.
  std::vector<std::uint8_t> zeros(mine.size(), 0);
  EXPECT_TRUE(std::isnan(distributed_auc(comm, mine, zeros)));
}

// ---- the stage and the leakage test
// --------------------------------------------------------------

namespace {

constexpr std::uint32_t kStart = 1'600'000'000;
constexpr std::uint32_t kDays = 40;
constexpr std::uint32_t kEnd = kStart + kDays * 86400;
constexpr int kLabelDays = 7;

bool by_user_time(const Event& a, const Event& b) {
  if (a.user != b.user) return a.user < b.user;
  if (a.time != b.time) return a.time < b.time;
  if (a.type != b.type) return a.type < b.type;
  return a.product < b.product;
}

// Users of this rank: active users keep visiting and buying; a buyer in the history is more
// likely to buy again. Returns this rank's events sorted by (user, time).
std::vector<Event> stage_events(par::Comm& comm, int users) {
  const par::VShardMap map(64, comm.size());
  std::vector<Event> ev;
  for (int u = 0; u < users; ++u) {
    const std::uint64_t pseudo = mix64(static_cast<std::uint64_t>(u) + 99);
    if (map.owner_of(pseudo) != comm.rank()) continue;
    par::Stream rng(21, par::Purpose::test, static_cast<std::uint64_t>(u));
    const double activity = rng.uniform();                     // visits per day, 0..1
    const double buy = 0.02 + 0.5 * activity * rng.uniform();  // active users buy more per visit
    const auto active_from = static_cast<std::uint32_t>(rng.uniform() * kDays * 0.8);
    for (std::uint32_t day = active_from; day < kDays; ++day) {
      if (rng.uniform() > activity) continue;
      Event e{};
      e.user = pseudo;
      e.product = 100 + rng.index(50);
      e.session = mix64(pseudo + day);
      e.price = 10 + 5 * static_cast<double>(rng.index(10));
      e.time = kStart + day * 86400 + static_cast<std::uint32_t>(rng.index(86000));
      e.type = EventType::view;
      ev.push_back(e);
      if (rng.uniform() < buy) {
        e.time += 60;
        e.type = EventType::purchase;
        ev.push_back(e);
      }
    }
  }
  std::sort(ev.begin(), ev.end(), by_user_time);
  return ev;
}

const std::vector<std::string> kNames = {"events", "purchases", "recency", "spend"};

struct Spy {
  std::uint32_t max_time_seen = 0;
  std::uint32_t window_end_seen = 0;
  bool mixed_users = false;
  std::uint64_t calls = 0;
};

UserFeatureFn spy_features(Spy& spy) {
  return
      [&spy](std::span<const Event> ev, std::uint32_t, std::uint32_t end, std::span<double> row) {
        ++spy.calls;
        spy.window_end_seen = std::max(spy.window_end_seen, end);
        double purchases = 0, spend = 0;
        for (const Event& e : ev) {
          spy.max_time_seen = std::max(spy.max_time_seen, e.time);
          spy.mixed_users = spy.mixed_users || e.user != ev.front().user;
          if (e.type == EventType::purchase) {
            purchases += 1;
            spend += e.price;
          }
        }
        row[0] = static_cast<double>(ev.size());
        row[1] = purchases;
        row[2] = static_cast<double>(end - ev.back().time) / 86400.0;
        row[3] = spend;
      };
}

PropensityModel train(par::Comm& comm, const std::vector<Event>& ev, Spy& spy,
                      PropensityHoldout* holdout = nullptr) {
  PropensityOptions o;
  o.label_days = kLabelDays;
  o.seed = 3;
  std::uint32_t first = UINT32_MAX, hi = 0;
  for (const Event& e : ev) {
    first = std::min(first, e.time);
    hi = std::max(hi, e.time);
  }
  first = comm.allreduce_min(first);
  hi = comm.allreduce_max(hi);
  return train_propensity(comm, ev, first, hi, kNames, {"events", "spend"}, spy_features(spy), o,
                          holdout);
}

}  // namespace

TEST(Propensity, NoLabelPeriodEventReachesTheFeatures) {
  auto comm = par::Comm::world();
  const auto events = stage_events(comm, 1500);
  Spy spy;
  PropensityHoldout holdout;
  const auto model = train(comm, events, spy, &holdout);
  ASSERT_TRUE(model.trained) << model.skipped;
  std::uint32_t window_end = 0;
  for (const Event& e : events) window_end = std::max(window_end, e.time);
  window_end = comm.allreduce_max(window_end);
  EXPECT_EQ(model.window_end, window_end);
  EXPECT_EQ(model.cutoff, window_end - kLabelDays * 86400u);
  EXPECT_LE(spy.max_time_seen, model.cutoff);
  EXPECT_EQ(spy.window_end_seen, model.cutoff);
  EXPECT_FALSE(spy.mixed_users);
  // One call per user with history; labels as an independent computation gives them.
  std::uint64_t with_history = 0;
  std::size_t h = 0;
  for (std::size_t i = 0; i < events.size();) {
    std::size_t j = i;
    bool history = false, bought = false;
    for (; j < events.size() && events[j].user == events[i].user; ++j) {
      history = history || events[j].time <= model.cutoff;
      bought = bought || (events[j].time > model.cutoff && events[j].type == EventType::purchase);
    }
    with_history += history;
    if (history && h < holdout.users.size() && holdout.users[h] == events[i].user) {
      EXPECT_EQ(holdout.label[h], bought ? 1 : 0);
      ++h;
    }
    i = j;
  }
  EXPECT_EQ(h, holdout.users.size());
  EXPECT_EQ(spy.calls, with_history);
  EXPECT_EQ(model.train_users + model.holdout_users, comm.allreduce_sum(with_history));
  // The planted signal is found.
  EXPECT_GT(model.auc, 0.6);
  EXPECT_TRUE(std::isfinite(model.logloss));
}

TEST(Propensity, LabelPeriodEventsChangeOnlyTheLabels) {
  auto comm = par::Comm::world();
  const auto events = stage_events(comm, 1500);
  Spy spy0;
  const auto base = train(comm, events, spy0);
  ASSERT_TRUE(base.trained);

  // Add views and carts in the label period, and extra purchases for users who already bought
  // there, and change the prices of label-period events: the labels stay the same, so nothing
  // may change.
  std::vector<Event> perturbed;
  for (std::size_t i = 0; i < events.size();) {
    std::size_t j = i;
    bool bought_late = false;
    for (; j < events.size() && events[j].user == events[i].user; ++j)
      bought_late =
          bought_late || (events[j].time > base.cutoff && events[j].type == EventType::purchase);
    for (std::size_t k = i; k < j; ++k) {
      Event e = events[k];
      if (e.time > base.cutoff) e.price *= 3;
      perturbed.push_back(e);
    }
    Event extra = events[j - 1];
    extra.time = base.cutoff + 3600;
    extra.type = EventType::cart;
    perturbed.push_back(extra);
    extra.type = EventType::view;
    extra.time = base.cutoff + 7200;
    perturbed.push_back(extra);
    if (bought_late) {
      extra.type = EventType::purchase;
      extra.time = base.cutoff + 7300;
      perturbed.push_back(extra);
    }
    i = j;
  }
  std::sort(perturbed.begin(), perturbed.end(), by_user_time);
  Spy spy1;
  const auto same = train(comm, perturbed, spy1);
  ASSERT_EQ(same.window_end, base.window_end);
  EXPECT_EQ(same.fit.coef, base.fit.coef);
  EXPECT_EQ(same.auc, base.auc);
  EXPECT_EQ(same.train_positives, base.train_positives);
  EXPECT_LE(spy1.max_time_seen, same.cutoff);

  // Control: the same kind of change before the cutoff does change the model (the test above
  // could fail).
  std::vector<Event> early = events;
  for (Event& e : early)
    if (e.time <= base.cutoff && e.type == EventType::purchase) e.price *= 3;
  Spy spy2;
  const auto changed = train(comm, early, spy2);
  EXPECT_NE(changed.fit.coef, base.fit.coef);
}

TEST(Propensity, SkipsWhenTheWindowIsTooShortOrOneClass) {
  auto comm = par::Comm::world();
  auto events = stage_events(comm, 200);
  std::vector<Event> short_window;
  for (const Event& e : events)
    if (e.time >= kEnd - 5 * 86400) short_window.push_back(e);
  Spy spy;
  const auto m1 = train(comm, short_window, spy);
  EXPECT_FALSE(m1.trained);
  EXPECT_NE(m1.skipped.find("not longer than the label period"), std::string::npos) << m1.skipped;
  EXPECT_EQ(spy.calls, 0u);

  for (Event& e : events)
    if (e.type == EventType::purchase) e.type = EventType::view;
  const auto m2 = train(comm, events, spy);
  EXPECT_FALSE(m2.trained);
  EXPECT_NE(m2.skipped.find("no buyer"), std::string::npos) << m2.skipped;
  EXPECT_THROW((void)m2.predict(RowMatrix(1, 4)), Error);
}
