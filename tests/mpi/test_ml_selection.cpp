// The choice of k under mpirun -np 1..4, every figure of select_k against an independent serial
// recomputation on every rank (the global data set is known to every rank):
//  - the exact silhouette on a keyed sample (sample smaller than the users) equals a brute-force
//    silhouette over exactly the users of the documented keyed rule
//    (par::uniform(seed, silhouette_sample, user, 0) < sample / n);
//  - each k's inertia, sample silhouette and simplified silhouette equal brute-force values for
//    the clustering of the documented procedure (keyed candidates, chain of cluster_k);
//  - the gap statistic equals mean_b log W*_b + log(n/m) − log W with the B reference sets
//    regenerated here from the documented rule (keyed slot sample, uniform in the bounding box)
//    and W* the brute-force inertia of their clustering, computed on another split of the points;
//  - bootstrap stability equals the mean ARI / pair agreement (serial) of the regenerated keyed
//    subsamples' clusterings on their overlaps, labels by brute-force nearest centroid;
//  - on well-separated planted clusters the gap's 1-SE k and the best silhouette are the planted
//    k, stability is about 1 there and clearly lower at k + 2, and the auto rule picks it;
//  - the distributed contingency table gives the hand-computed ARI and Rand index, 1 for the
//    same partition relabelled;
//  - the table is bit-identical for every split of the users over the ranks (ranks owning no
//    users included), and k computed alone (k_min = k_max = k) equals that row of the range.
// Identity across np 1..4 is checked byte for byte on k_selection.csv by e2e/test_analyze_np.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <span>
#include <vector>

#include "ecom/ml/kmeans.hpp"
#include "ecom/ml/metrics_cluster.hpp"
#include "ecom/ml/selection.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/random.hpp"
#include "ml_split.hpp"

using namespace ecom;
using namespace ecom::ml;
using namespace ecom::ml_test;

