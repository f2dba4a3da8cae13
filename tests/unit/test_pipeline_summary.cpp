// run.json and score.json text (pipeline/summary.hpp): keys in the documented order, integers
// as integers, NaN as null, strings escaped.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "ecom/pipeline/summary.hpp"

namespace ecom::pipeline {
namespace {

RunSummary example() {
  RunSummary s;
  s.run_time = "2020-01-01T00:00:00Z";
  s.store = "a \"quoted\"\npath";
  s.config = "seed=1\n";
  s.ranks = 3;
  s.events = 12345678901ULL;
  s.users = 42;
  io::FileManifest f;
  f.rows_read = 10;
  f.rows_kept = 7;
  f.rejects = {{"bad_time", 2}, {"bad_price", 1}};
  s.manifest = {f, f};
  s.pca_explained = {0.5, 0.25};
  s.choice.k = 4;
  s.choice.reason = "fixed";
  ml::KScore row;
  row.k = 4;
  row.silhouette = std::numeric_limits<double>::quiet_NaN();
  row.silhouette_sample = 17;
  s.chosen = row;
  s.inertia = 12.0;
  s.segment_names = {"VIP", "dormant"};
  s.propensity.skipped = "too few buyers";
  s.stages = {par::StageStat{"analyze", 1.5, 2.0, 2.5, 0, 0, ""}};
  return s;
}

std::size_t at(const std::string& text, const std::string& what) {
  const auto i = text.find(what);
  EXPECT_NE(i, std::string::npos) << what << " not in\n" << text;
  return i;
}

TEST(RunJson, KeysInOrderIntegersStayIntegersNanIsNull) {
  const std::string j = run_json(example());
  EXPECT_LT(at(j, "\"version\""), at(j, "\"git_revision\""));
  EXPECT_LT(at(j, "\"run_time\""), at(j, "\"ranks\""));
  EXPECT_LT(at(j, "\"counts\""), at(j, "\"rejects\""));
  EXPECT_LT(at(j, "\"propensity\""), at(j, "\"config\""));
  EXPECT_LT(at(j, "\"traffic_bytes\""), at(j, "\"stages\""));
  at(j, "\"ranks\": 3,");
  at(j, "\"events\": 12345678901,");
  at(j, "\"rows_read\": 20,");
  at(j, "\"files\": 2");
  at(j, "\"bad_price\": 2,");
  at(j, "\"silhouette\": null,");
  at(j, "\"silhouette_sample\": 17,");
  at(j, "\"components\": 2,");
  at(j, "\"store\": \"a \\\"quoted\\\"\\npath\"");
  at(j, "\"run_time\": \"2020-01-01T00:00:00Z\"");  // test_purge.sh edits it with sed
  at(j, "\"products\": 0,");
  EXPECT_EQ(j.find("\"als\""), std::string::npos);  // no recommendations: no metrics
  EXPECT_EQ(j.back(), '\n');
}

TEST(RunJson, RecommendationsWhenTrained) {
  RunSummary s = example();
  s.recommendations = RunSummary::Recommendations{};
  s.recommendations->topn.users[1] = 5;
  s.recommendations->products = 99;
  const std::string j = run_json(s);
  EXPECT_LT(at(j, "\"als\""), at(j, "\"popularity\""));
  at(j, "\"category_popular\": 5,");
  at(j, "\"products\": 99,");
}

TEST(ScoreJson, CountsAndStages) {
  ScoreReport r;
  r.counts.users = 7;
  r.ranks = 2;
  r.seconds = 0.25;
  r.stages = {par::StageStat{"score/model", 0.1, 0.1, 0.125, 0, 0, ""}};
  const std::string j = score_json(r);
  at(j, "\"users\": 7,");
  at(j, "\"seconds\": 0.25,");
  at(j, "\"stage\": \"score/model\"");
  at(j, "\"max\": 0.125");
  EXPECT_EQ(j.find("\"min\""), std::string::npos);
}

}  // namespace
}  // namespace ecom::pipeline
