#!/usr/bin/env bash
# Graceful stop and resume of `ecom run` (checkpoint/restart, exit code 75):
#  1. SIGTERM to every rank while the segments are computed: exit 75, checkpoint.json lists the
#     steps up to features (not ALS), no finished output; `--resume` finishes with outputs
#     identical to an uninterrupted run;
#  2. SIGUSR1 to mpirun (which forwards it, as srun does) during ALS: exit 75 after the current
#     sweep with the factors saved; `--resume` with another number of ranks (3) redoes the
#     analysis from the store and still gives identical outputs; resuming again with 2 ranks from
#     an ALS checkpoint gives identical outputs;
#  3. `--resume` of a finished run does nothing; a fresh run into a finished directory is refused;
#     resuming with other options is refused; without --run-time, a resumed run's updated_at is
#     the time the run first started.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/resume_lib.sh"
make_resume_data "$WORK/data"
input="$WORK/data/events/*.csv"
run() { local n="$1" out="$2"; shift 2; mpi "$n" run --input "$input" --out "$out" --key-file "$WORK/data/key" \
  "${RESUME_MODEL_ARGS[@]}" --checkpoint-als-every 3 "$@"; }
# start N OUT LOG: `run` in the background, with $pid the pid of mpirun itself.
start() { ECOM_TEST_STOP_PAUSE=0.3 "$MPIEXEC" -np "$1" --oversubscribe "$ECOM" run --input "$input" --out "$2" --key-file "$WORK/data/key" \
  "${RESUME_MODEL_ARGS[@]}" --checkpoint-als-every 3 > "$3" 2>&1 & pid=$!; }

run 2 "$WORK/ref" > "$WORK/ref.log" 2>&1 || { cat "$WORK/ref.log"; fail "uninterrupted run"; }
ok "uninterrupted reference run"

