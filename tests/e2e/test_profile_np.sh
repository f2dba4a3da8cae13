#!/usr/bin/env bash
# Event store and profile across rank counts:
#  1. the same events written with np 1, 2, 3 and 4 (two partitions each, by the MPI test
#     binary mpi_test_io_store) give identical stores (h5diff, whole files, /events included);
#  2. `ecom profile` of the np-4 store with np 1 and with np 4 gives byte-identical CSV files
#     and identical /profile groups;
#  3. every figure of that profile equals an independent numpy/h5py computation over the
#     store's columns (check_profile_store.py), and the store's /profile group holds the same.
source "$(dirname "$0")/lib.sh"
: "${ECOM_BUILD_DIR:?}"
WRITER="$ECOM_BUILD_DIR/tests/mpi_test_io_store"
[[ -x "$WRITER" ]] || fail "missing $WRITER (build target mpi_test_io_store)"
HERE="$(cd "$(dirname "$0")" && pwd)"

for n in 1 2 3 4; do
  ECOM_STORE_TEST_OUT="$WORK/store_np$n.h5" ECOM_STORE_TEST_EVENTS=20000 \
    "$MPIEXEC" -np "$n" --oversubscribe "$WRITER" --gtest_filter='EventStore.WriteStoreForComparison' \
    > "$WORK/writer_np$n.log" 2>&1 || { cat "$WORK/writer_np$n.log"; fail "writing the store with np $n"; }
  [[ -f "$WORK/store_np$n.h5" ]] || fail "no store written with np $n"
done
for n in 2 3 4; do
  h5diff "$WORK/store_np1.h5" "$WORK/store_np$n.h5" || fail "store np1 and np$n differ (h5diff)"
  for p in 0000 0001; do
    h5diff "$WORK/store_np1.h5" "$WORK/store_np$n.h5" /partitions/$p/events /partitions/$p/events \
      || fail "/partitions/$p/events differ between np1 and np$n"
  done
done
ok "stores written with np 1, 2, 3, 4 are identical (h5diff)"

cp "$WORK/store_np4.h5" "$WORK/a.h5"
cp "$WORK/store_np4.h5" "$WORK/b.h5"
mpi 1 profile --store "$WORK/a.h5" --out "$WORK/prof1" --no-progress --log-level warn
mpi 4 profile --store "$WORK/b.h5" --out "$WORK/prof4" --no-progress --log-level warn
diff -r "$WORK/prof1" "$WORK/prof4" || fail "profile CSVs differ between np 1 and np 4"
[[ $(ls "$WORK/prof1"/*.csv | wc -l) -eq 8 ]] || fail "expected 8 CSV files, got $(ls "$WORK/prof1")"
h5diff "$WORK/a.h5" "$WORK/b.h5" /profile /profile || fail "/profile differs between np 1 and np 4"
h5diff "$WORK/a.h5" "$WORK/store_np4.h5" /partitions /partitions || fail "profile changed the events"
[[ ! -e "$WORK/a.h5.tmp" ]] || fail "temporary store left behind"
ok "a store written with np 4 profiles identically with np 1 and np 4"

$PY "$HERE/check_profile_store.py" "$WORK/a.h5" "$WORK/prof1" || fail "profile differs from numpy/h5py"
ok "profile figures equal an independent numpy computation"

# A missing store: one line, non-zero exit.
set +e
err=$(mpi 2 profile --store "$WORK/missing.h5" --out "$WORK/x" 2>&1); rc=$?
set -e
[[ $rc -eq 3 ]] || fail "missing store: exit $rc, expected 3"
# (mpirun adds its own lines about the exit status; ours is the one ecom: line)
[[ "$(printf '%s\n' "$err" | grep '^ecom:')" == "ecom: event store not found: $WORK/missing.h5" ]] \
  || fail "message: $err"
[[ $(printf '%s\n' "$err" | grep -c 'ecom:') -eq 1 ]] || fail "expected one ecom: line: $err"
ok "missing store: one line, exit 3"
