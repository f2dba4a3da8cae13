// Distributed k-means under mpirun -np 1..4:
//  - the same global data split over the ranks three ways (even, all on rank 0, all on the last
//    rank, so that with P > 1 some ranks own no users) gives bit-identical centroids, labels and
//    inertia: the result does not depend on who holds which user;
//  - Lloyd from given centroids equals a plain serial Lloyd (every rank runs it on all data);
//    the centroid of identical users is exactly their value (inertia exactly 0);
//  - k-means|| finds planted, well separated blobs; n_init never raises the inertia; max_iter
//    and tol stop the iterations;
//  - edge cases: fewer users than k (a clear error on every rank), one user, all users
//    identical, a rank owning no users, an empty cluster that must be reseeded.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <set>
#include <vector>

#include "ecom/core/error.hpp"
#include "ecom/ml/kmeans.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/random.hpp"
#include "ml_split.hpp"

using namespace ecom;
using namespace ecom::ml;
using namespace ecom::ml_test;

namespace {

// The whole data set, identical on every rank: ascending user ids and their rows.
struct Global {
  std::vector<std::uint64_t> ids;
  RowMatrix x;
};

// `blobs` Gaussian blobs of `per_blob` users in `d` dimensions, centres 10 apart on the axes,
// spread 1. User ids are spread over the 64-bit space (as pseudonyms) and ascending.
Global make_blobs(int blobs, int per_blob, int d, std::uint64_t seed = 7) {
  Global g;
  const int n = blobs * per_blob;
  g.x.resize(n, d);
  for (int i = 0; i < n; ++i) {
    g.ids.push_back(static_cast<std::uint64_t>(i + 1) * 0x9E3779B97F4A7C15ull / 4 * 3 / 7 + 1000);
    const int b = i % blobs;
    for (int j = 0; j < d; ++j)
      g.x(i, j) = (j == b % d ? 10.0 * (1 + b / d) : 0.0) +
                  par::normal(seed, par::Purpose::test, static_cast<std::uint64_t>(i),
                              static_cast<std::uint32_t>(j));
  }
  std::sort(g.ids.begin(), g.ids.end());
  return g;
}

struct Local {
  std::vector<std::uint64_t> ids;
  RowMatrix x;
  std::size_t first = 0;
};

Local local_part(const par::Comm& comm, const Global& g, Split s) {
  const auto [lo, hi] = slice(comm, g.ids.size(), s);
  Local l;
  l.first = lo;
  l.ids.assign(g.ids.begin() + static_cast<std::ptrdiff_t>(lo),
               g.ids.begin() + static_cast<std::ptrdiff_t>(hi));
  l.x = g.x.middleRows(static_cast<Eigen::Index>(lo), static_cast<Eigen::Index>(hi - lo));
  return l;
}

// The labels of every user, gathered in global order.
std::vector<std::int32_t> all_labels(par::Comm& comm, const KMeansResult& r) {
  return comm.allgatherv<std::int32_t>(r.labels);
}

void expect_same_bits(const RowMatrix& a, const RowMatrix& b) {
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.cols(), b.cols());
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    for (Eigen::Index j = 0; j < a.cols(); ++j)
      EXPECT_EQ(bits(a(i, j)), bits(b(i, j))) << "(" << i << "," << j << ")";
}

KMeansResult run(par::Comm& comm, const Global& g, Split s, const KMeansOptions& o,
                 std::uint64_t seed = 3) {
  const Local l = local_part(comm, g, s);
  return kmeans(comm, l.x, l.ids, o, seed);
}

// Plain serial Lloyd (sums in user order, ties to the lower index), for reference.
RowMatrix serial_lloyd(const RowMatrix& x, RowMatrix c, int iterations, std::vector<int>& labels) {
  const Eigen::Index n = x.rows(), k = c.rows();
  labels.assign(static_cast<std::size_t>(n), 0);
  for (int it = 0; it <= iterations; ++it) {
    for (Eigen::Index i = 0; i < n; ++i) {
      double best = std::numeric_limits<double>::infinity();
      for (Eigen::Index q = 0; q < k; ++q) {
        const double v = (x.row(i) - c.row(q)).squaredNorm();
        if (v < best) {
          best = v;
          labels[static_cast<std::size_t>(i)] = static_cast<int>(q);
        }
      }
    }
    if (it == iterations) break;
    RowMatrix sums = RowMatrix::Zero(k, x.cols());
    std::vector<double> cnt(static_cast<std::size_t>(k), 0);
    for (Eigen::Index i = 0; i < n; ++i) {
      sums.row(labels[static_cast<std::size_t>(i)]) += x.row(i);
      cnt[static_cast<std::size_t>(labels[static_cast<std::size_t>(i)])] += 1;
    }
    for (Eigen::Index q = 0; q < k; ++q)
      if (cnt[static_cast<std::size_t>(q)] > 0)
        c.row(q) = sums.row(q) / cnt[static_cast<std::size_t>(q)];
  }
  return c;
}

}  // namespace

