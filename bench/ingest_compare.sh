#!/usr/bin/env bash
# Ingest benchmark: `ecom ingest` of one synthetic REES46 month, plain CSV and gzip, with the
# stage figures it logs (wall seconds, max over ranks; CPU seconds per rank; peak RSS per rank),
# side by side in the same run with
#   - `zcat FILE > /dev/null` on the same .csv.gz (the decompression bound), and
#   - DuckDB (npm @duckdb/node-api, THREADS threads) reading the same plain CSV and computing
#     per-user event counts (q1), and, for a full parse, per-user counts of each event type, price
#     sum, sessions and time range (q2).
# Prints a table and writes it to OUT (default results/bench/ingest.txt).
#
# usage: bench/ingest_compare.sh [EVENTS] [RANKS]     (defaults 10000000 and 2)
# env:   ECOM (binary; default build/ecom), WORK (scratch, default /tmp/ecom-bench-ingest),
#        DUCKDB_DIR (where @duckdb/node-api is installed or gets installed with npm;
#        default /tmp/ecom-duckdb), THREADS (DuckDB threads, default RANKS), OUT, KEEP=1 (keep
#        WORK), ECOM_GZIP=zlib (force zlib instead of ISA-L for the gzip decoder),
#        MPIRUN_FLAGS (default "--bind-to none": Open MPI binds each rank to one core when
#        np <= 2, which would put the gzip decoder thread on its rank's core; DuckDB's threads
#        are not bound either).
# Needs about 0.14 KB of disk per event (1.4 GB plain + 0.35 GB gzip + 0.6 GB store for 10M).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
EVENTS="${1:-10000000}"
RANKS="${2:-2}"
ECOM="${ECOM:-$ROOT/build/ecom}"
WORK="${WORK:-/tmp/ecom-bench-ingest}"
DUCKDB_DIR="${DUCKDB_DIR:-/tmp/ecom-duckdb}"
THREADS="${THREADS:-$RANKS}"
MPIRUN_FLAGS="${MPIRUN_FLAGS---bind-to none}"
OUT="${OUT:-$ROOT/results/bench/ingest.txt}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
[[ -x "$ECOM" ]] || { echo "no ecom binary at $ECOM (set ECOM)" >&2; exit 1; }
mkdir -p "$WORK"
need_kb=$((EVENTS / 7 + 200000))
free_kb=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
((free_kb > need_kb)) || { echo "need ${need_kb} KB free in $WORK, have ${free_kb}" >&2; exit 1; }
cd "$WORK"
(umask 077; printf 'bench-key-0123456789' > bench.key)

# ---- data (cached between runs) ------------------------------------------------------------
if [[ ! -f plain_$EVENTS/events/2019-10.csv ]]; then
  rm -rf plain_$EVENTS gz_$EVENTS
  mpirun -np "$RANKS" "$ECOM" synth --preset multi-category --events "$EVENTS" --seed 7 \
    --out plain_$EVENTS --no-progress --log-level warn
  mpirun -np "$RANKS" "$ECOM" synth --preset multi-category --events "$EVENTS" --seed 7 --gzip \
    --out gz_$EVENTS --no-progress --log-level warn
fi
CSV=$PWD/plain_$EVENTS/events/2019-10.csv
GZ=$PWD/gz_$EVENTS/events/2019-10.csv.gz
cmp <(zcat "$GZ") "$CSV" || { echo "gzip and plain data differ" >&2; exit 1; }
csv_bytes=$(stat -c %s "$CSV")
gz_bytes=$(stat -c %s "$GZ")
rows=$(($(wc -l < "$CSV") - 1))
cat "$CSV" "$GZ" > /dev/null  # page cache: every contender reads from memory

# ---- DuckDB ------------------------------------------------------------------------------------
if [[ ! -d "$DUCKDB_DIR/node_modules/@duckdb/node-api" ]]; then
  mkdir -p "$DUCKDB_DIR"
  (cd "$DUCKDB_DIR" && npm install --no-audit --no-fund --silent @duckdb/node-api > /dev/null)
