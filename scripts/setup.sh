#!/usr/bin/env bash
# Installs what ecom needs on Debian 12 (apt-get, as root). Not root: prints what to install.
# Usage: scripts/setup.sh [--with-tests]   (sourced by demo.sh and test.sh)
set -euo pipefail
PKGS=(libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools libeigen3-dev libcli11-dev
      zlib1g-dev libisal-dev libssl-dev nlohmann-json3-dev libgtest-dev cmake g++ make pkg-config git
      ca-certificates)
TEST_PKGS=(python3 python3-numpy python3-h5py python3-sklearn python3-scipy python3-matplotlib
           gawk gzip clang-format clang libclang-rt-14-dev
           postgresql chromium)  # the warehouse load test (a real server) and the report test
# A real single-node Slurm for tests/e2e/test_slurm.sh, which starts the daemons itself as root
# (it is skipped when not root, so these are only wanted then).
SLURM_PKGS=(slurm-wlm slurmctld slurmd slurm-client munge)
want=("${PKGS[@]}")
[[ "${1:-}" == "--with-tests" ]] && want+=("${TEST_PKGS[@]}")
[[ "${1:-}" == "--with-tests" && $(id -u) -eq 0 ]] && want+=("${SLURM_PKGS[@]}")
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "ecom: missing packages: ${missing[*]}" >&2
  echo "Install them with:  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  echo "On a cluster, load the equivalent modules instead, e.g.:" >&2
  echo "  module load gcc/12 openmpi/4.1 hdf5/1.10-mpi eigen/3.4 cmake/3.25" >&2
  exit 1
fi
echo "ecom: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