namespace {

constexpr std::uint64_t kSeed = 11;
constexpr int kPlanted = 4;

// Users known to every rank: ascending ids spread over the 64-bit space, one row each.
struct Data {
  std::vector<std::uint64_t> ids;
  RowMatrix x;
};

// kPlanted round clusters in 3 dimensions (unequal sizes), 12 standard deviations apart:
// centres at the origin and 12 along each axis.
Data planted(int n) {
  Data g;
  const int d = 3;
  g.x.resize(n, d);
  for (int i = 0; i < n; ++i) {
    g.ids.push_back(0x0123456789ABCDEFull + static_cast<std::uint64_t>(i) * 0x001B4E81B4E81B4Full);
    const int c = (i % 10) < 4 ? 0 : (i % 10) < 7 ? 1 : (i % 10) < 9 ? 2 : 3;  // 40/30/20/10 %
    for (int j = 0; j < d; ++j)
      g.x(i, j) = (c == j + 1 ? 12.0 : 0.0) + par::normal(3, par::Purpose::test,
                                                          static_cast<std::uint64_t>(i),
                                                          static_cast<std::uint32_t>(j));
  }
  EXPECT_TRUE(std::is_sorted(g.ids.begin(), g.ids.end()));
  return g;
}

int planted_label(int i) { return (i % 10) < 4 ? 0 : (i % 10) < 7 ? 1 : (i % 10) < 9 ? 2 : 3; }

// This rank's contiguous part of `g` under a split.
Data part(const par::Comm& comm, const Data& g, Split s) {
  const auto [lo, hi] = slice(comm, g.ids.size(), s);
  Data l;
  l.ids.assign(g.ids.begin() + static_cast<std::ptrdiff_t>(lo),
               g.ids.begin() + static_cast<std::ptrdiff_t>(hi));
  l.x = g.x.middleRows(static_cast<Eigen::Index>(lo), static_cast<Eigen::Index>(hi - lo));
  return l;
}

// Rows of `g` where keep(i) holds (ids stay ascending).
template <class Keep>
Data subset(const Data& g, Keep keep) {
  Data out;
  std::vector<Eigen::Index> rows;
  for (std::size_t i = 0; i < g.ids.size(); ++i)
    if (keep(i)) {
      rows.push_back(static_cast<Eigen::Index>(i));
      out.ids.push_back(g.ids[i]);
    }
  out.x.resize(static_cast<Eigen::Index>(rows.size()), g.x.cols());
  for (std::size_t q = 0; q < rows.size(); ++q)
    out.x.row(static_cast<Eigen::Index>(q)) = g.x.row(rows[q]);
  return out;
}

double dist(const RowMatrix& x, Eigen::Index i, Eigen::Index j) {
  long double s = 0;
  for (Eigen::Index c = 0; c < x.cols(); ++c) {
    const long double t = static_cast<long double>(x(i, c)) - x(j, c);
    s += t * t;
  }
  return static_cast<double>(std::sqrt(s));
}

// Rousseeuw's silhouette by brute force over the users i with in[i], labels in [0, k): a user
// alone in its cluster (within those users) scores 0. NaN when fewer than 2 clusters occur.
double brute_silhouette(const RowMatrix& x, const std::vector<int>& labels,
                        const std::vector<char>& in, int k) {
  std::vector<int> count(static_cast<std::size_t>(k), 0);
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (in[i]) ++count[static_cast<std::size_t>(labels[i])];
  int occupied = 0, n = 0;
  for (int c : count) {
    occupied += c > 0;
    n += c;
  }
  if (occupied < 2) return std::numeric_limits<double>::quiet_NaN();
  long double total = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (!in[i]) continue;
    const auto own = static_cast<std::size_t>(labels[i]);
    if (count[own] == 1) continue;
    std::vector<long double> sum(static_cast<std::size_t>(k), 0);
    for (std::size_t j = 0; j < labels.size(); ++j)
      if (in[j] && j != i)
        sum[static_cast<std::size_t>(labels[j])] +=
            dist(x, static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j));
    const long double a = sum[own] / (count[own] - 1);
    long double b = std::numeric_limits<long double>::infinity();
    for (std::size_t c = 0; c < sum.size(); ++c)
      if (c != own && count[c] > 0) b = std::min(b, sum[c] / count[c]);
    const long double m = std::max(a, b);
    if (m > 0) total += (b - a) / m;
  }
  return static_cast<double>(total / n);
}

// Nearest centroid by direct squared distance (ties: the lower index), and the squared distance.
int nearest(const RowMatrix& c, const RowMatrix& x, Eigen::Index i, double* d2 = nullptr) {
  int best = 0;
  double bd = std::numeric_limits<double>::infinity();
  for (Eigen::Index q = 0; q < c.rows(); ++q) {
    const double v = (x.row(i) - c.row(q)).squaredNorm();
    if (v < bd) {
      bd = v;
      best = static_cast<int>(q);
    }
  }
  if (d2 != nullptr) *d2 = bd;
  return best;
}

double brute_inertia(const RowMatrix& c, const RowMatrix& x) {
  long double s = 0;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    double d2 = 0;
    nearest(c, x, i, &d2);
    s += d2;
  }
  return static_cast<double>(s);
}

SelectionOptions options() {
  SelectionOptions o;
  o.k_min = 2;
  o.k_max = 6;
  o.kmeans.n_init = 2;
  o.silhouette_sample = 150;  // of 600: the sampled path
  o.gap_references = 4;
  o.gap_sample = 300;  // of 600: the keyed slot sample
  o.stability_resamples = 4;
  o.stability_sample = 400;  // of 600: the keyed base sample
  return o;
}

void expect_same_bits(const RowMatrix& a, const RowMatrix& b) {
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.cols(), b.cols());
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    for (Eigen::Index j = 0; j < a.cols(); ++j) EXPECT_EQ(bits(a(i, j)), bits(b(i, j)));
}

