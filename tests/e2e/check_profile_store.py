#!/usr/bin/python3
"""Independent check of `ecom profile` output against the event store itself.

Reads every partition's /events columns with h5py and recomputes the profile with numpy
(vectorised, a different method from ecom's per-rank passes, radix selection and exact
accumulators), then compares with the CSV files in OUT_DIR and with the store's /profile group.

usage: check_profile_store.py STORE.h5 OUT_DIR
"""
import csv
import datetime
import math
import os
import sys

import h5py
import numpy as np

TYPES = ["view", "cart", "remove_from_cart", "purchase"]
COLUMNS = ["event_time", "event_type", "product_id", "category_id", "category_code", "brand",
           "price", "user_id", "user_session"]
KNOWN_REASONS = ["field_count", "bad_time", "unknown_event_type", "bad_user_id", "bad_product_id",
                 "bad_category_id", "bad_session", "bad_price", "out_of_window", "bad_label"]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def close(a, b, rel=1e-12):
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def read_csv(out, name):
    with open(os.path.join(out, name + ".csv"), newline="") as f:
        return list(csv.reader(f))


def num(s):
    return float("nan") if s == "" else float(s)


def main():
    store, out = sys.argv[1], sys.argv[2]
    with h5py.File(store, "r") as f:
        parts = sorted(f["partitions"].keys())
        cols = {c: np.concatenate([f["partitions"][p]["events"][c][...] for p in parts])
                for c in ["user", "time", "event_type", "product_id", "category_id", "category",
                          "brand", "price", "session"]}
        manifest = [f["manifest"][k] for k in sorted(f["manifest"].keys())]
        rows_read = sum(int(m.attrs["rows_read"]) for m in manifest)
        missing = np.zeros(9, dtype=np.uint64)
        rejects = {}
        duplicates = 0
        for m in manifest:
            missing += np.asarray(m.attrs["missing"], dtype=np.uint64)
            duplicates += int(m.attrs["duplicates"])
            reasons = m.attrs["reject_reasons"] if m.attrs["reject_reasons"].shape is not None else []
            counts = m.attrs["reject_counts"] if m.attrs["reject_counts"].shape is not None else []
            for r, c in zip(reasons, counts):
                r = r.decode() if isinstance(r, bytes) else str(r)
                rejects[r] = rejects.get(r, 0) + int(c)
        h5_profile = {}
        if "profile" in f:
            for t in f["profile"]:
                g = f["profile"][t]
                h5_profile[t] = {c: g[c][...] for c in g}
    n = len(cols["time"])

    # event_types
    rows = read_csv(out, "event_types")
    check(rows[0] == ["event_type", "count", "share"], "event_types header")
    counts = np.bincount(cols["event_type"], minlength=4)
    for i, t in enumerate(TYPES):
        check(rows[i + 1][0] == t and int(rows[i + 1][1]) == counts[i], f"event_types {t}")
        if n:
            check(float(rows[i + 1][2]) == counts[i] / n, f"event_types share {t}")

    # missing_values (from the manifest)
    rows = read_csv(out, "missing_values")
    for i, c in enumerate(COLUMNS):
        check(rows[i + 1][0] == c and int(rows[i + 1][1]) == missing[i], f"missing {c}")
        if rows_read:
            check(float(rows[i + 1][2]) == int(missing[i]) / rows_read, f"missing share {c}")

    # events_by_day / by hour: via datetime
    rows = read_csv(out, "events_by_day")
    days = {}
    hours = [0] * 24
    for t, k in zip(*np.unique(cols["time"], return_counts=True)):
        k = int(k)
        d = datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc)
        days[d.date().isoformat()] = days.get(d.date().isoformat(), 0) + k
        hours[d.hour] += k
    ours = {r[0]: int(r[1]) for r in rows[1:]}
    check({k: v for k, v in ours.items() if v} == days, "events_by_day")
    if days:
        check(rows[1][0] == min(days) and rows[-1][0] == max(days), "events_by_day range")
        check(len(rows) - 1 == (datetime.date.fromisoformat(max(days)) -
                                datetime.date.fromisoformat(min(days))).days + 1, "day rows contiguous")
    rows = read_csv(out, "events_by_hour")
    check([int(r[1]) for r in rows[1:]] == hours, "events_by_hour")

    # price_by_event_type
    rows = read_csv(out, "price_by_event_type")
    check(rows[0] == ["event_type", "count", "mean", "min", "max", "zero_price"], f"price header {rows[0]}")
    for i, t in enumerate(TYPES):
        p = cols["price"][cols["event_type"] == i]
        r = rows[i + 1]
        check(int(r[1]) == len(p), f"price count {t}")
        check(int(r[5]) == int(np.count_nonzero(p == 0)), f"zero_price {t}: {r[5]}")
        if len(p):
            check(close(num(r[2]), math.fsum(p.tolist()) / len(p)), f"price mean {t}: {r[2]}")
            check(num(r[3]) == p.min() and num(r[4]) == p.max(), f"price min/max {t}")
        else:
            check(r[2:5] == ["", "", ""], f"price of absent type {t}")

    # sessions: (user, session) pairs via numpy lexsort
    rows = dict((r[0], r[1]) for r in read_csv(out, "sessions")[1:])
    if n:
        order = np.lexsort((cols["time"], cols["session"], cols["user"]))
        u, s, t = cols["user"][order], cols["session"][order], cols["time"][order].astype(np.int64)
        start = np.ones(n, dtype=bool)
        start[1:] = (u[1:] != u[:-1]) | (s[1:] != s[:-1])
        idx = np.flatnonzero(start)
        lengths = np.diff(np.append(idx, n))
        ends = np.append(idx[1:], n) - 1
        durations = t[ends] - t[idx]
        check(int(num(rows["count"])) == len(lengths), "sessions count")
        check(close(num(rows["mean"]), float(lengths.mean())), "sessions mean")
        if len(lengths) > 1:
            check(close(num(rows["std"]), float(lengths.std(ddof=1)), 1e-10), "sessions std")
        check(num(rows["min"]) == lengths.min() and num(rows["max"]) == lengths.max(), "sessions min/max")
        for key, q in (("p25", 25), ("p50", 50), ("p75", 75)):
            check(num(rows[key]) == float(np.percentile(lengths, q)), f"sessions {key}")
        check(close(num(rows["duration_mean_seconds"]), float(durations.mean())), "duration mean")
        check(num(rows["duration_median_seconds"]) == float(np.median(durations)), "duration median")
        sessions = len(lengths)
    else:
        sessions = 0

    # distinct
    rows = dict((r[0], int(r[1])) for r in read_csv(out, "distinct")[1:])
    check(rows["users"] == len(np.unique(cols["user"])), "distinct users")
    check(rows["products"] == len(np.unique(cols["product_id"])), "distinct products")
    cid = cols["category_id"]
    check(rows["categories"] == len(np.unique(cid[cid != 0])), "distinct categories")
    cat = cols["category"]
    check(rows["category_codes"] == len(np.unique(cat[cat != 0])), "distinct category codes")
    br = cols["brand"]
    check(rows["brands"] == len(np.unique(br[br != 0])), "distinct brands")
    check(rows["sessions"] == sessions, "distinct sessions")
    check(rows["events"] == n, "distinct events")

    # rejects (from the manifest)
    rows = read_csv(out, "rejects")
    expect = [(r, rejects.get(r, 0)) for r in KNOWN_REASONS]
    expect += [(r, c) for r, c in sorted(rejects.items()) if r not in KNOWN_REASONS and r != "duplicate"]
    expect += [("duplicate", duplicates + rejects.get("duplicate", 0))]
    check([(r[0], int(r[1])) for r in rows[1:]] == expect, f"rejects {rows[1:]} != {expect}")

    # The store's /profile group holds the same tables.
    if h5_profile:
        for name in ["event_types", "missing_values", "events_by_day", "events_by_hour",
                     "price_by_event_type", "sessions", "distinct", "rejects"]:
            table = read_csv(out, name)
            g = h5_profile.get(name)
            check(g is not None, f"/profile/{name} missing")
            if g is None:
                continue
            for j, col in enumerate(table[0]):
                values = g[col]
                for i, cell in enumerate(table[1:]):
                    v = values[i]
                    if isinstance(v, bytes):
                        check(v.decode() == cell[j], f"/profile/{name}/{col}[{i}]")
                    elif isinstance(v, (float, np.floating)):
                        check((math.isnan(v) and cell[j] == "") or v == float(cell[j]),
                              f"/profile/{name}/{col}[{i}]")
                    else:
                        check(int(v) == int(cell[j]), f"/profile/{name}/{col}[{i}]")

    if failures:
        for f in failures:
            print("MISMATCH:", f, file=sys.stderr)
        sys.exit(1)
    print(f"profile of {store} ({n} events) matches numpy/h5py")


if __name__ == "__main__":
    main()
