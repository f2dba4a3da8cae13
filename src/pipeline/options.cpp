// Option groups (options.hpp): each option declared once, with its default, help and range.
#include "ecom/pipeline/options.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <limits>

#include "ecom/core/cli.hpp"
#include "ecom/par/environment.hpp"
#include "ecom/par/exchange.hpp"

namespace ecom::pipeline {

namespace {

std::uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  std::uint64_t bytes = pages > 0 && page > 0
                            ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page)
                            : (std::uint64_t{1} << 32);
  // A container's limit (cgroup v2) counts when it is lower.
  std::ifstream limit("/sys/fs/cgroup/memory.max");
  std::string text;
  if (limit >> text) {
    std::uint64_t v = 0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec == std::errc() && v > 0 && v < bytes) bytes = v;
  }
  return bytes;
}

}  // namespace

std::size_t max_shuffle_buffer_mb() {
  const double mb = static_cast<double>(physical_memory_bytes()) / (1024.0 * 1024.0) *
                    kShuffleMemoryShare / par::ranks_on_this_node();
  return std::max<std::size_t>(1, static_cast<std::size_t>(mb));
}

// ---- ingest -----------------------------------------------------------------------------------

void add_input_options(CLI::App* cmd, std::vector<std::string>& inputs, std::string& key_file,
                       const std::string& key_help) {
  cmd->add_option("--input", inputs, "Input files or glob patterns (.csv or .csv.gz)")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--key-file", key_file, key_help)->required();
}

CLI::Option* add_shuffle_buffer_option(CLI::App* cmd, std::size_t& mb) {
  return ranged(cmd->add_option("--shuffle-buffer-mb", mb,
                                "Per-rank memory for the shuffle's buffers (MiB); at most a "
                                "quarter of the node's memory over its ranks")
                    ->capture_default_str(),
                1, static_cast<double>(max_shuffle_buffer_mb()));
}

void add_ingest_options(CLI::App* cmd, IngestOptions& o, bool store_required,
                        const std::string& store_help) {
  auto* store = cmd->add_option("--store", o.store, store_help);
  if (store_required) store->required();
  cmd->add_option("--quarantine", o.quarantine,
                  "Quarantine CSV of rejected rows (default: the store path with .h5 replaced by "
                  ".quarantine.csv)");
  ranged(cmd->add_option("--vshards", o.vshards,
                         "Virtual shards of a new store (0: the store's own, or 4096)")
             ->capture_default_str(),
         0, 1 << 20);
  add_shuffle_buffer_option(cmd, o.shuffle_buffer_mb);
  ranged(cmd->add_option("--read-chunk-kb", o.read_chunk_kb, "Read / inflate chunk (KiB)")
             ->capture_default_str(),
         1, 1 << 20);
  cmd->add_flag("--truncate-to-minute", o.truncate_to_minute,
                "Truncate event times to the minute (privacy; after exact duplicates are removed)");
  cmd->add_option("--window-start", o.window_start,
                  "Reject events before this UTC time (YYYY-MM-DD[ HH:MM:SS]) as out_of_window");
  cmd->add_option("--window-end", o.window_end,
                  "Reject events at or after this UTC time as out_of_window");
  ranged(cmd->add_option("--max-price", o.max_price,
                         "Price ceiling: rows with a higher price are rejected as bad_price")
             ->default_str("1000000"),
         0, std::numeric_limits<double>::max());
  ranged(cmd->add_option("--lock-timeout", o.lock_timeout_s,
                         "Seconds to wait while another writer holds the store's lock (0: fail "
                         "at once with exit code 5)")
             ->capture_default_str(),
         0, 7 * 86400);
}

// ---- model ------------------------------------------------------------------------------------

namespace {
const std::string kModel = "Model (analyze, run)";

// An option of the model groups: default shown, in the group of the model options.
template <class T>
CLI::Option* model_option(CLI::App* app, const std::string& name, T& value,
                          const std::string& help) {
  return app->add_option(name, value, help)->capture_default_str()->group(kModel);
}
// A model flag with a --no- form; CLI11 captures no default of a flag.
CLI::Option* model_flag(CLI::App* app, const std::string& names, bool& value,
                        const std::string& help) {
  return app->add_flag(names, value, help)->default_str(value ? "true" : "false")->group(kModel);
}
}  // namespace

