#!/usr/bin/env bash
# scripts/load_warehouse.sh against a real PostgreSQL (Debian's postgresql: a temporary data
# directory, a Unix socket in the work directory, no TCP). Two runs: October, then October and
# November. Checks, independently of ecom (Python csv/h5py):
# - row counts of every table after each load;
# - loading the same run twice changes nothing (not one row rewritten: same xmin everywhere);
# - the later run updates its users' rows (values equal its CSVs); loading the older run again
#   does not overwrite them;
# - the BI query (users and revenue per segment, view segment_summary) equals users per segment
#   from customer_segments.csv and the revenue of their purchases summed from the event store.
source "$(dirname "$0")/lib.sh"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[[ -n "$pg_bin" && -x "$pg_bin/initdb" ]] || fail "PostgreSQL server binaries not found (Debian: apt-get install postgresql; scripts/setup.sh --with-tests installs it)"
command -v psql >/dev/null || fail "psql not found"

# PostgreSQL refuses to run as root: the server runs as the 'postgres' user (or 'nobody').
pg_dir="$WORK/pg"
mkdir -p "$pg_dir"
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
  pg_user=postgres
  id "$pg_user" >/dev/null 2>&1 || pg_user=nobody
  chmod 755 "$WORK"
  chown "$pg_user" "$pg_dir"
  as_pg=(runuser -u "$pg_user" --)
