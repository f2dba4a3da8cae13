#!/usr/bin/env bash
# The job scripts on a real single-node Slurm cluster (munge, slurmctld, slurmd started here by
# scripts/slurm_local.sh and stopped on exit). Needs root; skipped with a message otherwise.
#  1. jobs/pipeline.sbatch on 12k synthetic events: completes; customer_segments.csv holds exactly
#     the pseudonyms of the input's users (HMAC-SHA-256 computed by Python), every user has
#     recommendations; the outputs are byte-identical to `mpirun -np 2 ecom run`;
#  2. jobs/k_sweep.sbatch: a job array over k = 2..4 and a gather job with
#     --dependency=afterok; the gathered k table equals the k table of one run over k = 2..4;
#  3. pre-emption: SIGUSR1 to the batch shell of a pipeline job during ALS (as Slurm sends it
#     before the time limit, --signal=B:USR1@120): the ranks checkpoint and exit 75, the job
#     requeues itself and resumes, and its outputs equal those of the uninterrupted job.
# Slurm delays a requeued job's start by about two minutes (BeginTime); the test moves that start
# to "now" with scontrol so that it stays short.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/resume_lib.sh"
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: test_slurm.sh needs root (it installs and starts munge, slurmctld and slurmd); not run"
  exit 0
fi
SLURM_DIR="$WORK/slurm"
cleanup() {
  "$ECOM_SOURCE_DIR/scripts/slurm_local.sh" down "$SLURM_DIR" > /dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
t0=$SECONDS
# 8 declared CPUs: the jobs below run side by side on the real cores.
conf_line=$(ECOM_SLURM_CPUS=8 "$ECOM_SOURCE_DIR/scripts/slurm_local.sh" up "$SLURM_DIR" | tail -n 1) || fail "Slurm did not come up"
export "${conf_line#export }"
[[ -f "$SLURM_CONF" ]] || fail "no slurm.conf ($conf_line)"
ok "single-node Slurm up in $((SECONDS - t0)) s: $(sinfo -h -o '%P %t %c CPUs')"

make_resume_data "$WORK/data"
export ECOM_BIN="$ECOM" ECOM_INPUT="$WORK/data/events/*.csv" ECOM_KEY_FILE="$WORK/data/key" ECOM_OUT="$WORK/runs"
export ECOM_CONFIG="$ECOM_SOURCE_DIR/configs/default.toml"
export ECOM_ARGS="${RESUME_MODEL_ARGS[*]} --checkpoint-als-every 3"
cd "$ECOM_SOURCE_DIR"  # jobs are submitted from the repository root

# job_states ID: the distinct states of a job (of every task of an array), space-separated.
job_states() { scontrol show job "$1" 2> /dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort -u | xargs; }
# wait_job ID LOG SECONDS: until every task has COMPLETED; fails on any other final state.
wait_job() {
  local id="$1" log="$2" limit="$3" i s
  for ((i = 0; i < limit * 2; ++i)); do
    s=$(job_states "$id")
    [[ "$s" == COMPLETED ]] && return 0
    if [[ "$s" =~ FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE ]]; then
      cat $log >&2
      scontrol show job "$id" >&2
      grep -h -E "JobId=$id([^0-9]|$)|job_id $id|StepId=$id\." "$SLURM_DIR"/log/*.log 2>/dev/null | tail -40 >&2
      fail "job $id ended $s"
    fi
    sleep 0.5
  done
  cat $log >&2
  scontrol show job "$id" >&2
  fail "job $id not finished after $limit s (states: $s)"
}

# Submit everything at once: the pipeline job, the k sweep (array + dependent gather), and the
# pipeline job that will be pre-empted.
job_a=$(sbatch --parsable --output="$WORK/a-%j.out" jobs/pipeline.sbatch) || fail "sbatch pipeline"
sweep=$(ECOM_ARGS="--gap-references 3 --stability-resamples 3 --run-time 2026-01-01T00:00:00Z --no-progress" \
  ECOM_OUT="$WORK/sweep" ECOM_LOG_DIR="$WORK" \
  jobs/k_sweep.sbatch submit 2-4 --ntasks=1 --output="$WORK/k-%A_%a.out") || fail "k sweep submit: $sweep"
[[ "$sweep" =~ array\ job\ ([0-9]+).*gather\ job\ ([0-9]+) ]] || fail "k sweep submit said: $sweep"
array=${BASH_REMATCH[1]} gather=${BASH_REMATCH[2]}
[[ "$(scontrol show job "$gather" | grep -o 'Dependency=[^ ]*')" == "Dependency=afterok:${array}_*"* ]] \
  || fail "gather job $gather: $(scontrol show job "$gather" | grep -o 'Dependency=[^ ]*')"
job_b=$(ECOM_TEST_STOP_PAUSE=0.3 sbatch --parsable --output="$WORK/b-%j.out" jobs/pipeline.sbatch) || fail "sbatch pipeline (b)"
ok "submitted pipeline job $job_a, k sweep array $array + gather $gather (afterok), pipeline job $job_b"

# 3 (first, while it runs). Pre-empt job b during its first ALS training.
wait_for_line "$WORK/b-$job_b.out" 'als: iteration 3/' 150
scancel --signal=USR1 --batch "$job_b"
for ((i = 0; i < 120; ++i)); do
  [[ "$(scontrol show job "$job_b" | grep -o 'Restarts=[0-9]*')" == Restarts=1 ]] && break
  sleep 0.5
done
[[ "$(scontrol show job "$job_b" | grep -o 'Restarts=[0-9]*')" == Restarts=1 ]] || { cat "$WORK/b-$job_b.out"; fail "job $job_b was not requeued"; }
grep -q "^ecom: stopped by a signal after ALS sweep" "$WORK/b-$job_b.out" || fail "job $job_b: ranks did not stop at a sweep"
grep -q "exit code 75" "$WORK/b-$job_b.out" || fail "job $job_b: srun did not report exit code 75"
grep -q "requeueing job $job_b" "$WORK/b-$job_b.out" || fail "job $job_b did not requeue itself"
# The requeued job passes through COMPLETING/REQUEUED while the old batch step is cleaned up;
# moving its start time before it is PENDING again can make the new launch fail (seen under load).
for ((i = 0; i < 240; ++i)); do
  [[ "$(job_states "$job_b")" == PENDING ]] && break
  sleep 0.25
done
[[ "$(job_states "$job_b")" == PENDING ]] || { scontrol show job "$job_b" >&2; fail "job $job_b not PENDING after its requeue"; }
# slurmd refuses a credential created in the same second as the requeue's revocation of the old
# one (whole-second times: "Job credential revoked", seen twice in a loaded full suite): let
# that second pass before the new launch may start.
sleep 2
scontrol update JobId="$job_b" StartTime=now || fail "scontrol update StartTime"
ok "job $job_b: SIGUSR1 -> checkpoint, exit 75, requeued ($((SECONDS - t0)) s)"

# 1. The uninterrupted pipeline job.
wait_job "$job_a" "$WORK/a-$job_a.out" 150
run_a="$WORK/runs/$job_a"
[[ -f "$run_a/ecom.h5" ]] || fail "job $job_a: no ecom.h5"
$PY - "$WORK/data/events" "$WORK/data/key" "$run_a" <<'PY' || fail "job $job_a: outputs do not match the input"
import csv, glob, hashlib, hmac, sys
events, key, run = sys.argv[1:]
key = open(key, "rb").read()
users = set()
for f in glob.glob(events + "/*.csv"):
    users.update(row["user_id"] for row in csv.DictReader(open(f)))
want = sorted(hmac.new(key, u.encode(), hashlib.sha256).hexdigest()[:16] for u in users)
got = [r["user_id"] for r in csv.DictReader(open(run + "/customer_segments.csv"))]
assert got == want, f"customer_segments.csv: {len(got)} rows, input users {len(want)}, pseudonyms or order differ"
recs = {r["user_id"] for r in csv.DictReader(open(run + "/recommendations.csv"))}
assert recs == set(want), f"recommendations for {len(recs)} of {len(want)} users"
PY
mpi 2 --config "$ECOM_CONFIG" run --input "$WORK/data/events/*.csv" --out "$WORK/mpirun" --key-file "$WORK/data/key" $ECOM_ARGS \
  > "$WORK/mpirun.log" 2>&1 || { cat "$WORK/mpirun.log"; fail "mpirun reference run"; }
same_outputs "$WORK/mpirun" "$run_a"
ok "pipeline job $job_a: one row per input user (Python HMAC), outputs equal mpirun's ($((SECONDS - t0)) s)"

# 2. The k sweep.
wait_job "$array" "$WORK/k-${array}_*.out" 150
wait_job "$gather" "$WORK/ecom-k-table-$gather.out" 60
cmp "$WORK/sweep/$array/k_table.csv" "$run_a/k_selection.csv" \
  || { cat "$WORK/sweep/$array/k_table.csv" "$run_a/k_selection.csv"; fail "gathered k table differs from one run's"; }
ok "k sweep: array $array (k = 2, 3, 4) then gather $gather: k table equals the single run's ($((SECONDS - t0)) s)"

# 3 (end). The pre-empted job resumed and finished.
wait_job "$job_b" "$WORK/b-$job_b.out" 150
grep -q "resume: ALS training 0 continues after sweep" "$WORK/b-$job_b.out" || fail "job $job_b did not resume ALS"
same_outputs "$run_a" "$WORK/runs/$job_b"
ok "pre-empted job $job_b resumed after requeue: outputs identical to job $job_a ($((SECONDS - t0)) s)"
