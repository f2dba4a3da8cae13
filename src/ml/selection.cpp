#include "ecom/ml/selection.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "ecom/core/error.hpp"
#include "ecom/ml/exact_bins.hpp"
#include "ecom/ml/metrics_cluster.hpp"
#include "ecom/par/random.hpp"

namespace ecom::ml {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Counter of the keyed draw that puts a user's slot into the gap reference sets (the point
// coordinates use counters b * d + j, far below).
constexpr std::uint32_t kGapSampleCounter = 0xFFFFFFFFu;
// Counter of the keyed draw that puts a user into the stability base sample (resample b uses
// counter b).
constexpr std::uint32_t kSampleCounter = 0xFFFFFFFFu;
// Counter of the keyed draw that orders users for the global k-means candidate sample
// (k-means|| uses counters 0 .. init_rounds).
constexpr std::uint32_t kCandidateCounter = 0xFFFFFFF0u;

std::string fmt(double v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// Rows of `scores` (and ids) where mask is set.
void subset(const RowMatrix& scores, std::span<const std::uint64_t> ids,
            const std::vector<char>& mask, RowMatrix& out_scores,
            std::vector<std::uint64_t>& out_ids) {
  std::size_t m = 0;
  for (char c : mask) m += (c != 0);
  out_scores.resize(static_cast<Eigen::Index>(m), scores.cols());
  out_ids.resize(m);
  std::size_t q = 0;
  for (std::size_t i = 0; i < mask.size(); ++i) {
    if (!mask[i]) continue;
    out_scores.row(static_cast<Eigen::Index>(q)) = scores.row(static_cast<Eigen::Index>(i));
    out_ids[q++] = ids[i];
  }
}

double safe_log(double w) { return w > 0 ? std::log(w) : kNaN; }

}  // namespace

RowMatrix keyed_candidates(par::Comm& comm, const RowMatrix& scores,
                           std::span<const std::uint64_t> user_ids, Eigen::Index d, std::size_t m,
                           std::uint64_t seed) {
  const auto n = static_cast<std::size_t>(scores.rows());
  struct Keyed {
    double key;
    std::uint64_t id;
    std::size_t row;
  };
  std::vector<Keyed> local(n);
  for (std::size_t i = 0; i < n; ++i)
    local[i] = {par::uniform(seed, par::Purpose::kmeans_init, user_ids[i], kCandidateCounter),
                user_ids[i], i};
  auto less = [](const Keyed& a, const Keyed& b) {
    return a.key != b.key ? a.key < b.key : a.id < b.id;
  };
  const std::size_t take = std::min(m, n);
  std::partial_sort(local.begin(), local.begin() + static_cast<std::ptrdiff_t>(take), local.end(),
                    less);
  std::vector<double> keys, rows;
  std::vector<std::uint64_t> ids;
  for (std::size_t q = 0; q < take; ++q) {
    keys.push_back(local[q].key);
    ids.push_back(local[q].id);
    for (Eigen::Index j = 0; j < d; ++j)
      rows.push_back(scores(static_cast<Eigen::Index>(local[q].row), j));
  }
  const auto g_keys = comm.allgatherv<double>(keys);
  const auto g_ids = comm.allgatherv<std::uint64_t>(ids);
  const auto g_rows = comm.allgatherv<double>(rows);
  std::vector<Keyed> all(g_keys.size());
  for (std::size_t q = 0; q < all.size(); ++q) all[q] = {g_keys[q], g_ids[q], q};
  std::sort(all.begin(), all.end(), less);
  all.resize(std::min(m, all.size()));
  RowMatrix out(static_cast<Eigen::Index>(all.size()), d);
  for (std::size_t q = 0; q < all.size(); ++q)
    for (Eigen::Index j = 0; j < d; ++j)
      out(static_cast<Eigen::Index>(q), j) =
          g_rows[all[q].row * static_cast<std::size_t>(d) + static_cast<std::size_t>(j)];
  return out;
}

int next_centre(par::Comm& comm, const RowMatrix& scores, std::span<const double> dist2,
                const RowMatrix& candidates) {
  const auto n = static_cast<std::size_t>(scores.rows());
  const auto m = static_cast<std::size_t>(candidates.rows());
  const Eigen::Index d = candidates.cols();
  if (m == 0) return -1;
  BinnedSums gains(m);
  for (std::size_t i = 0; i < n; ++i) {
    const double di = dist2[i];
    if (!(di > 0)) continue;
    const double* x = &scores(static_cast<Eigen::Index>(i), 0);
    for (std::size_t c = 0; c < m; ++c) {
      const double g = di - squared_distance(x, &candidates(static_cast<Eigen::Index>(c), 0), d);
      if (g > 0) gains.add(c, g);
    }
  }
  const par::ExactVector total = comm.exact_combine(gains.to_exact());
  int best = -1;
  double best_gain = 0;
  for (std::size_t c = 0; c < m; ++c) {
    const double g = total[c].value();
    if (g > best_gain) {  // ties: the earlier candidate
      best_gain = g;
      best = static_cast<int>(c);
    }
  }
  return best;
}

KMeansResult grow_k(par::Comm& comm, const RowMatrix& scores,
                    std::span<const std::uint64_t> user_ids, const KMeansOptions& options,
                    const KMeansResult* previous, const RowMatrix& candidates) {
  KMeansResult none;
  if (candidates.rows() == 0) return none;
  const Eigen::Index k1 = previous != nullptr ? previous->centroids.rows() : 0;
  int c = 0;  // k = 1: any start gives the mean after one Lloyd step
  if (k1 > 0) c = next_centre(comm, scores, previous->dist2, candidates);
  if (c < 0) return none;
  RowMatrix init(k1 + 1, candidates.cols());
  if (k1 > 0) init.topRows(k1) = previous->centroids;
  init.row(k1) = candidates.row(c);
  KMeansOptions o = options;
  o.k = static_cast<int>(k1 + 1);
  return lloyd(comm, scores, user_ids, init, o);
}

// One step of the chain: the better (lower inertia) of the n_init k-means|| starts for k and the
// chain's k - 1 solution grown by one centre; the chain then continues from it.
KMeansResult chain_step(par::Comm& comm, const RowMatrix& scores,
                        std::span<const std::uint64_t> user_ids, const KMeansOptions& options,
                        int k, std::uint64_t seed, KMeansResult* chain,
                        const RowMatrix& candidates) {
  KMeansOptions o = options;
  o.k = k;
  KMeansResult best = kmeans(comm, scores, user_ids, o, seed);
  KMeansResult grown = grow_k(comm, scores, user_ids, o, chain, candidates);
  if (grown.centroids.rows() != k || !(grown.inertia < best.inertia)) {
    *chain = best;  // the chain continues from the better solution of this k
    return best;
  }
  if (o.canonical_order) put_in_canonical_order(comm, scores, o.block_rows, grown);
  grown.best_init = o.n_init;  // the grown start, after the n_init k-means|| starts
  *chain = grown;
  return grown;
}

// The solution for k: the chain is brought from where it stands to k by chain_step, one k at a
// time from k = 1, so the result for k does not depend on which other k are asked for (a k-sweep
// array task computing k alone gets the same model, and the same gap reference models, as a run
// over the whole range).
KMeansResult cluster_k(par::Comm& comm, const RowMatrix& scores,
                       std::span<const std::uint64_t> user_ids, const KMeansOptions& options, int k,
                       std::uint64_t seed, KMeansResult* chain, const RowMatrix& candidates) {
  if (chain == nullptr || candidates.rows() == 0) {
    KMeansOptions o = options;
    o.k = k;
    return kmeans(comm, scores, user_ids, o, seed);
  }
  if (chain->centroids.rows() >= k) *chain = KMeansResult{};  // asked for a lower k: start again
  KMeansResult result;
  while (chain->centroids.rows() < k) {
    const int next = static_cast<int>(chain->centroids.rows()) + 1;
    result = chain_step(comm, scores, user_ids, options, next, seed, chain, candidates);
    if (chain->centroids.rows() != next) break;  // fewer distinct points than centres
  }
  return result;
}

void gap_from_logs(double log_w, std::span<const double> ref_log_w, double& gap, double& gap_sd) {
  gap = kNaN;
  gap_sd = kNaN;
  if (ref_log_w.empty() || std::isnan(log_w)) return;
  double mean = 0;
  for (double v : ref_log_w) {
    if (std::isnan(v)) return;
    mean += v;
  }
  const auto b = static_cast<double>(ref_log_w.size());
  mean /= b;
  double ss = 0;
  for (double v : ref_log_w) ss += (v - mean) * (v - mean);
  gap = mean - log_w;
  gap_sd = std::sqrt(ss / b) * std::sqrt(1.0 + 1.0 / b);
}

int gap_one_se_k(std::span<const KScore> table) {
  std::vector<const KScore*> rows;
  for (const auto& r : table)
    if (!std::isnan(r.gap) && !std::isnan(r.gap_sd)) rows.push_back(&r);
  if (rows.empty()) return 0;
  for (std::size_t i = 0; i + 1 < rows.size(); ++i)
    if (rows[i]->gap >= rows[i + 1]->gap - rows[i + 1]->gap_sd) return rows[i]->k;
  const KScore* best = rows[0];
  for (const auto* r : rows)
    if (r->gap > best->gap) best = r;
  return best->k;
}

int elbow_k(std::span<const KScore> table) {
  if (table.size() < 3) return 0;
  const double k0 = table.front().k, k1 = table.back().k;
  const double w0 = table.front().inertia, w1 = table.back().inertia;
  if (!(w0 > w1)) return table.front().k;
  int best = table.front().k;
  double best_gap = -1;
  for (const auto& r : table) {
    const double x = (r.k - k0) / (k1 - k0);
    const double y = (r.inertia - w1) / (w0 - w1);
    const double below = (1.0 - x) - y;  // chord from (0,1) to (1,0) minus the curve
    if (below > best_gap) {
      best_gap = below;
      best = r.k;
    }
  }
  return best;
}

KChoice choose_k(std::span<const KScore> table, const KRule& rule) {
  KChoice out;
  if (table.empty()) throw Error("choose_k: empty table");
  std::ostringstream why;
  auto argmax = [&](auto value, const std::vector<const KScore*>& rows) -> const KScore* {
    const KScore* best = nullptr;
    for (const auto* r : rows) {
      const double v = value(*r);
      if (std::isnan(v)) continue;
      if (best == nullptr || v > value(*best)) best = r;  // ties: the smaller k (seen first)
    }
    return best;
  };
  std::vector<const KScore*> all;
  for (const auto& r : table) all.push_back(&r);
  auto sil = [](const KScore& r) { return r.silhouette; };
  auto ssil = [](const KScore& r) { return r.simplified_silhouette; };
  auto stab = [](const KScore& r) { return r.stability_ari; };
  // Stable candidates: ARI >= threshold; unknown stability counts as stable.
  std::vector<const KScore*> stable;
  for (const auto* r : all)
    if (std::isnan(r->stability_ari) || r->stability_ari >= rule.min_stability) stable.push_back(r);
  const bool none_stable = stable.empty();
  if (none_stable) stable = all;
  out.gap_k = gap_one_se_k(table);
  // Silhouette of the sample, or the simplified one where the sample gave none.
  bool use_simplified = argmax(sil, stable) == nullptr;
  const KScore* best_sil = use_simplified ? argmax(ssil, stable) : argmax(sil, stable);
  out.silhouette_k = best_sil != nullptr ? best_sil->k : 0;
  const char* sil_name = use_simplified ? "simplified silhouette" : "silhouette";
  auto sil_of = [&](const KScore& r) {
    return use_simplified ? r.simplified_silhouette : r.silhouette;
  };

  const std::string& m = rule.method;
  if (m == "gap") {
    out.k = out.gap_k;
    why << "gap statistic, Tibshirani's 1-SE rule";
  } else if (m == "silhouette") {
    const KScore* b = argmax(sil, all);
    out.k = b ? b->k : 0;
    why << "largest silhouette";
  } else if (m == "simplified_silhouette") {
    const KScore* b = argmax(ssil, all);
    out.k = b ? b->k : 0;
    why << "largest simplified silhouette";
  } else if (m == "stability") {
    const KScore* b = argmax(stab, all);
    out.k = b ? b->k : 0;
    why << "largest bootstrap ARI";
  } else if (m == "elbow") {
    out.k = elbow_k(table);
    why << "elbow of the inertia curve";
  } else if (m == "auto") {
    const KScore* gap_row = nullptr;
    for (const auto* r : stable)
      if (r->k == out.gap_k) gap_row = r;
    if (gap_row != nullptr && (best_sil == nullptr || std::isnan(sil_of(*gap_row)) ||
                               sil_of(*gap_row) >= sil_of(*best_sil) - rule.silhouette_tolerance)) {
      out.k = gap_row->k;
      why << "gap statistic 1-SE rule picks k=" << out.k << " (gap " << fmt(gap_row->gap) << ", sd "
          << fmt(gap_row->gap_sd) << "), stable (ARI " << fmt(gap_row->stability_ari) << ")";
      if (best_sil != nullptr)
        why << ", " << sil_name << " " << fmt(sil_of(*gap_row)) << " within "
            << fmt(rule.silhouette_tolerance) << " of the best stable " << fmt(sil_of(*best_sil))
            << " (k=" << best_sil->k << ")";
    } else if (best_sil != nullptr) {
      out.k = best_sil->k;
      why << "best " << sil_name << " " << fmt(sil_of(*best_sil)) << " among stable k";
      if (out.gap_k == 0)
        why << " (no gap statistic)";
      else if (gap_row == nullptr)
        why << " (the gap's k=" << out.gap_k << " is not stable)";
      else
        why << " (the gap's k=" << out.gap_k << " has " << sil_name << " " << fmt(sil_of(*gap_row))
            << ")";
    } else if (out.gap_k != 0) {
      out.k = out.gap_k;
      why << "gap statistic 1-SE rule (no silhouette available)";
    } else {
      out.k = elbow_k(table);
      why << "elbow of the inertia curve (no silhouette or gap available)";
    }
    if (none_stable) why << "; no k reached stability " << fmt(rule.min_stability);
  } else {
    throw UserError("unknown k rule '" + m +
                    "' (auto, gap, silhouette, simplified_silhouette, stability, elbow)");
  }
  if (out.k == 0) {  // the chosen criterion was unavailable: fall back to the smallest k
    out.k = table.front().k;
    why << " unavailable; smallest k of the range";
  }
  out.reason = why.str();
  return out;
}

namespace {

// One sweep over the k range: the data, the options and the range every part of it shares.
struct KSweep {
  par::Comm& comm;
  const RowMatrix& scores;
  std::span<const std::uint64_t> user_ids;
  const SelectionOptions& options;
  std::uint64_t seed;
  std::vector<int> ks;
  std::uint64_t n_total;
  Eigen::Index d;
  std::function<void(const std::string&)> say;

