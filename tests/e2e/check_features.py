#!/usr/bin/python3
"""Independent check of the per-user features in RUN_DIR/ecom.h5 against the raw CSV files.

usage: check_features.py KEY_FILE RUN_DIR INPUT.csv[.gz]...

Reads the raw REES46 files with the csv module, applies the documented cleaning (rows with a
bad field are rejected; exact duplicates (user, time, type, product, session) are dropped,
keeping the lowest price), computes every feature of docs/FEATURES.md per raw user with plain
Python, maps raw user ids to pseudonyms with Python's hmac/hashlib (HMAC-SHA-256, first 64 bits
as 16 hex digits), and compares with /users/features, joined through /users/pseudonym. The
twelve required features must agree to 1e-12 (relative), the others to 1e-9. It also checks
the `names` attribute and that the users are the same set and in pseudonym order.
"""
import calendar
import csv
import gzip
import hashlib
import hmac
import math
import sys
import time
from collections import defaultdict

import h5py
import numpy as np

REQUIRED = ["n_events", "n_views", "n_carts", "n_removes", "n_purchases", "n_sessions",
            "active_days", "recency_days", "monetary", "distinct_products",
            "distinct_categories", "distinct_brands"]
TYPES = {"view": 0, "cart": 1, "remove_from_cart": 2, "purchase": 3}
NIGHT = (0, 6)  # default night hours, UTC (utc_offset_minutes = 0)


def open_text(path):
    return gzip.open(path, "rt", newline="", encoding="utf-8") if path.endswith(".gz") \
        else open(path, newline="", encoding="utf-8")


