// `ecom score`: segments and fold-in recommendations for the users of new events, from a saved
// run (pipeline/score.hpp).
#include "ecom/pipeline/score.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>

#include "ecom/core/cli.hpp"
#include "ecom/core/clock.hpp"
#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/features/features.hpp"
#include "ecom/io/event_sort.hpp"
#include "ecom/io/event_store.hpp"
#include "ecom/io/h5.hpp"
#include "ecom/ml/interactions.hpp"
#include "ecom/ml/kmeans.hpp"
#include "ecom/ml/pca.hpp"
#include "ecom/ml/propensity.hpp"
#include "ecom/ml/recommend.hpp"
#include "ecom/ml/segments.hpp"
#include "ecom/ml/transform.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/file.hpp"
#include "ecom/par/stats.hpp"
#include "ecom/pipeline/commands.hpp"
#include "ecom/pipeline/ingest.hpp"
#include "ecom/pipeline/options.hpp"
#include "ecom/pipeline/results.hpp"
#include "ecom/pipeline/stage.hpp"
#include "ecom/pipeline/warehouse_csv.hpp"
#include "ecom/privacy/pseudonym.hpp"

namespace ecom::pipeline {

namespace h5 = io::h5;

namespace {

// What `ecom analyze` saved in RUNDIR/ecom.h5 and scoring needs (identical on every rank).
struct SavedModel {
  ml::Scaler scaler;
  ml::Pca pca;
  results::Segmentation segmentation;    // centroids, names, window
  ml::PropensityModel propensity;        // trained false: proba left empty
  double sigma2 = 1;                     // pooled within-segment variance, for the confidence
  std::optional<results::SavedAls> als;  // none when the run had --no-recommend
};

// Collective: reads the model through the results module and checks that it fits this version.
SavedModel read_model(par::Comm& comm, const std::string& path) {
  SavedModel m;
  auto file = h5::File::open(comm, path, false);
  const auto& root = file.root();
  std::string problem;
  for (const char* need :
       {"model/transform/names", "model/transform/log1p", "model/pca/mean", "model/pca/loadings",
        "model/centroids", "model/segment_names", "users/pseudonym"})
    if (problem.empty() && !root.exists(need))
      problem = path + " has no /" + need + ": not a model written by `ecom analyze`";
  par::agree(comm, problem, ExitCode::input);

  results::load_transform(root, m.scaler);
  results::load_scaler(root, m.scaler);
  if (m.scaler.names != features::feature_names())
    problem = path + ": the model's features differ from this version's (" +
              std::to_string(m.scaler.names.size()) + " vs " +
              std::to_string(features::kFeatureCount) + "); score with the ecom that wrote it";
  par::agree(comm, problem, ExitCode::input);
  m.scaler.validate();

  const auto d = static_cast<Eigen::Index>(m.scaler.dims());
  m.pca = results::load_pca(root);
  m.segmentation = results::load_segmentation(root);
  const auto kept = m.pca.loadings.cols();
  if (m.pca.mean.size() != d || m.pca.loadings.rows() != d ||
      m.segmentation.centroids.cols() != kept)
    problem = path + ": inconsistent /model shapes (transform, PCA, centroids)";
  else if (m.segmentation.names.size() != static_cast<std::size_t>(m.segmentation.centroids.rows()))
    problem = path + ": /model/segment_names does not match the centroids";
  par::agree(comm, problem, ExitCode::input);
  m.sigma2 = ml::pooled_variance(m.segmentation.inertia, results::user_count(root), kept);

  m.propensity = results::load_propensity(root);
  const auto& p = m.propensity;
  if (p.trained &&
      (p.scaler.names != m.scaler.names || p.fit.coef.size() != p.scaler.names.size() + 1))
    problem = path + ": /propensity does not match the model's features";
  m.als = results::load_als(root);
  if (m.als) {
    const auto& cat = m.als->catalogue;
    if (cat.item_factors.size() != cat.products.size() * static_cast<std::size_t>(cat.factors) ||
        cat.popularity.size() != cat.products.size() ||
        cat.category.size() != cat.products.size() ||
        !std::is_sorted(cat.products.begin(), cat.products.end()))
      problem = path + ": inconsistent /als item tables";
  }
  par::agree(comm, problem, ExitCode::input);
  file.close();
  return m;
}

// Collective: the outputs' run time, after checking the options and creating the output
// directory.
std::string prepare_outputs(Context& ctx, const ScoreOptions& opts, const std::string& model_h5) {
  auto& comm = ctx.comm;
  std::string run_time = opts.run_time.empty() ? utc_now_iso() : opts.run_time;
  comm.bcast(run_time, 0);
  std::string error;
  if (opts.top_n < 0) error = "score: --top-n must be >= 0";
  if (comm.rank() == 0 && error.empty()) {
    if (!io::h5::File::is_hdf5(model_h5))
      error = "score: no model: " + model_h5 +
              " is missing or not HDF5 (run `ecom run` or `ecom analyze` first)";
    std::error_code ec;
    if (error.empty()) std::filesystem::create_directories(opts.out, ec);
    if (ec) error = "score: cannot create output directory " + opts.out + ": " + ec.message();
  }
  par::agree(comm, error, ExitCode::usage);
  return run_time;
}

// "model": the saved model, with --top-n and --exclude applied.
SavedModel load_model(Context& ctx, const ScoreOptions& opts, const std::string& model_h5) {
  Stage stage(ctx, "model");
  SavedModel model = read_model(ctx.comm, model_h5);
  if (model.als && opts.top_n > 0) model.als->settings.top_n = opts.top_n;
  if (model.als && !opts.exclude.empty())
    model.als->settings.exclude = ml::parse_exclusion(opts.exclude);
  return model;
}

// "ingest": this rank's new events (parsed, validated, pseudonymised, shuffled to their users'
// owners with the store's virtual shards), through a temporary store in the output directory.
std::vector<Event> ingest_new_events(Context& ctx, const ScoreOptions& opts, std::uint32_t vshards,
                                     ScoreSummary& summary) {
  auto& comm = ctx.comm;
  Stage stage(ctx, "ingest");
  IngestOptions io_opts;  // no store: the events stay in memory (ingest_in_memory)
  io_opts.inputs = opts.inputs;
  io_opts.key_file = opts.key_file;
  io_opts.quarantine = opts.out + "/quarantine.csv";
  io_opts.vshards = vshards;
  io_opts.shuffle_buffer_mb = opts.shuffle_buffer_mb;
  const Logger quiet(comm.rank(), std::max(ctx.log.level(), LogLevel::warn));
  Context ictx{comm, quiet, Timers{}, false, ctx.config_text, ctx.command_line};
  const IngestedEvents batch = ingest_in_memory(ictx, io_opts);
  const IngestResult& r = batch.result;
  std::vector<Event> events(batch.events.data(), batch.events.data() + batch.events.size());
  summary.new_events = comm.allreduce_sum<std::uint64_t>(events.size());
  ctx.log.info("score: ", summary.new_events, " new events (", r.rows_read, " rows read, ",
               r.rejected(), " rejected -> ", io_opts.quarantine, ", ", r.duplicates,
               " duplicates)");
  return events;
}

// "history": the stored events of `users` added to `events` (exact duplicates once).
void add_history(Context& ctx, const ScoreOptions& opts, io::EventStore* store,
                 const std::vector<std::uint64_t>& users, std::vector<Event>& events,
                 ScoreSummary& summary) {
  auto& comm = ctx.comm;
  Stage stage(ctx, "history");
  if (store != nullptr) {
    const std::vector<Event> stored = store->read_my_events(comm);
    std::uint64_t added = 0;
    for (const Event& e : stored)
      if (std::binary_search(users.begin(), users.end(), e.user)) {
        events.push_back(e);
        ++added;
      }
    io::sort_events(events);
    events.resize(io::remove_duplicates(events));
    summary.history_events = comm.allreduce_sum(added);
  }
  summary.users = comm.allreduce_sum<std::uint64_t>(users.size());
  ctx.log.info("score: ", summary.users, " users; ",
               store != nullptr ? std::to_string(summary.history_events) +
                                      " events of theirs from " + opts.model + "/events.h5"
                                : std::string("no history (") +
                                      (opts.history ? "no store" : "--no-history") + ")");
}

// "segments": features over the model's window (widened to the events), the saved transform,
// PCA and centroids, confidence and propensity.
struct UserScores {
  features::FeatureTable table;
  std::vector<std::int32_t> labels;
  std::vector<double> confidence, proba;
};
UserScores assign_segments(Context& ctx, const SavedModel& model,
                           const std::vector<Event>& events) {
  auto& comm = ctx.comm;
  Stage stage(ctx, "segments");
  UserScores out;
  features::FeatureContext fctx;
  auto [lo, hi] = features::local_time_range(events);
  fctx.window_start = std::min(model.segmentation.window_start, comm.allreduce_min(lo));
  fctx.window_end = std::max(model.segmentation.window_end, comm.allreduce_max(hi));
  out.table = features::compute_features(events, fctx);
  const auto d = static_cast<Eigen::Index>(features::kFeatureCount);
  ml::RowMatrix raw(static_cast<Eigen::Index>(out.table.rows()), d);
  std::copy(out.table.values.begin(), out.table.values.end(), raw.data());
  const ml::RowMatrix scores = model.pca.project(model.scaler.transform(raw));
  const auto& centroids = model.segmentation.centroids;
  out.labels.resize(out.table.rows());
  std::vector<double> gd2(out.table.rows());
  if (out.table.rows() > 0)
    ml::nearest_centroids(scores, 0, out.table.rows(), centroids, 256, out.labels.data(),
                          gd2.data());
  out.confidence = ml::segment_confidence(scores, centroids, out.labels, model.sigma2);
  out.proba = model.propensity.trained
                  ? model.propensity.predict(raw)
                  : std::vector<double>(out.table.rows(), std::numeric_limits<double>::quiet_NaN());
  return out;
}

// "recommend": each user's ALS row folded in with the item factors fixed, then top-N with the
// run's exclusion rule and fallbacks.
std::vector<ml::Recommendation> recommend_folded_in(Context& ctx, const results::SavedAls& als,
                                                    const std::vector<std::uint64_t>& users,
                                                    const std::vector<Event>& events,
                                                    ScoreSummary& summary) {
  Stage stage(ctx, "recommend");
  const auto& s = als.settings;
  const std::vector<ml::Interaction> pairs = ml::build_interactions(events, s.weights);
  const ml::AlsModel folded =
      ml::fold_in_users(als.catalogue, users, pairs, s.alpha, s.regularization);
  ml::RecommendConfig rc;
  rc.top_n = s.top_n;
  rc.exclude = s.exclude;
  rc.fallback_categories = s.fallback_categories;
  ml::TopNStats stats;
  auto recs = ml::recommend_top_n(ctx.comm, folded, als.catalogue, pairs, rc, &stats);
  summary.als_users = stats.users[0];
  summary.rows = stats.rows[0] + stats.rows[1] + stats.rows[2];
  ctx.log.info("score: top-", rc.top_n, ": ", stats.users[0], " users from ALS (folded in), ",
               stats.users[1], " category_popular, ", stats.users[2], " popular");
  return recs;
}

// "write": DIR/customer_segments.csv and DIR/recommendations.csv (MPI-IO, pseudonym order).
void write_scores(Context& ctx, const ScoreOptions& opts, const SavedModel& model,
                  const UserScores& scores, const std::vector<ml::Recommendation>& recs,
                  const std::string& run_time) {
  Stage stage(ctx, "write");
  par::write_ordered(
      ctx.comm, opts.out + "/customer_segments.csv",
      customer_segment_rows(scores.table.users, scores.labels, model.segmentation.names,
                            scores.confidence, scores.proba, run_time),
      kCustomerSegmentsHeader);
  if (model.als)
    par::write_ordered(ctx.comm, opts.out + "/recommendations.csv", recommendation_rows(recs),
                       kRecommendationsHeader);
}

}  // namespace

ScoreSummary run_score(Context& ctx, const ScoreOptions& opts) {
  auto& comm = ctx.comm;
  ScoreSummary summary;
  Stage score(ctx, "score");
  const std::string model_h5 = opts.model + "/ecom.h5";
  const std::string store_path = opts.model + "/events.h5";
  const std::string run_time = prepare_outputs(ctx, opts, model_h5);
  const SavedModel model = load_model(ctx, opts, model_h5);
  std::optional<io::EventStore> store;
  if (opts.history && io::EventStore::exists(comm, store_path))
    store.emplace(io::EventStore::open(comm, store_path));
  const std::uint32_t vshards = store ? store->vshards() : par::kDefaultVShards;
  std::vector<Event> events = ingest_new_events(ctx, opts, vshards, summary);
  const std::vector<std::uint64_t> users = ml::distinct_users(events);
  add_history(ctx, opts, store ? &*store : nullptr, users, events, summary);
  const UserScores scores = assign_segments(ctx, model, events);
  std::vector<ml::Recommendation> recs;
  if (model.als) recs = recommend_folded_in(ctx, *model.als, users, events, summary);
  write_scores(ctx, opts, model, scores, recs, run_time);
  return summary;
}

}  // namespace ecom::pipeline

