#!/usr/bin/env bash
# File permissions (issue 16, item 8): raw-zone files (the quarantine: raw rows, raw user ids)
# are created 0600 whatever the umask; pseudonymised outputs (store, ecom.h5, warehouse and
# profile CSVs, run.json) 0640, or the mode given by --output-mode.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/resume_lib.sh"
make_resume_data "$WORK/data"
key="$WORK/data/key"
input=("$WORK"/data/events/*.csv)
printf 'not,a,valid,row\n' >> "${input[0]}"  # one reject: a quarantine is written

# expect_mode MODE FILE...: stat -c %a of each FILE is MODE.
expect_mode() {
  local mode="$1" f; shift
  for f in "$@"; do
    [[ -f $f ]] || fail "missing $f"
    [[ $(stat -c %a "$f") == "$mode" ]] || fail "$f has mode $(stat -c %a "$f"), expected $mode"
  done
}

for mask in 022 000; do
  out="$WORK/run$mask"
  (umask "$mask"; mpi 2 run --input "${input[@]}" --key-file "$key" --out "$out" \
    "${RESUME_MODEL_ARGS[@]}" --log-level warn)
  expect_mode 600 "$out/events.quarantine.csv"
  expect_mode 640 "$out/events.h5" "$out/ecom.h5" "$out/customer_segments.csv" \
    "$out/recommendations.csv" "$out/segment_profiles.csv" "$out/k_selection.csv" \
    "$out/run.json" "$out"/profile/*.csv
  ok "umask $mask: quarantine 600, outputs 640"
done

# --output-mode sets the outputs' mode, never the quarantine's; an append sets the store's mode.
(umask 000; mpi 2 ingest --input "${input[@]}" --store "$WORK/s.h5" --key-file "$key" \
  --output-mode 600 --no-progress --log-level warn)
expect_mode 600 "$WORK/s.h5" "$WORK/s.quarantine.csv"
"$ECOM" synth --events 300 --seed 9 --out "$WORK/more" --no-progress --log-level warn > /dev/null
(umask 000; mpi 2 ingest --input "$WORK"/more/events/*.csv --store "$WORK/s.h5" --key-file "$key" \
  --output-mode 0644 --no-progress --log-level warn)
expect_mode 644 "$WORK/s.h5"
expect_mode 600 "$WORK/s.quarantine.csv"
ok "--output-mode 600 and 0644: store follows, quarantine stays 600"

set +e
"$ECOM" ingest --input "${input[@]}" --store "$WORK/x.h5" --key-file "$key" --output-mode 999 \
  > "$WORK/bad.log" 2>&1
rc=$?
set -e
[[ $rc -eq 2 ]] || { cat "$WORK/bad.log"; fail "--output-mode 999: exit $rc, expected 2"; }
grep -q 'output-mode' "$WORK/bad.log" || fail "--output-mode 999: no line naming the option"
ok "--output-mode 999 is refused with exit 2"
