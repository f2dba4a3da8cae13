#!/usr/bin/python3
"""Independent check of `ecom ingest` on raw REES46 files (plain or gzip).

Classifies every raw row with its own reading of the documented rules (Python's csv module in
strict mode, regular expressions, datetime, float) and checks:
  - the per-reason counts equal the quarantine's (its `reason` column) and, when given, the
    generator's truth (truth/dirty.csv of `ecom synth --dirty`);
  - the quarantine holds exactly the rejected rows (file, line, raw row);
  - every other row is in the store: after removing exact duplicates on (time, user, product,
    type, session), the multiset of (pseudonym, time, type, product_id, category_id, price) of
    the valid rows equals the store's, with pseudonyms computed here with Python's hmac module;
  - the manifest's counts (rows read, kept, duplicates, rejects per reason).

usage: check_ingest_store.py STORE.h5 QUARANTINE.csv KEY_FILE [--truth DIRTY.csv] FILE...
"""
import argparse
import calendar
import csv
import gzip
import hashlib
import hmac
import re
import sys
import time

import h5py
import numpy as np

TYPES = ["view", "cart", "remove_from_cart", "purchase"]
REASONS = ["field_count", "bad_time", "unknown_event_type", "bad_user_id", "bad_product_id",
           "bad_category_id", "bad_session", "bad_price", "out_of_window", "bad_label"]
