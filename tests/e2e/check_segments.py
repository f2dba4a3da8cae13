#!/usr/bin/python3
"""Independent check of segmentation against the generator's planted archetypes.

usage: check_segments.py KEY_FILE SYNTH_DIR RUN_DIR MIN_ARI [MIN_EVENTS] [--check-k]

Joins RUN_DIR/customer_segments.csv (pseudonyms) with SYNTH_DIR/truth/users.csv (raw ids) via
HMAC-SHA-256 computed here with Python's hmac module (not with ecom), counts each user's events
in SYNTH_DIR/events/*.csv(.gz) with the csv module, and prints the adjusted Rand index (scikit-
learn) over users with at least MIN_EVENTS events (default 5) and over all users, and the
confusion table (segments x archetypes) of the first. Fails unless the first ARI is >= MIN_ARI.
With --check-k it also fails unless the number of segments (distinct segment_id, and k in
RUN_DIR/run.json) equals the number of archetypes in the truth.
"""
import argparse
import csv
import glob
import gzip
import hashlib
import hmac
import json
import sys
from collections import Counter

from sklearn.metrics import adjusted_rand_score


def open_text(path):
    return gzip.open(path, "rt", newline="") if path.endswith(".gz") else open(path, newline="")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("key_file")
    ap.add_argument("synth_dir")
    ap.add_argument("run_dir")
    ap.add_argument("min_ari", type=float)
    ap.add_argument("min_events", type=int, nargs="?", default=5)
    ap.add_argument("--check-k", action="store_true")
    a = ap.parse_args()
    key = open(a.key_file, "rb").read()
    pseudo = lambda raw: hmac.new(key, raw.encode(), hashlib.sha256).hexdigest()[:16]
    truth = {}
    with open(f"{a.synth_dir}/truth/users.csv", newline="") as f:
        for row in csv.DictReader(f):
            truth[pseudo(row["user_id"])] = row["archetype"]
    events = Counter()
    for path in sorted(glob.glob(f"{a.synth_dir}/events/*.csv*")):
        with open_text(path) as f:
            r = csv.reader(f)
            next(r)
            for row in r:
                if len(row) == 9:
                    events[row[7]] += 1
    n_events = {pseudo(u): c for u, c in events.items()}
    seg = {}
    with open(f"{a.run_dir}/customer_segments.csv", newline="") as f:
        for row in csv.DictReader(f):
            seg[row["user_id"]] = row["segment_id"]
    users = [u for u in seg if u in truth]
    if len(users) != len(seg):
        sys.exit(f"FAIL: {len(seg) - len(users)} segmented users are not in the truth")
    active = [u for u in users if n_events.get(u, 0) >= a.min_events]
    ari_all = adjusted_rand_score([truth[u] for u in users], [seg[u] for u in users])
    ari_active = adjusted_rand_score([truth[u] for u in active], [seg[u] for u in active])
    print(f"users {len(users)}, with >= {a.min_events} events {len(active)}; "
          f"ARI (>= {a.min_events} events) {ari_active:.4f}; ARI (all users) {ari_all:.4f}")
    archetypes = sorted(set(truth.values()))
    segments = sorted(set(seg.values()), key=int)
    table = Counter((seg[u], truth[u]) for u in active)
    print("segment " + "".join(f"{x[:14]:>15}" for x in archetypes))
    for s in segments:
        print(f"{s:>7} " + "".join(f"{table[(s, x)]:>15}" for x in archetypes))
    failures = []
    if ari_active < a.min_ari:
        failures.append(f"ARI {ari_active:.4f} < {a.min_ari}")
    if a.check_k:
        with open(f"{a.run_dir}/run.json") as f:
            k_run = json.load(f)["segments"]["k"]
        print(f"segments {len(segments)} (run.json k = {k_run}), archetypes in the truth "
              f"{len(archetypes)}")
        if len(segments) != len(archetypes) or k_run != len(archetypes):
            failures.append(f"k = {k_run} ({len(segments)} segments), planted {len(archetypes)}")
    if failures:
        sys.exit("FAIL: " + "; ".join(failures))


if __name__ == "__main__":
    main()