fi
stop_pg() {
  if [[ -f "$pg_dir/data/postmaster.pid" ]]; then
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap stop_pg EXIT
"${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U ecom -A trust -E UTF8 --no-sync >"$WORK/initdb.log" 2>&1 ||
  { cat "$WORK/initdb.log"; fail "initdb"; }
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 30 \
  -o "-k $pg_dir -c listen_addresses='' -c fsync=off" start >/dev/null || { cat "$pg_dir/server.log"; fail "pg_ctl start"; }
export PGHOST="$pg_dir" PGUSER=ecom PGDATABASE=postgres
unset PGPORT PGPASSWORD PGSERVICE
q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
[[ $(q "select 1") == 1 ]] || fail "cannot connect"
ok "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') up on $pg_dir"

key="$WORK/key"
make_key "$key"
"$ECOM" synth --preset multi-category --events 40000 --months 2019-10 2019-11 --seed 3 --out "$WORK/data" \
  --no-progress --log-level warn
opts=(--key-file "$key" --k 4 --als-iterations 3 --no-progress --log-level warn)
mpi 2 run --input "$WORK/data/events/2019-10.csv" --out "$WORK/run1" --run-time 2026-01-01T00:00:00Z "${opts[@]}"
mpi 2 run --input "$WORK/data/events/*.csv" --out "$WORK/run2" --run-time 2026-02-01T00:00:00Z "${opts[@]}"
ok "two runs"

load() { "$ECOM_SOURCE_DIR/scripts/load_warehouse.sh" "$1" > "$WORK/load.out" || fail "load $1: $(cat "$WORK/load.out")"; cat "$WORK/load.out"; }
snapshot() {  # every row with its xmin (the transaction that last wrote it)
  for t in runs customer_segments recommendations segment_profiles; do
    q "select xmin::text, t::text from $t t order by 2"
  done | md5sum
}
rows() { echo "$(q 'select count(*) from runs') $(q 'select count(*) from customer_segments') $(q 'select count(*) from recommendations') $(q 'select count(*) from segment_profiles')"; }

load "$WORK/run1"
$PY - "$WORK/run1" "$(rows)" <<'PY' || fail "counts after run 1"
import csv, sys
run, got = sys.argv[1], sys.argv[2]
n = lambda f: sum(1 for _ in csv.DictReader(open(f"{run}/{f}", newline="")))
want = f"1 {n('customer_segments.csv')} {n('recommendations.csv')} {n('segment_profiles.csv')}"
assert got == want, f"rows {got}, want {want}"
PY
ok "run 1: $(rows) (runs, customer_segments, recommendations, segment_profiles)"
q "select count(*) from pg_indexes where tablename = 'customer_segments' and indexdef like '%(segment_id, updated_at)%'" | grep -qx 1 ||
  fail "no index on customer_segments (segment_id, updated_at)"

before=$(snapshot)
load "$WORK/run1"
[[ $(snapshot) == "$before" ]] || fail "loading run 1 again changed rows"
ok "loading the same run twice changes nothing"

# The run id comes from run.json's contents, not from the path: a copy of run 1 under a path
# with a backslash, quotes, \$( ) and a newline loads as the same run (sha256sum FILE escaped
# such a name and gave the id a leading '\').
weird="$WORK/"$'back\\slash "dq" \'sq\' $(touch pwned)\nnew line'
mkdir -p "$weird"
cp "$WORK/run1"/{run.json,customer_segments.csv,segment_profiles.csv,recommendations.csv} "$weird/"
(cd "$WORK" && load "$weird")
[[ $(snapshot) == "$before" ]] || fail "run 1 loaded from another path changed rows: $(q 'select run_id from runs')"
[[ ! -e "$WORK/pwned" && ! -e pwned ]] || fail "a path was run as a command"
ok "the same run from a path with a backslash, quotes and a newline: same run id, nothing changed"

load "$WORK/run2"
q "copy (select user_id, segment_id, segment_name, segment_confidence, proba, to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') from customer_segments order by user_id) to stdout with (format csv)" > "$WORK/cs.csv"
q "copy (select user_id, rank, product_id, score, source from recommendations order by user_id, rank) to stdout with (format csv)" > "$WORK/recs.csv"
q "copy (select segment_id, segment_name, users, revenue from segment_summary order by segment_id) to stdout with (format csv)" > "$WORK/bi.csv"
$PY - "$WORK" "$(rows)" <<'PY' || fail "run 2 checks"
import csv, sys
from collections import defaultdict
import h5py
import numpy as np

work, got = sys.argv[1], sys.argv[2]
def table(path, header=True):
    with open(path, newline="") as f:
        return list(csv.DictReader(f)) if header else list(csv.reader(f))
seg = {r["user_id"]: r for r in table(f"{work}/run2/customer_segments.csv")}
seg1 = {r["user_id"]: r for r in table(f"{work}/run1/customer_segments.csv")}
recs2 = table(f"{work}/run2/recommendations.csv")
recs1 = table(f"{work}/run1/recommendations.csv")
users = set(seg) | set(seg1)
rec_users2 = {r["user_id"] for r in recs2}
n_recs = len(recs2) + sum(1 for r in recs1 if r["user_id"] not in rec_users2)
prof = len(table(f"{work}/run1/segment_profiles.csv")) + len(table(f"{work}/run2/segment_profiles.csv"))
want = f"2 {len(users)} {n_recs} {prof}"
assert got == want, f"rows {got}, want {want}"

db = {r[0]: r for r in table(f"{work}/cs.csv", header=False)}
for u, r in seg.items():
    d = db[u]
    want = [u, r["segment_id"], r["segment_name"], r["segment_confidence"], r["proba"], r["updated_at"]]
    assert d[:3] == want[:3] and d[5] == want[5], (d, want)
    for i in (3, 4):
        assert abs(float(d[i]) - float(want[i])) < 1e-12, (d, want)
for u in set(seg1) - set(seg):  # only in run 1: kept as run 1 wrote them
    assert db[u][5] == seg1[u]["updated_at"], db[u]
dbrecs = {(r[0], r[1]): r for r in table(f"{work}/recs.csv", header=False)}
for r in recs2:
    d = dbrecs[(r["user_id"], r["rank"])]
    assert d[2] == r["product_id"] and d[4] == r["source"] and abs(float(d[3]) - float(r["score"])) < 1e-9 * max(1, abs(float(r["score"]))), (d, r)

# BI: users and revenue per segment of the latest run, computed from the CSV and the store.
with h5py.File(f"{work}/run2/events.h5", "r") as s:
    u, t, p = [], [], []
    for part in s["partitions"].values():
        u.append(part["events/user"][...]); t.append(part["events/event_type"][...]); p.append(part["events/price"][...])
u, t, p = np.concatenate(u), np.concatenate(t), np.concatenate(p)
spend = defaultdict(float)
for user, price in zip(u[t == 3].tolist(), p[t == 3].tolist()):
    spend[format(user, "016x")] += price
users_per, revenue_per, names = defaultdict(int), defaultdict(float), {}
for uid, r in seg.items():
    k = int(r["segment_id"])
    users_per[k] += 1
    revenue_per[k] += spend.get(uid, 0.0)
    names[k] = r["segment_name"]
bi = table(f"{work}/bi.csv", header=False)
assert sorted(int(r[0]) for r in bi) == sorted(users_per), (bi, dict(users_per))
for sid, name, n, revenue in bi:
    k = int(sid)
    assert name == names[k] and int(n) == users_per[k], (sid, name, n, users_per[k])
    assert abs(float(revenue) - revenue_per[k]) <= 1e-6 * max(1.0, revenue_per[k]), (sid, revenue, revenue_per[k])
    print(f"  segment {k} {name}: {n} users, revenue {float(revenue):.2f}")
PY
ok "run 2: $(rows); rows updated, BI query = independent computation"

before=$(snapshot)
load "$WORK/run1"
[[ $(snapshot) == "$before" ]] || fail "loading the older run 1 after run 2 changed rows"
load "$WORK/run2"
[[ $(snapshot) == "$before" ]] || fail "loading run 2 again changed rows"
ok "older run does not overwrite newer rows; reload idempotent"

# A broken load rolls back completely.
mkdir "$WORK/bad" && cp "$WORK/run2"/{run.json,segment_profiles.csv,customer_segments.csv} "$WORK/bad/"
printf 'user_id,segment_id,segment_name,segment_confidence,proba,updated_at\nx,notanumber,a,1,1,2027-01-01T00:00:00Z\n' > "$WORK/bad/customer_segments.csv"
echo '{"run_time": "2027-01-01T00:00:00Z", "counts": {}}' > "$WORK/bad/run.json"
if "$ECOM_SOURCE_DIR/scripts/load_warehouse.sh" "$WORK/bad" > "$WORK/bad.out" 2>&1; then fail "a bad CSV loaded"; fi
[[ $(snapshot) == "$before" ]] || fail "a failed load left changes"
ok "a failed load leaves nothing behind: $(grep -m1 ERROR "$WORK/bad.out")"
