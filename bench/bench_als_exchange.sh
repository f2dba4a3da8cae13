#!/usr/bin/env bash
# ALS factor exchange figures: alltoallv vs sparse (par/exchange.hpp) at np 2, 4 and 8 (8 is
# oversubscribed on small machines) on one store. Not a test: it prints figures and writes
# results/bench/exchange.txt.
#
#   bench/bench_als_exchange.sh [events=2000000] [iterations=5] [build=build] [nps="2 4 8"]
#
# The store is `ecom synth --preset multi-category --events N --seed 1` ingested at np 2 into
# $BENCH_DIR (default /tmp/ecom-bench-exchange), reused when present. Each (np, exchanger) runs
# build/bench/bench_als --train-only (50 factors, CG 3, double); the figures are the max over
# ranks of the per-iteration wall seconds and of its factor-exchange part, and the checksum of
# all factors (equal for every np and exchanger when the factors are bit-identical).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
events="${1:-2000000}"
iterations="${2:-5}"
build="${3:-$ROOT/build}"
nps="${4:-2 4 8}"
ECOM="$build/ecom"
BENCH="$build/bench/bench_als"
[[ -x "$ECOM" && -x "$BENCH" ]] || { echo "build ecom and bench_als in $build first" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
dir="${BENCH_DIR:-/tmp/ecom-bench-exchange}"
mkdir -p "$dir"
key="$dir/key"
[[ -f "$key" ]] || (umask 077; printf 'bench-key-0123456789' > "$key")
q=(--no-progress --log-level warn)
if [[ ! -f "$dir/events.h5" ]]; then
  rm -rf "$dir/data"
  mpirun -np 2 "$ECOM" synth --preset multi-category --events "$events" --seed 1 --out "$dir/data" "${q[@]}"
  mpirun -np 2 "$ECOM" ingest --input "$dir/data/events/*" --store "$dir/events.h5" --key-file "$key" "${q[@]}"
fi
out="$dir/exchange.raw"
: > "$out"
for np_ in $nps; do
  for ex in alltoallv sparse; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    mpirun -np "$np_" "$BENCH" "$dir/events.h5" - 50 "$iterations" 3 double 1 --exchange "$ex" \
      --train-only > "$dir/run.txt"
    get() { awk -v k="$1" '$1 == k {print $2}' "$dir/run.txt"; }
    line="$np_ $ex $(get seconds_per_iteration) $(get exchange_seconds_per_iteration) $(get setup_seconds) $(get factors_checksum) $load"
    echo "$line" | tee -a "$out" >&2
  done
done
/usr/bin/python3 - "$out" "$events" "$iterations" "$ROOT/results/bench/exchange.txt" <<'PY'
import os, sys
raw, events, iters, dst = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = [l.split() for l in open(raw) if l.strip()]
L = [f"# ALS factor exchange: alltoallv vs sparse (bench/bench_als_exchange.sh {events} {iters})",
     f"# data: ecom synth --preset multi-category --events {events} --seed 1; 50 factors, CG 3, double, "
     f"{iters} iterations; machine: {os.cpu_count()} cores shared with other jobs (load average before "
     "each run in the last column); np > cores is oversubscribed",
     "# seconds: max over ranks; exchange = the factor-row exchanges of an iteration (both sides)",
     "",
     f"{'np':>3} {'exchanger':<10}{'s/iteration':>12}{'exchange s/it':>15}{'setup s':>9}  {'factors checksum':<18}{'load':>6}"]
for np_, ex, it, xs, setup, ck, load in rows:
    L.append(f"{np_:>3} {ex:<10}{float(it):>12.4f}{float(xs):>15.4f}{float(setup):>9.3f}  {ck:<18}{load:>6}")
sums = {r[5] for r in rows}
L.append("")
L.append("factors bit-identical across np and exchangers: " + ("yes" if len(sums) == 1 else "NO"))
os.makedirs(os.path.dirname(dst), exist_ok=True)
open(dst, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
