#!/usr/bin/env bash
# ecom forget (right to erasure), checked with h5py and Python's hmac:
# - every event of the person's pseudonym is gone, every other event is unchanged;
# - neither the pseudonym (as 8 bytes or hex) nor the raw id remains anywhere in the store file;
# - the quarantine (raw zone) loses exactly the rows holding the raw id;
# - the manifest records the erasure (count, request) without any identifier; the log neither;
# - the store still works (analyze) and a second request changes nothing.
source "$(dirname "$0")/lib.sh"
key="$WORK/key"
make_key "$key"
"$ECOM" synth --preset multi-category --events 20000 --dirty 0.05 --seed 7 --out "$WORK/data" --no-progress --log-level warn
mpi 2 ingest --input "$WORK/data/events/*.csv" --store "$WORK/store.h5" --key-file "$key" --no-progress --log-level warn
ok "ingest"

# The person: a user with events in the store and a row in the quarantine.
$PY - "$WORK" <<'PY' || fail "choosing a person"
import csv, collections, io, sys
work = sys.argv[1]
counts = collections.Counter()
with open(f"{work}/data/events/2019-10.csv", newline="") as f:
    for row in csv.reader(f):
        if len(row) == 9 and row[7].isdigit():
            counts[row[7]] += 1
quarantined = collections.Counter()
with open(f"{work}/store.quarantine.csv", newline="") as f:
    for rec in csv.DictReader(f):
        fields = next(csv.reader(io.StringIO(rec["row"])), [])
        if len(fields) > 7 and fields[7].strip():
            quarantined[fields[7].strip()] += 1
both = [u for u in quarantined if counts[u] >= 5]
assert both, "no user with events and a quarantined row"
person = max(both, key=lambda u: (counts[u], u))
open(f"{work}/ids.txt", "w").write(person + "\n")
print(f"person with {counts[person]} rows, {quarantined[person]} quarantined")
PY
raw_id=$(cat "$WORK/ids.txt")

cat > "$WORK/store_facts.py" <<'PY'
"""store_facts.py STORE KEY RAW_ID OUT.json: facts about the store, computed with h5py and hmac."""
import csv, hashlib, hmac, io, json, sys
import h5py
import numpy as np
store, key, raw, out = sys.argv[1:5]
p = int(hmac.new(open(key, "rb").read(), raw.encode(), hashlib.sha256).hexdigest()[:16], 16)
cols = ["user", "time", "event_type", "product_id", "category_id", "category", "brand", "price", "session"]
with h5py.File(store, "r") as h:
    parts = [h["partitions"][k]["events"] for k in sorted(h["partitions"])]
    data = {c: np.concatenate([g[c][...] for g in parts]) for c in cols}
    audit = []
    if "manifest/audit" in h:
        for k in sorted(h["manifest/audit"]):
            a = h["manifest/audit"][k].attrs
            audit.append({n: (v.decode() if isinstance(v, bytes) else (v.item() if hasattr(v, "item") else v)) for n, v in a.items()})
mine = data["user"] == np.uint64(p)
rows = sorted(zip(*[data[c][~mine].tolist() for c in cols]))
blob = open(store, "rb").read()
quarantine = store[:-3] + ".quarantine.csv"
q_total = q_person = 0
with open(quarantine, newline="") as f:
    for rec in csv.DictReader(f):
        q_total += 1
        q_person += any(x.strip(' \t"') == raw for x in next(csv.reader(io.StringIO(rec["row"])), []))
json.dump({"pseudonym": format(p, "016x"), "person_events": int(mine.sum()), "events": int(len(mine)),
           "others": hashlib.sha256(repr(rows).encode()).hexdigest(),
           "bytes_pseudonym": blob.count(p.to_bytes(8, "little")) + blob.count(format(p, "016x").encode()),
           "bytes_raw": blob.count(raw.encode()), "audit": audit,
           "quarantine_rows": q_total, "quarantine_person": q_person}, open(out, "w"))
