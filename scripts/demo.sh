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
mpirun -np "$ranks" build/ecom run --input "$out/data/events/*.csv" --out "$out/run" \
  --key-file "$out/key"
echo
echo "Synthetic events:   $out/data/events/   (planted truth: $out/data/truth/)"
echo "Event store:        $out/run/events.h5  (rejected rows: $out/run/events.quarantine.csv)"
echo "Data profile:       $out/run/profile/*.csv"
echo "Segments:           $out/run/customer_segments.csv, segment_profiles.csv, k_selection.csv"
echo "Recommendations:    $out/run/recommendations.csv"
echo "Everything (HDF5):  $out/run/ecom.h5   metrics and timings: $out/run/run.json"