void add_feature_options(CLI::App* app, ModelOptions& m) {
  model_option(app, "--seed", m.seed, "Seed of every random decision (counter-based)");
  ranged(model_option(app, "--night-start-hour", m.features.night_start_hour,
                      "Night starts at this hour (UTC + offset)"),
         0, 24);
  ranged(
      model_option(app, "--night-end-hour", m.features.night_end_hour, "Night ends at this hour"),
      0, 24);
  ranged(model_option(app, "--utc-offset-minutes", m.features.utc_offset_minutes,
                      "Local time offset for night and weekend shares"),
         -1440, 1440);
  model_option(app, "--log1p", m.log1p, "Features transformed by log1p before standardising");
  ranged(model_option(app, "--pca-variance", m.pca_variance,
                      "PCA keeps components up to this share of variance"),
         0, 1, true, false);
  ranged(model_option(app, "--pca-components", m.pca_components,
                      "If > 0, PCA keeps exactly this many components"),
         0, 1000);
}

void add_segment_options(CLI::App* app, ModelOptions& m) {
  ranged(model_option(app, "--k", m.k,
                      "Number of segments; 0 = chosen by the k rule over [k-min, k-max] (at most "
                      "the number of users)"),
         0, kMaxSegments);
  auto& s = m.selection;
  ranged(model_option(app, "--k-min", s.k_min, "Smallest k tried"), 1, kMaxSegments);
  ranged(model_option(app, "--k-max", s.k_max, "Largest k tried (at most the number of users)"), 1,
         kMaxSegments);
  model_option(app, "--k-rule", s.rule.method, "Rule that picks k (see docs/SEGMENTS.md)");
  ranged(model_option(app, "--min-stability", s.rule.min_stability,
                      "Bootstrap ARI a k needs to count as stable"),
         -1, 1);
  ranged(model_option(app, "--silhouette-tolerance", s.rule.silhouette_tolerance,
                      "Slack on the silhouette for the gap statistic's k"),
         0, 2);
  ranged(model_option(app, "--silhouette-sample", s.silhouette_sample,
                      "Expected users in the exact-silhouette sample (0: none)"),
         0, 1000000);
  ranged(model_option(app, "--gap-references", s.gap_references,
                      "Reference data sets of the gap statistic (B; 0: no gap statistic)"),
         0, 1000);
  ranged(model_option(app, "--stability-resamples", s.stability_resamples,
                      "Bootstrap subsamples for stability (< 2: no stability)"),
         0, 1000);
  ranged(model_option(app, "--stability-fraction", s.stability_fraction,
                      "Share of users in each subsample"),
         0, 1, true, false);
  ranged(model_option(app, "--kmeans-max-iter", s.kmeans.max_iter, "Lloyd iterations at most"), 1,
         100000);
  at_least(
      model_option(app, "--kmeans-tol", s.kmeans.tol, "Stop when no centroid moves more than this"),
      0);
  ranged(model_option(app, "--kmeans-init-rounds", s.kmeans.init_rounds, "k-means|| rounds"), 1,
         100);
  ranged(model_option(app, "--kmeans-oversampling", s.kmeans.oversampling,
                      "k-means|| candidates per round, times k"),
         0, 100, true, false);
  ranged(model_option(app, "--kmeans-n-init", s.kmeans.n_init,
                      "Initialisations; the lowest inertia is kept"),
         1, 1000);
  app->add_option("--segment-rule", m.naming_rules,
                  "Ordered naming rules 'name: quantity op value [and ...]' (empty: the defaults)")
      ->group(kModel);
}

void add_als_options(CLI::App* app, ModelOptions& m) {
  auto& r = m.recommender;
  model_flag(app, "--recommend,!--no-recommend", m.recommend,
             "Train ALS and write recommendations");
  const double w = 1e6;  // weights and the cap: finite, >= 0
  ranged(model_option(app, "--weight-view", r.weights.view, "Interaction weight of a view"), 0, w);
  ranged(model_option(app, "--weight-cart", r.weights.cart, "Interaction weight of a cart"), 0, w);
  ranged(model_option(app, "--weight-remove", r.weights.remove_from_cart,
                      "Interaction weight of a remove_from_cart"),
         0, w);
  ranged(model_option(app, "--weight-purchase", r.weights.purchase,
                      "Interaction weight of a purchase"),
         0, w);
  ranged(model_option(app, "--weight-cap", r.weights.cap,
                      "Cap on the summed weights of a (user, product)"),
         0, w, true, false);
  ranged(model_option(app, "--als-factors", r.als.factors, "ALS latent factors"), 1, kMaxFactors);
  ranged(model_option(app, "--als-regularization", r.als.regularization, "ALS lambda"), 0, 1e6);
  ranged(model_option(app, "--als-alpha", r.als.alpha, "Confidence c = 1 + alpha * r"), 0, 1e6);
  ranged(model_option(app, "--als-iterations", r.als.iterations, "ALS sweeps"), 1, 1000);
  ranged(model_option(app, "--als-cg-steps", r.als.cg_steps, "Conjugate-gradient steps per solve"),
         1, 100);
  app->add_flag("--als-cholesky", r.als.cholesky, "Exact Cholesky solves instead of CG")
      ->capture_default_str()
      ->group(kModel);
  app->add_option_function<std::string>(
         "--als-precision",
         [&r](const std::string& v) { r.als.precision = ml::parse_factor_precision(v); },
         "Factor precision: double (default, reproducible) or float")
      ->check(CLI::IsMember({"double", "float"}))
      ->default_str("double")
      ->group(kModel);
  app->add_option_function<std::string>(
         "--exchange", [&r](const std::string& v) { r.als.exchange = par::parse_exchange_kind(v); },
         "How ALS factor rows travel: alltoallv (default) or sparse (same results)")
      ->check(CLI::IsMember({"alltoallv", "sparse"}))
      ->default_str("alltoallv")
      ->group(kModel);
}

