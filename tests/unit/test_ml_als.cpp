// ALS building blocks without MPI: interactions, the keyed split, and the per-row solvers
// against a dense closed-form solve (Eigen).
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cstring>
#include <vector>

#include "ecom/ml/als.hpp"
#include "ecom/ml/interactions.hpp"
#include "ecom/ml/recommend.hpp"
#include "ecom/par/random.hpp"

using namespace ecom;
using namespace ecom::ml;

namespace {
Event ev(std::uint64_t user, std::uint64_t product, std::uint32_t time, EventType t,
         std::uint64_t category = 7) {
  Event e{};
  e.user = user;
  e.product = product;
  e.time = time;
  e.type = t;
  e.category_id = category;
  return e;
}
}  // namespace

TEST(AlsInteractions, StrengthCapTypesAndOrder) {
  // user 5: product 9 viewed 3x + purchased (3 + 5 = 8), product 2 carted 4x (12 -> cap 10),
  // product 4 only removed from cart (strength 0, kept); user 8: product 9 once.
  std::vector<Event> events = {ev(5, 9, 10, EventType::view),
                               ev(5, 2, 11, EventType::cart),
                               ev(5, 9, 12, EventType::view),
                               ev(5, 2, 13, EventType::cart),
                               ev(5, 4, 14, EventType::remove_from_cart),
                               ev(5, 2, 15, EventType::cart),
                               ev(5, 9, 16, EventType::view),
                               ev(5, 2, 17, EventType::cart),
                               ev(5, 9, 18, EventType::purchase, 3),
                               ev(8, 9, 20, EventType::view)};
  const auto pairs = build_interactions(events, InteractionWeights{});
  ASSERT_EQ(pairs.size(), 4U);
  EXPECT_EQ(pairs[0].product, 2U);
  EXPECT_DOUBLE_EQ(pairs[0].strength, 10.0);
  EXPECT_EQ(pairs[1].product, 4U);
  EXPECT_DOUBLE_EQ(pairs[1].strength, 0.0);
  EXPECT_EQ(pairs[2].product, 9U);
  EXPECT_DOUBLE_EQ(pairs[2].strength, 8.0);
  EXPECT_TRUE(pairs[2].purchased());
  EXPECT_FALSE(pairs[0].purchased());
  EXPECT_EQ(pairs[2].first_time, 10U);
  EXPECT_EQ(pairs[2].last_time, 18U);
  EXPECT_EQ(pairs[2].category_id, 3U);  // the last event's category
  EXPECT_EQ(pairs[3].user, 8U);
  EXPECT_DOUBLE_EQ(pairs[3].strength, 1.0);
  InteractionWeights w;
  w.cap = 100;
  w.view = 0.5;
  EXPECT_DOUBLE_EQ(build_interactions(events, w)[0].strength, 12.0);
  EXPECT_DOUBLE_EQ(build_interactions(events, w)[2].strength, 6.5);
  EXPECT_EQ(distinct_users(events), (std::vector<std::uint64_t>{5, 8}));
}

TEST(AlsInteractions, KeyedHoldoutFractionAndPurity) {
  int test = 0;
  const int n = 20000;
  for (int u = 0; u < n; ++u) {
    const bool a = keyed_holdout(42, 0.2, mix64(u), 1000 + u % 37);
    EXPECT_EQ(a, keyed_holdout(42, 0.2, mix64(u), 1000 + u % 37));
    test += a;
  }
  EXPECT_NEAR(test / static_cast<double>(n), 0.2, 0.015);
  EXPECT_FALSE(keyed_holdout(42, 0.0, 1, 2));
}