fi
cat > "$DUCKDB_DIR/ecom_bench.mjs" <<'JS'
import { DuckDBInstance } from '@duckdb/node-api';
const [file, threads, query, dbfile] = process.argv.slice(2);
const sql = {
  q1: `SELECT count(*), sum(n) FROM (SELECT user_id, count(*) AS n FROM read_csv('${file}', header = true) GROUP BY user_id)`,
  q2: `SELECT count(*), sum(n) FROM (SELECT user_id, count(*) AS n,
         count(*) FILTER (WHERE event_type = 'view') AS views, count(*) FILTER (WHERE event_type = 'cart') AS carts,
         count(*) FILTER (WHERE event_type = 'remove_from_cart') AS removes,
         count(*) FILTER (WHERE event_type = 'purchase') AS purchases, sum(price) AS spend,
         count(DISTINCT user_session) AS sessions, count(DISTINCT product_id) AS products,
         count(DISTINCT brand) AS brands, count(DISTINCT category_code) AS codes,
         min(event_time) AS first, max(event_time) AS last
       FROM read_csv('${file}', header = true) GROUP BY user_id)`,
  q3: `SELECT count(*), sum(n) FROM (SELECT user_id, count(*) AS n FROM events GROUP BY user_id)`,
}[query];
const t0 = performance.now();
// q3 is an ingest's counterpart: every column loaded into a table of a database file (written
// to disk at the CHECKPOINT), then the per-user counts from the table.
const db = await DuckDBInstance.create(query === 'q3' ? dbfile : ':memory:', { threads: String(threads) });
const con = await db.connect();
if (query === 'q3') {
  await con.run(`CREATE TABLE events AS SELECT * FROM read_csv('${file}', header = true)`);
  await con.run('CHECKPOINT');
}
const r = await con.runAndReadAll(sql);
const t1 = performance.now();
console.log(`duckdb ${query}: ${r.getRows()[0].map(String).join(' ')} in ${((t1 - t0) / 1000).toFixed(3)} s`);
JS

# ---- runs ----------------------------------------------------------------------------------------
# timed LABEL CMD...: wall seconds, user+sys CPU seconds and max RSS of CMD (children included).
timed() {
  local label="$1"; shift
  /usr/bin/time -f "$label wall %e cpu %U+%S maxrss_kb %M" "$@" 2> "$label.time" > "$label.out" || {
    cat "$label.out" "$label.time" >&2; exit 1; }
  tail -n 1 "$label.time"
}
ingest() {  # ingest LABEL FILE
  rm -f "$1.h5" "$1.quarantine.csv"
  # shellcheck disable=SC2086
  timed "$1" mpirun $MPIRUN_FLAGS -np "$RANKS" "$ECOM" ingest --input "$2" --store "$1.h5" --key-file bench.key \
    --no-progress
  cp "$1.time" "$1.log"; cat "$1.out" >> "$1.log"
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
ingest plain "$CSV" > /dev/null
ingest gzip "$GZ" > /dev/null
timed zcat sh -c "zcat '$GZ' > /dev/null" > /dev/null
( cd "$DUCKDB_DIR" && timed "$WORK/duckdb_q1" node ecom_bench.mjs "$CSV" "$THREADS" q1 ) > /dev/null
( cd "$DUCKDB_DIR" && timed "$WORK/duckdb_q2" node ecom_bench.mjs "$CSV" "$THREADS" q2 ) > /dev/null
rm -f "$WORK/q3.duckdb" "$WORK/q3.duckdb.wal"
( cd "$DUCKDB_DIR" && timed "$WORK/duckdb_q3" node ecom_bench.mjs "$CSV" "$THREADS" q3 "$WORK/q3.duckdb" ) > /dev/null
q3_bytes=$(stat -c %s "$WORK/q3.duckdb")
rm -f "$WORK/q3.duckdb" "$WORK/q3.duckdb.wal"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- table ---------------------------------------------------------------------------------------
/usr/bin/python3 - "$RANKS" "$rows" "$csv_bytes" "$gz_bytes" "$THREADS" "$load_before" "$load_after" \
  "$(lscpu | sed -n 's/^Model name: *//p')" "$(nproc)" "$EVENTS" "$q3_bytes" "$MPIRUN_FLAGS" > "$WORK/table.txt" <<'PY'
import re, sys
ranks, rows, csv_bytes, gz_bytes, threads = (int(x) for x in sys.argv[1:6])
load_before, load_after, cpu_model, cores, events = sys.argv[6:11]
q3_bytes = int(sys.argv[11])
mpirun_flags = sys.argv[12]
stages = ["check", "read+parse", "shuffle", "digest", "sort", "write", "quarantine"]

def timefile(label):
    m = re.search(r"wall ([\d.]+) cpu ([\d.]+)\+([\d.]+) maxrss_kb (\d+)", open(label + ".time").read())
    return float(m[1]), float(m[2]) + float(m[3]), int(m[4])

def ingest(label):
    log = open(label + ".log").read()
    wall = {s: float(re.search(rf"time ingest/{re.escape(s)}: min [\d.]+ s, avg [\d.]+ s, max ([\d.]+) s", log)[1])
            for s in stages}
    total = float(re.search(r"time ingest: min [\d.]+ s, avg [\d.]+ s, max ([\d.]+) s", log)[1])
    cpu_line = re.search(r"cpu seconds per rank \(max/avg\): (.*); all stages, max over ranks ([\d.]+); "
                         r"all threads \(gzip decoder included\) ([\d.]+)", log)
    cpu_total, cpu_threads = float(cpu_line[2]), float(cpu_line[3])
    cpu_line = cpu_line[1]
    cpu = {s: tuple(float(x) for x in v.split("/")) for s, v in
           (re.match(r"(\S+) ([\d.]+/[\d.]+)", part).groups() for part in cpu_line.split(", "))}
    rss = re.search(r"peak RSS per rank max ([\d.]+) (\w+), total ([\d.]+) (\w+) \(([\d.]+) B per row\)", log)
    unit = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}
    decoder = re.search(r"gzip decoder (\S+)", log)[1]
    return dict(wall=wall, total=total, cpu=cpu, rss_max=float(rss[1]) * unit[rss[2]],
                rss_total=float(rss[3]) * unit[rss[4]], bytes_per_row=float(rss[5]),
                process=timefile(label), decoder=decoder, cpu_total=cpu_total,
                cpu_threads=cpu_threads)

