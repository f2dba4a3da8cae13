#!/usr/bin/python3
"""Independent check of segmentation against the generator's planted archetypes.

usage: check_segments.py KEY_FILE SYNTH_DIR RUN_DIR MIN_ARI [MIN_EVENTS]

Joins RUN_DIR/customer_segments.csv (pseudonyms) with SYNTH_DIR/truth/users.csv (raw ids) via
HMAC-SHA-256 computed here with Python's hmac module (not with ecom), counts each user's events
in SYNTH_DIR/events/*.csv(.gz) with the csv module, and prints the adjusted Rand index (scikit-
learn) over users with at least MIN_EVENTS events (default 5) and over all users. Fails unless
the first is >= MIN_ARI.
"""
import csv
import glob
import gzip
import hashlib
import hmac
import sys
from collections import Counter

from sklearn.metrics import adjusted_rand_score


def open_text(path):
    return gzip.open(path, "rt", newline="") if path.endswith(".gz") else open(path, newline="")


def main():
    key_file, synth_dir, run_dir, min_ari = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    min_events = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    key = open(key_file, "rb").read()
    pseudo = lambda raw: hmac.new(key, raw.encode(), hashlib.sha256).hexdigest()[:16]
    truth = {}
    with open(f"{synth_dir}/truth/users.csv", newline="") as f:
        for row in csv.DictReader(f):
            truth[pseudo(row["user_id"])] = row["archetype"]
    events = Counter()
    for path in sorted(glob.glob(f"{synth_dir}/events/*.csv*")):
        with open_text(path) as f:
            r = csv.reader(f)
            next(r)
            for row in r:
                if len(row) == 9:
                    events[row[7]] += 1
    n_events = {pseudo(u): c for u, c in events.items()}
    seg = {}
    with open(f"{run_dir}/customer_segments.csv", newline="") as f:
        for row in csv.DictReader(f):
            seg[row["user_id"]] = row["segment_id"]
    users = [u for u in seg if u in truth]
    if len(users) != len(seg):
        sys.exit(f"FAIL: {len(seg) - len(users)} segmented users are not in the truth")
    active = [u for u in users if n_events.get(u, 0) >= min_events]
    ari_all = adjusted_rand_score([truth[u] for u in users], [seg[u] for u in users])
    ari_active = adjusted_rand_score([truth[u] for u in active], [seg[u] for u in active])
    print(f"users {len(users)}, with >= {min_events} events {len(active)}; "
          f"ARI (>= {min_events} events) {ari_active:.4f}; ARI (all users) {ari_all:.4f}")
    if ari_active < min_ari:
        sys.exit(f"FAIL: ARI {ari_active:.4f} < {min_ari}")


if __name__ == "__main__":
    main()
