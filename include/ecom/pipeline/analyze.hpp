#pragma once
// `ecom analyze`: event store -> features -> transform -> PCA -> k selection -> k-means ->
// profiles and names -> propensity -> recommendations -> run directory (ecom.h5, warehouse CSVs,
// run.json). The stages: pipeline/analyze_stages.hpp; their order and what each reads and
// writes: docs/DESIGN.md.
#include <cstdint>
#include <string>
#include <vector>

#include "ecom/core/types.hpp"
#include "ecom/features/features.hpp"
#include "ecom/ml/kmeans.hpp"
#include "ecom/ml/propensity.hpp"
#include "ecom/ml/recommend.hpp"
#include "ecom/ml/selection.hpp"

namespace ecom {
struct Context;
}

namespace ecom::pipeline {

// Model options shared by `analyze` and `run` (top-level keys of the TOML config).
struct ModelOptions {
  std::uint64_t seed = 1;
  features::FeatureConfig features;
  std::vector<std::string> log1p = features::default_log1p_features();
  double pca_variance = 0.9;  // components kept to this share of variance...
  int pca_components = 0;     // ...unless > 0: exactly this many
  int k = 0;                  // > 0: fixed number of segments; 0: chosen by the k rule
  ml::SelectionOptions selection;
  std::vector<std::string> naming_rules;  // empty: the defaults
  bool recommend = true;
  ml::RecommenderConfig recommender;
  ml::PropensityOptions propensity;  // its seed is `seed`
};

class Checkpoint;  // pipeline/checkpoint.hpp

struct AnalyzeOptions {
  std::string store;
  std::string out;
  std::string run_time;  // ISO 8601 UTC for updated_at; "" = now
  ModelOptions model;
  Checkpoint* checkpoint = nullptr;  // `ecom run`: save and resume features, model, ALS
};

// Collective. Runs the stages of the analysis on the store, into opts.out.
void run_analyze(Context& ctx, const AnalyzeOptions& opts);

}  // namespace ecom::pipeline
