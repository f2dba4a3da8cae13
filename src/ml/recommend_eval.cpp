// Holdout evaluation: precision/recall/MAP/NDCG at k and AUC of the ALS and of the popularity
// baseline, on the users with both training and holdout pairs; combined exactly across ranks.
#include <algorithm>
#include <chrono>
#include <vector>

#include "ecom/ml/recommend.hpp"
#include "ecom/par/random.hpp"
#include "recommend_detail.hpp"

namespace ecom::ml {
namespace {

using namespace detail;

struct EvalUser {
  std::size_t user;                     // index into model.users
  std::vector<std::uint32_t> train;     // catalogue indices, sorted
  std::vector<std::uint32_t> test;      // catalogue indices, sorted
  std::vector<std::uint64_t> relevant;  // test products, sorted
  bool auc = false;                     // in the AUC sample
};

bool in_auc_sample(std::uint64_t seed, std::uint64_t user, double share) {
  return par::uniform(seed, par::Purpose::split, user, 0xffffffffU) < share;
}

// AUC counts of one user given the scores of its positives, training items and the counts of
// items scoring above / equal to each positive over the whole catalogue.
template <class S>
void add_auc(RankingSums& sums, std::size_t n_items, const std::vector<S>& pos_scores,
             const std::vector<S>& train_scores, const std::vector<std::uint64_t>& gt_all,
             const std::vector<std::uint64_t>& eq_all) {
  const std::size_t m = pos_scores.size();
  if (n_items < train_scores.size() + m) return;
  const std::size_t n_neg = n_items - train_scores.size() - m;
  if (n_neg == 0 || m == 0) return;
  std::uint64_t greater = 0, equal = 0;
  for (std::size_t p = 0; p < m; ++p) {
    const S ps = pos_scores[p];
    std::uint64_t g = gt_all[p], e = eq_all[p];
    for (S s : train_scores) {
      g -= s > ps ? 1 : 0;
      e -= s == ps ? 1 : 0;
    }
    for (S s : pos_scores) {
      g -= s > ps ? 1 : 0;
      e -= s == ps ? 1 : 0;
    }
    greater += g;
    equal += e;
  }
  sums.add_auc(auc_from_counts(greater, equal, m, n_neg));
}

// The users with training and holdout pairs (and an ALS row), and the AUC sample among them:
// a keyed sample of about cfg.auc_users users (all when there are fewer), the same for both
// recommenders and for any number of ranks (collective).
std::vector<EvalUser> eval_users_of(par::Comm& comm, const AlsModel& model, const Catalogue& cat,
                                    std::span<const Interaction> interactions,
                                    const EvaluationConfig& cfg, std::uint64_t& test_pairs) {
  const auto off = pair_offsets(model.users, interactions);
  std::vector<EvalUser> eval_users;
  test_pairs = 0;
  for (std::size_t u = 0; u < model.users.size(); ++u) {
    EvalUser e;
    e.user = u;
    for (std::size_t t = off[u]; t < off[u + 1]; ++t) {
      const Interaction& it = interactions[t];
      const std::size_t i = cat.index_of(it.product);
      if (i >= cat.size()) continue;
      if (it.is_train()) e.train.push_back(static_cast<std::uint32_t>(i));
      if (it.is_holdout()) {
        e.test.push_back(static_cast<std::uint32_t>(i));
        e.relevant.push_back(it.product);
        ++test_pairs;
      }
    }
    if (e.test.empty() || e.train.empty() || model.user_train_count[u] == 0) continue;
    std::sort(e.train.begin(), e.train.end());
    std::sort(e.test.begin(), e.test.end());
    std::sort(e.relevant.begin(), e.relevant.end());
    eval_users.push_back(std::move(e));
  }
  const std::uint64_t n_eval = comm.allreduce_sum<std::uint64_t>(eval_users.size());
  const double auc_share = !cfg.auc ? 0.0
                           : (cfg.auc_users == 0 || n_eval <= cfg.auc_users)
                               ? 1.0
                               : static_cast<double>(cfg.auc_users) / static_cast<double>(n_eval);
  for (EvalUser& e : eval_users)
    e.auc = auc_share >= 1.0 ||
            (auc_share > 0.0 && in_auc_sample(cfg.seed, model.users[e.user], auc_share));
  return eval_users;
}

// ALS: full scores of the AUC sample, a pruned top-k scan for the others.
template <class T>
void evaluate_als(const AlsModel& model, const Catalogue& cat,
                  const std::vector<EvalUser>& eval_users, const EvaluationConfig& cfg,
                  RankingSums& sums, std::vector<std::uint8_t>& recommended) {
  const int k = model.factors;
  const auto kk = static_cast<std::size_t>(k);
  const auto cut = static_cast<std::size_t>(std::max(1, cfg.k));
  std::vector<std::size_t> lists[2];  // [0]: AUC sample (full scores), [1]: the others (pruned)
  for (std::size_t i = 0; i < eval_users.size(); ++i) lists[eval_users[i].auc ? 0 : 1].push_back(i);
  Scorer<T> scorer(cat, /*by_norm=*/true);
  const std::vector<T> xs_all = rows_as<T>(model.user_factors);
  const std::vector<T> ys_all = rows_as<T>(cat.item_factors);
  const auto block = static_cast<std::size_t>(std::max(4, cfg.user_block));
  std::vector<T> xs;
  std::vector<TopList<T>> tops(block, TopList<T>(cut));
  std::vector<std::vector<T>> pos_scores(block), train_scores(block);
  std::vector<std::vector<std::uint64_t>> gt(block), eq(block);
  std::vector<std::uint64_t> ranked;
  for (const std::vector<std::size_t>& list : lists)
    for (std::size_t b = 0; b < list.size(); b += block) {
      const std::size_t nb = std::min(block, list.size() - b);
      const bool with_auc = eval_users[list[b]].auc;
      xs.resize(nb * kk);
      for (std::size_t t = 0; t < nb; ++t) {
        const EvalUser& e = eval_users[list[b + t]];
        const T* x = xs_all.data() + e.user * kk;
        std::copy_n(x, kk, xs.data() + t * kk);
        tops[t].clear();
        pos_scores[t].clear();
        train_scores[t].clear();
        for (std::uint32_t i : e.test)
          pos_scores[t].push_back(als_score(k, x, ys_all.data() + i * kk));
        for (std::uint32_t i : e.train)
          train_scores[t].push_back(als_score(k, x, ys_all.data() + i * kk));
        gt[t].assign(e.test.size(), 0);
        eq[t].assign(e.test.size(), 0);
      }
      const auto visit = [&](std::size_t t, const T* s, std::size_t n, const std::uint32_t* items) {
        scan_block(s, n, items, tops[t], eval_users[list[b + t]].train);
        if (with_auc)
          for (std::size_t p = 0; p < pos_scores[t].size(); ++p)
            count_cmp(s, n, pos_scores[t][p], gt[t][p], eq[t][p]);
      };
      if (with_auc)  // AUC needs every item's score
        scorer.score(xs.data(), nb, visit);
      else
        scorer.score_pruned(xs.data(), nb, visit,
                            [&](std::size_t t) { return tops[t].threshold(); });
      for (std::size_t t = 0; t < nb; ++t) {
        const EvalUser& e = eval_users[list[b + t]];
        ranked.clear();
        for (std::size_t r = 0; r < tops[t].size(); ++r) {
          ranked.push_back(cat.products[tops[t].item(r)]);
          recommended[tops[t].item(r)] = 1;
        }
        sums.add(score_ranking(ranked, e.relevant, static_cast<int>(cut)));
        if (with_auc) add_auc(sums, cat.size(), pos_scores[t], train_scores[t], gt[t], eq[t]);
      }
    }
}

// Popularity: the same ranking protocol with score = popularity.
void evaluate_popularity(const Catalogue& cat, const std::vector<EvalUser>& eval_users,
                         std::size_t cut, RankingSums& sums,
                         std::vector<std::uint8_t>& recommended) {
  const PopularityOrder order(cat);
  std::vector<double> sorted_pop(cat.popularity);
  std::sort(sorted_pop.begin(), sorted_pop.end());
  std::vector<std::uint64_t> ranked, gt_all, eq_all;
  std::vector<double> pos_scores, train_scores;
  for (const EvalUser& e : eval_users) {
    ranked.clear();
    for (std::size_t r = 0; r < order.global.size() && ranked.size() < cut; ++r) {
      const std::uint32_t i = order.global[r];
      if (std::binary_search(e.train.begin(), e.train.end(), i)) continue;
      ranked.push_back(cat.products[i]);
      recommended[i] = 1;
    }
    sums.add(score_ranking(ranked, e.relevant, static_cast<int>(cut)));
    if (!e.auc) continue;
    pos_scores.clear();
    train_scores.clear();
    gt_all.clear();
    eq_all.clear();
    for (std::uint32_t i : e.test) {
      const double ps = cat.popularity[i];
      pos_scores.push_back(ps);
      const auto lo = std::lower_bound(sorted_pop.begin(), sorted_pop.end(), ps);
      const auto hi = std::upper_bound(sorted_pop.begin(), sorted_pop.end(), ps);
      gt_all.push_back(static_cast<std::uint64_t>(sorted_pop.end() - hi));
      eq_all.push_back(static_cast<std::uint64_t>(hi - lo));
    }
    for (std::uint32_t i : e.train) train_scores.push_back(cat.popularity[i]);
    add_auc(sums, cat.size(), pos_scores, train_scores, gt_all, eq_all);
  }
}

template <class T>
Evaluation evaluate_impl(par::Comm& comm, const AlsModel& model, const Catalogue& cat,
                         std::span<const Interaction> interactions, const EvaluationConfig& cfg) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto cut = static_cast<std::size_t>(std::max(1, cfg.k));
  std::uint64_t test_pairs = 0;
  const std::vector<EvalUser> eval_users =
      eval_users_of(comm, model, cat, interactions, cfg, test_pairs);
  RankingSums als_sums, pop_sums;
  std::vector<std::uint8_t> als_rec(cat.size(), 0), pop_rec(cat.size(), 0);
  evaluate_als<T>(model, cat, eval_users, cfg, als_sums, als_rec);
  evaluate_popularity(cat, eval_users, cut, pop_sums, pop_rec);

