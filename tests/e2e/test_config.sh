#!/usr/bin/env bash
# configs/default.toml: every option of every subcommand with its default, checked against
# `ecom <cmd> --help` (check_config.py); running with the file is running without it (the
# effective configuration, as recorded in run.json and hashed by the checkpoint, is the same
# text); a value in a config file is applied and the command line overrides it.
source "$(dirname "$0")/lib.sh"
toml="$ECOM_SOURCE_DIR/configs/default.toml"

$PY "$ECOM_SOURCE_DIR/tests/e2e/check_config.py" "$ECOM" "$toml" || fail "configs/default.toml vs --help"
ok "configs/default.toml lists every option with its --help default"

# The checker fails on a missing option and on a wrong default.
grep -v '^kmeans-n-init' "$toml" > "$WORK/missing.toml"
$PY "$ECOM_SOURCE_DIR/tests/e2e/check_config.py" "$ECOM" "$WORK/missing.toml" > "$WORK/out" && fail "a missing option passed"
grep -q 'option --kmeans-n-init is missing' "$WORK/out" || fail "missing option not named: $(cat "$WORK/out")"
sed 's/^gzip-level = 1 /gzip-level = 2 /' "$toml" > "$WORK/wrong.toml"
cmp -s "$toml" "$WORK/wrong.toml" && fail "could not alter gzip-level"
$PY "$ECOM_SOURCE_DIR/tests/e2e/check_config.py" "$ECOM" "$WORK/wrong.toml" > "$WORK/out" && fail "a wrong default passed"
grep -q '\[synth\]: gzip-level = 2 but the default is 1' "$WORK/out" || fail "wrong default not named: $(cat "$WORK/out")"
ok "the check fails on a missing option and on a wrong default"

# `ecom run` accepts every option of `ecom ingest`, with the same default (one declaration);
# the shuffle buffer has one default everywhere.
help_opts() {  # NAME DEFAULT per option of `ecom $1 --help` (DEFAULT "-" when none)
  "$ECOM" "$1" --help | awk '/^  -/ { n = split($1, a, ","); d = "-";
    if (match($2, /=[^ ]*$/)) d = substr($2, RSTART + 1); print a[n], d }' | sort
}
help_opts ingest > "$WORK/ingest.opts"; help_opts run > "$WORK/run.opts"; help_opts score > "$WORK/score.opts"
[[ $(wc -l < "$WORK/ingest.opts") -ge 10 ]] || fail "few options parsed from ecom ingest --help: $(cat "$WORK/ingest.opts")"
missing=$(comm -23 "$WORK/ingest.opts" "$WORK/run.opts")
[[ -z "$missing" ]] || fail "options of ecom ingest missing from ecom run (or with another default): $missing"
sb=$(grep -h '^--shuffle-buffer-mb ' "$WORK"/{ingest,run,score}.opts | sort -u)
[[ $(printf '%s\n' "$sb" | wc -l) -eq 1 && "$sb" == "--shuffle-buffer-mb 64" ]] || fail "shuffle buffer defaults: $sb"
ok "ecom run --help lists every option of ecom ingest --help ($(wc -l < "$WORK/ingest.opts") with --help), same defaults; shuffle buffer 64 MiB everywhere"

# The effective configuration of every subcommand (ECOM_TEST_PRINT_CONFIG prints it and stops)
# is the same text with and without the file; required options get placeholder values.
make_key "$WORK/key"
declare -A req=(
  [synth]="" [pseudonymize]="--key-file $WORK/key" [profile]="--store s.h5 --out p"
  [ingest]="--input a.csv --store s.h5 --key-file $WORK/key" [analyze]="--store s.h5 --out r"
  [run]="--input a.csv --out r --key-file $WORK/key"
  [score]="--model r --input a.csv --out o --key-file $WORK/key" [purge]="" [forget]="--store s.h5 --key-file $WORK/key")