  // The k-means of every k, with inertia and the silhouettes of each (the other figures NaN
  // until the gap statistic and the stability fill them).
  void cluster_each_k(KSelection& sel, std::vector<KMeansResult>& models) const;
  // Gap statistic of every k into sel.table (collective).
  void add_gap_statistic(KSelection& sel) const;
  // Bootstrap stability (ARI and pair agreement) of every k into sel.table (collective).
  void add_stability(KSelection& sel) const;
};

void KSweep::cluster_each_k(KSelection& sel, std::vector<KMeansResult>& models) const {
  const std::size_t nk = ks.size();
  models.resize(nk);
  sel.table.resize(nk);
  const RowMatrix cands =
      keyed_candidates(comm, scores, user_ids, d, options.global_candidates, seed);
  KMeansResult chain;
  for (std::size_t q = 0; q < nk; ++q) {
    models[q] = cluster_k(comm, scores, user_ids, options.kmeans, ks[q], seed, &chain, cands);
    KScore& row = sel.table[q];
    row.k = ks[q];
    row.inertia = models[q].inertia;
    row.iterations = models[q].iterations;
    if (options.silhouette_sample > 0) {
      const auto s = sample_silhouette(comm, scores, user_ids, models[q].labels, ks[q],
                                       options.silhouette_sample, seed);
      row.silhouette = s.value;
      row.silhouette_sample = s.sample_size;
    } else {
      row.silhouette = kNaN;
    }
    row.simplified_silhouette =
        simplified_silhouette(comm, scores, models[q].labels, models[q].centroids);
    row.gap = row.gap_sd = row.stability_ari = row.stability_pairs = kNaN;
    std::ostringstream os;
    os << "k-selection: k=" << ks[q] << " inertia " << fmt(row.inertia) << ", silhouette "
       << fmt(row.silhouette) << ", simplified " << fmt(row.simplified_silhouette) << " ("
       << row.iterations << " iterations)";
    say(os.str());
  }
}

void KSweep::add_gap_statistic(KSelection& sel) const {
  const auto n = static_cast<std::size_t>(scores.rows());
  const std::size_t nk = ks.size();
  // Gap statistic: B reference sets uniform in the bounding box of the scores. For PCA scores
  // the coordinate axes are the principal axes, so this is Tibshirani's PCA-aligned box. Each
  // set has about gap_sample points: user i holds a point when its keyed draw falls below
  // gap_sample / n_total (so the sets do not depend on the ranks); log W* is then scaled to the
  // n_total points of the data by adding log(n_total / m).
  const int B = options.gap_references;
  if (B <= 0 || d <= 0) return;
  std::vector<double> lo(static_cast<std::size_t>(d), std::numeric_limits<double>::infinity());
  std::vector<double> hi(static_cast<std::size_t>(d), -std::numeric_limits<double>::infinity());
  for (std::size_t i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < d; ++j) {
      const double v = scores(static_cast<Eigen::Index>(i), j);
      lo[static_cast<std::size_t>(j)] = std::min(lo[static_cast<std::size_t>(j)], v);
      hi[static_cast<std::size_t>(j)] = std::max(hi[static_cast<std::size_t>(j)], v);
    }
  comm.allreduce_min<double>(lo);
  comm.allreduce_max<double>(hi);
  const double keep = options.gap_sample == 0
                          ? 1.0
                          : static_cast<double>(options.gap_sample) / static_cast<double>(n_total);
  std::vector<std::uint64_t> slot_ids;
  for (std::size_t i = 0; i < n; ++i)
    if (keep >= 1.0 ||
        par::uniform(seed, par::Purpose::gap_reference, user_ids[i], kGapSampleCounter) < keep)
      slot_ids.push_back(user_ids[i]);
  const std::uint64_t m_total = comm.allreduce_sum<std::uint64_t>(slot_ids.size());
  const double log_scale = std::log(static_cast<double>(n_total) /
                                    static_cast<double>(std::max<std::uint64_t>(m_total, 1)));
  std::vector<std::vector<double>> ref_logs(nk);
  RowMatrix ref(static_cast<Eigen::Index>(slot_ids.size()), d);
  KMeansOptions ro = options.kmeans;
  ro.n_init = 1;
  ro.canonical_order = false;
  for (int b = 0; b < B; ++b) {
    for (std::size_t i = 0; i < slot_ids.size(); ++i)
      for (Eigen::Index j = 0; j < d; ++j) {
        const auto ju = static_cast<std::size_t>(j);
        const double u = par::uniform(seed, par::Purpose::gap_reference, slot_ids[i],
                                      static_cast<std::uint32_t>(b * d + j));
        ref(static_cast<Eigen::Index>(i), j) = lo[ju] + (hi[ju] - lo[ju]) * u;
      }
    const std::uint64_t ref_seed =
        derive_seed(seed, static_cast<std::uint32_t>(par::Purpose::gap_reference),
                    static_cast<std::uint64_t>(b));
    const RowMatrix ref_cands =
        keyed_candidates(comm, ref, slot_ids, d, options.global_candidates, ref_seed);
    KMeansResult ref_chain;
    for (std::size_t q = 0; q < nk; ++q) {
      if (m_total < static_cast<std::uint64_t>(ks[q])) {
        ref_logs[q].push_back(kNaN);
        continue;
      }
      const KMeansResult r =
          cluster_k(comm, ref, slot_ids, ro, ks[q], ref_seed, &ref_chain, ref_cands);
      ref_logs[q].push_back(safe_log(r.inertia) + log_scale);
    }
    say("k-selection: gap reference " + std::to_string(b + 1) + "/" + std::to_string(B) + " (" +
        std::to_string(m_total) + " points)");
  }
  for (std::size_t q = 0; q < nk; ++q)
    gap_from_logs(safe_log(sel.table[q].inertia), ref_logs[q], sel.table[q].gap,
                  sel.table[q].gap_sd);
}

void KSweep::add_stability(KSelection& sel) const {
  const auto n = static_cast<std::size_t>(scores.rows());
  const std::size_t nk = ks.size();
  // Bootstrap stability: keyed subsamples of a base set of users (all users, or a keyed sample
  // of about stability_sample), clustered independently by the same procedure, compared
  // pairwise on the users they share (label of a user under clustering b = its nearest
  // centroid of b).
  const int R = options.stability_resamples;
  if (R < 2) return;
  RowMatrix base_scores;
  std::vector<std::uint64_t> base_id_store;
  const RowMatrix* base = &scores;
  std::span<const std::uint64_t> base_ids = user_ids;
  if (options.stability_sample > 0 && options.stability_sample < n_total) {
    const double keep =
        static_cast<double>(options.stability_sample) / static_cast<double>(n_total);
    std::vector<char> in(n);
    for (std::size_t i = 0; i < n; ++i)
      in[i] =
          par::uniform(seed, par::Purpose::bootstrap, user_ids[i], kSampleCounter) < keep ? 1 : 0;
    subset(scores, user_ids, in, base_scores, base_id_store);
    base = &base_scores;
    base_ids = base_id_store;
  }
  const std::size_t nb = base_ids.size();
  std::vector<std::vector<char>> masks(static_cast<std::size_t>(R), std::vector<char>(nb));
  std::vector<std::uint64_t> sub_total(static_cast<std::size_t>(R));
  for (int b = 0; b < R; ++b) {
    std::uint64_t m = 0;
    for (std::size_t i = 0; i < nb; ++i) {
      const bool in = par::uniform(seed, par::Purpose::bootstrap, base_ids[i],
                                   static_cast<std::uint32_t>(b)) < options.stability_fraction;
      masks[static_cast<std::size_t>(b)][i] = in ? 1 : 0;
      m += in;
    }
    sub_total[static_cast<std::size_t>(b)] = comm.allreduce_sum<std::uint64_t>(m);
  }
  std::vector<std::vector<RowMatrix>> centroids(
      nk, std::vector<RowMatrix>(static_cast<std::size_t>(R)));
  RowMatrix sub;
  std::vector<std::uint64_t> sub_ids;
  for (int b = 0; b < R; ++b) {
    const auto bu = static_cast<std::size_t>(b);
    subset(*base, base_ids, masks[bu], sub, sub_ids);
    const std::uint64_t boot_seed = derive_seed(
        seed, static_cast<std::uint32_t>(par::Purpose::bootstrap), static_cast<std::uint64_t>(b));
    KMeansOptions o = options.kmeans;  // the procedure under test, n_init included
    o.canonical_order = false;
    const RowMatrix sub_cands =
        keyed_candidates(comm, sub, sub_ids, d, options.global_candidates, boot_seed);
    KMeansResult sub_chain;
    for (std::size_t q = 0; q < nk; ++q) {
      if (sub_total[bu] < static_cast<std::uint64_t>(ks[q])) continue;
      centroids[q][bu] =
          cluster_k(comm, sub, sub_ids, o, ks[q], boot_seed, &sub_chain, sub_cands).centroids;
    }
    say("k-selection: bootstrap " + std::to_string(b + 1) + "/" + std::to_string(R));
  }
  std::vector<std::vector<std::int32_t>> labels(static_cast<std::size_t>(R));
  std::vector<double> unused(nb);
  std::vector<char> both(nb);
  for (std::size_t q = 0; q < nk; ++q) {
    bool complete = true;
    for (int b = 0; b < R; ++b) {
      const auto bu = static_cast<std::size_t>(b);
      if (centroids[q][bu].rows() == 0) {
        complete = false;
        continue;
      }
      labels[bu].resize(nb);
      nearest_centroids(*base, 0, nb, centroids[q][bu], options.kmeans.block_rows,
                        labels[bu].data(), unused.data());
    }
    if (!complete) continue;
    double ari = 0, agree = 0;
    int pairs = 0;
    for (int a = 0; a < R; ++a)
      for (int b = a + 1; b < R; ++b) {
        const auto au = static_cast<std::size_t>(a), bu = static_cast<std::size_t>(b);
        for (std::size_t i = 0; i < nb; ++i) both[i] = masks[au][i] && masks[bu][i];
        const Contingency t = contingency(comm, labels[au], labels[bu], ks[q], ks[q], both);
        ari += adjusted_rand_index(t);
        agree += pair_agreement(t);
        ++pairs;
      }
    sel.table[q].stability_ari = ari / pairs;
    sel.table[q].stability_pairs = agree / pairs;
  }
}

}  // namespace

KSelection select_k(par::Comm& comm, const RowMatrix& scores,
                    std::span<const std::uint64_t> user_ids, const SelectionOptions& options,
                    std::uint64_t seed) {
  const auto n = static_cast<std::size_t>(scores.rows());
  const auto n_total = comm.allreduce_sum<std::uint64_t>(n);
  if (n_total == 0) throw UserError("k selection: no users");
  const int k_lo = std::max(1, options.k_min);
  const int k_hi = static_cast<int>(
      std::min<std::uint64_t>(static_cast<std::uint64_t>(std::max(options.k_max, k_lo)), n_total));
  if (k_lo > k_hi) {
    std::ostringstream os;
    os << "k selection: k_min = " << options.k_min << " but only " << n_total
       << (n_total == 1 ? " user" : " users");
    throw UserError(os.str());
  }
  const std::function<void(const std::string&)> say = [&](const std::string& s) {
    if (options.progress) options.progress(s);
  };
  const long long dl = comm.allreduce_max<long long>(n > 0 ? scores.cols() : 0);
  const auto d = static_cast<Eigen::Index>(dl);
  std::vector<int> ks;
  for (int k = k_lo; k <= k_hi; ++k) ks.push_back(k);
  const std::size_t nk = ks.size();

  const KSweep sweep{comm, scores, user_ids, options, seed, ks, n_total, d, say};
  KSelection sel;
  std::vector<KMeansResult> models;
  sweep.cluster_each_k(sel, models);
  sweep.add_gap_statistic(sel);
  sweep.add_stability(sel);
  sel.choice = choose_k(sel.table, options.rule);
  for (std::size_t q = 0; q < nk; ++q)
    if (ks[q] == sel.choice.k) sel.model = std::move(models[q]);
  return sel;
}

std::string k_selection_csv(std::span<const KScore> table) {
  std::string out =
      "k,inertia,silhouette,simplified_silhouette,gap,gap_sd,stability_ari,stability_pairs\n";
  auto num = [](double v) -> std::string {
    if (std::isnan(v)) return "";
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
  };
  for (const auto& r : table) {
    out += std::to_string(r.k);
    for (double v : {r.inertia, r.silhouette, r.simplified_silhouette, r.gap, r.gap_sd,
                     r.stability_ari, r.stability_pairs}) {
      out += ',';
      out += num(v);
    }
    out += '\n';
  }
  return out;
}

}  // namespace ecom::ml
