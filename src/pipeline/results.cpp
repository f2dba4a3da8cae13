// The results-file module: one save and one load per group (include/ecom/pipeline/results.hpp).
#include "ecom/pipeline/results.hpp"

#include <algorithm>
#include <limits>

#include "ecom/core/error.hpp"

namespace ecom::pipeline::results {

namespace {

template <class T>
T attr_or(const h5::Attributes& a, const std::string& name, T fallback) {
  return a.has(name) ? a.get<T>(name) : fallback;
}

std::span<const double> values_of(const Eigen::VectorXd& v) {
  return {v.data(), static_cast<std::size_t>(v.size())};
}
std::span<const double> values_of(const ml::RowMatrix& m) {
  return {m.data(), static_cast<std::size_t>(m.size())};
}

// A row-major matrix dataset (rows x cols) read whole.
ml::RowMatrix read_matrix(const h5::Group& root, const std::string& name) {
  const auto ds = root.open_dataset(name);
  const auto values = h5::read_all<double>(ds);
  const auto rows = static_cast<Eigen::Index>(ds.rows()),
             cols = static_cast<Eigen::Index>(ds.cols());
  if (static_cast<Eigen::Index>(values.size()) < rows * cols)
    throw Error("/" + name + " holds fewer values than its shape");
  return Eigen::Map<const ml::RowMatrix>(values.data(), rows, cols);
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

// The columns of the k table, in the order of KScore.
constexpr const char* kValidationColumns[] = {
    "k",   "inertia", "silhouette",    "simplified_silhouette",
    "gap", "gap_sd",  "stability_ari", "stability_pairs"};

std::vector<double> validation_column(const std::vector<ml::KScore>& table, std::size_t c) {
  std::vector<double> out;
  for (const auto& r : table) {
    const double v[] = {static_cast<double>(r.k),
                        r.inertia,
                        r.silhouette,
                        r.simplified_silhouette,
                        r.gap,
                        r.gap_sd,
                        r.stability_ari,
                        r.stability_pairs};
    out.push_back(v[c]);
  }
  return out;
}

void set_validation_column(std::vector<ml::KScore>& table, std::size_t c,
                           const std::vector<double>& values) {
  table.resize(std::max(table.size(), values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) {
    auto& r = table[i];
    double* fields[] = {nullptr, &r.inertia, &r.silhouette,    &r.simplified_silhouette,
                        &r.gap,  &r.gap_sd,  &r.stability_ari, &r.stability_pairs};
    if (c == 0)
      r.k = static_cast<int>(values[i]);
    else
      *fields[c] = values[i];
  }
}

void set_metrics(const h5::Group& g, const ml::RankingMetrics& m) {
  const auto a = g.attrs();
  a.set("precision_at_10", m.precision_at_10);
  a.set("recall_at_10", m.recall_at_10);
  a.set("map_at_10", m.map_at_10);
  a.set("ndcg_at_10", m.ndcg_at_10);
  a.set("auc", m.auc);
  a.set("coverage", m.coverage);
}

ml::RankingMetrics get_metrics(const h5::Group& g) {
  const auto a = g.attrs();
  ml::RankingMetrics m;
  m.precision_at_10 = a.get<double>("precision_at_10");
  m.recall_at_10 = a.get<double>("recall_at_10");
  m.map_at_10 = a.get<double>("map_at_10");
  m.ndcg_at_10 = a.get<double>("ndcg_at_10");
  m.auc = a.get<double>("auc");
  m.coverage = a.get<double>("coverage");
  return m;
}

}  // namespace

// ---- /users -------------------------------------------------------------------------------

void save_users(par::Comm& comm, const h5::Group& root, const UserColumns& u) {
  const auto names = features::feature_names();
  const auto d = features::FeatureTable::cols();
  auto users = root.create_group("users");
  h5::write_rows<std::uint64_t>(comm, users, "pseudonym", u.table.users);
  h5::write_rows<double>(comm, users, "features", u.table.values, d, true);
  users.open_dataset("features").attrs().set("names", names);
  h5::write_rows<double>(comm, users, "transformed", values_of(u.transformed), d, true);
  users.open_dataset("transformed").attrs().set("names", names);
  const auto kept = static_cast<std::size_t>(std::max<Eigen::Index>(1, u.pca_scores.cols()));
  h5::write_rows<double>(comm, users, "pca_scores", values_of(u.pca_scores), kept, true);
  h5::write_rows<std::int32_t>(comm, users, "segment", u.segment);
  h5::write_rows<double>(comm, users, "confidence", u.confidence);
  h5::write_rows<double>(comm, users, "propensity", u.propensity);
}

UserRows load_users(const h5::Group& root) {
  UserRows u;
  u.pseudonym = h5::read_all<std::uint64_t>(root, "users/pseudonym");
  u.segment = h5::read_all<std::int32_t>(root, "users/segment");
  u.confidence = h5::read_all<double>(root, "users/confidence");
  u.propensity = h5::read_all<double>(root, "users/propensity");
  return u;
}

std::uint64_t user_count(const h5::Group& root) {
  return root.open_dataset("users/pseudonym").rows();
}

// ---- /model/transform, /model/scaler --------------------------------------------------------

void save_transform(par::Comm& comm, const h5::Group& model, const ml::Scaler& scaler) {
  auto tr = model.create_group("transform");
  h5::write_strings_replicated(comm, tr, "names", scaler.names);
  h5::write_replicated<std::uint8_t>(comm, tr, "log1p", scaler.log1p);
}

void load_transform(const h5::Group& root, ml::Scaler& scaler) {
  scaler.names = h5::read_strings(root, "model/transform/names");
  scaler.log1p = h5::read_all<std::uint8_t>(root, "model/transform/log1p");
}

void save_scaler(par::Comm& comm, const h5::Group& model, const ml::Scaler& scaler) {
  // z = (g(x) - mean) / scale, g the signed log1p where flagged (docs/FEATURES.md).
  auto sc = model.create_group("scaler");
  h5::write_replicated<double>(comm, sc, "mean", scaler.mean);
  h5::write_replicated<double>(comm, sc, "scale", scaler.scale);
  h5::write_replicated<std::uint8_t>(comm, sc, "constant", scaler.constant);
  sc.attrs().set("n", scaler.n);
}

void load_scaler(const h5::Group& root, ml::Scaler& scaler) {
  // The scaler moved from /model/transform to /model/scaler; read either.
  const std::string sc = root.exists("model/scaler/mean") ? "model/scaler" : "model/transform";
  scaler.mean = h5::read_all<double>(root, sc + "/mean");
  scaler.scale = h5::read_all<double>(root, sc + "/scale");
  scaler.constant = root.exists(sc + "/constant")
                        ? h5::read_all<std::uint8_t>(root, sc + "/constant")
                        : std::vector<std::uint8_t>(scaler.mean.size(), 0);
  if (root.exists("model/scaler/mean"))
    scaler.n = root.open_group("model/scaler").attrs().get<std::uint64_t>("n");
}

// ---- /model/pca ----------------------------------------------------------------------------

void save_pca(par::Comm& comm, const h5::Group& model, const ml::Pca& pca) {
  auto pg = model.create_group("pca");
  h5::write_replicated<double>(comm, pg, "mean", values_of(pca.mean));
  h5::write_replicated<double>(comm, pg, "loadings", values_of(pca.loadings),
                               static_cast<std::size_t>(std::max(1, pca.kept())), true);
  h5::write_replicated<double>(comm, pg, "eigenvalues", values_of(pca.eigenvalues));
  h5::write_replicated<double>(comm, pg, "explained_ratio", values_of(pca.explained_ratio));
}

ml::Pca load_pca(const h5::Group& root) {
  ml::Pca pca;
  const auto mean = h5::read_all<double>(root, "model/pca/mean");
  pca.mean = Eigen::Map<const Eigen::VectorXd>(mean.data(), static_cast<Eigen::Index>(mean.size()));
  pca.loadings = read_matrix(root, "model/pca/loadings");
  for (auto [name, target] : {std::pair{"model/pca/eigenvalues", &pca.eigenvalues},
                              std::pair{"model/pca/explained_ratio", &pca.explained_ratio}})
    if (root.exists(name)) {
      const auto v = h5::read_all<double>(root, name);
      *target = Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
    }
  return pca;
}

// ---- /model: centroids, names, attributes ----------------------------------------------------

void save_segmentation(par::Comm& comm, const h5::Group& model, const Segmentation& s) {
  h5::write_replicated<double>(
      comm, model, "centroids", values_of(s.centroids),
      static_cast<std::size_t>(std::max<Eigen::Index>(1, s.centroids.cols())), true);
  model.attrs().set("inertia", s.inertia);
  model.attrs().set("k", s.k);
  model.attrs().set("window_start", static_cast<std::uint64_t>(s.window_start));
  model.attrs().set("window_end", static_cast<std::uint64_t>(s.window_end));
  h5::write_strings_replicated(comm, model, "segment_names", s.names);
}

Segmentation load_segmentation(const h5::Group& root) {
  Segmentation s;
  s.centroids = read_matrix(root, "model/centroids");
  s.names = h5::read_strings(root, "model/segment_names");
  const auto group = root.open_group("model");  // alive while `a` is used
  const auto a = group.attrs();
  s.inertia = a.get<double>("inertia");
  s.k = attr_or<int>(a, "k", static_cast<int>(s.centroids.rows()));
  s.window_start = static_cast<std::uint32_t>(a.get<std::uint64_t>("window_start"));
  s.window_end = static_cast<std::uint32_t>(a.get<std::uint64_t>("window_end"));
  return s;
}

// ---- /validation ---------------------------------------------------------------------------

void save_validation(par::Comm& comm, const h5::Group& root, const ml::KSelection& selection) {
  auto val = root.create_group("validation");
  for (std::size_t c = 0; c < std::size(kValidationColumns); ++c)
    h5::write_replicated<double>(comm, val, kValidationColumns[c],
                                 validation_column(selection.table, c));
  val.attrs().set("chosen_k", selection.choice.k);
  val.attrs().set("reason", selection.choice.reason);
}

ml::KSelection load_validation(const h5::Group& root) {
  ml::KSelection s;
  for (std::size_t c = 0; c < std::size(kValidationColumns); ++c)
    set_validation_column(
        s.table, c, h5::read_all<double>(root, std::string("validation/") + kValidationColumns[c]));
  const auto group = root.open_group("validation");  // alive while `a` is used
  const auto a = group.attrs();
  s.choice.k = a.get<int>("chosen_k");
  s.choice.reason = a.get_string("reason");
  return s;
}

// ---- /propensity ---------------------------------------------------------------------------

void save_propensity(par::Comm& comm, const h5::Group& root, const ml::PropensityModel& p,
                     const ml::PropensityHoldout& holdout, const ml::PropensityOptions& options) {
  auto pg = root.create_group("propensity");
  const auto a = pg.attrs();
  a.set("trained", static_cast<std::int32_t>(p.trained));
  a.set("skipped", p.skipped);
  a.set("label_days", options.label_days);
  a.set("cutoff", static_cast<std::uint64_t>(p.cutoff));
  a.set("auc", p.auc);
  a.set("logloss", p.logloss);
  a.set("train_auc", p.train_auc);
  a.set("l2", options.l2);
  a.set("iterations", p.fit.iterations);
  a.set("train_users", p.train_users);
  a.set("train_positives", p.train_positives);
  a.set("holdout_users", p.holdout_users);
  a.set("holdout_positives", p.holdout_positives);
  h5::write_replicated<double>(comm, pg, "coef", p.fit.coef);
  h5::write_strings_replicated(comm, pg, "names", p.scaler.names);
  h5::write_replicated<double>(comm, pg, "scaler_mean", p.scaler.mean);
  h5::write_replicated<double>(comm, pg, "scaler_scale", p.scaler.scale);
  h5::write_replicated<std::uint8_t>(comm, pg, "scaler_log1p", p.scaler.log1p);
  h5::write_rows<std::uint64_t>(comm, pg, "holdout_user", holdout.users);
  h5::write_rows<double>(comm, pg, "holdout_proba", holdout.proba);
  h5::write_rows<std::uint8_t>(comm, pg, "holdout_label", holdout.label);
}

ml::PropensityModel load_propensity(const h5::Group& root) {
  ml::PropensityModel p;
  if (!root.exists("propensity/coef")) return p;
  const auto group = root.open_group("propensity");  // alive while `a` is used
  const auto a = group.attrs();
  p.trained = a.get<std::int32_t>("trained") != 0;
  if (!p.trained) return p;
  p.skipped = a.has("skipped") ? a.get_string("skipped") : std::string();
  p.cutoff = static_cast<std::uint32_t>(attr_or<std::uint64_t>(a, "cutoff", 0));
  p.auc = attr_or<double>(a, "auc", 0);
  p.logloss = attr_or<double>(a, "logloss", 0);
  p.train_auc = attr_or<double>(a, "train_auc", 0);
  p.fit.iterations = attr_or<int>(a, "iterations", 0);
  p.train_users = attr_or<std::uint64_t>(a, "train_users", 0);
  p.train_positives = attr_or<std::uint64_t>(a, "train_positives", 0);
  p.holdout_users = attr_or<std::uint64_t>(a, "holdout_users", 0);
  p.holdout_positives = attr_or<std::uint64_t>(a, "holdout_positives", 0);
  p.fit.coef = h5::read_all<double>(root, "propensity/coef");
  p.scaler.names = h5::read_strings(root, "propensity/names");
  p.scaler.log1p = h5::read_all<std::uint8_t>(root, "propensity/scaler_log1p");
  p.scaler.mean = h5::read_all<double>(root, "propensity/scaler_mean");
  p.scaler.scale = h5::read_all<double>(root, "propensity/scaler_scale");
  p.scaler.constant.assign(p.scaler.names.size(), 0);
  return p;
}

// ---- /als ----------------------------------------------------------------------------------

void save_als(par::Comm& comm, const h5::Group& root, const ml::RecommenderResult& recs,
              const ml::RecommenderConfig& rcfg) {
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
  // The settings `ecom score` folds new users in with.
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

std::optional<SavedAls> load_als(const h5::Group& root) {
  if (!root.exists("als/item_factors")) return std::nullopt;
  SavedAls out;
  auto& cat = out.catalogue;
  cat.products = h5::read_all<std::uint64_t>(root, "als/item_ids");
  const auto fd = root.open_dataset("als/item_factors");
  cat.item_factors = h5::read_all<double>(fd);
  cat.factors = static_cast<int>(fd.cols());
  cat.popularity = h5::read_all<double>(root, "als/item_popularity");
  cat.category = h5::read_all<std::uint64_t>(root, "als/item_category");
  // The run's settings (defaults for older runs that did not record them).
  const auto group = root.open_group("als");  // alive while `a` is used
  const auto a = group.attrs();
  auto& s = out.settings;
  s.alpha = attr_or<double>(a, "alpha", s.alpha);
  s.regularization = attr_or<double>(a, "regularization", s.regularization);
  s.weights.view = attr_or<double>(a, "weight_view", s.weights.view);
  s.weights.cart = attr_or<double>(a, "weight_cart", s.weights.cart);
  s.weights.remove_from_cart =
      attr_or<double>(a, "weight_remove_from_cart", s.weights.remove_from_cart);
  s.weights.purchase = attr_or<double>(a, "weight_purchase", s.weights.purchase);
  s.weights.cap = attr_or<double>(a, "weight_cap", s.weights.cap);
  s.top_n = attr_or<std::int32_t>(a, "top_n", s.top_n);
  s.fallback_categories = attr_or<std::int32_t>(a, "fallback_categories", s.fallback_categories);
  if (a.has("exclude")) s.exclude = ml::parse_exclusion(a.get_string("exclude"));
  return out;
}

// ---- /recs ---------------------------------------------------------------------------------

void save_recommendations(par::Comm& comm, const h5::Group& root, const ml::RecommenderResult& recs,
                          const ml::HoldoutConfig& holdout) {
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
  ev.attrs().set("test_fraction", holdout.test_fraction);
  ev.attrs().set("test_days", holdout.test_days);
  set_metrics(ev.create_group("als"), e.als);
  set_metrics(ev.create_group("popularity"), e.popularity);
}

SavedRecommendations load_recommendations(const h5::Group& root) {
  SavedRecommendations out;
  const auto user = h5::read_all<std::uint64_t>(root, "recs/user");
  const auto rank = h5::read_all<std::uint32_t>(root, "recs/rank");
  const auto product = h5::read_all<std::uint64_t>(root, "recs/product");
  const auto score = h5::read_all<double>(root, "recs/score");
  const auto source = h5::read_all<std::uint8_t>(root, "recs/source");
  if (rank.size() != user.size() || product.size() != user.size() || score.size() != user.size() ||
      source.size() != user.size())
    throw Error("/recs: columns of different lengths");
  out.rows.resize(user.size());
  for (std::size_t i = 0; i < user.size(); ++i) {
    auto& r = out.rows[i];
    r.user = user[i];
    r.rank = rank[i];
    r.product = product[i];
    r.score = score[i];
    r.source = static_cast<ml::RecSource>(source[i]);
  }
  out.evaluation.test_pairs =
      root.open_group("recs/evaluation").attrs().get<std::uint64_t>("test_pairs");
  out.evaluation.als = get_metrics(root.open_group("recs/evaluation/als"));
  out.evaluation.popularity = get_metrics(root.open_group("recs/evaluation/popularity"));
  return out;
}

// ---- root attributes -----------------------------------------------------------------------

void save_run_attributes(par::Comm& comm, const h5::Group& root, const std::string& config_text,
                         const std::string& run_time, const std::vector<par::StageStat>& stages) {
  root.attrs().set("config", config_text);
  root.attrs().set("version", std::string(ECOM_VERSION));
  root.attrs().set("git_revision", std::string(ECOM_GIT_REVISION));
  root.attrs().set("ranks", comm.size());
  root.attrs().set("run_time", run_time);
  // Stage timings (seconds over ranks) of the stages completed before this write; run.json has
  // them all. The only root attributes besides `ranks` that differ between runs.
  std::vector<std::string> stage_names;
  std::vector<double> stage_min, stage_avg, stage_max;
  for (const auto& st : stages) {
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

// ---- checkpoint state ----------------------------------------------------------------------

void save_feature_state(par::Comm& comm, const h5::Group& root,
                        const features::FeatureTable& table) {
  put_rows<std::uint64_t>(comm, root, "users", table.users, 1);
  put_rows<double>(comm, root, "values", table.values, features::FeatureTable::cols());
}

features::FeatureTable load_feature_state(par::Comm& comm, const h5::Group& root) {
  features::FeatureTable t;
  t.users = get_rows<std::uint64_t>(comm, root, "users");
  t.values = get_rows<double>(comm, root, "values");
  return t;
}

// The k table, one row per k, every figure as a double (NaN where undefined).
constexpr std::size_t kStateColumns = 10;

void save_selection_state(par::Comm& comm, const h5::Group& root, const ml::KSelection& s) {
  std::vector<double> table;
  for (const auto& r : s.table)
    for (double v : {static_cast<double>(r.k), r.inertia, r.silhouette, r.simplified_silhouette,
                     r.gap, r.gap_sd, r.stability_ari, r.stability_pairs,
                     static_cast<double>(r.silhouette_sample), static_cast<double>(r.iterations)})
      table.push_back(v);
  h5::write_replicated<double>(comm, root, "k_table", table, kStateColumns, true);
  const auto a = root.attrs();
  a.set("k", s.choice.k);
  a.set("reason", s.choice.reason);
  a.set("gap_k", s.choice.gap_k);
  a.set("silhouette_k", s.choice.silhouette_k);
  const auto& m = s.model;
  const auto cols = static_cast<std::size_t>(std::max<Eigen::Index>(1, m.centroids.cols()));
  a.set("centroid_rows", static_cast<std::int64_t>(m.centroids.rows()));
  a.set("centroid_cols", static_cast<std::int64_t>(m.centroids.cols()));
  h5::write_replicated<double>(comm, root, "centroids", values_of(m.centroids), cols, true);
  h5::write_replicated<std::uint64_t>(comm, root, "sizes", m.sizes);
  put_rows<std::int32_t>(comm, root, "labels", m.labels, 1);
  put_rows<double>(comm, root, "dist2", m.dist2, 1);
  a.set("inertia", m.inertia);
  a.set("n_total", m.n_total);
  a.set("iterations", m.iterations);
  a.set("converged", static_cast<std::int32_t>(m.converged));
  a.set("reseeded", m.reseeded);
  a.set("best_init", m.best_init);
  a.set("candidates", m.candidates);
  a.set("init_seconds", m.init_seconds);
  a.set("lloyd_seconds", m.lloyd_seconds);
}

ml::KSelection load_selection_state(par::Comm& comm, const h5::Group& root) {
  const auto a = root.attrs();
  ml::KSelection out;
  const auto table = h5::read_all<double>(root, "k_table");
  for (std::size_t i = 0; i + kStateColumns <= table.size(); i += kStateColumns) {
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
    throw Error("checkpoint: centroids are truncated");
  std::copy_n(centroids.begin(), m.centroids.size(), m.centroids.data());
  m.sizes = h5::read_all<std::uint64_t>(root, "sizes");
  m.labels = get_rows<std::int32_t>(comm, root, "labels");
  m.dist2 = get_rows<double>(comm, root, "dist2");
  m.inertia = a.get<double>("inertia");
  m.n_total = a.get<std::uint64_t>("n_total");
  m.iterations = a.get<int>("iterations");
  m.converged = a.get<std::int32_t>("converged") != 0;
  m.reseeded = a.get<int>("reseeded");
  m.best_init = a.get<int>("best_init");
  m.candidates = a.get<int>("candidates");
  m.init_seconds = a.get<double>("init_seconds");
  m.lloyd_seconds = a.get<double>("lloyd_seconds");
  return out;
}

void save_als_state(par::Comm& comm, const h5::Group& root, const ml::AlsState& state) {
  root.attrs().set("iteration", state.iteration);
  h5::write_replicated<double>(comm, root, "loss", state.loss);
  put_rows<double>(comm, root, "user_factors", state.user_factors, 1);
  put_rows<double>(comm, root, "item_factors", state.item_factors, 1);
}

ml::AlsState load_als_state(par::Comm& comm, const h5::Group& root) {
  ml::AlsState s;
  s.iteration = root.attrs().get<int>("iteration");
  s.loss = h5::read_all<double>(root, "loss");
  s.user_factors = get_rows<double>(comm, root, "user_factors");
  s.item_factors = get_rows<double>(comm, root, "item_factors");
  return s;
}

}  // namespace ecom::pipeline::results
