#pragma once
// The choice of k: for each k of a range, k-means plus inertia (elbow), the exact silhouette on
// a keyed sample, the simplified silhouette over all users, the gap statistic (Tibshirani,
// Walther & Hastie 2001) and bootstrap stability (ARI and pair agreement between clusterings of
// keyed subsamples, on their overlaps); then a documented rule (docs/SEGMENTS.md) picks k.
//
// Every figure is bit-identical for any number of ranks (keyed randomness, exact sums, integer
// contingency tables). All functions taking a Comm are collective.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "ecom/ml/kmeans.hpp"
#include "ecom/par/comm.hpp"

namespace ecom::ml {

// The rule that turns the k table into one k (docs/SEGMENTS.md, "Choosing k").
struct KRule {
  // auto: among the stable k (bootstrap ARI >= min_stability; all k when none is), the k of
  //       the best silhouette; the gap statistic's 1-SE k instead when it is stable and its
  //       silhouette is within `silhouette_tolerance` of that best (the smaller model when the
  //       two criteria nearly agree).
  // gap | silhouette | simplified_silhouette | stability | elbow: that criterion alone.
  std::string method = "auto";
  double min_stability = 0.75;         // a k is "stable" when its mean bootstrap ARI >= this
  double silhouette_tolerance = 0.01;  // absolute slack on the silhouette for the gap's k
};

// k-means options of the selection runs: several initialisations by default (a single
// k-means|| start lands in a poor local optimum often enough to distort the curves).
inline KMeansOptions default_selection_kmeans() {
  KMeansOptions o;
  o.n_init = 3;
  return o;
}

struct SelectionOptions {
  int k_min = 2;
  int k_max = 10;
  KMeansOptions kmeans = default_selection_kmeans();  // k is set per candidate
  // Each k > k_min also gets one Lloyd run started from the (k-1)-solution plus the centre of
  // the fast global k-means step (Likas, Vlassis & Verbeek 2003), chosen among this many keyed
  // candidate users (0: no such run); the lower inertia is kept.
  std::size_t global_candidates = 128;
  std::uint64_t silhouette_sample = 5000;  // expected sample size (0: no sample silhouette)
  int gap_references = 10;                 // B reference sets (0: no gap statistic)
  // Points per reference set, a keyed sample of the users' slots (0: one per user). log W* of
  // a set of m points is scaled to n points by adding log(n/m) (W grows linearly in n; the
  // finite-sample bias of the fit, O(k·d/m) relative, is far below the gap's standard error).
  std::uint64_t gap_sample = 5000;
  int stability_resamples = 10;     // B subsamples (< 2: no stability)
  double stability_fraction = 0.8;  // keyed subsample share
  // Users the subsamples are drawn from: a keyed sample of about this many (0: all users).
  std::uint64_t stability_sample = 20000;
  KRule rule;
  // Optional progress lines ("k-selection: k=4 done"), called on every rank.
  std::function<void(const std::string&)> progress;
};

// One row of k_selection.csv. NaN where a figure is not defined or not computed.
struct KScore {
  int k = 0;
  double inertia = 0;
  double silhouette = 0;
  double simplified_silhouette = 0;
  double gap = 0;
  double gap_sd = 0;  // s_k = sd_k · sqrt(1 + 1/B)
  double stability_ari = 0;
  double stability_pairs = 0;
  std::uint64_t silhouette_sample = 0;
  int iterations = 0;
};

struct KChoice {
  int k = 0;
  std::string reason;    // one line for the log and run.json
  int gap_k = 0;         // the gap statistic's 1-SE choice (0 when unavailable)
  int silhouette_k = 0;  // best stable silhouette (0 when unavailable)
};

struct KSelection {
  std::vector<KScore> table;  // ascending k
  KChoice choice;
  KMeansResult model;  // the clustering of the chosen k (from the table's runs)
};

// Runs the whole selection over k in [k_min, min(k_max, n_total)].
KSelection select_k(par::Comm& comm, const RowMatrix& scores,
                    std::span<const std::uint64_t> user_ids, const SelectionOptions& options,
                    std::uint64_t seed);

// ---- the clustering procedure of the selection (collective) ------------------------------

// Up to m users with the smallest keys par::uniform(seed, kmeans_init, id, 0xFFFFFFF0), in key
// order, as an m × d matrix identical on every rank (the candidate centres of next_centre).
RowMatrix keyed_candidates(par::Comm& comm, const RowMatrix& scores,
                           std::span<const std::uint64_t> user_ids, Eigen::Index d, std::size_t m,
                           std::uint64_t seed);
// The fast global k-means step: the candidate c that maximises the guaranteed inertia drop
// b_c = Σ_i max(0, dist2_i − ‖x_i − c‖²), dist2_i the user's squared distance to its current
// centroid (exact sums: the same for any number of ranks; ties: the earlier candidate). -1 when
// no candidate lowers the inertia.
int next_centre(par::Comm& comm, const RowMatrix& scores, std::span<const double> dist2,
                const RowMatrix& candidates);
// One Lloyd run from the centroids of `previous` (none: k = 1) plus the next_centre() of the
// candidates: the (k+1)-solution of the fast global k-means step. Empty when no candidate helps.
KMeansResult grow_k(par::Comm& comm, const RowMatrix& scores,
                    std::span<const std::uint64_t> user_ids, const KMeansOptions& options,
                    const KMeansResult* previous, const RowMatrix& candidates);
// The selection's clustering for one k: kmeans() with `options` (n_init k-means|| starts) and,
// when `chain` is given, one more start grown from the chain (brought up to k - 1 by grow_k from
// k = 1 the first time); the lower inertia is kept (canonical order as options say) and becomes
// the chain's next link. Call with increasing k on the same data and chain.
KMeansResult cluster_k(par::Comm& comm, const RowMatrix& scores,
                       std::span<const std::uint64_t> user_ids, const KMeansOptions& options, int k,
                       std::uint64_t seed, KMeansResult* chain, const RowMatrix& candidates);

// ---- pure parts -------------------------------------------------------------------------

// Tibshirani's rule: the smallest k with gap(k) >= gap(k') − s(k'), k' the next k of the table;
// when none qualifies, the k of the largest gap. 0 when no gap is available.
int gap_one_se_k(std::span<const KScore> table);
// The elbow: the k farthest below the chord from the first to the last (k, inertia) point,
// both axes scaled to [0, 1]. 0 when the table has fewer than 3 rows.
int elbow_k(std::span<const KScore> table);
// Applies the rule to a table (ascending k).
KChoice choose_k(std::span<const KScore> table, const KRule& rule);

// Gap statistic from log W_k of the data and of B reference sets: gap = mean(log W*) − log W,
// sd = population sd of log W* times sqrt(1 + 1/B). NaN when W or any W* is not positive.
void gap_from_logs(double log_w, std::span<const double> ref_log_w, double& gap, double& gap_sd);

// k_selection.csv: header `k,inertia,silhouette,simplified_silhouette,gap,gap_sd,
// stability_ari,stability_pairs` and one row per k (values with %.10g, NaN as empty).
std::string k_selection_csv(std::span<const KScore> table);

}  // namespace ecom::ml
