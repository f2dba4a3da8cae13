#!/usr/bin/env bash
# `ecom run` (ingest + profile + analyze, recommendations included) on a small synthetic set
# with 1, 2, 3 and 4 ranks and the same --run-time:
#  1. customer_segments.csv, segment_profiles.csv, k_selection.csv and recommendations.csv are
#     byte-identical, and the ecom.h5 files are identical (h5diff) apart from the root
#     attributes, whose only differences are `ranks` and the stage timings (check_analyze.py);
#  2. the outputs agree with an independent numpy/scikit-learn computation from ecom.h5
#     (check_analyze.py): CSV rows vs /users, inertia, both silhouettes (scikit-learn's
#     silhouette_score, the sample being every user), transform, PCA and centroids;
#  3. fewer users than a fixed k: one clear error line and a non-zero exit.
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
key="$WORK/k.key"
make_key "$key"
RUN_TIME=2021-06-01T12:00:00Z

mpi 2 synth --preset multi-category --events 50000 --seed 5 --out "$WORK/data" \
  --no-progress --log-level warn || fail "synth"
# Every user in the silhouette sample, so that scikit-learn can recompute it.
opts=(--k-min 2 --k-max 6 --gap-references 3 --stability-resamples 3 --silhouette-sample 100000000
      --run-time "$RUN_TIME" --no-progress --log-level warn)
# Each run in its own directory with the same relative --out, so that the config text stored
# in ecom.h5 is the same for every rank count.
for n in 1 2 3 4; do
  start=$SECONDS
  mkdir -p "$WORK/np$n"
  (cd "$WORK/np$n" && mpi "$n" run --input "$WORK/data/events/*" --out run --key-file "$key" "${opts[@]}") \
    > "$WORK/run$n.log" 2>&1 || { cat "$WORK/run$n.log"; fail "ecom run with np $n"; }
  ln -s "$WORK/np$n/run" "$WORK/run$n"
  echo "np $n: $((SECONDS - start)) s"
done

files=(customer_segments.csv segment_profiles.csv k_selection.csv recommendations.csv)
for n in 2 3 4; do
  for f in "${files[@]}"; do
    cmp "$WORK/run1/$f" "$WORK/run$n/$f" || fail "$f differs between np 1 and np $n"
  done
  h5diff --exclude-attribute / "$WORK/run1/ecom.h5" "$WORK/run$n/ecom.h5" \
    || fail "ecom.h5 differs between np 1 and np $n (h5diff)"
done
ok "CSV outputs byte-identical and ecom.h5 identical (h5diff) for np 1, 2, 3, 4"
for n in 1 2 3 4; do
  ls "$WORK/run$n" | grep -q '\.tmp$' && fail "temporary file left in run$n"
done

$PY "$HERE/check_analyze.py" "$WORK/run1" "$WORK/run2" "$WORK/run3" "$WORK/run4" "$RUN_TIME" \
  || fail "outputs differ from the numpy/scikit-learn computation"
ok "outputs agree with numpy and scikit-learn"

# Fewer users than k: a clear one-line error on rank 0, non-zero exit.
head -n 4 "$(ls "$WORK"/data/events/* | head -n 1 | grep -v '\.gz$' || true)" > "$WORK/tiny.csv" 2>/dev/null || true
if [[ ! -s "$WORK/tiny.csv" ]]; then
  zcat "$(ls "$WORK"/data/events/* | head -n 1)" | head -n 4 > "$WORK/tiny.csv" || true
fi
set +e
err=$(mpi 2 run --input "$WORK/tiny.csv" --out "$WORK/tiny" --key-file "$key" --k 50 \
      --no-recommend --no-progress --log-level warn 2>&1); rc=$?
set -e
[[ $rc -ne 0 ]] || fail "k = 50 on 3 events succeeded"
printf '%s\n' "$err" | grep -q '^ecom: .*fewer than k = 50' || fail "message: $err"
ok "fewer users than k: '$(printf '%s\n' "$err" | grep '^ecom:' | head -n 1)' (exit $rc)"
