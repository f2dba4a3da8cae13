#!/usr/bin/python3
"""HTML report of one ecom run directory: scripts/report.py RUNDIR [--sample N] [--seed S]

Writes RUNDIR/report/index.html and its PNG figures (relative links only: the page opens from
disk, with no network and no JavaScript):
  event profile (types, per hour, per day)  from RUNDIR/profile/*.csv (written by `ecom run`)
  k selection (elbow, silhouette, gap, stability)  from k_selection.csv and ecom.h5 /validation
  PCA scatter of a keyed sample of users coloured by segment  from ecom.h5 /users
  segment sizes and value  from segment_profiles.csv
  recommendation metrics, ALS against popularity  from run.json
  propensity calibration on the holdout  from ecom.h5 /propensity
  stage timings (min/avg/max over ranks)  from run.json
A section whose inputs are missing (e.g. a run without recommendations) says so instead.
Needs Debian's python3-matplotlib, python3-h5py and python3-numpy (run it with /usr/bin/python3).
"""
import argparse
import csv
import html
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DPI = 100
MASK64 = (1 << 64) - 1


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def keyed_sample(pseudonyms, n, seed):
    """Deterministic sample of about n users: a mixed hash of (pseudonym, seed) below a threshold,
    so the same users are drawn whatever the order or the number of ranks of the run."""
    if len(pseudonyms) <= n:
        return np.arange(len(pseudonyms))
    x = (pseudonyms.astype(np.uint64) ^ np.uint64(seed * 0x9E3779B97F4A7C15 & MASK64))
    with np.errstate(over="ignore"):  # splitmix64 finaliser, modulo 2^64
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    threshold = np.uint64(int(n / len(pseudonyms) * 2.0**64) & MASK64)
    return np.nonzero(x < threshold)[0]


class Report:
    def __init__(self, run, out):
        self.run, self.out = run, out
        self.sections = []  # (title, html)

    def path(self, name):
        return os.path.join(self.run, name)

    def save(self, fig, name, alt):
        fig.tight_layout()
        fig.savefig(os.path.join(self.out, name), dpi=DPI)
        plt.close(fig)
        return f'<figure><img src="{html.escape(name)}" alt="{html.escape(alt)}"></figure>'

    def section(self, title, body):
        self.sections.append((title, body))

    def missing(self, title, why):
        self.section(title, f'<p class="missing">Not available: {html.escape(why)}</p>')


