// `ecom analyze` and `ecom run` (ingest + profile + analyze: the main job), with checkpoints
// (pipeline/checkpoint.hpp) so that `--resume` continues a stopped or killed run.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <memory>

#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/pipeline/analyze.hpp"
#include "ecom/pipeline/checkpoint.hpp"
#include "ecom/pipeline/commands.hpp"
#include "ecom/pipeline/ingest.hpp"
#include "ecom/pipeline/options.hpp"
#include "ecom/pipeline/profile.hpp"
#include "ecom/pipeline/stage.hpp"

namespace ecom::pipeline {

struct RunOptions {
  IngestOptions ingest;  // every option of `ecom ingest`; store "" = RUNDIR/events.h5
  std::string out;
  std::string run_time;
  CheckpointOptions checkpoint;  // --resume, --force, --checkpoint-als-every
};

namespace {

// What an earlier `ecom run` leaves in its run directory.
constexpr const char* kRunOutputs[] = {"events.h5",
                                       "events.h5.tmp",
                                       "events.quarantine.csv",
                                       "profile",
                                       "checkpoint.json",
                                       "checkpoint",
                                       "ecom.h5",
                                       "ecom.h5.tmp",
                                       "run.json",
                                       "customer_segments.csv",
                                       "segment_profiles.csv",
                                       "k_selection.csv",
                                       "recommendations.csv"};

// Rank 0: "" when a run may use `dir`; else the one-line reason. A directory holding outputs of
// an earlier run is refused unless `resume` (continue it) or `force` (those outputs are deleted
// first, other files are left alone).
std::string check_run_directory(const std::string& dir, bool resume, bool force) {
  namespace fs = std::filesystem;
  if (resume) return "";
  std::vector<std::string> found;
  std::error_code ec;
  for (const char* name : kRunOutputs)
    if (fs::exists(fs::symlink_status(fs::path(dir) / name, ec))) found.push_back(name);
  if (found.empty()) return "";
  if (!force) {
    std::string list;
    for (std::size_t i = 0; i < found.size() && i < 3; ++i) list += (i ? ", " : "") + found[i];
    if (found.size() > 3) list += ", ...";
    return "run directory " + dir + " holds outputs of an earlier run (" + list +
           "): continue it with --resume, delete them with --force, or use another --out";
  }
  for (const auto& name : found) {
    fs::remove_all(fs::path(dir) / name, ec);
    if (ec) return "--force: cannot delete " + dir + "/" + name + ": " + ec.message();
  }
  return "";
}

// "ingest": raw files -> the store (skipped when the checkpoint has it).
void ingest_stage(Context& ctx, const RunOptions& ro, Checkpoint& checkpoint,
                  const std::string& store) {
  Stage stage(ctx, "ingest", &checkpoint, Stage::Timing::callee);
  if (!checkpoint.done("ingest")) {
    IngestOptions io = ro.ingest;
    io.store = store;
    run_ingest(ctx, io);
    checkpoint.complete("ingest");
  }
  stage.finish();
}

// "profile": the store -> RUNDIR/profile/ (skipped when the checkpoint has it).
void profile_stage(Context& ctx, Checkpoint& checkpoint, const std::string& store,
                   const std::string& out) {
  Stage stage(ctx, "profile", &checkpoint, Stage::Timing::callee);
  if (!checkpoint.done("profile")) {
    ProfileOptions po;
    po.store = store;
    po.out = out;
    run_profile(ctx, po);
    checkpoint.complete("profile");
  }
  stage.finish();
}

// "analyze": the analysis into the checkpoint's outputs directory (its own stages resume from
// the checkpoint), then the outputs moved into RUNDIR.
void analyze_stage(Context& ctx, const ModelOptions& model, Checkpoint& checkpoint,
                   const std::string& store) {
  AnalyzeOptions ao;
  ao.store = store;
  ao.out = checkpoint.outputs_dir();
  ao.run_time = checkpoint.run_time();
  ao.model = model;
  ao.checkpoint = &checkpoint;
  run_analyze(ctx, ao);
  checkpoint.publish_outputs();
}

}  // namespace

int run_run(Context& ctx, const RunOptions& ro, const ModelOptions& model) {
  auto& comm = ctx.comm;
  {
    std::string error;
    if (comm.rank() == 0) {
      std::error_code ec;
      std::filesystem::create_directories(ro.out, ec);
      if (ec)
        error = "cannot create run directory " + ro.out + ": " + ec.message();
      else
        error = check_run_directory(ro.out, ro.checkpoint.resume, ro.checkpoint.force);
    }
    par::agree(comm, error, ExitCode::usage);
  }
  Checkpoint checkpoint(ctx, ro.out, ro.checkpoint.resume, ro.run_time,
                        ro.checkpoint.checkpoint_als_every);
  if (checkpoint.done("analyze")) {
    ctx.log.info("resume: ", ro.out, " holds a finished run; nothing to do");
    return 0;
  }
  const std::string store = ro.ingest.store.empty() ? ro.out + "/events.h5" : ro.ingest.store;
  ingest_stage(ctx, ro, checkpoint, store);
  profile_stage(ctx, checkpoint, store, ro.out + "/profile");
  analyze_stage(ctx, model, checkpoint, store);
  ctx.log.info("run: finished; outputs in ", ro.out);
  return 0;
}

}  // namespace ecom::pipeline

namespace ecom {

void add_analysis_commands(CLI::App& app, Action& action) {
  // One set of model options at the top level, shared by analyze and run.
  auto model = std::make_shared<pipeline::ModelOptions>();
  pipeline::add_model_options(app, *model);

  auto aopts = std::make_shared<pipeline::AnalyzeOptions>();
  auto* analyze = app.add_subcommand(
      "analyze",
      "Event store -> features, PCA, segments (k-means), recommendations (ALS) -> run "
      "directory (ecom.h5 and warehouse CSVs)");
  analyze->add_option("--store", aopts->store, "Event store written by `ecom ingest`")->required();
  pipeline::add_output_options(
      analyze, aopts->out, aopts->run_time, "Run directory",
      "updated_at of the outputs, ISO 8601 UTC (YYYY-MM-DDTHH:MM:SSZ); default now");
  analyze->callback([aopts, model, &action] {
    pipeline::check_model_options(*model);
    action = [aopts, model](Context& ctx) {
      aopts->model = *model;
      pipeline::run_analyze(ctx, *aopts);
      return 0;
    };
  });

  auto ropts = std::make_shared<pipeline::RunOptions>();
  auto* run = app.add_subcommand(
      "run",
      "The main job: ingest raw CSV/CSV.GZ into RUNDIR/events.h5, profile it into "
      "RUNDIR/profile/, analyze it into RUNDIR");
  pipeline::add_input_options(run, ropts->ingest.inputs, ropts->ingest.key_file);
  pipeline::add_output_options(run, ropts->out, ropts->run_time, "Run directory",
                               "updated_at of the outputs (ISO 8601 UTC); default now");
  pipeline::add_ingest_options(run, ropts->ingest, false,
                               "Event store (HDF5), created or appended to (default: "
                               "RUNDIR/events.h5)");
  pipeline::add_checkpoint_options(run, ropts->checkpoint);
  run->callback([ropts, model, &action] {
    pipeline::check_model_options(*model);
    pipeline::check_checkpoint_options(ropts->checkpoint);
    action = [ropts, model](Context& ctx) { return pipeline::run_run(ctx, *ropts, *model); };
  });
}

}  // namespace ecom
