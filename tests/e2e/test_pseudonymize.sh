#!/usr/bin/env bash
# ecom pseudonymize: RFC 4231 test case 2, agreement with an independent HMAC (Python),
# refusal of a key file readable by others, one-line errors.
source "$(dirname "$0")/lib.sh"
key="$WORK/jefe.key"
make_key "$key" Jefe
got=$(printf 'what do ya want for nothing?\n' | "$ECOM" pseudonymize --key-file "$key")
[[ "$got" == "5bdcc146bf60754e" ]] || fail "RFC 4231 case 2 gave '$got'"
ok "RFC 4231 test case 2"

# Many ids, under mpirun with 3 ranks, against Python's hmac module.
seq 541312140 541312540 > "$WORK/ids"
mpi 3 pseudonymize --key-file "$key" < "$WORK/ids" > "$WORK/ours"
$PY - "$WORK/ids" "$WORK/ours" <<'PY'
import hmac, hashlib, sys
ids = open(sys.argv[1]).read().split("\n")[:-1]
ours = open(sys.argv[2]).read().split("\n")[:-1]
ref = [hmac.new(b"Jefe", i.encode(), hashlib.sha256).hexdigest()[:16] for i in ids]
assert ours == ref, "pseudonyms differ from Python's HMAC-SHA-256"
PY
ok "401 ids match Python's hmac under 3 ranks"

chmod 644 "$key"
set +e
err=$(printf 'x\n' | "$ECOM" pseudonymize --key-file "$key" 2>&1 >/dev/null); rc=$?
set -e
[[ $rc -eq 2 ]] || fail "a 0644 key file must exit 2, got $rc"
[[ $(printf '%s\n' "$err" | wc -l) -eq 1 ]] || fail "expected one line, got: $err"
[[ "$err" == "ecom: key file $key has mode 0644: it must not be accessible by group or others (chmod 600 $key)" ]] || fail "message: $err"
[[ "$err" != *Jefe* ]] || fail "the key leaked into the message"
ok "0644 key file refused with one line"

set +e
err=$(mpi 2 pseudonymize --key-file "$WORK/missing.key" 2>&1 </dev/null); rc=$?
set -e
[[ $rc -ne 0 ]] || fail "a missing key file must fail"
[[ $(printf '%s\n' "$err" | grep -c 'ecom:') -eq 1 ]] || fail "expected one ecom: line, got: $err"
ok "missing key file: one line, exit $rc"

# The reference config parses (unknown keys would be an error).
printf 'x\n' | (chmod 600 "$key"; "$ECOM" --config "$ECOM_SOURCE_DIR/configs/default.toml" pseudonymize --key-file "$key") >/dev/null
ok "configs/default.toml parses"
