#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with warnings as errors, runs
# every test (unit, MPI with 1-4 ranks, end-to-end). Usage: scripts/test.sh [--asan]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-tests
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
preset=release
if [[ "${1:-}" == "--asan" ]]; then
  preset=asan
  export ASAN_OPTIONS=detect_leaks=0  # leaks inside Open MPI only; see CONVENTIONS.md
fi
scripts/build.sh "$preset"
ctest --preset "$preset" -j "$(nproc)" --timeout 900
