#!/usr/bin/python3
"""Independent checks of `ecom analyze` outputs with numpy, h5py and scikit-learn.

usage: check_analyze.py [--seed S --silhouette-sample N] RUN_DIR... RUN_TIME

The first run directory is checked in depth; the others (the same job with other rank counts)
must have the same root attributes in ecom.h5 except `ranks` and the stage timings.
- customer_segments.csv: header, one row per /users/pseudonym in pseudonym order, segment and
  name and confidence as in ecom.h5, updated_at = RUN_TIME;
- transform: /model/scaler mean and scale equal numpy's mean and population std of the
  (signed log1p where flagged) features; /users/transformed equals (g(x) - mean) / scale;
- PCA: eigenvalues equal numpy.linalg.eigh of numpy.cov, loadings span the same directions,
  the kept count follows the variance target, /users/pca_scores equal the projection;
- k-means: centroids are the means of their users' scores, every user is at its nearest
  centroid, the inertia equals the sum of squared distances;
- k_selection.csv: the chosen k's row has this inertia, scikit-learn's silhouette_score on the
  pca_scores of the silhouette sample and the simplified silhouette. Without --silhouette-sample
  the sample must be every user; with it (and the run's --seed S), the sample is selected here
  by the documented keyed rule, uniform(S, silhouette_sample, pseudonym, 0) < N / users, with a
  Python Philox4x32-10 (checked against the Random123 known-answer vector), and must be a
  proper subset; run.json's silhouette_sample must be its size;
- segment_profiles.csv: users, shares, revenue (the sum of `monetary` over the segment's users),
  revenue share and the mean of every feature of /users/features per segment (the features
  themselves are checked against the raw files by check_features.py, and the profiles by
  check_profiles.py);
- run.json: parses, and its counts and chosen k agree.
"""
import csv
import json
import sys

import h5py
import numpy as np
from sklearn.metrics import silhouette_score

TIMING_ATTRS = {"ranks", "stage_names", "stage_seconds_min", "stage_seconds_avg",
                "stage_seconds_max"}


def fail(msg):
    sys.exit("FAIL: " + msg)


def close(a, b, rtol, atol=0.0):
    return np.allclose(a, b, rtol=rtol, atol=atol)


def strings(ds):
    return [s.decode() if isinstance(s, bytes) else str(s) for s in ds[...]]


# Philox4x32-10 (Salmon et al. 2011) and ecom's keyed uniform: counter (id low, id high,
# counter, purpose), key (seed low, seed high), 64 bits = word1 << 32 | word0, top 53 bits.
def philox4x32_10(ctr, key):
    m = 0xFFFFFFFF
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & m, p1 & m, ((p0 >> 32) ^ c3 ^ k1) & m, p0 & m
        k0, k1 = (k0 + 0x9E3779B9) & m, (k1 + 0xBB67AE85) & m
    return c0, c1, c2, c3


PURPOSE_SILHOUETTE_SAMPLE = 12


def keyed_uniform(seed, purpose, uid, counter):
    b = philox4x32_10((uid & 0xFFFFFFFF, uid >> 32, counter, purpose),
                      (seed & 0xFFFFFFFF, seed >> 32))
    return (((b[1] << 32) | b[0]) >> 11) * 2.0 ** -53


def root_attrs(path):
    with h5py.File(path, "r") as h:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in h.attrs.items()}


