#!/usr/bin/python3
"""Independent check of an `ecom synth` data set.

usage: check_synth.py DATA_DIR [--preset multi-category|cosmetics] [--tolerance 0.10]
                      [--months 2019-10,...] [--dirty]

Reads DATA_DIR/events/*.csv(.gz) with Python's csv and gzip modules and DATA_DIR/truth/, and
checks, independently of ecom:
  - the header and the time format of every row, every time inside the window of the month
    its file is named after;
  - its own counts (rows per event type, users, products, sessions, empty category_code and
    brand, zero prices, exact duplicate rows, rows per session, session durations, prices)
    equal the realised marginals in truth/summary.json;
  - those marginals are within +-TOLERANCE (relative) of the published figures of the preset
    (SOURCES.md; the figures are written out below, not read from ecom); with several months
    users, products and sessions per row are not monthly figures and are only printed;
  - truth/users.csv holds exactly the users of the events, each with one of the 6 archetypes;
  - with --dirty: every malformed row is classified here (check_ingest_store.classify, an
    independent reading of the documented rules) and the counts per reason equal
    truth/dirty.csv and summary.json; without it, there is no malformed row.
"""
import argparse
import calendar
import csv
import datetime
import glob
import gzip
import json
import os
import re
import sys
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_ingest_store import REASONS, classify  # noqa: E402  (the ingest's independent reader)

HEADER = ["event_time", "event_type", "product_id", "category_id", "category_code", "brand",
          "price", "user_id", "user_session"]
TYPES = ["view", "cart", "remove_from_cart", "purchase"]
TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) UTC$")
PRICE_RE = re.compile(r"^\d+\.\d\d$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ARCHETYPES = {"window_shopper", "bargain_hunter", "loyal_regular", "top_spender",
              "cart_abandoner", "dormant"}

# Published figures (../shared/data/rees46/SOURCES.md) as issue 2 states them.
OCT = 42448764  # rows of 2019-Oct (multi-category)
COS = 20692840  # rows of the cosmetics shop, Oct 2019 - Feb 2020
TARGETS = {
    "multi-category": {
        "share.view": 0.9607, "share.cart": 0.0218, "share.purchase": 0.0175,
        "users_per_event": 3022290 / OCT, "products_per_event": 166794 / OCT,
        "sessions_per_event": 9244422 / OCT,
        "empty_category_code_share": 0.3184, "empty_brand_share": 0.1440,
        "events_per_session.mean": OCT / 9244422, "events_per_session.median": 2,
        "events_per_session.p75": 5,
        "session_duration_s.median": 60, "session_duration_s.mean": 17 * 60,
    },
    "cosmetics": {
        "share.view": 0.467, "share.cart": 0.279, "share.remove_from_cart": 0.192,
        "share.purchase": 0.062, "duplicate_share": 1109098 / COS,
        "empty_category_code_share": 0.983, "empty_brand_share": 0.423,
        "users_per_event": 1639358 / COS, "sessions_per_event": 4535941 / COS,
    },
}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def quantile(values, q):
    """Smallest v with #(x <= v) >= q * n: the lower quantile the issue's figures use."""
    values = sorted(values)
    n = len(values)
    for i, v in enumerate(values):
        if i + 1 >= q * n:
            return v
    return values[-1]


