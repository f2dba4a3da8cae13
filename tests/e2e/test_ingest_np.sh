#!/usr/bin/env bash
# `ecom ingest` of synthetic data with malformed rows (`ecom synth --dirty 0.01`): two plain
# monthly files (split by bytes across ranks) and two gzip files (each inflated by one rank, its
# lines parsed by all), in one run, with np 1, 2, 3 and 4.
#  1. /partitions (events, vshard_offsets), /strings and the manifest's counts are identical
#     (h5diff) for every np; the quarantine is byte-identical.
#  2. An independent Python reading of the raw files (check_ingest_store.py): the per-reason
#     counts equal the generator's truth (truth/dirty.csv) and the quarantine's; every other row
#     is in the store (pseudonyms from Python's hmac), exact duplicates removed.
#  3. The store written with np 4 profiles identically with np 1 and np 4.
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
key="$WORK/k.key"
make_key "$key"
cd "$WORK"

mpi 2 synth --preset multi-category --events 60000 --months 2019-10,2019-11 --seed 11 --dirty 0.01 \
  --out plain --no-progress --log-level warn || fail "synth (plain)"
mpi 2 synth --preset cosmetics --events 30000 --months 2019-12,2020-01 --seed 12 --dirty 0.01 --gzip \
  --out gz --no-progress --log-level warn || fail "synth (gzip)"
inputs=(plain/events/*.csv gz/events/*.csv.gz)
[[ ${#inputs[@]} -eq 4 ]] || fail "expected 4 synthetic files: ${inputs[*]}"

for n in 1 2 3 4; do
  mpi $n ingest --input 'plain/events/*.csv' 'gz/events/*.csv.gz' --store s$n.h5 --key-file "$key" \
    --no-progress --log-level debug > log$n 2>&1 || { cat log$n; fail "ingest np $n"; }
done
# A gzip file is inflated by one rank, which hands blocks of its lines to the others to parse.
for n in 2 3 4; do
  shipped=$(sed -n 's/.*gzip lines parsed by a rank other than their decoding rank: //p' log$n)
  [[ "${shipped:-0}" -gt 1000 ]] || fail "np $n: gzip lines parsed elsewhere: '${shipped}'"
done
for n in 2 3 4; do
  for obj in /partitions /strings; do
    h5diff s1.h5 s$n.h5 $obj $obj || fail "$obj differs between np 1 and np $n"
  done
  cmp s1.quarantine.csv s$n.quarantine.csv || fail "quarantine differs between np 1 and np $n"
done
$PY - s1.h5 s2.h5 s3.h5 s4.h5 <<'PY' || fail "manifest differs between rank counts"
import sys
import h5py
def manifest(path):
    with h5py.File(path, "r") as f:
        return [{k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in f["manifest"][m].attrs.items()
                 if k != "ingest_time"} for m in sorted(f["manifest"]) if m.isdigit()]
ref = manifest(sys.argv[1])
assert len(ref) == 4, f"{len(ref)} manifest entries"
for p in sys.argv[2:]:
    assert manifest(p) == ref, f"manifest of {p} differs from np 1"
PY
ok "events, strings, manifest and quarantine identical for np 1, 2, 3, 4"

# The truth of both generator runs, summed.
$PY - plain/truth/dirty.csv gz/truth/dirty.csv > truth.csv <<'PY'
import csv, sys
total = {}
for p in sys.argv[1:]:
    for r, c in list(csv.reader(open(p)))[1:]:
        total[r] = total.get(r, 0) + int(c)
print("reason,count")
for r, c in total.items():
    print(f"{r},{c}")
PY
[[ $(awk -F, 'NR > 1 { s += $2 } END { print s }' truth.csv) -gt 100 ]] || fail "too few dirty rows to test"
$PY "$HERE/check_ingest_store.py" s4.h5 s4.quarantine.csv "$key" --truth truth.csv "${inputs[@]}" \
  || fail "store or quarantine differ from the independent reading of the raw files"
ok "rejects per reason equal the generator's truth; every other row is in the store"

mpi 1 profile --store s4.h5 --out prof1 --no-progress --log-level warn || fail "profile np 1"
cp s4.h5 s4b.h5
mpi 4 profile --store s4b.h5 --out prof4 --no-progress --log-level warn || fail "profile np 4"
diff -r prof1 prof4 || fail "profile of the np-4 store differs between np 1 and np 4"
h5diff s4.h5 s4b.h5 /profile /profile || fail "/profile differs between np 1 and np 4"
$PY "$HERE/check_profile_store.py" s4.h5 prof1 || fail "profile differs from numpy/h5py"
ok "the np-4 store profiles identically with np 1 and np 4"
