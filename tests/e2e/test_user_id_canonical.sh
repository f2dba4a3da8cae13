#!/usr/bin/env bash
# Issue 16 item 6: "596899981" and "000596899981" are one person. Ingest gives both forms one
# pseudonym, `ecom pseudonymize` agrees, `ecom forget --user-id 596899981` removes the events
# of both forms (and the quarantined row holding the padded form); a forget id that is not a
# plain integer is refused with one line (exit 2).
source "$(dirname "$0")/lib.sh"
key="$WORK/key"
make_key "$key"
S=72d76fde-8bb3-4e00-8c23-a032dfed738c
cat > "$WORK/in.csv" <<CSV
event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session
2019-10-01 00:00:00 UTC,view,1,2,,a,1.00,596899981,$S
2019-10-01 00:01:00 UTC,view,2,2,,a,2.00,000596899981,$S
2019-10-01 00:02:00 UTC,cart,2,2,,a,2.00,0596899981,$S
2019-10-01 00:03:00 UTC,view,3,2,,a,3.00,541312140,$S
2019-10-01 00:04:00 UTC,view,3,2,,a,x,000596899981,$S
CSV
timeout 60 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" --no-progress --log-level warn ingest \
  --input "$WORK/in.csv" --store "$WORK/s.h5" --key-file "$key"
p=$(printf '596899981\n' | "$ECOM" pseudonymize --key-file "$key")
users() {
  $PY - "$WORK/s.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as h:
    u = np.concatenate([h["partitions"][k]["events"]["user"][...] for k in h["partitions"]])
print(" ".join(f"{int(x):016x}" for x in sorted(u)))
PY
}
got=$(users)
[[ $(tr ' ' '\n' <<<"$got" | grep -c "^$p\$") -eq 3 ]] || fail "the three forms of 596899981 should share pseudonym $p: $got"
[[ $(wc -w <<<"$got") -eq 4 ]] || fail "4 events expected: $got"
ok "three forms of one id, one pseudonym ($p)"

set +e
err=$(timeout 60 "$ECOM" forget --store "$WORK/s.h5" --key-file "$key" --user-id 59689x 2>&1); rc=$?
set -e
[[ $rc -eq 2 && $(printf '%s\n' "$err" | wc -l) -eq 1 && "$err" == *"'59689x' is not a plain decimal integer"* ]] || fail "forget 59689x: rc $rc, '$err'"
ok "forget refuses a non-integer id: $err"

timeout 60 "$MPIEXEC" -np 2 --oversubscribe "$ECOM" --no-progress --log-level warn forget \
  --store "$WORK/s.h5" --key-file "$key" --user-id 596899981
got=$(users)
[[ "$got" != *"$p"* && $(wc -w <<<"$got") -eq 1 ]] || fail "forget left: $got"
grep -q 000596899981 "$WORK/s.quarantine.csv" && fail "the quarantined padded row is still there"
ok "forget --user-id 596899981 removed every form (store and quarantine)"
