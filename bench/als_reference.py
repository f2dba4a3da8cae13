#!/usr/bin/python3
"""Reference implicit ALS (Hu, Koren, Volinsky 2008) in NumPy/SciPy, for bench/bench_als.sh.

    OMP_NUM_THREADS=2 /usr/bin/python3 bench/als_reference.py MATRIX.h5 [threads=2] [iterations]

The same algorithm as ecom's: confidence c = 1 + alpha r, the Gram-matrix trick
(Y^T Y + lambda I + Y^T (C_u - I) Y), a conjugate-gradient solve of each row's normal equations
warm-started from the previous factors (`cg_steps` steps, as the `implicit` library), users
then items per iteration, initial factors normal * init_scale for rows with training pairs (zero
otherwise). The CG runs on blocks of rows at once (dense Y^T Y products by BLAS, the sparse part
by gathers and segment sums), blocks spread over `threads` Python threads (NumPy and SciPy
release the GIL in these kernels).

MATRIX.h5 is written by build/bench/bench_als: datasets user, product, strength, is_test,
purchased (one row per pair with strength > 0) and the ALS settings as attributes. Prints
`key value` lines: seconds per iteration, holdout precision@10 / recall / MAP / NDCG (users
with >= 1 training and >= 1 test pair; the catalogue minus the user's training products is
ranked, ties to the lower product id), and the seconds of top-10 for every user over every
product (excluding the user's purchased products).
"""
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
import scipy
import scipy.sparse as sp


def load(path):
    with h5py.File(path, "r") as f:
        user = f["user"][:]
        product = f["product"][:]
        strength = f["strength"][:]
        is_test = f["is_test"][:].astype(bool)
        purchased = f["purchased"][:].astype(bool)
        attrs = {k: f.attrs[k] for k in f.attrs}
    return user, product, strength, is_test, purchased, attrs


def blocks(indptr, rows, target_nnz=65536):
    """Splits `rows` (indices of non-empty rows, ascending) into blocks of about target_nnz."""
    out, start, acc = [], 0, 0
    for i, r in enumerate(rows):
        acc += indptr[r + 1] - indptr[r]
        if acc >= target_nnz:
            out.append(rows[start:i + 1])
            start, acc = i + 1, 0
    if start < len(rows):
        out.append(rows[start:])
    return out


def cg_block(rows, C, Y, X, gram, steps):
    """CG steps for the rows `rows` (all with >= 1 pair) of X, in place."""
    indptr, indices, data = C.indptr, C.indices, C.data
    counts = indptr[rows + 1] - indptr[rows]
    pos = _gather_positions(indptr, rows, counts)
    cols = indices[pos]
    w = data[pos]                   # c - 1
    seg = np.concatenate(([0], np.cumsum(counts)[:-1]))
    owner = np.repeat(np.arange(len(rows)), counts)
    Yg = Y[cols]                    # nnz x k

    def a_times(P):
        d = np.einsum("ij,ij->i", Yg, P[owner])
        return P @ gram + np.add.reduceat(Yg * (w * d)[:, None], seg, axis=0)

    x = X[rows]
    b = np.add.reduceat(Yg * (w + 1.0)[:, None], seg, axis=0)
    r = b - a_times(x)
    p = r.copy()
    rs = np.einsum("ij,ij->i", r, r)
    for _ in range(steps):
        live = rs >= 1e-20
        if not live.any():
            break
        ap = a_times(p)
        pap = np.einsum("ij,ij->i", p, ap)
        alpha = np.where(live, rs / np.where(live, pap, 1.0), 0.0)
        x += alpha[:, None] * p
        r -= alpha[:, None] * ap
        rs_new = np.einsum("ij,ij->i", r, r)
        beta = np.where(live, rs_new / np.where(live, rs, 1.0), 0.0)
        p = r + beta[:, None] * p
        rs = np.where(live, rs_new, rs)
    X[rows] = x


def _gather_positions(indptr, rows, counts):
    starts = indptr[rows]
    offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + offs


def solve_side(C, Y, X, lam, steps, block_list, pool):
    k = Y.shape[1]
    gram = Y.T @ Y + lam * np.eye(k)
    list(pool.map(lambda rows: cg_block(rows, C, Y, X, gram, steps), block_list))


