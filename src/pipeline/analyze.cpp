// `ecom analyze`: the list of its stages (pipeline/analyze_stages.hpp), its run summary, and the
// model options it shares with `ecom run`.
#include "ecom/pipeline/analyze.hpp"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <optional>

#include "ecom/core/clock.hpp"
#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/stats.hpp"
#include "ecom/pipeline/analyze_stages.hpp"
#include "ecom/pipeline/stage.hpp"
#include "ecom/pipeline/summary.hpp"

namespace ecom::pipeline {

namespace {

// Collective: the outputs' run time (--run-time or now, rank 0's clock) and the output directory.
std::string prepare_outputs(Context& ctx, const AnalyzeOptions& opts) {
  auto& comm = ctx.comm;
  std::string run_time = opts.run_time.empty() ? utc_now_iso() : opts.run_time;
  comm.bcast(run_time, 0);
  std::string error;
  if (!valid_iso_utc(run_time)) error = "--run-time '" + run_time + "' is not YYYY-MM-DDTHH:MM:SSZ";
  if (comm.rank() == 0 && error.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(opts.out, ec);
    if (ec) error = "cannot create output directory " + opts.out + ": " + ec.message();
  }
  par::agree(comm, error, ExitCode::usage);
  return run_time;
}

// Collective: run.json, from what the stages returned and the timers, traffic and memory of all
// ranks (after the "analyze" timer stopped, so that it is reported).
void write_run_summary(Context& ctx, const AnalyzeOptions& opts, const std::string& run_time,
                       const StoreEvents& store, const UserFeatures& features,
                       const Projection& projection, const Segments& segments,
                       const Propensity& propensity, const ml::RecommenderResult& recs) {
  auto& comm = ctx.comm;
  RunSummary s;
  s.run_time = run_time;
  s.store = opts.store;
  s.config = ctx.config_text;
  s.ranks = comm.size();
  s.events = store.total;
  s.users = features.users;
  s.money_capped_users = features.money_capped;
  s.manifest = store.manifest;
  for (int c = 0; c < projection.pca.kept(); ++c)
    s.pca_explained.push_back(projection.pca.explained_ratio[c]);
  const auto& km = segments.selection.model;
  s.choice = segments.selection.choice;
  for (const auto& row : segments.selection.table)
    if (row.k == s.choice.k) s.chosen = row;
  s.inertia = km.inertia;
  s.iterations = km.iterations;
  s.converged = km.converged;
  s.reseeded = km.reseeded;
  s.candidates = km.candidates;
  s.segment_names = segments.names();
  s.propensity = propensity.model;
  s.propensity_label_days = opts.model.propensity.label_days;
  if (opts.model.recommend)
    s.recommendations =
        RunSummary::Recommendations{recs.evaluation, recs.topn, recs.catalogue.size()};
  s.stages = par::reduce_timers(comm, ctx.timers);
  s.rss = par::reduce_peak_rss(comm);
  // For the scaling tables (scripts/scaling.sh): bytes moved per stage, each rank's peak RSS.
  s.traffic = traffic_by_stage(ctx);
  s.rss_per_rank = comm.allgather<std::uint64_t>(par::peak_rss_bytes());
  write_summary(comm, opts.out + "/run.json", comm.rank() == 0 ? run_json(s) : std::string());
  par::log_stage_stats(ctx.log, s.stages);
}

}  // namespace

void run_analyze(Context& ctx, const AnalyzeOptions& opts) {
  std::optional<Stage> analyze;  // its timer stops before run.json, which reports it
  analyze.emplace(ctx, "analyze", opts.checkpoint);
  const std::string run_time = prepare_outputs(ctx, opts);
  const StoreEvents store = read_store_events(ctx, opts);
  const UserFeatures features = compute_user_features(ctx, opts, store);
  const Projection projection = transform_and_project(ctx, opts, features);
  const Segments segments = find_segments(ctx, opts, features, projection);
  const Propensity propensity = fit_propensity(ctx, opts, store, features);
  const ml::RecommenderResult recs = recommend(ctx, opts, store);
  write_analysis(ctx, opts, {run_time, features, projection, segments, propensity, recs});
  analyze.reset();
  write_run_summary(ctx, opts, run_time, store, features, projection, segments, propensity, recs);
  ctx.log.info("analyze: wrote ", opts.out,
               "/{ecom.h5,customer_segments.csv,segment_profiles.csv,k_selection.csv",
               opts.model.recommend ? ",recommendations.csv" : "", ",run.json}");
}

}  // namespace ecom::pipeline
