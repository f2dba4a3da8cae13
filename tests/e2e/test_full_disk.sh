#!/usr/bin/env bash
# A full disk never hangs (issue 16, item 2): on a small tmpfs every write error (HDF5, MPI-IO,
# POSIX) ends every rank within seconds with exit 4 and one line naming the file and
# "No space left on device"; no *.tmp is left; the old store and outputs are byte-identical.
# Covers a new store, an append, and `ecom run` failing in turn in its ingest, profile,
# checkpoint and output writes, each then resumed on a larger disk to the reference outputs.
# Needs root (mount); skipped otherwise.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/resume_lib.sh"
if [[ $(id -u) -ne 0 ]] || ! command -v mount > /dev/null; then
  echo "SKIP: test_full_disk needs root to mount a small tmpfs"
  exit 0
fi
SMALL="$WORK/small"
mkdir -p "$SMALL"
mount -t tmpfs -o size=256k tmpfs "$SMALL" || { echo "SKIP: cannot mount a tmpfs"; exit 0; }
trap 'umount "$SMALL" 2> /dev/null || umount -l "$SMALL"; rm -rf "$WORK"' EXIT
resize() { mount -o remount,size="$1" "$SMALL"; }

make_resume_data "$WORK/data"
key="$WORK/data/key"
input=("$WORK"/data/events/*.csv)
"$ECOM" synth --events 400 --seed 3 --out "$WORK/tiny" --no-progress --log-level warn > /dev/null

# fails_full NAME CMD...: CMD (run under mpirun -np 2) must end within 60 s with exit 4, one
# 'ecom:' line naming "No space left on device", and leave no *.tmp on the small disk.
fails_full() {
  local name="$1" rc start; shift
  start=$SECONDS
  set +e
  timeout 60 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" "$@" --no-progress > "$WORK/$name.log" 2>&1
  rc=$?
  set -e
  [[ $rc -ne 124 ]] || { cat "$WORK/$name.log"; fail "$name: hung (killed after 60 s)"; }
  [[ $rc -eq 4 ]] || { cat "$WORK/$name.log"; fail "$name: exit $rc, expected 4"; }
  local lines; lines=$(grep -c '^ecom: ' "$WORK/$name.log" || true)
  [[ $lines -eq 1 ]] || { cat "$WORK/$name.log"; fail "$name: $lines 'ecom:' lines, expected 1"; }
  grep '^ecom: ' "$WORK/$name.log" | grep -q 'No space left on device' \
    || { cat "$WORK/$name.log"; fail "$name: the line does not say 'No space left on device'"; }
  local left; left=$(find "$SMALL" -name '*.tmp' | head -n 3)
  [[ -z $left ]] || fail "$name: temporary files left: $left"
  FAILED_LINE=$(grep '^ecom: ' "$WORK/$name.log")
  ok "$name: exit 4 after $((SECONDS - start)) s: $FAILED_LINE"
}

# 1. A new store that does not fit: nothing is left.
fails_full new-store ingest --input "${input[@]}" --store "$SMALL/new.h5" --key-file "$key"
[[ ! -e $SMALL/new.h5 ]] || fail "new-store: a store was published"
[[ $FAILED_LINE == *"$SMALL/new"* ]] || fail "new-store: the line does not name the store"

# 2. An append that does not fit: the old store (and its quarantine) stay byte-identical.
rm -f "$SMALL"/*
mpi 2 ingest --input "$WORK"/tiny/events/*.csv --store "$SMALL/s.h5" --key-file "$key" \
  --no-progress --log-level warn
cp -p "$SMALL/s.h5" "$WORK/s.before.h5"
fails_full append ingest --input "${input[@]}" --store "$SMALL/s.h5" --key-file "$key"
cmp "$SMALL/s.h5" "$WORK/s.before.h5" || fail "append: the old store changed"
[[ $FAILED_LINE == *"$SMALL/s"* ]] || fail "append: the line does not name the store"

# 3. `ecom run` on a disk that grows a little after each failure: every write that fails ends
# the run with exit 4 and is resumed from the checkpoint; the final outputs equal a run on a
# large disk.
rm -f "$SMALL"/*
mpi 2 run --input "${input[@]}" --key-file "$key" --out "$WORK/ref" "${RESUME_MODEL_ARGS[@]}" \
  --log-level warn
# First a run stopped by SIGTERM once its features are computed (exit 75, checkpoint kept), on
# a large disk; then each attempt gets the space in use plus `room`, which grows fourfold while the same
# file fails (48 KiB: the next checkpoint state does not fit).
resize 64m
ECOM_TEST_STOP_PAUSE=0.3 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" run --input "${input[@]}" \
  --key-file "$key" --out "$SMALL/run" "${RESUME_MODEL_ARGS[@]}" > "$WORK/stop.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  ranks=($(children_of "$pid"))
  [[ ${#ranks[@]} -lt 2 ]] || break
  sleep 0.1
done
wait_for_line "$WORK/stop.log" '\[info\] features: '
kill -TERM "${ranks[@]}"
set +e; wait "$pid"; rc=$?; set -e
[[ $rc -eq 75 ]] || { cat "$WORK/stop.log"; fail "SIGTERM after the features: exit $rc, expected 75"; }
used() { df -k --output=used "$SMALL" | tail -n 1; }
room=48
resume=(--resume)
failed=()
last=""
for attempt in $(seq 1 30); do
  resize "$(( $(used) + room ))k"
  set +e
  timeout 60 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" run --input "${input[@]}" --key-file "$key" \
    --out "$SMALL/run" "${RESUME_MODEL_ARGS[@]}" "${resume[@]}" > "$WORK/run.log" 2>&1
  rc=$?
  set -e
  resume=(--resume)
  [[ $rc -ne 0 ]] || break
  # The same checks as fails_full, on this attempt's log.
  [[ $rc -eq 4 ]] || { cat "$WORK/run.log"; fail "run attempt $attempt: exit $rc, expected 4"; }
  [[ $(grep -c '^ecom: ' "$WORK/run.log") -eq 1 ]] \
    || { cat "$WORK/run.log"; fail "run attempt $attempt: not one 'ecom:' line"; }
  line=$(grep '^ecom: ' "$WORK/run.log")
  [[ $line == *'No space left on device'* ]] || fail "run attempt $attempt: $line"
  left=$(find "$SMALL" -name '*.tmp' | head -n 3)
  [[ -z $left ]] || fail "run attempt $attempt: temporary files left: $left"
  [[ ! -e $SMALL/run/ecom.h5 ]] || fail "run attempt $attempt: ecom.h5 published by a failed run"
  file=$(sed -nE 's/^ecom: (rank [0-9]+: )?cannot write ([^:]*): .*/\2/p' <<< "$line")
  if [[ $file == "$last" ]]; then room=$((room * 4)); else room=48; fi
  last="$file"
  failed+=("${file#"$SMALL/"}")
done
[[ $rc -eq 0 ]] || fail "the run never finished"
ok "run: finished after ${#failed[@]} failed attempts, writing: ${failed[*]}"
printf '%s\n' "${failed[@]}" | grep -Eq '^run/checkpoint(\.json|/[^/]+\.h5)$' \
  || fail "no failure in a checkpoint write"
printf '%s\n' "${failed[@]}" | grep -q '^run/checkpoint/outputs/' || fail "no failure in an output write"
for f in customer_segments.csv recommendations.csv segment_profiles.csv k_selection.csv; do
  cmp "$SMALL/run/$f" "$WORK/ref/$f" || fail "run: $f differs from the run on a large disk"
done
ok "run resumed after every failure: outputs identical to the run on a large disk"

# 4. A finished run's outputs survive a failing analyze into another directory on a full disk.
for f in "$SMALL"/run/*.csv "$SMALL/run/ecom.h5"; do cp -p "$f" "$WORK/$(basename "$f").before"; done
resize "$(( $(df -k --output=used "$SMALL" | tail -n 1) + 8 ))k"
mkdir -p "$SMALL/other"
fails_full analyze analyze --store "$SMALL/run/events.h5" --out "$SMALL/other" "${RESUME_MODEL_ARGS[@]}"
for f in "$SMALL"/run/*.csv "$SMALL/run/ecom.h5"; do
  cmp "$f" "$WORK/$(basename "$f").before" || fail "analyze: $f changed"
done
ok "a full disk leaves the earlier outputs byte-identical"
