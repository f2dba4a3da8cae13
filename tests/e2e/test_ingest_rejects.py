#!/usr/bin/python3
"""Writes a REES46 file with one defect per row (every rejection reason, several looks of each),
rows that must be kept (zero price, RFC 4180 quoting, blanks and capitals in labels, a window
edge) and one exact duplicate; beside it the quarantine that `ecom ingest` must write, made
here with Python's csv module from the rows and the reasons this script assigns them.

usage: test_ingest_rejects.py DIR NAME_IN_QUARANTINE
writes DIR/rows.csv, DIR/expected_quarantine.csv, DIR/expected_counts.csv (reason,count, with
keep, duplicate and zero_price: the kept rows whose price is 0)
"""
import csv
import os
from fractions import Fraction
import sys

HEADER = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
BASE = ["2019-10-01 10:00:00 UTC", "view", "44600062", "2103807459595387724", "", "shiseido",
        "35.79", "541312140", "72d76fde-8bb3-4e00-8c23-a032dfed738c"]
COL = {n: i for i, n in enumerate(HEADER.split(","))}


def row(**changes):
    f = list(BASE)
    for k, v in changes.items():
        f[COL[k]] = v
    return ",".join(f)


def main():
    out, name = sys.argv[1], sys.argv[2]
    cases = []  # (line text, reason or "keep" or "duplicate")
    add = lambda text, why: cases.append((text, why))
    add(row(), "keep")
    # field_count: too few, too many, broken quoting
    add(",".join(BASE[:8]), "field_count")
    add(row() + ",", "field_count")
    add(",".join(BASE[:5]), "field_count")
    add(row(brand='"shiseido'), "field_count")        # unterminated quote
    add(row(brand='"shi"seido'), "field_count")        # text after the closing quote
    # bad_time
    for t in ["2019-10-32 10:00:00 UTC", "2019-13-01 10:00:00 UTC", "2019-02-29 10:00:00 UTC",
              "2019-10-01 24:00:00 UTC", "2019-10-01T10:00:00Z", "2019-10-01 10:00:00", "",
              "yesterday"]:
        add(row(event_time=t), "bad_time")
    # unknown_event_type
    for t in ["click", "VIEW", "", "add_to_cart"]:
        add(row(event_type=t), "unknown_event_type")
    # bad_product_id
    for p in ["", "abc", "-44600062", "44600062.0", "18446744073709551616", " 44600062"]:
        add(row(product_id=p), "bad_product_id")
    # bad_category_id
    for c in ["", "2.05E+18", "-2103807459595387724", "cat2103807459595387724"]:
        add(row(category_id=c), "bad_category_id")
    # bad_price: empty, negative, NaN, infinite, non-numeric, decimal comma (quoted)
    for p in ["", "-35.79", "-0.01", "NaN", "nan", "inf", "-inf", "abc", '"35,79"', "1e999"]:
        add(row(price=p), "bad_price")
    # bad_user_id
    for u in ["", "-541312140", "541312140.5", "u541312140", "18446744073709551616"]:
        add(row(user_id=u), "bad_user_id")
    # bad_session: empty, quoted empty, blanks only
    for s in ["", '""', "   "]:
        add(row(user_session=s), "bad_session")
    # bad_label: NUL bytes or invalid UTF-8 (bytes written through surrogateescape)
    add(row(brand="shi\0seido"), "bad_label")
    add(row(category_code="appliances\0"), "bad_label")
    add(row(brand="caf\udce9"), "bad_label")            # Latin-1 e-acute: not UTF-8
    add(row(category_code="\udcc0\udcaf"), "bad_label")  # overlong '/'
    # out_of_window (the test ingests with the window [2019-10-01, 2019-10-02))
    add(row(event_time="2019-09-30 23:59:59 UTC"), "out_of_window")
    add(row(event_time="2019-10-02 00:00:00 UTC"), "out_of_window")
    # kept: window edges, zero price, quoting, labels with blanks and capitals
    add(row(event_time="2019-10-01 00:00:00 UTC", user_session="s-edge-1"), "keep")
    add(row(event_time="2019-10-01 23:59:59 UTC", user_session="s-edge-2"), "keep")
    add(row(price="0.00", user_session="s-zero"), "keep")
    add(row(price="0", user_session="s-zero-2"), "keep")
    add(row(brand='"Shi,seido"', category_code='"a ""quoted"" code"', user_session='"s-quoted"'), "keep")
    add(row(brand="  SHISEIDO ", category_code=" Appliances.Kitchen ", user_session="s-blank"), "keep")
    add(row(brand="café €", user_session="s-utf8"), "keep")
    add(row(user_id="000541312140", user_session="s-zeros"), "keep")  # canonical id: kept
    # duplicate of the first row: same (time, user, product, type, session), another price
    add(row(price="36.00"), "duplicate")

    with open(os.path.join(out, "rows.csv"), "w", newline="", encoding="utf-8", errors="surrogateescape") as f:
        f.write(HEADER + "\n")
        for text, _ in cases:
            f.write(text + "\n")
    counts = {}
    with open(os.path.join(out, "expected_quarantine.csv"), "w", newline="", encoding="utf-8",
              errors="surrogateescape") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "line", "reason", "row"])
        for i, (text, why) in enumerate(cases):
            counts[why] = counts.get(why, 0) + 1
            if why == "keep" and Fraction(next(csv.reader([text]))[COL["price"]]) == 0:
                counts["zero_price"] = counts.get("zero_price", 0) + 1
            if why not in ("keep", "duplicate"):
                w.writerow([name, i + 2, why, text])  # line 1 is the header
    with open(os.path.join(out, "expected_counts.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["reason", "count"])
        for k in sorted(counts):
            w.writerow([k, counts[k]])


if __name__ == "__main__":
    main()
