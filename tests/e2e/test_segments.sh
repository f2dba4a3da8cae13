#!/usr/bin/env bash
# Issue 4's acceptance run for segmentation: `ecom synth --preset multi-category --events
# 1000000 --seed 1` (6 planted archetypes) with 2 ranks, then `ecom run` with 2 ranks and the
# default k selection over k = 2..10 (recommendations off, they are tested elsewhere). Checks,
# independently of ecom (check_segments.py: pseudonyms by Python's hmac, events counted with the
# csv module, ARI by scikit-learn):
#  - the k rule picks the planted number of archetypes (distinct archetypes in truth/users.csv);
#  - the adjusted Rand index between segments and archetypes is >= 0.9 over users with at least
#    5 events (the ARI over all users is printed too);
#  - the log says which k and why, and k_selection.csv has a row for every k of the range.
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
key="$WORK/key"
make_key "$key"

t0=$SECONDS
mpi 2 synth --preset multi-category --events 1000000 --seed 1 --out "$WORK/data" --no-progress \
  --log-level warn || fail "synth"
t1=$SECONDS
mpi 2 run --input "$WORK/data/events/*.csv" --out "$WORK/run" --key-file "$key" \
  --run-time 2026-01-01T00:00:00Z --no-recommend --no-progress > "$WORK/run.log" 2>&1 \
  || { cat "$WORK/run.log"; fail "ecom run"; }
t2=$SECONDS
echo "synth $((t1 - t0)) s, run $((t2 - t1)) s (2 ranks)"

why=$(grep -E '\[info\] k = [0-9]+: ' "$WORK/run.log" || true)
[[ -n "$why" ]] || fail "the log does not say which k was chosen and why"
echo "${why#*\[info\] }"
[[ $(tail -n +2 "$WORK/run/k_selection.csv" | cut -d, -f1 | tr '\n' ' ') == "2 3 4 5 6 7 8 9 10 " ]] \
  || fail "k_selection.csv does not cover k = 2..10"
cat "$WORK/run/k_selection.csv"

$PY "$HERE/check_segments.py" "$key" "$WORK/data" "$WORK/run" 0.9 5 --check-k \
  || fail "segments do not recover the planted archetypes"
echo "check $((SECONDS - t2)) s"
ok "k = number of planted archetypes, ARI >= 0.9 over users with >= 5 events"
