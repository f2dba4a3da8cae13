#!/usr/bin/env bash
# The profile of each real REES46 sample (tests/data/*.csv.gz): `ecom ingest` (np 2) then
# `ecom profile` (np 3 and np 1, byte-identical), and every figure checked against an
# independent computation from the raw file with Python's csv module (check_profile_real.py),
# the count of kept rows with price 0 also in the store's manifest and the ingest's log line.
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
DATA="$ECOM_SOURCE_DIR/tests/data"
shopt -s nullglob
samples=("$DATA"/*.csv.gz)
[[ ${#samples[@]} -gt 0 ]] || fail "no samples in $DATA"
"$ECOM" ingest --help > /dev/null 2>&1 || fail "ecom has no ingest subcommand (needed by this test)"
key="$WORK/k.key"
make_key "$key"

for f in "${samples[@]}"; do
  name=$(basename "$f" .csv.gz)
  store="$WORK/$name.h5"
  mpi 2 ingest --input "$f" --store "$store" --key-file "$key" --no-progress > "$WORK/$name.log" 2>&1 \
    || { cat "$WORK/$name.log"; fail "ingest of $name"; }
  mpi 3 profile --store "$store" --out "$WORK/$name.p3" --no-progress --log-level warn \
    || fail "profile of $name (np 3)"
  mpi 1 profile --store "$store" --out "$WORK/$name.p1" --no-progress --log-level warn \
    || fail "profile of $name (np 1)"
  diff -r "$WORK/$name.p1" "$WORK/$name.p3" || fail "$name: profile differs between np 1 and np 3"
  $PY "$HERE/check_profile_real.py" "$f" "$WORK/$name.p3" --store "$store" --log "$WORK/$name.log" || fail "$name: profile differs from the csv-module reference"
  $PY "$HERE/check_profile_store.py" "$store" "$WORK/$name.p3" || fail "$name: profile differs from the store (numpy)"
  ok "$name"
done
