#!/usr/bin/env bash
# `ecom synth` options, each checked by an independent reading (check_synth.py, Python's csv and
# gzip modules):
#  1. --dirty 0.01: every malformed row is classified by check_ingest_store.classify (an
#     independent reading of the documented rules) and the counts per reason equal
#     truth/dirty.csv and summary.json; every kind occurs; the clean rows keep the marginals;
#  2. --preset cosmetics (1M events): view/cart/remove_from_cart/purchase shares, exact
#     duplicates, empty category_code and brand within +-10% of the published figures;
#  3. --months 2019-10,2019-11 --gzip with 3 ranks: one .csv.gz per month, each a valid gzip
#     stream whose rows lie in its month; users return in both months; decompressed, the files
#     equal the plain output of the same run without --gzip (2 ranks);
#  4. bad options end with one `ecom:` line and a non-zero exit.
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
CHECK="$HERE/check_synth.py"

# 1. dirty rows
mpi 2 synth --preset multi-category --events 200000 --seed 3 --dirty 0.01 --out "$WORK/dirty" \
  --no-progress --log-level warn || fail "synth --dirty"
$PY "$CHECK" "$WORK/dirty" --dirty || fail "--dirty 0.01"
ok "--dirty: counts per reason equal an independent classification"

# 2. cosmetics
mpi 2 synth --preset cosmetics --events 1000000 --seed 2 --out "$WORK/cos" --no-progress \
  --log-level warn || fail "synth --preset cosmetics"
$PY "$CHECK" "$WORK/cos" --preset cosmetics || fail "cosmetics marginals"
ok "cosmetics marginals within 10% of the published figures"

# 3. two months, gzip
mpi 3 synth --preset multi-category --events 300000 --seed 4 --months 2019-10,2019-11 --gzip \
  --out "$WORK/gz" --no-progress --log-level warn || fail "synth --months --gzip"
mpi 2 synth --preset multi-category --events 300000 --seed 4 --months 2019-10,2019-11 \
  --out "$WORK/plain" --no-progress --log-level warn || fail "synth --months"
[[ $(ls "$WORK/gz/events" | tr '\n' ' ') == "2019-10.csv.gz 2019-11.csv.gz " ]] \
  || fail "gzip files: $(ls "$WORK/gz/events")"
for m in 2019-10 2019-11; do
  gzip -t "$WORK/gz/events/$m.csv.gz" || fail "$m.csv.gz is not valid gzip"
  cmp <(gzip -dc "$WORK/gz/events/$m.csv.gz") "$WORK/plain/events/$m.csv" \
    || fail "$m: gzip content differs from the plain output"
done
for f in users.csv future_purchases.csv dirty.csv; do
  cmp "$WORK/gz/truth/$f" "$WORK/plain/truth/$f" || fail "truth/$f differs between gzip and plain"
done
# summary.json differs only in the file names
cmp <(sed 's/\.csv\.gz"/.csv"/g' "$WORK/gz/truth/summary.json") "$WORK/plain/truth/summary.json" \
  || fail "summary.json differs between gzip and plain beyond the file names"
$PY "$CHECK" "$WORK/gz" --months 2019-10,2019-11 || fail "two months, gzip"
$PY - "$WORK/plain/events" <<'PY' || fail "users do not return across months"
import csv, sys
users = [set(r[7] for r in csv.reader(open(f"{sys.argv[1]}/{m}.csv"))) for m in ("2019-10", "2019-11")]
both = len(users[0] & users[1])
print(f"users: October {len(users[0]) - 1}, November {len(users[1]) - 1}, both {both - 1}")
assert both - 1 > 0.1 * min(len(u) for u in users)
PY
ok "--months 2019-10,2019-11 --gzip: one file per month, = plain output, users in both months"

# 4. bad options
for bad in "--months 2019-10,2019-12" "--months 2019-13" "--dirty 0.9" "--events 10"; do
  set +e
  err=$(mpi 2 synth --out "$WORK/bad" $bad 2>&1); rc=$?
  set -e
  [[ $rc -ne 0 ]] || fail "synth $bad succeeded"
  [[ $(printf '%s\n' "$err" | grep -c '^ecom:') -eq 1 ]] || fail "synth $bad: $err"
  echo "synth $bad -> $(printf '%s\n' "$err" | grep '^ecom:')"
done
ok "bad options: one line, non-zero exit"