def top_k(scores, k, product_ids):
    """Indices of the k best columns per row: higher score first, ties to the lower product id
    (columns are in ascending product id, so to the lower column)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    s = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -s), axis=1)
    return np.take_along_axis(part, order, axis=1)


def main():
    path = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    user, product, strength, is_test, purchased, attrs = load(path)
    k = int(attrs["factors"])
    lam = float(attrs["regularization"])
    alpha = float(attrs["alpha"])
    iterations = int(sys.argv[3]) if len(sys.argv) > 3 else int(attrs["iterations"])
    steps = int(attrs["cg_steps"])
    scale = float(attrs["init_scale"])
    users, uidx = np.unique(user, return_inverse=True)
    items, iidx = np.unique(product, return_inverse=True)
    nu, ni = len(users), len(items)
    train = ~is_test
    Cui = sp.csr_matrix((alpha * strength[train], (uidx[train], iidx[train])), shape=(nu, ni))
    Cui.sort_indices()
    Ciu = Cui.T.tocsr()
    Ciu.sort_indices()
    print(f"numpy_version {np.__version__}")
    blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower() and ".so" in l})
    print(f"blas {blas[0] if blas else 'unknown'}")
    print(f"scipy_version {scipy.__version__}")
    print(f"threads {threads}")
    print(f"users {nu}\nproducts {ni}\ntrain_pairs {Cui.nnz}\ntest_pairs {int(is_test.sum())}")
    print(f"factors {k}\niterations {iterations}\ncg_steps {steps}")

    rng = np.random.default_rng(1)
    u_rows = np.flatnonzero(np.diff(Cui.indptr) > 0)
    i_rows = np.flatnonzero(np.diff(Ciu.indptr) > 0)
    X = np.zeros((nu, k))
    Y = np.zeros((ni, k))
    X[u_rows] = rng.standard_normal((len(u_rows), k)) * scale
    Y[i_rows] = rng.standard_normal((len(i_rows), k)) * scale
    u_blocks = blocks(Cui.indptr, u_rows)
    i_blocks = blocks(Ciu.indptr, i_rows)
    times, cpu = [], []
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for it in range(iterations):
            t0, c0 = time.perf_counter(), time.process_time()
            solve_side(Cui, Y, X, lam, steps, u_blocks, pool)
            solve_side(Ciu, X, Y, lam, steps, i_blocks, pool)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            print(f"iteration_{it + 1}_seconds {times[-1]:.6f}", flush=True)
        print(f"seconds_per_iteration {np.mean(times):.6f}")
        # CPU seconds of all threads together per iteration (wall times mislead when shared)
        print(f"cpu_seconds_per_iteration {np.mean(cpu):.6f}")
        # training loss, as ecom's: sum_ui c (p - s)^2 over all pairs + lambda (|X|^2 + |Y|^2)
        s_obs = np.einsum("ij,ij->i", X[uidx[train]], Y[iidx[train]])
        c = 1.0 + alpha * strength[train]
        loss = (np.sum(c * (1 - s_obs) ** 2 - s_obs ** 2) + np.sum((X.T @ X) * (Y.T @ Y))
                + lam * (np.sum(X * X) + np.sum(Y * Y)))
        print(f"final_loss {loss:.9g}")

        # ---- holdout evaluation (the protocol of ecom's evaluate_holdout) ----
        t0 = time.perf_counter()
        Ctest = sp.csr_matrix((np.ones(int(is_test.sum())), (uidx[is_test], iidx[is_test])), shape=(nu, ni))
        has_test = np.diff(Ctest.indptr) > 0
        eval_users = np.flatnonzero(has_test & (np.diff(Cui.indptr) > 0))
        disc = 1.0 / np.log2(np.arange(2, 12))

        def evaluate(us, scorer):
            out = np.zeros(4)
            S = scorer(us)
            tr = Cui[us]
            S[tr.nonzero()] = -np.inf
            top = top_k(S, 10, items)
            te = Ctest[us]
            for j in range(len(us)):
                rel = te.indices[te.indptr[j]:te.indptr[j + 1]]
                hit = np.isin(top[j], rel)
                nrel = len(rel)
                h = hit.sum()
                out[0] += h / 10.0
                out[1] += h / nrel
                out[2] += np.sum(np.cumsum(hit)[hit] / (np.flatnonzero(hit) + 1.0)) / min(10, nrel)
                out[3] += np.sum(disc[:10][hit]) / np.sum(disc[:min(10, nrel)])
            return out

        pop = np.asarray(Cui.sum(axis=0)).ravel() / alpha if alpha > 0 else np.zeros(ni)
        chunks = np.array_split(eval_users, max(1, len(eval_users) // 512))
        als_sums = sum(pool.map(lambda us: evaluate(us, lambda u: X[u] @ Y.T), chunks))
        pop_sums = sum(pool.map(lambda us: evaluate(us, lambda u: np.tile(pop, (len(u), 1))), chunks))
        n = max(1, len(eval_users))
        for name, s in (("als", als_sums), ("popularity", pop_sums)):
            print(f"{name}_precision_at_10 {s[0] / n:.9g}\n{name}_recall_at_10 {s[1] / n:.9g}")
            print(f"{name}_map_at_10 {s[2] / n:.9g}\n{name}_ndcg_at_10 {s[3] / n:.9g}")
        print(f"eval_users {len(eval_users)}")
        print(f"evaluate_seconds {time.perf_counter() - t0:.6f}")

        # ---- top-10 for every user over every product, purchased products excluded ----
        bought = sp.csr_matrix((np.ones(int(purchased.sum())), (uidx[purchased], iidx[purchased])), shape=(nu, ni))
        t0, c0 = time.perf_counter(), time.process_time()

        def top10(us):
            S = X[us] @ Y.T
            b = bought[us]
            S[b.nonzero()] = -np.inf
            return top_k(S, 10, items)

        all_chunks = np.array_split(np.arange(nu), max(1, nu // 512))
        n_rows = sum(len(t) for t in pool.map(top10, all_chunks))
        print(f"topn_seconds {time.perf_counter() - t0:.6f}\ntopn_users {n_rows}")
        print(f"topn_cpu_seconds {time.process_time() - c0:.6f}")


if __name__ == "__main__":
    main()
