// Checkpoints of `ecom run` (include/ecom/pipeline/checkpoint.hpp).
#include "ecom/pipeline/checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ecom/core/clock.hpp"
#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/core/hash.hpp"
#include "ecom/io/h5.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/pipeline/results.hpp"

namespace ecom::pipeline {

namespace h5 = io::h5;
namespace fs = std::filesystem;

namespace {

constexpr int kFormat = 1;

// Writes a small text file atomically (rank 0 only).
void write_text_atomic(const std::string& path, const std::string& text) {
  par::write_file(path, text);
}

// Collective: writes `path` through `fill` under a temporary name, then renames it.
template <class Fill>
void write_state(par::Comm& comm, const std::string& path, Fill&& fill) {
  h5::write_file(comm, path, [&](h5::File& file) { fill(file.root()); });
}

bool state_exists(par::Comm& comm, const std::string& path) {
  int exists = comm.rank() == 0 && h5::File::is_hdf5(path) ? 1 : 0;
  comm.bcast(exists, 0);
  return exists != 0;
}

}  // namespace

// ---- checkpoint.json -----------------------------------------------------------------------

std::string checkpoint_json(const CheckpointRecord& r) {
  nlohmann::ordered_json j;
  j["format"] = kFormat;
  j["completed"] = nlohmann::ordered_json::array();
  for (const char* step : kCheckpointSteps)
    if (r.completed.count(step)) j["completed"].push_back(step);
  j["als_iterations"] = r.als_iterations;
  j["ranks"] = r.ranks;
  j["run_time"] = r.run_time;
  j["config_hash"] = r.config_hash;
  return j.dump(2) + "\n";
}

CheckpointRecord parse_checkpoint_json(const std::string& text, const std::string& path) {
  const auto bad = [&path](const std::string& why) {
    return UserError("checkpoint " + path + " is unreadable (" + why +
                     "); remove it to start over");
  };
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw bad("not a JSON object");
  if (!j.contains("format") || j["format"] != kFormat)
    throw bad("format is not " + std::to_string(kFormat));
  if (!j.contains("completed") || !j["completed"].is_array()) throw bad("no \"completed\" list");
  CheckpointRecord r;
  for (const auto& v : j["completed"]) {
    const std::string step = v.is_string() ? v.get<std::string>() : v.dump();
    if (std::find_if(std::begin(kCheckpointSteps), std::end(kCheckpointSteps),
                     [&step](const char* s) { return step == s; }) == std::end(kCheckpointSteps))
      throw bad("unknown step '" + step + "'");
    r.completed.insert(step);
  }
  if (j.contains("als_iterations") && j["als_iterations"].is_array())
    for (const auto& v : j["als_iterations"])
      if (v.is_number_integer()) r.als_iterations.push_back(v.get<int>());
  if (!j.contains("ranks") || !j["ranks"].is_number_integer()) throw bad("no \"ranks\"");
  r.ranks = j["ranks"].get<int>();
  for (auto [key, target] :
       {std::pair{"run_time", &r.run_time}, std::pair{"config_hash", &r.config_hash}})
    if (j.contains(key) && j[key].is_string()) *target = j[key].get<std::string>();
  if (r.run_time.empty() || r.config_hash.empty()) throw bad("no run_time or config_hash");
  return r;
}

std::string config_hash(const std::string& config_text) {
  // Keys that change neither the computation nor the outputs' content.
  static const char* const ignored[] = {
      "log-level=",  "log-all-ranks=", "no-progress=",
      "run.resume=", "run.run-time=",  "run.checkpoint-als-every=",
      "run.out=",    "run.force="};
  std::string kept;
  std::istringstream is(config_text);
  for (std::string line; std::getline(is, line);) {
    const auto start = line.find_first_not_of(" \t");
    const std::string key = start == std::string::npos ? std::string() : line.substr(start);
    if (std::any_of(std::begin(ignored), std::end(ignored),
                    [&key](const char* p) { return key.rfind(p, 0) == 0; }))
      continue;
    kept += key + '\n';
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(string_id(kept)));
  return buf;
}

// ---- Checkpoint ------------------------------------------------------------------------------

Checkpoint::Checkpoint(Context& ctx, std::string run_dir, bool resume, const std::string& run_time,
                       int als_every)
    : ctx_(ctx), comm_(ctx.comm), dir_(std::move(run_dir)), als_every_(std::max(0, als_every)) {
  const std::string json_path = dir_ + "/checkpoint.json";
  const std::string hash = config_hash(ctx.config_text);
  std::string text, error;
  if (comm_.rank() == 0) {
    std::error_code ec;
    if (resume && fs::exists(json_path, ec)) {
      std::ifstream in(json_path, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
      try {
        const auto saved = parse_checkpoint_json(text, json_path);
        if (saved.config_hash != hash)
          error = "cannot resume " + dir_ +
                  ": it was started with another configuration (options or "
                  "config file changed); use the same options, or start a new run directory";
      } catch (const Error& e) {
        error = e.what();
      }
    }
    if (error.empty() && !resume) {
      fs::remove(json_path, ec);
      fs::remove_all(dir_ + "/checkpoint", ec);
    }
  }
  par::agree(comm_, error, ExitCode::usage);
  comm_.bcast(text, 0);
  if (!text.empty()) record_ = parse_checkpoint_json(text, json_path);
  if (!text.empty() && record_.ranks != comm_.size()) {
    // Per-rank analysis state does not fit another number of ranks: keep the store and profile.
    ctx_.log.warn("resume: the checkpoint was written by ", record_.ranks, " ranks, this run has ",
                  comm_.size(), ": the analysis restarts from the event store");
    record_.completed.erase("features");
    record_.completed.erase("model");
    record_.als_iterations.clear();
    if (comm_.rank() == 0) {
      std::error_code ec;
      fs::remove_all(dir_ + "/checkpoint", ec);
    }
  }
  record_.ranks = comm_.size();
  record_.config_hash = hash;
  if (!run_time.empty()) record_.run_time = run_time;
  if (record_.run_time.empty()) record_.run_time = utc_now_iso();
  comm_.bcast(record_.run_time, 0);
  if (comm_.rank() == 0) {
    std::error_code ec;
    fs::create_directories(dir_ + "/checkpoint", ec);
    // Outputs of an analysis that did not finish are rewritten from scratch.
    fs::remove_all(outputs_dir(), ec);
    fs::create_directories(outputs_dir(), ec);
    if (ec) error = "cannot create " + outputs_dir() + ": " + ec.message();
  }
  par::agree(comm_, error, ExitCode::usage);
  if (resume) {
    std::string steps;
    for (const char* step : kCheckpointSteps)
      if (done(step)) steps += (steps.empty() ? "" : ", ") + std::string(step);
    for (std::size_t t = 0; t < record_.als_iterations.size(); ++t)
      steps += "; ALS training " + std::to_string(t) + ": " +
               std::to_string(record_.als_iterations[t]) + " sweeps";
    ctx_.log.info("resume: completed: ", steps.empty() ? std::string("nothing") : steps);
  }
  write_record();
}

void Checkpoint::write_record() {
  std::string error;
  if (comm_.rank() == 0) {
    try {
      write_text_atomic(dir_ + "/checkpoint.json", checkpoint_json(record_));
    } catch (const std::exception& e) {
      error = std::string("cannot write the checkpoint: ") + e.what();
    }
  }
  par::agree(comm_, error, ExitCode::comm);
}

void Checkpoint::complete(const std::string& step) {
  record_.completed.insert(step);
  write_record();
}

void Checkpoint::save(const features::FeatureTable& table) {
  write_state(comm_, state_path("features"),
              [&](const h5::Group& root) { results::save_feature_state(comm_, root, table); });
  complete("features");
}

bool Checkpoint::load(features::FeatureTable& table) {
  if (!done("features") || !state_exists(comm_, state_path("features"))) return false;
  auto file = h5::File::open(comm_, state_path("features"), false);
  features::FeatureTable t = results::load_feature_state(comm_, file.root());
  par::agree(comm_,
             t.values.size() == t.users.size() * features::FeatureTable::cols()
                 ? ""
                 : "checkpoint " + state_path("features") + " has another feature count",
             ExitCode::usage);
  table = std::move(t);
  ctx_.log.info("resume: features from ", state_path("features"));
  return true;
}

void Checkpoint::save(const ml::KSelection& selection) {
  write_state(comm_, state_path("model"), [&](const h5::Group& root) {
    results::save_selection_state(comm_, root, selection);
  });
  complete("model");
}

bool Checkpoint::load(ml::KSelection& selection) {
  if (!done("model") || !state_exists(comm_, state_path("model"))) return false;
  auto file = h5::File::open(comm_, state_path("model"), false);
  selection = results::load_selection_state(comm_, file.root());
  ctx_.log.info("resume: segments (k = ", selection.choice.k, ") from ", state_path("model"));
  return true;
}

void Checkpoint::save_als(int training, const ml::AlsState& state) {
  const std::string path = state_path("als-" + std::to_string(training));
  write_state(comm_, path,
              [&](const h5::Group& root) { results::save_als_state(comm_, root, state); });
  if (record_.als_iterations.size() <= static_cast<std::size_t>(training))
    record_.als_iterations.resize(static_cast<std::size_t>(training) + 1, 0);
  record_.als_iterations[static_cast<std::size_t>(training)] = state.iteration;
  write_record();
  ctx_.log.debug("checkpoint: ALS training ", training, " after ", state.iteration, " sweeps");
}

bool Checkpoint::load_als(int training, ml::AlsState& state) {
  const auto t = static_cast<std::size_t>(training);
  if (t >= record_.als_iterations.size() || record_.als_iterations[t] == 0) return false;
  const std::string path = state_path("als-" + std::to_string(training));
  if (!state_exists(comm_, path)) return false;
  auto file = h5::File::open(comm_, path, false);
  state = results::load_als_state(comm_, file.root());
  ctx_.log.info("resume: ALS training ", training, " continues after sweep ", state.iteration, " (",
                path, ")");
  return true;
}

void Checkpoint::attach_als(ml::AlsConfig& als) {
  *als_training_ = -1;
  const int sweeps = als.iterations;
  als.resume = [this]() -> const ml::AlsState* {
    ++*als_training_;
    return load_als(*als_training_, *als_state_) ? als_state_.get() : nullptr;
  };
  als.after_iteration = [this, sweeps](int done_sweeps,
                                       const std::function<ml::AlsState()>& snapshot) {
    const bool stop = par::stop_requested(comm_);
    if (stop || done_sweeps == sweeps || (als_every_ > 0 && done_sweeps % als_every_ == 0))
      save_als(*als_training_, snapshot());
    if (stop) {
      Interrupted e("stopped by a signal after ALS sweep " + std::to_string(done_sweeps) +
                    " of training " + std::to_string(*als_training_) + "; continue with --resume");
      e.set_collective(true);
      throw e;
    }
  };
}

void Checkpoint::publish_outputs() {
  std::string error;
  if (comm_.rank() == 0) {
    try {
      std::vector<fs::path> entries;
      for (const auto& e : fs::directory_iterator(outputs_dir())) entries.push_back(e.path());
      // ecom.h5 last: its presence marks a finished run.
      std::sort(entries.begin(), entries.end(), [](const fs::path& a, const fs::path& b) {
        const bool ha = a.filename() == "ecom.h5", hb = b.filename() == "ecom.h5";
        return ha != hb ? hb : a < b;
      });
      for (const auto& p : entries) {
        const fs::path target = fs::path(dir_) / p.filename();
        if (fs::is_directory(target)) fs::remove_all(target);
        fs::rename(p, target);
      }
    } catch (const std::exception& e) {
      error = std::string("cannot move the outputs into ") + dir_ + ": " + e.what();
    }
  }
  par::agree(comm_, error, ExitCode::comm);
  record_.completed.insert("analyze");
  write_record();
  if (comm_.rank() == 0) {
    std::error_code ec;
    fs::remove_all(dir_ + "/checkpoint", ec);
  }
  comm_.barrier();
}

}  // namespace ecom::pipeline