def event_profile(r):
    d = r.path("profile")
    needed = ["event_types.csv", "events_by_hour.csv", "events_by_day.csv"]
    if not all(os.path.exists(os.path.join(d, f)) for f in needed):
        return r.missing("Event profile", "no profile/ tables in the run directory (run `ecom profile --out RUNDIR/profile`)")
    types = read_csv(os.path.join(d, "event_types.csv"))
    hours = read_csv(os.path.join(d, "events_by_hour.csv"))
    days = read_csv(os.path.join(d, "events_by_day.csv"))
    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    ax[0].bar([t["event_type"] for t in types], [num(t["count"]) for t in types], color="#4c72b0")
    ax[0].set_yscale("log")
    ax[0].set_title("events by type (log scale)")
    ax[1].bar([int(h["hour"]) for h in hours], [num(h["count"]) for h in hours], color="#55a868")
    ax[1].set_title("events by hour of day (UTC)")
    ax[1].set_xlabel("hour")
    ax[2].plot(range(len(days)), [num(x["count"]) for x in days], marker=".", color="#c44e52")
    step = max(1, len(days) // 8)
    ax[2].set_xticks(range(0, len(days), step))
    ax[2].set_xticklabels([days[i]["date"] for i in range(0, len(days), step)], rotation=30, ha="right")
    ax[2].set_title("events by day")
    rows = "".join(f"<tr><td>{html.escape(t['event_type'])}</td><td>{int(num(t['count'])):,}</td>"
                   f"<td>{100 * num(t['share']):.2f}%</td></tr>" for t in types)
    r.section("Event profile", r.save(fig, "event_profile.png", "events by type, hour and day") +
              f"<table><tr><th>type</th><th>events</th><th>share</th></tr>{rows}</table>")


def k_selection(r, chosen_k):
    if not os.path.exists(r.path("k_selection.csv")):
        return r.missing("Choice of k", "no k_selection.csv")
    rows = read_csv(r.path("k_selection.csv"))
    k = [int(x["k"]) for x in rows]
    col = lambda name: [num(x[name]) for x in rows]  # noqa: E731
    fig, ax = plt.subplots(1, 4, figsize=(16, 3.6))
    ax[0].plot(k, col("inertia"), marker="o")
    ax[0].set_title("elbow: inertia")
    ax[1].plot(k, col("silhouette"), marker="o", label="silhouette (sample)")
    ax[1].plot(k, col("simplified_silhouette"), marker="s", label="simplified")
    ax[1].legend(fontsize=8)
    ax[1].set_title("silhouette")
    ax[2].errorbar(k, col("gap"), yerr=col("gap_sd"), marker="o", capsize=3)
    ax[2].set_title("gap statistic")
    ax[3].plot(k, col("stability_ari"), marker="o", label="ARI")
    ax[3].plot(k, col("stability_pairs"), marker="s", label="pair agreement")
    ax[3].legend(fontsize=8)
    ax[3].set_title("bootstrap stability")
    for a in ax:
        a.set_xlabel("k")
        if chosen_k is not None:
            a.axvline(chosen_k, color="grey", ls="--", lw=1)
    r.section("Choice of k", r.save(fig, "k_selection.png", "elbow, silhouette, gap and stability against k") +
              (f"<p>Chosen k = {chosen_k} (dashed line).</p>" if chosen_k is not None else ""))


def pca_scatter(r, h5, sample, seed, names):
    if h5 is None or "users/pca_scores" not in h5:
        return r.missing("Segments in PCA space", "no ecom.h5 /users/pca_scores")
    pseud = h5["users/pseudonym"][...]
    idx = keyed_sample(pseud, sample, seed)
    scores = h5["users/pca_scores"][...]
    seg = h5["users/segment"][...]
    if scores.ndim == 1:
        scores = scores[:, None]
    x = scores[idx, 0]
    y = scores[idx, 1] if scores.shape[1] > 1 else np.zeros(len(idx))
    fig, ax = plt.subplots(figsize=(7.5, 6))
    cmap = plt.get_cmap("tab10")
    for s in np.unique(seg):
        m = seg[idx] == s
        label = names[s] if s < len(names) else str(s)
        ax.scatter(x[m], y[m], s=6, alpha=0.6, color=cmap(int(s) % 10), label=f"{s}: {label}")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(fontsize=8, markerscale=3)
    ax.set_title(f"keyed sample of {len(idx):,} of {len(pseud):,} users")
    r.section("Segments in PCA space", r.save(fig, "pca_scatter.png", "PCA scatter coloured by segment"))


def segments(r):
    if not os.path.exists(r.path("segment_profiles.csv")):
        return r.missing("Segment sizes and value", "no segment_profiles.csv")
    rows = read_csv(r.path("segment_profiles.csv"))
    labels = [f"{x['segment_id']}: {x['name']}" for x in rows]
    fig, ax = plt.subplots(1, 2, figsize=(13, 4))
    ax[0].barh(labels, [num(x["users"]) for x in rows], color="#4c72b0")
    ax[0].set_title("users per segment")
    ax[0].invert_yaxis()
    ax[1].barh(labels, [num(x["revenue"]) for x in rows], color="#dd8452")
    ax[1].set_title("revenue per segment")
    ax[1].invert_yaxis()
    table = "".join(
        f"<tr><td>{html.escape(x['segment_id'])}</td><td>{html.escape(x['name'])}</td><td>{int(num(x['users'])):,}</td>"
        f"<td>{100 * num(x['share']):.1f}%</td><td>{num(x['revenue']):,.2f}</td><td>{100 * num(x['revenue_share']):.1f}%</td></tr>"
        for x in rows)
    r.section("Segment sizes and value", r.save(fig, "segments.png", "users and revenue per segment") +
              "<table><tr><th>segment</th><th>name</th><th>users</th><th>share</th><th>revenue</th>"
              f"<th>revenue share</th></tr>{table}</table>")


def recommendations(r, js):
    if "als" not in js or "popularity" not in js:
        return r.missing("Recommendations against popularity", "the run has no recommender evaluation")
    keys = ["precision_at_10", "recall_at_10", "map_at_10", "ndcg_at_10", "auc", "coverage"]
    als = [num(js["als"].get(k)) for k in keys]
    pop = [num(js["popularity"].get(k)) for k in keys]
    fig, ax = plt.subplots(figsize=(10, 4))
    pos = np.arange(len(keys))
    ax.bar(pos - 0.2, als, 0.4, label="ALS")
    ax.bar(pos + 0.2, pop, 0.4, label="popularity")
    ax.set_xticks(pos)
    ax.set_xticklabels(keys)
    ax.legend()
    ax.set_title(f"holdout of {js.get('holdout_pairs', '?')} (user, product) pairs")
    rows = "".join(f"<tr><td>{k}</td><td>{a:.4f}</td><td>{p:.4f}</td></tr>" for k, a, p in zip(keys, als, pop))
    r.section("Recommendations against popularity", r.save(fig, "recommendations.png", "ALS and popularity metrics") +
              f"<table><tr><th>metric</th><th>ALS</th><th>popularity</th></tr>{rows}</table>")


def propensity(r, h5, js):
    p = js.get("propensity", {})
    if h5 is None or "propensity/holdout_proba" not in h5 or not p or p.get("auc") is None:
        why = p.get("skipped") if p and p.get("skipped") else "no trained propensity model in this run"
        return r.missing("Purchase propensity", why)
    proba = h5["propensity/holdout_proba"][...]
    label = h5["propensity/holdout_label"][...].astype(float)
    bins = 10
    edges = np.unique(np.quantile(proba, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, proba, side="right") - 1, 0, len(edges) - 2)
    pred = np.array([proba[which == b].mean() for b in range(len(edges) - 1) if np.any(which == b)])
    obs = np.array([label[which == b].mean() for b in range(len(edges) - 1) if np.any(which == b)])
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    top = max(pred.max(), obs.max()) * 1.05
    ax[0].plot([0, top], [0, top], color="grey", ls="--", lw=1, label="perfect calibration")
    ax[0].plot(pred, obs, marker="o", label="holdout deciles")
    ax[0].set_xlabel("mean predicted probability")
    ax[0].set_ylabel("observed purchase rate")
    ax[0].legend()
    ax[0].set_title(f"calibration (AUC {p['auc']:.3f}, log-loss {p['logloss']:.3f})")
    ax[1].hist([proba[label == 0], proba[label == 1]], bins=30, label=["no purchase", "purchase"], log=True)
    ax[1].set_xlabel("predicted probability")
    ax[1].legend()
    ax[1].set_title(f"holdout: {len(proba):,} users, {int(label.sum()):,} buyers")
    r.section("Purchase propensity", r.save(fig, "propensity.png", "propensity calibration and score histogram") +
              f"<p>Label: a purchase in the last {p.get('label_days')} days of the window (after "
              f"{html.escape(str(p.get('cutoff')))} UTC); features from the days before. Trained on "
              f"{p.get('train_users'):,} users, evaluated on a keyed holdout of {p.get('holdout_users'):,}.</p>")


def stages(r, js):
    st = js.get("stages", [])
    if not st:
        return r.missing("Stage timings", "run.json has no stages")
    names = [s["stage"] for s in st]
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(names) + 1.5))
    pos = np.arange(len(names))
    ax.barh(pos, [num(s["max"]) for s in st], color="#c44e52", alpha=0.4, label="max over ranks")
    ax.barh(pos, [num(s["avg"]) for s in st], color="#4c72b0", height=0.4, label="average")
    ax.set_yticks(pos)
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.legend()
    ax.set_title(f"{js.get('ranks', '?')} ranks")
    r.section("Stage timings", r.save(fig, "stages.png", "stage timings"))


