#!/usr/bin/env bash
# Strong and weak scaling of `ecom run` with mpirun, then tables, plots and the model
# (docs/SCALING.md).
#
#   scripts/scaling.sh [options]         runs the experiments and writes OUT/*.csv, OUT/*.png
#   scripts/scaling.sh collect RUNS [OUT] tables, plots and model from finished runs, e.g. the
#                                         Slurm jobs' results/scaling/slurm/<array job id>
# Options (default in brackets):
#   --ranks "LIST"        rank counts                                   ["1 2 4 8"]
#   --strong-events N     events of the strong-scaling set              [400000]
#   --weak-events M       events per rank of the weak-scaling sets      [50000]
#   --repeat R            rounds over all points; per point the fastest run is kept   [1]
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

ranks="1 2 4 8" strong_events=400000 weak_events=50000 repeat=1 out=results/scaling work="" bin=build/ecom
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

# run_try EXPERIMENT RANKS DATA TRY: `ecom run` on DATA with RANKS ranks into
# RUNS/EXPERIMENT/np<RANKS>.try<TRY>, with its wall time and the external load during it.
run_try() {
  local exp="$1" n="$2" data="$3" r="$4" t0 t1 wall dir mpid
  dir="$work/runs/$exp/np$n.try$r"
  mkdir -p "$work/runs/$exp"
  rm -rf "$dir"
  cpu0=$(head -n 1 /proc/stat)
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  mpirun -np "$n" --oversubscribe "$bin" run --input "$data"/events/*.csv --out "$dir" --key-file "$work/key" \
    --no-progress $args > "$dir.log" 2>&1 &
  mpid=$!
  # Runnable processes (procs_running) every 0.2 s while it runs: the machine is shared, and
  # the other work competing for the cores is part of the measurement (docs/SCALING.md).
  while kill -0 "$mpid" 2> /dev/null; do
    awk '/^procs_running/ {print $2}' /proc/stat
    sleep 0.2
  done > "$dir.running"
  wait "$mpid" || { cat "$dir.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  cpu1=$(head -n 1 /proc/stat)
  mv "$dir.log" "$dir/ecom.log"  # plot_scaling.py reads the ALS scoring times from it
  wall=$($PY -c "print(round($t1 - $t0, 3))")
  echo "$wall" > "$dir/wall_seconds"
  # External load: mean runnable processes minus this run's ranks and the sampling awk.
  awk -v n="$n" '{ s += $1; c++ } END { v = (c ? s / c : 0) - n - 1; printf "%.2f\n", (v > 0 ? v : 0) }' \
    "$dir.running" > "$dir/external_load"
  # Share of the machine's CPU time during the run spent in niced processes (the other sessions'
  # builds and tests run under nice -n 19, this measurement at normal priority): /proc/stat's
  # "nice" column against the total (user nice system idle iowait irq softirq steal).
  printf '%s\n%s\n' "$cpu0" "$cpu1" | awk '{ t = 0; for (i = 2; i <= 9; ++i) t += $i; n[NR] = $3; T[NR] = t }
    END { d = T[2] - T[1]; printf "%.3f\n", (d > 0 ? (n[2] - n[1]) / d : 0) }' > "$dir/nice_share"
  printf 'scaling: %-6s np %-2s try %d: %6.1f s, external load %s (niced CPU share %s)\n' "$exp" "$n" "$r" \
    "$wall" "$(cat "$dir/external_load")" "$(cat "$dir/nice_share")"
}

# keep_fastest EXPERIMENT RANKS: the try with the shortest wall time becomes RUNS/EXPERIMENT/np<RANKS>.
keep_fastest() {
  local exp="$1" n="$2" best
  best=$(for d in "$work/runs/$exp/np$n.try"*/; do echo "$(cat "$d/wall_seconds") $d"; done | sort -g | head -n 1 | cut -d' ' -f2)
  rm -rf "$work/runs/$exp/np$n"
  mv "${best%/}" "$work/runs/$exp/np$n"
  rm -rf "$work/runs/$exp/np$n.try"*
}

"$bin" synth --events "$strong_events" --seed 1 --out "$work/data-strong" --no-progress --log-level warn
for n in $ranks; do
  "$bin" synth --events "$((weak_events * n))" --seed 1 --out "$work/data-weak-$n" --no-progress --log-level warn
done
# Rounds over every point, so that changes of the machine's load spread over all of them.
for ((r = 0; r < repeat; ++r)); do
  for n in $ranks; do run_try strong "$n" "$work/data-strong" "$r"; done
  for n in $ranks; do run_try weak "$n" "$work/data-weak-$n" "$r"; done
done
for n in $ranks; do keep_fastest strong "$n"; keep_fastest weak "$n"; done
describe "after" >> "$out/machine.txt"

$PY scripts/plot_scaling.py collect "$work/runs" "$out"
$PY scripts/plot_scaling.py plot "$out"
$PY scripts/plot_scaling.py model "$out"
