#pragma once
// Option groups: every option is declared once, in one group, with its one default, its help
// and its documented range (checked by CLI11 at parse time, on the command line and in a config
// file alike: exit 2 before any work). A command adds the groups it needs with one call each.
//
// Where a new option goes:
//   reading raw CSV into events (ingest, run; score uses the input part) ... add_input_options,
//                                                                          add_ingest_options
//   features, PCA .................................................... add_feature_options
//   k selection, k-means, segment names .............................. add_segment_options
//   interactions and the ALS ......................................... add_als_options
//   holdout evaluation of the recommender ............................ add_evaluation_options
//   the recommendations written (top-n, exclude) ..................... add_recommend_options
//   purchase propensity .............................................. add_propensity_options
//   run directory and run time of analyze, run, score ................ add_output_options
//   checkpoint, --resume, --force of `ecom run` ...................... add_checkpoint_options
// A numeric option gets its range with `ranged` (or `at_least`); a cross-option rule (k-min <=
// k-max) with `check_model_options`, run once parsing is complete.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ecom/core/cli.hpp"
#include "ecom/pipeline/analyze.hpp"
#include "ecom/pipeline/ingest.hpp"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace ecom::pipeline {

// ---- documented limits (README, "Option ranges") ----------------------------------------------
inline constexpr int kMaxSegments = 100;  // --k and --k-max (also <= the number of users)
inline constexpr int kMaxFactors = 1000;  // --als-factors
inline constexpr int kMaxTopN = 1000;     // --top-n
// --shuffle-buffer-mb may take at most this share of the node's physical memory divided by the
// ranks on the node (par::ranks_on_this_node()).
inline constexpr double kShuffleMemoryShare = 0.25;

// The largest --shuffle-buffer-mb this process accepts (MiB): physical memory x
// kShuffleMemoryShare / ranks on this node, at least 1.
std::size_t max_shuffle_buffer_mb();

// ---- groups -----------------------------------------------------------------------------------

// --input, --key-file (required): the raw files and the pseudonymisation key.
void add_input_options(
    CLI::App* cmd, std::vector<std::string>& inputs, std::string& key_file,
    const std::string& key_help = "Secret pseudonymisation key file (mode 0600)");
// --store (required when `store_required`; `ecom run` defaults it to RUNDIR/events.h5),
// --quarantine, --vshards, --shuffle-buffer-mb, --read-chunk-kb, --truncate-to-minute,
// --window-start, --window-end.
void add_ingest_options(CLI::App* cmd, IngestOptions& o, bool store_required,
                        const std::string& store_help);
// --shuffle-buffer-mb alone (score).
CLI::Option* add_shuffle_buffer_option(CLI::App* cmd, std::size_t& mb);

// Model groups (top level of the app: shared by analyze and run, top-level keys of the TOML).
void add_feature_options(CLI::App* app, ModelOptions& m);
void add_segment_options(CLI::App* app, ModelOptions& m);
void add_als_options(CLI::App* app, ModelOptions& m);
void add_evaluation_options(CLI::App* app, ModelOptions& m);
void add_recommend_options(CLI::App* app, ModelOptions& m);
void add_propensity_options(CLI::App* app, ModelOptions& m);
// All six model groups.
void add_model_options(CLI::App& app, ModelOptions& m);
// Throws CLI::ValidationError when options contradict each other (k-min > k-max).
void check_model_options(const ModelOptions& m);

// --out (required) and --run-time.
void add_output_options(CLI::App* cmd, std::string& out, std::string& run_time,
                        const std::string& out_help, const std::string& run_time_help);

struct CheckpointOptions {
  bool resume = false;
  bool force = false;  // clear the outputs of an earlier run in RUNDIR first
  int checkpoint_als_every = 5;
};
// --resume, --force, --checkpoint-als-every (`ecom run`).
void add_checkpoint_options(CLI::App* cmd, CheckpointOptions& c);
// Throws CLI::ValidationError for --resume with --force.
void check_checkpoint_options(const CheckpointOptions& c);

}  // namespace ecom::pipeline
