#include "ecom/ml/recommend.hpp"

// Names and parsing, the fold-in of new users against a catalogue, and the recommender run
// (holdout training and evaluation, refit, catalogue, top-N). Top-N: recommend_topn.cpp;
// evaluation: recommend_eval.cpp; catalogue: recommend_catalogue.cpp; scoring kernels:
// recommend_kernels.cpp.
#include <algorithm>
#include <sstream>

#include "ecom/core/error.hpp"
#include "recommend_detail.hpp"

namespace ecom::ml {

const char* name_of(RecSource s) {
  switch (s) {
    case RecSource::als:
      return "als";
    case RecSource::category_popular:
      return "category_popular";
    case RecSource::popular:
      return "popular";
  }
  return "?";
}

Exclusion parse_exclusion(const std::string& s) {
  if (s == "none") return Exclusion::none;
  if (s == "purchased") return Exclusion::purchased;
  if (s == "interacted") return Exclusion::interacted;
  throw UserError("als: exclude must be none, purchased or interacted, not \"" + s + "\"");
}

const char* name_of(Exclusion e) {
  switch (e) {
    case Exclusion::none:
      return "none";
    case Exclusion::purchased:
      return "purchased";
    case Exclusion::interacted:
      return "interacted";
  }
  return "?";
}

std::size_t Catalogue::index_of(std::uint64_t product) const {
  auto it = std::lower_bound(products.begin(), products.end(), product);
  if (it == products.end() || *it != product) return products.size();
  return static_cast<std::size_t>(it - products.begin());
}

double als_score(int k, const double* x, const double* y) {
  double s = 0.0;
  for (int j = 0; j < k; ++j) s += x[j] * y[j];
  return s;
}
float als_score(int k, const float* x, const float* y) {
  float s = 0.0F;
  for (int j = 0; j < k; ++j) s += x[j] * y[j];
  return s;
}

AlsModel fold_in_users(const Catalogue& cat, std::span<const std::uint64_t> users,
                       std::span<const Interaction> interactions, double alpha,
                       double regularization) {
  const int k = cat.factors;
  const auto kk = static_cast<std::size_t>(k);
  AlsModel m;
  m.factors = k;
  m.precision = FactorPrecision::float64;
  m.users.assign(users.begin(), users.end());
  m.user_train_count.assign(users.size(), 0);
  m.user_factors.assign(users.size() * kk, 0.0);
  if (k < 1 || cat.item_factors.size() != cat.size() * kk)
    throw Error("fold-in: the catalogue's item factors do not match its products");
  // Y^T Y + lambda I, rows in product order (upper triangle, mirrored).
  std::vector<double> gram(kk * kk, 0.0);
  for (std::size_t i = 0; i < cat.size(); ++i) {
    const double* y = cat.item_factors.data() + i * kk;
    for (std::size_t a = 0; a < kk; ++a)
      for (std::size_t b = a; b < kk; ++b) gram[a * kk + b] += y[a] * y[b];
  }
  for (std::size_t a = 0; a < kk; ++a) {
    gram[a * kk + a] += regularization;
    for (std::size_t b = a + 1; b < kk; ++b) gram[b * kk + a] = gram[a * kk + b];
  }
  const auto off = detail::pair_offsets(users, interactions);
  std::vector<std::uint32_t> idx;
  std::vector<double> conf, scratch(als_scratch_size(k));
  for (std::size_t u = 0; u < users.size(); ++u) {
    idx.clear();
    conf.clear();
    for (std::size_t t = off[u]; t < off[u + 1]; ++t) {
      const Interaction& it = interactions[t];
      if (!(it.strength > 0.0)) continue;
      const std::size_t i = cat.index_of(it.product);
      if (i >= cat.size()) continue;
      idx.push_back(static_cast<std::uint32_t>(i));
      conf.push_back(1.0 + alpha * it.strength);
    }
    if (idx.empty()) continue;
    m.user_train_count[u] = static_cast<std::uint32_t>(idx.size());
    kernel::cholesky_solve(k, gram.data(), cat.item_factors.data(), idx.data(), conf.data(),
                           idx.size(), m.user_factors.data() + u * kk, scratch.data());
  }
  return m;
}

namespace {
std::string metrics_line(const char* name, const RankingMetrics& m) {
  std::ostringstream os;
  os << name << ": precision@" << m.k << " " << fixed(m.precision_at_10, 4) << ", recall "
     << fixed(m.recall_at_10, 4) << ", MAP " << fixed(m.map_at_10, 4) << ", NDCG "
     << fixed(m.ndcg_at_10, 4) << ", AUC " << fixed(m.auc, 4) << ", coverage "
     << fixed(m.coverage, 4) << " (" << m.users << " users)";
  return os.str();
}
}  // namespace

RecommenderResult run_recommender(par::Comm& comm, std::span<const Event> events,
                                  const RecommenderConfig& config, const Logger* log) {
  RecommenderResult result;
  const std::vector<std::uint64_t> users = distinct_users(events);
  std::vector<Interaction> pairs = build_interactions(events, config.weights);
  AlsModel eval_model;
  bool have_eval_model = false;
  if (config.evaluate) {
    split_holdout(comm, pairs, config.holdout);
    for (const Interaction& it : pairs)
      if (it.is_holdout()) {
        result.holdout_users.push_back(it.user);
        result.holdout_products.push_back(it.product);
      }
    eval_model = train_als(comm, users, pairs, config.als, log);
    const Catalogue cat = gather_catalogue(comm, eval_model, pairs, config.als.vshards,
                                           config.als.exchange_budget_bytes);
    EvaluationConfig ec = config.evaluation;
    ec.seed = config.holdout.seed;
    result.evaluation = evaluate_holdout(comm, eval_model, cat, pairs, ec);
    if (log) {
      log->info("als: holdout ", result.evaluation.test_pairs, " test pairs, evaluated in ",
                fixed(result.evaluation.seconds, 2), " s");
      log->info(metrics_line("als: ALS       ", result.evaluation.als));
      log->info(metrics_line("als: popularity", result.evaluation.popularity));
    }
    have_eval_model = true;
  }
  if (config.refit_on_all || !have_eval_model) {
    for (Interaction& it : pairs) it.is_test = 0;
    result.model = train_als(comm, users, pairs, config.als, log);
  } else {
    result.model = std::move(eval_model);
  }
  result.catalogue = gather_catalogue(comm, result.model, pairs, config.als.vshards,
                                      config.als.exchange_budget_bytes);
  result.recommendations =
      recommend_top_n(comm, result.model, result.catalogue, pairs, config.recommend, &result.topn);
  if (log)
    log->info("als: top-", config.recommend.top_n, " for all users in ",
              fixed(result.topn.seconds, 2), " s: ", result.topn.users[0], " als, ",
              result.topn.users[1], " category_popular, ", result.topn.users[2],
              " popular users; coverage ", fixed(result.topn.coverage, 4));
  return result;
}

}  // namespace ecom::ml
