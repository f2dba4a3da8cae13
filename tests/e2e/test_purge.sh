#!/usr/bin/env bash
# ecom purge (retention), checked with h5py and Python's csv: a store of two monthly partitions
# (October and November 2019), its quarantine, and a directory of two runs. At "now" =
# 2021-11-15 with --processed-days 730 the October partition (newest event 2019-10-31, 746 days
# old) and the run of 2019-11-01 go; November (newest 2019-11-30, 716 days) and the run of
# 2021-10-01 stay; with
# --raw-days 30 that run's quarantine file goes, and the quarantine rows of October's file go with
# its partition. --dry-run changes no byte; the purged store holds exactly November's events, its
# manifest only November's file and an audit record; a second purge finds nothing.
source "$(dirname "$0")/lib.sh"
key="$WORK/key"
make_key "$key"
"$ECOM" synth --preset multi-category --events 20000 --months 2019-10 2019-11 --dirty 0.02 --seed 11 \
  --out "$WORK/data" --no-progress --log-level warn
# One partition per month (the append, into a store whose quarantine is not empty, on 2 ranks).
mpi 2 ingest --input "$WORK/data/events/2019-10.csv" --store "$WORK/store.h5" --key-file "$key" --no-progress --log-level warn
mpi 2 ingest --input "$WORK/data/events/2019-11.csv" --store "$WORK/store.h5" --key-file "$key" --no-progress --log-level warn
mpi 2 analyze --store "$WORK/store.h5" --out "$WORK/runs/old" --run-time 2019-11-01T00:00:00Z --k 3 --no-recommend \
  --no-progress --log-level warn
cp -r "$WORK/runs/old" "$WORK/runs/recent"
sed -i 's/"run_time": "2019-11-01T00:00:00Z"/"run_time": "2021-10-01T00:00:00Z"/' "$WORK/runs/recent/run.json"
grep -q '"run_time": "2021-10-01T00:00:00Z"' "$WORK/runs/recent/run.json" || fail "run.json has no run_time"
for r in old recent; do printf 'file,line,reason,row\n' > "$WORK/runs/$r/events.quarantine.csv"; done
# A symbolic link to an old run directory elsewhere: reported, never followed (the link and its
# target stay); a link named like a quarantine file in a kept run: the same.
cp -r "$WORK/runs/old" "$WORK/elsewhere"
ln -s "$WORK/elsewhere" "$WORK/runs/linked"
ln -s "$WORK/elsewhere/events.quarantine.csv" "$WORK/runs/recent/linked.quarantine.csv"
ok "store with 2 partitions, 2 run directories and links"

cat > "$WORK/store_facts.py" <<'PY'
"""store_facts.py WORK OUT.json: partitions, events and quarantine rows per file, with h5py and csv."""
import csv, hashlib, json, sys
import h5py
import numpy as np
work, out = sys.argv[1:3]
cols = ["user", "time", "event_type", "product_id", "price", "session"]
facts = {"partitions": [], "audit": []}
with h5py.File(f"{work}/store.h5", "r") as h:
    for k in sorted(h["partitions"]):
        g = h["partitions"][k]["events"]
        t = g["time"][...]
        rows = sorted(zip(*[g[c][...].tolist() for c in cols]))
        facts["partitions"].append({"events": len(t), "newest": int(t.max()),
                                    "digest": hashlib.sha256(repr(rows).encode()).hexdigest()})
    m = h["manifest"]
    facts["files"] = [m[k].attrs["name"] for k in sorted(m) if k.isdigit()]
    facts["files"] = [f.decode() if isinstance(f, bytes) else f for f in facts["files"]]
    if "audit" in m:
        for k in sorted(m["audit"]):
            a = m["audit"][k].attrs
            facts["audit"].append({n: (v.decode() if isinstance(v, bytes) else (v.item() if hasattr(v, "item") else v)) for n, v in a.items()})
per_file = {}
with open(f"{work}/store.quarantine.csv", newline="") as f:
    for rec in csv.DictReader(f):
        per_file[rec["file"]] = per_file.get(rec["file"], 0) + 1
facts["quarantine"] = per_file
json.dump(facts, open(out, "w"))
PY
$PY "$WORK/store_facts.py" "$WORK" "$WORK/before.json"
sum_before=$(sha256sum "$WORK/store.h5" "$WORK/store.quarantine.csv")

