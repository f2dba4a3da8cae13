#!/usr/bin/python3
"""Scaling tables, plots and the performance model of `ecom run` (docs/SCALING.md).

  plot_scaling.py collect RUNS OUT   run directories RUNS/<experiment>/np<P>/ (each with run.json
                                     and, from scripts/scaling.sh, wall_seconds) -> OUT/<experiment>.csv
                                     (one row per ranks x stage) and OUT/rss.csv (peak RSS per rank)
  plot_scaling.py plot OUT           OUT/*.csv -> time_per_stage.png, speedup.png, efficiency.png,
                                     communication.png
  plot_scaling.py model OUT          fits the model to OUT/strong.csv and OUT/weak.csv ->
                                     OUT/model_fit.csv (parameters), OUT/model_check.csv (measured vs
                                     model, every point), OUT/projection.csv and projection.png (the
                                     full seven-month REES46 set on 1..1024 ranks)

Only Debian's python3-numpy, python3-scipy and python3-matplotlib (run with /usr/bin/python3).
"""
import csv
import glob
import json
import math
import os
import sys

# Timer stages (rows of the tables) and the traffic stages (Comm::set_stage names) they contain.
# Since pipeline::Stage, a stage's traffic has its timer's name; the older names are kept for the
# run.json files of earlier runs.
STAGES = [
    ("ingest", ["ingest", "ingest/shuffle"]),
    ("profile", ["profile"]),
    ("analyze/read", ["analyze/read"]),
    ("analyze/features", ["analyze/features"]),
    ("analyze/transform+pca", ["analyze/transform+pca", "analyze/pca"]),
    ("analyze/segments", ["analyze/segments", "analyze/kmeans"]),
    ("analyze/propensity", ["analyze/propensity"]),
    ("analyze/recommend", ["analyze/recommend", "analyze/als", "als"]),
    # Part of analyze/recommend: top-N for every user and the holdout evaluation, both scoring
    # every user against every product (rank 0's seconds, from the run's log).
    ("analyze/recommend/scoring", []),
    ("analyze/write", ["analyze/write"]),
]
SCORING_LINES = ("als: holdout ", "als: top-")  # "... evaluated in X s", "... for all users in X s"
COLUMNS = ["experiment", "ranks", "cores", "oversubscribed", "events", "users", "products", "stage",
           "seconds_min", "seconds_avg", "seconds_max", "bytes_sent", "bytes_received",
           "bytes_sent_max_rank", "bytes_received_max_rank", "peak_rss_max_bytes", "wall_seconds",
           "external_load", "nice_share"]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path, header, rows):
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    os.replace(path + ".tmp", path)


# ---- collect --------------------------------------------------------------------------------