void add_evaluation_options(CLI::App* app, ModelOptions& m) {
  auto& r = m.recommender;
  ranged(model_option(app, "--holdout-fraction", r.holdout.test_fraction,
                      "Keyed share of interactions held out"),
         0, 1, false, true);
  ranged(model_option(app, "--holdout-days", r.holdout.test_days,
                      "If > 0, hold out the last days instead"),
         0, 36500);
  model_flag(app, "--evaluate,!--no-evaluate", r.evaluate,
             "Evaluate ALS and popularity on the holdout");
  model_flag(app, "--als-refit,!--no-als-refit", r.refit_on_all,
             "Recommend from ALS refitted on all pairs (default), not from the evaluated model");
  ranged(model_option(app, "--auc-users", r.evaluation.auc_users,
                      "AUC over a keyed sample of about this many evaluated users (0: all)"),
         0, 1e12);
}

void add_recommend_options(CLI::App* app, ModelOptions& m) {
  auto& r = m.recommender;
  ranged(model_option(app, "--top-n", r.recommend.top_n, "Recommendations per user"), 1, kMaxTopN);
  app->add_option_function<std::string>(
         "--exclude", [&r](const std::string& v) { r.recommend.exclude = ml::parse_exclusion(v); },
         "Products never recommended to a user: none, purchased (default) or interacted")
      ->check(CLI::IsMember({"none", "purchased", "interacted"}))
      ->default_str("purchased")
      ->group(kModel);
}

void add_propensity_options(CLI::App* app, ModelOptions& m) {
  auto& pr = m.propensity;
  ranged(model_option(app, "--propensity-days", pr.label_days,
                      "Propensity label period: a purchase in the last D days of the window"),
         1, 3650);
  ranged(model_option(app, "--propensity-holdout", pr.holdout_fraction,
                      "Keyed share of users held out for AUC and log-loss"),
         0, 1, false, true);
  ranged(model_option(app, "--propensity-l2", pr.l2,
                      "L2 penalty of the propensity model (scikit-learn C = 1/l2)"),
         0, 1e12);
  ranged(model_option(app, "--propensity-max-iter", pr.max_iter, "Newton iterations at most"), 1,
         10000);
}

void add_model_options(CLI::App& app, ModelOptions& m) {
  add_feature_options(&app, m);
  add_segment_options(&app, m);
  add_als_options(&app, m);
  add_evaluation_options(&app, m);
  add_recommend_options(&app, m);
  add_propensity_options(&app, m);
}

void check_model_options(const ModelOptions& m) {
  const auto& s = m.selection;
  if (m.k == 0 && s.k_min > s.k_max)
    throw CLI::ValidationError("--k-min " + std::to_string(s.k_min) + " is more than --k-max " +
                               std::to_string(s.k_max));
}

// ---- output and checkpoint --------------------------------------------------------------------

void add_output_options(CLI::App* cmd, std::string& out, std::string& run_time,
                        const std::string& out_help, const std::string& run_time_help) {
  cmd->add_option("--out", out, out_help)->required();
  cmd->add_option("--run-time", run_time, run_time_help);
}

void add_checkpoint_options(CLI::App* cmd, CheckpointOptions& c) {
  cmd->add_flag(
      "--resume", c.resume,
      "Continue a stopped or killed run from its last completed step (RUNDIR/checkpoint.json)");
  cmd->add_flag("--force", c.force,
                "Delete the outputs of an earlier run in RUNDIR first (without it, such a "
                "directory is refused unless --resume; not with --resume)");
  ranged(cmd->add_option("--checkpoint-als-every", c.checkpoint_als_every,
                         "Save the ALS factors every N sweeps (0: only at the end of a training "
                         "or on a stop)")
             ->capture_default_str(),
         0, 1000);
}

void check_checkpoint_options(const CheckpointOptions& c) {
  if (c.resume && c.force)
    throw CLI::ValidationError("--resume continues the earlier run, --force deletes it: not both");
}

}  // namespace ecom::pipeline
