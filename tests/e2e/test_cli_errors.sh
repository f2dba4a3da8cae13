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
  expect_usage "ecom synth" "--events = abc" $np synth --events abc
done
expect_usage "ecom synth" "--preset: foo not in" 0 synth --preset foo
expect_usage "ecom synth" "--log-level: bogus not in" 0 --log-level bogus synth
expect_usage "ecom" "subcommand is required" 0
expect_usage "ecom" "^ecom: unknown subcommand 'nosuchcmd'" 0 nosuchcmd
expect_usage "ecom" "^ecom: unknown option '--bogus'" 0 --bogus
expect_usage "ecom synth" "not readable" 0 --config "$WORK/missing.toml" synth
expect_usage "ecom synth" "bogus-key" 3 --config "$WORK/extra.toml" synth

# Asking for help or the version is not an error.
"$ECOM" synth --help | grep -q -- '--events' || fail "synth --help"
"$ECOM" --version | grep -Eq '^[0-9]' || fail "--version"
ok "--help and --version exit 0"
