#!/usr/bin/env bash
# Ingest guards (issue 16, items 3 and 5):
#  1. An input that changes while it is read (test hook ECOM_TEST_CHANGE_INPUT truncates it as
#     soon as a rank opens it), plain or gzip, new store or append, np 1 and 2: exit 3 with
#     `ecom: input file F: changed while being read`, nothing published (no new store, an old one
#     byte for byte as it was, no .tmp left).
#  2. Extreme prices: purchase rows priced 1e308 and 1.7976931348623157e308 are rejected as
#     bad_price (above --max-price, default 1000000); `ecom run` on them succeeds. A lower
#     --max-price rejects more.
source "$(dirname "$0")/lib.sh"
DATA="$ECOM_SOURCE_DIR/tests/data"
key="$WORK/k.key"
make_key "$key"
cd "$WORK"
zcat "$DATA/multi_category_2019_nov_head_683.csv.gz" > base.csv
zcat "$DATA/multi_category_2019_oct_head_17k.csv.gz" > oct.csv

# ---- 1. changed while being read --------------------------------------------------------------
timeout 60 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" ingest --input base.csv --store old.h5 \
  --key-file "$key" --no-progress --log-level warn || fail "first ingest"
before=$(sha256sum old.h5 old.quarantine.csv)
for np in 1 2; do
  for kind in csv csv.gz; do
    head -2001 oct.csv > in.csv
    [[ $kind == csv.gz ]] && gzip -f in.csv
    for store in new.h5 old.h5; do
      cp "in.$kind" "x.$kind"
      set +e
      ECOM_TEST_CHANGE_INPUT="x.$kind" timeout 60 "$MPIEXEC" -np $np --oversubscribe "$ECOM" ingest \
        --input "x.$kind" --store $store --key-file "$key" --no-progress > log 2>&1
      rc=$?
      set -e
      [[ $rc == 3 ]] || { cat log; fail "np $np $kind $store: exit $rc, expected 3"; }
      grep -qx "ecom: input file x.$kind: changed while being read" log \
        || fail "np $np $kind $store: no 'changed while being read' line: $(cat log)"
      [[ -e new.h5 ]] && fail "np $np $kind: a store was published"
      [[ -e $store.tmp ]] && fail "np $np $kind: $store.tmp left behind"
      [[ "$(sha256sum old.h5 old.quarantine.csv)" == "$before" ]] || fail "np $np $kind: the old store changed"
    done
  done
done
ok "an input changed while being read fails with exit 3 and publishes nothing"

# ---- 2. extreme prices ------------------------------------------------------------------------
head -6001 oct.csv > prices.csv
printf '%s\n' \
  "2019-10-01 10:00:00 UTC,purchase,1005115,2053013555631882655,electronics.smartphone,apple,1e308,512386086,s-x" \
  "2019-10-01 10:00:01 UTC,purchase,1005115,2053013555631882655,electronics.smartphone,apple,1.7976931348623157e308,512386086,s-x" \
  >> prices.csv
timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" ingest --input prices.csv --store p.h5 \
  --key-file "$key" --no-progress --log-level warn || fail "ingest with extreme prices"
[[ $(grep -c ',bad_price,.*e308' p.quarantine.csv) == 2 ]] || fail "extreme prices not quarantined: $(grep bad_price p.quarantine.csv)"
timeout 300 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" run --input prices.csv --out run \
  --key-file "$key" --no-progress --log-level warn --run-time 2019-12-01T00:00:00Z > run.log 2>&1 \
  || { cat run.log; fail "ecom run with extreme prices"; }
[[ -s run/customer_segments.csv ]] || fail "ecom run wrote no segments"
ok "prices 1e308 and 1.7976931348623157e308 are bad_price; ingest and run succeed"

timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" ingest --input prices.csv --store low.h5 \
  --key-file "$key" --no-progress --max-price 100 > low.log 2>&1 || { cat low.log; fail "--max-price 100"; }
low=$(grep -c ',bad_price,' low.quarantine.csv)
[[ $low -gt 2 ]] || fail "--max-price 100 rejected only $low rows"
$PY - prices.csv "$low" <<'PY' || fail "--max-price 100: wrong count"
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))[1:]
n = sum(1 for r in rows if len(r) == 9 and r[6] and float(r[6]) > 100)
assert n == int(sys.argv[2]), (n, sys.argv[2])
PY
timeout 30 "$ECOM" ingest --input prices.csv --store bad.h5 --key-file "$key" --max-price -1 > bad.log 2>&1 && fail "--max-price -1 accepted"
grep -q "max-price" bad.log || fail "--max-price -1: $(cat bad.log)"
ok "--max-price sets the ceiling"