def collect(runs, out):
    cores = os.cpu_count() or 1
    machine_file = os.path.join(runs, "cores")
    if os.path.exists(machine_file):
        cores = int(open(machine_file).read())
    os.makedirs(out, exist_ok=True)
    rss_rows = []
    experiments = sorted(d for d in os.listdir(runs) if os.path.isdir(os.path.join(runs, d)))
    for exp in experiments:
        rows = []
        for run_dir in glob.glob(os.path.join(runs, exp, "np*")):
            if not os.path.basename(run_dir)[2:].isdigit():
                continue
            path = os.path.join(run_dir, "run.json")
            if not os.path.exists(path):
                print(f"collect: {run_dir}: no run.json (unfinished run), skipped", file=sys.stderr)
                continue
            r = json.load(open(path))
            p = r["ranks"]
            wall_file = os.path.join(run_dir, "wall_seconds")
            wall = float(open(wall_file).read()) if os.path.exists(wall_file) else float("nan")
            load_file = os.path.join(run_dir, "external_load")
            ext = float(open(load_file).read()) if os.path.exists(load_file) else 0.0
            nice_file = os.path.join(run_dir, "nice_share")
            nice = float(open(nice_file).read()) if os.path.exists(nice_file) else float("nan")
            timers = {s["stage"]: s for s in r["stages"]}
            traffic = {t["stage"]: t for t in r.get("traffic_bytes", [])}
            rss = r.get("peak_rss_bytes_per_rank", [])
            base = [exp, p, cores, int(p > cores), r["counts"]["events"], r["counts"]["users"], r.get("products", 0)]
            scoring = 0.0
            log_file = os.path.join(run_dir, "ecom.log")
            for line in open(log_file) if os.path.exists(log_file) else []:
                if any(x in line for x in SCORING_LINES) and " in " in line and " s" in line:
                    scoring += float(line.split(" in ")[1].split(" s")[0])
            timers["analyze/recommend/scoring"] = {"min": scoring, "avg": scoring, "max": scoring}
            total = [0.0, 0.0, 0.0, 0, 0, 0, 0]
            for stage, parts in STAGES:
                t = timers.get(stage, {"min": 0, "avg": 0, "max": 0})
                tr = [traffic.get(x, {}) for x in parts]
                b = [sum(x.get(k, 0) for x in tr) for k in ("sent_total", "received_total", "sent_max", "received_max")]
                vals = [t["min"], t["avg"], t["max"]] + b
                if stage != "analyze/recommend/scoring":  # already inside analyze/recommend
                    total = [a + v for a, v in zip(total, vals)]
                rows.append(base + [stage] + vals + [max(rss, default=0), wall, ext, nice])
            rows.append(base + ["total"] + total + [max(rss, default=0), wall, ext, nice])
            rss_rows += [[exp, p, i, v] for i, v in enumerate(rss)]
        rows.sort(key=lambda x: (x[1], [s for s, _ in STAGES].index(x[7]) if x[7] != "total" else 99))
        write_csv(os.path.join(out, exp + ".csv"), COLUMNS, rows)
        print(f"collect: {out}/{exp}.csv ({len(rows)} rows)")
    rss_rows.sort()
    write_csv(os.path.join(out, "rss.csv"), ["experiment", "ranks", "rank", "peak_rss_bytes"], rss_rows)


# ---- plot -----------------------------------------------------------------------------------

def load(out, exp):
    path = os.path.join(out, exp + ".csv")
    if not os.path.exists(path):
        return []
    rows = read_csv(path)
    for r in rows:
        for k in COLUMNS[1:7]:
            r[k] = int(r[k])
        for k in COLUMNS[8:]:
            r[k] = float(r.get(k) or "nan")
    return rows


def series(rows, stage, key):
    pts = sorted((r["ranks"], r[key]) for r in rows if r["stage"] == stage)
    return [p for p, _ in pts], [v for _, v in pts]


def log_ranks_axis(ax, matplotlib, rows):
    ax.set_xscale("log")
    ax.set_xticks(sorted({r["ranks"] for r in rows}))
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def shade_oversubscribed(ax, rows):
    if rows and any(r["oversubscribed"] for r in rows):
        cores = rows[0]["cores"]
        ax.axvspan(cores * 1.2, max(r["ranks"] for r in rows) * 1.3, color="0.9", zorder=0)
        ax.text(cores * 1.25, ax.get_ylim()[1], f"oversubscribed\n(> {cores} cores)", va="top", fontsize=8)