void expect_same_table(const std::vector<KScore>& a, const std::vector<KScore>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t q = 0; q < a.size(); ++q) {
    EXPECT_EQ(a[q].k, b[q].k);
    const double va[] = {a[q].inertia, a[q].silhouette,    a[q].simplified_silhouette, a[q].gap,
                         a[q].gap_sd,  a[q].stability_ari, a[q].stability_pairs};
    const double vb[] = {b[q].inertia, b[q].silhouette,    b[q].simplified_silhouette, b[q].gap,
                         b[q].gap_sd,  b[q].stability_ari, b[q].stability_pairs};
    for (int c = 0; c < 7; ++c)
      EXPECT_EQ(bits(va[c]), bits(vb[c])) << "k=" << a[q].k << " col " << c;
    EXPECT_EQ(a[q].silhouette_sample, b[q].silhouette_sample);
    EXPECT_EQ(a[q].iterations, b[q].iterations);
  }
}

// The selection of the 600 planted users, split evenly: computed once for several tests.
const KSelection& reference_selection(par::Comm& comm, const Data& g) {
  static KSelection sel;
  static bool done = false;
  if (!done) {
    const Data l = part(comm, g, Split::even);
    sel = select_k(comm, l.x, l.ids, options(), kSeed);
    done = true;
  }
  return sel;
}

}  // namespace

TEST(SelectionMpi, SampledSilhouetteEqualsBruteForceOnTheKeyedSample) {
  auto comm = par::Comm::world();
  const Data g = planted(600);
  const auto n = g.ids.size();
  const std::uint64_t want = 150;
  const double rate = static_cast<double>(want) / static_cast<double>(n);
  // The documented keyed rule, recomputed here.
  std::vector<char> in(n);
  std::size_t sampled = 0;
  for (std::size_t i = 0; i < n; ++i) {
    in[i] = par::uniform(kSeed, par::Purpose::silhouette_sample, g.ids[i], 0) < rate;
    sampled += in[i];
  }
  ASSERT_GT(sampled, 100u);
  ASSERT_LT(sampled, 200u);
  // Labels: the planted clusters, every 7th user moved to the next cluster (negative
  // silhouettes), the first sampled user alone in cluster 4, cluster 5 empty (k = 6).
  std::vector<int> labels(n);
  for (std::size_t i = 0; i < n; ++i)
    labels[i] = i % 7 == 0 ? (planted_label(static_cast<int>(i)) + 1) % kPlanted
                           : planted_label(static_cast<int>(i));
  const auto first = static_cast<std::size_t>(std::find(in.begin(), in.end(), 1) - in.begin());
  labels[first] = 4;
  const double expected = brute_silhouette(g.x, labels, in, 6);
  std::vector<char> everyone(n, 1);
  const double expected_all = brute_silhouette(g.x, labels, everyone, 6);
  ASSERT_FALSE(std::isnan(expected));
  for (Split s : kSplits) {
    const auto [lo, hi] = slice(comm, n, s);
    const Data l = part(comm, g, s);
    const std::vector<std::int32_t> mine(labels.begin() + static_cast<std::ptrdiff_t>(lo),
                                         labels.begin() + static_cast<std::ptrdiff_t>(hi));
    const SilhouetteResult r = sample_silhouette(comm, l.x, l.ids, mine, 6, want, kSeed);
    EXPECT_EQ(r.sample_size, sampled);
    EXPECT_NEAR(r.value, expected, 1e-12);
    // A sample as large as the users: every user.
    const SilhouetteResult all = sample_silhouette(comm, l.x, l.ids, mine, 6, n, kSeed);
    EXPECT_EQ(all.sample_size, n);
    EXPECT_NEAR(all.value, expected_all, 1e-12);
  }
  // The sample is not the whole set: the two values differ.
  EXPECT_GT(std::abs(expected - expected_all), 1e-6);
}

