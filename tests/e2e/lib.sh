# Shared helpers for the end-to-end tests (sourced).
set -euo pipefail
: "${ECOM:?ECOM must point at the ecom binary}"
: "${ECOM_SOURCE_DIR:?}"
MPIEXEC="${MPIEXEC:-mpirun}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
PY=/usr/bin/python3
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ecom-e2e.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
mpi() { local n="$1"; shift; "$MPIEXEC" -np "$n" --oversubscribe "$ECOM" "$@"; }
make_key() { (umask 077; printf '%s' "${2:-test-key-0123456789}" > "$1"); }
