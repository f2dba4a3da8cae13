// k-means and PCA benchmark on the matrices of a finished run (not a test: it prints figures).
//
//   mpirun -np 2 build/bench/bench_kmeans RUNDIR/ecom.h5 [k] [n_init] [fixed_iters] [init.csv]
//
// Reads /users/pseudonym, /users/pca_scores and /users/transformed of RUNDIR/ecom.h5 (each rank
// its contiguous slice, so the ranks' users stay in pseudonym order) and prints, as
// `key value` lines (bench/bench_kmeans.sh turns them into results/bench/kmeans.txt):
//  - Lloyd seconds per iteration, from a fixed start (the first k users, or the centroids in
//    init.csv, k lines of comma-separated values), tol = 0, exactly `fixed_iters` iterations;
//  - the full algorithm (k-means|| + Lloyd, default options) run `n_init` times with derived
//    seeds: inertia of each, the best, iterations, init and Lloyd seconds;
//  - PCA on /users/transformed: seconds of the exact moments and of the eigen-decomposition.
// Times are the max over ranks.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "ecom/io/h5.hpp"
#include "ecom/ml/kmeans.hpp"
#include "ecom/ml/pca.hpp"
#include "ecom/par/comm.hpp"
#include "ecom/par/environment.hpp"
#include "ecom/par/random.hpp"

using namespace ecom;
namespace h5 = ecom::io::h5;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Slice {
  std::uint64_t first = 0, rows = 0;
};
Slice my_slice(const par::Comm& comm, std::uint64_t n) {
  const auto p = static_cast<std::uint64_t>(comm.size()),
             r = static_cast<std::uint64_t>(comm.rank());
  return {r * n / p, (r + 1) * n / p - r * n / p};
}

ml::RowMatrix read_matrix(par::Comm& comm, const h5::Group& root, const std::string& name) {
  const auto ds = root.open_dataset(name);
  const Slice s = my_slice(comm, ds.rows());
  const auto v = h5::read_rows<double>(comm, ds, s.first, s.rows);
  const auto cols = static_cast<Eigen::Index>(ds.cols());
  return Eigen::Map<const ml::RowMatrix>(v.data(), static_cast<Eigen::Index>(s.rows), cols);
}

