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
STAGES = [
    ("ingest", ["ingest", "ingest/shuffle"]),
    ("profile", ["profile"]),
    ("analyze/read", ["analyze/read"]),
    ("analyze/features", ["analyze/features"]),
    ("analyze/transform+pca", ["analyze/pca"]),
    ("analyze/segments", ["analyze/kmeans"]),
    ("analyze/propensity", ["analyze/propensity"]),
    ("analyze/recommend", ["analyze/als", "als"]),
    ("analyze/write", ["analyze/write"]),
]
COLUMNS = ["experiment", "ranks", "cores", "oversubscribed", "events", "users", "products", "stage",
           "seconds_min", "seconds_avg", "seconds_max", "bytes_sent", "bytes_received",
           "bytes_sent_max_rank", "bytes_received_max_rank", "peak_rss_max_bytes", "wall_seconds"]


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
            timers = {s["stage"]: s for s in r["stages"]}
            traffic = {t["stage"]: t for t in r.get("traffic_bytes", [])}
            rss = r.get("peak_rss_bytes_per_rank", [])
            base = [exp, p, cores, int(p > cores), r["counts"]["events"], r["counts"]["users"], r.get("products", 0)]
            total = [0.0, 0.0, 0.0, 0, 0, 0, 0]
            for stage, parts in STAGES:
                t = timers.get(stage, {"min": 0, "avg": 0, "max": 0})
                tr = [traffic.get(x, {}) for x in parts]
                b = [sum(x.get(k, 0) for x in tr) for k in ("sent_total", "received_total", "sent_max", "received_max")]
                vals = [t["min"], t["avg"], t["max"]] + b
                total = [a + v for a, v in zip(total, vals)]
                rows.append(base + [stage] + vals + [max(rss, default=0), wall])
            rows.append(base + ["total"] + total + [max(rss, default=0), wall])
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
            r[k] = float(r[k])
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
# Stage s on P ranks (C cores, P_eff = min(P, C)):
#   T_s(P) = a_s W_s / P_eff  +  [P > 1] (alpha_s ceil(log2 P)  +  beta B_s(P))
#   W_s: work in the stage's unit (events N, users U); B_s: bytes the busiest rank sends in the
#   stage, B_s(P) = x_s (N / P) (P - 1) / P + y_s  (records that change owner, plus collective
#   payloads whose size does not depend on the data). a_s, alpha_s per stage and one beta are
#   fitted jointly (non-negative least squares on relative errors); x_s, y_s by least squares on
#   the measured bytes.
WORK = {  # stage -> work variable
    "ingest": "events", "profile": "events", "analyze/read": "events", "analyze/features": "events",
    "analyze/transform+pca": "users", "analyze/segments": "users", "analyze/propensity": "events",
    "analyze/recommend": "events", "analyze/write": "users",
}

# The full seven-month REES46 data (2019-10 .. 2020-04), users and products as the generator's
# multi-category preset scales them: per month, users = 7.12% and products = 0.393% of the
# month's events (src/synth/preset.cpp), users persisting across months, so over 7 months
# users = 0.0712 N / 7 and products = 0.00393 N / 7 (ecom synth --months ...: truth/summary.json).
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


def ceil_log2(p):
    return math.ceil(math.log2(p)) if p > 1 else 0


