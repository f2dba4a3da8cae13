#!/usr/bin/env bash
# Two writers into one store at once (issue 16, item 1). Several trials of two concurrent
# `ecom ingest` appends (np 2 each, every step under `timeout`):
#  - with --lock-timeout 0: each either succeeds (its partition is in the store, with its file
#    in the manifest) or fails with exit 5 and one line naming the holder (host, pid, command,
#    since), claiming no partition and leaving nothing of its file in the store;
#  - with --lock-timeout 60: both succeed, one after the other, both partitions present.
# Also: a lock held by another process makes `purge` and `forget` fail the same way.
source "$(dirname "$0")/lib.sh"
DATA="$ECOM_SOURCE_DIR/tests/data"
key="$WORK/k.key"
make_key "$key"
cd "$WORK"
zcat "$DATA/multi_category_2019_oct_head_17k.csv.gz" > all.csv
head -1 all.csv > A.csv; sed -n 2,1000p all.csv >> A.csv
head -1 all.csv > B1.csv; sed -n 1001,4000p all.csv >> B1.csv
head -1 all.csv > B2.csv; sed -n 4001,7000p all.csv >> B2.csv
ing() { timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" ingest --key-file "$key" --no-progress "$@"; }

# Files named in the store's manifest, one per line.
manifest_names() {
  $PY - "$1" <<'PY'
import h5py, sys
with h5py.File(sys.argv[1], "r") as f:
    def visit(name, obj):
        if isinstance(obj, h5py.Group) and "name" in obj.attrs:
            v = obj.attrs["name"]
            print(v.decode() if isinstance(v, bytes) else v)
    f["manifest"].visititems(visit)
PY
}
partitions() { h5ls "$1/partitions" | wc -l; }

for trial in 1 2 3; do
  rm -f s.h5 s.h5.lock s.quarantine.csv
  ing --input A.csv --store s.h5 > a.log 2>&1 || { cat a.log; fail "trial $trial: first ingest"; }
  set +e
  ing --input B1.csv --store s.h5 > b1.log 2>&1 & p1=$!
  ing --input B2.csv --store s.h5 > b2.log 2>&1 & p2=$!
  wait $p1; rc1=$?
  wait $p2; rc2=$?
  set -e
  expect=1
  for b in 1 2; do
    rc=$([[ $b == 1 ]] && echo $rc1 || echo $rc2)
    if [[ $rc == 0 ]]; then
      expect=$((expect + 1))
      grep -q -- "-> partition [12] of s.h5" b$b.log || fail "trial $trial: B$b: no partition reported: $(cat b$b.log)"
      manifest_names s.h5 | grep -qx "B$b.csv" || fail "trial $trial: B$b reported success but its file is not in the store"
    elif [[ $rc == 5 ]]; then
      grep -Eq "^ecom: event store s.h5 is locked by another writer \(host .+, pid [0-9]+, command .*ingest.*, since [0-9T:-]+Z\)" b$b.log \
        || fail "trial $trial: B$b: exit 5 without the holder line: $(cat b$b.log)"
      [[ $(grep -c "^ecom:" b$b.log) == 1 ]] || fail "trial $trial: B$b: more than one line: $(cat b$b.log)"
      grep -q -- "-> partition" b$b.log && fail "trial $trial: B$b failed but reported a partition"
      manifest_names s.h5 | grep -qx "B$b.csv" && fail "trial $trial: B$b failed but its file is in the store"
    else
      cat b$b.log; fail "trial $trial: B$b: exit $rc (expected 0 or 5)"
    fi
  done
  [[ $(partitions s.h5) == "$expect" ]] || fail "trial $trial: $(partitions s.h5) partitions, expected $expect (rc $rc1 $rc2)"
  ok "trial $trial: concurrent appends: rc $rc1 and $rc2, $expect partitions"
done

rm -f s.h5 s.h5.lock s.quarantine.csv
ing --input A.csv --store s.h5 > a.log 2>&1 || fail "first ingest"
ing --input B1.csv --store s.h5 --lock-timeout 60 > b1.log 2>&1 & p1=$!
ing --input B2.csv --store s.h5 --lock-timeout 60 > b2.log 2>&1 & p2=$!
wait $p1 || { cat b1.log; fail "B1 with --lock-timeout 60"; }
wait $p2 || { cat b2.log; fail "B2 with --lock-timeout 60"; }
[[ $(partitions s.h5) == 3 ]] || fail "with --lock-timeout: $(partitions s.h5) partitions, expected 3"
[[ "$(manifest_names s.h5 | sort | tr '\n' ' ')" == "A.csv B1.csv B2.csv " ]] \
  || fail "manifest: $(manifest_names s.h5)"
ok "with --lock-timeout both appends succeed one after the other"

# A lock held by another process (flock(1) on the lock file): every writer fails at once.
before=$(sha256sum s.h5)
flock s.h5.lock sleep 30 & holder=$!
sleep 0.5
set +e
ing --input B1.csv --store s.h5 --lock-timeout 1 > held.log 2>&1; rc=$?
timeout 60 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" purge --store s.h5 --processed-days 1 > purge.log 2>&1; rc_purge=$?
timeout 60 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" forget --store s.h5 --key-file "$key" --user-id 1 > forget.log 2>&1; rc_forget=$?
set -e
kill $holder; wait $holder 2>/dev/null || true
[[ $rc == 5 ]] || { cat held.log; fail "ingest under a held lock: exit $rc, expected 5"; }
[[ $rc_purge == 5 ]] || { cat purge.log; fail "purge under a held lock: exit $rc_purge, expected 5"; }
[[ $rc_forget == 5 ]] || { cat forget.log; fail "forget under a held lock: exit $rc_forget, expected 5"; }
[[ "$(sha256sum s.h5)" == "$before" ]] || fail "a locked-out writer changed the store"
ok "ingest, purge and forget fail with exit 5 while another process holds the lock"
