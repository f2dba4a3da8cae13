#!/usr/bin/env bash
# A summary that cannot be written is an error, not silence: `ecom analyze` whose run.json cannot
# be written (its temporary name is taken by a directory: root ignores file modes) and `ecom score`
# whose score.json cannot be written end with exit code 4 and one line naming the file; with the
# way clear, the same commands write valid JSON with integer counts.
source "$(dirname "$0")/lib.sh"
key="$WORK/key"
make_key "$key"
T=2020-01-01T00:00:00Z
quiet=(--no-progress --log-level warn)
mpi 2 synth --preset multi-category --events 3000 --seed 3 --out "$WORK/data" "${quiet[@]}"
csv="$WORK/data/events/2019-10.csv"
timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" ingest --input "$csv" --store "$WORK/events.h5" \
  --key-file "$key" "${quiet[@]}" || fail "ingest"
model=(--k 2 --gap-references 0 --stability-resamples 0 --run-time $T)

# expect_unwritable LOG FILE: exit 4 and one error line naming FILE.
expect_unwritable() {
  local rc="$1" log="$2" file="$3"
  [[ $rc -eq 4 ]] || { cat "$log"; fail "exit $rc, expected 4"; }
  [[ $(grep -c '^ecom: ' "$log") -eq 1 ]] || { cat "$log"; fail "not exactly one error line"; }
  grep -q "^ecom: cannot write $file" "$log" || { cat "$log"; fail "the error does not name $file"; }
}

mkdir -p "$WORK/a/run.json.tmp"
set +e
timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" analyze --store "$WORK/events.h5" --out "$WORK/a" \
  "${model[@]}" "${quiet[@]}" > "$WORK/a.log" 2>&1
rc=$?
set -e
expect_unwritable $rc "$WORK/a.log" "$WORK/a/run.json"
[[ ! -e "$WORK/a/run.json" ]] || fail "run.json exists"
ok "run.json that cannot be written: exit 4, one line"

rmdir "$WORK/a/run.json.tmp"
timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" analyze --store "$WORK/events.h5" --out "$WORK/a" \
  "${model[@]}" "${quiet[@]}" || fail "analyze"
$PY - "$WORK/a/run.json" <<'PY' || fail "run.json"
import json, sys
j = json.load(open(sys.argv[1]))
for v in (j["ranks"], j["counts"]["events"], j["counts"]["users"], j["segments"]["k"],
          j["segments"]["iterations"], j["holdout_pairs"], j["products"]):
    assert type(v) is int, (v, type(v))
assert j["run_time"] == "2020-01-01T00:00:00Z" and j["segments"]["k"] == 2
assert list(j)[:6] == ["version", "git_revision", "run_time", "ranks", "store", "counts"], list(j)
assert j["stages"] and all(type(s["max"]) is float for s in j["stages"])
PY
ok "run.json written: integers stay integers, keys in order"

mkdir -p "$WORK/s/score.json.tmp"
set +e
timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" score --model "$WORK/a" --input "$csv" --out "$WORK/s" \
  --key-file "$key" --run-time $T "${quiet[@]}" > "$WORK/s.log" 2>&1
rc=$?
set -e
expect_unwritable $rc "$WORK/s.log" "$WORK/s/score.json"
ok "score.json that cannot be written: exit 4, one line"
