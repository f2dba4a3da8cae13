#!/usr/bin/env bash
# An exception on ONE rank only (test hook ECOM_TEST_THROW_ON_RANK=R:STAGE, src/par/comm.cpp)
# while the others wait in a collective: the job ends (no hang: a 60 s limit), exit non-zero,
# exactly one line `ecom: rank R: <message>` naming the error, and no finished outputs.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/resume_lib.sh"
make_resume_data "$WORK/data"
input="$WORK/data/events/*.csv"
args=(run --input "$input" --key-file "$WORK/data/key" "${RESUME_MODEL_ARGS[@]}")

# fails_alone NP RANK STAGE ARGS...: the run with the hook; checks exit, line, timing.
fails_alone() {
  local np="$1" rank="$2" stage="$3" rc start; shift 3
  start=$SECONDS
  set +e
  ECOM_TEST_THROW_ON_RANK="$rank${stage:+:$stage}" timeout 60 "$MPIEXEC" -np "$np" --oversubscribe \
    "$ECOM" "$@" > "$WORK/log" 2>&1
  rc=$?
  set -e
  [[ $rc -ne 124 ]] || { cat "$WORK/log"; fail "np $np, rank $rank at '${stage:-start}': hung (killed after 60 s)"; }
  [[ $rc -ne 0 ]] || fail "np $np, rank $rank at '${stage:-start}': exit 0"
  local lines; lines=$(grep -c '^ecom: ' "$WORK/log" || true)
  [[ $lines -eq 1 ]] || { cat "$WORK/log"; fail "np $np: expected one 'ecom:' line, got $lines"; }
  grep -qx "ecom: rank $rank: test hook ECOM_TEST_THROW_ON_RANK: rank $rank fails alone at '${stage:-start}'" \
    "$WORK/log" || { cat "$WORK/log"; fail "np $np: no 'ecom: rank $rank:' line naming the error"; }
  ok "np $np, rank $rank fails alone at '${stage:-start}': exit $rc after $((SECONDS - start)) s, one line"
}

# Rank 1 of 2 during the k-means (rank 0 waits in a collective of the same stage).
fails_alone 2 1 analyze/segments "${args[@]}" --out "$WORK/r2"
no_final_outputs "$WORK/r2"
[[ -s "$WORK/r2/events.h5" ]] || fail "np 2: the run did not get past the ingest (hook fired too early?)"
# The last rank of 3 in the middle of the ALS, and rank 0 of 3 as the ingest's shuffle starts.
fails_alone 3 2 als "${args[@]}" --out "$WORK/r3"
no_final_outputs "$WORK/r3"
fails_alone 3 0 ingest/shuffle "${args[@]}" --out "$WORK/r3b"
no_final_outputs "$WORK/r3b"
# At the start of a command (no stage given): rank 1 of 2 before synth writes anything final.
fails_alone 2 1 "" synth --events 20000 --out "$WORK/s" --no-progress
[[ ! -e "$WORK/s/truth/summary.json" ]] || fail "synth wrote truth/summary.json although rank 1 failed"

# Without the hook (or for a rank that does not exist) the same run finishes.
ECOM_TEST_THROW_ON_RANK=5:analyze/segments mpi 2 "${args[@]}" --out "$WORK/ok" > "$WORK/ok.log" 2>&1 \
  || { cat "$WORK/ok.log"; fail "run with the hook aimed at no rank"; }
[[ -s "$WORK/ok/run.json" ]] || fail "the run without a failing rank did not finish"
ok "the hook aimed at rank 5 of 2 changes nothing"
