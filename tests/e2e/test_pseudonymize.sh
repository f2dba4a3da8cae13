#!/usr/bin/env bash
# ecom pseudonymize: agreement with an independent HMAC (Python) of the canonical id, leading
# zeros (one person, one pseudonym), refusal of ids that are not plain integers, the key-file
# rules (size, mode, owner, directory), one-line errors.
source "$(dirname "$0")/lib.sh"
key="$WORK/jefe.key"
make_key "$key" Jefe-0123456789abcdef
got=$(printf '596899981\n000596899981\n' | "$ECOM" pseudonymize --key-file "$key")
want=$($PY -c 'import hmac,hashlib; print(hmac.new(b"Jefe-0123456789abcdef", b"596899981", hashlib.sha256).hexdigest()[:16])')
[[ "$got" == "$want"$'\n'"$want" ]] || fail "596899981 and 000596899981 gave '$got' (want $want twice)"
ok "leading zeros removed before the HMAC"

for bad in 'what do ya want for nothing?' ' 7' '-1' '1.0' '18446744073709551616' ''; do
  set +e
  err=$(printf '1\n%s\n' "$bad" | "$ECOM" pseudonymize --key-file "$key" 2>&1 >/dev/null); rc=$?
  set -e
  [[ $rc -eq 3 ]] || fail "id '$bad' must exit 3, got $rc"
  [[ $(printf '%s\n' "$err" | wc -l) -eq 1 && "$err" == *"line 2"*"is not a user id"* ]] || fail "message for '$bad': $err"
done
ok "ids that are not plain integers refused (exit 3, one line)"

# Many ids, under mpirun with 3 ranks, against Python's hmac module.
seq 541312140 541312540 > "$WORK/ids"
mpi 3 pseudonymize --key-file "$key" < "$WORK/ids" > "$WORK/ours"
$PY - "$WORK/ids" "$WORK/ours" <<'PY'
import hmac, hashlib, sys
ids = open(sys.argv[1]).read().split("\n")[:-1]
ours = open(sys.argv[2]).read().split("\n")[:-1]
ref = [hmac.new(b"Jefe-0123456789abcdef", i.encode(), hashlib.sha256).hexdigest()[:16] for i in ids]
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
chmod 600 "$key"

# Key-file rules (issue 16 item 7): each failure exit 2, one line naming the file and the reason.
refused() {  # refused KEYFILE PATTERN WHAT
  set +e
  local err rc
  err=$(printf '1\n' | "$ECOM" pseudonymize --key-file "$1" 2>&1 >/dev/null); rc=$?
  set -e
  [[ $rc -eq 2 ]] || fail "$3: exit $rc, want 2 ($err)"
  [[ $(printf '%s\n' "$err" | wc -l) -eq 1 && "$err" == "ecom: key file $1 "$2 ]] || fail "$3: message '$err'"
  ok "$3 refused: $err"
}
(umask 077; printf 'x' > "$WORK/short.key")
refused "$WORK/short.key" "holds 1 bytes: at least 16 are needed (32 random bytes recommended*" "a 1-byte key"
(umask 077; head -c 15 /dev/urandom > "$WORK/k15"; head -c 16 /dev/urandom > "$WORK/k16")
refused "$WORK/k15" "holds 15 bytes*" "a 15-byte key"
printf '1\n' | "$ECOM" pseudonymize --key-file "$WORK/k16" > /dev/null || fail "a 16-byte key must be accepted"
cp -p "$WORK/k16" "$WORK/gw.key"; chmod 620 "$WORK/gw.key"
refused "$WORK/gw.key" "has mode 0620*" "a group-writable key"
mkdir -p "$WORK/open" "$WORK/sticky"; chmod 777 "$WORK/open"; chmod 1777 "$WORK/sticky"
cp -p "$WORK/k16" "$WORK/open/key"; cp -p "$WORK/k16" "$WORK/sticky/key"
refused "$WORK/open/key" "lies in a directory writable by others and not sticky*" "a key in a world-writable directory"
printf '1\n' | "$ECOM" pseudonymize --key-file "$WORK/sticky/key" > /dev/null || fail "a key in a sticky directory must be accepted"
ok "a key in a sticky world-writable directory (like /tmp) accepted"
mkdir "$WORK/dir.key"; chmod 700 "$WORK/dir.key"
refused "$WORK/dir.key" "is not a regular file" "a directory as key"
if [[ $(id -u) -eq 0 ]] && id nobody >/dev/null 2>&1; then
  cp -p "$WORK/k16" "$WORK/theirs.key"; chown nobody "$WORK/theirs.key"
  refused "$WORK/theirs.key" "is owned by uid $(id -u nobody), not by the running user*" "a key owned by another user"
else
  echo "skip: a key owned by another user (needs root and a user nobody)"
fi

set +e
err=$(mpi 2 pseudonymize --key-file "$WORK/missing.key" 2>&1 </dev/null); rc=$?
set -e
[[ $rc -ne 0 ]] || fail "a missing key file must fail"
[[ $(printf '%s\n' "$err" | grep -c 'ecom:') -eq 1 ]] || fail "expected one ecom: line, got: $err"
ok "missing key file: one line, exit $rc"

# The reference config parses (unknown keys would be an error).
printf '1\n' | (chmod 600 "$key"; "$ECOM" --config "$ECOM_SOURCE_DIR/configs/default.toml" pseudonymize --key-file "$key") >/dev/null
ok "configs/default.toml parses"