plain, gz = ingest("plain"), ingest("gzip")
zcat = timefile("zcat")
dq1, dq2, dq3 = timefile("duckdb_q1"), timefile("duckdb_q2"), timefile("duckdb_q3")
mb = csv_bytes / 1e6
out = []
p = out.append
p(f"ecom ingest benchmark: {rows:,} events ({events} requested, `ecom synth --preset multi-category --seed 7`), "
  f"plain CSV {csv_bytes / 1e6:.1f} MB, gzip {gz_bytes / 1e6:.1f} MB")
p(f"machine: {cpu_model}, {cores} cores; {ranks} MPI ranks, DuckDB {threads} threads; "
  f"load average before/after: {load_before} / {load_after}")
p(f"gzip decoder: {gz['decoder']}; mpirun flags: '{mpirun_flags}'. Throughput = CSV text bytes (decompressed) / seconds.")
p("")
p("stage         | plain: wall s  MB/s/rank  Mev/s   cpu s/rank (max/avg) | gzip: wall s  MB/s/rank  cpu s/rank (max/avg)")
for s in stages:
    w, c = plain["wall"][s], plain["cpu"][s]
    gw, gc = gz["wall"][s], gz["cpu"][s]
    rate = lambda sec: f"{mb / sec / ranks:9.1f}" if sec > 0 else "        -"
    ev = f"{rows / w / 1e6:6.2f}" if w > 0 else "     -"
    p(f"{s:13} | {w:12.3f} {rate(w)} {ev}   {c[0]:7.3f}/{c[1]:.3f}        | {gw:11.3f} {rate(gw)}   {gc[0]:7.3f}/{gc[1]:.3f}")
for name, r in (("plain", plain), ("gzip", gz)):
    t = r["total"]
    p(f"{name} end to end (ingest stage, max over ranks): {t:.3f} s = {mb / t / ranks:.1f} MB/s per rank, "
      f"{rows / t / 1e6:.2f} M events/s; whole command (mpirun, start-up included): wall {r['process'][0]:.2f} s, "
      f"cpu {r['process'][1]:.2f} s; peak RSS per rank max {r['rss_max']:.1f} MiB, all ranks {r['rss_total']:.1f} MiB "
      f"= {r['bytes_per_row']:.1f} bytes per input event")