HEADER = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) UTC$")
UINT_RE = re.compile(r"^\d+$")
NUM_RE = re.compile(r"^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def epoch(s):
    m = TIME_RE.match(s)
    if not m:
        return None
    try:
        t = time.strptime(s, "%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return None
    e = calendar.timegm(t)
    return e if 0 <= e < 2**32 else None


def uint64(s):
    return int(s) if UINT_RE.match(s) and int(s) < 2**64 else None


def price_of(s):
    if not NUM_RE.match(s):
        return None
    p = float(s)
    return p if p != float("inf") else None


def classify(line):
    """(reason, None) or (None, parsed fields)."""
    try:
        fields = next(csv.reader([line], strict=True))
    except csv.Error:
        return "field_count", None
    if len(fields) != 9:
        return "field_count", None
    t = epoch(fields[0])
    if t is None:
        return "bad_time", None
    if fields[1] not in TYPES:
        return "unknown_event_type", None
    product, category, price = uint64(fields[2]), uint64(fields[3]), price_of(fields[6])
    if product is None:
        return "bad_product_id", None
    if category is None:
        return "bad_category_id", None
    if price is None:
        return "bad_price", None
    if uint64(fields[7]) is None:
        return "bad_user_id", None
    if fields[8].strip(" \t") == "":
        return "bad_session", None
    if "\0" in fields[4] or "\0" in fields[5]:  # the text is valid UTF-8 (lines_of decodes it)
        return "bad_label", None
    # The user id canonicalised (leading zeros removed) as ingest does before the HMAC.
    return None, (t, TYPES.index(fields[1]), product, category, price, str(int(fields[7])), fields[8])


def lines_of(path):
    raw = gzip.open(path, "rb").read() if path.endswith(".gz") else open(path, "rb").read()
    text = raw.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [l[:-1] if l.endswith("\r") else l for l in lines]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("quarantine")
    ap.add_argument("key_file")
    ap.add_argument("--truth")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    key = open(a.key_file, "rb").read()
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)

    counts = {r: 0 for r in REASONS}
    expected_q = []
    valid = {}  # dedup key -> record with the lowest price
    rows_read = 0
    per_file = {}
    pseudo = {}
    for path in a.files:
        lines = lines_of(path)
        check(lines[0] == HEADER, f"{path}: header")
        f_counts = {r: 0 for r in REASONS}
        f_valid = 0
        for n, line in enumerate(lines[1:], start=2):
            rows_read += 1
            why, rec = classify(line)
            if why:
                counts[why] += 1
                f_counts[why] += 1
                expected_q.append([path, str(n), why, line])
                continue
            f_valid += 1
            t, ty, product, category, price, user, session = rec
            if user not in pseudo:
                d = hmac.new(key, user.encode(), hashlib.sha256).digest()
                pseudo[user] = int.from_bytes(d[:8], "big")
            k = (t, user, product, ty, session)
            row = (pseudo[user], t, ty, product, category, price)
            if k not in valid or price < valid[k][5]:
                valid[k] = row
        per_file[path] = (len(lines) - 1, f_counts, f_valid)

    # Quarantine: header, then the rejected rows in (file, line) order, file order as given.
    q = list(csv.reader(open(a.quarantine, newline="")))
    check(q[0] == ["file", "line", "reason", "row"], "quarantine header")
    check(q[1:] == expected_q, f"quarantine rows differ ({len(q) - 1} vs {len(expected_q)} expected)")
    q_counts = {r: 0 for r in REASONS}
    for r in q[1:]:
        q_counts[r[2]] = q_counts.get(r[2], 0) + 1
    check(q_counts == counts, f"quarantine counts {q_counts} vs {counts}")
    if a.truth:
        truth = {r: int(c) for r, c in list(csv.reader(open(a.truth)))[1:]}
        mine = {r: c for r, c in counts.items() if r in truth}
        check(mine == truth, f"classification {mine} vs generator truth {truth}")
        check(all(counts[r] == 0 for r in counts if r not in truth), "reasons outside the truth")
        check({r: c for r, c in q_counts.items() if c} == {r: c for r, c in truth.items() if c},
              f"quarantine counts {q_counts} vs truth {truth}")

    # Store: the multiset of kept rows.
    ref = np.array(sorted(valid.values()), dtype=object)
    with h5py.File(a.store, "r") as f:
        cols = {}
        for c in ["user", "time", "event_type", "product_id", "category_id", "price"]:
            cols[c] = np.concatenate([f["partitions"][p]["events"][c][...] for p in sorted(f["partitions"])])
        got = sorted(zip(cols["user"].tolist(), cols["time"].tolist(), cols["event_type"].tolist(),
                         cols["product_id"].tolist(), cols["category_id"].tolist(), cols["price"].tolist()))
        check(len(got) == len(ref), f"store has {len(got)} events, expected {len(ref)}")
        check(got == [tuple(r) for r in ref], "store events differ from the valid raw rows")
        # Manifest, per file.
        man = {}
        for k in f["manifest"]:
            if not k.isdigit():
                continue
            at = f["manifest"][k].attrs
            name = at["name"].decode() if isinstance(at["name"], bytes) else at["name"]
            man[name] = at
        dups_total = 0
        for path, (n_rows, f_counts, f_valid) in per_file.items():
            at = man.get(path)
            if at is None:
                failures.append(f"manifest has no entry for {path}")
                continue
            check(int(at["rows_read"]) == n_rows, f"{path}: manifest rows_read")
            reasons = [s.decode() if isinstance(s, bytes) else s for s in at["reject_reasons"]]
            got_r = dict(zip(reasons, [int(c) for c in at["reject_counts"]]))
            check(got_r == f_counts, f"{path}: manifest rejects {got_r} vs {f_counts}")
            check(int(at["rows_kept"]) + int(at["duplicates"]) == f_valid, f"{path}: kept + duplicates")
            dups_total += int(at["duplicates"])
        n_valid = sum(v for _, _, v in per_file.values())
        check(dups_total == n_valid - len(ref), f"duplicates {dups_total} vs {n_valid - len(ref)}")

    if failures:
        for m in failures:
            print("MISMATCH:", m, file=sys.stderr)
        sys.exit(1)
    print(f"{rows_read} rows: {sum(counts.values())} rejected ({', '.join(f'{r} {c}' for r, c in counts.items() if c)}), "
          f"{len(ref)} in the store, {rows_read - sum(counts.values()) - len(ref)} duplicates: all agree")


if __name__ == "__main__":
    main()