  // Combine exactly across ranks.
  std::uint64_t counts[5] = {als_sums.users(), als_sums.auc_users(), pop_sums.users(),
                             pop_sums.auc_users(), test_pairs};
  comm.allreduce_sum(std::span<std::uint64_t>(counts, 5));
  const std::vector<double> als_g = comm.exact_sum(als_sums.sums());
  const std::vector<double> pop_g = comm.exact_sum(pop_sums.sums());
  comm.allreduce_max(std::span<std::uint8_t>(als_rec));
  comm.allreduce_max(std::span<std::uint8_t>(pop_rec));
  Evaluation ev;
  ev.als = RankingSums::finish(als_g, counts[0], counts[1], static_cast<int>(cut));
  ev.popularity = RankingSums::finish(pop_g, counts[2], counts[3], static_cast<int>(cut));
  const double n = static_cast<double>(std::max<std::size_t>(1, cat.size()));
  ev.als.coverage = static_cast<double>(std::count(als_rec.begin(), als_rec.end(), 1)) / n;
  ev.popularity.coverage = static_cast<double>(std::count(pop_rec.begin(), pop_rec.end(), 1)) / n;
  ev.test_pairs = counts[4];
  ev.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ev;
}

}  // namespace

Evaluation evaluate_holdout(par::Comm& comm, const AlsModel& model, const Catalogue& catalogue,
                            std::span<const Interaction> interactions,
                            const EvaluationConfig& config) {
  if (model.precision == FactorPrecision::float32)
    return evaluate_impl<float>(comm, model, catalogue, interactions, config);
  return evaluate_impl<double>(comm, model, catalogue, interactions, config);
}

}  // namespace ecom::ml