p(f"zcat FILE > /dev/null: wall {zcat[0]:.2f} s, cpu {zcat[1]:.2f} s")
p(f"DuckDB q1 (per-user event counts): wall {dq1[0]:.2f} s, cpu {dq1[1]:.2f} s, peak RSS {dq1[2] / 1024:.0f} MiB")
p(f"DuckDB q2 (per-user counts per type, spend, distinct sessions/products/brands/codes, time range: every column parsed): "
  f"wall {dq2[0]:.2f} s, cpu {dq2[1]:.2f} s, peak RSS {dq2[2] / 1024:.0f} MiB")
p(f"DuckDB q3 (load every column into a table of a database file, checkpointed, then per-user event counts: "
  f"the work of an ingest into a store): wall {dq3[0]:.2f} s, cpu {dq3[1]:.2f} s, peak RSS {dq3[2] / 1024:.0f} MiB, "
  f"database {q3_bytes / 1e6:.0f} MB")
# On a shared machine wall times measure the neighbours too. CPU seconds do not: with a core
# per rank, a rank never sleeps (MPI waits spin), so the ingest's wall time is the largest
# per-rank CPU time of the main threads over all stages (the gzip decoder thread runs beside
# them: it is assumed to fit beside the main threads, which holds while other ranks wait for the
# decoding rank; its CPU is printed); zcat's estimate is its CPU time (one thread), DuckDB's its
# CPU time / threads (perfect scaling: favours DuckDB).
est = {n: r["cpu_total"] for n, r in (("plain", plain), ("gzip", gz))}
est_zcat, est_duck = zcat[1], dq1[1] / threads
p(f"cpu seconds, largest rank, main thread / all threads of the process: plain {plain['cpu_total']:.2f} / "
  f"{plain['cpu_threads']:.2f}, gzip {gz['cpu_total']:.2f} / {gz['cpu_threads']:.2f}")
p(f"unloaded estimates (CPU-based, see the script): plain ingest {est['plain']:.2f} s = "
  f"{mb / est['plain'] / ranks:.1f} MB/s per rank; gzip ingest {est['gzip']:.2f} s; zcat {est_zcat:.2f} s; "
  f"DuckDB q1 {est_duck:.2f} s, q2 {dq2[1] / threads:.2f} s")
p("")
p("targets (figures, not tests), measured wall time [unloaded estimate]:")
pt = plain["total"]
verdict = lambda ok: "met" if ok else "missed"
p(f"  plain >= 150 MB/s per rank end to end: {mb / pt / ranks:.1f} MB/s per rank ({verdict(mb / pt / ranks >= 150)}) "
  f"[{mb / est['plain'] / ranks:.1f} MB/s per rank ({verdict(mb / est['plain'] / ranks >= 150)})]")
p(f"  gzip within 1.3x of zcat: ingest {gz['total']:.2f} s / zcat {zcat[0]:.2f} s = {gz['total'] / zcat[0]:.2f}x "
  f"({verdict(gz['total'] <= 1.3 * zcat[0])}) [{est['gzip'] / est_zcat:.2f}x ({verdict(est['gzip'] <= 1.3 * est_zcat)})]")
p(f"  faster than DuckDB per-user counts: ingest {pt:.2f} s vs DuckDB q1 {dq1[0]:.2f} s = {pt / dq1[0]:.2f}x "
  f"({verdict(pt < dq1[0])}) [{est['plain'] / est_duck:.2f}x ({verdict(est['plain'] < est_duck)})]; "
  f"vs q2 {dq2[0]:.2f} s = {pt / dq2[0]:.2f}x; vs q3 (load + counts) {dq3[0]:.2f} s = {pt / dq3[0]:.2f}x")
p(f"  <= 80 bytes per input event peak (all ranks): plain {plain['bytes_per_row']:.1f}, gzip {gz['bytes_per_row']:.1f} "
  f"({'met' if max(plain['bytes_per_row'], gz['bytes_per_row']) <= 80 else 'missed'})")
print("\n".join(out))
PY
cat "$WORK/table.txt"
mkdir -p "$(dirname "$OUT")"
{ echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ)  bench/ingest_compare.sh $EVENTS $RANKS"; cat "$WORK/table.txt"; } > "$OUT"
echo "written: $OUT"
[[ "${KEEP:-0}" == 1 ]] || rm -f "$WORK"/*.h5 "$WORK"/*.quarantine.csv