TEST(KMeansMpi, SameResultForEverySplitOfTheUsers) {
  auto comm = par::Comm::world();
  const Global g = make_blobs(5, 61, 4);  // 305 users: not divisible by 2, 3 or 4
  KMeansOptions o;
  o.k = 5;
  o.n_init = 2;
  o.block_rows = 7;  // odd blocks: kernel tails in play
  const KMeansResult ref = run(comm, g, Split::first_rank, o);
  const auto ref_labels = all_labels(comm, ref);
  for (Split s : {Split::even, Split::last_rank, Split::middle_empty}) {
    const KMeansResult r = run(comm, g, s, o);
    expect_same_bits(ref.centroids, r.centroids);
    EXPECT_EQ(bits(ref.inertia), bits(r.inertia));
    EXPECT_EQ(ref.sizes, r.sizes);
    EXPECT_EQ(ref.iterations, r.iterations);
    EXPECT_EQ(ref_labels, all_labels(comm, r));
  }
  // A different block size changes nothing either.
  o.block_rows = 256;
  const KMeansResult b = run(comm, g, Split::even, o);
  expect_same_bits(ref.centroids, b.centroids);
  EXPECT_EQ(ref_labels, all_labels(comm, b));
}

TEST(KMeansMpi, FindsPlantedBlobsAndReportsConsistently) {
  auto comm = par::Comm::world();
  const Global g = make_blobs(4, 50, 3);
  KMeansOptions o;
  o.k = 4;
  const KMeansResult r = run(comm, g, Split::even, o);
  const auto labels = all_labels(comm, r);
  ASSERT_EQ(labels.size(), g.ids.size());
  // Every planted blob maps to one cluster, and distinct blobs to distinct clusters.
  std::set<int> seen;
  for (int b = 0; b < 4; ++b) {
    std::set<int> of_blob;
    for (std::size_t i = static_cast<std::size_t>(b); i < labels.size(); i += 4)
      of_blob.insert(labels[i]);
    EXPECT_EQ(of_blob.size(), 1u) << "blob " << b;
    seen.insert(*of_blob.begin());
  }
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.n_total, g.ids.size());
  // Sizes and inertia agree with the labels and a direct computation.
  std::vector<std::uint64_t> sizes(4, 0);
  double inertia = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    ++sizes[static_cast<std::size_t>(labels[i])];
    inertia += (g.x.row(static_cast<Eigen::Index>(i)) - r.centroids.row(labels[i])).squaredNorm();
  }
  EXPECT_EQ(sizes, r.sizes);
  EXPECT_NEAR(r.inertia, inertia, 1e-9 * inertia);
  // Canonical numbering: sizes non-increasing.
  for (std::size_t c = 1; c < r.sizes.size(); ++c) EXPECT_GE(r.sizes[c - 1], r.sizes[c]);
  // Candidates: the first one plus about 2k per round for 2 rounds (at most n).
  EXPECT_GE(r.candidates, o.k);
}

TEST(KMeansMpi, LloydEqualsSerialReference) {
  auto comm = par::Comm::world();
  const Global g = make_blobs(3, 40, 2, 19);
  // A poor start: three users of the same blob (users 0, 3, 6 all belong to blob 0), so that
  // several iterations are needed; no cluster is ever empty.
  RowMatrix init(3, 2);
  for (Eigen::Index q = 0; q < 3; ++q) init.row(q) = g.x.row(3 * q);
  KMeansOptions o;
  o.k = 3;
  o.max_iter = 50;
  o.tol = 0;  // stops only when no centroid moves at all
  const Local l = local_part(comm, g, Split::even);
  const KMeansResult r = lloyd(comm, l.x, l.ids, init, o);
  EXPECT_GE(r.iterations, 3);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.reseeded, 0);
  std::vector<int> ref_labels;
  const RowMatrix ref = serial_lloyd(g.x, init, r.iterations, ref_labels);
  for (Eigen::Index q = 0; q < 3; ++q)
    for (Eigen::Index j = 0; j < 2; ++j) EXPECT_NEAR(r.centroids(q, j), ref(q, j), 1e-12);
  const auto labels = all_labels(comm, r);
  for (std::size_t i = 0; i < labels.size(); ++i) EXPECT_EQ(labels[i], ref_labels[i]) << i;
}

