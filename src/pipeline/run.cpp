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
#include "ecom/pipeline/profile.hpp"
#include "ecom/pipeline/stage.hpp"

namespace ecom::pipeline {

struct RunOptions {
  std::vector<std::string> inputs;
  std::string out;
  std::string key_file;
  std::string run_time;
  bool resume = false;
  std::size_t shuffle_buffer_mb = 256;
  bool truncate_to_minute = false;
  int checkpoint_als_every = 5;
};

namespace {

// "ingest": raw files -> RUNDIR/events.h5 (skipped when the checkpoint has it).
void ingest_stage(Context& ctx, const RunOptions& ro, Checkpoint& checkpoint,
                  const std::string& store) {
  Stage stage(ctx, "ingest", &checkpoint, Stage::Timing::callee);
  if (!checkpoint.done("ingest")) {
    IngestOptions io;
    io.inputs = ro.inputs;
    io.store = store;
    io.key_file = ro.key_file;
    io.shuffle_buffer_mb = ro.shuffle_buffer_mb;
    io.truncate_to_minute = ro.truncate_to_minute;
    run_ingest(ctx, io);
    checkpoint.complete("ingest");
  }
  stage.finish();
}

// "profile": RUNDIR/events.h5 -> RUNDIR/profile/ (skipped when the checkpoint has it).
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
      else if (!ro.resume && std::filesystem::exists(ro.out + "/ecom.h5"))
        error = "run directory " + ro.out +
                " already holds a finished run (use another --out, or --resume)";
    }
    par::agree(comm, error, ExitCode::usage);
  }
  Checkpoint checkpoint(ctx, ro.out, ro.resume, ro.run_time, ro.checkpoint_als_every);
  if (checkpoint.done("analyze")) {
    ctx.log.info("resume: ", ro.out, " holds a finished run; nothing to do");
    return 0;
  }
  const std::string store = ro.out + "/events.h5";
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
  analyze->add_option("--out", aopts->out, "Run directory")->required();
  analyze->add_option(
      "--run-time", aopts->run_time,
      "updated_at of the outputs, ISO 8601 UTC (YYYY-MM-DDTHH:MM:SSZ); default now");
  analyze->callback([aopts, model, &action] {
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
  run->add_option("--input", ropts->inputs, "Input files or glob patterns (.csv, .csv.gz)")
      ->required();
  run->add_option("--out", ropts->out, "Run directory")->required();
  run->add_option("--key-file", ropts->key_file, "Secret pseudonymisation key (mode 0600)")
      ->required();
  run->add_option("--run-time", ropts->run_time,
                  "updated_at of the outputs (ISO 8601 UTC); default now");
  run->add_flag(
      "--resume", ropts->resume,
      "Continue a stopped or killed run from its last completed step (RUNDIR/checkpoint.json)");
  run->add_option(
         "--checkpoint-als-every", ropts->checkpoint_als_every,
         "Save the ALS factors every N sweeps (0: only at the end of a training or on a stop)")
      ->capture_default_str();
  run->add_option("--shuffle-buffer-mb", ropts->shuffle_buffer_mb, "Per-rank shuffle buffer")
      ->capture_default_str();
  run->add_flag("--truncate-to-minute", ropts->truncate_to_minute,
                "Privacy: truncate event times to the minute");
  run->callback([ropts, model, &action] {
    action = [ropts, model](Context& ctx) { return pipeline::run_run(ctx, *ropts, *model); };
  });
}

}  // namespace ecom
