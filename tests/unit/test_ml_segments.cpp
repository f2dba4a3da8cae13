// Segment names and confidence without MPI: rule parsing, ordered rules on hand-made profiles,
// unique names, the default rules, the CSV, the soft confidence against hand computation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ecom/ml/segments.hpp"

using namespace ecom::ml;

TEST(NamingRules, Parse) {
  NamingRule r = parse_naming_rule("VIP: monetary >= 3x & n_purchases>2X and share < 0.5");
  EXPECT_EQ(r.name, "VIP");
  ASSERT_EQ(r.conditions.size(), 3u);
  EXPECT_EQ(r.conditions[0].quantity, "monetary");
  EXPECT_EQ(r.conditions[0].op, CompareOp::ge);
  EXPECT_DOUBLE_EQ(r.conditions[0].value, 3);
  EXPECT_TRUE(r.conditions[0].relative);
  EXPECT_EQ(r.conditions[1].op, CompareOp::gt);
  EXPECT_TRUE(r.conditions[1].relative);
  EXPECT_EQ(r.conditions[2].quantity, "share");
  EXPECT_EQ(r.conditions[2].op, CompareOp::lt);
  EXPECT_FALSE(r.conditions[2].relative);
  EXPECT_DOUBLE_EQ(r.conditions[2].value, 0.5);
  r = parse_naming_rule("everyone else:");
  EXPECT_EQ(r.name, "everyone else");
  EXPECT_TRUE(r.conditions.empty());
  r = parse_naming_rule("a: x <= -1.5e2");
  EXPECT_EQ(r.conditions[0].op, CompareOp::le);
  EXPECT_DOUBLE_EQ(r.conditions[0].value, -150);
  for (const char* bad :
       {"no colon", ": x > 1", "a: x 1", "a: > 1", "a: x > abc", "a: x > 1 &", "a: x >= 1xx"})
    EXPECT_THROW(parse_naming_rule(bad), ecom::UserError) << bad;
  for (const auto& t : default_naming_rules()) EXPECT_NO_THROW(parse_naming_rule(t)) << t;
}

namespace {
// Profiles over features {monetary, n_purchases, n_views}; population means given directly.
SegmentProfiles profiles(std::vector<std::vector<double>> means, std::vector<std::uint64_t> users) {
  SegmentProfiles p;
  p.features = {"monetary", "n_purchases", "n_views"};
  for (auto u : users) p.users += u;
  p.overall_means = {0, 0, 0};
  for (std::size_t c = 0; c < means.size(); ++c) {
    SegmentProfile s;
    s.segment = static_cast<int>(c);
    s.users = users[c];
    s.share = static_cast<double>(users[c]) / static_cast<double>(p.users);
    s.means = means[c];
    s.revenue = means[c][0] * static_cast<double>(users[c]);
    p.revenue += s.revenue;
    for (std::size_t j = 0; j < 3; ++j) p.overall_means[j] += means[c][j] * s.share;
    p.segments.push_back(s);
  }
  for (auto& s : p.segments) s.revenue_share = s.revenue / p.revenue;
  return p;
}
}  // namespace

TEST(NamingRules, FirstMatchingRuleFallbackAndUniqueness) {
  // Population means: monetary (1000·10 + 10·90 + 0·900 + 1000·0)/1000 ... computed by profiles().
  SegmentProfiles p =
      profiles({{1000, 10, 50}, {10, 1, 20}, {0, 0, 80}, {900, 9, 40}}, {10, 90, 880, 20});
  // Overall: monetary = (10000 + 900 + 0 + 18000)/1000 = 28.9; n_purchases = (100+90+0+180)/1000
  // = 0.37; n_views = (500 + 1800 + 70400 + 800)/1000 = 73.5.
  EXPECT_NEAR(p.overall_means[0], 28.9, 1e-12);
  const std::vector<std::string> texts = {
      "VIP: monetary >= 3x & n_purchases >= 2x",
      "buyers: n_purchases >= 1x",
      "browsers: n_views >= 1x & n_purchases <= 0.25x",
  };
  const auto rules = parse_naming_rules(texts);
  const auto names = name_segments(p, rules);
  // Segment 0 and 3 are both VIP (second gets a suffix); 1: 1 >= 0.37 -> buyers;
  // 2: 80 >= 73.5 and 0 <= 0.0925 -> browsers.
  EXPECT_EQ(names, (std::vector<std::string>{"VIP", "buyers", "browsers", "VIP 2"}));
  // No rule matches -> "segment N".
  const auto only_vip = parse_naming_rules(std::vector<std::string>{texts[0]});
  EXPECT_EQ(name_segments(p, only_vip),
            (std::vector<std::string>{"VIP", "segment 1", "segment 2", "VIP 2"}));
  // share / users relative to the average segment (1/k, total/k).
  const auto big =
      parse_naming_rules(std::vector<std::string>{"big: share >= 2x", "mid: users >= 0.3x"});
  EXPECT_EQ(name_segments(p, big),
            (std::vector<std::string>{"segment 0", "mid", "big", "segment 3"}));
  // Unknown quantity: a user error naming the rule.
  const auto bad = parse_naming_rules(std::vector<std::string>{"x: n_carts >= 1x"});
  EXPECT_THROW(name_segments(p, bad), ecom::UserError);
  // "_mean" suffix accepted.
  const auto m = parse_naming_rules(std::vector<std::string>{"rich: monetary_mean >= 100"});
  EXPECT_EQ(name_segments(p, m)[0], "rich");
  // A suffix never collides with a name a rule produced literally.
  const auto lit = parse_naming_rules(std::vector<std::string>{"VIP 2: n_views >= 79", "VIP:"});
  EXPECT_EQ(name_segments(p, lit), (std::vector<std::string>{"VIP", "VIP 2", "VIP 2 2", "VIP 3"}));
}

