#!/usr/bin/python3
"""Independent check of RUN_DIR/segment_profiles.csv against the raw CSV files.

usage: check_profiles.py KEY_FILE RUN_DIR INPUT.csv[.gz]...

Reads the raw files with check_features.py's cleaning (rejects, duplicates), maps raw user ids
to pseudonyms with hmac/hashlib, takes each user's segment from RUN_DIR/customer_segments.csv
and recomputes per segment, with plain Python:
- users and share;
- revenue: the sum of the prices of the purchase events of the segment's users (from the
  events, not from a feature), and revenue_share = revenue / total revenue;
- <feature>_mean for every feature column: the mean over the segment's users of
  check_features.py's independent per-user computation.
Counts must be equal; the other values agree to 2e-9 relative to the size of their terms
(the CSV has 10 significant digits).
"""
import csv
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_features import features, load  # noqa: E402

PURCHASE = 3


def main():
    key_file, run_dir, inputs = sys.argv[1], sys.argv[2], sys.argv[3:]
    events, (t_start, t_end), _ = load(key_file, inputs)
    with open(f"{run_dir}/customer_segments.csv", newline="") as f:
        segment = {r["user_id"]: int(r["segment_id"]) for r in csv.DictReader(f)}
    if set(segment) != set(events):
        sys.exit(f"FAIL: customer_segments.csv has {len(set(segment) - set(events))} users not "
                 f"in the raw files and misses {len(set(events) - set(segment))}")
    with open(f"{run_dir}/segment_profiles.csv", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        prof = list(reader)
    fixed = ["segment_id", "name", "users", "share", "revenue", "revenue_share"]
    if header[:6] != fixed or not all(h.endswith("_mean") for h in header[6:]):
        sys.exit(f"FAIL: segment_profiles.csv header {header}")
    names = [h[:-len("_mean")] for h in header[6:]]

    users = defaultdict(int)
    revenue = defaultdict(float)
    terms = defaultdict(float)  # sum of |price|: the scale of the revenue's rounding
    sums = defaultdict(lambda: defaultdict(float))
    scale = defaultdict(lambda: defaultdict(float))
    for u, ev in events.items():
        s = segment[u]
        users[s] += 1
        for e in ev:
            if e[2] == PURCHASE:
                revenue[s] += e[7]
                terms[s] += abs(e[7])
        f = features(ev, t_start, t_end)
        missing = [n for n in names if n not in f]
        if missing:
            sys.exit(f"FAIL: no independent formula for {missing}")
        for n in names:
            sums[s][n] += f[n]
            scale[s][n] += abs(f[n])
    n_users = len(events)
    total_revenue = sum(revenue.values())

    def agree(got, want, size):
        return abs(float(got) - want) <= 2e-9 * max(abs(want), size) + 1e-300

    bad = []
    if sorted(int(r["segment_id"]) for r in prof) != sorted(users):
        bad.append(f"segments {[r['segment_id'] for r in prof]} vs {sorted(users)}")
    for r in prof:
        s = int(r["segment_id"])
        if s not in users:
            continue
        if int(r["users"]) != users[s]:
            bad.append(f"segment {s}: users {r['users']} vs {users[s]}")
        if not agree(r["share"], users[s] / n_users, 0):
            bad.append(f"segment {s}: share {r['share']} vs {users[s] / n_users}")
        if not agree(r["revenue"], revenue[s], terms[s]):
            bad.append(f"segment {s}: revenue {r['revenue']} vs {revenue[s]!r}")
        want_share = revenue[s] / total_revenue if total_revenue else 0.0
        if not agree(r["revenue_share"], want_share, terms[s] / max(total_revenue, 1e-300)):
            bad.append(f"segment {s}: revenue_share {r['revenue_share']} vs {want_share!r}")
        for n in names:
            want = sums[s][n] / users[s]
            if not agree(r[n + "_mean"], want, scale[s][n] / users[s]):
                bad.append(f"segment {s}: {n}_mean {r[n + '_mean']} vs {want!r}")
    if bad:
        print("\n".join(bad[:20]))
        sys.exit(f"FAIL: {len(bad)} profile values differ from the raw-file computation")
    print(f"segment_profiles.csv: {len(prof)} segments, {n_users} users, revenue "
          f"{total_revenue:.2f} and {len(names)} feature means equal the raw-file computation")


if __name__ == "__main__":
    main()
