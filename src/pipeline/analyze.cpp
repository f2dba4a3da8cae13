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

void add_model_options(CLI::App& app, ModelOptions& m) {
  const std::string g = "Model (analyze, run)";
  app.add_option("--seed", m.seed, "Seed of every random decision (counter-based)")
      ->capture_default_str()
      ->group(g);
  app.add_option("--night-start-hour", m.features.night_start_hour,
                 "Night starts at this hour (UTC + offset)")
      ->capture_default_str()
      ->group(g);
  app.add_option("--night-end-hour", m.features.night_end_hour, "Night ends at this hour")
      ->capture_default_str()
      ->group(g);
  app.add_option("--utc-offset-minutes", m.features.utc_offset_minutes,
                 "Local time offset for night and weekend shares")
      ->capture_default_str()
      ->group(g);
  app.add_option("--log1p", m.log1p, "Features transformed by log1p before standardising")
      ->capture_default_str()
      ->group(g);
  app.add_option("--pca-variance", m.pca_variance,
                 "PCA keeps components up to this share of variance")
      ->capture_default_str()
      ->group(g);
  app.add_option("--pca-components", m.pca_components,
                 "If > 0, PCA keeps exactly this many components")
      ->capture_default_str()
      ->group(g);
  app.add_option("--k", m.k, "Number of segments; 0 = chosen by the k rule over [k-min, k-max]")
      ->capture_default_str()
      ->group(g);
  auto& s = m.selection;
  app.add_option("--k-min", s.k_min, "Smallest k tried")->capture_default_str()->group(g);
  app.add_option("--k-max", s.k_max, "Largest k tried")->capture_default_str()->group(g);
  app.add_option("--k-rule", s.rule.method, "Rule that picks k (see docs/SEGMENTS.md)")
      ->capture_default_str()
      ->group(g);
  app.add_option("--min-stability", s.rule.min_stability,
                 "Bootstrap ARI a k needs to count as stable")
      ->capture_default_str()
      ->group(g);
  app.add_option("--silhouette-tolerance", s.rule.silhouette_tolerance,
                 "Slack on the silhouette for the gap statistic's k")
      ->capture_default_str()
      ->group(g);
  app.add_option("--silhouette-sample", s.silhouette_sample,
                 "Expected users in the exact-silhouette sample")
      ->capture_default_str()
      ->group(g);
  app.add_option("--gap-references", s.gap_references,
                 "Reference data sets of the gap statistic (B)")
      ->capture_default_str()
      ->group(g);
  app.add_option("--stability-resamples", s.stability_resamples,
                 "Bootstrap subsamples for stability")
      ->capture_default_str()
      ->group(g);
  app.add_option("--stability-fraction", s.stability_fraction, "Share of users in each subsample")
      ->capture_default_str()
      ->group(g);
  app.add_option("--kmeans-max-iter", s.kmeans.max_iter, "Lloyd iterations at most")
      ->capture_default_str()
      ->group(g);
  app.add_option("--kmeans-tol", s.kmeans.tol, "Stop when no centroid moves more than this")
      ->capture_default_str()
      ->group(g);
  app.add_option("--kmeans-init-rounds", s.kmeans.init_rounds, "k-means|| rounds")
      ->capture_default_str()
      ->group(g);
  app.add_option("--kmeans-oversampling", s.kmeans.oversampling,
                 "k-means|| candidates per round, times k")
      ->capture_default_str()
      ->group(g);
  app.add_option("--kmeans-n-init", s.kmeans.n_init, "Initialisations; the lowest inertia is kept")
      ->capture_default_str()
      ->group(g);
  app.add_option("--segment-rule", m.naming_rules,
                 "Ordered naming rules 'name: quantity op value [and ...]' (empty: the defaults)")
      ->group(g);
  app.add_flag("--recommend,!--no-recommend", m.recommend, "Train ALS and write recommendations")
      ->default_str(m.recommend ? "true" : "false")  // CLI11 captures no default of a flag
      ->group(g);
  auto& r = m.recommender;
  app.add_option("--weight-view", r.weights.view, "Interaction weight of a view")
      ->capture_default_str()
      ->group(g);
  app.add_option("--weight-cart", r.weights.cart, "Interaction weight of a cart")
      ->capture_default_str()
      ->group(g);
  app.add_option("--weight-remove", r.weights.remove_from_cart,
                 "Interaction weight of a remove_from_cart")
      ->capture_default_str()
      ->group(g);
  app.add_option("--weight-purchase", r.weights.purchase, "Interaction weight of a purchase")
      ->capture_default_str()
      ->group(g);
  app.add_option("--weight-cap", r.weights.cap, "Cap on the summed weights of a (user, product)")
      ->capture_default_str()
      ->group(g);
  app.add_option("--als-factors", r.als.factors, "ALS latent factors")
      ->capture_default_str()
      ->group(g);
  app.add_option("--als-regularization", r.als.regularization, "ALS lambda")
      ->capture_default_str()
      ->group(g);
  app.add_option("--als-alpha", r.als.alpha, "Confidence c = 1 + alpha * r")
      ->capture_default_str()
      ->group(g);
  app.add_option("--als-iterations", r.als.iterations, "ALS sweeps")
      ->capture_default_str()
      ->group(g);
  app.add_option("--als-cg-steps", r.als.cg_steps, "Conjugate-gradient steps per solve")
      ->capture_default_str()
      ->group(g);
  app.add_flag("--als-cholesky", r.als.cholesky, "Exact Cholesky solves instead of CG")
      ->capture_default_str()
      ->group(g);
  app.add_option_function<std::string>(
         "--als-precision",
         [&r](const std::string& v) { r.als.precision = ml::parse_factor_precision(v); },
         "Factor precision: double (default, reproducible) or float")
      ->default_str("double")
      ->group(g);
  app.add_option("--holdout-fraction", r.holdout.test_fraction,
                 "Keyed share of interactions held out")
      ->capture_default_str()
      ->group(g);
  app.add_option("--holdout-days", r.holdout.test_days, "If > 0, hold out the last days instead")
      ->capture_default_str()
      ->group(g);
  app.add_flag("--evaluate,!--no-evaluate", r.evaluate,
               "Evaluate ALS and popularity on the holdout")
      ->default_str(r.evaluate ? "true" : "false")
      ->group(g);
  app.add_flag("--als-refit,!--no-als-refit", r.refit_on_all,
               "Recommend from ALS refitted on all pairs (default), not from the evaluated model")
      ->default_str(r.refit_on_all ? "true" : "false")
      ->group(g);
  app.add_option("--auc-users", r.evaluation.auc_users,
                 "AUC over a keyed sample of about this many evaluated users (0: all)")
      ->capture_default_str()
      ->group(g);
  app.add_option("--top-n", r.recommend.top_n, "Recommendations per user")
      ->capture_default_str()
      ->group(g);
  app.add_option_function<std::string>(
         "--exclude", [&r](const std::string& v) { r.recommend.exclude = ml::parse_exclusion(v); },
         "Products never recommended to a user: none, purchased (default) or interacted")
      ->default_str("purchased")
      ->group(g);
  auto& pr = m.propensity;
  app.add_option("--propensity-days", pr.label_days,
                 "Propensity label period: a purchase in the last D days of the window")
      ->capture_default_str()
      ->group(g);
  app.add_option("--propensity-holdout", pr.holdout_fraction,
                 "Keyed share of users held out for AUC and log-loss")
      ->capture_default_str()
      ->group(g);
  app.add_option("--propensity-l2", pr.l2,
                 "L2 penalty of the propensity model (scikit-learn C = 1/l2)")
      ->capture_default_str()
      ->group(g);
  app.add_option("--propensity-max-iter", pr.max_iter, "Newton iterations at most")
      ->capture_default_str()
      ->group(g);
}

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