TEST(SelectionMpi, ContingencyOverRanksGivesHandComputedAri) {
  auto comm = par::Comm::world();
  // a = 0 0 0 1 1 1, b = 0 0 1 1 2 2, repeated 5 times (30 items) and spread over the ranks:
  // table [[10, 5, 0], [0, 5, 10]]. Pairs together in both: 2·C(10,2) + 2·C(5,2) = 110; in a:
  // 2·C(15,2) = 210; in b: 3·C(10,2) = 135; all: C(30,2) = 435.
  // ARI = (110 − 210·135/435) / ((210 + 135)/2 − 210·135/435) = 39000 / 93375 = 104 / 249;
  // Rand = (435 − 210 − 135 + 2·110) / 435 = 310 / 435.
  std::vector<std::int32_t> a, b;
  const int pa[] = {0, 0, 0, 1, 1, 1}, pb[] = {0, 0, 1, 1, 2, 2};
  for (int r = 0; r < 5; ++r)
    for (int i = 0; i < 6; ++i) {
      a.push_back(pa[i]);
      b.push_back(pb[i]);
    }
  for (Split s : kSplits) {
    const auto [lo, hi] = slice(comm, a.size(), s);
    const std::span<const std::int32_t> la(a.data() + lo, hi - lo), lb(b.data() + lo, hi - lo);
    const Contingency t = contingency(comm, la, lb, 2, 3);
    EXPECT_EQ(t.counts, (std::vector<std::int64_t>{10, 5, 0, 0, 5, 10}));
    EXPECT_NEAR(adjusted_rand_index(t), 104.0 / 249.0, 1e-15);
    EXPECT_NEAR(pair_agreement(t), 310.0 / 435.0, 1e-15);
    // The same partition under other label names: ARI and Rand exactly 1.
    std::vector<std::int32_t> renamed(lb.begin(), lb.end());
    for (auto& v : renamed) v = 2 - v;
    const Contingency same = contingency(comm, lb, renamed, 3, 3);
    EXPECT_EQ(adjusted_rand_index(same), 1.0);
    EXPECT_EQ(pair_agreement(same), 1.0);
    // A mask (the overlap of two subsamples): only the first item of every six, counted.
    std::vector<char> mask(a.size(), 0);
    for (std::size_t i = 0; i < a.size(); i += 6) mask[i] = 1;
    const Contingency m =
        contingency(comm, la, lb, 2, 3, std::span<const char>(mask.data() + lo, hi - lo));
    EXPECT_EQ(m.counts, (std::vector<std::int64_t>{5, 0, 0, 0, 0, 0}));
  }
}