TEST(SegmentProfilesCsv, Format) {
  SegmentProfiles p = profiles({{1000, 10, 50}, {0, 0, 80}}, {1, 3});
  p.segments[0].name = "VIP, gold";
  p.segments[1].name = "browsers";
  const std::string csv = segment_profiles_csv(p);
  EXPECT_EQ(csv,
            "segment_id,name,users,share,revenue,revenue_share,monetary_mean,n_purchases_mean,n_"
            "views_mean\n"
            "0,\"VIP, gold\",1,0.25,1000,1,1000,10,50\n"
            "1,browsers,3,0.75,0,0,0,0,80\n");
}

TEST(SegmentConfidence, GaussianPosteriorByHand) {
  // 1-D, centroids at 0 and 2, σ² = 1: for x = 0.5, d² = 0.25 and 2.25,
  // p(own=0) = e^{-0.125} / (e^{-0.125} + e^{-1.125}) = 1 / (1 + e^{-1}).
  RowMatrix x(3, 1), c(2, 1);
  x << 0.5, 1.0, 2.0;
  c << 0.0, 2.0;
  const std::vector<std::int32_t> labels = {0, 0, 1};
  const auto conf = segment_confidence(x, c, labels, 1.0);
  EXPECT_NEAR(conf[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-15);
  EXPECT_NEAR(conf[1], 0.5, 1e-15);  // on the boundary
  EXPECT_NEAR(conf[2], 1.0 / (1.0 + std::exp(-2.0)), 1e-15);
  // σ² = 0: 1 at the centroid, shared on exact ties.
  RowMatrix y(2, 1), cc(3, 1);
  y << 0.0, 1.0;
  cc << 0.0, 0.0, 5.0;
  const auto z = segment_confidence(y, cc, std::vector<std::int32_t>{0, 0}, 0.0);
  EXPECT_DOUBLE_EQ(z[0], 0.5);
  EXPECT_DOUBLE_EQ(z[1], 0.5);
  EXPECT_DOUBLE_EQ(pooled_variance(12.0, 3, 2), 2.0);
  EXPECT_DOUBLE_EQ(pooled_variance(12.0, 0, 2), 0.0);
  // Far from every centroid: no underflow to 0/0.
  RowMatrix far(1, 1);
  far << 1e6;
  const auto f = segment_confidence(far, c, std::vector<std::int32_t>{1}, 1e-3);
  EXPECT_DOUBLE_EQ(f[0], 1.0);
}

TEST(NamingRules, DefaultsNameTheSyntheticArchetypes) {
  // Segment means of a 1M-event synthetic run (ecom synth --seed 1, k = 6), rounded; the
  // population means are the user-weighted means of the segments.
  const std::vector<std::string> f = {"n_events",    "n_views",        "n_purchases",
                                      "active_days", "recency_days",   "monetary",
                                      "avg_basket",  "avg_view_price", "abandonment_rate"};
  const std::vector<std::vector<double>> means = {
      {2.0, 2.0, 0, 1.1, 26.9, 0, 0, 150, 0},            // dormant
      {29.0, 29.0, 0, 4.3, 3.9, 0, 0, 142, 0},           // window shopper
      {12.1, 10.1, 0, 3.0, 5.8, 0, 0, 148, 1.0},         // cart abandoner
      {16.1, 14.8, 1.11, 4.0, 4.9, 10.6, 9.6, 23, 0},    // bargain hunter
      {16.6, 15.3, 1.11, 4.0, 4.1, 1322, 1190, 944, 0},  // top spender
      {18.5, 16.0, 2.19, 7.9, 1.7, 312, 142, 148, 0}};   // loyal regular
  const std::vector<std::uint64_t> users = {27867, 20864, 9756, 4647, 4605, 3508};
  SegmentProfiles p;
  p.features = f;
  for (std::size_t c = 0; c < means.size(); ++c) {
    SegmentProfile s;
    s.segment = static_cast<int>(c);
    s.users = users[c];
    s.means = means[c];
    p.users += users[c];
    p.segments.push_back(s);
  }
  p.overall_means.assign(f.size(), 0.0);
  for (std::size_t c = 0; c < means.size(); ++c)
    for (std::size_t j = 0; j < f.size(); ++j)
      p.overall_means[j] +=
          means[c][j] * static_cast<double>(users[c]) / static_cast<double>(p.users);
  EXPECT_EQ(name_segments(p, parse_naming_rules(default_naming_rules())),
            (std::vector<std::string>{"dormant", "window shoppers", "cart abandoners",
                                      "bargain hunters", "top spenders", "loyal"}));
  // A segment matching no earlier rule is "occasional" (the last rule has no condition).
  p.segments[0].means[4] = 10.0;  // recency no longer 1.5x the mean
  EXPECT_EQ(name_segments(p, parse_naming_rules(default_naming_rules()))[0], "occasional");
}
