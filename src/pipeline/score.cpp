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
#include "ecom/pipeline/analyze.hpp"
#include "ecom/pipeline/commands.hpp"
#include "ecom/pipeline/ingest.hpp"
#include "ecom/pipeline/options.hpp"
#include "ecom/pipeline/warehouse_csv.hpp"
#include "ecom/privacy/pseudonym.hpp"

namespace ecom::pipeline {

namespace h5 = io::h5;

namespace {

// What `ecom analyze` saved in RUNDIR/ecom.h5 and scoring needs (identical on every rank).
struct SavedModel {
  ml::Scaler scaler;
  ml::Pca pca;
  ml::RowMatrix centroids;
  std::vector<std::string> segment_names;
  ml::PropensityModel propensity;  // trained false: proba left empty
  double sigma2 = 1;               // pooled within-segment variance, for the confidence
  std::uint32_t window_start = 0, window_end = 0;
  // Recommendations (has_als false when the run had --no-recommend).
  bool has_als = false;
  ml::Catalogue catalogue;
  ml::InteractionWeights weights;
  double alpha = 1.0, regularization = 0.1;
  int top_n = 10;
  ml::Exclusion exclude = ml::Exclusion::purchased;
  int fallback_categories = 3;
};

template <class T>
T attr_or(const h5::Attributes& a, const std::string& name, T fallback) {
  return a.has(name) ? a.get<T>(name) : fallback;
}

SavedModel read_model(par::Comm& comm, const std::string& path) {
  SavedModel m;
  auto file = h5::File::open(comm, path, false);
  const auto& root = file.root();
  std::string problem;
  // Every group and dataset handle lives in this block: the file closes after them.
  {
    for (const char* need :
         {"model/transform/names", "model/transform/log1p", "model/pca/mean", "model/pca/loadings",
          "model/centroids", "model/segment_names", "users/pseudonym"})
      if (problem.empty() && !root.exists(need))
        problem = path + " has no /" + need + ": not a model written by `ecom analyze`";
    par::agree(comm, problem, ExitCode::input);

    const auto model = root.open_group("model");
    // The scaler moved from /model/transform to /model/scaler; read either.
    const std::string sc = root.exists("model/scaler/mean") ? "model/scaler" : "model/transform";
    m.scaler.names = h5::read_strings(root, "model/transform/names");
    m.scaler.log1p = h5::read_all<std::uint8_t>(root, "model/transform/log1p");
    m.scaler.mean = h5::read_all<double>(root, sc + "/mean");
    m.scaler.scale = h5::read_all<double>(root, sc + "/scale");
    m.scaler.constant = root.exists(sc + "/constant")
                            ? h5::read_all<std::uint8_t>(root, sc + "/constant")
                            : std::vector<std::uint8_t>(m.scaler.names.size(), 0);
    if (m.scaler.names != features::feature_names())
      problem = path + ": the model's features differ from this version's (" +
                std::to_string(m.scaler.names.size()) + " vs " +
                std::to_string(features::kFeatureCount) + "); score with the ecom that wrote it";
    par::agree(comm, problem, ExitCode::input);
    m.scaler.validate();

    const auto d = static_cast<Eigen::Index>(m.scaler.dims());
    const auto pmean = h5::read_all<double>(root, "model/pca/mean");
    const auto ld = root.open_dataset("model/pca/loadings");
    const auto load = h5::read_all<double>(ld);
    const auto kept = static_cast<Eigen::Index>(ld.cols());
    const auto cd = root.open_dataset("model/centroids");
    const auto cent = h5::read_all<double>(cd);
    if (static_cast<Eigen::Index>(pmean.size()) != d || static_cast<Eigen::Index>(ld.rows()) != d ||
        static_cast<Eigen::Index>(cd.cols()) != kept)
      problem = path + ": inconsistent /model shapes (transform, PCA, centroids)";
    par::agree(comm, problem, ExitCode::input);
    m.pca.mean = Eigen::Map<const Eigen::VectorXd>(pmean.data(), d);
    m.pca.loadings = Eigen::Map<const ml::RowMatrix>(load.data(), d, kept);
    m.centroids =
        Eigen::Map<const ml::RowMatrix>(cent.data(), static_cast<Eigen::Index>(cd.rows()), kept);
    m.segment_names = h5::read_strings(root, "model/segment_names");
    if (m.segment_names.size() != static_cast<std::size_t>(m.centroids.rows()))
      problem = path + ": /model/segment_names does not match the centroids";
    par::agree(comm, problem, ExitCode::input);
    const auto ma = model.attrs();
    m.window_start = static_cast<std::uint32_t>(ma.get<std::uint64_t>("window_start"));
    m.window_end = static_cast<std::uint32_t>(ma.get<std::uint64_t>("window_end"));
    const std::uint64_t n_users = root.open_dataset("users/pseudonym").rows();
    m.sigma2 = ml::pooled_variance(ma.get<double>("inertia"), n_users, kept);

    if (root.exists("propensity/coef") &&
        root.open_group("propensity").attrs().get<std::int32_t>("trained") != 0) {
      auto& p = m.propensity;
      p.trained = true;
      p.fit.coef = h5::read_all<double>(root, "propensity/coef");
      p.scaler.names = h5::read_strings(root, "propensity/names");
      p.scaler.log1p = h5::read_all<std::uint8_t>(root, "propensity/scaler_log1p");
      p.scaler.mean = h5::read_all<double>(root, "propensity/scaler_mean");
      p.scaler.scale = h5::read_all<double>(root, "propensity/scaler_scale");
      p.scaler.constant.assign(p.scaler.names.size(), 0);
      if (p.scaler.names != m.scaler.names || p.fit.coef.size() != p.scaler.names.size() + 1)
        problem = path + ": /propensity does not match the model's features";
    }
    m.has_als = root.exists("als/item_factors");
    if (m.has_als) {
      const auto als = root.open_group("als");
      auto& cat = m.catalogue;
      cat.products = h5::read_all<std::uint64_t>(root, "als/item_ids");
      const auto fd = root.open_dataset("als/item_factors");
      cat.item_factors = h5::read_all<double>(fd);
      cat.factors = static_cast<int>(fd.cols());
      cat.popularity = h5::read_all<double>(root, "als/item_popularity");
      cat.category = h5::read_all<std::uint64_t>(root, "als/item_category");
      if (cat.item_factors.size() != cat.products.size() * fd.cols() ||
          cat.popularity.size() != cat.products.size() ||
          cat.category.size() != cat.products.size() ||
          !std::is_sorted(cat.products.begin(), cat.products.end()))
        problem = path + ": inconsistent /als item tables";
      // The run's settings (attributes written by analyze; defaults for older runs).
      const auto a = als.attrs();
      m.alpha = attr_or<double>(a, "alpha", m.alpha);
      m.regularization = attr_or<double>(a, "regularization", m.regularization);
      m.weights.view = attr_or<double>(a, "weight_view", m.weights.view);
      m.weights.cart = attr_or<double>(a, "weight_cart", m.weights.cart);
      m.weights.remove_from_cart =
          attr_or<double>(a, "weight_remove_from_cart", m.weights.remove_from_cart);
      m.weights.purchase = attr_or<double>(a, "weight_purchase", m.weights.purchase);
      m.weights.cap = attr_or<double>(a, "weight_cap", m.weights.cap);
      m.top_n = attr_or<std::int32_t>(a, "top_n", m.top_n);
      m.fallback_categories =
          attr_or<std::int32_t>(a, "fallback_categories", m.fallback_categories);
      if (a.has("exclude")) m.exclude = ml::parse_exclusion(a.get_string("exclude"));
    }
  }
  par::agree(comm, problem, ExitCode::input);
  file.close();
  return m;
}

// Removes `path` (rank 0) and waits for it.
void remove_file(par::Comm& comm, const std::string& path) {
  if (comm.rank() == 0) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    std::filesystem::remove(path + ".tmp", ec);
  }
  comm.barrier();
}

}  // namespace