cmds=$("$ECOM" --help | awk '/^Subcommands:/ {on = 1; next} on && /^  [a-z]/ {print $1}')
for cmd in $cmds; do
  [[ -v "req[$cmd]" ]] || fail "no placeholder options for new subcommand '$cmd': add it to this test"
  # shellcheck disable=SC2086
  ECOM_TEST_PRINT_CONFIG=1 "$ECOM" "$cmd" ${req[$cmd]} > "$WORK/plain.$cmd" || fail "$cmd: config dump"
  # shellcheck disable=SC2086
  ECOM_TEST_PRINT_CONFIG=1 "$ECOM" --config "$toml" "$cmd" ${req[$cmd]} > "$WORK/file.$cmd" || fail "$cmd --config"
  [[ $(wc -l < "$WORK/plain.$cmd") -gt 100 ]] || fail "$cmd: short config dump"
  diff "$WORK/plain.$cmd" "$WORK/file.$cmd" || fail "ecom --config default.toml $cmd records another configuration"
done
ok "with default.toml the effective configuration is unchanged ($(echo $cmds | wc -w) subcommands)"
# ... and the recorded configuration is valid TOML holding the values in effect.
$PY - "$WORK/plain.synth" <<'PY'
import sys, tomllib
c = tomllib.load(open(sys.argv[1], "rb"))
assert c["synth"]["events"] == 1000000 and c["synth"]["months"] == ["2019-10"], c["synth"]
assert c["recommend"] is True and c["evaluate"] is True and c["als-refit"] is True, "flag defaults"
assert c["score"]["history"] is True and c["profile"]["store-profile"] is True, "flag defaults"
assert c["als-precision"] == "double" and c["exclude"] == "purchased"
assert len(c["log1p"]) > 10 and c["kmeans-tol"] == 0.0001
PY
ok "the effective configuration parses as TOML with the documented defaults"

# Values from a file are applied; the command line overrides them; [synth] seed is not the
# top-level (model) seed.
cat > "$WORK/small.toml" <<'TOML'
log-level = "warn"
no-progress = true
seed = 99
k = 4
[synth]
events = 3000
seed = 5
TOML
ECOM_TEST_PRINT_CONFIG=1 "$ECOM" --config "$WORK/small.toml" synth --seed 6 > "$WORK/dump"
grep -qx 'synth.events=3000' "$WORK/dump" || fail "synth.events from the file not in effect"
grep -qx 'synth.seed=6' "$WORK/dump" || fail "--seed on the command line did not override the file"
grep -qx 'seed=99' "$WORK/dump" && grep -qx 'k=4' "$WORK/dump" || fail "top-level values from the file"
grep -qx 'log-level="warn"' "$WORK/dump" && grep -qx 'no-progress=true' "$WORK/dump" || fail "log-level, no-progress from the file"

"$ECOM" --config "$WORK/small.toml" synth --out "$WORK/a" > "$WORK/a.log" 2>&1 || fail "synth with a config file"
"$ECOM" synth --events 3000 --seed 5 --out "$WORK/b" --log-level warn > "$WORK/b.log" 2>&1 || fail "synth"
"$ECOM" --config "$WORK/small.toml" synth --events 6000 --out "$WORK/c" > "$WORK/c.log" 2>&1 || fail "synth override"
"$ECOM" synth --events 6000 --seed 5 --out "$WORK/d" --no-progress --log-level warn > /dev/null 2>&1 || fail "synth"
diff -r "$WORK/a" "$WORK/b" > /dev/null || fail "events = 3000 from the file is not --events 3000"
diff -r "$WORK/c" "$WORK/d" > /dev/null || fail "--events 6000 did not override the file's 3000"
rows() { cat "$1"/events/*.csv | awk 'NR > 1 && $0 !~ /^event_time,/' | wc -l; }
na=$(rows "$WORK/a"); nc=$(rows "$WORK/c")
$PY -c "import sys; a, c = $na, $nc; sys.exit(not (2400 <= a <= 3600 and 4800 <= c <= 7200))" \
  || fail "rows: $na with events = 3000 from the file, $nc with --events 6000"
[[ ! -s "$WORK/a.log" ]] || fail "log-level = \"warn\" and no-progress = true from the file did not quiet the logs: $(head -3 "$WORK/a.log")"
ok "file values applied (events 3000: $na rows, seed 5, log-level warn), command line wins (6000: $nc rows)"
