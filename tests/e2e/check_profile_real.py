#!/usr/bin/python3
"""Independent check of `ecom profile` on a real REES46 file, from the raw CSV(.gz).

Recomputes every figure with Python's csv module, string slicing of event_time, sets and
exact arithmetic (fractions, math.fsum, statistics, numpy.percentile), replicating the ingest's
cleaning as documented (validation, lower-cased trimmed brand/category_code, exact duplicates
on (time, user, product, type, session) removed), and compares with the CSV files in OUT_DIR.

Zero prices are kept and counted: per event type in price_by_event_type.csv (zero_price) and,
when given, in the store's manifest (STORE: its only file's zero_price attribute) and in the
ingest's log line (LOG: "kept K (Z with price 0)").

usage: check_profile_real.py FILE.csv[.gz] OUT_DIR [--store STORE.h5] [--log INGEST.log]
"""
import argparse
import csv
import datetime
import gzip
import io
import math
import os
import statistics
import sys
from fractions import Fraction

import numpy as np

HEADER = ["event_time", "event_type", "product_id", "category_id", "category_code", "brand",
          "price", "user_id", "user_session"]
TYPES = ["view", "cart", "remove_from_cart", "purchase"]
KNOWN_REASONS = ["field_count", "bad_time", "unknown_event_type", "bad_user_id", "bad_product_id",
                 "bad_category_id", "bad_session", "bad_price", "out_of_window", "bad_label"]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def close(a, b, rel=1e-12):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def read_csv(out, name):
    with open(os.path.join(out, name + ".csv"), newline="") as f:
        return list(csv.reader(f))


def parse_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=datetime.timezone.utc)


