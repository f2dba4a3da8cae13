// Pure parts of the propensity model: the label-period cut, the buyers of the label period, the
// logistic prediction and gradient, option checks.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/ml/propensity.hpp"

using namespace ecom;
using namespace ecom::ml;

namespace {
Event ev(std::uint64_t user, std::uint32_t time, EventType type) {
  Event e{};
  e.user = user;
  e.time = time;
  e.type = type;
  return e;
}
}  // namespace

TEST(PropensityCut, CutoffIsWindowEndMinusDays) {
  EXPECT_EQ(propensity_cutoff(1'000'000, 7), 1'000'000u - 7 * 86400u);
  EXPECT_EQ(propensity_cutoff(1'000'000, 1), 1'000'000u - 86400u);
  EXPECT_EQ(propensity_cutoff(1000, 7), 0u);  // before the epoch: clamped
}

TEST(PropensityCut, BuyersAreUsersWithAPurchaseAfterTheCutoff) {
  const std::uint32_t cut = 500;
  const std::vector<Event> events = {
      ev(1, 100, EventType::purchase), ev(1, 500, EventType::purchase),  // at the cutoff: history
      ev(2, 400, EventType::view),     ev(2, 501, EventType::cart),      // no purchase after
      ev(3, 501, EventType::purchase), ev(3, 502, EventType::purchase),  // counted once
      ev(4, 10, EventType::view),      ev(4, 900, EventType::purchase)};
  EXPECT_EQ(label_period_buyers(events, cut), (std::vector<std::uint64_t>{3, 4}));
}

TEST(Logistic, PredictIsTheSigmoidOfTheLinearPredictor) {
  const std::vector<double> coef = {0.5, 2.0, -1.0};
  const double z[2] = {0.25, 3.0};
  const double eta = 0.5 + 2.0 * 0.25 - 3.0;  // -2
  EXPECT_NEAR(logistic_predict(coef, z), 1.0 / (1.0 + std::exp(-eta)), 1e-15);
  const double big[2] = {400.0, 0.0};  // no overflow at either end
  EXPECT_EQ(logistic_predict(coef, big), 1.0);
  const double small[2] = {-300.0, 0.0};  // eta = -599.5: no underflow to 0 yet
  EXPECT_GT(logistic_predict(coef, small), 0.0);
  EXPECT_LT(logistic_predict(coef, small), 1e-250);
}

TEST(Logistic, GradientByHand) {
  // Two rows, one column; coef = (0, 0): p = 1/2 for both rows.
  RowMatrix z(2, 1);
  z << 2.0, -1.0;
  const std::vector<std::uint8_t> y = {1, 0};
  const std::vector<double> coef = {0.0, 0.0};
  const auto g = logistic_gradient(z, y, coef, 3.0);
  EXPECT_DOUBLE_EQ(g[0], (0.5 - 1) + (0.5 - 0));
  EXPECT_DOUBLE_EQ(g[1], (0.5 - 1) * 2.0 + 0.5 * -1.0);
  // The penalty acts on the weights, not the intercept.
  const auto g2 = logistic_gradient(RowMatrix(0, 1), {}, std::vector<double>{1.0, 2.0}, 3.0);
  EXPECT_DOUBLE_EQ(g2[0], 0.0);
  EXPECT_DOUBLE_EQ(g2[1], 6.0);
}

TEST(PropensityOptions, OutOfRangeIsAUserError) {
  PropensityOptions o;
  EXPECT_NO_THROW(validate(o));
  o.label_days = 0;
  EXPECT_THROW(validate(o), UserError);
  o = {};
  o.holdout_fraction = 1.0;
  EXPECT_THROW(validate(o), UserError);
  o = {};
  o.l2 = -1;
  EXPECT_THROW(validate(o), UserError);
  o = {};
  o.max_iter = 0;
  EXPECT_THROW(validate(o), UserError);
}
