#!/usr/bin/env bash
# `ecom ingest` on bad input.
#  1. Every rejection reason (several looks of each): the quarantine equals, byte for byte, the
#     one Python's csv module writes from the rows and their known reasons (file, line, reason,
#     raw row), for np 1 and np 3 (the plain file is split by bytes, so line numbers cross
#     ranks); per-reason counts in the log, the manifest and `ecom profile`'s rejects.csv;
#     the exact duplicate is counted as `duplicate`; the kept rows with price 0 are counted
#     (zero_price) in the log line and the manifest.
#  2. Every fatal input error (missing, unreadable, not a regular file, empty, empty gzip,
#     wrong header, truncated gzip, corrupt gzip, not gzip): exit code 3, exactly one line
#     `ecom: input file NAME: PROBLEM`, and no store (nor temporary store, nor quarantine) left;
#     an existing store is left byte for byte as it was.
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
key="$WORK/k.key"
make_key "$key"
cd "$WORK"

# ---- 1. rejection reasons ----------------------------------------------------------------------
$PY "$HERE/test_ingest_rejects.py" "$WORK" rows.csv
for n in 1 3; do
  mpi $n ingest --input rows.csv --store r$n.h5 --key-file "$key" --window-start 2019-10-01 \
    --window-end 2019-10-02 --no-progress > log$n 2>&1 || { cat log$n; fail "ingest np $n"; }
  cmp r$n.quarantine.csv expected_quarantine.csv \
    || { diff r$n.quarantine.csv expected_quarantine.csv; fail "quarantine (np $n) differs from the expected rows"; }
done
ok "quarantine rows (file, line, reason, raw row) exact for every reason, np 1 and np 3"

# The counts, from the expectation: log, manifest, profile.
mpi 2 profile --store r3.h5 --out prof --no-progress --log-level warn || fail "profile"
$PY - log3 r3.h5 prof/rejects.csv expected_counts.csv <<'PY' || fail "reject counts"
import csv, re, sys
import h5py
log, store, rejects_csv, expected_csv = sys.argv[1:]
exp = {r: int(c) for r, c in list(csv.reader(open(expected_csv)))[1:]}
reasons = ["field_count", "bad_time", "unknown_event_type", "bad_user_id", "bad_product_id",
           "bad_category_id", "bad_session", "bad_price", "out_of_window", "bad_label"]
rows = sum(c for r, c in exp.items() if r != "zero_price")  # zero_price counts kept rows
rejected = sum(exp.get(r, 0) for r in reasons)
text = open(log).read()
assert exp["zero_price"] > 0, exp
want = (f"ingest: rows read {rows}, kept {exp['keep']} ({exp['zero_price']} with price 0), rejected {rejected}, "
        f"duplicates {exp['duplicate']} -> partition 0 of r3.h5")
assert want in text, f"no log line '{want}' in:\n{text}"
for r in reasons:
    assert f"ingest:   rejected {r}: {exp[r]}\n" in text, f"log line for {r}"
with h5py.File(store, "r") as f:
    m = f["manifest/000000"].attrs
    got = dict(zip([s.decode() if isinstance(s, bytes) else s for s in m["reject_reasons"]],
                   [int(c) for c in m["reject_counts"]]))
    assert got == {r: exp[r] for r in reasons}, f"manifest rejects {got}"
    assert int(m["duplicates"]) == exp["duplicate"] and int(m["rows_kept"]) == exp["keep"], "manifest counts"
    assert int(m["rows_read"]) == rows, "manifest rows_read"
    assert int(m["zero_price"]) == exp["zero_price"], f"manifest zero_price {m['zero_price']}"
    assert int(f.attrs["events"]) == exp["keep"], "store events"
prof = {r: int(c) for r, c in list(csv.reader(open(rejects_csv)))[1:]}
assert prof == {**{r: exp[r] for r in reasons}, "duplicate": exp["duplicate"]}, f"rejects.csv {prof}"
PY
ok "per-reason counts, the duplicate and the zero prices in the log, the manifest and rejects.csv"

# ---- 2. fatal input errors ---------------------------------------------------------------------
head -n 40 rows.csv | grep -v ',field_count' > good.csv
printf '%s\n' "$(head -n 1 rows.csv)" "$(sed -n 2p rows.csv)" > one.csv
gzip -c good.csv > good.csv.gz
sz=$(stat -c %s good.csv.gz)
head -c $((sz / 2)) good.csv.gz > truncated.csv.gz
head -c $((sz - 4)) good.csv.gz > notrailer.csv.gz
# Flip one bit of the CRC-32 in the gzip trailer: the data inflate, the check fails.
$PY -c "
import sys; d = bytearray(open('good.csv.gz','rb').read()); d[-8] ^= 1
open('badcrc.csv.gz','wb').write(d)"
printf 'not gzip at all\n' > notgzip.csv.gz
: > empty.csv
: | gzip -c > empty.csv.gz
printf 'time,type,product\n2019-10-01 10:00:00 UTC,view,1\n' > header.csv
printf '\xef\xbb\xbfevent_time;event_type\n' > header2.csv
mkdir adir