def reject_reason(r):
    """The first reason a row is rejected for (None if kept); the real samples should have none."""
    if len(r) != 9:
        return "field_count"
    try:
        parse_time(r[0])
    except ValueError:
        return "bad_time"
    if r[1] not in TYPES:
        return "unknown_event_type"
    if not r[7].isdigit():
        return "bad_user_id"
    if not r[2].isdigit():
        return "bad_product_id"
    if r[3] and not r[3].isdigit():
        return "bad_category_id"
    if not r[8]:
        return "bad_session"
    try:
        p = float(r[6])
    except ValueError:
        return "bad_price"
    if not math.isfinite(p) or p < 0:
        return "bad_price"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("out")
    ap.add_argument("--store")
    ap.add_argument("--log")
    a = ap.parse_args()
    path, out = a.path, a.out
    raw = gzip.open(path, "rb").read() if path.endswith(".gz") else open(path, "rb").read()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    check(rows[0] == HEADER, "header")
    data = rows[1:]
    rows_read = len(data)

    missing = [0] * 9
    for r in data:
        for i in range(min(9, len(r))):
            if r[i] == "":
                missing[i] += 1
    rejects = {}
    valid = []
    for r in data:
        why = reject_reason(r)
        if why:
            rejects[why] = rejects.get(why, 0) + 1
        else:
            valid.append(r)
    # Exact duplicates on (time, user, product, type, session): keep one (the lowest price).
    kept = {}
    for r in valid:
        key = (r[0], r[7], r[2], r[1], r[8])
        if key not in kept or float(r[6]) < float(kept[key][6]):
            kept[key] = r
    events = list(kept.values())
    duplicates = len(valid) - len(events)
    n = len(events)

    # event_types
    t = read_csv(out, "event_types")
    for i, name in enumerate(TYPES):
        c = sum(1 for r in events if r[1] == name)
        check(t[i + 1] == [name, str(c), t[i + 1][2]], f"event_types {name}: {t[i + 1]} vs {c}")
        check(float(t[i + 1][2]) == c / n, f"event_types share {name}")

    # missing_values: raw rows, before cleaning
    t = read_csv(out, "missing_values")
    for i, col in enumerate(HEADER):
        check(t[i + 1][0] == col and int(t[i + 1][1]) == missing[i], f"missing {col}: {t[i + 1]} vs {missing[i]}")
        check(float(t[i + 1][2]) == missing[i] / rows_read, f"missing share {col}")

    # events_by_day / events_by_hour from the text of event_time
    days = {}
    hours = [0] * 24
    for r in events:
        days[r[0][:10]] = days.get(r[0][:10], 0) + 1
        hours[int(r[0][11:13])] += 1
    t = read_csv(out, "events_by_day")
    check({d: int(c) for d, c in t[1:] if int(c)} == days, f"events_by_day {t[1:]} vs {days}")
    check(t[1][0] == min(days) and t[-1][0] == max(days), "events_by_day range")
    t = read_csv(out, "events_by_hour")
    check([(int(h), int(c)) for h, c in t[1:]] == list(enumerate(hours)), f"events_by_hour {t[1:]} vs {hours}")

    # price_by_event_type
    t = read_csv(out, "price_by_event_type")
    check(t[0] == ["event_type", "count", "mean", "min", "max", "zero_price"], f"price header {t[0]}")
    for i, name in enumerate(TYPES):
        prices = [float(r[6]) for r in events if r[1] == name]
        row = t[i + 1]
        check(row[0] == name and int(row[1]) == len(prices), f"price count {name}")
        # Zero prices are kept and counted: the raw text of the price field, read as a number.
        zero = sum(1 for r in events if r[1] == name and Fraction(r[6]) == 0)
        check(int(row[5]) == zero, f"zero_price {name}: {row[5]} vs {zero}")
        if prices:
            check(close(float(row[2]), math.fsum(prices) / len(prices)), f"price mean {name}: {row[2]}")
            check(float(row[3]) == min(prices) and float(row[4]) == max(prices), f"price min/max {name}: {row}")
        else:
            check(row[2:5] == ["", "", ""], f"price of absent type {name}: {row}")

    # sessions: (user_id, user_session) pairs
    sess = {}
    for r in events:
        sess.setdefault((r[7], r[8]), []).append(parse_time(r[0]))
    lengths = sorted(len(v) for v in sess.values())
    durations = sorted(int((max(v) - min(v)).total_seconds()) for v in sess.values())
    s = {k: v for k, v in read_csv(out, "sessions")[1:]}
    check(int(float(s["count"])) == len(lengths), "sessions count")
    check(float(s["mean"]) == float(Fraction(sum(lengths), len(lengths))), f"sessions mean {s['mean']}")
    if len(lengths) > 1:
        check(close(float(s["std"]), statistics.stdev(lengths)), f"sessions std {s['std']} vs {statistics.stdev(lengths)}")
    check(float(s["min"]) == lengths[0] and float(s["max"]) == lengths[-1], "sessions min/max")
    for key, q in (("p25", 25), ("p50", 50), ("p75", 75)):
        check(float(s[key]) == float(np.percentile(lengths, q)), f"sessions {key}: {s[key]}")
    check(float(s["duration_mean_seconds"]) == float(Fraction(sum(durations), len(durations))), "duration mean")
    check(float(s["duration_median_seconds"]) == float(statistics.median(durations)), "duration median")

    # distinct
    d = {k: int(v) for k, v in read_csv(out, "distinct")[1:]}
    norm = lambda x: x.strip().lower()
    expect = {
        "users": len({r[7] for r in events}),
        "products": len({r[2] for r in events}),
        "categories": len({r[3] for r in events if r[3] and int(r[3]) != 0}),
        "category_codes": len({norm(r[4]) for r in events if norm(r[4])}),
        "brands": len({norm(r[5]) for r in events if norm(r[5])}),
        "sessions": len(sess),
        "events": n,
    }
    check(d == expect, f"distinct {d} vs {expect}")

    # rejects
    t = {k: int(v) for k, v in read_csv(out, "rejects")[1:]}
    for reason in KNOWN_REASONS:
        check(t.get(reason, -1) == rejects.get(reason, 0), f"rejects {reason}: {t.get(reason)} vs {rejects.get(reason, 0)}")
    check(t.get("duplicate", -1) == duplicates, f"duplicates {t.get('duplicate')} vs {duplicates}")

    # zero prices in the manifest and the ingest's log
    zero = sum(1 for r in events if Fraction(r[6]) == 0)
    if a.store:
        import h5py
        with h5py.File(a.store, "r") as f:
            m = f["manifest"]
            entries = [m[k].attrs for k in sorted(m) if k.isdigit()]
            check(len(entries) == 1, f"manifest has {len(entries)} files")
            check(int(entries[0]["zero_price"]) == zero, f"manifest zero_price {entries[0]['zero_price']} vs {zero}")
            check(int(entries[0]["rows_kept"]) == n, "manifest rows_kept")
    if a.log:
        text = open(a.log).read()
        want = f"kept {n} ({zero} with price 0), rejected {sum(rejects.values())}, duplicates {duplicates} ->"
        check(want in text, f"no '{want}' in the ingest log")

    if failures:
        for f in failures:
            print("MISMATCH:", f, file=sys.stderr)
        sys.exit(1)
    print(f"{os.path.basename(path)}: {rows_read} rows, {n} events, {len(sess)} sessions, "
          f"{expect['users']} users, {zero} with price 0: every profile figure matches (csv module)")


if __name__ == "__main__":
    main()