TEST(SelectionMpi, TableEqualsIndependentRecomputation) {
  auto comm = par::Comm::world();
  const Data g = planted(600);
  const auto n = g.ids.size();
  const SelectionOptions o = options();
  const KSelection& sel = reference_selection(comm, g);
  ASSERT_EQ(sel.table.size(), 5u);
  const Eigen::Index d = g.x.cols();

  // ---- the data's clusterings: the documented procedure (keyed candidates, chain) --------
  const Data l = part(comm, g, Split::last_rank);  // another split than select_k's
  const RowMatrix cands = keyed_candidates(comm, l.x, l.ids, d, o.global_candidates, kSeed);
  KMeansResult chain;
  std::vector<char> in_sample(n);
  std::uint64_t sampled = 0;
  for (std::size_t i = 0; i < n; ++i) {
    in_sample[i] = par::uniform(kSeed, par::Purpose::silhouette_sample, g.ids[i], 0) <
                   static_cast<double>(o.silhouette_sample) / static_cast<double>(n);
    sampled += in_sample[i];
  }
  std::vector<double> log_w;
  for (const KScore& row : sel.table) {
    const KMeansResult m = cluster_k(comm, l.x, l.ids, o.kmeans, row.k, kSeed, &chain, cands);
    EXPECT_EQ(bits(m.inertia), bits(row.inertia)) << "k=" << row.k;
    const RowMatrix& c = m.centroids;
    ASSERT_EQ(c.rows(), row.k);
    const double w = brute_inertia(c, g.x);
    EXPECT_NEAR(row.inertia, w, 1e-10 * w) << "k=" << row.k;
    log_w.push_back(std::log(w));
    std::vector<int> labels(n);
    long double simple = 0;
    for (std::size_t i = 0; i < n; ++i) {
      labels[i] = nearest(c, g.x, static_cast<Eigen::Index>(i));
      double a = 0, b = std::numeric_limits<double>::infinity();
      for (Eigen::Index q = 0; q < c.rows(); ++q) {
        const double v = (g.x.row(static_cast<Eigen::Index>(i)) - c.row(q)).norm();
        if (q == labels[i])
          a = v;
        else
          b = std::min(b, v);
      }
      simple += std::max(a, b) > 0 ? (b - a) / std::max(a, b) : 0.0;
    }
    EXPECT_EQ(row.silhouette_sample, sampled);
    EXPECT_NEAR(row.silhouette, brute_silhouette(g.x, labels, in_sample, row.k), 1e-12)
        << "k=" << row.k;
    EXPECT_NEAR(row.simplified_silhouette, static_cast<double>(simple / n), 1e-12) << "k=" << row.k;
  }

  // ---- gap: reference sets regenerated from the documented rule --------------------------
  std::vector<double> lo(static_cast<std::size_t>(d)), hi(static_cast<std::size_t>(d));
  for (Eigen::Index j = 0; j < d; ++j) {
    lo[static_cast<std::size_t>(j)] = g.x.col(j).minCoeff();
    hi[static_cast<std::size_t>(j)] = g.x.col(j).maxCoeff();
  }
  const double keep = static_cast<double>(o.gap_sample) / static_cast<double>(n);
  const Data slots = subset(g, [&](std::size_t i) {
    return par::uniform(kSeed, par::Purpose::gap_reference, g.ids[i], 0xFFFFFFFFu) < keep;
  });
  const auto m = slots.ids.size();
  ASSERT_GT(m, 200u);
  ASSERT_LT(m, 400u);
  const int B = o.gap_references;
  std::vector<std::vector<double>> ref_log(sel.table.size());
  for (int b = 0; b < B; ++b) {
    Data ref = slots;
    for (std::size_t i = 0; i < m; ++i)
      for (Eigen::Index j = 0; j < d; ++j) {
        const double u = par::uniform(kSeed, par::Purpose::gap_reference, slots.ids[i],
                                      static_cast<std::uint32_t>(b * d + j));
        ref.x(static_cast<Eigen::Index>(i), j) =
            lo[static_cast<std::size_t>(j)] +
            (hi[static_cast<std::size_t>(j)] - lo[static_cast<std::size_t>(j)]) * u;
      }
    const std::uint64_t ref_seed =
        derive_seed(kSeed, static_cast<std::uint32_t>(par::Purpose::gap_reference),
                    static_cast<std::uint64_t>(b));
    const Data rl = part(comm, ref, Split::middle_empty);
    const RowMatrix rc = keyed_candidates(comm, rl.x, rl.ids, d, o.global_candidates, ref_seed);
    KMeansOptions ro = o.kmeans;
    ro.n_init = 1;  // one k-means|| start plus the grown one
    ro.canonical_order = false;
    KMeansResult ref_chain;
    for (std::size_t q = 0; q < sel.table.size(); ++q) {
      const KMeansResult r =
          cluster_k(comm, rl.x, rl.ids, ro, sel.table[q].k, ref_seed, &ref_chain, rc);
      ref_log[q].push_back(std::log(brute_inertia(r.centroids, ref.x)) +
                           std::log(static_cast<double>(n) / static_cast<double>(m)));
    }
  }
  for (std::size_t q = 0; q < sel.table.size(); ++q) {
    long double mean = 0, var = 0;
    for (double v : ref_log[q]) mean += v;
    mean /= B;
    for (double v : ref_log[q]) var += (v - mean) * (v - mean);
    const double gap = static_cast<double>(mean) - log_w[q];
    const double sd = std::sqrt(static_cast<double>(var / B)) * std::sqrt(1.0 + 1.0 / B);
    EXPECT_NEAR(sel.table[q].gap, gap, 1e-9) << "k=" << sel.table[q].k;
    EXPECT_NEAR(sel.table[q].gap_sd, sd, 1e-9) << "k=" << sel.table[q].k;
  }

  // ---- stability: subsamples regenerated from the documented rule -------------------------
  const Data base = subset(g, [&](std::size_t i) {
    return par::uniform(kSeed, par::Purpose::bootstrap, g.ids[i], 0xFFFFFFFFu) <
           static_cast<double>(o.stability_sample) / static_cast<double>(n);
  });
  const std::size_t nb = base.ids.size();
  ASSERT_GT(nb, 300u);
  ASSERT_LT(nb, 500u);
  const int R = o.stability_resamples;
  std::vector<std::vector<char>> masks(static_cast<std::size_t>(R), std::vector<char>(nb));
  for (int b = 0; b < R; ++b)
    for (std::size_t i = 0; i < nb; ++i)
      masks[static_cast<std::size_t>(b)][i] =
          par::uniform(kSeed, par::Purpose::bootstrap, base.ids[i], static_cast<std::uint32_t>(b)) <
          o.stability_fraction;
  // labels[q][b][i]: base user i's nearest centroid under subsample b's clustering for k_q.
  std::vector<std::vector<std::vector<int>>> labels(
      sel.table.size(), std::vector<std::vector<int>>(static_cast<std::size_t>(R)));
  for (int b = 0; b < R; ++b) {
    const auto& mask = masks[static_cast<std::size_t>(b)];
    const Data sub = subset(base, [&](std::size_t i) { return mask[i] != 0; });
    const std::uint64_t boot_seed = derive_seed(
        kSeed, static_cast<std::uint32_t>(par::Purpose::bootstrap), static_cast<std::uint64_t>(b));
    const Data sl = part(comm, sub, Split::first_rank);
    const RowMatrix sc = keyed_candidates(comm, sl.x, sl.ids, d, o.global_candidates, boot_seed);
    KMeansOptions ko = o.kmeans;  // the procedure under test, n_init included
    ko.canonical_order = false;
    KMeansResult sub_chain;
    for (std::size_t q = 0; q < sel.table.size(); ++q) {
      const KMeansResult r =
          cluster_k(comm, sl.x, sl.ids, ko, sel.table[q].k, boot_seed, &sub_chain, sc);
      auto& lab = labels[q][static_cast<std::size_t>(b)];
      for (std::size_t i = 0; i < nb; ++i)
        lab.push_back(nearest(r.centroids, base.x, static_cast<Eigen::Index>(i)));
    }
  }
  for (std::size_t q = 0; q < sel.table.size(); ++q) {
    double ari = 0, rand = 0;
    int pairs = 0;
    for (int a = 0; a < R; ++a)
      for (int b = a + 1; b < R; ++b) {
        std::vector<char> both(nb);
        for (std::size_t i = 0; i < nb; ++i)
          both[i] = masks[static_cast<std::size_t>(a)][i] && masks[static_cast<std::size_t>(b)][i];
        // The serial (pure) ARI and Rand index, checked against brute-force pair counting in
        // tests/unit/test_ml_selection.cpp.
        const auto& la = labels[q][static_cast<std::size_t>(a)];
        const auto& lb = labels[q][static_cast<std::size_t>(b)];
        const std::vector<std::int32_t> va(la.begin(), la.end()), vb(lb.begin(), lb.end());
        const Contingency t = contingency(va, vb, sel.table[q].k, sel.table[q].k, both);
        const double x = adjusted_rand_index(t), y = pair_agreement(t);
        ari += x;
        rand += y;
        ++pairs;
      }
    EXPECT_NEAR(sel.table[q].stability_ari, ari / pairs, 1e-12) << "k=" << sel.table[q].k;
    EXPECT_NEAR(sel.table[q].stability_pairs, rand / pairs, 1e-12) << "k=" << sel.table[q].k;
  }
}

