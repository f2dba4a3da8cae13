#pragma once
// The one results-file module: every group of RUNDIR/ecom.h5 and every state file of the
// checkpoint (RUNDIR/checkpoint/*.h5) has one save and one load here, so each layout is written
// once (docs/DESIGN.md lists the groups). `analyze` saves, `score` and the checkpoint load; a
// new stage adds its group here. HDF5 goes through the io/h5 wrappers only.
//
// save_* are collective (every rank calls them in the same order, on a file created with
// h5::File::create(comm, ...)). load_* read what every rank needs (replicated data; `rows`
// datasets whole), on a file opened on every rank; they throw ecom::Error (Hdf5Error) for a
// missing object, and leave checks of compatibility to the caller.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ecom/features/features.hpp"
#include "ecom/io/h5.hpp"
#include "ecom/ml/als.hpp"
#include "ecom/ml/interactions.hpp"
#include "ecom/ml/pca.hpp"
#include "ecom/ml/propensity.hpp"
#include "ecom/ml/recommend.hpp"
#include "ecom/ml/selection.hpp"
#include "ecom/ml/transform.hpp"
#include "ecom/par/stats.hpp"

namespace ecom::pipeline::results {

namespace h5 = io::h5;

// ---- /users: one row per user of the run, in pseudonym order ------------------------------
struct UserColumns {  // what analyze saves (this rank's rows)
  const features::FeatureTable& table;
  const ml::RowMatrix& transformed;
  const ml::RowMatrix& pca_scores;
  std::span<const std::int32_t> segment;
  std::span<const double> confidence;
  std::span<const double> propensity;
};
void save_users(par::Comm& comm, const h5::Group& root, const UserColumns& users);
struct UserRows {  // all rows
  std::vector<std::uint64_t> pseudonym;
  std::vector<std::int32_t> segment;
  std::vector<double> confidence, propensity;
};
UserRows load_users(const h5::Group& root);
std::uint64_t user_count(const h5::Group& root);

// ---- /model/transform (names, log1p flags) and /model/scaler (z-score moments) ----------------
void save_transform(par::Comm& comm, const h5::Group& model, const ml::Scaler& scaler);
void load_transform(const h5::Group& root, ml::Scaler& scaler);  // names, log1p
void save_scaler(par::Comm& comm, const h5::Group& model, const ml::Scaler& scaler);
// mean, scale, constant. Older runs: the moments in /model/transform, no `constant` (all 0).
void load_scaler(const h5::Group& root, ml::Scaler& scaler);

// ---- /model/pca --------------------------------------------------------------------------
void save_pca(par::Comm& comm, const h5::Group& model, const ml::Pca& pca);
ml::Pca load_pca(const h5::Group& root);  // mean, loadings, eigenvalues, explained_ratio

// ---- /model: centroids, segment names, and the attributes of the clustering --------------
struct Segmentation {
  ml::RowMatrix centroids;  // k x PCA components
  std::vector<std::string> names;
  double inertia = 0;
  int k = 0;
  std::uint32_t window_start = 0, window_end = 0;  // the features' time window
};
void save_segmentation(par::Comm& comm, const h5::Group& model, const Segmentation& s);
Segmentation load_segmentation(const h5::Group& root);

// ---- /validation: the k table and the chosen k -------------------------------------------
void save_validation(par::Comm& comm, const h5::Group& root, const ml::KSelection& selection);
ml::KSelection load_validation(const h5::Group& root);  // table (without iterations) and choice

// ---- /propensity -------------------------------------------------------------------------
void save_propensity(par::Comm& comm, const h5::Group& root, const ml::PropensityModel& model,
                     const ml::PropensityHoldout& holdout, const ml::PropensityOptions& options);
// trained false when the group is missing or the model was skipped.
ml::PropensityModel load_propensity(const h5::Group& root);

// ---- /als: item tables and factors, user factors, the settings `ecom score` folds in with ---
struct AlsSettings {  // defaults: those of runs that did not record them
  ml::InteractionWeights weights;
  double alpha = 1.0, regularization = 0.1;
  int top_n = 10;
  ml::Exclusion exclude = ml::Exclusion::purchased;
  int fallback_categories = 3;
};
void save_als(par::Comm& comm, const h5::Group& root, const ml::RecommenderResult& recs,
              const ml::RecommenderConfig& config);
struct SavedAls {
  ml::Catalogue catalogue;
  AlsSettings settings;
};
std::optional<SavedAls> load_als(const h5::Group& root);  // nullopt: --no-recommend

// ---- /recs: top-N rows and the holdout evaluation ----------------------------------------
void save_recommendations(par::Comm& comm, const h5::Group& root, const ml::RecommenderResult& recs,
                          const ml::HoldoutConfig& holdout);
struct SavedRecommendations {
  std::vector<ml::Recommendation> rows;
  ml::Evaluation evaluation;  // metrics and test_pairs
};
SavedRecommendations load_recommendations(const h5::Group& root);

// ---- root attributes: configuration, version, ranks, run time, stage timings --------------
void save_run_attributes(par::Comm& comm, const h5::Group& root, const std::string& config_text,
                         const std::string& run_time, const std::vector<par::StageStat>& stages);

// ---- checkpoint state (per-rank rows, each with the row counts of every rank) -------------
void save_feature_state(par::Comm& comm, const h5::Group& root,
                        const features::FeatureTable& table);
// Throws ecom::Error when written by another number of ranks.
features::FeatureTable load_feature_state(par::Comm& comm, const h5::Group& root);
void save_selection_state(par::Comm& comm, const h5::Group& root, const ml::KSelection& s);
ml::KSelection load_selection_state(par::Comm& comm, const h5::Group& root);
void save_als_state(par::Comm& comm, const h5::Group& root, const ml::AlsState& state);
ml::AlsState load_als_state(par::Comm& comm, const h5::Group& root);

}  // namespace ecom::pipeline::results
