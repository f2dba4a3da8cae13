// `ecom analyze` and `ecom run` (ingest + profile + analyze: the main job), with checkpoints
// between steps so that `--resume` continues a stopped run.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/pipeline/analyze.hpp"
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
};

namespace {
// RUNDIR/checkpoint.json: the steps completed so far, e.g. {"completed": ["ingest", "profile"]}.
std::set<std::string> read_checkpoint(const std::string& path) {
  std::set<std::string> done;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  for (const char* step : {"ingest", "profile", "analyze"})
    if (text.find(std::string("\"") + step + "\"") != std::string::npos) done.insert(step);
  return done;
}

void write_checkpoint(par::Comm& comm, const std::string& path, const std::set<std::string>& done) {
  if (comm.rank() == 0) {
    std::string text = "{\"completed\": [";
    bool first = true;
    for (const char* step : {"ingest", "profile", "analyze"})
      if (done.count(step)) {
        text += std::string(first ? "" : ", ") + "\"" + step + "\"";
        first = false;
      }
    text += "]}\n";
    const std::string tmp = path + ".tmp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, path);
  }
  comm.barrier();
}
}  // namespace

int run_run(Context& ctx, const RunOptions& ro, const ModelOptions& model) {
  auto& comm = ctx.comm;
  const std::string checkpoint = ro.out + "/checkpoint.json";
  {
    std::string error;
    if (comm.rank() == 0) {
      std::error_code ec;
      std::filesystem::create_directories(ro.out, ec);
      if (ec) error = "cannot create run directory " + ro.out + ": " + ec.message();
      else if (!ro.resume && std::filesystem::exists(ro.out + "/ecom.h5"))
        error = "run directory " + ro.out + " already holds a finished run (use another --out, or --resume)";
    }
    par::agree(comm, error, ExitCode::usage);
  }
  std::set<std::string> done;
  if (ro.resume) {
    std::string text;
    if (comm.rank() == 0) {
      for (const auto& s : read_checkpoint(checkpoint)) text += s + "\n";
    }
    comm.bcast(text, 0);
    std::istringstream is(text);
    for (std::string line; std::getline(is, line);) done.insert(line);
    ctx.log.info("resume: completed steps: ", done.empty() ? std::string("none") : text.substr(0, text.size() - 1));
  }
  const std::string store = ro.out + "/events.h5";
  if (!done.count("ingest")) {
    IngestOptions io;
    io.inputs = ro.inputs;
    io.store = store;
    io.key_file = ro.key_file;
    io.shuffle_buffer_mb = ro.shuffle_buffer_mb;
    io.truncate_to_minute = ro.truncate_to_minute;
    run_ingest(ctx, io);
    done.insert("ingest");
    write_checkpoint(comm, checkpoint, done);
  }
  if (par::stop_requested(comm)) {
    Interrupted e("stopped by a signal after step 'ingest'; continue with --resume");
    e.set_collective(true);
    throw e;
  }
  if (!done.count("profile")) {
    ProfileOptions po;
    po.store = store;
    po.out = ro.out + "/profile";
    run_profile(ctx, po);
    done.insert("profile");
    write_checkpoint(comm, checkpoint, done);
  }
  AnalyzeOptions ao;
  ao.store = store;
  ao.out = ro.out;
  ao.run_time = ro.run_time;
  ao.model = model;
  run_analyze(ctx, ao);
  done.insert("analyze");
  write_checkpoint(comm, checkpoint, done);
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
      "analyze", "Event store -> features, PCA, segments (k-means), recommendations (ALS) -> run "
                 "directory (ecom.h5 and warehouse CSVs)");
  analyze->add_option("--store", aopts->store, "Event store written by `ecom ingest`")->required();
  analyze->add_option("--out", aopts->out, "Run directory")->required();
  analyze->add_option("--run-time", aopts->run_time,
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
      "run", "The main job: ingest raw CSV/CSV.GZ into RUNDIR/events.h5, profile it into "
             "RUNDIR/profile/, analyze it into RUNDIR");
  run->add_option("--input", ropts->inputs, "Input files or glob patterns (.csv, .csv.gz)")->required();
  run->add_option("--out", ropts->out, "Run directory")->required();
  run->add_option("--key-file", ropts->key_file, "Secret pseudonymisation key (mode 0600)")->required();
  run->add_option("--run-time", ropts->run_time, "updated_at of the outputs (ISO 8601 UTC); default now");
  run->add_flag("--resume", ropts->resume, "Continue a stopped run from its last completed step");
  run->add_option("--shuffle-buffer-mb", ropts->shuffle_buffer_mb, "Per-rank shuffle buffer")
      ->capture_default_str();
  run->add_flag("--truncate-to-minute", ropts->truncate_to_minute, "Privacy: truncate event times to the minute");
  run->callback([ropts, model, &action] {
    action = [ropts, model](Context& ctx) { return pipeline::run_run(ctx, *ropts, *model); };
  });
}

}  // namespace ecom
