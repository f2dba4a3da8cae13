#!/usr/bin/env bash
# `ecom run` refuses a run directory holding any output of an earlier run (exit 2, one line,
# nothing changed) unless --resume (continue it) or --force (those outputs are deleted first).
# Before, a directory with an events.h5 of another input (and no ecom.h5) was appended to: the
# run reported the other input's events as its own.
source "$(dirname "$0")/lib.sh"
key="$WORK/key"
make_key "$key"
"$ECOM" synth --preset multi-category --events 3000 --months 2019-10 2019-11 --seed 5 --out "$WORK/data" \
  --no-progress --log-level warn
A="$WORK/data/events/2019-10.csv" B="$WORK/data/events/2019-11.csv"
fast=(--key-file "$key" --k 2 --no-recommend --gap-references 0 --stability-resamples 0 --no-progress --log-level warn)

# The reproduction: an events.h5 of input B in the run directory, then a run of input A.
mkdir -p "$WORK/r"
timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" ingest --input "$B" --store "$WORK/r/events.h5" --key-file "$key" --no-progress --log-level warn
before=$(sha256sum "$WORK/r/events.h5")
set +e
timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" run --input "$A" --out "$WORK/r" "${fast[@]}" > "$WORK/out" 2> "$WORK/err"; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "run into a directory with an earlier events.h5: exit $rc, expected 2: $(cat "$WORK/err")"
[[ $(grep -c '^ecom' "$WORK/err") -eq 1 ]] || fail "expected one line: $(cat "$WORK/err")"
grep -q "^ecom: run directory $WORK/r holds outputs of an earlier run (events.h5, events.quarantine.csv): continue it with --resume, delete them with --force, or use another --out$" "$WORK/err" ||
  fail "message: $(cat "$WORK/err")"
[[ $(sha256sum "$WORK/r/events.h5") == "$before" ]] || fail "the earlier events.h5 was changed"
[[ ! -e "$WORK/r/ecom.h5" && ! -e "$WORK/r/checkpoint.json" ]] || fail "the refused run wrote outputs"
ok "stale events.h5: exit 2, '$(grep '^ecom' "$WORK/err")', nothing changed"

# Every kind of earlier output is refused (a file or a directory of that name is enough).
for name in ecom.h5 run.json customer_segments.csv recommendations.csv k_selection.csv \
            segment_profiles.csv checkpoint.json checkpoint profile events.quarantine.csv; do
  rm -rf "$WORK/s" && mkdir -p "$WORK/s"
  if [[ $name == checkpoint || $name == profile ]]; then mkdir "$WORK/s/$name"; else echo x > "$WORK/s/$name"; fi
  set +e
  timeout 60 "$ECOM" run --input "$A" --out "$WORK/s" "${fast[@]}" > /dev/null 2> "$WORK/err"; rc=$?
  set -e
  [[ $rc -eq 2 ]] || fail "earlier $name: exit $rc: $(cat "$WORK/err")"
  grep -q "holds outputs of an earlier run ($name)" "$WORK/err" || fail "earlier $name: $(cat "$WORK/err")"
done
ok "each earlier output (ecom.h5, run.json, CSVs, checkpoint, profile, quarantine) is refused"

# --force deletes them first (other files stay), and the run then holds input A only.
echo keep > "$WORK/r/notes.txt"
timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" run --input "$A" --out "$WORK/r" --force "${fast[@]}" || fail "run --force"
[[ -f "$WORK/r/notes.txt" ]] || fail "--force deleted a file that is not a run output"
$PY - "$WORK/r/run.json" "$A" <<'PY' || fail "run.json after --force"
import json, sys
j = json.load(open(sys.argv[1]))
rows = sum(1 for _ in open(sys.argv[2])) - 1
c = j["counts"]
assert c["files"] == 1, c
assert c["rows_read"] == rows, (c, rows)
PY
ok "--force: earlier outputs deleted, the run holds its own input only"

# A finished run: refused again; --resume says there is nothing to do; --force with --resume is
# a usage error.
set +e
timeout 60 "$ECOM" run --input "$A" --out "$WORK/r" "${fast[@]}" 2> "$WORK/err"; rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "holds outputs of an earlier run (events.h5" "$WORK/err" || fail "rerun: exit $rc: $(cat "$WORK/err")"
timeout 60 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" run --input "$A" --out "$WORK/r" --resume "${fast[@]}" || fail "--resume of a finished run"
set +e
"$ECOM" run --input "$A" --out "$WORK/r" --resume --force "${fast[@]}" 2> "$WORK/err"; rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "^ecom: --resume continues the earlier run, --force deletes it: not both" "$WORK/err" || fail "--resume --force: exit $rc: $(cat "$WORK/err")"
ok "finished run: refused, --resume finds nothing to do, --resume --force is a usage error"