ml::RowMatrix read_init(const std::string& path, int k, Eigen::Index d) {
  ml::RowMatrix c(k, d);
  std::ifstream in(path);
  std::string line;
  for (int q = 0; q < k; ++q) {
    if (!std::getline(in, line)) throw std::runtime_error("init file: too few lines in " + path);
    std::istringstream ls(line);
    for (Eigen::Index j = 0; j < d; ++j) {
      std::string cell;
      std::getline(ls, cell, ',');
      c(q, j) = std::stod(cell);
    }
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  par::Environment env(argc, argv);
  auto comm = par::Comm::world();
  if (argc < 2) {
    if (comm.rank() == 0)
      std::cerr
          << "usage: bench_kmeans RUNDIR/ecom.h5 [k=5] [n_init=10] [fixed_iters=20] [init.csv]\n";
    return 2;
  }
  const std::string path = argv[1];
  const int k = argc > 2 ? std::stoi(argv[2]) : 5;
  const int n_init = argc > 3 ? std::stoi(argv[3]) : 10;
  const int fixed_iters = argc > 4 ? std::stoi(argv[4]) : 20;
  const std::string init_path = argc > 5 ? argv[5] : "";
  auto out = [&](const std::string& key, double v) {
    if (comm.rank() == 0) std::printf("%s %.9g\n", key.c_str(), v);
  };
  auto tmax = [&](double t) { return comm.allreduce_max(t); };

  auto t0 = Clock::now();
  std::vector<std::uint64_t> ids;
  ml::RowMatrix scores, transformed;
  {
    auto file = h5::File::open(comm, path, false);
    {
      const auto& root = file.root();
      const auto ids_ds = root.open_dataset("users/pseudonym");
      const Slice s = my_slice(comm, ids_ds.rows());
      ids = h5::read_rows<std::uint64_t>(comm, ids_ds, s.first, s.rows);
      scores = read_matrix(comm, root, "users/pca_scores");
      transformed = read_matrix(comm, root, "users/transformed");
    }  // datasets closed before the file
    file.close();
  }
  const double read_s = tmax(since(t0));
  const auto n = comm.allreduce_sum<std::uint64_t>(static_cast<std::uint64_t>(scores.rows()));
  const auto d = static_cast<Eigen::Index>(comm.allreduce_max<long long>(scores.cols()));
  out("ranks", comm.size());
  out("users", static_cast<double>(n));
  out("dims", static_cast<double>(d));
  out("k", k);
  out("read_seconds", read_s);

  // ---- PCA on the transformed matrix --------------------------------------------------------
  {
    comm.barrier();
    t0 = Clock::now();
    const ml::Moments m = ml::exact_moments(comm, transformed);
    const double moments_s = tmax(since(t0));
    t0 = Clock::now();
    const ml::Pca p = ml::pca_from_moments(m, {});
    const double eigen_s = since(t0);
    t0 = Clock::now();
    const ml::RowMatrix proj = p.project(transformed);
    const double project_s = tmax(since(t0));
    out("pca_moments_seconds", moments_s);
    out("pca_eigen_seconds", eigen_s);
    out("pca_project_seconds", project_s);
    for (Eigen::Index c = 0; c < p.eigenvalues.size(); ++c)
      out("pca_eigenvalue_" + std::to_string(c), p.eigenvalues(c));
    (void)proj;
  }

  // ---- Lloyd from a fixed start: seconds per iteration ------------------------------------
  {
    ml::RowMatrix init;
    if (!init_path.empty()) {
      init = read_init(init_path, k, d);
    } else {
      // The first k users in pseudonym order (on whichever ranks they are).
      std::vector<double> mine;
      for (Eigen::Index i = 0; i < scores.rows(); ++i)
        for (Eigen::Index j = 0; j < d; ++j) mine.push_back(scores(i, j));
      const auto all = comm.allgatherv<double>(std::span<const double>(
          mine.data(), std::min<std::size_t>(mine.size(), static_cast<std::size_t>(k * d))));
      init = Eigen::Map<const ml::RowMatrix>(all.data(), k, d);
    }
    ml::KMeansOptions o;
    o.k = k;
    o.tol = 0;
    o.max_iter = fixed_iters;
    comm.barrier();
    t0 = Clock::now();
    const ml::KMeansResult r = ml::lloyd(comm, scores, ids, init, o);
    const double lloyd_s = tmax(since(t0));
    out("fixed_iterations", r.iterations);
    out("fixed_lloyd_seconds", lloyd_s);
    out("fixed_seconds_per_iter", lloyd_s / std::max(1, r.iterations));
    out("fixed_inertia", r.inertia);
  }

  // ---- the full algorithm, n_init times ---------------------------------------------------
  {
    ml::KMeansOptions o;
    o.k = k;
    double best = 0;
    double total_iters = 0, total_lloyd = 0;
    comm.barrier();
    const auto t_all = Clock::now();
    for (int r = 0; r < n_init; ++r) {
      const std::uint64_t seed =
          ml::derive_seed(1, static_cast<std::uint32_t>(par::Purpose::kmeans_init),
                          static_cast<std::uint64_t>(r) + 1000);
      const ml::KMeansResult res = ml::kmeans(comm, scores, ids, o, seed);
      const double lloyd_s = tmax(res.lloyd_seconds);
      out("init_" + std::to_string(r) + "_inertia", res.inertia);
      out("init_" + std::to_string(r) + "_iterations", res.iterations);
      out("init_" + std::to_string(r) + "_init_seconds", tmax(res.init_seconds));
      out("init_" + std::to_string(r) + "_lloyd_seconds", lloyd_s);
      total_iters += res.iterations;
      total_lloyd += lloyd_s;
      if (r == 0 || res.inertia < best) best = res.inertia;
    }
    out("best_inertia", best);
    out("full_seconds", tmax(since(t_all)));
    out("mean_iterations", total_iters / n_init);
    out("full_seconds_per_lloyd_iter", total_lloyd / std::max(1.0, total_iters));
  }
  return 0;
}