TEST(KMeansMpi, MaxIterAndTolStop) {
  auto comm = par::Comm::world();
  const Global g = make_blobs(3, 40, 2);
  KMeansOptions o;
  o.k = 3;
  o.max_iter = 1;
  o.tol = 0;
  EXPECT_EQ(run(comm, g, Split::even, o).iterations, 1);
  o.max_iter = 100;
  o.tol = 1e9;  // any move is small enough: stops after the first iteration
  const KMeansResult r = run(comm, g, Split::even, o);
  EXPECT_EQ(r.iterations, 1);
  EXPECT_TRUE(r.converged);
}

TEST(KMeansMpi, MoreInitialisationsNeverRaiseInertia) {
  auto comm = par::Comm::world();
  const Global g = make_blobs(6, 20, 2, 5);  // overlapping blobs: local minima exist
  KMeansOptions o;
  o.k = 6;
  const double one = run(comm, g, Split::even, o).inertia;
  o.n_init = 4;
  const KMeansResult many = run(comm, g, Split::middle_empty, o);
  EXPECT_LE(many.inertia, one);
  EXPECT_GE(many.best_init, 0);
  EXPECT_LT(many.best_init, 4);
}

TEST(KMeansMpi, FewerUsersThanKIsAClearErrorOnEveryRank) {
  auto comm = par::Comm::world();
  const Global g = make_blobs(1, 3, 2);
  KMeansOptions o;
  o.k = 5;
  try {
    run(comm, g, Split::even, o);
    ADD_FAILURE() << "no error for 3 users and k = 5";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("only 3 users"), std::string::npos) << e.what();
  }
  o.k = 0;
  EXPECT_THROW(run(comm, g, Split::even, o), UserError);
  // k equal to the number of users works: every user its own cluster, inertia 0.
  o.k = 3;
  const KMeansResult r = run(comm, g, Split::last_rank, o);
  EXPECT_EQ(r.inertia, 0.0);
  EXPECT_EQ(r.sizes, (std::vector<std::uint64_t>{1, 1, 1}));
}

TEST(KMeansMpi, OneUser) {
  auto comm = par::Comm::world();
  Global g;
  g.ids = {42};
  g.x.resize(1, 3);
  g.x << 1.5, -2.0, 3.25;
  KMeansOptions o;
  o.k = 1;
  for (Split s : {Split::even, Split::first_rank, Split::last_rank}) {
    const KMeansResult r = run(comm, g, s, o);
    ASSERT_EQ(r.centroids.rows(), 1);
    EXPECT_EQ(r.centroids(0, 0), 1.5);
    EXPECT_EQ(r.centroids(0, 1), -2.0);
    EXPECT_EQ(r.centroids(0, 2), 3.25);
    EXPECT_EQ(r.inertia, 0.0);
    EXPECT_EQ(r.n_total, 1u);
    EXPECT_TRUE(r.converged);
    const auto labels = all_labels(comm, r);
    EXPECT_EQ(labels, std::vector<std::int32_t>{0});
  }
  o.k = 2;
  EXPECT_THROW(run(comm, g, Split::even, o), UserError);
}