def plot(out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    exps = [e for e in ("strong", "weak") if load(out, e)]
    data = {e: load(out, e) for e in exps}
    stages = [s for s, _ in STAGES]

    fig, axes = plt.subplots(1, len(exps), figsize=(6 * len(exps), 4.5), squeeze=False)
    for ax, e in zip(axes[0], exps):
        for s in stages + ["total"]:
            x, y = series(data[e], s, "seconds_max")
            if max(y, default=0) > 0.01:
                ax.plot(x, y, "o-" if s != "total" else "k*-", label=s, lw=2 if s == "total" else 1)
        ax.set(yscale="log", xlabel="ranks", ylabel="seconds (max over ranks)",
               title=f"{e} scaling: time per stage ({data[e][0]['events']:,} events at {data[e][0]['ranks']} rank)")
        log_ranks_axis(ax, matplotlib, data[e])
        shade_oversubscribed(ax, data[e])
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "time_per_stage.png"), dpi=110)

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    if "strong" in data:
        ax = axes[0]
        for s in stages + ["total"]:
            x, y = series(data["strong"], s, "seconds_max")
            if y and y[0] > 0.05:
                ax.plot(x, [y[0] / v for v in y], "o-" if s != "total" else "k*-", label=s, lw=2 if s == "total" else 1)
        ax.plot(x, x, "k:", label="ideal")
        ax.set(yscale="log", xlabel="ranks", ylabel="speed-up T(1)/T(P)", title="strong scaling: speed-up")
        log_ranks_axis(ax, matplotlib, data["strong"])
        ax.get_yaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        shade_oversubscribed(ax, data["strong"])
        ax.legend(fontsize=7)
    fig2, axes2 = plt.subplots(1, 1, figsize=(6, 4.5))
    for e, style in (("strong", "o-"), ("weak", "s--")):
        if e in data:
            x, y = series(data[e], "total", "seconds_max")
            eff = [y[0] / (v * p) if e == "strong" else y[0] / v for p, v in zip(x, y)]
            axes2.plot(x, eff, style, label=f"{e}: " + ("T(1)/(P T(P))" if e == "strong" else "T(1)/T(P)"))
    axes2.axhline(1, color="k", ls=":")
    axes2.set(xlabel="ranks", ylabel="parallel efficiency (whole run)", title="efficiency", ylim=(0, 1.2))
    log_ranks_axis(axes2, matplotlib, data[exps[0]])
    shade_oversubscribed(axes2, data[exps[0]])
    axes2.legend(fontsize=8)
    fig2.tight_layout()
    fig2.savefig(os.path.join(out, "efficiency.png"), dpi=110)
    if "weak" in data:
        ax = axes[1]
        for s in stages + ["total"]:
            x, y = series(data["weak"], s, "seconds_max")
            if y and y[0] > 0.05:
                ax.plot(x, [y[0] / v for v in y], "o-" if s != "total" else "k*-", label=s, lw=2 if s == "total" else 1)
        ax.axhline(1, color="k", ls=":")
        ax.set(xlabel="ranks", ylabel="T(1)/T(P)", title="weak scaling: efficiency per stage")
        log_ranks_axis(ax, matplotlib, data["weak"])
        shade_oversubscribed(ax, data["weak"])
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "speedup.png"), dpi=110)

    fig, axes = plt.subplots(1, len(exps), figsize=(6 * len(exps), 4.5), squeeze=False)
    for ax, e in zip(axes[0], exps):
        for s in stages + ["total"]:
            x, y = series(data[e], s, "bytes_sent_max_rank")
            if max(y, default=0) > 0:
                ax.plot(x, [v / 2**20 for v in y], "o-" if s != "total" else "k*-", label=s, lw=2 if s == "total" else 1)
        ax.set(yscale="log", xlabel="ranks", ylabel="MiB sent by the busiest rank",
               title=f"{e} scaling: communication volume per stage")
        log_ranks_axis(ax, matplotlib, data[e])
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "communication.png"), dpi=110)
    print(f"plot: {out}/time_per_stage.png speedup.png efficiency.png communication.png")


