#!/usr/bin/env bash
# Unusable command lines stop with exit code 2 (README, "Exit codes") and exactly one line on
# stderr, `ecom: <message> (run 'ecom <cmd> --help')`, nothing on stdout; under mpirun the line
# comes from rank 0 only. --help and --version still exit 0.
source "$(dirname "$0")/lib.sh"
printf 'bogus-key = 1\n' > "$WORK/extra.toml"

# expect_usage HELP REGEX NP ARGS...: exit 2, one stderr line matching REGEX and naming HELP.
expect_usage() {
  local help="$1" regex="$2" np="$3" rc; shift 3
  set +e
  if [[ $np -eq 0 ]]; then "$ECOM" "$@" > "$WORK/out" 2> "$WORK/err"; else mpi "$np" "$@" > "$WORK/out" 2> "$WORK/err"; fi
  rc=$?
  set -e
  [[ $rc -eq 2 ]] || fail "ecom $* (np $np): exit $rc, expected 2; stderr: $(cat "$WORK/err")"
  # Alone, stderr is that one line; under mpirun, mpirun adds its own report (no 'ecom' lines).
  [[ $np -ne 0 || $(wc -l < "$WORK/err") -eq 1 ]] || fail "ecom $*: expected one line, got: $(cat "$WORK/err")"
  [[ $(grep -c '^ecom' "$WORK/err") -eq 1 ]] || fail "ecom $* (np $np): expected one line, got: $(cat "$WORK/err")"
  [[ ! -s "$WORK/out" ]] || fail "ecom $* (np $np): stdout: $(cat "$WORK/out")"
  local line; line=$(grep '^ecom' "$WORK/err")
  [[ "$line" == "ecom: "*" (run '$help --help')" ]] || fail "ecom $* (np $np): format of '$line'"
  [[ "$line" =~ $regex ]] || fail "ecom $* (np $np): '$line' does not match '$regex'"
  ok "np $np ecom $*: exit 2, '$line'"
}

for np in 0 2; do
  expect_usage "ecom synth" "not expected: --bogus" $np synth --bogus
  expect_usage "ecom analyze" "--store is required" $np analyze --out "$WORK/r"
  expect_usage "ecom synth" "--events: 'abc' is not a number" $np synth --events abc
done
expect_usage "ecom synth" "--preset: foo not in" 0 synth --preset foo
expect_usage "ecom synth" "--log-level: bogus not in" 0 --log-level bogus synth
expect_usage "ecom" "subcommand is required" 0
expect_usage "ecom" "^ecom: unknown subcommand 'nosuchcmd'" 0 nosuchcmd
expect_usage "ecom" "^ecom: unknown option '--bogus'" 0 --bogus
expect_usage "ecom synth" "not readable" 0 --config "$WORK/missing.toml" synth
expect_usage "ecom synth" "bogus-key" 3 --config "$WORK/extra.toml" synth

# Numeric options have documented ranges, checked at parse time on the command line and in a
# config file alike: exit 2 and one line before any work (no run directory is created).
make_key "$WORK/key"
R="$WORK/never"
run=(run --input "$WORK/a.csv" --out "$R" --key-file "$WORK/key")
expect_usage "ecom run" "^ecom: --k: -3 is out of range \[0,100\]" 0 "${run[@]}" --k -3
expect_usage "ecom run" "^ecom: --k-max: 5000 is out of range \[1,100\]" 2 "${run[@]}" --k-max 5000
expect_usage "ecom run" "^ecom: --k-min 6 is more than --k-max 4" 0 "${run[@]}" --k-min 6 --k-max 4
expect_usage "ecom run" "^ecom: --als-factors: 0 is out of range \[1,1000\]" 0 "${run[@]}" --als-factors 0
expect_usage "ecom run" "^ecom: --als-iterations: 0 is out of range" 0 "${run[@]}" --als-iterations 0
expect_usage "ecom run" "^ecom: --top-n: 0 is out of range \[1,1000\]" 0 "${run[@]}" --top-n 0
expect_usage "ecom run" "^ecom: --silhouette-sample: -5 is out of range" 0 "${run[@]}" --silhouette-sample -5
expect_usage "ecom run" "^ecom: --stability-fraction: 1.5 is out of range \(0,1\]" 0 "${run[@]}" --stability-fraction 1.5
expect_usage "ecom run" "^ecom: --pca-variance: 'abc' is not a number" 0 "${run[@]}" --pca-variance abc
expect_usage "ecom run" "^ecom: --shuffle-buffer-mb: 1000000 is out of range \[1," 2 "${run[@]}" --shuffle-buffer-mb 1000000
expect_usage "ecom ingest" "^ecom: --shuffle-buffer-mb: 1000000 is out of range \[1," 0 \
  ingest --input "$WORK/a.csv" --store "$WORK/s.h5" --key-file "$WORK/key" --shuffle-buffer-mb 1000000
