#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, generates a synthetic data set
# and runs the main job on it. Usage: scripts/demo.sh [events] [ranks]
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-200000}"
ranks="${2:-$(nproc)}"
scripts/setup.sh
scripts/build.sh release
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
out=demo
rm -rf "$out"
mkdir -p "$out"
umask 077
[[ -f "$out/key" ]] || head -c 32 /dev/urandom > "$out/key"
chmod 600 "$out/key"
mpirun -np "$ranks" build/ecom synth --preset multi-category --events "$events" --seed 1 --out "$out/data"
echo
echo "Synthetic events:  $out/data/events/   ground truth: $out/data/truth/"