ScoreSummary run_score(Context& ctx, const ScoreOptions& opts) {
  auto& comm = ctx.comm;
  const auto& log = ctx.log;
  ScoreSummary summary;
  ScopedTimer total(ctx.timers, "score");
  const std::string model_h5 = opts.model + "/ecom.h5";
  const std::string store_path = opts.model + "/events.h5";
  std::string run_time = opts.run_time.empty() ? utc_now_iso() : opts.run_time;
  comm.bcast(run_time, 0);
  {
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
  }

  // ---- the saved model --------------------------------------------------------------------
  ctx.observer.set_stage("score/model");
  SavedModel model;
  {
    ScopedTimer t(ctx.timers, "model");
    model = read_model(comm, model_h5);
  }
  if (opts.top_n > 0) model.top_n = opts.top_n;
  if (!opts.exclude.empty()) model.exclude = ml::parse_exclusion(opts.exclude);
  const bool use_store = opts.history && io::EventStore::exists(comm, store_path);
  std::optional<io::EventStore> store;
  if (use_store) store.emplace(io::EventStore::open(comm, store_path));
  const std::uint32_t vshards = store ? store->vshards() : par::kDefaultVShards;

  // ---- new events: ingested into a temporary store (parse, validate, pseudonymise, shuffle) --
  ctx.observer.set_stage("score/ingest");
  std::vector<Event> events;
  {
    const std::string batch = opts.out + "/.score-batch.h5";
    remove_file(comm, batch);
    IngestOptions io_opts;
    io_opts.inputs = opts.inputs;
    io_opts.store = batch;
    io_opts.key_file = opts.key_file;
    io_opts.quarantine = opts.out + "/quarantine.csv";
    io_opts.vshards = vshards;
    io_opts.shuffle_buffer_mb = opts.shuffle_buffer_mb;
    const Logger quiet(comm.rank(), std::max(log.level(), LogLevel::warn));
    Context ictx{comm, quiet, Timers{}, false, ctx.config_text, ctx.command_line};
    ScopedTimer t(ctx.timers, "ingest");
    const IngestResult r = run_ingest(ictx, io_opts);
    if (r.partition >= 0) events = io::EventStore::open(comm, batch).read_my_events(comm);
    remove_file(comm, batch);
    summary.new_events = comm.allreduce_sum<std::uint64_t>(events.size());
    log.info("score: ", summary.new_events, " new events (", r.rows_read, " rows read, ",
             r.rejected(), " rejected -> ", io_opts.quarantine, ", ", r.duplicates, " duplicates)");
  }
  const std::vector<std::uint64_t> users = ml::distinct_users(events);

  // ---- history of those users from the run's store ------------------------------------------
  ctx.observer.set_stage("score/history");
  if (store) {
    ScopedTimer t(ctx.timers, "history");
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
  log.info("score: ", summary.users, " users; ",
           store
               ? std::to_string(summary.history_events) + " events of theirs from " + store_path
               : std::string("no history (") + (opts.history ? "no store" : "--no-history") + ")");

  // ---- features, transform, PCA, segments ------------------------------------------------
  ctx.observer.set_stage("score/segments");
  features::FeatureTable table;
  std::vector<std::int32_t> labels;
  std::vector<double> confidence, proba;
  {
    ScopedTimer t(ctx.timers, "segments");
    features::FeatureContext fctx;
    auto [lo, hi] = features::local_time_range(events);
    fctx.window_start = std::min(model.window_start, comm.allreduce_min(lo));
    fctx.window_end = std::max(model.window_end, comm.allreduce_max(hi));
    table = features::compute_features(events, fctx);
    const auto d = static_cast<Eigen::Index>(features::kFeatureCount);
    ml::RowMatrix raw(static_cast<Eigen::Index>(table.rows()), d);
    std::copy(table.values.begin(), table.values.end(), raw.data());
    const ml::RowMatrix scores = model.pca.project(model.scaler.transform(raw));
    labels.resize(table.rows());
    std::vector<double> gd2(table.rows());
    if (table.rows() > 0)
      ml::nearest_centroids(scores, 0, table.rows(), model.centroids, 256, labels.data(),
                            gd2.data());
    confidence = ml::segment_confidence(scores, model.centroids, labels, model.sigma2);
    proba = model.propensity.trained
                ? model.propensity.predict(raw)
                : std::vector<double>(table.rows(), std::numeric_limits<double>::quiet_NaN());
  }

  // ---- recommendations --------------------------------------------------------------------
  ctx.observer.set_stage("score/recommend");
  std::vector<ml::Recommendation> recs;
  if (model.has_als) {
    ScopedTimer t(ctx.timers, "recommend");
    const std::vector<ml::Interaction> pairs = ml::build_interactions(events, model.weights);
    const ml::AlsModel folded =
        ml::fold_in_users(model.catalogue, users, pairs, model.alpha, model.regularization);
    ml::RecommendConfig rc;
    rc.top_n = model.top_n;
    rc.exclude = model.exclude;
    rc.fallback_categories = model.fallback_categories;
    ml::TopNStats stats;
    recs = ml::recommend_top_n(comm, folded, model.catalogue, pairs, rc, &stats);
    summary.als_users = stats.users[0];
    summary.rows = stats.rows[0] + stats.rows[1] + stats.rows[2];
    log.info("score: top-", rc.top_n, ": ", stats.users[0], " users from ALS (folded in), ",
             stats.users[1], " category_popular, ", stats.users[2], " popular");
  }

  // ---- outputs ----------------------------------------------------------------------------
  ctx.observer.set_stage("score/write");
  {
    ScopedTimer t(ctx.timers, "write");
    par::write_ordered(comm, opts.out + "/customer_segments.csv",
                       customer_segment_rows(table.users, labels, model.segment_names, confidence,
                                             proba, run_time),
                       kCustomerSegmentsHeader);
    if (model.has_als)
      par::write_ordered(comm, opts.out + "/recommendations.csv", recommendation_rows(recs),
                         kRecommendationsHeader);
  }
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
      if (ctx.comm.rank() == 0) {
        std::ostringstream js;
        js << "{\n  \"new_events\": " << s.new_events
           << ",\n  \"history_events\": " << s.history_events << ",\n  \"users\": " << s.users
           << ",\n  \"als_users\": " << s.als_users << ",\n  \"recommendation_rows\": " << s.rows
           << ",\n  \"ranks\": " << ctx.comm.size() << ",\n  \"seconds\": " << seconds
           << ",\n  \"stages\": [";
        for (std::size_t i = 0; i < stats.size(); ++i)
          js << (i ? "," : "") << "\n    {\"stage\": \"" << stats[i].path
             << "\", \"max\": " << stats[i].max << "}";
        js << "\n  ]\n}\n";
        const std::string path = opts->out + "/score.json";
        par::write_file(path, js.str());
      }
      ctx.log.info("score: ", s.users, " users scored in ", fixed(seconds, 3), " s; wrote ",
                   opts->out, "/{customer_segments.csv,recommendations.csv,score.json}");
      return 0;
    };
  });
}

}  // namespace ecom