# 1. SIGTERM to the ranks during the segments.
start 2 "$WORK/a" "$WORK/a.log"
for _ in $(seq 100); do  # the two rank processes under mpirun
  ranks=($(children_of "$pid"))
  [[ ${#ranks[@]} -lt 2 ]] || break
  sleep 0.1
done
[[ ${#ranks[@]} -eq 2 ]] || fail "expected 2 rank processes under mpirun, found: ${ranks[*]}"
wait_for_line "$WORK/a.log" '\[info\] features: '
kill -TERM "${ranks[@]}"
set +e; wait "$pid"; rc=$?; set -e
[[ $rc -eq 75 ]] || { cat "$WORK/a.log"; fail "SIGTERM during the analysis: exit $rc, expected 75"; }
grep -q "^ecom: stopped by a signal after step" "$WORK/a.log" || fail "no 'stopped by a signal' line"
done_steps=" $(checkpoint_field "$WORK/a" completed) "
[[ "$done_steps" == *" features "* && "$done_steps" != *" analyze "* ]] || fail "completed after SIGTERM: $done_steps"
[[ -z "$(checkpoint_field "$WORK/a" als_iterations)" ]] || fail "ALS ran although the stop came before it"
no_final_outputs "$WORK/a"
run 2 "$WORK/a" --resume > "$WORK/a2.log" 2>&1 || { cat "$WORK/a2.log"; fail "resume after SIGTERM"; }
grep -q "resume: features from" "$WORK/a2.log" || fail "the resumed run recomputed the features"
! grep -q "ingest: " "$WORK/a2.log" || fail "the resumed run ingested again"
same_outputs "$WORK/ref" "$WORK/a"
ok "SIGTERM during segments: exit 75 ($done_steps), resume gives identical outputs"

# 2. SIGUSR1 to mpirun during the first ALS training.
start 2 "$WORK/b" "$WORK/b.log"
wait_for_line "$WORK/b.log" 'als: iteration 4/'
kill -USR1 "$pid"
set +e; wait "$pid"; rc=$?; set -e
[[ $rc -eq 75 ]] || { cat "$WORK/b.log"; fail "SIGUSR1 during ALS: exit $rc, expected 75"; }
sweeps="$(checkpoint_field "$WORK/b" als_iterations)"
[[ "$sweeps" =~ ^[0-9]+$ && $sweeps -ge 4 && $sweeps -lt 10 ]] || fail "ALS sweeps saved: '$sweeps', expected one training in 4..9"
[[ " $(checkpoint_field "$WORK/b" completed) " == *" model "* ]] || fail "model not checkpointed before ALS"
no_final_outputs "$WORK/b"
cp -r "$WORK/b" "$WORK/c"
run 3 "$WORK/b" --resume > "$WORK/b2.log" 2>&1 || { cat "$WORK/b2.log"; fail "resume with 3 ranks"; }
grep -q "the analysis restarts from the event store" "$WORK/b2.log" || fail "no warning about the rank count"
same_outputs "$WORK/ref" "$WORK/b"
ok "SIGUSR1 during ALS (after sweep $sweeps): exit 75; resumed with 3 ranks: identical outputs"
run 2 "$WORK/c" --resume > "$WORK/c2.log" 2>&1 || { cat "$WORK/c2.log"; fail "resume from ALS"; }
grep -q "resume: ALS training 0 continues after sweep $sweeps" "$WORK/c2.log" || fail "ALS did not continue from sweep $sweeps"
same_outputs "$WORK/ref" "$WORK/c"
ok "resumed with 2 ranks from ALS sweep $sweeps: identical outputs"

# 3. Finished runs and changed options.
before=$(md5sum "$WORK/ref/customer_segments.csv")
run 2 "$WORK/ref" --resume > "$WORK/r.log" 2>&1 || fail "resume of a finished run"
grep -q "holds a finished run; nothing to do" "$WORK/r.log" || fail "resume of a finished run did something"
[[ "$(md5sum "$WORK/ref/customer_segments.csv")" == "$before" ]] || fail "outputs changed"
set +e
err=$(run 2 "$WORK/ref" 2>&1); rc=$?
set -e
[[ $rc -eq 2 && "$err" == *"holds outputs of an earlier run"* ]] || fail "a fresh run into a finished directory: $rc $err"
# Without --run-time the outputs' updated_at is the time the run first started, kept by --resume.
no_time=()
for a in "${RESUME_MODEL_ARGS[@]}"; do [[ "$a" == --run-time || "$a" == 2026-01-01T00:00:00Z ]] || no_time+=("$a"); done
"$MPIEXEC" -np 2 --oversubscribe "$ECOM" run --input "$input" --out "$WORK/d" --key-file "$WORK/data/key" \
  "${no_time[@]}" > "$WORK/d.log" 2>&1 &
pid=$!
wait_for_line "$WORK/d/checkpoint.json" '"features"'
kill -USR1 "$pid"
set +e; wait "$pid"; rc=$?
err=$(run 2 "$WORK/d" --resume --seed 2 2>&1); rc2=$?
set -e
[[ $rc -eq 75 ]] || fail "stop for the option check: exit $rc"
[[ $rc2 -eq 2 && "$err" == *"started with another configuration"* ]] || fail "resume with other options: $rc2 $err"
started="$(checkpoint_field "$WORK/d" run_time)"
sleep 1.1  # the resumed run's own clock is later
mpi 2 run --input "$input" --out "$WORK/d" --key-file "$WORK/data/key" "${no_time[@]}" --resume \
  > "$WORK/d2.log" 2>&1 || { cat "$WORK/d2.log"; fail "resume without --run-time"; }
[[ "$(awk -F, 'NR > 1 {print $NF}' "$WORK/d/customer_segments.csv" | sort -u)" == "$started" ]] \
  || fail "updated_at is not the first start's time $started"
ok "finished runs are left alone; resuming with other options is refused; updated_at kept ($started)"