namespace {
// A tiny problem: n items with factors Y, one user with some observed items.
struct RowProblem {
  int k = 6, n = 25;
  double lambda = 0.1;
  std::vector<double> y;           // n x k
  std::vector<std::uint32_t> idx;  // observed items
  std::vector<double> conf;        // c = 1 + alpha r
  std::vector<double> gram;        // Y^T Y + lambda I
  RowProblem() {
    par::Stream rng(3, par::Purpose::test, 99);
    y.resize(static_cast<std::size_t>(n * k));
    for (double& v : y) v = rng.normal() * 0.5;
    for (int i = 0; i < n; i += 3) {
      idx.push_back(static_cast<std::uint32_t>(i));
      conf.push_back(1.0 + 1.0 * static_cast<double>(1 + rng.index(10)));
    }
    Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> Y(
        y.data(), n, k);
    Eigen::MatrixXd g = Y.transpose() * Y;
    g.diagonal().array() += lambda;
    gram.resize(static_cast<std::size_t>(k * k));
    for (int a = 0; a < k; ++a)
      for (int b = 0; b < k; ++b) gram[static_cast<std::size_t>(a * k + b)] = g(a, b);
  }
  // Dense closed form: x = (Y^T C Y + lambda I)^-1 Y^T C p with C, p over ALL items.
  Eigen::VectorXd dense() const {
    Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> Y(
        y.data(), n, k);
    Eigen::VectorXd c = Eigen::VectorXd::Ones(n), p = Eigen::VectorXd::Zero(n);
    for (std::size_t t = 0; t < idx.size(); ++t) {
      c(idx[t]) = conf[t];
      p(idx[t]) = 1.0;
    }
    Eigen::MatrixXd a = Y.transpose() * c.asDiagonal() * Y;
    a.diagonal().array() += lambda;
    return a.ldlt().solve(Y.transpose() * c.asDiagonal() * p);
  }
};
}  // namespace

TEST(AlsKernels, CholeskyMatchesDenseClosedForm) {
  RowProblem pr;
  std::vector<double> x(static_cast<std::size_t>(pr.k), 0.0), scratch(als_scratch_size(pr.k));
  als_cholesky_solve<double>(pr.k, pr.gram.data(), pr.y.data(), pr.idx.data(), pr.conf.data(),
                             pr.idx.size(), x.data(), scratch.data());
  const Eigen::VectorXd ref = pr.dense();
  for (int a = 0; a < pr.k; ++a) EXPECT_NEAR(x[static_cast<std::size_t>(a)], ref(a), 1e-10);
}

TEST(AlsKernels, ConjugateGradientConvergesToTheExactSolution) {
  RowProblem pr;
  const Eigen::VectorXd ref = pr.dense();
  // k steps of CG solve a k x k SPD system (up to rounding); 3 warm steps come close.
  std::vector<double> x(static_cast<std::size_t>(pr.k), 0.0), scratch(als_scratch_size(pr.k));
  als_cg_solve<double>(pr.k, pr.gram.data(), pr.y.data(), pr.idx.data(), pr.conf.data(),
                       pr.idx.size(), pr.k + 2, x.data(), scratch.data());
  for (int a = 0; a < pr.k; ++a) EXPECT_NEAR(x[static_cast<std::size_t>(a)], ref(a), 1e-8);
  // Warm start: 3 steps repeated (as across iterations) converge too.
  std::vector<double> w(static_cast<std::size_t>(pr.k), 0.0);
  for (int rep = 0; rep < 10; ++rep)
    als_cg_solve<double>(pr.k, pr.gram.data(), pr.y.data(), pr.idx.data(), pr.conf.data(),
                         pr.idx.size(), 3, w.data(), scratch.data());
  for (int a = 0; a < pr.k; ++a) EXPECT_NEAR(w[static_cast<std::size_t>(a)], ref(a), 1e-8);
  // float kernels agree to float precision.
  std::vector<float> yf(pr.y.begin(), pr.y.end()), gf(pr.gram.begin(), pr.gram.end()),
      cf(pr.conf.begin(), pr.conf.end()), xf(static_cast<std::size_t>(pr.k), 0.0F),
      sf(als_scratch_size(pr.k));
  als_cholesky_solve<float>(pr.k, gf.data(), yf.data(), pr.idx.data(), cf.data(), pr.idx.size(),
                            xf.data(), sf.data());
  for (int a = 0; a < pr.k; ++a)
    EXPECT_NEAR(xf[static_cast<std::size_t>(a)], ref(a), 1e-4 * (1 + std::abs(ref(a))));
}

