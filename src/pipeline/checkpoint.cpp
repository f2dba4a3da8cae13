// Checkpoints of `ecom run` (include/ecom/pipeline/checkpoint.hpp).
#include "ecom/pipeline/checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/core/hash.hpp"
#include "ecom/io/h5.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/pipeline/analyze.hpp"

namespace ecom::pipeline {

namespace h5 = io::h5;
namespace fs = std::filesystem;

namespace {

constexpr int kFormat = 1;

// The value after "key": in our own JSON (strings without escapes, integers, flat arrays).
std::string json_value(const std::string& text, const std::string& key) {
  const std::string tag = "\"" + key + "\":";
  const auto at = text.find(tag);
  if (at == std::string::npos) return {};
  auto i = text.find_first_not_of(" \t\n", at + tag.size());
  if (i == std::string::npos) return {};
  if (text[i] == '"') {
    const auto end = text.find('"', i + 1);
    return end == std::string::npos ? std::string() : text.substr(i, end - i + 1);
  }
  const auto end = text.find_first_of(text[i] == '[' ? "]" : ",\n}", i);
  return end == std::string::npos ? std::string()
                                  : text.substr(i, end - i + (text[i] == '[' ? 1 : 0));
}

std::string unquote(const std::string& v) {
  return v.size() >= 2 && v.front() == '"' && v.back() == '"' ? v.substr(1, v.size() - 2) : v;
}

// Writes a small text file atomically (rank 0 only).
void write_text_atomic(const std::string& path, const std::string& text) {
  par::write_file(path, text);
}

// Rows of this rank, with the row count of every rank beside them (name + "_rows"), so that a
// reader finds its slice and can tell whether the layout still fits.
template <class T>
void put_rows(par::Comm& comm, const h5::Group& g, const std::string& name,
              std::span<const T> values, std::size_t cols) {
  h5::write_rows<T>(comm, g, name, values, cols, cols > 1);
  const std::uint64_t rows = cols == 0 ? 0 : values.size() / cols;
  h5::write_rows<std::uint64_t>(comm, g, name + "_rows", std::span<const std::uint64_t>(&rows, 1));
}

template <class T>
std::vector<T> get_rows(par::Comm& comm, const h5::Group& g, const std::string& name) {
  const auto counts = h5::read_all<std::uint64_t>(g, name + "_rows");
  if (counts.size() != static_cast<std::size_t>(comm.size()))
    throw Error("checkpoint: " + name + " was written by " + std::to_string(counts.size()) +
                " ranks");
  std::uint64_t first = 0;
  for (int r = 0; r < comm.rank(); ++r) first += counts[static_cast<std::size_t>(r)];
  return h5::read_rows<T>(comm, g.open_dataset(name), first,
                          counts[static_cast<std::size_t>(comm.rank())]);
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
  std::ostringstream os;
  os << "{\n  \"format\": " << kFormat << ",\n  \"completed\": [";
  bool first = true;
  for (const char* step : kCheckpointSteps)
    if (r.completed.count(step)) {
      os << (first ? "" : ", ") << '"' << step << '"';
      first = false;
    }
  os << "],\n  \"als_iterations\": [";
  for (std::size_t i = 0; i < r.als_iterations.size(); ++i)
    os << (i ? ", " : "") << r.als_iterations[i];
  os << "],\n  \"ranks\": " << r.ranks << ",\n  \"run_time\": \"" << r.run_time
     << "\",\n  \"config_hash\": \"" << r.config_hash << "\"\n}\n";
  return os.str();
}

CheckpointRecord parse_checkpoint_json(const std::string& text, const std::string& path) {
  CheckpointRecord r;
  const auto bad = [&path](const std::string& why) {
    return UserError("checkpoint " + path + " is unreadable (" + why +
                     "); remove it to start over");
  };
  if (json_value(text, "format") != std::to_string(kFormat))
    throw bad("format is not " + std::to_string(kFormat));
  const std::string steps = json_value(text, "completed");
  if (steps.empty() || steps.front() != '[') throw bad("no \"completed\" list");
  for (std::size_t i = steps.find('"'); i != std::string::npos; i = steps.find('"', i)) {
    const auto end = steps.find('"', i + 1);
    if (end == std::string::npos) throw bad("unterminated step name");
    const std::string step = steps.substr(i + 1, end - i - 1);
    if (std::find_if(std::begin(kCheckpointSteps), std::end(kCheckpointSteps),
                     [&step](const char* s) { return step == s; }) == std::end(kCheckpointSteps))
      throw bad("unknown step '" + step + "'");
    r.completed.insert(step);
    i = end + 1;
  }
  std::string sweeps = json_value(text, "als_iterations");
  if (sweeps.size() >= 2 && sweeps.front() == '[') {
    std::replace(sweeps.begin(), sweeps.end(), ',', ' ');
    std::istringstream is(sweeps.substr(1, sweeps.size() - 2));
    for (int v; is >> v;) r.als_iterations.push_back(v);
  }
  try {
    r.ranks = std::stoi(json_value(text, "ranks"));
  } catch (const std::exception&) {
    throw bad("no \"ranks\"");
  }
  r.run_time = unquote(json_value(text, "run_time"));
  r.config_hash = unquote(json_value(text, "config_hash"));
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

void Checkpoint::save_features(const features::FeatureTable& table) {
  write_state(comm_, state_path("features"), [&](const h5::Group& root) {
    put_rows<std::uint64_t>(comm_, root, "users", table.users, 1);
    put_rows<double>(comm_, root, "values", table.values, features::FeatureTable::cols());
  });
  complete("features");
}

bool Checkpoint::load_features(features::FeatureTable& table) {
  if (!done("features") || !state_exists(comm_, state_path("features"))) return false;
  auto file = h5::File::open(comm_, state_path("features"), false);
  features::FeatureTable t;
  t.users = get_rows<std::uint64_t>(comm_, file.root(), "users");
  t.values = get_rows<double>(comm_, file.root(), "values");
  par::agree(comm_,
             t.values.size() == t.users.size() * features::FeatureTable::cols()
                 ? ""
                 : "checkpoint " + state_path("features") + " has another feature count",
             ExitCode::usage);
  table = std::move(t);
  ctx_.log.info("resume: features from ", state_path("features"));
  return true;
}

void Checkpoint::save_model(const ml::KSelection& s) {
  write_state(comm_, state_path("model"), [&](const h5::Group& root) {
    // The k table, one row per k, every figure as a double (NaN where undefined).
    std::vector<double> table;
    for (const auto& r : s.table)
      for (double v : {static_cast<double>(r.k), r.inertia, r.silhouette, r.simplified_silhouette,
                       r.gap, r.gap_sd, r.stability_ari, r.stability_pairs,
                       static_cast<double>(r.silhouette_sample), static_cast<double>(r.iterations)})
        table.push_back(v);
    h5::write_replicated<double>(comm_, root, "k_table", table, 10, true);
    const auto a = root.attrs();
    a.set("k", s.choice.k);
    a.set("reason", s.choice.reason);
    a.set("gap_k", s.choice.gap_k);
    a.set("silhouette_k", s.choice.silhouette_k);
    const auto& m = s.model;
    const auto cols = static_cast<std::size_t>(std::max<Eigen::Index>(1, m.centroids.cols()));
    a.set("centroid_rows", static_cast<std::int64_t>(m.centroids.rows()));
    a.set("centroid_cols", static_cast<std::int64_t>(m.centroids.cols()));
    h5::write_replicated<double>(
        comm_, root, "centroids",
        std::span<const double>(m.centroids.data(), static_cast<std::size_t>(m.centroids.size())),
        cols, true);
    h5::write_replicated<std::uint64_t>(comm_, root, "sizes", m.sizes);
    put_rows<std::int32_t>(comm_, root, "labels", m.labels, 1);
    put_rows<double>(comm_, root, "dist2", m.dist2, 1);
    a.set("inertia", m.inertia);
    a.set("n_total", m.n_total);
    a.set("iterations", m.iterations);
    a.set("converged", static_cast<std::int32_t>(m.converged));
    a.set("reseeded", m.reseeded);
    a.set("best_init", m.best_init);
    a.set("candidates", m.candidates);
    a.set("init_seconds", m.init_seconds);
    a.set("lloyd_seconds", m.lloyd_seconds);
  });
  complete("model");
}

bool Checkpoint::load_model(ml::KSelection& s) {
  if (!done("model") || !state_exists(comm_, state_path("model"))) return false;
  auto file = h5::File::open(comm_, state_path("model"), false);
  const auto& root = file.root();
  const auto a = root.attrs();
  ml::KSelection out;
  const auto table = h5::read_all<double>(root, "k_table");
  for (std::size_t i = 0; i + 10 <= table.size(); i += 10) {
    ml::KScore r;
    r.k = static_cast<int>(table[i]);
    r.inertia = table[i + 1];
    r.silhouette = table[i + 2];
    r.simplified_silhouette = table[i + 3];
    r.gap = table[i + 4];
    r.gap_sd = table[i + 5];
    r.stability_ari = table[i + 6];
    r.stability_pairs = table[i + 7];
    r.silhouette_sample = static_cast<std::uint64_t>(table[i + 8]);
    r.iterations = static_cast<int>(table[i + 9]);
    out.table.push_back(r);
  }
  out.choice.k = a.get<int>("k");
  out.choice.reason = a.get_string("reason");
  out.choice.gap_k = a.get<int>("gap_k");
  out.choice.silhouette_k = a.get<int>("silhouette_k");
  auto& m = out.model;
  const auto rows = a.get<std::int64_t>("centroid_rows");
  const auto cols = a.get<std::int64_t>("centroid_cols");
  const auto centroids = h5::read_all<double>(root, "centroids");
  m.centroids.resize(rows, cols);
  if (centroids.size() < static_cast<std::size_t>(m.centroids.size()))
    throw Error("checkpoint " + state_path("model") + ": centroids are truncated");
  std::copy_n(centroids.begin(), m.centroids.size(), m.centroids.data());
  m.sizes = h5::read_all<std::uint64_t>(root, "sizes");
  m.labels = get_rows<std::int32_t>(comm_, root, "labels");
  m.dist2 = get_rows<double>(comm_, root, "dist2");
  m.inertia = a.get<double>("inertia");
  m.n_total = a.get<std::uint64_t>("n_total");
  m.iterations = a.get<int>("iterations");
  m.converged = a.get<std::int32_t>("converged") != 0;
  m.reseeded = a.get<int>("reseeded");
  m.best_init = a.get<int>("best_init");
  m.candidates = a.get<int>("candidates");
  m.init_seconds = a.get<double>("init_seconds");
  m.lloyd_seconds = a.get<double>("lloyd_seconds");
  s = std::move(out);
  ctx_.log.info("resume: segments (k = ", s.choice.k, ") from ", state_path("model"));
  return true;
}

void Checkpoint::save_als(int training, const ml::AlsState& state) {
  const std::string path = state_path("als-" + std::to_string(training));
  write_state(comm_, path, [&](const h5::Group& root) {
    root.attrs().set("iteration", state.iteration);
    h5::write_replicated<double>(comm_, root, "loss", state.loss);
    put_rows<double>(comm_, root, "user_factors", state.user_factors, 1);
    put_rows<double>(comm_, root, "item_factors", state.item_factors, 1);
  });
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
  const auto& root = file.root();
  ml::AlsState s;
  s.iteration = root.attrs().get<int>("iteration");
  s.loss = h5::read_all<double>(root, "loss");
  s.user_factors = get_rows<double>(comm_, root, "user_factors");
  s.item_factors = get_rows<double>(comm_, root, "item_factors");
  state = std::move(s);
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