expect_usage "ecom score" "^ecom: --top-n: -1 is out of range \[0,1000\]" 0 \
  score --model "$WORK/m" --input "$WORK/a.csv" --out "$WORK/o" --key-file "$WORK/key" --top-n -1
expect_usage "ecom synth" "^ecom: --gzip-level: 0 is out of range \[1,9\]" 0 synth --gzip-level 0 --out "$WORK/syn"
expect_usage "ecom purge" "^ecom: --raw-days: -1 is out of range" 0 purge --runs "$WORK" --raw-days -1
printf 'k = -4\n' > "$WORK/k.toml"; printf 'k = \n' > "$WORK/empty.toml"
printf 'silhouette-sample = -5\n' > "$WORK/sil.toml"; printf '[run]\nshuffle-buffer-mb = 0\n' > "$WORK/sb.toml"
expect_usage "ecom run" "^ecom: --k: -4 is out of range \[0,100\]" 0 --config "$WORK/k.toml" "${run[@]}"
expect_usage "ecom run" "^ecom: --k: '' is not a number" 0 --config "$WORK/empty.toml" "${run[@]}"
expect_usage "ecom run" "^ecom: --silhouette-sample: -5 is out of range" 0 --config "$WORK/sil.toml" "${run[@]}"
expect_usage "ecom run" "^ecom: --shuffle-buffer-mb: 0 is out of range" 0 --config "$WORK/sb.toml" "${run[@]}"
[[ ! -e "$R" ]] || fail "a refused run created its run directory"
ok "numeric ranges refused at parse time, before any work"

# k-max is also at most the number of users: checked as soon as that is known, before the k
# sweep (before, k-max was silently lowered; a large one ran for minutes).
printf 'event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n' > "$WORK/tiny.csv"
for u in 1 2 3 4 5; do for p in 1 2 3; do
  printf '2019-10-0%d 10:00:00 UTC,view,%d,7,a.b,x,1.5,%d,s%d\n' "$p" "$p" "$u" "$u" >> "$WORK/tiny.csv"
done; done
set +e
timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" run --input "$WORK/tiny.csv" --out "$WORK/tiny" --key-file "$WORK/key" --k-max 8 \
  --no-recommend --no-progress --log-level warn > /dev/null 2> "$WORK/err"; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--k-max 8 with 5 users: exit $rc: $(cat "$WORK/err")"
grep -q '^ecom: --k-max 8 is more than the 5 users' "$WORK/err" || fail "--k-max 8 with 5 users: $(cat "$WORK/err")"
[[ ! -e "$WORK/tiny/k_selection.csv" ]] || fail "outputs written"
ok "--k-max above the number of users: exit 2, '$(grep '^ecom' "$WORK/err")'"

# Asking for help or the version is not an error.
"$ECOM" synth --help | grep -q -- '--events' || fail "synth --help"
"$ECOM" --version | grep -Eq '^[0-9]' || fail "--version"
ok "--help and --version exit 0"
