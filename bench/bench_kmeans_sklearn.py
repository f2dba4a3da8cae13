#!/usr/bin/python3
"""scikit-learn KMeans and numpy PCA on the matrices of a finished run (the reference side of
bench/bench_kmeans.sh; not a test).

usage: OMP_NUM_THREADS=2 bench_kmeans_sklearn.py RUNDIR/ecom.h5 [k=5] [n_init=10] [fixed_iters=20]
       [init.csv]

Prints `key value` lines:
- Lloyd seconds per iteration from a fixed start (the first k users in pseudonym order, or the
  centroids in init.csv), tol = 0, at most fixed_iters iterations, algorithm "lloyd", best of
  3 repetitions;
- KMeans(n_clusters=k, n_init=n_init, algorithm="lloyd") with k-means++: the best inertia of
  the n_init initialisations (scikit-learn keeps the best), the iterations of that run, seconds;
- numpy PCA of /users/transformed: numpy.cov + numpy.linalg.eigh seconds and eigenvalues.
The number of threads is capped with threadpoolctl at OMP_NUM_THREADS (default 2).
"""
import os
import sys
import time

import h5py
import numpy as np
import sklearn
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits


def main():
    path = sys.argv[1]
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    n_init = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    fixed_iters = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    init_path = sys.argv[5] if len(sys.argv) > 5 else None
    threads = int(os.environ.get("OMP_NUM_THREADS", "2"))
    t0 = time.perf_counter()
    with h5py.File(path, "r") as h:
        x = np.ascontiguousarray(h["users/pca_scores"][...], dtype=np.float64)
        z = np.ascontiguousarray(h["users/transformed"][...], dtype=np.float64)
    print(f"sklearn_version {sklearn.__version__}")
    print(f"threads {threads}")
    print(f"users {x.shape[0]}")
    print(f"dims {x.shape[1]}")
    print(f"read_seconds {time.perf_counter() - t0:.6f}")

    with threadpool_limits(limits=threads):
        # numpy PCA on the same transformed matrix.
        t0 = time.perf_counter()
        cov = np.cov(z, rowvar=False)
        t_cov = time.perf_counter() - t0
        t0 = time.perf_counter()
        w = np.linalg.eigh(cov)[0][::-1]
        t_eig = time.perf_counter() - t0
        print(f"pca_cov_seconds {t_cov:.6f}")
        print(f"pca_eigen_seconds {t_eig:.6f}")
        for c, v in enumerate(w):
            print(f"pca_eigenvalue_{c} {v:.9g}")

        # Lloyd from a fixed start.
        init = np.loadtxt(init_path, delimiter=",", ndmin=2) if init_path else x[:k].copy()
        best = None
        for _ in range(3):
            km = KMeans(n_clusters=k, init=init, n_init=1, max_iter=fixed_iters, tol=0,
                        algorithm="lloyd")
            t0 = time.perf_counter()
            km.fit(x)
            t = time.perf_counter() - t0
            if best is None or t < best[0]:
                best = (t, km.n_iter_, km.inertia_)
        print(f"fixed_iterations {best[1]}")
        print(f"fixed_lloyd_seconds {best[0]:.6f}")
        print(f"fixed_seconds_per_iter {best[0] / best[1]:.9g}")
        print(f"fixed_inertia {best[2]:.12g}")

        # The full algorithm: k-means++ and n_init initialisations, the best kept.
        km = KMeans(n_clusters=k, n_init=n_init, algorithm="lloyd", random_state=0)
        t0 = time.perf_counter()
        km.fit(x)
        t = time.perf_counter() - t0
        print(f"best_inertia {km.inertia_:.12g}")
        print(f"best_iterations {km.n_iter_}")
        print(f"full_seconds {t:.6f}")


if __name__ == "__main__":
    main()