TEST(SelectionMpi, PlantedClustersAreFoundByEveryCriterion) {
  auto comm = par::Comm::world();
  const Data g = planted(600);
  const KSelection& sel = reference_selection(comm, g);
  ASSERT_EQ(sel.table.front().k, 2);
  if (comm.rank() == 0) std::printf("%s", k_selection_csv(sel.table).c_str());
  auto row = [&](int k) -> const KScore& { return sel.table[static_cast<std::size_t>(k - 2)]; };
  // Gap: rises to the planted k, then no longer by more than its standard error; the 1-SE
  // rule and the largest gap both give the planted k.
  for (int k = 2; k < kPlanted; ++k) EXPECT_LT(row(k).gap + row(k + 1).gap_sd, row(k + 1).gap);
  for (int k = kPlanted + 1; k <= 6; ++k) EXPECT_LT(row(k).gap, row(kPlanted).gap + row(k).gap_sd);
  EXPECT_EQ(gap_one_se_k(sel.table), kPlanted);
  // Silhouette: largest at the planted k, with a clear margin.
  for (int k = 2; k <= 6; ++k) {
    if (k == kPlanted) continue;
    EXPECT_LT(row(k).silhouette, row(kPlanted).silhouette - 0.05) << k;
  }
  // Stability: the planted clusters are reproduced on every subsample; k + 2 splits round
  // clusters arbitrarily.
  EXPECT_GT(row(kPlanted).stability_ari, 0.999);
  EXPECT_GT(row(kPlanted).stability_pairs, 0.999);
  EXPECT_LT(row(kPlanted + 2).stability_ari, row(kPlanted).stability_ari - 0.05);
  // The rule and the model of the chosen k.
  EXPECT_EQ(sel.choice.k, kPlanted);
  EXPECT_EQ(sel.choice.gap_k, kPlanted);
  EXPECT_EQ(sel.choice.silhouette_k, kPlanted);
  EXPECT_EQ(sel.model.centroids.rows(), kPlanted);
  const auto labels = comm.allgatherv<std::int32_t>(sel.model.labels);
  std::vector<std::int32_t> truth(labels.size());
  for (std::size_t i = 0; i < truth.size(); ++i) truth[i] = planted_label(static_cast<int>(i));
  EXPECT_EQ(adjusted_rand_index(labels, truth), 1.0);
}

TEST(SelectionMpi, SameTableForEverySplitAndForKAlone) {
  auto comm = par::Comm::world();
  const Data g = planted(600);
  const KSelection& ref = reference_selection(comm, g);
  for (Split s : {Split::first_rank, Split::middle_empty}) {
    if (comm.size() == 1) break;  // every split is the one of `ref`
    const Data l = part(comm, g, s);
    const KSelection sel = select_k(comm, l.x, l.ids, options(), kSeed);
    expect_same_table(ref.table, sel.table);
    EXPECT_EQ(sel.choice.k, ref.choice.k);
    EXPECT_EQ(sel.choice.reason, ref.choice.reason);
    expect_same_bits(sel.model.centroids, ref.model.centroids);
  }
  // One k alone (as a k-sweep array task computes it) equals its row of the range, below and
  // above the planted k (the longest chain).
  const Data l = part(comm, g, Split::last_rank);
  for (int k : {3, 6}) {
    SelectionOptions o = options();
    o.k_min = o.k_max = k;
    const KSelection one = select_k(comm, l.x, l.ids, o, kSeed);
    ASSERT_EQ(one.table.size(), 1u);
    expect_same_table({ref.table[static_cast<std::size_t>(k - 2)]}, one.table);
  }
}