policy=(--store "$WORK/store.h5" --runs "$WORK/runs" --raw-days 30 --processed-days 730 --now 2021-11-15T00:00:00Z)
mpi 2 purge "${policy[@]}" --dry-run --no-progress 2> "$WORK/dry.log"
cat "$WORK/dry.log"
[[ $(sha256sum "$WORK/store.h5" "$WORK/store.quarantine.csv") == "$sum_before" ]] || fail "--dry-run changed the store"
[[ -d "$WORK/runs/old" && -f "$WORK/runs/recent/events.quarantine.csv" ]] || fail "--dry-run removed files"
grep -q "would drop partition 0" "$WORK/dry.log" || fail "dry run does not say what would go"
grep -q "would remove run directory $WORK/runs/old" "$WORK/dry.log" || fail "dry run: run directory"
! grep -q "would drop partition 1" "$WORK/dry.log" || fail "dry run: November would go"
ok "dry run: lists what would go, changes nothing"

mpi 3 purge "${policy[@]}" --no-progress 2> "$WORK/purge.log"
cat "$WORK/purge.log"
grep -q "purge: remove run directory $WORK/runs/old: run time 2019-11-01T00:00:00Z (745 days old) is past processed-days 730" "$WORK/purge.log" ||
  fail "the removed run directory is not logged with its reason and age"
grep -q "purge: remove raw-zone file $WORK/runs/recent/events.quarantine.csv: run time 2021-10-01T00:00:00Z (45 days old) is past raw-days 30" "$WORK/purge.log" ||
  fail "the removed raw-zone file is not logged with its reason and age"
grep -q "skip $WORK/runs/linked: a symbolic link (not followed" "$WORK/purge.log" || fail "the linked run is not reported"
grep -q "skip $WORK/runs/recent/linked.quarantine.csv: a symbolic link" "$WORK/purge.log" || fail "the linked file is not reported"
[[ -L "$WORK/runs/linked" && -f "$WORK/elsewhere/run.json" && -f "$WORK/elsewhere/events.quarantine.csv" ]] ||
  fail "a symbolic link or its target was removed"
[[ -L "$WORK/runs/recent/linked.quarantine.csv" ]] || fail "the linked quarantine file was removed"
grep -q "1 run directories, 1 raw-zone files removed" "$WORK/purge.log" || fail "the summary counts a link"
ok "purge logs each removal (path, reason, age) and leaves symbolic links and their targets"
$PY "$WORK/store_facts.py" "$WORK" "$WORK/after.json"
$PY - "$WORK/before.json" "$WORK/after.json" "$WORK/data/events/2019-10.csv" "$WORK/data/events/2019-11.csv" <<'PY' || fail "store after purge"
import datetime, json, sys
b, a = (json.load(open(p)) for p in sys.argv[1:3])
oct_file, nov_file = sys.argv[3:5]
iso = lambda t: datetime.datetime.utcfromtimestamp(t).strftime("%Y-%m-%d")
assert len(b["partitions"]) == 2 and iso(b["partitions"][0]["newest"]) == "2019-10-31" and iso(b["partitions"][1]["newest"]) == "2019-11-30", b["partitions"]
assert a["partitions"] == [b["partitions"][1]], "the store does not hold exactly November's events"
assert a["files"] == [nov_file], a["files"]
assert a["quarantine"] == {k: v for k, v in b["quarantine"].items() if k != oct_file}, (a["quarantine"], b["quarantine"])
assert b["quarantine"].get(oct_file, 0) > 0, "October had no quarantined rows: the check is empty"
assert len(a["audit"]) == 1 and a["audit"][0]["action"] == "purge", a["audit"]
rec = a["audit"][0]
assert rec["events_removed"] == b["partitions"][0]["events"] and rec["partitions_removed"] == 1, rec
print(f"dropped {rec['events_removed']} October events and {b['quarantine'][oct_file]} quarantine rows; kept {a['partitions'][0]['events']}")
PY
[[ ! -e "$WORK/runs/old" ]] || fail "the old run directory is still there"
[[ -f "$WORK/runs/recent/run.json" && ! -e "$WORK/runs/recent/events.quarantine.csv" ]] || fail "recent run: processed kept, raw zone removed"
ok "purge: October partition, its quarantine rows and the old run went; November and the recent run stayed"

sum_after=$(sha256sum "$WORK/store.h5" "$WORK/store.quarantine.csv")
mpi 2 purge "${policy[@]}" --no-progress --log-level warn
[[ $(sha256sum "$WORK/store.h5" "$WORK/store.quarantine.csv") == "$sum_after" ]] || fail "a second purge changed the store"
mpi 2 analyze --store "$WORK/store.h5" --out "$WORK/after_run" --k 3 --no-recommend --no-progress --log-level warn
ok "second purge changes nothing; analyze works on the purged store"
