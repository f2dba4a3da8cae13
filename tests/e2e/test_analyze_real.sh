#!/usr/bin/env bash
# Features of every user of the real REES46 samples (tests/data/*.csv.gz): `ecom run` (np 3,
# all samples in one store) then every feature in ecom.h5 /users/features compared with an
# independent computation from the raw files with Python's csv, hmac and hashlib modules
# (check_features.py): the twelve required ones to 1e-12, the others to 1e-9; and
# segment_profiles.csv (users, share, revenue, revenue share, every feature mean) against the
# same raw-file computation joined to customer_segments.csv (check_profiles.py).
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
DATA="$ECOM_SOURCE_DIR/tests/data"
shopt -s nullglob
samples=("$DATA"/*.csv.gz)
[[ ${#samples[@]} -gt 0 ]] || fail "no samples in $DATA"
key="$WORK/k.key"
make_key "$key"

mpi 3 run --input "${samples[@]}" --out "$WORK/run" --key-file "$key" --k 4 --no-recommend \
  --gap-references 2 --stability-resamples 2 --run-time 2020-01-01T00:00:00Z \
  --no-progress --log-level warn || fail "ecom run on the samples"
# run.json counts the kept rows with price 0: valid rows (Python's csv), exact duplicates on
# (time, user, product, type, session) counted once, whose price is 0.
$PY - "$WORK/run/run.json" "${samples[@]}" <<'PY' || fail "run.json zero_price"
import csv, gzip, io, json, sys
from fractions import Fraction
run, files = sys.argv[1], sys.argv[2:]
low = {}
for path in files:
    for r in list(csv.reader(io.StringIO(gzip.open(path, "rb").read().decode("utf-8-sig"), newline="")))[1:]:
        key = (r[0], r[7], r[2], r[1], r[8])
        low[key] = min(low.get(key, Fraction(r[6])), Fraction(r[6]))
zero = sum(1 for p in low.values() if p == 0)
counts = json.load(open(run))["counts"]
assert zero > 0 and counts["zero_price"] == zero and counts["rows_kept"] == len(low), (counts, zero, len(low))
print(f"run.json: {zero} kept rows with price 0, as counted here")
PY
$PY "$HERE/check_features.py" "$key" "$WORK/run" "${samples[@]}" \
  || fail "features differ from the independent computation"
ok "features of every user of ${#samples[@]} real samples equal the Python computation"
$PY "$HERE/check_profiles.py" "$key" "$WORK/run" "${samples[@]}" \
  || fail "segment_profiles.csv differs from the raw-file computation"
ok "segment profiles (revenue, feature means) of the real samples equal the Python computation"