def parse_time(s):
    if not s.endswith(" UTC"):
        return None
    try:
        return calendar.timegm(time.strptime(s[:-4], "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        return None


def is_u64(s):
    return s.isdigit() and int(s) < 2**64


def clean_row(row):
    """(user, time, type, product, category_id, brand, session, price) or None (rejected)."""
    if len(row) != 9:
        return None
    t = parse_time(row[0])
    if t is None or t < 0 or t >= 2**32:
        return None
    if row[1] not in TYPES or not is_u64(row[2]) or not is_u64(row[3]):
        return None
    try:
        price = float(row[6])
    except ValueError:
        return None
    if not math.isfinite(price) or price < 0:
        return None
    if not is_u64(row[7]) or not row[8].strip(" \t"):
        return None
    brand = row[5].strip(" \t").lower()
    return (row[7], t, TYPES[row[1]], int(row[2]), int(row[3]), brand, row[8], price)


def features(ev, t_start, t_end):
    """ev: one user's events sorted by (time, type, product, session, price)."""
    n = len(ev)
    cnt = [0, 0, 0, 0]
    for e in ev:
        cnt[e[2]] += 1
    views, carts, removes, purchases = cnt
    times = [e[1] for e in ev]
    t_first, t_last = min(times), max(times)
    sessions = defaultdict(list)
    for e in ev:
        sessions[e[6]].append(e[1])
    monetary = 0.0
    for e in ev:
        if e[2] == 3:
            monetary += e[7]
    paid = [e[7] for e in ev if e[2] == 3]
    view_prices = [e[7] for e in ev if e[2] == 0]
    baskets = {}
    for e in ev:
        if e[2] == 3:
            baskets[e[6]] = min(baskets.get(e[6], e[1]), e[1])
    window_days = (t_end - t_start) / 86400.0
    undefined = window_days + 1.0
    cats = defaultdict(int)
    for e in ev:
        cats[e[4]] += 1
    carted = {e[3] for e in ev if e[2] == 1}
    bought = {e[3] for e in ev if e[2] == 3}
    weekend = sum(1 for t in times if time.gmtime(t).tm_wday >= 5)
    night = sum(1 for t in times if NIGHT[0] <= time.gmtime(t).tm_hour < NIGHT[1])
    mean_view = sum(view_prices) / views if views else 0.0
    mean_paid = monetary / purchases if purchases else 0.0
    f = {
        "n_events": n,
        "n_views": views,
        "n_carts": carts,
        "n_removes": removes,
        "n_purchases": purchases,
        "n_sessions": len(sessions),
        "active_days": len({t // 86400 for t in times}),
        "recency_days": (t_end - t_last) / 86400.0,
        "monetary": monetary,
        "distinct_products": len({e[3] for e in ev}),
        "distinct_categories": len(cats),
        "distinct_brands": len({e[5] for e in ev if e[5]}),
        "tenure_days": (t_last - t_first) / 86400.0,
        "days_since_last_purchase":
            (t_end - max(e[1] for e in ev if e[2] == 3)) / 86400.0 if purchases else undefined,
        "avg_basket": monetary / len(baskets) if baskets else 0.0,
        "max_purchase": max(paid) if paid else 0.0,
        "avg_view_price": mean_view,
        "price_sensitivity": (mean_view - mean_paid) / (mean_view + mean_paid)
        if views and purchases and mean_view + mean_paid > 0 else 0.0,
        "conversion_rate": purchases / views if views else 0.0,
        "cart_rate": carts / views if views else 0.0,
        "abandonment_rate": len(carted - bought) / len(carted) if carted else 0.0,
        "remove_rate": removes / carts if carts else 0.0,
        "category_concentration": sum(c * c for c in cats.values()) / (n * n),
        "weekend_share": weekend / n,
        "night_share": night / n,
        "events_per_session": n / len(sessions),
        "session_duration":
            sum(max(s) - min(s) for s in sessions.values()) / len(sessions) / 60.0,
        "purchase_frequency": len(baskets) * 30 * 86400.0 / max(t_end - t_first, 86400),
        "mean_days_between_purchases":
            (max(baskets.values()) - min(baskets.values())) / 86400.0 / (len(baskets) - 1)
            if len(baskets) >= 2 else undefined,
    }
    return f


def load(key_file, inputs):
    """The cleaned, deduplicated events of the raw files by pseudonym (each user's sorted in
    the store's order), the window (t_start, t_end) and the counts (rows, rejected, kept)."""
    key = open(key_file, "rb").read()
    by_key = {}
    rows = rejected = 0
    for path in inputs:
        with open_text(path) as fh:
            reader = csv.reader(fh)
            next(reader)
            for row in reader:
                rows += 1
                c = clean_row(row)
                if c is None:
                    rejected += 1
                    continue
                k = (c[0], c[1], c[2], c[3], c[6])  # user, time, type, product, session
                if k not in by_key or c[7] < by_key[k][7]:
                    by_key[k] = c
    users = defaultdict(list)
    for c in by_key.values():
        users[c[0]].append(c)
    t_start = min(c[1] for c in by_key.values())
    t_end = max(c[1] for c in by_key.values())
    # The store's order within a user: time, type, product, session (here by its text; only
    # the order of equal-time purchases of one session affects a sum, and then only its last bit)
    pseudo = lambda raw: hmac.new(key, raw.encode(), hashlib.sha256).hexdigest()[:16]
    events = {}
    for raw, ev in users.items():
        ev.sort(key=lambda e: (e[1], e[2], e[3], e[6], e[7]))
        events[pseudo(raw)] = ev
    return events, (t_start, t_end), (rows, rejected, len(by_key))


def main():
    key_file, run_dir, inputs = sys.argv[1], sys.argv[2], sys.argv[3:]
    events, (t_start, t_end), (rows, rejected, kept) = load(key_file, inputs)
    expected = {u: features(ev, t_start, t_end) for u, ev in events.items()}

    with h5py.File(f"{run_dir}/ecom.h5", "r") as h:
        ds = h["users/features"]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in ds.attrs["names"]]
        values = ds[...]
        ids = ["%016x" % int(p) for p in h["users/pseudonym"][...]]
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        sys.exit(f"FAIL: required features missing from the names attribute: {missing}")
    if ids != sorted(ids) or len(set(ids)) != len(ids):
        sys.exit("FAIL: /users/pseudonym is not strictly ascending")
    if set(ids) != set(expected):
        sys.exit(f"FAIL: users differ: {len(set(ids) - set(expected))} only in ecom.h5, "
                 f"{len(set(expected) - set(ids))} only in the CSV files")
    unknown = [n for n in names if n not in expected[ids[0]]]
    if unknown:
        sys.exit(f"FAIL: features without an independent formula here: {unknown}")
    bad = 0
    for i, u in enumerate(ids):
        for j, name in enumerate(names):
            want, got = expected[u][name], float(values[i, j])
            tol = 1e-12 if name in REQUIRED else 1e-9
            if not abs(got - want) <= tol * max(1.0, abs(want)):
                bad += 1
                if bad <= 10:
                    print(f"user {u} {name}: ecom {got!r}, python {want!r}")
    if bad:
        sys.exit(f"FAIL: {bad} feature values differ")
    print(f"{len(ids)} users x {len(names)} features equal the Python computation "
          f"({rows} rows, {rejected} rejected, {rows - rejected - kept} duplicates)")


if __name__ == "__main__":
    main()
