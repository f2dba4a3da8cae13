#!/usr/bin/env bash
# `ecom run` (ingest + profile + analyze, recommendations included) on a small synthetic set
# with 1, 2, 3 and 4 ranks and the same --run-time:
#  1. customer_segments.csv, segment_profiles.csv, k_selection.csv and recommendations.csv are
#     byte-identical, and the ecom.h5 files are identical (h5diff) apart from the root
#     attributes, whose only differences are `ranks` and the stage timings (check_analyze.py);
#  2. the outputs agree with an independent numpy/scikit-learn computation from ecom.h5
#     (check_analyze.py): CSV rows vs /users, inertia, both silhouettes (scikit-learn's
#     silhouette_score on the keyed silhouette sample of about 1000 of the ~3,600 users,
#     selected by check_analyze.py's own Philox), transform, PCA, centroids, segment profiles;
#     and segment_profiles.csv (revenue, feature means) agrees with a computation from the raw
#     CSV files through the pseudonym join (check_profiles.py);
#  3. tiny inputs: 3 users on 4 ranks (ranks without users) as on 1 rank; one user with k = 1;
#     fewer users than a fixed k: one clear error line and a non-zero exit.
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
key="$WORK/k.key"
make_key "$key"
RUN_TIME=2021-06-01T12:00:00Z

mpi 2 synth --preset multi-category --events 50000 --seed 5 --out "$WORK/data" \
  --no-progress --log-level warn || fail "synth"
# A keyed silhouette sample smaller than the users (the sampled path, the same for every np).
SEED=1
SAMPLE=1000
opts=(--k-min 2 --k-max 6 --gap-references 3 --stability-resamples 3 --silhouette-sample $SAMPLE
      --seed $SEED --run-time "$RUN_TIME" --no-progress --log-level warn)
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

$PY "$HERE/check_analyze.py" --seed $SEED --silhouette-sample $SAMPLE \
  "$WORK/run1" "$WORK/run2" "$WORK/run3" "$WORK/run4" "$RUN_TIME" \
  || fail "outputs differ from the numpy/scikit-learn computation"
ok "outputs agree with numpy and scikit-learn"
$PY "$HERE/check_profiles.py" "$key" "$WORK/run1" "$WORK"/data/events/* \
  || fail "segment_profiles.csv differs from the raw-file computation"
ok "segment profiles agree with the raw files"

# Tiny inputs through the whole job: 3 users on 4 ranks (some ranks own no users) give the
# same outputs as on 1 rank; one user with k = 1 works; fewer users than k is one clear error.
$PY - "$WORK/data/events" "$WORK" <<'PYEOF'
import csv, glob, sys
src = sorted(glob.glob(sys.argv[1] + "/*.csv"))[0]
rows = list(csv.reader(open(src, newline="")))
for n_users in (3, 1):
    users = []
    for r in rows[1:]:
        if r[7] not in users and len(users) < n_users:
            users.append(r[7])
    with open(f"{sys.argv[2]}/tiny{n_users}.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(rows[0])
        w.writerows(r for r in rows[1:] if r[7] in users)
PYEOF
tiny=(--run-time "$RUN_TIME" --gap-references 2 --stability-resamples 2 --no-progress --log-level error)
for n in 1 4; do
  mkdir -p "$WORK/tiny_np$n"
  (cd "$WORK/tiny_np$n" && mpi "$n" run --input "$WORK/tiny3.csv" --out run --key-file "$key" --k 2 "${tiny[@]}") \
    || fail "3 users, k = 2, np $n"
done
for f in "${files[@]}"; do
  cmp "$WORK/tiny_np1/run/$f" "$WORK/tiny_np4/run/$f" || fail "3 users: $f differs between np 1 and np 4"
done
h5diff --exclude-attribute / "$WORK/tiny_np1/run/ecom.h5" "$WORK/tiny_np4/run/ecom.h5" \
  || fail "3 users: ecom.h5 differs between np 1 and np 4"
[[ $(tail -n +2 "$WORK/tiny_np4/run/customer_segments.csv" | wc -l) -eq 3 ]] || fail "3 users: not 3 rows"
ok "3 users on 4 ranks (ranks without users): same outputs as on 1 rank"
mpi 3 run --input "$WORK/tiny1.csv" --out "$WORK/one" --key-file "$key" --k 1 "${tiny[@]}" || fail "one user, k = 1"
[[ $(tail -n +2 "$WORK/one/customer_segments.csv" | cut -d, -f2) == 0 ]] || fail "one user: segment"
ok "one user, k = 1, 3 ranks"
set +e
err=$(mpi 2 run --input "$WORK/tiny3.csv" --out "$WORK/few" --key-file "$key" --k 5 "${tiny[@]}" 2>&1); rc=$?
set -e
[[ $rc -ne 0 ]] || fail "k = 5 with 3 users succeeded"
msg=$(printf '%s\n' "$err" | grep '^ecom:' || true)
[[ "$msg" == "ecom: only 3 users: fewer than k = 5" ]] || fail "message: $err"
ok "fewer users than k: '$msg' (exit $rc)"
