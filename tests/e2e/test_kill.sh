#!/usr/bin/env bash
# A rank killed with SIGKILL in the middle of the analysis (during ALS, after the features and the
# segments were checkpointed and some ALS sweeps were saved): mpirun exits non-zero (not 75),
# nothing under the run directory looks like a finished run, and `--resume` then finishes from
# the checkpoint with outputs identical to an uninterrupted run.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/resume_lib.sh"
make_resume_data "$WORK/data"
input="$WORK/data/events/*.csv"
args=(run --input "$input" --key-file "$WORK/data/key" "${RESUME_MODEL_ARGS[@]}" --checkpoint-als-every 2)

mpi 2 "${args[@]}" --out "$WORK/ref" > "$WORK/ref.log" 2>&1 || { cat "$WORK/ref.log"; fail "uninterrupted run"; }
ok "uninterrupted reference run"

ECOM_TEST_STOP_PAUSE=0.3 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" "${args[@]}" --out "$WORK/run" > "$WORK/run.log" 2>&1 &
pid=$!
for _ in $(seq 100); do  # the two rank processes under mpirun
  ranks=($(children_of "$pid"))
  [[ ${#ranks[@]} -lt 2 ]] || break
  sleep 0.1
done
[[ ${#ranks[@]} -eq 2 ]] || fail "expected 2 rank processes under mpirun, found: ${ranks[*]}"
# During ALS, after its third sweep: sweep 2 has been saved (every 2 sweeps).
wait_for_line "$WORK/run.log" 'als: iteration 3/'
kill -KILL "${ranks[1]}"
set +e; wait "$pid"; rc=$?; set -e
[[ $rc -ne 0 && $rc -ne 75 ]] || { cat "$WORK/run.log"; fail "mpirun exited $rc after SIGKILL of a rank"; }
for r in "${ranks[@]}"; do  # gone (or a zombie waiting for init) within 10 s
  for _ in $(seq 100); do
    [[ -e /proc/$r && "$(awk '/^State:/ {print $2}' /proc/$r/status 2>/dev/null)" != Z ]] || break
    sleep 0.1
  done
  [[ ! -e /proc/$r || "$(awk '/^State:/ {print $2}' /proc/$r/status 2>/dev/null)" == Z ]] || fail "rank process $r still runs"
done
no_final_outputs "$WORK/run"
done_steps=" $(checkpoint_field "$WORK/run" completed) "
saved=($(checkpoint_field "$WORK/run" als_iterations))  # sweeps saved per training
training=$((${#saved[@]} - 1))
sweeps="${saved[$training]:-}"
[[ "$done_steps" == *" model "* && "$done_steps" != *" analyze "* ]] || fail "completed after SIGKILL: $done_steps"
[[ "$sweeps" =~ ^[0-9]+$ && $sweeps -ge 2 && $((sweeps % 2)) -eq 0 ]] || fail "ALS sweeps saved: '${saved[*]}'"
ok "SIGKILL of rank 1 during ALS: mpirun exit $rc, no finished output, checkpoint:$done_steps+ ALS training $training sweep $sweeps"

mpi 2 "${args[@]}" --out "$WORK/run" --resume > "$WORK/resume.log" 2>&1 || { cat "$WORK/resume.log"; fail "resume"; }
grep -q "resume: ALS training $training continues after sweep $sweeps" "$WORK/resume.log" \
  || fail "ALS did not continue from training $training sweep $sweeps"
same_outputs "$WORK/ref" "$WORK/run"
ok "--resume after SIGKILL: identical outputs"
