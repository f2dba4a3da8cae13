#pragma once
// The summaries a command writes beside its outputs: RUNDIR/run.json (`ecom analyze`, `ecom run`)
// and DIR/score.json (`ecom score`). Each is one struct, serialised with nlohmann-json in one
// place; keys and their order are documented in README.md. A summary that cannot be written is
// an error (ExitCode::comm, one message), never silence.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ecom/io/event_store.hpp"
#include "ecom/ml/propensity.hpp"
#include "ecom/ml/recommend.hpp"
#include "ecom/ml/selection.hpp"
#include "ecom/par/stats.hpp"

namespace ecom::pipeline {

// run.json.
struct RunSummary {
  std::string run_time, store, config;
  int ranks = 0;
  std::uint64_t events = 0, users = 0;
  std::uint64_t money_capped_users = 0;    // users whose money features were capped
  std::vector<io::FileManifest> manifest;  // counts and rejects summed over the files
  std::vector<double> pca_explained;       // per kept component
  ml::KChoice choice;
  std::optional<ml::KScore> chosen;  // the k table's row of the chosen k
  double inertia = 0;
  int iterations = 0, reseeded = 0, candidates = 0;
  bool converged = false;
  std::vector<std::string> segment_names;
  ml::PropensityModel propensity;  // figures only (coefficients not written)
  int propensity_label_days = 0;
  struct Recommendations {
    ml::Evaluation evaluation;
    ml::TopNStats topn;
    std::uint64_t products = 0;
  };
  std::optional<Recommendations> recommendations;  // none with --no-recommend
  par::RssStat rss;
  std::vector<std::uint64_t> rss_per_rank;
  std::vector<par::TrafficStat> traffic;
  std::vector<par::StageStat> stages;
};

// score.json.
struct ScoreSummary {
  std::uint64_t new_events = 0, history_events = 0, users = 0, als_users = 0, rows = 0;
};
struct ScoreReport {
  ScoreSummary counts;
  int ranks = 0;
  double seconds = 0;
  std::vector<par::StageStat> stages;
};

// The JSON text (pure).
std::string run_json(const RunSummary& s);
std::string score_json(const ScoreReport& r);

// Collective: rank 0 writes `text` to `path` atomically (path.tmp, then a rename); a failure on
// rank 0 throws ecom::Error (ExitCode::comm) on every rank naming the path and the reason.
void write_summary(par::Comm& comm, const std::string& path, const std::string& text);

}  // namespace ecom::pipeline
