// checkpoint.json (pipeline/checkpoint.hpp): what checkpoint_json writes parses back; damaged or
// foreign text is a UserError naming the file.
#include <gtest/gtest.h>

#include <string>

#include "ecom/core/error.hpp"
#include "ecom/pipeline/checkpoint.hpp"

namespace ecom::pipeline {
namespace {

TEST(CheckpointJson, RoundTrip) {
  CheckpointRecord r;
  r.completed = {"profile", "ingest", "features"};
  r.als_iterations = {10, 3};
  r.ranks = 3;
  r.run_time = "2020-01-01T00:00:00Z";
  r.config_hash = "0123456789abcdef";
  const std::string text = checkpoint_json(r);
  // Steps in pipeline order (the e2e tests read the list).
  EXPECT_LT(text.find("\"ingest\""), text.find("\"profile\""));
  EXPECT_LT(text.find("\"profile\""), text.find("\"features\""));
  const CheckpointRecord back = parse_checkpoint_json(text, "x");
  EXPECT_EQ(back.completed, r.completed);
  EXPECT_EQ(back.als_iterations, r.als_iterations);
  EXPECT_EQ(back.ranks, 3);
  EXPECT_EQ(back.run_time, r.run_time);
  EXPECT_EQ(back.config_hash, r.config_hash);
}

TEST(CheckpointJson, DamagedTextIsAUserError) {
  for (const char* text :
       {"", "{", "[]", "{\"format\": 2}", "{\"format\": 1, \"completed\": [\"fly\"]}",
        "{\"format\": 1, \"completed\": [], \"ranks\": \"two\"}",
        "{\"format\": 1, \"completed\": [], \"ranks\": 2}"}) {
    try {
      parse_checkpoint_json(text, "RUN/checkpoint.json");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find("RUN/checkpoint.json"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace ecom::pipeline
