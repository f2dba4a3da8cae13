#!/usr/bin/env bash
# Recommendations end to end on a small synthetic set (30k events) plus two crafted users:
#  1. `ecom run` (np 2), then `ecom analyze` of its store with np 1, 3 and 4: recommendations.csv
#     byte-identical for every np (double factors), /als and /recs identical (h5diff), and the
#     run.json metrics of `als` and `popularity` equal within 1e-6; the same with
#     `--exchange sparse` (np 3 and 4): recommendations.csv, /als and /recs byte-identical;
#  2. recommendations.csv against numpy (check_recommend.py recs): the ALS top-N recomputed from
#     /als factors over the catalogue minus purchased products (ties to the lower product id),
#     the fallback rows of a user with only remove_from_cart events (category_popular, then
#     popular), N rows for every user of customer_segments.csv, no purchased product, and a
#     product seen once in the catalogue;
#  3. `ecom analyze --no-als-refit` (np 3): the twelve holdout figures of run.json equal an
#     independent numpy evaluation of the stored factors and held-out pairs (1e-9), and the
#     holdout is about 20% of the pairs.
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
CHECK="$HERE/check_recommend.py"
key="$WORK/key"
make_key "$key"
T=2020-01-01T00:00:00Z
FAST=(--k 3 --gap-references 0 --stability-resamples 0 --no-progress --log-level warn)

mpi 2 synth --preset multi-category --events 30000 --seed 7 --out "$WORK/data" --no-progress --log-level warn
csv="$WORK/data/events/2019-10.csv"
# user 990000001: one remove_from_cart (strength 0: ALS cannot serve it); user 990000002: a
# product nobody else has (seen once) and a purchase of a common product.
read -r p1 c1 < <(awk -F, 'NR==2 {print $3, $4}' "$csv")
read -r p2 c2 < <(awk -F, 'NR==3 {print $3, $4}' "$csv")
{
  head -1 "$csv"
  echo "2019-10-20 10:00:00 UTC,remove_from_cart,$p1,$c1,,,5.00,990000001,s-990000001"
  echo "2019-10-20 11:00:00 UTC,view,999999001,$c2,,,7.50,990000002,s-990000002"
  echo "2019-10-20 11:01:00 UTC,purchase,$p2,$c2,,,7.50,990000002,s-990000002"
} > "$WORK/extra.csv"

mpi 2 run --input "$csv" "$WORK/extra.csv" --out "$WORK/np2" --key-file "$key" --run-time $T "${FAST[@]}"
for n in 1 3 4; do
  mpi $n analyze --store "$WORK/np2/events.h5" --out "$WORK/np$n" --run-time $T "${FAST[@]}"
done
for n in 1 3 4; do
  cmp "$WORK/np2/recommendations.csv" "$WORK/np$n/recommendations.csv" \
    || fail "recommendations.csv differs between np 2 and np $n"
  h5diff "$WORK/np2/ecom.h5" "$WORK/np$n/ecom.h5" /als /als || fail "/als differs between np 2 and np $n"
  h5diff "$WORK/np2/ecom.h5" "$WORK/np$n/ecom.h5" /recs /recs || fail "/recs differs between np 2 and np $n"
done
$PY - "$WORK" <<'PY' || fail "run.json metrics differ across np"
import json, sys
runs = {n: json.load(open(f"{sys.argv[1]}/np{n}/run.json")) for n in (1, 2, 3, 4)}
keys = ["precision_at_10", "recall_at_10", "map_at_10", "ndcg_at_10", "auc", "coverage"]
for n in (2, 3, 4):
    for rec in ("als", "popularity"):
        for k in keys:
            a, b = runs[1][rec][k], runs[n][rec][k]
            assert abs(a - b) <= 1e-6, (n, rec, k, a, b)
print("metrics equal for np 1..4:", {k: round(runs[1]["als"][k], 4) for k in keys})
PY
ok "recommendations.csv, /als and /recs identical and metrics equal for np 1, 2, 3, 4"
for n in 3 4; do
  mpi $n analyze --store "$WORK/np2/events.h5" --out "$WORK/sparse$n" --run-time $T --exchange sparse \
    "${FAST[@]}"
  cmp "$WORK/np2/recommendations.csv" "$WORK/sparse$n/recommendations.csv" \
    || fail "recommendations.csv differs with --exchange sparse (np $n)"
  h5diff "$WORK/np2/ecom.h5" "$WORK/sparse$n/ecom.h5" /als /als || fail "/als differs with sparse (np $n)"
  h5diff "$WORK/np2/ecom.h5" "$WORK/sparse$n/ecom.h5" /recs /recs || fail "/recs differs with sparse (np $n)"
done
ok "--exchange sparse: recommendations.csv, /als and /recs identical to alltoallv (np 3, 4)"

$PY "$CHECK" recs "$WORK/np1" "$key" "$csv" "$WORK/extra.csv" || fail "recommendations differ from numpy"
u1=$($PY -c "import hmac,hashlib;print(hmac.new(open('$key','rb').read(),b'990000001',hashlib.sha256).hexdigest()[:16])")
grep -q "^$u1,1,.*,category_popular$" "$WORK/np1/recommendations.csv" \
  || fail "the remove_from_cart-only user is not served from its category first"
$PY - "$WORK/np1/ecom.h5" <<'PY' || fail "the product seen once is not in /als/item_ids"
import h5py, sys
assert 999999001 in set(h5py.File(sys.argv[1], "r")["als/item_ids"][:])
PY
ok "top-N, fallbacks and exclusions equal an independent numpy computation"

mpi 3 analyze --store "$WORK/np2/events.h5" --out "$WORK/eval" --run-time $T --no-als-refit "${FAST[@]}"
$PY "$CHECK" metrics "$WORK/eval" "$key" "$csv" "$WORK/extra.csv" || fail "holdout metrics differ from numpy"
ok "holdout metrics equal numpy (ALS vs popularity at scale: test_recommend_1m.sh)"
