#!/usr/bin/env bash
# k-means and PCA against scikit-learn and numpy on the same matrices, plus seconds per stage of
# the run that made them. Not a test: it prints figures and writes results/bench/kmeans.txt.
#
#   bench/bench_kmeans.sh [events=10000000] [ranks=2] [k=5] [build=build]
#
# 1. `ecom synth --preset multi-category --events N`, then `ecom run` (np = ranks, --k k, no
#    recommendations) into $BENCH_DIR (default /tmp/ecom-bench-kmeans): stage seconds from run.json;
# 2. build/bench/bench_kmeans (np = ranks) on RUNDIR/ecom.h5: Lloyd seconds per iteration from
#    a fixed start (the first k users), tol 0, 20 iterations; k-means|| + Lloyd 10 times, best
#    inertia; PCA of /users/transformed;
# 3. bench/bench_kmeans_sklearn.py with OMP_NUM_THREADS = ranks on the same ecom.h5: the same
#    fixed-start Lloyd, KMeans(n_init=10) best inertia, numpy cov + eigh.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
events="${1:-10000000}"
ranks="${2:-2}"
k="${3:-5}"
build="${4:-$ROOT/build}"
ECOM="$build/ecom"
BENCH="$build/bench/bench_kmeans"
[[ -x "$ECOM" && -x "$BENCH" ]] || { echo "build ecom and bench_kmeans in $build first" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
dir="${BENCH_DIR:-/tmp/ecom-bench-kmeans}"
mkdir -p "$dir"
key="$dir/key"
[[ -f "$key" ]] || (umask 077; printf 'bench-key-0123456789' > "$key")

if [[ ! -f "$dir/run/ecom.h5" || "${REBUILD_DATA:-0}" == 1 ]]; then
  rm -rf "$dir/data" "$dir/run"
  mpirun -np "$ranks" "$ECOM" synth --preset multi-category --events "$events" --seed 1 \
    --out "$dir/data" --no-progress --log-level warn
  mpirun -np "$ranks" "$ECOM" run --input "$dir/data/events/*" --out "$dir/run" --key-file "$key" \
    --k "$k" --no-recommend --gap-references 0 --stability-resamples 0 --run-time 2020-01-01T00:00:00Z \
    --no-progress --log-level warn
fi

mpirun -np "$ranks" "$BENCH" "$dir/run/ecom.h5" "$k" 10 20 > "$dir/ecom.txt"
OMP_NUM_THREADS="$ranks" OPENBLAS_NUM_THREADS="$ranks" /usr/bin/python3 "$HERE/bench_kmeans_sklearn.py" \
  "$dir/run/ecom.h5" "$k" 10 20 > "$dir/sklearn.txt"

/usr/bin/python3 - "$dir" "$ranks" "$events" "$ROOT/results/bench/kmeans.txt" <<'EOF'
import json, sys, platform, os, subprocess
d, ranks, events, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def load(p):
    return {l.split()[0]: l.split()[1] for l in open(p) if l.strip()}
e, s = load(f"{d}/ecom.txt"), load(f"{d}/sklearn.txt")
rj = json.load(open(f"{d}/run/run.json"))
f = lambda v: float(v)
lines = []
lines.append(f"# k-means and PCA: ecom ({ranks} MPI ranks) vs scikit-learn {s['sklearn_version']} / numpy ({s['threads']} threads)")
lines.append(f"# data: ecom synth --preset multi-category --events {events}: {rj['counts']['events']} events, "
             f"{int(f(e['users']))} users; matrix users x {int(f(e['dims']))} PCA components; k = {int(f(e['k']))}")
lines.append(f"# machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), shared; command: bench/bench_kmeans.sh {events} {ranks}")
lines.append("")
lines.append(f"{'measure':<48}{'ecom':>16}{'sklearn/numpy':>16}{'ratio':>10}")
def row(name, a, b, fmt="{:.6g}"):
    r = a / b if b else float('nan')
    lines.append(f"{name:<48}{fmt.format(a):>16}{fmt.format(b):>16}{r:>10.3f}")
row("Lloyd s/iter, fixed start, tol 0", f(e['fixed_seconds_per_iter']), f(s['fixed_seconds_per_iter']))
row("  iterations (fixed start)", f(e['fixed_iterations']), f(s['fixed_iterations']), "{:.0f}")
row("  inertia after them", f(e['fixed_inertia']), f(s['fixed_inertia']), "{:.10g}")
row("best inertia of 10 initialisations", f(e['best_inertia']), f(s['best_inertia']), "{:.10g}")
row("seconds, 10 initialisations in all", f(e['full_seconds']), f(s['full_seconds']))
row("PCA: moments / np.cov seconds", f(e['pca_moments_seconds']), f(s['pca_cov_seconds']))
row("PCA: eigen-decomposition seconds", f(e['pca_eigen_seconds']), f(s['pca_eigen_seconds']))
i = 0
worst = 0.0
top = f(s["pca_eigenvalue_0"])
while f"pca_eigenvalue_{i}" in e:
    a, b = f(e[f"pca_eigenvalue_{i}"]), f(s[f"pca_eigenvalue_{i}"])
    worst = max(worst, abs(a - b) / top)
    i += 1
lines.append(f"{'PCA eigenvalues, max |difference| / largest':<48}{worst:>16.3g}")
gap = (f(e['best_inertia']) - f(s['best_inertia'])) / f(s['best_inertia'])
lines.append("")
lines.append(f"inertia: ecom best-of-10 is {100 * gap:+.4f}% vs scikit-learn's best of 10 (target: within 1%)")
lines.append(f"Lloyd s/iter ratio ecom/sklearn: {f(e['fixed_seconds_per_iter']) / f(s['fixed_seconds_per_iter']):.3f} (target <= 1)")
lines.append("")
lines.append("ecom k-means++ initialisations (k-means|| + Lloyd, default tol 1e-4):")
for r in range(10):
    p = f"init_{r}_"
    if p + "inertia" not in e: break
    it = f(e[p + 'iterations'])
    lines.append(f"  init {r}: inertia {f(e[p+'inertia']):.10g}, {it:.0f} iterations, init {f(e[p+'init_seconds']):.3f} s, "
                 f"Lloyd {f(e[p+'lloyd_seconds']):.3f} s ({f(e[p+'lloyd_seconds'])/max(it,1)*1e3:.2f} ms/iter)")
lines.append("")
lines.append(f"stages of the run that made the matrices (ecom run, np {rj['ranks']}; seconds, max over ranks):")
for st in rj["stages"]:
    lines.append(f"  {st['stage']:<40}{st['max']:>10.3f}")
text = "\n".join(lines) + "\n"
os.makedirs(os.path.dirname(out), exist_ok=True)
open(out, "w").write(text)
print(text, end="")
EOF
