#!/usr/bin/env bash
# ALS, top-N and `ecom score` figures, side by side with the NumPy/SciPy reference
# (bench/als_reference.py) on the same interaction matrix, same factors, same cores. Not a test:
# it prints figures and writes results/bench/als.txt.
#
#   bench/bench_als.sh [events=10000000] [ranks=2] [build=build] [iterations=15]
#
# 1. `ecom synth --preset multi-category --events N --seed 1` and `ecom ingest` (np = ranks) into
#    $BENCH_DIR (default /tmp/ecom-bench-als), reused when present (REBUILD_DATA=1 redoes it);
# 2. build/bench/bench_als (np = ranks) on the store: interactions, the keyed 20% holdout, the
#    matrix exported to matrix.h5, ALS (50 factors, lambda 0.1, alpha 1, CG 3 steps, double),
#    seconds and CPU seconds per iteration by phase, holdout metrics, top-10 for every user;
# 3. bench/als_reference.py on matrix.h5 with `ranks` Python threads (BLAS single-threaded in
#    each: OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1). Its BLAS is Debian's default
#    (libblas3, netlib) unless OPENBLAS_DIR names a directory holding OpenBLAS's libblas.so.3,
#    e.g. from `apt-get download libopenblas0-pthread && dpkg -x libopenblas0-pthread_*.deb x`
#    (x/usr/lib/x86_64-linux-gnu/openblas-pthread);
# 4. `ecom analyze` of the store (np = ranks; segmentation with k = 5, no gap or bootstrap) and
#    `ecom score` latency for batches of 1,000 and 100,000 events (rows drawn at random from the
#    input, so their users have history in the store), with np 1 and np = ranks.
# REUSE_REFERENCE=1 keeps an earlier reference.txt of the same data (the reference takes ~25 min).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
events="${1:-10000000}"
ranks="${2:-2}"
build="${3:-$ROOT/build}"
iterations="${4:-15}"
ECOM="$build/ecom"
BENCH="$build/bench/bench_als"
[[ -x "$ECOM" && -x "$BENCH" ]] || { echo "build ecom and bench_als in $build first" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
dir="${BENCH_DIR:-/tmp/ecom-bench-als}"
mkdir -p "$dir"
key="$dir/key"
[[ -f "$key" ]] || (umask 077; printf 'bench-key-0123456789' > "$key")
q=(--no-progress --log-level warn)

if [[ ! -f "$dir/events.h5" || "${REBUILD_DATA:-0}" == 1 ]]; then
  rm -rf "$dir/data" "$dir/events.h5" "$dir/run"
  mpirun -np "$ranks" "$ECOM" synth --preset multi-category --events "$events" --seed 1 --out "$dir/data" "${q[@]}"
  mpirun -np "$ranks" "$ECOM" ingest --input "$dir/data/events/*" --store "$dir/events.h5" --key-file "$key" "${q[@]}"
fi

echo "== ecom ALS (np $ranks)" >&2
mpirun -np "$ranks" "$BENCH" "$dir/events.h5" "$dir/matrix.h5" 50 "$iterations" 3 double 1 | tee "$dir/ecom.txt" >&2
if [[ "${REUSE_REFERENCE:-0}" == 1 && -s "$dir/reference.txt" ]]; then
  echo "== NumPy/SciPy reference: reusing $dir/reference.txt (REUSE_REFERENCE=1)" >&2
else
  echo "== NumPy/SciPy reference ($ranks threads)" >&2
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 LD_LIBRARY_PATH="${OPENBLAS_DIR:-}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    /usr/bin/python3 "$HERE/als_reference.py" "$dir/matrix.h5" "$ranks" "$iterations" | tee "$dir/reference.txt" >&2
fi

echo "== ecom score latency" >&2
if [[ ! -f "$dir/run/ecom.h5" ]]; then
  rm -rf "$dir/run"
  mpirun -np "$ranks" "$ECOM" analyze --store "$dir/events.h5" --out "$dir/run" --k 5 --gap-references 0 \
    --stability-resamples 0 --run-time 2020-01-01T00:00:00Z "${q[@]}"
fi
ln -sf "$dir/events.h5" "$dir/run/events.h5"
/usr/bin/python3 - "$dir/data/events/2019-10.csv" "$dir" <<'EOF'
import random, sys
src, d = sys.argv[1], sys.argv[2]
with open(src) as f:
    header = f.readline()
    lines = f.readlines()
rng = random.Random(1)
for n in (1000, 100000):
    with open(f"{d}/batch_{n}.csv", "w") as out:
        out.write(header)
        out.writelines(rng.sample(lines, n))
EOF
: > "$dir/score.txt"
for n in 1000 100000; do
  for np_ in 1 "$ranks"; do
    best=""
    for rep in 1 2 3; do
      rm -rf "$dir/score_out"
      t0=$(date +%s.%N)
      mpirun -np "$np_" "$ECOM" score --model "$dir/run" --input "$dir/batch_$n.csv" --out "$dir/score_out" \
        --key-file "$key" "${q[@]}"
      t1=$(date +%s.%N)
      wall=$(echo "$t1 - $t0" | bc)
      inproc=$(/usr/bin/python3 -c "import json;print(json.load(open('$dir/score_out/score.json'))['seconds'])")
      if [[ -z "$best" ]] || (( $(echo "$inproc < ${best#* }" | bc) )); then best="$wall $inproc"; fi
    done
    users=$(/usr/bin/python3 -c "import json;j=json.load(open('$dir/score_out/score.json'));print(j['users'], j['history_events'])")
    echo "score_${n}_np${np_} $best $users" | tee -a "$dir/score.txt" >&2
    /usr/bin/python3 -c "import json;j=json.load(open('$dir/score_out/score.json'));print('  ', ', '.join(f\"{s['stage']} {s['max']:.3f}\" for s in j['stages']))" >&2
  done
done

/usr/bin/python3 - "$dir" "$ranks" "$events" "$iterations" "$ROOT/results/bench/als.txt" <<'EOF'
import os, platform, sys
d, ranks, events, iters, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def load(p):
    return {l.split()[0]: l.split()[1] for l in open(p) if len(l.split()) >= 2}
e, r = load(f"{d}/ecom.txt"), load(f"{d}/reference.txt")
f = float
L = []
L.append(f"# implicit ALS: ecom ({ranks} MPI ranks, double) vs NumPy {r['numpy_version']} / SciPy {r['scipy_version']} "
         f"reference (bench/als_reference.py, {r['threads']} threads, BLAS {os.path.basename(os.path.dirname(r['blas']))}/{os.path.basename(r['blas'])})")
L.append(f"# data: ecom synth --preset multi-category --events {events} --seed 1 -> {int(f(e['users']))} users, "
         f"{int(f(e['products']))} products, {int(f(e['train_pairs']))} training pairs, {int(f(e['test_pairs']))} held out (keyed 20%)")
L.append(f"# model: {int(f(e['factors']))} factors, lambda 0.1, alpha 1, CG {int(f(e['cg_steps']))} steps warm-started, "
         f"{iters} iterations; machine: {os.cpu_count()} cores ({platform.machine()}), load average at the end {open('/proc/loadavg').read().split()[0]}")
L.append(f"# command: bench/bench_als.sh {events} {ranks}; wall = elapsed, cpu = CPU seconds (ecom: per rank, max; "
         "reference: all threads together)")
L.append("")
L.append(f"{'measure':<44}{'ecom':>14}{'reference':>14}{'ratio':>9}")
def row(name, a, b, fmt="{:.4g}"):
    ratio = (a / b) if b else float('nan')
    L.append(f"{name:<44}{fmt.format(a):>14}{fmt.format(b):>14}{ratio:>9.3f}")
row("seconds per iteration (wall)", f(e["seconds_per_iteration"]), f(r["seconds_per_iteration"]))
row("CPU seconds per iteration", f(e["cpu_seconds_per_iteration"]), f(r["cpu_seconds_per_iteration"]))
row("training loss after the last iteration", f(e["final_loss"]), f(r["final_loss"]), "{:.6g}")
for m in ("precision_at_10", "recall_at_10", "map_at_10", "ndcg_at_10"):
    row(f"ALS {m.replace('_at_', '@')} (holdout)", f(e["als_" + m]), f(r["als_" + m]))
row("popularity precision@10 (holdout)", f(e["popularity_precision_at_10"]), f(r["popularity_precision_at_10"]))
row("top-10 for every user, seconds (wall)", f(e["topn_seconds"]), f(r["topn_seconds"]))
row("top-10 for every user, CPU seconds", f(e["topn_cpu_seconds"]), f(r["topn_cpu_seconds"]))
L.append("")
L.append(f"ecom per-iteration phases (wall, max over ranks): solve {f(e['solve_seconds_per_iteration']):.3f} s, "
         f"factor exchange {f(e['exchange_seconds_per_iteration']):.3f} s, Gram {f(e['gram_seconds_per_iteration']):.3f} s, "
         f"loss {f(e['loss_seconds_per_iteration']):.3f} s; setup (transpose, plans) {f(e['setup_seconds']):.3f} s")
L.append(f"ecom ALS AUC {f(e['als_auc']):.4f}, catalogue coverage {f(e['als_coverage']):.4f}; popularity AUC {f(e['popularity_auc']):.4f}")
L.append("")
L.append("ecom score latency (best of 3; wall includes mpirun start-up, in-process is run_score's own time):")
L.append(f"{'batch':<22}{'ranks':>6}{'wall s':>10}{'in-process s':>14}{'users':>8}{'history events':>16}")
for l in open(f"{d}/score.txt"):
    k, wall, inproc, users, hist = l.split()
    n, np_ = k.split("_")[1], k.split("_")[2][2:]
    L.append(f"{n + ' events':<22}{np_:>6}{f(wall):>10.3f}{f(inproc):>14.3f}{users:>8}{hist:>16}")
os.makedirs(os.path.dirname(out), exist_ok=True)
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
EOF