PY
$PY "$WORK/store_facts.py" "$WORK/store.h5" "$key" "$raw_id" "$WORK/before.json"

mpi 3 forget --store "$WORK/store.h5" --key-file "$key" --user-id-file "$WORK/ids.txt" --request REQ-2026-17 \
  --no-progress 2> "$WORK/forget.log"
cat "$WORK/forget.log"
$PY "$WORK/store_facts.py" "$WORK/store.h5" "$key" "$raw_id" "$WORK/after.json"
pseudonym=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['pseudonym'])" "$WORK/before.json")
! grep -q -e "$raw_id" -e "$pseudonym" "$WORK/forget.log" || fail "the log names the person"

$PY - "$WORK/before.json" "$WORK/after.json" <<'PY' || fail "store after forget"
import json, sys
b, a = (json.load(open(p)) for p in sys.argv[1:3])
assert b["person_events"] > 0 and b["quarantine_person"] > 0, b
assert a["person_events"] == 0, a
assert a["events"] == b["events"] - b["person_events"], (a["events"], b["events"], b["person_events"])
assert a["others"] == b["others"], "other users' events changed"
assert a["bytes_pseudonym"] == 0, "the pseudonym is still in the file's bytes"
assert a["bytes_raw"] == 0
assert a["quarantine_person"] == 0 and a["quarantine_rows"] == b["quarantine_rows"] - b["quarantine_person"], a
assert len(a["audit"]) == 1, a["audit"]
rec = a["audit"][0]
assert rec["action"] == "forget" and rec["events_removed"] == b["person_events"], rec
assert "REQ-2026-17" in rec["note"] and f"quarantine_rows_removed={b['quarantine_person']}" in rec["note"], rec
assert b["pseudonym"] not in json.dumps(rec) and str(int(b["pseudonym"], 16)) not in json.dumps(rec), rec
print(f"removed {b['person_events']} events and {b['quarantine_person']} quarantine rows; audit: {rec}")
PY
ok "forget: the person's events and raw rows are gone, nothing else changed, erasure recorded"

mpi 2 analyze --store "$WORK/store.h5" --out "$WORK/run" --k 3 --no-recommend --no-progress --log-level warn
! grep -q "$pseudonym" "$WORK/run/customer_segments.csv" || fail "the pseudonym is in a later analysis"
ok "analyze works on the store after forget"

cp "$WORK/store.h5" "$WORK/store.before"
mpi 2 forget --store "$WORK/store.h5" --key-file "$key" --user-id "$raw_id" --no-progress --log-level warn
cmp -s "$WORK/store.h5" "$WORK/store.before" || fail "a second forget changed the store"
ok "a second forget finds nothing and changes nothing"

# A path forget cannot read is named in a warning (the raw rows it may hold were not erased); a
# missing --quarantine used to pass in silence.
mpi 2 forget --store "$WORK/store.h5" --key-file "$key" --user-id "$raw_id" --quarantine "$WORK/nope.csv" \
  --no-progress --log-level warn 2> "$WORK/missing.log" || fail "forget with a missing quarantine: exit $?"
grep -q "cannot read the quarantine $WORK/nope.csv (no such file)" "$WORK/missing.log" ||
  fail "no warning about the missing quarantine: $(cat "$WORK/missing.log")"
mkdir "$WORK/qdir"
mpi 2 forget --store "$WORK/store.h5" --key-file "$key" --user-id "$raw_id" --quarantine "$WORK/qdir" \
  --no-progress --log-level warn 2> "$WORK/dir.log" || fail "forget with a directory as quarantine"
grep -q "cannot read the quarantine $WORK/qdir (not a readable file)" "$WORK/dir.log" ||
  fail "no warning about the unreadable quarantine: $(cat "$WORK/dir.log")"
ok "forget warns about a quarantine it cannot read: $(grep -m1 -o 'cannot read.*' "$WORK/missing.log")"
