#pragma once
// Checkpoints of `ecom run`, so that `--resume` continues a stopped or killed run from its last
// completed step with outputs identical to an uninterrupted run.
//
//   RUNDIR/checkpoint.json        completed steps (ingest, profile, features, model, analyze),
//                                 ALS sweeps saved per training, the run time (updated_at of the
//                                 outputs), the number of ranks and a hash of the configuration
//   RUNDIR/checkpoint/*.h5        state of the analysis steps: features.h5 (feature table),
//                                 model.h5 (k table and the chosen clustering), als-<t>.h5 (the
//                                 factors of ALS training t after the sweeps it has done)
//   RUNDIR/checkpoint/outputs/    analysis outputs while they are being written; moved into
//                                 RUNDIR (ecom.h5 last) when every one of them is complete
//
// Every file is written under a temporary name and renamed, and checkpoint.json is rewritten
// only after the state it lists is in place, so a run killed at any moment (SIGKILL included)
// leaves a consistent checkpoint. Analysis state is per rank (rows of the users a rank owns):
// resuming with another number of ranks keeps ingest and profile and redoes the analysis.
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ecom/features/features.hpp"
#include "ecom/ml/als.hpp"
#include "ecom/ml/selection.hpp"

namespace ecom {
struct Context;
namespace par {
class Comm;
}
}  // namespace ecom

namespace ecom::pipeline {

// Steps recorded in checkpoint.json, in pipeline order.
inline constexpr const char* kCheckpointSteps[] = {"ingest", "profile", "features", "model",
                                                   "analyze"};

// What checkpoint.json holds (pure data; text form below).
struct CheckpointRecord {
  std::set<std::string> completed;
  std::vector<int> als_iterations;  // sweeps saved, per ALS training (evaluation, refit)
  int ranks = 0;
  std::string run_time;
  std::string config_hash;
};
std::string checkpoint_json(const CheckpointRecord& r);
// Parses what checkpoint_json wrote; throws ecom::UserError naming `path` when it cannot.
CheckpointRecord parse_checkpoint_json(const std::string& text, const std::string& path);
// Hash of the effective configuration without the keys that do not change results (logging,
// progress, --resume, --run-time), as 16 hex digits.
std::string config_hash(const std::string& config_text);

class Checkpoint {
 public:
  // Collective. resume = false: a fresh run, any earlier checkpoint of RUNDIR is removed.
  // resume = true: reads RUNDIR/checkpoint.json (none: starts from the beginning); throws
  // UserError if it was written with another configuration. `run_time`: the outputs' updated_at
  // ("" = the checkpoint's, or now). `als_every`: save ALS factors every N sweeps (0: only at
  // the end of each training and when stopped).
  Checkpoint(Context& ctx, std::string run_dir, bool resume, const std::string& run_time,
             int als_every);

  bool done(const std::string& step) const { return record_.completed.count(step) > 0; }
  const std::string& run_time() const { return record_.run_time; }
  std::string outputs_dir() const { return dir_ + "/checkpoint/outputs"; }

  // Collective: records `step` as completed (rank 0 rewrites checkpoint.json atomically).
  void complete(const std::string& step);

  // Analysis state, one overload per memoised stage result (Stage::memo): save records the
  // step ("features", "model") as completed; load returns false (and leaves the argument alone)
  // when there is none. Layouts: pipeline/results.hpp.
  void save(const features::FeatureTable& table);
  bool load(features::FeatureTable& table);
  void save(const ml::KSelection& selection);
  bool load(ml::KSelection& selection);
  // Installs ALS hooks: trainings resume from their saved factors; after each sweep the factors
  // are saved every `als_every` sweeps, after the last one, and when a stop was requested
  // (SIGUSR1/SIGTERM), in which case ecom::Interrupted is thrown on every rank.
  void attach_als(ml::AlsConfig& als);

  // Collective: moves the outputs into RUNDIR (ecom.h5 last), records "analyze", removes the
  // analysis state.
  void publish_outputs();

 private:
  std::string state_path(const std::string& name) const {
    return dir_ + "/checkpoint/" + name + ".h5";
  }
  void write_record();
  void save_als(int training, const ml::AlsState& state);
  bool load_als(int training, ml::AlsState& state);

  Context& ctx_;
  par::Comm& comm_;
  std::string dir_;
  int als_every_ = 0;
  CheckpointRecord record_;
  std::shared_ptr<ml::AlsState> als_state_ = std::make_shared<ml::AlsState>();
  std::shared_ptr<int> als_training_ = std::make_shared<int>(-1);
};

}  // namespace ecom::pipeline