# ---- model ----------------------------------------------------------------------------------
#
# Stage s on P ranks, N events, U users, I products, measured on C cores:
#   T_s(P) = c_s  +  sum_j a_sj W_sj(N, U, I) / (P q)  +  [P > 1] (alpha_s ceil(log2 min(P, C))  +  beta B_s(P))
#            +  gamma_s max(0, P / C - 1)
#   c_s: the stage's fixed cost per run, paid by every rank whatever P (file creation and
#        metadata, the d x d eigen-decomposition, the per-k set-up of the segment selection, ...);
#   W_sj: the stage's work terms (TERMS), divided among the ranks;
#   q = min(1, C / P): the share of a core each rank gets when P ranks time-share C cores
#        (4 ranks on 2 cores: 1/2, 8 ranks: 1/4; q = 1 on dedicated cores, the projection). The
#        other sessions' processes ran under nice 19 and are left out (NICE_WEIGHT = 0: weighting
#        their measured number made the fit worse, docs/SCALING.md);
#   alpha_s: latency of the stage's collectives per doubling of the ranks. Ranks beyond the
#        cores add no rounds to wait for here: with mpi_yield_when_idle a waiting rank gives its
#        core to one that has work, so the measured latency is that of ceil(log2 min(P, C))
#        doublings (one on 2 cores); on dedicated cores it is ceil(log2 P);
#   gamma_s: the waits of time-sharing, per rank beyond one per core: every collective of the
#        stage waits until each of the P / C ranks sharing a core has had its turn (so the
#        stages with many small collectives, the segment selection above all, slow down with P
#        when oversubscribed although their work per core is the same). Zero on dedicated cores,
#        so it does not enter the projection;
#   B_s(P): bytes the busiest rank sends or receives,
#     B_s(P) = x_s (N / P) (P - 1) / P  +  z_s I  +  y_s
#     (records that change owner; data replicated on every rank, the ALS catalogue; collective
#     payloads of fixed size), x_s, z_s, y_s fitted by non-negative least squares on the
#     measured bytes; beta: seconds per byte, one for all stages.
TERMS = {
    "ingest": ["1", "N"], "profile": ["1", "N"], "analyze/read": ["1", "N"], "analyze/features": ["1", "N"],
    "analyze/transform+pca": ["1", "U"], "analyze/segments": ["1", "U"], "analyze/propensity": ["1", "N"],
    # ALS: interactions, transpose and sweeps over the pairs (about proportional to N); in the
    # model analyze/recommend stands for ALS without the scoring (measured apart, from the log):
    # top-N for every user (pruned scan, items by decreasing norm, blocks skipped by the
    # Cauchy-Schwarz bound) and the holdout evaluation, whose AUC sample (up to --auc-users users)
    # scores every product: both bounded by U x I x factors.
    "analyze/recommend": ["1", "N"], "analyze/recommend/scoring": ["1", "U*I"],
    "analyze/write": ["1", "U"],
}
NICE_WEIGHT = 0.0
# Fit: non-negative least squares on relative errors (stages shorter than WEIGHT_FLOOR weighted as
# that); the minimax fit (smallest largest such error) is computed too, as the bound of what
# this model form can reach on the data. The check: within 25%, or within ABS_FLOOR seconds
# for stages whose time is of the order of the timer and scheduling noise.
FIT = "lsq"
TOLERANCE = 0.25
ABS_FLOOR = 0.05
WEIGHT_FLOOR = ABS_FLOOR / TOLERANCE  # 0.2 s: |error| / max(t, 0.2 s) <= 25% is the check

# The full seven-month REES46 data (2019-10 .. 2020-04), users and products as the generator's
# multi-category preset scales them: per month of a run, users = 7.12% and products = 0.393% of
# the events (src/synth/preset.cpp), users persisting across months, so over 7 months
# U = 0.0712 N / 7 and I = 0.00393 N / 7 (checked: `ecom synth --events 700000 --months
# 2019-10 ... 2020-04` writes 7218 users and 400 products to truth/summary.json).
FULL_EVENTS = 411.7e6
FULL_USERS = 0.071199 * FULL_EVENTS / 7
FULL_PRODUCTS = 0.003929 * FULL_EVENTS / 7
RANKS_PER_NODE = 16
# Inter-node network assumed for P > 16 (not measured here): latency of a message across
# InfiniBand HDR (about 2 us against about 0.5 us through shared memory) and the inverse
# bandwidth of its 100 Gb/s link shared by the node's 16 ranks.
ALPHA_SHM = 0.5e-6
NET_ALPHA = 2e-6
NET_BETA = 16 / 12.5e9


def oversubscription(p, cores):
    """Ranks per core beyond one: 0 on dedicated cores (and in the projection), 1 for 4 ranks on
    2 cores, 3 for 8."""
    return max(0.0, p / cores - 1.0)


def ceil_log2(p):
    return math.ceil(math.log2(p)) if p > 1 else 0


def cpu_share(p, cores, external_load):
    """Share of a core each rank gets when P normal-priority ranks and `external_load` nice-19
    runnable processes time-share `cores` cores (1 on dedicated cores)."""
    load = external_load if external_load == external_load else 0.0  # nan: not measured
    return min(1.0, cores / (p + NICE_WEIGHT * load))


def term(name, n, u, i, p):
    """Work term per rank: "1" is paid by every rank, the others are divided among the P ranks."""
    return {"1": 1.0, "N": n / p, "U": u / p, "U*I": u * i / p}[name]


def solve(A, b, method):
    """Non-negative coefficients x for A x ~ b (rows already scaled to relative errors)."""
    import numpy as np
    from scipy.optimize import linprog, nnls
    if method == "lsq":
        return nnls(A, b)[0]
    # minimax: minimise z subject to -z <= A x - b <= z, x >= 0 (a linear programme)
    m, k = A.shape
    c = np.zeros(k + 1)
    c[-1] = 1.0
    ones = np.ones((m, 1))
    A_ub = np.vstack([np.hstack([A, -ones]), np.hstack([-A, -ones])])
    b_ub = np.concatenate([b, -b])
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=[(0, None)] * (k + 1), method="highs")
    if not res.success:
        sys.exit("model: minimax fit failed: " + res.message)
    return res.x[:k]


