#!/usr/bin/env bash
# Appending to a store whose quarantine is not empty, with 1 to 4 ranks (this used to hang in
# par::write_ordered with 2 or more: the old quarantine was a header held by rank 0 only).
# Three files, each with every rejection reason (test_ingest_rejects.py), are ingested one after
# the other into one store (the third with another number of ranks); the quarantine must then be
# exactly the three files' expected quarantines one after the other, as Python's csv module
# writes them from the rows and the reasons the generator assigned, with each file's name and
# line numbers. Every ingest runs under a timeout, so a hang fails the test instead of blocking.
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
key="$WORK/k.key"
make_key "$key"
cd "$WORK"
mkdir gen
$PY "$HERE/test_ingest_rejects.py" "$WORK/gen" NAME

# a.csv, b.csv, c.csv: the generator's rows after 0, 1 and 2 extra kept rows (so that the three
# files differ, and the line numbers with them); expected.csv: their quarantines in order.
$PY - gen/rows.csv gen/expected_quarantine.csv <<'PY'
import csv, sys
# The generator writes some labels as invalid UTF-8 (bad_label): bytes kept as they are.
rows, quarantine = sys.argv[1:3]
lines = open(rows, newline="", encoding="utf-8", errors="surrogateescape").read().splitlines(keepends=True)
expected = list(csv.reader(open(quarantine, newline="", encoding="utf-8", errors="surrogateescape")))
assert expected[0] == ["file", "line", "reason", "row"] and len(expected) > 40, expected[:2]
with open("expected.csv", "w", newline="", encoding="utf-8", errors="surrogateescape") as q:
    w = csv.writer(q, lineterminator="\n")
    w.writerow(expected[0])
    for k, name in enumerate(["a.csv", "b.csv", "c.csv"]):
        extra = [f"2019-10-01 12:00:0{i} UTC,view,1,2,,,1.5,3,extra-{k}-{i}\n" for i in range(k)]
        open(name, "w", newline="", encoding="utf-8", errors="surrogateescape").write(lines[0] + "".join(extra) + "".join(lines[1:]))
        for f, line, reason, row in expected[1:]:
            w.writerow([name, int(line) + k, reason, row])
PY
[[ $(wc -l < expected.csv) -gt 100 ]] || fail "expected quarantine too short"

ingest() {  # ingest NP FILE STORE
  timeout -k 5 120 "$MPIEXEC" -np "$1" --oversubscribe "$ECOM" ingest --input "$2" --store "$3" \
    --key-file "$key" --window-start 2019-10-01 --window-end 2019-10-02 --no-progress \
    --log-level warn || fail "ingest of $2 into $3 with np $1 failed or hung (exit $?)"
}
for n in 1 2 3 4; do
  m=$((n % 4 + 1))
  ingest $n a.csv s$n.h5
  [[ $(wc -l < s$n.quarantine.csv) -gt 40 ]] || fail "np $n: the first quarantine is empty"
  ingest $n b.csv s$n.h5
  ingest $m c.csv s$n.h5
  cmp s$n.quarantine.csv expected.csv \
    || { diff s$n.quarantine.csv expected.csv | head; fail "np $n: quarantine after two appends"; }
  [[ ! -e s$n.quarantine.csv.tmp ]] || fail "np $n: temporary quarantine left"
  $PY - s$n.h5 <<'PY' || fail "np $n: store after the appends"
import sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    names = [f["manifest"][k].attrs["name"] for k in sorted(f["manifest"]) if k.isdigit()]
    names = [x.decode() if isinstance(x, bytes) else x for x in names]
    assert names == ["a.csv", "b.csv", "c.csv"], names
    assert sorted(f["partitions"]) == ["0000", "0001", "0002"], list(f["partitions"])
PY
  ok "np $n (third file np $m): appends with a non-empty quarantine keep it and add the new rows"
done