namespace ecom {

void add_score_command(CLI::App& app, Action& action) {
  auto opts = std::make_shared<pipeline::ScoreOptions>();
  auto* sub = app.add_subcommand(
      "score",
      "New events + a finished run's model -> segments and fold-in recommendations for the "
      "users of those events (DIR/customer_segments.csv, DIR/recommendations.csv)");
  sub->add_option("--model", opts->model,
                  "Run directory of `ecom run` / `ecom analyze` (ecom.h5, events.h5)")
      ->required();
  pipeline::add_input_options(sub, opts->inputs, opts->key_file,
                              "The run's secret pseudonymisation key (mode 0600)");
  pipeline::add_output_options(sub, opts->out, opts->run_time, "Output directory",
                               "updated_at of the outputs (ISO 8601 UTC); default now");
  sub->add_flag("--history,!--no-history", opts->history,
                "Add the users' events stored in RUNDIR/events.h5 (default)")
      ->default_str(opts->history ? "true" : "false");  // CLI11 captures no default of a flag
  ranged(sub->add_option("--top-n", opts->top_n, "Recommendations per user; 0: as the run")
             ->capture_default_str(),
         0, pipeline::kMaxTopN);
  sub->add_option("--exclude", opts->exclude,
                  "Products never recommended: none, purchased or interacted; empty: as the run")
      ->check(CLI::IsMember({"", "none", "purchased", "interacted"}));
  pipeline::add_shuffle_buffer_option(sub, opts->shuffle_buffer_mb);
  sub->callback([opts, &action] {
    action = [opts](Context& ctx) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto s = pipeline::run_score(ctx, *opts);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const auto stats = par::reduce_timers(ctx.comm, ctx.timers);
      par::log_stage_stats(ctx.log, stats);
      pipeline::ScoreReport report{s, ctx.comm.size(), seconds, stats};
      pipeline::write_summary(ctx.comm, opts->out + "/score.json",
                              ctx.comm.rank() == 0 ? pipeline::score_json(report) : std::string());
      ctx.log.info("score: ", s.users, " users scored in ", fixed(seconds, 3), " s; wrote ",
                   opts->out, "/{customer_segments.csv,recommendations.csv,score.json}");
      return 0;
    };
  });
}

}  // namespace ecom