TEST(KMeansMpi, AllUsersIdentical) {
  auto comm = par::Comm::world();
  Global g;
  const int n = 37;
  g.x.resize(n, 2);
  for (int i = 0; i < n; ++i) {
    g.ids.push_back(static_cast<std::uint64_t>(1000 + 17 * i));
    g.x(i, 0) = 0.1;  // 0.1 is inexact: the GEMM form leaves rounding residue
    g.x(i, 1) = -7.3;
  }
  KMeansOptions o;
  o.k = 3;
  o.n_init = 2;
  const KMeansResult ref = run(comm, g, Split::first_rank, o);
  for (Split s : {Split::even, Split::last_rank, Split::middle_empty}) {
    const KMeansResult r = run(comm, g, s, o);
    EXPECT_EQ(r.inertia, 0.0);
    EXPECT_TRUE(r.converged);
    EXPECT_LE(r.iterations, 2) << "identical users must not spin through max_iter";
    for (Eigen::Index c = 0; c < r.centroids.rows(); ++c) {
      EXPECT_EQ(r.centroids(c, 0), 0.1);
      EXPECT_EQ(r.centroids(c, 1), -7.3);
    }
    std::uint64_t total = 0;
    for (auto v : r.sizes) total += v;
    EXPECT_EQ(total, static_cast<std::uint64_t>(n));
    for (double v : r.dist2) EXPECT_EQ(v, 0.0);
    expect_same_bits(ref.centroids, r.centroids);
    EXPECT_EQ(all_labels(comm, ref), all_labels(comm, r));
  }
}

TEST(KMeansMpi, EmptyClusterIsReseededDeterministically) {
  auto comm = par::Comm::world();
  // Two tight groups and a far outlier; start with a centroid nobody is nearest to.
  Global g;
  const int n = 41;
  g.x.resize(n, 2);
  for (int i = 0; i < n; ++i) {
    g.ids.push_back(static_cast<std::uint64_t>(50 + 3 * i));
    const double jitter = 0.01 * (i % 7);
    g.x(i, 0) = (i < 20 ? 0.0 : 5.0) + jitter;
    g.x(i, 1) = jitter;
  }
  g.x(n - 1, 0) = 100;  // the farthest user from any start centroid
  g.x(n - 1, 1) = 100;
  RowMatrix init(3, 2);
  init << 0.0, 0.0, 5.0, 0.0, -1000.0, -1000.0;  // cluster 2 is empty at the first step
  KMeansOptions o;
  o.k = 3;
  RowMatrix ref_centroids;
  std::vector<std::int32_t> ref_labels;
  for (Split s : {Split::first_rank, Split::even, Split::last_rank, Split::middle_empty}) {
    const Local l = local_part(comm, g, s);
    const KMeansResult r = lloyd(comm, l.x, l.ids, init, o);
    EXPECT_GE(r.reseeded, 1);
    // The outlier ends alone in a cluster: the reseeded one.
    const auto labels = all_labels(comm, r);
    const int outlier = labels[static_cast<std::size_t>(n - 1)];
    EXPECT_EQ(r.sizes[static_cast<std::size_t>(outlier)], 1u);
    EXPECT_EQ(r.centroids(outlier, 0), 100.0);
    for (auto v : r.sizes) EXPECT_GT(v, 0u);
    if (s == Split::first_rank) {
      ref_centroids = r.centroids;
      ref_labels = labels;
    } else {
      expect_same_bits(ref_centroids, r.centroids);
      EXPECT_EQ(ref_labels, labels);
    }
  }
}

TEST(KMeansMpi, InitialisationIsKeyedByUser) {
  auto comm = par::Comm::world();
  const Global g = make_blobs(4, 30, 3, 23);
  KMeansOptions o;
  o.k = 4;
  int c_ref = 0;
  const Local a = local_part(comm, g, Split::first_rank);
  const RowMatrix ref = kmeans_parallel_init(comm, a.x, a.ids, o, 9, &c_ref);
  for (Split s : {Split::even, Split::last_rank, Split::middle_empty}) {
    const Local l = local_part(comm, g, s);
    int c = 0;
    const RowMatrix init = kmeans_parallel_init(comm, l.x, l.ids, o, 9, &c);
    EXPECT_EQ(c, c_ref);
    expect_same_bits(ref, init);
  }
  // Every initial centre is one of the users' rows (weighted k-means++ picks candidates and
  // then averages them: with well separated blobs, each centre lies inside one blob).
  for (Eigen::Index q = 0; q < ref.rows(); ++q) {
    double nearest = std::numeric_limits<double>::infinity();
    for (Eigen::Index i = 0; i < g.x.rows(); ++i)
      nearest = std::min(nearest, (g.x.row(i) - ref.row(q)).norm());
    EXPECT_LT(nearest, 3.0);
  }
  // Another seed gives another (still valid) start.
  const RowMatrix other = kmeans_parallel_init(comm, a.x, a.ids, o, 10, nullptr);
  EXPECT_TRUE((ref.array() != other.array()).any());
}