def model_fit(out):
    import numpy as np
    from scipy.optimize import nnls
    rows = [r for e in ("strong", "weak") for r in load(out, e) if r["stage"] != "total"]
    if not rows:
        sys.exit("model: no strong.csv / weak.csv in " + out)
    # analyze/recommend in the model: ALS without the scoring (measured apart).
    scoring = {(r["experiment"], r["ranks"]): r["seconds_max"] for r in rows if r["stage"] == "analyze/recommend/scoring"}
    for r in rows:
        if r["stage"] == "analyze/recommend":
            r["seconds_max"] = max(0.0, r["seconds_max"] - scoring.get((r["experiment"], r["ranks"]), 0.0))
    stages = [s for s, _ in STAGES]

    # Bytes per stage: x_s, z_s, y_s from the runs with P > 1.
    bytes_fit = {}
    for s in stages:
        pts = [r for r in rows if r["stage"] == s and r["ranks"] > 1]
        A = np.array([[r["events"] / r["ranks"] * (r["ranks"] - 1) / r["ranks"], r["products"], 1.0] for r in pts])
        b = np.array([max(r["bytes_sent_max_rank"], r["bytes_received_max_rank"]) for r in pts])
        bytes_fit[s] = nnls(A, b)[0] if len(pts) else np.zeros(3)

    def bytes_model(s, n, i, p):
        x, z, y = bytes_fit[s]
        return (x * n / p * (p - 1) / p + z * i + y) if p > 1 else 0.0

    # Time: columns = work terms of every stage, alpha_s of every stage, beta.
    cols = [(s, t) for s in stages for t in TERMS[s]]
    nc, k = len(cols), len(stages)
    A, b, meta = [], [], []
    OS = nc + k + 1  # oversubscription columns, one per stage
    for r in rows:
        s, t = r["stage"], r["seconds_max"]
        if t <= 0:
            continue
        p, c = r["ranks"], r["cores"]
        share = cpu_share(p, c, r["external_load"])
        row = np.zeros(nc + k + 1 + k)
        for j, (cs, ct) in enumerate(cols):
            if cs == s:
                row[j] = term(ct, r["events"], r["users"], r["products"], p) / (share if ct != "1" else 1.0)
        row[nc + stages.index(s)] = ceil_log2(min(p, c))
        row[nc + k] = bytes_model(s, r["events"], r["products"], p)
        row[OS + stages.index(s)] = oversubscription(p, c)
        w = 1.0 / max(t, WEIGHT_FLOOR)  # relative error; the shortest stages do not dominate
        A.append(row * w)
        b.append(t * w)
        meta.append((r, row))
    A, b = np.array(A), np.array(b)
    # Columns scaled to unit norm for the solver (terms differ by 10 orders of magnitude).
    norm = np.linalg.norm(A, axis=0)
    norm[norm == 0] = 1.0
    coef = solve(A / norm, b, FIT) / norm
    best = solve(A / norm, b, "minimax") / norm
    minimax_err = float(np.max(np.abs(A @ best - b)))  # relative to max(t, WEIGHT_FLOOR)
    a = {cols[j]: coef[j] for j in range(nc)}
    alpha = coef[nc:nc + k]
    beta = coef[nc + k]
    gamma = coef[OS:OS + k]
    n_params, n_nonzero = A.shape[1], int(np.count_nonzero(coef > 0))

    def ok(measured, model):
        return abs(model - measured) <= max(TOLERANCE * measured, ABS_FLOOR)

    check = []
    for r, row in meta:
        pred = float(row @ coef)
        check.append([r["experiment"], r["ranks"], r["oversubscribed"], r["events"], r["stage"], r["seconds_max"],
                      pred, (pred - r["seconds_max"]) / r["seconds_max"]])
    for e in ("strong", "weak"):  # whole runs: sums over the stages
        for p in sorted({c[1] for c in check if c[0] == e}):
            pts = [c for c in check if c[0] == e and c[1] == p]
            # (analyze/recommend here is ALS without the scoring: with the scoring, the whole stage)
            m, q = sum(c[5] for c in pts), sum(c[6] for c in pts)
            check.append([e, p, pts[0][2], pts[0][3], "total", m, q, (q - m) / m])
    write_csv(os.path.join(out, "model_check.csv"),
              ["experiment", "ranks", "oversubscribed", "events", "stage", "measured_seconds", "model_seconds",
               "relative_error", "within_25pct", "within_25pct_or_0.05s"],
              [c[:5] + [f"{c[5]:.4f}", f"{c[6]:.4f}", f"{c[7]:+.3f}", int(abs(c[7]) <= TOLERANCE),
                        int(ok(c[5], c[6]))] for c in check])
    write_csv(os.path.join(out, "model_fit.csv"),
              ["stage", "fixed_seconds", "work_seconds_per_unit", "alpha_seconds_per_log2P", "bytes_per_event_moved",
               "bytes_per_product", "bytes_fixed", "beta_seconds_per_byte", "gamma_seconds_per_oversubscription"],
              [[s, f"{a[(s, '1')]:.4e}", " + ".join(f"{a[(s, t)]:.4e}*{t}/P" for t in TERMS[s] if t != "1"),
                f"{alpha[i]:.4e}", f"{bytes_fit[s][0]:.4g}", f"{bytes_fit[s][1]:.4g}", f"{bytes_fit[s][2]:.4g}",
                f"{beta:.4e}", f"{gamma[i]:.4e}"] for i, s in enumerate(stages)])

    # Memory: peak RSS of the busiest rank = m0 + m1 N / P + m2 I (all runs).
    mem_pts = [r for r in rows if r["stage"] == "analyze/read"]
    mem = nnls(np.array([[1.0, r["events"] / r["ranks"], r["products"]] for r in mem_pts]),
               np.array([r["peak_rss_max_bytes"] for r in mem_pts]))[0]
    write_csv(os.path.join(out, "model_memory.csv"),
              ["rss_fixed_bytes", "rss_bytes_per_event_per_rank", "rss_bytes_per_product"],
              [[f"{mem[0]:.4g}", f"{mem[1]:.4g}", f"{mem[2]:.4g}"]])

    # Projection: one rank per core, 16 per node. Inside a node the fitted costs; a collective on
    # P ranks over several nodes has ceil(log2 16) rounds inside and ceil(log2 nodes) across,
    # each across-round NET_ALPHA / ALPHA_SHM times as slow; bytes that cross nodes, the share
    # (nodes - 1) / nodes of the exchanged volume, move at NET_BETA.
    n, u, i_ = FULL_EVENTS, FULL_USERS, FULL_PRODUCTS
    proj = []
    for p in [2 ** j for j in range(11)]:
        nodes = math.ceil(p / RANKS_PER_NODE)
        per_stage = []
        for si, s in enumerate(stages):
            comp = sum(a[(s, t)] * term(t, n, u, i_, p) for t in TERMS[s])
            rounds = ceil_log2(min(p, RANKS_PER_NODE)) + NET_ALPHA / ALPHA_SHM * ceil_log2(nodes)
            volume = bytes_model(s, n, i_, p)
            bw = volume * (beta / nodes + max(beta, NET_BETA) * (nodes - 1) / nodes)
            per_stage.append(comp + alpha[si] * rounds + bw)
        total = sum(per_stage)
        rss_gib = (mem[0] + mem[1] * n / p + mem[2] * i_) / 2**30
        proj.append([p, nodes] + [f"{v:.1f}" for v in per_stage] + [f"{rss_gib:.2f}", f"{total:.1f}"])
    t1 = float(proj[0][-1])
    for row in proj:
        row.append(f"{t1 / (float(row[-1]) * row[0]):.3f}")
    write_csv(os.path.join(out, "projection.csv"), ["ranks", "nodes"] + [s + "_s" for s in stages] +
              ["peak_rss_per_rank_gib", "total_s", "efficiency"], proj)
    st = [c for c in check if c[4] != "total"]
    tot = [c for c in check if c[4] == "total"]
    big = [c for c in st if c[5] >= 0.1]
    print(f"model ({FIT} fit): {n_params} time parameters ({n_nonzero} non-zero) for {len(st)} stage points; "
          f"beta {beta:.3e} s/byte; the minimax fit's largest |error| (relative to max(t, {WEIGHT_FLOOR:.2g} s)): "
          f"{minimax_err:.1%}")
    # Points of the same configuration (events, ranks) in both experiments bound any model's error.
    for c1 in st:
        for c2 in st:
            if c1[0] == "strong" and c2[0] == "weak" and c1[1:5] == c2[1:5] and max(c1[5], c2[5]) >= WEIGHT_FLOOR:
                lo, hi = sorted((c1[5], c2[5]))
                if hi / lo > (1 + TOLERANCE) / (1 - TOLERANCE):
                    print(f"model: same configuration twice (np {c1[1]}, {c1[3]} events) {c1[4]}: {lo:.3f} and "
                          f"{hi:.3f} s: no model is within {TOLERANCE:.0%} of both (best: +-{(hi - lo) / (hi + lo):.1%})")
    for name, pts in (("stage points", st), ("stage points >= 0.1 s", big), ("whole runs", tot)):
        errs = sorted(abs(c[7]) for c in pts)
        print(f"model: {name}: {sum(e <= TOLERANCE for e in errs)} of {len(pts)} within {TOLERANCE:.0%}, "
              f"{sum(ok(c[5], c[6]) for c in pts)} within {TOLERANCE:.0%} or {ABS_FLOOR} s; "
              f"max |error| {max(errs, default=0):.1%}, median {errs[len(errs) // 2] if errs else 0:.1%}")
    for c in st:
        if not ok(c[5], c[6]):
            print(f"model: outside: {c[0]} np {c[1]} {c[4]}: measured {c[5]:.3f} s, model {c[6]:.3f} s ({c[7]:+.1%})")
    print(f"model: projection for {n:.4g} events, {u:.4g} users, {i_:.4g} products -> {out}/projection.csv")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.5))
    ax = axes[0]
    for e, mk in (("strong", "o"), ("weak", "s")):
        pts = [c for c in check if c[0] == e and c[4] != "total"]
        ax.scatter([c[5] for c in pts], [c[6] for c in pts], marker=mk, s=14, label=f"{e}: stages")
        pts = [c for c in check if c[0] == e and c[4] == "total"]
        ax.scatter([c[5] for c in pts], [c[6] for c in pts], marker="*", s=80, label=f"{e}: whole runs")
    lim = [min(c[5] for c in check) / 1.5, max(c[5] for c in check) * 1.5]
    ax.plot(lim, lim, "k:")
    xs = np.geomspace(lim[0], lim[1], 200)
    ax.fill_between(xs, np.maximum(xs * (1 - TOLERANCE), xs - ABS_FLOOR), np.maximum(xs * (1 + TOLERANCE), xs + ABS_FLOOR),
                    color="0.9", zorder=0, label=f"within {TOLERANCE:.0%} or {ABS_FLOOR} s")
    ax.fill_between(xs, xs * (1 - TOLERANCE), xs * (1 + TOLERANCE), color="0.8", zorder=0, label=f"within {TOLERANCE:.0%}")
    ax.set(xscale="log", yscale="log", xlabel="measured seconds", ylabel="model seconds", title="model vs measured")
    ax.legend(fontsize=7)
    ps = [r[0] for r in proj]
    axes[1].plot(ps, [float(r[-2]) / 3600 for r in proj], "k*-", label="total")
    for si, s in enumerate(stages):
        axes[1].plot(ps, [float(r[2 + si]) / 3600 for r in proj], "-", lw=1, label=s)
    axes[1].set(xscale="log", yscale="log", xlabel="ranks (16 per node)", ylabel="hours",
                title=f"model: {n / 1e6:.1f}M events, {u / 1e6:.2f}M users, {i_ / 1e3:.0f}k products")
    axes[1].legend(fontsize=7)
    axes[2].plot(ps, [float(r[-1]) for r in proj], "o-")
    axes[2].set(xscale="log", xlabel="ranks (16 per node)", ylabel="efficiency T(1)/(P T(P))", ylim=(0, 1.05),
                title="model: parallel efficiency")
    for ax in axes[1:]:
        ax.axvline(RANKS_PER_NODE, color="0.7", ls=":")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "projection.png"), dpi=110)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("collect", "plot", "model"):
        sys.exit(__doc__)
    if sys.argv[1] == "collect":
        collect(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "results/scaling")
    elif sys.argv[1] == "plot":
        plot(sys.argv[2])
    else:
        model_fit(sys.argv[2])
