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
  double max_price = io::kDefaultMaxPrice;
  double lock_timeout_s = 0;
};

namespace {
// Collective: ends the run with exit code 75 (ExitCode::interrupted) if a stop was requested.
void stop_if_requested(par::Comm& comm, const std::string& step) {
  if (par::stop_requested(comm)) {
    Interrupted e("stopped by a signal after step '" + step + "'; continue with --resume");
    e.set_collective(true);
    throw e;
  }
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
  if (!checkpoint.done("ingest")) {
    comm.set_stage("ingest");
    IngestOptions io;
    io.inputs = ro.inputs;
    io.store = store;
    io.key_file = ro.key_file;
    io.shuffle_buffer_mb = ro.shuffle_buffer_mb;
    io.truncate_to_minute = ro.truncate_to_minute;
    io.max_price = ro.max_price;
    io.lock_timeout_s = ro.lock_timeout_s;
    run_ingest(ctx, io);
    checkpoint.complete("ingest");
  }
  stop_if_requested(comm, "ingest");
  if (!checkpoint.done("profile")) {
    comm.set_stage("profile");
    ProfileOptions po;
    po.store = store;
    po.out = ro.out + "/profile";
    run_profile(ctx, po);
    checkpoint.complete("profile");
  }
  stop_if_requested(comm, "profile");
  AnalyzeOptions ao;
  ao.store = store;
  ao.out = checkpoint.outputs_dir();
  ao.run_time = checkpoint.run_time();
  ao.model = model;
  ao.checkpoint = &checkpoint;
  run_analyze(ctx, ao);
  checkpoint.publish_outputs();
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
  pipeline::add_ingest_guard_options(*run, ropts->max_price, ropts->lock_timeout_s);
  run->callback([ropts, model, &action] {
    action = [ropts, model](Context& ctx) { return pipeline::run_run(ctx, *ropts, *model); };
  });
}

}  // namespace ecom