def month_window(name):
    y, m = int(name[:4]), int(name[5:7])
    start = calendar.timegm((y, m, 1, 0, 0, 0))
    end = calendar.timegm((y + (m == 12), m % 12 + 1, 1, 0, 0, 0))
    return start, end


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--preset", default="multi-category")
    ap.add_argument("--tolerance", type=float, default=0.10)
    ap.add_argument("--months", default="")
    ap.add_argument("--dirty", action="store_true")
    a = ap.parse_args()
    summary = json.load(open(f"{a.data}/truth/summary.json"))
    check(summary["preset"] == a.preset, f"summary preset {summary['preset']}")

    files = sorted(glob.glob(f"{a.data}/events/*.csv*"))
    months = [os.path.basename(p).split(".")[0] for p in files]
    if a.months:
        check(months == a.months.split(","), f"files {months}, expected months {a.months}")
    type_rows = Counter()
    users, products, sessions = set(), set(), defaultdict(list)
    empty_code = empty_brand = zero_price = rows = duplicates = 0
    price_min, price_max = float("inf"), 0.0
    seen = set()  # hashes of the valid lines (exact duplicates)
    dirty = Counter()
    month_rows = {}
    day_epoch = {}
    for path, month in zip(files, months):
        lo, hi = month_window(month)
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", newline="") as f:
            text = f.read()
        raw = text.split("\n")
        check(raw[-1] == "", f"{path}: does not end with a newline")
        raw.pop()
        check(raw[0].split(",") == HEADER, f"{path}: header {raw[0]!r}")
        n_month = 0
        for line in raw[1:]:
            row = line.split(",")
            t = TIME_RE.match(row[0])
            valid = (len(row) == 9 and t is not None and row[1] in TYPES and row[2].isdigit() and
                     row[3].isdigit() and PRICE_RE.match(row[6]) is not None and
                     row[7].isdigit() and UUID_RE.match(row[8]) is not None)
            if valid:
                day = row[0][:10]
                if day not in day_epoch:
                    try:
                        day_epoch[day] = calendar.timegm(
                            datetime.date(int(t[1]), int(t[2]), int(t[3])).timetuple())
                    except ValueError:
                        day_epoch[day] = None
                valid = (day_epoch[day] is not None and int(t[4]) < 24 and int(t[5]) < 60 and
                         int(t[6]) < 60)
            if not valid:
                reason, _ = classify(line)
                check(a.dirty and reason is not None, f"{path}: malformed row {line!r} ({reason})")
                dirty[reason] += 1
                continue
            epoch = day_epoch[day] + int(t[4]) * 3600 + int(t[5]) * 60 + int(t[6])
            if not lo <= epoch < hi:
                check(False, f"{path}: time {row[0]} outside {month}")
            rows += 1
            n_month += 1
            h = hash(line)
            if h in seen:
                duplicates += 1
            seen.add(h)
            type_rows[row[1]] += 1
            users.add(row[7])
            products.add(row[2])
            sessions[row[8]].append(epoch)
            empty_code += row[4] == ""
            empty_brand += row[5] == ""
            price = float(row[6])
            zero_price += price == 0
            if price > 0:
                price_min = min(price_min, price)
            price_max = max(price_max, price)
        month_rows[month] = n_month
    per_session = [len(v) for v in sessions.values()]
    durations = [max(v) - min(v) for v in sessions.values()]

    # ---- our counts == summary.json -------------------------------------------------------
    mine = {
        "rows": rows, "users": len(users), "products": len(products), "sessions": len(sessions),
        "duplicate_rows": duplicates, "zero_price_rows": zero_price,
        "dirty_rows": sum(dirty.values()),
    }
    for k, v in mine.items():
        check(summary[k] == v, f"{k}: summary.json {summary[k]}, counted {v}")
    for t in TYPES:
        check(summary["event_types"][t]["count"] == type_rows[t],
              f"{t} rows: summary.json {summary['event_types'][t]['count']}, counted {type_rows[t]}")
    for f in summary["files"]:
        check(f["rows"] == month_rows.get(f["month"]), f"rows of {f['month']}: {f['rows']} vs "
              f"{month_rows.get(f['month'])}")
    realised = {
        "users_per_event": len(users) / rows, "products_per_event": len(products) / rows,
        "sessions_per_event": len(sessions) / rows,
        "empty_category_code_share": empty_code / rows, "empty_brand_share": empty_brand / rows,
        "duplicate_share": duplicates / rows, "zero_price_share": zero_price / rows,
        "events_per_session.mean": rows / len(sessions),
        "events_per_session.median": quantile(per_session, 0.5),
        "events_per_session.p75": quantile(per_session, 0.75),
        "session_duration_s.median": quantile(durations, 0.5),
        "session_duration_s.mean": sum(durations) / len(durations),
    }
    for t in TYPES:
        realised[f"share.{t}"] = type_rows[t] / rows
    for k, v in realised.items():
        if k.startswith("share."):
            s = summary["event_types"][k[6:]]["share"]
        else:
            s = summary
            for part in k.split("."):
                s = s[part]
        check(abs(s - v) <= 1e-6 * max(1.0, abs(v)), f"{k}: summary.json {s}, counted {v}")
    check(abs((0.0 if zero_price else price_min) - summary["price_min"]) < 1e-9,
          f"price_min {summary['price_min']}")
    check(abs(price_max - summary["price_max"]) < 1e-9, f"price_max {summary['price_max']}")

    # ---- realised marginals vs the published figures --------------------------------------
    print(f"{a.preset}: {rows} rows, {len(users)} users, {len(products)} products, "
          f"{len(sessions)} sessions in {len(files)} file(s)")
    print(f"{'marginal':32}{'realised':>12}{'target':>12}{'rel. diff':>10}")
    # With several months the same users and products come back month after month, so their
    # counts per row are not monthly figures: those three are printed, not checked.
    per_month = ("users_per_event", "products_per_event", "sessions_per_event")
    for k, target in TARGETS[a.preset].items():
        v = realised[k]
        if len(files) > 1 and k in per_month:
            print(f"{k:32}{v:12.5g}{'(several months: not checked)':>34}")
            continue
        rel = (v - target) / target
        print(f"{k:32}{v:12.5g}{target:12.5g}{100 * rel:9.1f}%")
        check(abs(rel) <= a.tolerance, f"{k} = {v:.5g}, target {target:.5g} (+-{a.tolerance:.0%})")
    if a.preset == "multi-category":
        check(type_rows["remove_from_cart"] == 0, "remove_from_cart rows in multi-category")
        check(0 < realised["zero_price_share"] < 0.01, "a small share of zero prices")
        # The dearest products are rare: the full range shows from 1M events on.
        full = summary["events_requested"] >= 1000000
        check(price_max <= 2600 and (price_max > 2000 or not full) and 0 < price_min < 5,
              f"non-zero prices {price_min}..{price_max}: from a few euros to ~2,600")
        print(f"zero prices {100 * realised['zero_price_share']:.3f}%, non-zero prices "
              f"{price_min:.2f}..{price_max:.2f}")

    # ---- truth/users.csv ------------------------------------------------------------------
    with open(f"{a.data}/truth/users.csv", newline="") as f:
        truth = list(csv.DictReader(f))
    truth_users = {r["user_id"] for r in truth}
    check(len(truth_users) == len(truth), "users.csv repeats a user")
    check(truth_users == users, f"users.csv has {len(truth_users)} users, the events {len(users)}")
    arch = Counter(r["archetype"] for r in truth)
    check(set(arch) == ARCHETYPES, f"archetypes {sorted(arch)}")
    print("archetypes: " + ", ".join(f"{k} {v}" for k, v in sorted(arch.items())))

    # ---- dirty rows -----------------------------------------------------------------------
    with open(f"{a.data}/truth/dirty.csv", newline="") as f:
        truth_dirty = {r["reason"]: int(r["count"]) for r in csv.DictReader(f)}
    check(set(truth_dirty) == set(REASONS) - {"out_of_window", "bad_label"}, f"dirty.csv reasons {truth_dirty}")
    for reason, count in truth_dirty.items():
        check(dirty[reason] == count, f"{reason}: dirty.csv {count}, classified {dirty[reason]}")
        check(summary["dirty"][reason] == count, f"{reason}: summary.json {summary['dirty'][reason]}")
    if a.dirty:
        check(sum(dirty.values()) > 0 and all(dirty[r] > 0 for r in truth_dirty),
              f"every dirty kind occurs: {dict(dirty)}")
        print("dirty rows: " + ", ".join(f"{r} {dirty[r]}" for r in truth_dirty) +
              f" ({sum(dirty.values())} of {rows + sum(dirty.values())} lines)")
    else:
        check(not dirty, f"malformed rows without --dirty: {dict(dirty)}")
    sys.stdout.flush()
    if failures:
        sys.exit(f"{len(failures)} check(s) failed")


if __name__ == "__main__":
    main()
