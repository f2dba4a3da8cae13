#!/usr/bin/env bash
# Strong and weak scaling of `ecom run` with mpirun, then tables, plots and the model
# (docs/SCALING.md).
#
#   scripts/scaling.sh [options]         runs the experiments and writes OUT/*.csv, OUT/*.png
#   scripts/scaling.sh collect RUNS [OUT] tables, plots and model from finished runs, e.g. the
#                                         Slurm jobs' results/scaling/slurm/<array job id>
# Options (default in brackets):
#   --ranks "LIST"        rank counts                                   ["1 2 4 8"]
#   --strong-events N     events of the strong-scaling set              [200000]
#   --weak-events M       events per rank of the weak-scaling sets      [50000]
#   --repeat R            runs per point; the fastest is kept           [1]
#   --out DIR             tables and plots                              [results/scaling]
#   --work DIR            data and run directories (kept)               [a temporary directory, removed]
#   --bin PATH            the ecom binary                               [build/ecom]
#   --args "ARGS"         extra options for `ecom run`                  ["--k 6"]
# Runs with more ranks than cores (nproc) are oversubscribed: the tables mark them
# (column `oversubscribed`) and the plots shade them. OUT/machine.txt describes the machine
# (lscpu, memory, load before and after).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Waiting ranks yield the core instead of spinning: oversubscribed runs (and a machine shared
# with other work) would otherwise spend their time polling. Override by exporting it.
export OMPI_MCA_mpi_yield_when_idle="${OMPI_MCA_mpi_yield_when_idle:-1}"

if [[ "${1:-}" == collect ]]; then
  runs="${2:?usage: scripts/scaling.sh collect RUNS [OUT]}"
  out="${3:-results/scaling}"
  $PY scripts/plot_scaling.py collect "$runs" "$out"
  $PY scripts/plot_scaling.py plot "$out"
  $PY scripts/plot_scaling.py model "$out"
  exit 0
fi

ranks="1 2 4 8" strong_events=200000 weak_events=50000 repeat=1 out=results/scaling work="" bin=build/ecom
args="--k 6"
while (($#)); do
  case "$1" in
    --ranks) ranks="$2" ;;
    --strong-events) strong_events="$2" ;;
    --weak-events) weak_events="$2" ;;
    --repeat) repeat="$2" ;;
    --out) out="$2" ;;
    --work) work="$2" ;;
    --bin) bin="$2" ;;
    --args) args="$2" ;;
    *) sed -n '2,21p' "$0" >&2; exit 2 ;;
  esac
  shift 2
done
[[ -x "$bin" ]] || { echo "scaling.sh: no ecom binary at $bin (build it, or --bin)" >&2; exit 2; }
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
if [[ -z "$work" ]]; then
  work="$(mktemp -d "${TMPDIR:-/tmp}/ecom-scaling.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/runs" "$out"
nproc > "$work/runs/cores"
(umask 077; printf 'scaling-key-%s' "$RANDOM$RANDOM" > "$work/key")

describe() {
  echo "# $1"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "load average (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
}
{
  echo "# Machine of the reference run (scripts/scaling.sh)"
  echo "ecom: $("$bin" --version)"
  echo "ranks: $ranks; strong: $strong_events events; weak: $weak_events events per rank; repeat: $repeat"
  echo "ecom run options: $args"
  echo "cores (nproc): $(nproc); memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 2^20}' /proc/meminfo)"
  echo "Open MPI: $(mpirun --version 2>/dev/null | head -n 1); mpi_yield_when_idle=$OMPI_MCA_mpi_yield_when_idle"
  echo
  lscpu
  echo
  describe "before"
} > "$out/machine.txt"

# run_point EXPERIMENT RANKS DATA: `ecom run` on DATA with RANKS ranks, `repeat` times; keeps the
# fastest run as RUNS/EXPERIMENT/np<RANKS> with its wall time.
run_point() {
  local exp="$1" n="$2" data="$3" r best="" t0 t1 wall dir
  mkdir -p "$work/runs/$exp"
  for ((r = 0; r < repeat; ++r)); do
    dir="$work/runs/$exp/np$n.try$r"
    rm -rf "$dir"
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    mpirun -np "$n" --oversubscribe "$bin" run --input "$data"/events/*.csv --out "$dir" --key-file "$work/key" \
      --no-progress --log-level warn $args > "$dir.log" 2>&1 || { cat "$dir.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    wall=$(echo "$t1 - $t0" | bc -l 2>/dev/null || $PY -c "print($t1 - $t0)")
    echo "$wall" > "$dir/wall_seconds"
    if [[ -z "$best" ]] || $PY -c "import sys; sys.exit(0 if $wall < $(cat "$best/wall_seconds") else 1)"; then
      best="$dir"
    fi
    printf 'scaling: %-6s np %-2s try %d: %6.1f s\n' "$exp" "$n" "$r" "$wall"
  done
  rm -rf "$work/runs/$exp/np$n"
  mv "$best" "$work/runs/$exp/np$n"
  rm -rf "$work/runs/$exp/np$n.try"*
}

"$bin" synth --events "$strong_events" --seed 1 --out "$work/data-strong" --no-progress --log-level warn
for n in $ranks; do run_point strong "$n" "$work/data-strong"; done
for n in $ranks; do
  "$bin" synth --events "$((weak_events * n))" --seed 1 --out "$work/data-weak-$n" --no-progress --log-level warn
  run_point weak "$n" "$work/data-weak-$n"
done
describe "after" >> "$out/machine.txt"

$PY scripts/plot_scaling.py collect "$work/runs" "$out"
$PY scripts/plot_scaling.py plot "$out"
$PY scripts/plot_scaling.py model "$out"
