# shellcheck shell=bash
# Shared by the job scripts in jobs/ (sourced from the repository root, where they are submitted).
#
# ecom_step ARGS...   runs `srun --mpi=pmix ARGS...` in the background and waits for it. A SIGUSR1
#                     (Slurm's pre-timeout signal: #SBATCH --signal=B:USR1@120, or
#                     `scancel --signal=USR1 --batch JOB`) or SIGTERM received by the batch shell is
#                     forwarded to srun, which forwards it to every rank: ecom finishes its current
#                     step, writes its checkpoint and exits with 75. The step's exit code is then
#                     75 and this function requeues the job (`scontrol requeue`) and ends the batch
#                     script with 0; the requeued job resumes (`ecom run --resume`). Any other exit
#                     code is returned.
# ecom_restarted      true when this is a requeued run of the job (SLURM_RESTART_COUNT > 0).

ECOM_EXIT_INTERRUPTED=75

ecom_step() {
  local pid rc
  srun --mpi=pmix "$@" &
  pid=$!
  trap 'kill -USR1 "$pid" 2>/dev/null' USR1
  trap 'kill -TERM "$pid" 2>/dev/null' TERM
  rc=0
  wait "$pid" || rc=$?
  # `wait` returns early (> 128) when a trapped signal arrives: wait for srun itself.
  while kill -0 "$pid" 2>/dev/null; do
    rc=0
    wait "$pid" || rc=$?
  done
  trap - USR1 TERM
  if [[ $rc -eq $ECOM_EXIT_INTERRUPTED ]]; then
    echo "ecom: checkpointed and stopped; requeueing job ${SLURM_JOB_ID:-?}" >&2
    if [[ -n "${SLURM_JOB_ID:-}" ]] && scontrol requeue "$SLURM_JOB_ID"; then
      exit 0
    fi
    echo "ecom: could not requeue; resubmit the job to resume from the checkpoint" >&2
  fi
  return "$rc"
}

ecom_restarted() { [[ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]]; }