# expect_fatal "MESSAGE" STORE INPUT...: exit 3, exactly one ecom: line, which is "ecom: MESSAGE".
expect_fatal() {
  local msg="$1" store="$2"; shift 2
  local out rc
  set +e
  out=$(mpi 2 ingest --input "$@" --store "$store" --key-file "$key" --no-progress 2>&1)
  rc=$?
  set -e
  [[ $rc -eq 3 ]] || fail "$*: exit $rc, expected 3: $out"
  # (mpirun adds its own lines about the exit status; ours is the one ecom: line)
  [[ $(printf '%s\n' "$out" | grep -c 'ecom:') -eq 1 ]] || fail "$*: expected one ecom: line: $out"
  [[ "$(printf '%s\n' "$out" | grep 'ecom:')" == "ecom: $msg" ]] || fail "$*: message: $out"
}
no_store() {
  [[ ! -e "$1" && ! -e "$1.tmp" && ! -e "${1%.h5}.quarantine.csv" ]] || fail "a store or quarantine was left: $(ls "$WORK")"
}

expect_fatal "input file missing.csv: does not exist" new.h5 missing.csv
expect_fatal "input file adir: not a regular file" new.h5 adir
expect_fatal "input file empty.csv: empty file" new.h5 empty.csv
expect_fatal "input file empty.csv.gz: empty file" new.h5 empty.csv.gz
expect_fatal "input file header.csv: wrong header (expected event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session)" new.h5 header.csv
expect_fatal "input file header2.csv: wrong header (expected event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session)" new.h5 header2.csv
expect_fatal "input file truncated.csv.gz: truncated gzip data" new.h5 truncated.csv.gz
expect_fatal "input file notrailer.csv.gz: truncated gzip data" new.h5 notrailer.csv.gz
expect_fatal "input file badcrc.csv.gz: corrupt gzip data (incorrect data check)" new.h5 badcrc.csv.gz
expect_fatal "input file notgzip.csv.gz: corrupt gzip data (incorrect header check)" new.h5 notgzip.csv.gz
# A bad file among good ones (read by another rank, after the good ones were parsed).
expect_fatal "input file truncated.csv.gz: truncated gzip data" new.h5 good.csv one.csv truncated.csv.gz
no_store new.h5
ok "fatal input errors: exit 3, one line naming the file and the problem, no store left"

# Unreadable: as root, run as nobody (root reads any file).
chmod 000 one.csv
if [[ $(id -u) -eq 0 ]]; then
  command -v setpriv > /dev/null || fail "setpriv (util-linux) is needed to test an unreadable file as root"
  chmod 755 "$WORK"
  (umask 077; cp "$key" nobody.key)
  chown nobody nobody.key
  set +e
  out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$ECOM" ingest --input one.csv --store "$WORK/nr.h5" --key-file nobody.key 2>&1)
  rc=$?
  set -e
else
  set +e
  out=$("$ECOM" ingest --input one.csv --store "$WORK/nr.h5" --key-file "$key" 2>&1)
  rc=$?
  set -e
fi
[[ $rc -eq 3 && "$out" == "ecom: input file one.csv: cannot read: Permission denied" ]] \
  || fail "unreadable file: exit $rc, output: $out"
no_store nr.h5
chmod 644 one.csv
ok "unreadable file: exit 3, one line"

# Missing file without mpirun: one line in all, non-zero exit.
set +e
out=$("$ECOM" ingest --input missing.csv --store new.h5 --key-file "$key" 2>&1)
rc=$?
set -e
[[ $rc -ne 0 && "$out" == "ecom: input file missing.csv: does not exist" ]] \
  || fail "missing file, singleton: exit $rc, output: $out"
no_store new.h5
ok "missing file: one line, exit $rc"

# A failed append leaves the existing store and its quarantine as they were.
mpi 2 ingest --input good.csv --store app.h5 --key-file "$key" --no-progress --log-level warn
before=$(sha256sum app.h5 app.quarantine.csv)
expect_fatal "input file badcrc.csv.gz: corrupt gzip data (incorrect data check)" app.h5 one.csv badcrc.csv.gz
expect_fatal "input file header.csv: wrong header (expected event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session)" app.h5 header.csv
[[ "$(sha256sum app.h5 app.quarantine.csv)" == "$before" && ! -e app.h5.tmp ]] \
  || fail "a failed append changed the store or left a temporary file"
ok "a failed append leaves the store untouched"
