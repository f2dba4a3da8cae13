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

// The rule that turns the k table into one k (see docs/SEGMENTS.md, "Choosing k").
struct KRule {
  // auto: the gap statistic's 1-SE choice if it is stable and its silhouette is within
  //       `silhouette_tolerance` of the best stable silhouette, else the best stable silhouette.
  // gap | silhouette | simplified_silhouette | stability | elbow: that criterion alone.
  std::string method = "auto";
  double min_stability = 0.75;         // a k is "stable" when its mean bootstrap ARI >= this
  double silhouette_tolerance = 0.05;  // absolute slack on the silhouette for the gap's k
};

struct SelectionOptions {
  int k_min = 2;
  int k_max = 10;
  KMeansOptions kmeans;                    // k is set per candidate
  std::uint64_t silhouette_sample = 5000;  // expected sample size (0: no sample silhouette)
  int gap_references = 10;                 // B reference sets (0: no gap statistic)
  int stability_resamples = 10;            // B subsamples (< 2: no stability)
  double stability_fraction = 0.8;         // keyed subsample share
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
  std::string reason;  // one line for the log and run.json
  int gap_k = 0;       // the gap statistic's 1-SE choice (0 when unavailable)
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
