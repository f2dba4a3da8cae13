#!/usr/bin/env bash
# Issue 16 item 3: extreme prices never break a run. Two purchases priced 1e308 and DBL_MAX in
# the store used to end `ecom analyze` and `ecom profile` with exit 1 ("exact sum: result
# exceeds the range of double"), on every rerun. Now the users' money features are capped at
# 1e15, named in the log and counted in run.json (counts.money_capped_users); the profile
# counts such prices as the ceiling in its sums and names the products.
source "$(dirname "$0")/lib.sh"
key="$WORK/key"
make_key "$key"
(set +o pipefail; gzip -dc "$ECOM_SOURCE_DIR/tests/data/multi_category_2019_oct_head_17k.csv.gz" | head -4001) > "$WORK/in.csv"
cat >> "$WORK/in.csv" <<'CSV'
2019-10-01 02:51:00 UTC,purchase,1003769,2053013555631882655,electronics.smartphone,huawei,1e308,529847028,a38a4226-8826-4653-8eed-b13337146321
2019-10-01 02:52:00 UTC,purchase,12718331,2053013553559896355,,yokohama,1.7976931348623157e308,543335023,e6cc4f54-a24e-4123-8e3a-ed2f2fb95e0c
CSV
# Where ingest has a price ceiling (--max-price), raise it so that the rows reach the store.
extra=()
if "$ECOM" ingest --help 2>/dev/null | grep -q -- --max-price; then
  extra=(--max-price 1.7976931348623157e308)
fi
timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" --no-progress --log-level warn ingest \
  --input "$WORK/in.csv" --store "$WORK/s.h5" --key-file "$key" "${extra[@]}"
$PY - "$WORK/s.h5" <<'PY' || fail "the extreme prices are not in the store"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as h:
    prices = np.concatenate([h["partitions"][k]["events"]["price"][...] for k in h["partitions"]])
assert (prices >= 1e308).sum() == 2, sorted(prices)[-3:]
PY
ok "store holds prices 1e308 and DBL_MAX"

set +e
timeout 300 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" --no-progress --log-level warn analyze \
  --store "$WORK/s.h5" --out "$WORK/run" --k 3 --no-recommend > "$WORK/analyze.log" 2>&1
rc=$?
set -e
[[ $rc -eq 0 ]] || { cat "$WORK/analyze.log"; fail "analyze exit $rc"; }
grep -q "features: 2 users' money features capped at 1e15" "$WORK/analyze.log" || fail "no capping warning: $(cat "$WORK/analyze.log")"
grep -q '"money_capped_users": 2' "$WORK/run/run.json" || fail "run.json lacks money_capped_users 2"
$PY - "$WORK/run/segment_profiles.csv" <<'PY' || fail "segment profiles not finite"
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert rows and all(math.isfinite(float(r["monetary_mean"])) for r in rows)
assert max(float(r["monetary_mean"]) for r in rows) <= 1e15
PY
ok "analyze succeeds, names the 2 capped users, run.json counts them"

set +e
timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" --no-progress --log-level warn profile \
  --store "$WORK/s.h5" --out "$WORK/prof" > "$WORK/profile.log" 2>&1
rc=$?
set -e
[[ $rc -eq 0 ]] || { cat "$WORK/profile.log"; fail "profile exit $rc"; }
grep -q "profile: 2 events priced above 1e+15 .*(products 1003769 12718331)" "$WORK/profile.log" || fail "profile warning: $(cat "$WORK/profile.log")"
grep -q '^purchase,.*,1.7976931348623157e+308,' "$WORK/prof/price_by_event_type.csv" || fail "max price lost"
ok "profile succeeds, keeps the true max, names the products"