TEST(AlsKernels, ResultDoesNotDependOnWhereTheRowsSit) {
  // Same rows at a shifted (differently aligned) address and a larger k (tails of the
  // 8-accumulator sums): bit-identical results.
  for (int k : {5, 8, 13, 50}) {
    par::Stream rng(5, par::Purpose::test, static_cast<std::uint64_t>(k));
    const int n = 40;
    std::vector<double> y(static_cast<std::size_t>(n * k) + 1);
    for (double& v : y) v = rng.normal();
    std::vector<double> gram(static_cast<std::size_t>(k * k), 0.0);
    for (int a = 0; a < k; ++a) gram[static_cast<std::size_t>(a * k + a)] = 3.0;
    std::vector<std::uint32_t> idx = {1, 7, 12, 30};
    std::vector<double> conf = {2, 5, 11, 3};
    std::vector<double> x0(static_cast<std::size_t>(k)), x1(static_cast<std::size_t>(k) + 1),
        s0(als_scratch_size(k)), s1(als_scratch_size(k) + 3);
    for (int a = 0; a < k; ++a)
      x0[static_cast<std::size_t>(a)] = x1[static_cast<std::size_t>(a) + 1] = 0.01 * a;
    std::vector<double> shifted(y.size() + 1);
    std::memcpy(shifted.data() + 1, y.data(), y.size() * sizeof(double));
    als_cg_solve<double>(k, gram.data(), y.data(), idx.data(), conf.data(), idx.size(), 3,
                         x0.data(), s0.data());
    als_cg_solve<double>(k, gram.data(), shifted.data() + 1, idx.data(), conf.data(), idx.size(), 3,
                         x1.data() + 1, s1.data() + 3);
    EXPECT_EQ(std::memcmp(x0.data(), x1.data() + 1, x0.size() * sizeof(double)), 0) << "k=" << k;
    // The scoring dot (sum over j ascending) vs a plain loop.
    double plain = 0;
    for (int j = 0; j < k; ++j)
      plain += y[static_cast<std::size_t>(j)] * y[static_cast<std::size_t>(k + j)];
    EXPECT_EQ(als_score(k, y.data(), y.data() + k), plain);
  }
}

TEST(AlsFoldIn, ExactSolveWithItemFactorsFixed) {
  // Catalogue of 30 products (ids 100, 103, ...), k = 5; user 7 interacted with 4 of them and
  // with a product the model does not know; user 9 only with unknown or zero-strength pairs.
  const int k = 5, n = 30;
  const double alpha = 2.0, lambda = 0.3;
  Catalogue cat;
  cat.factors = k;
  par::Stream rng(8, par::Purpose::test, 1);
  for (int i = 0; i < n; ++i) {
    cat.products.push_back(100 + 3 * static_cast<std::uint64_t>(i));
    cat.category.push_back(1);
    cat.popularity.push_back(0);
    for (int j = 0; j < k; ++j) cat.item_factors.push_back(rng.normal() * 0.4);
  }
  auto pair = [](std::uint64_t u, std::uint64_t p, double r) {
    Interaction it;
    it.user = u;
    it.product = p;
    it.strength = r;
    return it;
  };
  const std::vector<Interaction> pairs = {pair(7, 103, 3),  pair(7, 130, 1), pair(7, 131, 5),
                                          pair(7, 160, 10), pair(7, 175, 0), pair(7, 187, 4),
                                          pair(9, 104, 2),  pair(9, 106, 0)};
  const std::vector<std::uint64_t> users = {7, 9};
  const AlsModel m = fold_in_users(cat, users, pairs, alpha, lambda);
  ASSERT_EQ(m.users, users);
  EXPECT_EQ(m.user_train_count[0], 4U);  // 103, 130, 160, 187 (131 unknown, 175 strength 0)
  EXPECT_EQ(m.user_train_count[1], 0U);
  for (int j = 0; j < k; ++j) EXPECT_EQ(m.user_factors[static_cast<std::size_t>(k + j)], 0.0);
  // Dense closed form: x = (Y^T C Y + lambda I)^-1 Y^T C p over the whole catalogue.
  Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> Y(
      cat.item_factors.data(), n, k);
  Eigen::VectorXd c = Eigen::VectorXd::Ones(n), p = Eigen::VectorXd::Zero(n);
  for (const auto& [product, r] :
       std::vector<std::pair<std::uint64_t, double>>{{103, 3}, {130, 1}, {160, 10}, {187, 4}}) {
    const auto i = static_cast<Eigen::Index>(cat.index_of(product));
    c(i) = 1 + alpha * r;
    p(i) = 1;
  }
  Eigen::MatrixXd a = Y.transpose() * c.asDiagonal() * Y;
  a.diagonal().array() += lambda;
  const Eigen::VectorXd x = a.ldlt().solve(Y.transpose() * c.asDiagonal() * p);
  for (int j = 0; j < k; ++j) EXPECT_NEAR(m.user_factors[static_cast<std::size_t>(j)], x(j), 1e-10);
}