def main():
    args = sys.argv[1:]
    seed = sample_size = None
    while args and args[0].startswith("--"):
        if args[0] == "--seed":
            seed = int(args[1])
        elif args[0] == "--silhouette-sample":
            sample_size = int(args[1])
        else:
            fail(f"unknown option {args[0]}")
        args = args[2:]
    if (seed is None) != (sample_size is None):
        fail("--seed and --silhouette-sample go together")
    # Random123's known-answer vector for philox4x32-10 (zero counter and key).
    if philox4x32_10((0, 0, 0, 0), (0, 0)) != (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8):
        fail("the Python Philox4x32-10 misses the known-answer vector")
    run_dirs, run_time = args[:-1], args[-1]
    run = run_dirs[0]

    # ---- root attributes across rank counts --------------------------------------------
    ref = root_attrs(f"{run}/ecom.h5")
    for key in ("config", "version", "git_revision", "ranks", "run_time", "stage_names"):
        if key not in ref:
            fail(f"root attribute {key} missing")
    if len(ref["stage_names"]) == 0 or len(ref["stage_seconds_max"]) != len(ref["stage_names"]):
        fail("stage timings missing or malformed")
    for n, other in enumerate(run_dirs[1:], start=2):
        att = root_attrs(f"{other}/ecom.h5")
        if att["ranks"] != n:
            fail(f"{other}: ranks = {att['ranks']}, expected {n}")
        for key in set(ref) | set(att):
            if key in TIMING_ATTRS:
                continue
            if ref.get(key) != att.get(key):
                fail(f"root attribute {key} differs between {run} and {other}")
    if ref["run_time"] not in (run_time, run_time.encode()):
        fail(f"run_time attribute {ref['run_time']!r}")

    with h5py.File(f"{run}/ecom.h5", "r") as h:
        users = h["users/pseudonym"][...]
        feats = h["users/features"][...]
        names = [s.decode() if isinstance(s, bytes) else str(s) for s in h["users/features"].attrs["names"]]
        transformed = h["users/transformed"][...]
        scores = h["users/pca_scores"][...]
        segment = h["users/segment"][...]
        confidence = h["users/confidence"][...]
        log1p = h["model/transform/log1p"][...].astype(bool)
        tr_names = strings(h["model/transform/names"])
        mean = h["model/scaler/mean"][...]
        scale = h["model/scaler/scale"][...]
        constant = h["model/scaler/constant"][...].astype(bool)
        pca_mean = h["model/pca/mean"][...]
        loadings = h["model/pca/loadings"][...]
        eigenvalues = h["model/pca/eigenvalues"][...]
        explained = h["model/pca/explained_ratio"][...]
        centroids = h["model/centroids"][...]
        inertia_attr = float(h["model"].attrs["inertia"])
        seg_names = strings(h["model/segment_names"])
        chosen_k = int(h["validation"].attrs["chosen_k"])
        for ds in ("k", "inertia", "silhouette", "simplified_silhouette", "gap", "gap_sd",
                   "stability_ari", "stability_pairs"):
            if f"validation/{ds}" not in h:
                fail(f"/validation/{ds} missing")
    n = len(users)
    if np.any(np.diff(users.astype(np.uint64)) == 0) or np.any(users[1:] < users[:-1]):
        fail("/users/pseudonym not strictly ascending")
    if tr_names != names:
        fail("/model/transform/names differ from the features' names attribute")

    # ---- customer_segments.csv ---------------------------------------------------------
    with open(f"{run}/customer_segments.csv", newline="") as f:
        reader = csv.DictReader(f)
        want = ["user_id", "segment_id", "segment_name", "segment_confidence"]
        if reader.fieldnames[:4] != want or reader.fieldnames[-1] != "updated_at":
            fail(f"customer_segments.csv header {reader.fieldnames}")
        rows = list(reader)
    if len(rows) != n:
        fail(f"customer_segments.csv has {len(rows)} rows, ecom.h5 {n} users")
    for i, r in enumerate(rows):
        if r["user_id"] != "%016x" % int(users[i]):
            fail(f"row {i}: user_id {r['user_id']} != pseudonym {int(users[i]):016x}")
        if int(r["segment_id"]) != segment[i] or r["segment_name"] != seg_names[segment[i]]:
            fail(f"row {i}: segment {r['segment_id']} {r['segment_name']!r}")
        if abs(float(r["segment_confidence"]) - confidence[i]) > 5.1e-7:
            fail(f"row {i}: confidence {r['segment_confidence']} vs {confidence[i]}")
        if r["updated_at"] != run_time:
            fail(f"row {i}: updated_at {r['updated_at']}")

    # ---- transform ---------------------------------------------------------------------
    g = feats.copy()
    g[:, log1p] = np.sign(g[:, log1p]) * np.log1p(np.abs(g[:, log1p]))
    np_mean, np_std = g.mean(axis=0), g.std(axis=0)
    const = g.max(axis=0) == g.min(axis=0)
    if not np.array_equal(const, constant):
        fail("constant flags differ")
    if not close(mean, np_mean, 1e-12, 1e-12):
        fail(f"scaler mean differs: {np.max(np.abs(mean - np_mean))}")
    if not close(scale[~const], np_std[~const], 1e-10) or not np.all(scale[const] == 1):
        fail("scaler scale differs from numpy's population std")
    if not np.all(np.isfinite(transformed)):
        fail("non-finite transformed value")
    if not close(transformed, (g - mean) / scale, 1e-10, 1e-10):
        fail("transformed differs from (g(x) - mean) / scale")

    # ---- PCA ---------------------------------------------------------------------------
    cov = np.cov(transformed, rowvar=False)
    w, v = np.linalg.eigh(cov)
    w, v = w[::-1], v[:, ::-1]
    if not close(eigenvalues, w, 1e-9, 1e-12):
        fail(f"eigenvalues differ from numpy: {eigenvalues} vs {w}")
    pos = np.clip(w, 0, None)
    if not close(explained, pos / pos.sum(), 1e-9, 1e-12):
        fail("explained variance ratios differ")
    kept = loadings.shape[1]
    want_kept = int(np.searchsorted(np.cumsum(pos / pos.sum()), 0.9 - 1e-12) + 1)
    if kept != want_kept:
        fail(f"kept {kept} components, numpy says {want_kept} for 90% variance")
    for c in range(kept):
        if abs(abs(loadings[:, c] @ v[:, c]) - 1) > 1e-6:
            fail(f"component {c} direction differs from numpy")
        if loadings[np.argmax(np.abs(loadings[:, c])), c] <= 0:
            fail(f"component {c}: largest loading not positive")
    if not close(scores, (transformed - pca_mean) @ loadings, 1e-9, 1e-9):
        fail("pca_scores differ from the projection")

    # ---- k-means -----------------------------------------------------------------------
    k = centroids.shape[0]
    if k != chosen_k or sorted(set(segment.tolist())) != list(range(k)):
        fail(f"k = {k}, chosen {chosen_k}, labels {sorted(set(segment.tolist()))}")
    for c in range(k):
        if not close(centroids[c], scores[segment == c].mean(axis=0), 1e-9, 1e-9):
            fail(f"centroid {c} is not the mean of its users")
    d2 = ((scores[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    own = d2[np.arange(n), segment]
    if np.any(own > d2.min(axis=1) + 1e-9 * (1 + d2.min(axis=1))):
        fail("a user is not at its nearest centroid")
    inertia = own.sum()
    if not close(inertia_attr, inertia, 1e-9):
        fail(f"inertia {inertia_attr} vs numpy {inertia}")

    # ---- k_selection.csv ---------------------------------------------------------------
    with open(f"{run}/k_selection.csv", newline="") as f:
        reader = csv.DictReader(f)
        header = ["k", "inertia", "silhouette", "simplified_silhouette", "gap", "gap_sd",
                  "stability_ari", "stability_pairs"]
        if reader.fieldnames != header:
            fail(f"k_selection.csv header {reader.fieldnames}")
        table = {int(r["k"]): r for r in reader}
    row = table.get(k)
    if row is None:
        fail(f"no k_selection row for k = {k}")
    if not close(float(row["inertia"]), inertia, 1e-9):
        fail(f"k_selection inertia {row['inertia']} vs {inertia}")
    if sample_size is None:
        in_sample = np.ones(n, dtype=bool)
    else:
        rate = min(1.0, sample_size / n)
        in_sample = np.array([keyed_uniform(seed, PURPOSE_SILHOUETTE_SAMPLE, int(u), 0) < rate
                              for u in users])
        if not 2 < in_sample.sum() < n:
            fail(f"the keyed silhouette sample has {in_sample.sum()} of {n} users: not a subset")
    sil = silhouette_score(scores[in_sample], segment[in_sample], metric="euclidean")
    if abs(float(row["silhouette"]) - sil) > 1e-8:
        fail(f"silhouette {row['silhouette']} vs scikit-learn {sil} on {in_sample.sum()} users")
    a = np.sqrt(own)
    other = np.sqrt(np.where(np.arange(k)[None, :] == segment[:, None], np.inf, d2)).min(axis=1)
    mx = np.maximum(a, other)
    simple = np.where(mx > 0, (other - a) / np.where(mx > 0, mx, 1), 0).mean()
    if abs(float(row["simplified_silhouette"]) - simple) > 1e-8:
        fail(f"simplified silhouette {row['simplified_silhouette']} vs numpy {simple}")
    for kk, r in table.items():
        for col in ("inertia", "silhouette", "simplified_silhouette"):
            if r[col] == "":
                fail(f"k = {kk}: {col} empty")

    # ---- segment_profiles.csv ----------------------------------------------------------
    with open(f"{run}/segment_profiles.csv", newline="") as f:
        reader = csv.DictReader(f)
        want = ["segment_id", "name", "users", "share", "revenue", "revenue_share"] + \
            [name + "_mean" for name in names]
        if reader.fieldnames != want:
            fail(f"segment_profiles.csv header {reader.fieldnames}")
        prof = list(reader)
    if sorted(int(r["segment_id"]) for r in prof) != list(range(k)):
        fail(f"segment_profiles.csv segments {[r['segment_id'] for r in prof]}, k = {k}")
    counts = np.bincount(segment, minlength=k)
    monetary = feats[:, names.index("monetary")]
    total_revenue = monetary.sum()
    for r in prof:
        c = int(r["segment_id"])
        if int(r["users"]) != counts[c] or abs(float(r["share"]) - counts[c] / n) > 1e-6:
            fail(f"segment {c}: users {r['users']} share {r['share']} vs {counts[c]}")
        if r["name"] != seg_names[c]:
            fail(f"segment {c}: name {r['name']!r}, ecom.h5 {seg_names[c]!r}")
        mine = feats[segment == c]
        revenue = mine[:, names.index("monetary")].sum()
        size = np.abs(mine[:, names.index("monetary")]).sum()
        if abs(float(r["revenue"]) - revenue) > 2e-9 * max(size, 1e-300):
            fail(f"segment {c}: revenue {r['revenue']} vs numpy {revenue!r}")
        share = revenue / total_revenue if total_revenue else 0.0
        if abs(float(r["revenue_share"]) - share) > 2e-9 * max(share, 1e-12):
            fail(f"segment {c}: revenue_share {r['revenue_share']} vs numpy {share!r}")
        means, scale = mine.mean(axis=0), np.abs(mine).mean(axis=0)
        for j, name in enumerate(names):
            if abs(float(r[name + "_mean"]) - means[j]) > 2e-9 * max(scale[j], 1e-300):
                fail(f"segment {c}: {name}_mean {r[name + '_mean']} vs numpy {means[j]!r}")

    # ---- run.json ----------------------------------------------------------------------
    with open(f"{run}/run.json") as f:
        rj = json.load(f)
    if rj["counts"]["users"] != n or rj["segments"]["k"] != k:
        fail("run.json counts or k disagree")
    if not rj.get("stages"):
        fail("run.json has no stage timings")
    if rj["segments"].get("silhouette_sample") != int(in_sample.sum()):
        fail(f"run.json silhouette_sample {rj['segments'].get('silhouette_sample')}, "
             f"the keyed sample has {int(in_sample.sum())} users")
    for col in ("inertia", "silhouette", "simplified_silhouette", "gap", "gap_sd", "stability_ari",
                "stability_pairs"):
        a, b = rj["segments"].get(col), row[col]
        if (a is None) != (b == "") or (a is not None and abs(a - float(b)) > 1e-9 * max(1, abs(a))):
            fail(f"run.json segments.{col} = {a}, k_selection.csv {b!r}")
    print(f"{n} users, {len(names)} features, {kept} components, k = {k}: transform, PCA, "
          f"k-means, inertia {inertia:.6g}, silhouette {sil:.6f} (scikit-learn, "
          f"{int(in_sample.sum())} sampled users), simplified {simple:.6f}, segment profiles "
          f"(revenue, feature means) agree; CSVs consistent with ecom.h5")


if __name__ == "__main__":
    main()
