# Helpers for the checkpoint/restart tests (test_resume.sh, test_kill.sh, test_slurm.sh); sourced
# after lib.sh. The interrupted runs set ECOM_TEST_STOP_PAUSE=0.3 (every stop point sleeps 0.3 s,
# src/par/comm.cpp), so a signal sent after a log line lands in the step named, however fast the
# machine is.

# Model options that keep a run on 12k events to a few seconds (the paths are the same).
RESUME_MODEL_ARGS=(--k-min 2 --k-max 4 --gap-references 3 --stability-resamples 3 --als-factors 16
                   --als-iterations 10 --run-time 2026-01-01T00:00:00Z --no-progress)

# make_resume_data DIR: 12k synthetic events in DIR/events/*.csv and a key file DIR/key.
make_resume_data() {
  "$ECOM" synth --events 12000 --seed 7 --out "$1" --no-progress --log-level warn >/dev/null
  make_key "$1/key"
}

# wait_for_line FILE REGEX [SECONDS]: waits until a line of FILE matches REGEX.
wait_for_line() {
  local file="$1" regex="$2" limit="${3:-120}" i
  for ((i = 0; i < limit * 10; ++i)); do
    grep -Eq "$regex" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$file" >&2
  fail "no line matching '$regex' in $file after $limit s"
}

# children_of PID: the pids of PID's child processes (from /proc: no procps needed). Field 4 of
# /proc/N/stat is the parent pid; field 2, the command, is in parentheses and may hold spaces.
children_of() {
  awk -v parent="$1" '{ s = $0; sub(/.*\) /, "", s); split(s, f, " ");
                        if (f[2] == parent) { split(FILENAME, p, "/"); print p[3] } }' /proc/[0-9]*/stat 2>/dev/null
  return 0
}

# checkpoint_field RUNDIR FIELD: a field of RUNDIR/checkpoint.json read by Python's json module
# (lists come out space-separated).
checkpoint_field() {
  $PY - "$1/checkpoint.json" "$2" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print(" ".join(map(str, v)) if isinstance(v, list) else v)
PY
}

# no_final_outputs RUNDIR: nothing in RUNDIR looks like a finished analysis.
no_final_outputs() {
  local f
  for f in ecom.h5 customer_segments.csv recommendations.csv segment_profiles.csv k_selection.csv run.json; do
    [[ ! -e "$1/$f" ]] || fail "$1/$f exists although the run did not finish"
  done
}

# same_outputs REF RUN: RUN's outputs equal REF's: warehouse CSVs, k table and profile
# byte for byte, ecom.h5 object by object (h5diff; only the root attributes, the configuration
# text and stage timings, may differ); the run is marked finished and its state removed.
same_outputs() {
  local ref="$1" run="$2" f
  for f in customer_segments.csv recommendations.csv segment_profiles.csv k_selection.csv; do
    [[ -s "$run/$f" ]] || fail "$run/$f is missing or empty"
    cmp "$ref/$f" "$run/$f" || fail "$f differs from the uninterrupted run"
  done
  [[ $(wc -l < "$run/customer_segments.csv") -gt 100 ]] || fail "too few users in $run/customer_segments.csv"
  [[ $(wc -l < "$run/recommendations.csv") -gt 100 ]] || fail "too few rows in $run/recommendations.csv"
  diff -r "$ref/profile" "$run/profile" >/dev/null || fail "profile CSVs differ from the uninterrupted run"
  h5diff --exclude-attribute / "$ref/ecom.h5" "$run/ecom.h5" || fail "ecom.h5 differs from the uninterrupted run"
  [[ " $(checkpoint_field "$run" completed) " == *" analyze "* ]] || fail "$run/checkpoint.json: not finished"
  [[ ! -e "$run/checkpoint" ]] || fail "$run/checkpoint/ (analysis state) was not removed"
}