def model_fit(out):
    import numpy as np
    from scipy.optimize import nnls
    rows = [r for e in ("strong", "weak") for r in load(out, e) if r["stage"] != "total"]
    if not rows:
        sys.exit("model: no strong.csv / weak.csv in " + out)
    stages = [s for s, _ in STAGES]
    # Bytes: x_s, y_s per stage from runs with P > 1.
    bytes_fit = {}
    for s in stages:
        pts = [r for r in rows if r["stage"] == s and r["ranks"] > 1]
        A = np.array([[r["events"] / r["ranks"] * (r["ranks"] - 1) / r["ranks"], 1.0] for r in pts])
        b = np.array([max(r["bytes_sent_max_rank"], r["bytes_received_max_rank"]) for r in pts])
        coef, _ = nnls(A, b) if len(pts) else (np.zeros(2), 0)
        bytes_fit[s] = coef

    def bytes_model(s, n, p):
        x, y = bytes_fit[s]
        return (x * n / p * (p - 1) / p + y) if p > 1 else 0.0

    # Time: unknowns a_s (per stage), alpha_s (per stage), beta (shared).
    k = len(stages)
    A, b, meta = [], [], []
    for r in rows:
        i = stages.index(r["stage"])
        t = r["seconds_max"]
        if t <= 0:
            continue
        p, c = r["ranks"], r["cores"]
        row = np.zeros(2 * k + 1)
        row[i] = r[WORK[r["stage"]]] / min(p, c)
        row[k + i] = ceil_log2(p)
        row[2 * k] = bytes_model(r["stage"], r["events"], p)
        w = 1.0 / max(t, 0.02)  # relative error; very short stages do not dominate
        A.append(row * w)
        b.append(t * w)
        meta.append((r, row))
    coef, _ = nnls(np.array(A), np.array(b))
    a, alpha, beta = coef[:k], coef[k:2 * k], coef[2 * k]

    check = []
    for r, row in meta:
        pred = float(row @ coef)
        check.append([r["experiment"], r["ranks"], r["oversubscribed"], r["events"], r["stage"], r["seconds_max"],
                      pred, (pred - r["seconds_max"]) / r["seconds_max"]])
    # Whole runs: sum over stages.
    for e in ("strong", "weak"):
        for p in sorted({c[1] for c in check if c[0] == e}):
            pts = [c for c in check if c[0] == e and c[1] == p]
            m, q = sum(c[5] for c in pts), sum(c[6] for c in pts)
            check.append([e, p, pts[0][2], pts[0][3], "total", m, q, (q - m) / m])
    write_csv(os.path.join(out, "model_check.csv"),
              ["experiment", "ranks", "oversubscribed", "events", "stage", "measured_seconds", "model_seconds",
               "relative_error"],
              [c[:5] + [f"{c[5]:.4f}", f"{c[6]:.4f}", f"{c[7]:+.3f}"] for c in check])
    write_csv(os.path.join(out, "model_fit.csv"),
              ["stage", "work", "a_seconds_per_unit", "alpha_seconds_per_log2P", "bytes_per_event_moved",
               "bytes_fixed", "beta_seconds_per_byte"],
              [[s, WORK[s], f"{a[i]:.4e}", f"{alpha[i]:.4e}", f"{bytes_fit[s][0]:.4g}", f"{bytes_fit[s][1]:.4g}",
                f"{beta:.4e}"] for i, s in enumerate(stages)])

    # Memory: peak RSS of the busiest rank = m0 + m1 N / P (all runs).
    mem_pts = [r for r in rows if r["stage"] == "analyze/read"]
    mem, _ = nnls(np.array([[1.0, r["events"] / r["ranks"]] for r in mem_pts]),
                  np.array([r["peak_rss_max_bytes"] for r in mem_pts]))
    write_csv(os.path.join(out, "model_memory.csv"), ["rss_fixed_bytes", "rss_bytes_per_event_per_rank"],
              [[f"{mem[0]:.4g}", f"{mem[1]:.4g}"]])

    # Projection: one rank per core, 16 per node. Inside a node the fitted costs; a collective on
    # P ranks over several nodes has ceil(log2 16) rounds inside and ceil(log2 nodes) across,
    # each across-round NET_ALPHA / ALPHA_SHM times as slow; bytes that cross nodes, the share
    # (nodes - 1) / nodes of the exchanged volume, move at NET_BETA.
    units = {"events": FULL_EVENTS, "users": FULL_USERS}
    proj = []
    for p in [2 ** j for j in range(11)]:
        nodes = math.ceil(p / RANKS_PER_NODE)
        per_stage = []
        for i, s in enumerate(stages):
            comp = a[i] * units[WORK[s]] / p
            rounds = ceil_log2(min(p, RANKS_PER_NODE)) + NET_ALPHA / ALPHA_SHM * ceil_log2(nodes)
            volume = bytes_model(s, FULL_EVENTS, p)
            bw = volume * (beta / nodes + max(beta, NET_BETA) * (nodes - 1) / nodes)
            per_stage.append(comp + alpha[i] * rounds + bw)
        total = sum(per_stage)
        rss_gib = (mem[0] + mem[1] * FULL_EVENTS / p) / 2**30
        proj.append([p, nodes] + [f"{v:.1f}" for v in per_stage] + [f"{rss_gib:.2f}", f"{total:.1f}"])
    t1 = float(proj[0][-1])
    for row in proj:
        row.append(f"{t1 / (float(row[-1]) * row[0]):.3f}")
    write_csv(os.path.join(out, "projection.csv"), ["ranks", "nodes"] + [s + "_s" for s in stages] +
              ["peak_rss_per_rank_gib", "total_s", "efficiency"], proj)
    errs = [abs(c[7]) for c in check if c[4] != "total" and c[5] >= 0.1]
    tot = [abs(c[7]) for c in check if c[4] == "total"]
    print(f"model: beta {beta:.3e} s/byte; stage points >= 0.1 s: max |error| {max(errs):.1%}, "
          f"median {sorted(errs)[len(errs) // 2]:.1%}; whole runs: max |error| {max(tot):.1%}")
    print(f"model: projection for {FULL_EVENTS:.4g} events, {FULL_USERS:.4g} users, {FULL_PRODUCTS:.4g} products "
          f"-> {out}/projection.csv")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    ps = [r[0] for r in proj]
    axes[0].plot(ps, [float(r[-2]) / 3600 for r in proj], "k*-", label="total")
    for i, s in enumerate(stages):
        axes[0].plot(ps, [float(r[2 + i]) / 3600 for r in proj], "-", lw=1, label=s)
    axes[0].set(xscale="log", yscale="log", xlabel="ranks (16 per node)", ylabel="hours",
                title=f"model: {FULL_EVENTS / 1e6:.1f}M events (7 months)")
    axes[0].legend(fontsize=7)
    axes[1].plot(ps, [float(r[-1]) for r in proj], "o-")
    axes[1].set(xscale="log", xlabel="ranks (16 per node)", ylabel="efficiency T(1)/(P T(P))", ylim=(0, 1.05),
                title="model: parallel efficiency")
    for ax in axes:
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