def summary(js):
    c = js.get("counts", {})
    p = js.get("propensity", {})
    items = [("run time", js.get("run_time")), ("ranks", js.get("ranks")), ("events", c.get("events")),
             ("users", c.get("users")), ("segments (k)", js.get("segments", {}).get("k")),
             ("propensity AUC", p.get("auc")), ("propensity log-loss", p.get("logloss")),
             ("version", f"{js.get('version')} ({js.get('git_revision')})")]
    fmt = lambda v: f"{v:,}" if isinstance(v, int) else (f"{v:.4f}" if isinstance(v, float) else str(v))  # noqa: E731
    return "<table>" + "".join(f"<tr><th>{k}</th><td>{html.escape(fmt(v))}</td></tr>" for k, v in items) + "</table>"


CSS = """body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}
img{max-width:100%}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.missing{color:#a33}figure{margin:0}"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rundir")
    ap.add_argument("--sample", type=int, default=5000, help="users in the PCA scatter (keyed sample)")
    ap.add_argument("--seed", type=int, default=1, help="key of the sample")
    a = ap.parse_args()
    run = a.rundir
    if not os.path.exists(os.path.join(run, "run.json")):
        sys.exit(f"report: {run}/run.json not found (is {run} a finished run directory?)")
    out = os.path.join(run, "report")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(run, "run.json")) as f:
        js = json.load(f)
    r = Report(run, out)
    h5 = h5py.File(os.path.join(run, "ecom.h5"), "r") if os.path.exists(os.path.join(run, "ecom.h5")) else None
    names = []
    if h5 is not None and "model/segment_names" in h5:
        names = [s.decode() if isinstance(s, bytes) else str(s) for s in h5["model/segment_names"][...]]
    event_profile(r)
    k_selection(r, js.get("segments", {}).get("k"))
    pca_scatter(r, h5, a.sample, a.seed, names)
    segments(r)
    recommendations(r, js)
    propensity(r, h5, js)
    stages(r, js)
    if h5 is not None:
        h5.close()
    body = "".join(f"<h2>{html.escape(t)}</h2>\n{b}\n" for t, b in r.sections)
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ecom report: "
            f"{html.escape(os.path.basename(os.path.abspath(run)))}</title><style>{CSS}</style></head><body>\n"
            f"<h1>ecom run report</h1>\n{summary(js)}\n{body}</body></html>\n")
    tmp = os.path.join(out, "index.html.tmp")
    with open(tmp, "w") as f:
        f.write(page)
    os.replace(tmp, os.path.join(out, "index.html"))
    print(f"report: wrote {out}/index.html and {sum(1 for _ in os.scandir(out) if _.name.endswith('.png'))} figures")


if __name__ == "__main__":
    main()
