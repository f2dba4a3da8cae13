// The stages of `ecom analyze` (include/ecom/pipeline/analyze_stages.hpp).
#include "ecom/pipeline/analyze_stages.hpp"

#include <algorithm>
#include <filesystem>
#include <limits>

#include "ecom/core/context.hpp"
#include "ecom/core/error.hpp"
#include "ecom/io/h5.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/file.hpp"
#include "ecom/par/stats.hpp"
#include "ecom/pipeline/money_caps.hpp"
#include "ecom/pipeline/results.hpp"
#include "ecom/pipeline/stage.hpp"
#include "ecom/pipeline/warehouse_csv.hpp"

namespace ecom::pipeline {

namespace h5 = io::h5;

StoreEvents read_store_events(Context& ctx, const AnalyzeOptions& opts) {
  auto& comm = ctx.comm;
  Stage stage(ctx, "read", opts.checkpoint);
  StoreEvents out;
  {
    auto store = io::EventStore::open(comm, opts.store);
    out.events = store.read_my_events(comm);
    out.manifest = store.manifest();
    out.vshards = store.vshards();
  }
  out.total = comm.allreduce_sum<std::uint64_t>(out.events.size());
  ctx.log.info("analyze: ", human_count(static_cast<double>(out.total)), " events from ",
               opts.store);
  if (out.total == 0)
    par::agree(comm, "the event store " + opts.store + " holds no events", ExitCode::input);
  stage.finish();
  return out;
}

UserFeatures compute_user_features(Context& ctx, const AnalyzeOptions& opts,
                                   const StoreEvents& store) {
  auto& comm = ctx.comm;
  Stage stage(ctx, "features", opts.checkpoint);
  UserFeatures out;
  out.context.config = opts.model.features;
  features::validate(out.context.config);
  auto [lo, hi] = features::local_time_range(store.events);
  out.context.window_start = comm.allreduce_min(lo);
  out.context.window_end = comm.allreduce_max(hi);
  out.table = stage.memo<features::FeatureTable>(
      [&] { return features::compute_features(store.events, out.context); });
  out.users = comm.allreduce_sum<std::uint64_t>(out.table.rows());
  const auto d = static_cast<Eigen::Index>(features::kFeatureCount);
  out.raw.resize(static_cast<Eigen::Index>(out.table.rows()), d);
  std::copy(out.table.values.begin(), out.table.values.end(), out.raw.data());
  ctx.log.info("features: ", out.users, " users x ", d, " features; window ",
               fixed(out.context.window_days(), 2), " days");
  out.money_capped = report_capped_users(comm, ctx.log, out.table, "features");
  stage.finish();
  return out;
}

Projection transform_and_project(Context& ctx, const AnalyzeOptions& opts,
                                 const UserFeatures& features) {
  auto& comm = ctx.comm;
  const auto& m = opts.model;
  Stage stage(ctx, "transform+pca", opts.checkpoint);
  Projection out;
  out.scaler = ml::fit_scaler(comm, features.raw, features::feature_names(), m.log1p);
  out.transformed = out.scaler.transform(features.raw);
  ml::PcaOptions po;
  po.variance_target = m.pca_variance;
  po.components = m.pca_components;
  out.pca = ml::fit_pca(comm, out.transformed, po);
  out.scores = out.pca.project(out.transformed);
  double explained = 0;
  for (int c = 0; c < out.pca.kept(); ++c) explained += out.pca.explained_ratio[c];
  ctx.log.info("pca: ", out.pca.kept(), " of ", out.pca.dims(), " components, ",
               fixed(100 * explained, 1), "% of variance");
  stage.finish();
  return out;
}

std::vector<std::string> Segments::names() const {
  std::vector<std::string> out;
  for (const auto& s : profiles.segments) out.push_back(s.name);
  return out;
}

Segments find_segments(Context& ctx, const AnalyzeOptions& opts, const UserFeatures& features,
                       const Projection& projection) {
  auto& comm = ctx.comm;
  const auto& log = ctx.log;
  const auto& m = opts.model;
  Stage stage(ctx, "segments", opts.checkpoint);
  ml::SelectionOptions sel = m.selection;
  if (m.k > 0) sel.k_min = sel.k_max = m.k;
  if (features.users < static_cast<std::uint64_t>(std::max(1, sel.k_min)))
    par::agree(comm,
               "only " + std::to_string(features.users) +
                   " users: fewer than k = " + std::to_string(sel.k_min),
               ExitCode::input);
  if (m.k == 0 && features.users < static_cast<std::uint64_t>(sel.k_max))
    par::agree(comm,
               "--k-max " + std::to_string(sel.k_max) + " is more than the " +
                   std::to_string(features.users) +
                   " users: lower --k-max (README, \"Option ranges\")",
               ExitCode::usage);
  sel.progress = [&log](const std::string& line) { log.info(line); };
  Segments out;
  out.selection = stage.memo<ml::KSelection>(
      [&] { return ml::select_k(comm, projection.scores, features.table.users, sel, m.seed); });
  const auto& km = out.selection.model;
  const int k = out.selection.choice.k;
  log.info("k = ", k, ": ", out.selection.choice.reason);
  out.profiles = ml::profile_segments(comm, features.raw, features::feature_names(), km.labels, k);
  const auto rule_texts = m.naming_rules.empty() ? ml::default_naming_rules() : m.naming_rules;
  ml::apply_names(out.profiles, ml::parse_naming_rules(rule_texts));
  out.confidence =
      ml::segment_confidence(projection.scores, km.centroids, km.labels,
                             ml::pooled_variance(km.inertia, km.n_total, projection.scores.cols()));
  for (const auto& s : out.profiles.segments)
    log.info("segment ", s.segment, " '", s.name, "': ", s.users, " users (",
             fixed(100 * s.share, 1), "%), revenue share ", fixed(100 * s.revenue_share, 1), "%");
  stage.finish();
  return out;
}

Propensity fit_propensity(Context& ctx, const AnalyzeOptions& opts, const StoreEvents& store,
                          const UserFeatures& features) {
  const auto& m = opts.model;
  Stage stage(ctx, "propensity", opts.checkpoint);
  Propensity out;
  ml::PropensityOptions po = m.propensity;
  po.seed = m.seed;
  features::FeatureScratch scratch;
  const auto user_features = [&features, &scratch](std::span<const Event> user_events,
                                                   std::uint32_t start, std::uint32_t end,
                                                   std::span<double> row) {
    features::FeatureContext c = features.context;
    c.window_start = start;
    c.window_end = end;
    const auto f = features::compute_user_features(user_events, c, scratch);
    std::copy(f.begin(), f.end(), row.begin());
  };
  out.model = ml::train_propensity(ctx.comm, store.events, features.context.window_start,
                                   features.context.window_end, features::feature_names(), m.log1p,
                                   user_features, po, &out.holdout);
  out.proba = out.model.trained ? out.model.predict(features.raw)
                                : std::vector<double>(features.table.rows(),
                                                      std::numeric_limits<double>::quiet_NaN());
  const auto& p = out.model;
  if (p.trained)
    ctx.log.info("propensity: AUC ", fixed(p.auc, 4), ", log-loss ", fixed(p.logloss, 4), " on ",
                 p.holdout_users, " holdout users (", p.holdout_positives, " buyers); trained on ",
                 p.train_users, " users (", p.train_positives, " buyers in the last ",
                 m.propensity.label_days, " days), ", p.fit.iterations, " Newton iterations");
  else
    ctx.log.warn("propensity: not trained: ", p.skipped, "; proba left empty");
  stage.finish();
  return out;
}

ml::RecommenderResult recommend(Context& ctx, const AnalyzeOptions& opts,
                                const StoreEvents& store) {
  const auto& m = opts.model;
  Stage stage(ctx, "recommend", opts.checkpoint);
  ml::RecommenderResult recs;
  if (m.recommend) {
    ml::RecommenderConfig rc = m.recommender;
    rc.als.vshards = store.vshards;
    rc.als.seed = m.seed;
    rc.holdout.seed = m.seed;
    if (opts.checkpoint) opts.checkpoint->attach_als(rc.als);
    recs = ml::run_recommender(ctx.comm, store.events, rc, &ctx.log);
    if (rc.evaluate) {
      const auto& e = recs.evaluation;
      ctx.log.info("holdout (", e.test_pairs, " pairs): precision@10 ALS ",
                   fixed(e.als.precision_at_10, 4), " vs popularity ",
                   fixed(e.popularity.precision_at_10, 4), "; NDCG@10 ", fixed(e.als.ndcg_at_10, 4),
                   " vs ", fixed(e.popularity.ndcg_at_10, 4));
    }
  }
  stage.finish();
  return recs;
}

namespace {

// ecom.h5, group by group (pipeline/results.hpp).
void write_results_file(Context& ctx, const AnalyzeOptions& opts, const AnalysisResults& r,
                        const std::string& path) {
  auto& comm = ctx.comm;
  const auto& m = opts.model;
  const auto& km = r.segments.selection.model;
  io::h5::write_file(comm, path, [&](h5::File& file) {
    const auto& root = file.root();
    results::save_users(comm, root,
                        {r.features.table, r.projection.transformed, r.projection.scores, km.labels,
                         r.segments.confidence, r.propensity.proba});
    results::save_propensity(comm, root, r.propensity.model, r.propensity.holdout, m.propensity);
    {
      auto model = root.create_group("model");
      results::save_transform(comm, model, r.projection.scaler);
      results::save_scaler(comm, model, r.projection.scaler);
      results::save_pca(comm, model, r.projection.pca);
      results::save_segmentation(
          comm, model,
          {km.centroids, r.segments.names(), km.inertia, r.segments.selection.choice.k,
           r.features.context.window_start, r.features.context.window_end});
    }
    results::save_validation(comm, root, r.segments.selection);
    if (m.recommend) {
      results::save_als(comm, root, r.recommendations, m.recommender);
      results::save_recommendations(comm, root, r.recommendations, m.recommender.holdout);
    }
    results::save_run_attributes(comm, root, ctx.config_text, r.run_time,
                                 par::reduce_timers(comm, ctx.timers));
  });
}

}  // namespace

void write_analysis(Context& ctx, const AnalyzeOptions& opts, const AnalysisResults& r) {
  auto& comm = ctx.comm;
  Stage stage(ctx, "write", opts.checkpoint);
  const std::string& dir = opts.out;
  const auto& km = r.segments.selection.model;
  // customer_segments.csv, rows in pseudonym order (ranks hold contiguous ascending ranges).
  par::write_ordered(comm, dir + "/customer_segments.csv",
                     customer_segment_rows(r.features.table.users, km.labels, r.segments.names(),
                                           r.segments.confidence, r.propensity.proba, r.run_time),
                     kCustomerSegmentsHeader);
  const auto small = [&comm](const std::string& text) {  // held by rank 0
    return comm.rank() == 0 ? std::string_view(text) : std::string_view();
  };
  const std::string profiles = ml::segment_profiles_csv(r.segments.profiles);
  const std::string k_table = ml::k_selection_csv(r.segments.selection.table);
  par::write_ordered(comm, dir + "/segment_profiles.csv", small(profiles));
  par::write_ordered(comm, dir + "/k_selection.csv", small(k_table));
  if (opts.model.recommend)
    par::write_ordered(comm, dir + "/recommendations.csv",
                       recommendation_rows(r.recommendations.recommendations),
                       kRecommendationsHeader);

  // ecom.h5: written under a temporary name, renamed when complete (io::h5::write_file).
  write_results_file(ctx, opts, r, dir + "/ecom.h5");
}

}  // namespace ecom::pipeline
