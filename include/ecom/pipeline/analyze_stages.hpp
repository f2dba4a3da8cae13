#pragma once
// The stages of `ecom analyze`, in order (run_analyze in pipeline/analyze.cpp is their list; see
// docs/DESIGN.md). Each is a collective function of explicit inputs returning its output, and
// opens one pipeline::Stage: timer, traffic stage "analyze/<name>", stop check, checkpoint memo.
#include <cstdint>
#include <string>
#include <vector>

#include "ecom/core/types.hpp"
#include "ecom/features/features.hpp"
#include "ecom/io/event_store.hpp"
#include "ecom/ml/pca.hpp"
#include "ecom/ml/propensity.hpp"
#include "ecom/ml/recommend.hpp"
#include "ecom/ml/segments.hpp"
#include "ecom/ml/selection.hpp"
#include "ecom/ml/transform.hpp"
#include "ecom/pipeline/analyze.hpp"

namespace ecom::pipeline {

// "read": this rank's events of the store (pseudonym order) and the store's manifest.
struct StoreEvents {
  std::vector<Event> events;
  std::vector<io::FileManifest> manifest;
  std::uint32_t vshards = 0;
  std::uint64_t total = 0;  // events over all ranks (> 0)
};
StoreEvents read_store_events(Context& ctx, const AnalyzeOptions& opts);

// "features": one row per user of this rank over the global time window (memoised).
struct UserFeatures {
  features::FeatureContext context;  // window over all ranks
  features::FeatureTable table;
  ml::RowMatrix raw;               // table.values as a matrix
  std::uint64_t users = 0;         // over all ranks
  std::uint64_t money_capped = 0;  // users whose money features were capped (over all ranks)
};
UserFeatures compute_user_features(Context& ctx, const AnalyzeOptions& opts,
                                   const StoreEvents& store);

// "transform+pca": log1p and z-scores, then the principal components.
struct Projection {
  ml::Scaler scaler;
  ml::RowMatrix transformed;
  ml::Pca pca;
  ml::RowMatrix scores;  // users x kept components
};
Projection transform_and_project(Context& ctx, const AnalyzeOptions& opts,
                                 const UserFeatures& features);

// "segments": k selection and k-means (memoised), segment profiles and names, confidence.
struct Segments {
  ml::KSelection selection;
  ml::SegmentProfiles profiles;
  std::vector<double> confidence;  // per user of this rank
  std::vector<std::string> names() const;
};
Segments find_segments(Context& ctx, const AnalyzeOptions& opts, const UserFeatures& features,
                       const Projection& projection);

// "propensity": purchase propensity model and each user's probability (NaN when not trained).
struct Propensity {
  ml::PropensityModel model;
  ml::PropensityHoldout holdout;
  std::vector<double> proba;
};
Propensity fit_propensity(Context& ctx, const AnalyzeOptions& opts, const StoreEvents& store,
                          const UserFeatures& features);

// "recommend": ALS (resumable sweeps), holdout evaluation, top-N (empty with --no-recommend).
ml::RecommenderResult recommend(Context& ctx, const AnalyzeOptions& opts, const StoreEvents& store);

// "write": the warehouse CSVs and ecom.h5 (under a temporary name, renamed when complete).
struct AnalysisResults {
  const std::string& run_time;
  const UserFeatures& features;
  const Projection& projection;
  const Segments& segments;
  const Propensity& propensity;
  const ml::RecommenderResult& recommendations;
};
void write_analysis(Context& ctx, const AnalyzeOptions& opts, const AnalysisResults& results);

}  // namespace ecom::pipeline
