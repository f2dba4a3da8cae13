// `ecom analyze`: the analysis stages and their outputs (ARCHITECTURE.md §5).
#include "ecom/pipeline/analyze.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/core/signals.hpp"
#include "ecom/io/csv.hpp"
#include "ecom/io/event_store.hpp"
#include "ecom/io/h5.hpp"
#include "ecom/ml/pca.hpp"
#include "ecom/ml/propensity.hpp"
#include "ecom/ml/segments.hpp"
#include "ecom/ml/transform.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/file.hpp"
#include "ecom/par/stats.hpp"
#include "ecom/pipeline/checkpoint.hpp"
#include "ecom/pipeline/commands.hpp"
#include "ecom/pipeline/money_caps.hpp"
#include "ecom/pipeline/warehouse_csv.hpp"
#include "ecom/privacy/pseudonym.hpp"

namespace ecom::pipeline {

namespace h5 = io::h5;

std::string utc_now_iso() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string json_number(double v) { return std::isfinite(v) ? fmt("%.10g", v) : "null"; }

// Checks an ISO 8601 UTC time "YYYY-MM-DDTHH:MM:SSZ".
bool valid_run_time(const std::string& s) {
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != 'Z')
    return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18})
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

std::string ranking_json(const ml::RankingMetrics& m) {
  std::ostringstream os;
  os << "{\"precision_at_10\": " << json_number(m.precision_at_10)
     << ", \"recall_at_10\": " << json_number(m.recall_at_10)
     << ", \"map_at_10\": " << json_number(m.map_at_10)
     << ", \"ndcg_at_10\": " << json_number(m.ndcg_at_10) << ", \"auc\": " << json_number(m.auc)
     << ", \"coverage\": " << json_number(m.coverage) << ", \"k\": " << m.k
     << ", \"users\": " << m.users << ", \"auc_users\": " << m.auc_users << "}";
  return os.str();
}

// Writes `text` (held by rank 0) as a small CSV file, atomically, with MPI-IO.
void write_small(par::Comm& comm, const std::string& path, const std::string& text) {
  par::write_ordered(comm, path, comm.rank() == 0 ? std::string_view(text) : std::string_view());
}

void check_stop(Context& ctx, const std::string& step) {
  if (par::stop_requested(ctx.comm)) {
    Interrupted e("stopped by a signal after step '" + step + "'");
    e.set_collective(true);
    throw e;
  }
}

}  // namespace

