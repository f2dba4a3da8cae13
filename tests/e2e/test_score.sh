#!/usr/bin/env bash
# `ecom score` end to end, on a run over a small synthetic set (20k events, np 2):
#  1. scoring the training events of 40 users reproduces their segment, segment name and
#     confidence from the run (np 2), and their recommendations equal a numpy fold-in (exact
#     solve with the item factors fixed) over their history + the new events;
#  2. a batch with a new user on known products (ALS fold-in), a new user whose products the
#     model has never seen (fallbacks only), new events of an existing user (history + new) and
#     one malformed row (quarantined): the numpy fold-in again, and byte-identical outputs for
#     np 1 and np 3;
#  3. --no-history: only the new events count;
#  4. a batch without a valid row: header-only outputs;
#  5. a missing model: one line, usage exit code.
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
CHECK="$HERE/check_recommend.py"
key="$WORK/key"
make_key "$key"
T=2020-01-01T00:00:00Z

mpi 2 synth --preset multi-category --events 20000 --seed 3 --out "$WORK/data" --no-progress --log-level warn
csv="$WORK/data/events/2019-10.csv"
mpi 2 run --input "$csv" --out "$WORK/run" --key-file "$key" --run-time $T --k 3 --gap-references 0 \
  --stability-resamples 0 --no-progress --log-level warn

# 1. training events of 40 users
$PY - "$csv" "$WORK/new1.csv" <<'PY'
import csv, random, sys
rows = list(csv.reader(open(sys.argv[1])))
users = sorted({r[7] for r in rows[1:]})
pick = set(random.Random(5).sample(users, 40))
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(rows[0])
    w.writerows(r for r in rows[1:] if r[7] in pick)
PY
mpi 2 score --model "$WORK/run" --input "$WORK/new1.csv" --out "$WORK/s1" --key-file "$key" --run-time $T \
  --no-progress --log-level warn
$PY "$CHECK" same-segments "$WORK/run" "$WORK/s1" || fail "scored segments differ from the run's"
$PY "$CHECK" score "$WORK/run" "$key" "$WORK/s1" "$WORK/new1.csv" -- "$csv" || fail "fold-in differs from numpy"
ok "training events re-scored: same segments; fold-in recommendations equal numpy"

# 2. new users, an existing user's new events, a malformed row
read -r u0 < <(awk -F, 'NR==2 {print $8}' "$csv")
mapfile -t known < <(awk -F, 'NR>1 {print $3","$4}' "$csv" | sort -u | head -5)
{
  head -1 "$csv"
  i=0
  for pc in "${known[@]}"; do
    i=$((i + 1))
    echo "2019-11-02 10:0$i:00 UTC,view,${pc},,,3.00,880000001,s-new-1"
    echo "2019-11-03 10:0$i:00 UTC,cart,${pc},,,3.00,$u0,s-new-2"
  done
  c=$(printf '%s\n' "${known[0]}" | cut -d, -f2)
  echo "2019-11-02 12:00:00 UTC,view,777000001,$c,,,9.99,880000002,s-new-3"
  echo "2019-11-02 12:01:00 UTC,purchase,777000001,$c,,,9.99,880000002,s-new-3"
  echo "2019-11-02 12:02:00 UTC,view,777000002,$c,,,not-a-price,880000002,s-new-3"
} > "$WORK/new2.csv"
for n in 1 3; do
  mpi $n score --model "$WORK/run" --input "$WORK/new2.csv" --out "$WORK/s2_np$n" --key-file "$key" \
    --run-time $T --no-progress --log-level warn
done
for f in customer_segments.csv recommendations.csv; do
  cmp "$WORK/s2_np1/$f" "$WORK/s2_np3/$f" || fail "$f differs between np 1 and np 3"
done
[[ $(wc -l < "$WORK/s2_np1/customer_segments.csv") -eq 4 ]] || fail "expected 3 users scored"
[[ $(grep -c bad_price "$WORK/s2_np1/quarantine.csv") -eq 1 ]] || fail "the malformed row is not quarantined"
$PY "$CHECK" score "$WORK/run" "$key" "$WORK/s2_np1" "$WORK/new2.csv" -- "$csv" || fail "fold-in differs from numpy"
u2=$($PY -c "import hmac,hashlib;print(hmac.new(open('$key','rb').read(),b'880000002',hashlib.sha256).hexdigest()[:16])")
grep "^$u2," "$WORK/s2_np1/recommendations.csv" | grep -q ",als$" && fail "an unknown-products user got ALS rows"
grep -q "^$u2,1,.*,category_popular$" "$WORK/s2_np1/recommendations.csv" || fail "no category_popular row for $u2"
ok "new users, history + new events, a quarantined row: numpy fold-in, fallbacks, np 1 = np 3"

# 3. without the history only the new events count: the existing user's segment can change,
#    its recommendations come from the new events alone.
mpi 2 score --model "$WORK/run" --input "$WORK/new2.csv" --out "$WORK/s3" --key-file "$key" --run-time $T \
  --no-history --no-progress --log-level warn
$PY "$CHECK" score "$WORK/run" "$key" "$WORK/s3" "$WORK/new2.csv" -- || fail "--no-history fold-in differs from numpy"
ok "--no-history uses the new events only"

# 4. a batch whose only row is malformed: header-only outputs, the row quarantined
{ head -1 "$csv"; echo "2019-11-02 12:00:00 UTC,view,1,2,,,oops,880000003,s"; } > "$WORK/new3.csv"
mpi 2 score --model "$WORK/run" --input "$WORK/new3.csv" --out "$WORK/s5" --key-file "$key" --run-time $T \
  --no-progress --log-level warn
[[ $(cat "$WORK/s5/customer_segments.csv") == "$(head -1 "$WORK/run/customer_segments.csv")" ]] \
  || fail "no valid rows: customer_segments.csv is not header-only"
[[ $(wc -l < "$WORK/s5/recommendations.csv") -eq 1 && $(grep -c bad_price "$WORK/s5/quarantine.csv") -eq 1 ]] \
  || fail "no valid rows: recommendations.csv not header-only or the row not quarantined"
ok "a batch without valid rows: header-only outputs"

# 5. a missing model
set +e
err=$(mpi 2 score --model "$WORK/nothing" --input "$WORK/new2.csv" --out "$WORK/s4" --key-file "$key" 2>&1); rc=$?
set -e
[[ $rc -eq 2 ]] || fail "missing model: exit $rc, expected 2 ($err)"
[[ $(printf '%s\n' "$err" | grep -c '^ecom: score: no model') -eq 1 ]] || fail "missing model message: $err"
ok "a missing model: one line, exit 2"