void run_analyze(Context& ctx, const AnalyzeOptions& opts) {
  auto& comm = ctx.comm;
  const auto& log = ctx.log;
  const auto& m = opts.model;
  std::optional<ScopedTimer> total;  // stopped before run.json, which reports it
  total.emplace(ctx.timers, "analyze");

  std::string run_time = opts.run_time.empty() ? utc_now_iso() : opts.run_time;
  comm.bcast(run_time, 0);
  {
    std::string error;
    if (!valid_run_time(run_time))
      error = "--run-time '" + run_time + "' is not YYYY-MM-DDTHH:MM:SSZ";
    if (comm.rank() == 0 && error.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(opts.out, ec);
      if (ec) error = "cannot create output directory " + opts.out + ": " + ec.message();
    }
    par::agree(comm, error, ExitCode::usage);
  }

  // ---- events ---------------------------------------------------------------------------
  ctx.observer.set_stage("analyze/read");
  std::vector<Event> events;
  std::vector<io::FileManifest> manifest;
  std::uint32_t vshards = 0;
  {
    ScopedTimer t(ctx.timers, "read");
    auto store = io::EventStore::open(comm, opts.store);
    events = store.read_my_events(comm);
    manifest = store.manifest();
    vshards = store.vshards();
  }
  const std::uint64_t n_events = comm.allreduce_sum<std::uint64_t>(events.size());
  log.info("analyze: ", human_count(static_cast<double>(n_events)), " events from ", opts.store);
  if (n_events == 0)
    par::agree(comm, "the event store " + opts.store + " holds no events", ExitCode::input);

  // ---- features -------------------------------------------------------------------------
  ctx.observer.set_stage("analyze/features");
  features::FeatureContext fctx;
  fctx.config = m.features;
  features::validate(fctx.config);
  features::FeatureTable table;
  {
    ScopedTimer t(ctx.timers, "features");
    auto [lo, hi] = features::local_time_range(events);
    fctx.window_start = comm.allreduce_min(lo);
    fctx.window_end = comm.allreduce_max(hi);
    if (!opts.checkpoint || !opts.checkpoint->load_features(table)) {
      table = features::compute_features(events, fctx);
      if (opts.checkpoint) opts.checkpoint->save_features(table);
    }
  }
  const std::uint64_t n_users = comm.allreduce_sum<std::uint64_t>(table.rows());
  const auto names = features::feature_names();
  const auto d = static_cast<Eigen::Index>(features::kFeatureCount);
  ml::RowMatrix raw(static_cast<Eigen::Index>(table.rows()), d);
  std::copy(table.values.begin(), table.values.end(), raw.data());
  log.info("features: ", n_users, " users x ", d, " features; window ",
           fixed(fctx.window_days(), 2), " days");
  const std::uint64_t money_capped = report_capped_users(comm, log, table, "features");
  check_stop(ctx, "features");

  // ---- transform and PCA ----------------------------------------------------------------
  ctx.observer.set_stage("analyze/pca");
  ml::Scaler scaler;
  ml::RowMatrix transformed;
  ml::Pca pca;
  ml::RowMatrix scores;
  {
    ScopedTimer t(ctx.timers, "transform+pca");
    scaler = ml::fit_scaler(comm, raw, names, m.log1p);
    transformed = scaler.transform(raw);
    ml::PcaOptions po;
    po.variance_target = m.pca_variance;
    po.components = m.pca_components;
    pca = ml::fit_pca(comm, transformed, po);
    scores = pca.project(transformed);
  }
  {
    double explained = 0;
    for (int c = 0; c < pca.kept(); ++c) explained += pca.explained_ratio[c];
    log.info("pca: ", pca.kept(), " of ", pca.dims(), " components, ", fixed(100 * explained, 1),
             "% of variance");
  }
  check_stop(ctx, "pca");

  // ---- segments -------------------------------------------------------------------------
  ctx.observer.set_stage("analyze/kmeans");
  ml::SelectionOptions sel = m.selection;
  if (m.k > 0) sel.k_min = sel.k_max = m.k;
  if (n_users < static_cast<std::uint64_t>(std::max(1, sel.k_min)))
    par::agree(
        comm,
        "only " + std::to_string(n_users) + " users: fewer than k = " + std::to_string(sel.k_min),
        ExitCode::input);
  if (m.k == 0 && n_users < static_cast<std::uint64_t>(sel.k_max))
    par::agree(comm,
               "--k-max " + std::to_string(sel.k_max) + " is more than the " +
                   std::to_string(n_users) + " users: lower --k-max (README, \"Option ranges\")",
               ExitCode::usage);
  sel.progress = [&log](const std::string& line) { log.info(line); };
  ml::KSelection selection;
  {
    ScopedTimer t(ctx.timers, "segments");
    if (!opts.checkpoint || !opts.checkpoint->load_model(selection)) {
      selection = ml::select_k(comm, scores, table.users, sel, m.seed);
      if (opts.checkpoint) opts.checkpoint->save_model(selection);
    }
  }
  const auto& km = selection.model;
  const int k = selection.choice.k;
  log.info("k = ", k, ": ", selection.choice.reason);
  auto profiles = ml::profile_segments(comm, raw, names, km.labels, k);
  {
    const auto rule_texts = m.naming_rules.empty() ? ml::default_naming_rules() : m.naming_rules;
    ml::apply_names(profiles, ml::parse_naming_rules(rule_texts));
  }
  const auto confidence = ml::segment_confidence(
      scores, km.centroids, km.labels, ml::pooled_variance(km.inertia, km.n_total, scores.cols()));
  for (const auto& s : profiles.segments)
    log.info("segment ", s.segment, " '", s.name, "': ", s.users, " users (",
             fixed(100 * s.share, 1), "%), revenue share ", fixed(100 * s.revenue_share, 1), "%");
  check_stop(ctx, "segments");

  // ---- propensity -----------------------------------------------------------------------
  ctx.observer.set_stage("analyze/propensity");
  ml::PropensityModel propensity;
  ml::PropensityHoldout propensity_holdout;
  std::vector<double> proba;
  {
    ScopedTimer t(ctx.timers, "propensity");
    ml::PropensityOptions po = m.propensity;
    po.seed = m.seed;
    features::FeatureScratch scratch;
    const auto user_features = [&fctx, &scratch](std::span<const Event> user_events,
                                                 std::uint32_t start, std::uint32_t end,
                                                 std::span<double> row) {
      features::FeatureContext c = fctx;
      c.window_start = start;
      c.window_end = end;
      const auto f = features::compute_user_features(user_events, c, scratch);
      std::copy(f.begin(), f.end(), row.begin());
    };
    propensity = ml::train_propensity(comm, events, fctx.window_start, fctx.window_end, names,
                                      m.log1p, user_features, po, &propensity_holdout);
    proba = propensity.trained
                ? propensity.predict(raw)
                : std::vector<double>(table.rows(), std::numeric_limits<double>::quiet_NaN());
  }
  if (propensity.trained)
    log.info("propensity: AUC ", fixed(propensity.auc, 4), ", log-loss ",
             fixed(propensity.logloss, 4), " on ", propensity.holdout_users, " holdout users (",
             propensity.holdout_positives, " buyers); trained on ", propensity.train_users,
             " users (", propensity.train_positives, " buyers in the last ",
             m.propensity.label_days, " days), ", propensity.fit.iterations, " Newton iterations");
  else
    log.warn("propensity: not trained: ", propensity.skipped, "; proba left empty");
  check_stop(ctx, "propensity");

  // ---- recommendations ------------------------------------------------------------------
  ml::RecommenderResult recs;
  if (m.recommend) {
    ctx.observer.set_stage("analyze/als");
    ScopedTimer t(ctx.timers, "recommend");
    ml::RecommenderConfig rc = m.recommender;
    rc.als.vshards = vshards;
    rc.als.seed = m.seed;
    rc.holdout.seed = m.seed;
    if (opts.checkpoint) opts.checkpoint->attach_als(rc.als);
    recs = ml::run_recommender(comm, events, rc, &log);
    if (rc.evaluate) {
      const auto& e = recs.evaluation;
      log.info("holdout (", e.test_pairs, " pairs): precision@10 ALS ",
               fixed(e.als.precision_at_10, 4), " vs popularity ",
               fixed(e.popularity.precision_at_10, 4), "; NDCG@10 ", fixed(e.als.ndcg_at_10, 4),
               " vs ", fixed(e.popularity.ndcg_at_10, 4));
    }
  }
  check_stop(ctx, "recommend");

  // ---- outputs --------------------------------------------------------------------------
  ctx.observer.set_stage("analyze/write");
  std::optional<ScopedTimer> tw;
  tw.emplace(ctx.timers, "write");
  const std::string dir = opts.out;
  {
    // customer_segments.csv, rows in pseudonym order (ranks hold contiguous ascending ranges).
    std::vector<std::string> segment_names;
    for (const auto& seg : profiles.segments) segment_names.push_back(seg.name);
    par::write_ordered(
        comm, dir + "/customer_segments.csv",
        customer_segment_rows(table.users, km.labels, segment_names, confidence, proba, run_time),
        kCustomerSegmentsHeader);
  }
  write_small(comm, dir + "/segment_profiles.csv", ml::segment_profiles_csv(profiles));
  write_small(comm, dir + "/k_selection.csv", ml::k_selection_csv(selection.table));
  if (m.recommend) {
    par::write_ordered(comm, dir + "/recommendations.csv",
                       recommendation_rows(recs.recommendations), kRecommendationsHeader);
  }

  // ecom.h5: written under a temporary name, renamed when complete.
  const std::string h5_path = dir + "/ecom.h5";
  h5::write_file(comm, h5_path, [&](h5::File& file) {
    const auto& root = file.root();
    {
      auto users = root.create_group("users");
      h5::write_rows<std::uint64_t>(comm, users, "pseudonym", table.users);
      h5::write_rows<double>(comm, users, "features", table.values, static_cast<std::size_t>(d),
                             true);
      users.open_dataset("features").attrs().set("names", names);
      h5::write_rows<double>(
          comm, users, "transformed",
          std::span<const double>(transformed.data(), static_cast<std::size_t>(transformed.size())),
          static_cast<std::size_t>(d), true);
      users.open_dataset("transformed").attrs().set("names", names);
      const auto kept = static_cast<std::size_t>(std::max<Eigen::Index>(1, scores.cols()));
      h5::write_rows<double>(
          comm, users, "pca_scores",
          std::span<const double>(scores.data(), static_cast<std::size_t>(scores.size())), kept,
          true);
      h5::write_rows<std::int32_t>(comm, users, "segment", km.labels);
      h5::write_rows<double>(comm, users, "confidence", confidence);
      h5::write_rows<double>(comm, users, "propensity", proba);
    }
    {
      auto pg = root.create_group("propensity");
      const auto a = pg.attrs();
      a.set("trained", static_cast<std::int32_t>(propensity.trained));
      a.set("skipped", propensity.skipped);
      a.set("label_days", m.propensity.label_days);
      a.set("cutoff", static_cast<std::uint64_t>(propensity.cutoff));
      a.set("auc", propensity.auc);
      a.set("logloss", propensity.logloss);
      a.set("train_auc", propensity.train_auc);
      a.set("l2", m.propensity.l2);
      a.set("iterations", propensity.fit.iterations);
      a.set("train_users", propensity.train_users);
      a.set("train_positives", propensity.train_positives);
      a.set("holdout_users", propensity.holdout_users);
      a.set("holdout_positives", propensity.holdout_positives);
      h5::write_replicated<double>(comm, pg, "coef", propensity.fit.coef);
      h5::write_strings_replicated(comm, pg, "names", propensity.scaler.names);
      h5::write_replicated<double>(comm, pg, "scaler_mean", propensity.scaler.mean);
      h5::write_replicated<double>(comm, pg, "scaler_scale", propensity.scaler.scale);
      h5::write_replicated<std::uint8_t>(comm, pg, "scaler_log1p", propensity.scaler.log1p);
      h5::write_rows<std::uint64_t>(comm, pg, "holdout_user", propensity_holdout.users);
      h5::write_rows<double>(comm, pg, "holdout_proba", propensity_holdout.proba);
      h5::write_rows<std::uint8_t>(comm, pg, "holdout_label", propensity_holdout.label);
    }
    {
      auto model = root.create_group("model");
      auto tr = model.create_group("transform");
      h5::write_strings_replicated(comm, tr, "names", scaler.names);
      h5::write_replicated<std::uint8_t>(comm, tr, "log1p", scaler.log1p);
      // z = (g(x) - mean) / scale, g the signed log1p where flagged (docs/FEATURES.md).
      auto sc = model.create_group("scaler");
      h5::write_replicated<double>(comm, sc, "mean", scaler.mean);
      h5::write_replicated<double>(comm, sc, "scale", scaler.scale);
      h5::write_replicated<std::uint8_t>(comm, sc, "constant", scaler.constant);
      sc.attrs().set("n", scaler.n);
      auto pg = model.create_group("pca");
      h5::write_replicated<double>(
          comm, pg, "mean",
          std::span<const double>(pca.mean.data(), static_cast<std::size_t>(pca.mean.size())));
      h5::write_replicated<double>(
          comm, pg, "loadings",
          std::span<const double>(pca.loadings.data(),
                                  static_cast<std::size_t>(pca.loadings.size())),
          static_cast<std::size_t>(std::max(1, pca.kept())), true);
      h5::write_replicated<double>(
          comm, pg, "eigenvalues",
          std::span<const double>(pca.eigenvalues.data(),
                                  static_cast<std::size_t>(pca.eigenvalues.size())));
      h5::write_replicated<double>(
          comm, pg, "explained_ratio",
          std::span<const double>(pca.explained_ratio.data(),
                                  static_cast<std::size_t>(pca.explained_ratio.size())));
      h5::write_replicated<double>(
          comm, model, "centroids",
          std::span<const double>(km.centroids.data(),
                                  static_cast<std::size_t>(km.centroids.size())),
          static_cast<std::size_t>(std::max<Eigen::Index>(1, km.centroids.cols())), true);
      model.attrs().set("inertia", km.inertia);
      model.attrs().set("k", k);
      model.attrs().set("window_start", static_cast<std::uint64_t>(fctx.window_start));
      model.attrs().set("window_end", static_cast<std::uint64_t>(fctx.window_end));
      std::vector<std::string> seg_names;
      for (const auto& s : profiles.segments) seg_names.push_back(s.name);
      h5::write_strings_replicated(comm, model, "segment_names", seg_names);
    }
    {
      auto val = root.create_group("validation");
      std::vector<double> ks, inertia, sil, ssil, gap, gap_sd, ari, pairs;
      for (const auto& row : selection.table) {
        ks.push_back(row.k);
        inertia.push_back(row.inertia);
        sil.push_back(row.silhouette);
        ssil.push_back(row.simplified_silhouette);
        gap.push_back(row.gap);
        gap_sd.push_back(row.gap_sd);
        ari.push_back(row.stability_ari);
        pairs.push_back(row.stability_pairs);
      }
      h5::write_replicated<double>(comm, val, "k", ks);
      h5::write_replicated<double>(comm, val, "inertia", inertia);
      h5::write_replicated<double>(comm, val, "silhouette", sil);
      h5::write_replicated<double>(comm, val, "simplified_silhouette", ssil);
      h5::write_replicated<double>(comm, val, "gap", gap);
      h5::write_replicated<double>(comm, val, "gap_sd", gap_sd);
      h5::write_replicated<double>(comm, val, "stability_ari", ari);
      h5::write_replicated<double>(comm, val, "stability_pairs", pairs);
      val.attrs().set("chosen_k", k);
      val.attrs().set("reason", selection.choice.reason);
    }
    if (m.recommend) {
      auto als = root.create_group("als");
      const auto& cat = recs.catalogue;
      h5::write_replicated<std::uint64_t>(comm, als, "item_ids", cat.products);
      h5::write_replicated<double>(comm, als, "item_factors", cat.item_factors,
                                   static_cast<std::size_t>(std::max(1, cat.factors)), true);
      h5::write_replicated<double>(comm, als, "item_popularity", cat.popularity);
      h5::write_replicated<std::uint64_t>(comm, als, "item_category", cat.category);
      h5::write_rows<std::uint64_t>(comm, als, "user_ids", recs.model.users);
      h5::write_rows<double>(comm, als, "user_factors", recs.model.user_factors,
                             static_cast<std::size_t>(std::max(1, recs.model.factors)), true);
      als.attrs().set("loss", recs.model.loss);
      {
        // The settings `ecom score` folds new users in with.
        const auto& rcfg = m.recommender;
        const auto a = als.attrs();
        a.set("factors", recs.model.factors);
        a.set("regularization", rcfg.als.regularization);
        a.set("alpha", rcfg.als.alpha);
        a.set("iterations", rcfg.als.iterations);
        a.set("cg_steps", rcfg.als.cg_steps);
        a.set("solver", rcfg.als.cholesky ? "cholesky" : "cg");
        a.set("precision", ml::name_of(rcfg.als.precision));
        a.set("weight_view", rcfg.weights.view);
        a.set("weight_cart", rcfg.weights.cart);
        a.set("weight_remove_from_cart", rcfg.weights.remove_from_cart);
        a.set("weight_purchase", rcfg.weights.purchase);
        a.set("weight_cap", rcfg.weights.cap);
        a.set("top_n", rcfg.recommend.top_n);
        a.set("exclude", ml::name_of(rcfg.recommend.exclude));
        a.set("fallback_categories", rcfg.recommend.fallback_categories);
        a.set("refit_on_all", static_cast<std::int32_t>(rcfg.refit_on_all || !rcfg.evaluate));
      }
      auto rg = root.create_group("recs");
      std::vector<std::uint64_t> ru, rp;
      std::vector<std::uint32_t> rr;
      std::vector<double> rs;
      std::vector<std::uint8_t> src;
      for (const auto& r : recs.recommendations) {
        ru.push_back(r.user);
        rp.push_back(r.product);
        rr.push_back(r.rank);
        rs.push_back(r.score);
        src.push_back(static_cast<std::uint8_t>(r.source));
      }
      h5::write_rows<std::uint64_t>(comm, rg, "user", ru);
      h5::write_rows<std::uint32_t>(comm, rg, "rank", rr);
      h5::write_rows<std::uint64_t>(comm, rg, "product", rp);
      h5::write_rows<double>(comm, rg, "score", rs);
      h5::write_rows<std::uint8_t>(comm, rg, "source", src);
      rg.attrs().set("sources", std::vector<std::string>{"als", "category_popular", "popular"});
      const auto& e = recs.evaluation;
      auto ev = rg.create_group("evaluation");
      // The held-out (user, product) pairs, in pseudonym order.
      h5::write_rows<std::uint64_t>(comm, ev, "holdout_user", recs.holdout_users);
      h5::write_rows<std::uint64_t>(comm, ev, "holdout_product", recs.holdout_products);
      ev.attrs().set("test_pairs", e.test_pairs);
      ev.attrs().set("test_fraction", m.recommender.holdout.test_fraction);
      ev.attrs().set("test_days", m.recommender.holdout.test_days);
      for (const auto& [name, mm] :
           {std::pair{"als", e.als}, std::pair{"popularity", e.popularity}}) {
        auto g = ev.create_group(name);
        g.attrs().set("precision_at_10", mm.precision_at_10);
        g.attrs().set("recall_at_10", mm.recall_at_10);
        g.attrs().set("map_at_10", mm.map_at_10);
        g.attrs().set("ndcg_at_10", mm.ndcg_at_10);
        g.attrs().set("auc", mm.auc);
        g.attrs().set("coverage", mm.coverage);
      }
    }
    root.attrs().set("config", ctx.config_text);
    root.attrs().set("version", std::string(ECOM_VERSION));
    root.attrs().set("git_revision", std::string(ECOM_GIT_REVISION));
    root.attrs().set("ranks", comm.size());
    root.attrs().set("run_time", run_time);
    {
      // Stage timings (seconds over ranks) of the stages completed before this write; run.json
      // has them all. The only root attributes besides `ranks` that differ between runs.
      std::vector<std::string> stage_names;
      std::vector<double> stage_min, stage_avg, stage_max;
      for (const auto& st : par::reduce_timers(comm, ctx.timers)) {
        if (!(st.max > 0)) continue;  // still running (e.g. "analyze", "analyze/write")
        stage_names.push_back(st.path);
        stage_min.push_back(st.min);
        stage_avg.push_back(st.avg);
        stage_max.push_back(st.max);
      }
      root.attrs().set("stage_names", stage_names);
      root.attrs().set("stage_seconds_min", stage_min);
      root.attrs().set("stage_seconds_avg", stage_avg);
      root.attrs().set("stage_seconds_max", stage_max);
    }
  });
  tw.reset();
  total.reset();

  // run.json (rank 0), with stage timings reduced over ranks.
  const auto stages = par::reduce_timers(comm, ctx.timers);
  const auto rss = par::reduce_peak_rss(comm);
  // For the scaling tables (scripts/scaling.sh): bytes moved per stage, each rank's peak RSS.
  const auto traffic = par::reduce_traffic(comm, ctx.observer);
  const auto rss_per_rank = comm.allgather<std::uint64_t>(par::peak_rss_bytes());
  if (comm.rank() == 0) {
    std::ostringstream js;
    js << "{\n  \"version\": \"" << ECOM_VERSION << "\",\n  \"git_revision\": \""
       << ECOM_GIT_REVISION << "\",\n  \"run_time\": \"" << run_time
       << "\",\n  \"ranks\": " << comm.size() << ",\n  \"store\": \"" << json_escape(opts.store)
       << "\",\n  \"counts\": {\"events\": " << n_events << ", \"users\": " << n_users;
    std::uint64_t rows_read = 0, rows_kept = 0, dups = 0, zero_price = 0;
    std::map<std::string, std::uint64_t> rejects;
    for (const auto& f : manifest) {
      rows_read += f.rows_read;
      rows_kept += f.rows_kept;
      dups += f.duplicates;
      zero_price += f.zero_price;
      for (const auto& [reason, c] : f.rejects) rejects[reason] += c;
    }
    js << ", \"rows_read\": " << rows_read << ", \"rows_kept\": " << rows_kept
       << ", \"duplicates\": " << dups << ", \"zero_price\": " << zero_price
       << ", \"files\": " << manifest.size() << ", \"money_capped_users\": " << money_capped
       << "},\n  \"rejects\": {";
    bool first = true;
    for (const auto& [reason, c] : rejects) {
      js << (first ? "" : ", ") << "\"" << reason << "\": " << c;
      first = false;
    }
    js << "},\n  \"pca\": {\"components\": " << pca.kept() << ", \"explained\": [";
    for (int c = 0; c < pca.kept(); ++c)
      js << (c ? ", " : "") << json_number(pca.explained_ratio[c]);
    js << "]},\n  \"segments\": {\"k\": " << k << ", \"reason\": \""
       << json_escape(selection.choice.reason) << "\", \"gap_k\": " << selection.choice.gap_k
       << ", \"silhouette_k\": " << selection.choice.silhouette_k
       << ", \"inertia\": " << json_number(km.inertia) << ", \"iterations\": " << km.iterations
       << ", \"converged\": " << (km.converged ? "true" : "false")
       << ", \"reseeded\": " << km.reseeded << ", \"candidates\": " << km.candidates;
    for (const auto& row : selection.table)
      if (row.k == k)
        js << ", \"silhouette\": " << json_number(row.silhouette)
           << ", \"silhouette_sample\": " << row.silhouette_sample
           << ", \"simplified_silhouette\": " << json_number(row.simplified_silhouette)
           << ", \"gap\": " << json_number(row.gap) << ", \"gap_sd\": " << json_number(row.gap_sd)
           << ", \"stability_ari\": " << json_number(row.stability_ari)
           << ", \"stability_pairs\": " << json_number(row.stability_pairs);
    js << ", \"names\": [";
    for (std::size_t s = 0; s < profiles.segments.size(); ++s)
      js << (s ? ", " : "") << "\"" << json_escape(profiles.segments[s].name) << "\"";
    js << "]}";
    js << ",\n  \"propensity\": {\"auc\": " << json_number(propensity.auc)
       << ", \"logloss\": " << json_number(propensity.logloss)
       << ", \"train_auc\": " << json_number(propensity.train_auc)
       << ", \"label_days\": " << m.propensity.label_days << ", \"cutoff\": \""
       << io::format_time(propensity.cutoff) << "\", \"train_users\": " << propensity.train_users
       << ", \"train_positives\": " << propensity.train_positives
       << ", \"holdout_users\": " << propensity.holdout_users
       << ", \"holdout_positives\": " << propensity.holdout_positives
       << ", \"iterations\": " << propensity.fit.iterations
       << ", \"converged\": " << (propensity.fit.converged ? "true" : "false")
       << ", \"skipped\": \"" << json_escape(propensity.skipped) << "\"}";
    js << ",\n  \"config\": \"" << json_escape(ctx.config_text)
       << "\"";  // for the warehouse's runs table
    if (m.recommend) {
      const auto& e = recs.evaluation;
      js << ",\n  \"als\": " << ranking_json(e.als)
         << ",\n  \"popularity\": " << ranking_json(e.popularity)
         << ",\n  \"holdout_pairs\": " << e.test_pairs
         << ",\n  \"recommendations\": {\"als\": " << recs.topn.users[0]
         << ", \"category_popular\": " << recs.topn.users[1]
         << ", \"popular\": " << recs.topn.users[2]
         << ", \"coverage\": " << json_number(recs.topn.coverage) << "}";
    }
    js << ",\n  \"peak_rss_bytes\": {\"min\": " << json_number(rss.min)
       << ", \"max\": " << json_number(rss.max) << ", \"total\": " << json_number(rss.total)
       << "},\n  \"peak_rss_bytes_per_rank\": [";
    for (std::size_t r = 0; r < rss_per_rank.size(); ++r) js << (r ? ", " : "") << rss_per_rank[r];
    js << "],\n  \"products\": " << (m.recommend ? recs.catalogue.size() : 0)
       << ",\n  \"traffic_bytes\": [";
    for (std::size_t i = 0; i < traffic.size(); ++i)
      js << (i ? "," : "") << "\n    {\"stage\": \"" << json_escape(traffic[i].stage)
         << "\", \"sent_total\": " << traffic[i].sent_total
         << ", \"received_total\": " << traffic[i].received_total
         << ", \"sent_max\": " << traffic[i].sent_max
         << ", \"received_max\": " << traffic[i].received_max << "}";
    js << "\n  ],\n  \"stages\": [";
    for (std::size_t i = 0; i < stages.size(); ++i)
      js << (i ? "," : "") << "\n    {\"stage\": \"" << json_escape(stages[i].path)
         << "\", \"min\": " << json_number(stages[i].min)
         << ", \"avg\": " << json_number(stages[i].avg)
         << ", \"max\": " << json_number(stages[i].max) << "}";
    js << "\n  ]\n}\n";
    par::write_file(dir + "/run.json", js.str());
  }
  par::log_stage_stats(log, stages);
  log.info("analyze: wrote ", dir,
           "/{ecom.h5,customer_segments.csv,segment_profiles.csv,k_selection.csv",
           m.recommend ? ",recommendations.csv" : "", ",run.json}");
}

}  // namespace ecom::pipeline
