#!/usr/bin/env bash
# `ecom ingest` of real REES46 samples (tests/data):
#  1. Input forms: the same rows with CRLF line ends and a UTF-8 BOM, with every field quoted
#     (RFC 4180, Python's csv.QUOTE_ALL), plain or gzip (either decoder), read with 1 KiB chunks and a 1 MiB
#     shuffle buffer (many rounds) give the same /partitions as the plain file (h5diff).
#  2. Idempotence: re-ingesting a file (or a copy under another name) is skipped with a message
#     and leaves the store byte for byte as it was; a new file appends partition 1, whose
#     manifest entry, events and quarantine are added to the earlier ones.
#  3. Raw user ids appear in neither the store nor the log; --truncate-to-minute truncates.
source "$(dirname "$0")/lib.sh"
DATA="$ECOM_SOURCE_DIR/tests/data"
key="$WORK/k.key"
make_key "$key"
cd "$WORK"
ing() { mpi 2 ingest --key-file "$key" --no-progress "$@"; }

zcat "$DATA/multi_category_2019_nov_head_683.csv.gz" > nov.csv
zcat "$DATA/cosmetics_2019_dec_head_100.csv.gz" > dec.csv
$PY - nov.csv <<'PY'
import csv, sys
src = sys.argv[1]
text = open(src, newline="").read()
open("crlf_bom.csv", "w", newline="", encoding="utf-8").write("\ufeff" + text.replace("\n", "\r\n"))
rows = list(csv.reader(open(src, newline="")))
with open("quoted.csv", "w", newline="") as f:
    w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    f.write(",".join(rows[0]) + "\n")  # the header stays exact (unquoted)
    w.writerows(rows[1:])
PY
grep -q '^"2019-11' quoted.csv || fail "quoted.csv is not quoted"
gzip -c crlf_bom.csv > crlf_bom.csv.gz

ing --input nov.csv --store ref.h5 --log-level warn || fail "ingest nov.csv"
for f in crlf_bom.csv quoted.csv crlf_bom.csv.gz; do
  ing --input $f --store $f.h5 --log-level warn || fail "ingest $f"
  h5diff ref.h5 $f.h5 /partitions /partitions || fail "$f: events differ from the plain file's"
  h5diff ref.h5 $f.h5 /strings /strings || fail "$f: strings differ"
  [[ $(wc -l < ${f}.quarantine.csv) -eq 1 ]] || fail "$f: rows were rejected: $(cat ${f}.quarantine.csv)"
done
# The other gzip decoder (zlib when ISA-L is the default) gives the same events.
ECOM_GZIP=zlib ing --input crlf_bom.csv.gz --store zlib.h5 --log-level warn || fail "ingest with zlib"
h5diff ref.h5 zlib.h5 /partitions /partitions || fail "zlib-decoded gzip: events differ"
ing --input quoted.csv --store small.h5 --read-chunk-kb 1 --shuffle-buffer-mb 1 --log-level warn \
  || fail "ingest with small chunks"
h5diff ref.h5 small.h5 /partitions /partitions || fail "small chunks and buffers change the events"
ok "CRLF + BOM, RFC 4180 quoting, gzip and 1 KiB chunks give the same events"

# ---- idempotence and append ------------------------------------------------------------------
ing --input nov.csv --store a.h5 > log1 2>&1 || { cat log1; fail "first ingest"; }
before=$(sha256sum a.h5 a.quarantine.csv)
cp nov.csv nov_copy.csv
ing --input nov.csv nov_copy.csv --store a.h5 > log2 2>&1 || { cat log2; fail "re-ingest"; }
grep -q "ingest: skipping nov.csv: already ingested (same SHA-256 as nov.csv in the store)" log2 \
  || fail "no skip message: $(cat log2)"
grep -q "ingest: skipping nov_copy.csv: already ingested (same SHA-256 as nov.csv in the store)" log2 \
  || fail "no skip message for the copy: $(cat log2)"
[[ "$(sha256sum a.h5 a.quarantine.csv)" == "$before" ]] || fail "re-ingest changed the store"
ok "re-ingesting the same content is skipped and changes nothing"

printf '%s\n' "2019-12-01 00:00:00 UTC,view,1,2,,,xx,3,s" >> dec.csv  # one reject in the new file
ing --input dec.csv nov.csv --store a.h5 > log3 2>&1 || { cat log3; fail "append"; }
grep -q "ingest: skipping nov.csv" log3 || fail "nov.csv not skipped on append"
grep -q -- "-> partition 1 of a.h5" log3 || fail "no partition 1: $(cat log3)"
ing --input dec.csv --store b.h5 --log-level warn || fail "ingest dec.csv alone"
h5diff a.h5 b.h5 /partitions/0001 /partitions/0000 || fail "partition 1 differs from dec.csv ingested alone"
h5diff a.h5 ref.h5 /partitions/0000 /partitions/0000 || fail "partition 0 changed by the append"
$PY - a.h5 a.quarantine.csv nov.csv dec.csv <<'PY' || fail "manifest or quarantine after the append"
import csv, hashlib, sys
import h5py
store, quarantine, nov, dec = sys.argv[1:]
with h5py.File(store, "r") as f:
    s = lambda v: v.decode() if isinstance(v, bytes) else v
    ms = [f["manifest"][k].attrs for k in sorted(f["manifest"]) if k.isdigit()]
    assert [s(m["name"]) for m in ms] == [nov, dec], [s(m["name"]) for m in ms]
    assert [int(m["partition"]) for m in ms] == [0, 1]
    for m, p in zip(ms, [nov, dec]):
        assert s(m["sha256"]) == hashlib.sha256(open(p, "rb").read()).hexdigest(), p
        assert int(m["rows_read"]) == sum(1 for _ in open(p)) - 1, p
    assert int(f.attrs["partitions"]) == 2
    n = sum(f["partitions"][p]["events"]["user"].shape[0] for p in f["partitions"])
    assert int(f.attrs["events"]) == n == sum(int(m["rows_kept"]) for m in ms)
q = list(csv.reader(open(quarantine, newline="")))
rows = sum(1 for _ in open(dec))
assert q == [["file", "line", "reason", "row"],
             [dec, str(rows), "bad_price", "2019-12-01 00:00:00 UTC,view,1,2,,,xx,3,s"]], q
PY
ok "a new file appends partition 1; manifest, events and quarantine add up"

# Equal size is not equal content: a file the size of a stored one (one digit of a price changed)
# is hashed before reading and appended; so are two new inputs of equal size. Files of a size no
# other file has get their SHA-256 beside the reading (on 1-4 ranks): the manifest must hold
# the real digest in every case.
$PY - nov.csv same_size.csv twin1.csv twin2.csv <<'PY'
import sys
src, same, t1, t2 = sys.argv[1:]
lines = open(src, newline="").read().split("\n")
def with_price_digit(i, avoid):
    f = lines[i].split(",")
    d = "7" if f[6][-1] != "7" else "3"
    if d == avoid:
        d = "4" if f[6][-1] != "4" else "5"
    assert f[6][-1].isdigit() and f[6][-1] != d, f
    f[6] = f[6][:-1] + d
    out = list(lines)
    out[i] = ",".join(f)
    return "\n".join(out), d
open(same, "w", newline="").write(with_price_digit(5, "")[0])
text1, d1 = with_price_digit(9, "")
open(t1, "w", newline="").write(text1)
open(t2, "w", newline="").write(with_price_digit(9, d1)[0])
PY
[[ $(stat -c %s same_size.csv) -eq $(stat -c %s nov.csv) ]] || fail "same_size.csv has another size"
cmp -s twin1.csv twin2.csv && fail "twin1.csv and twin2.csv are equal"
ing --input same_size.csv twin1.csv twin2.csv --store a.h5 > log4 2>&1 || { cat log4; fail "append equal sizes"; }
grep -q "skipping" log4 && fail "a file of equal size but other content was skipped: $(cat log4)"
grep -q -- "-> partition 2 of a.h5" log4 || fail "no partition 2: $(cat log4)"
for np in 1 3 4; do
  mpi $np ingest --key-file "$key" --no-progress --input dec.csv twin1.csv --store np$np.h5 \
    --log-level warn || fail "ingest on $np ranks"
done
$PY - a.h5 np1.h5 np3.h5 np4.h5 <<'PY' || fail "manifest digests"
import hashlib, sys
import h5py
s = lambda v: v.decode() if isinstance(v, bytes) else v
for store in sys.argv[1:]:
    with h5py.File(store, "r") as f:
        for k in sorted(f["manifest"]):
            m = f["manifest"][k].attrs
            want = hashlib.sha256(open(s(m["name"]), "rb").read()).hexdigest()
            assert s(m["sha256"]) == want, (store, s(m["name"]), s(m["sha256"]), want)
PY
ok "equal sizes with other content are ingested; every manifest digest is the file's SHA-256 (np 1-4)"

# ---- privacy ---------------------------------------------------------------------------------
cat log1 log2 log3 > all.log
cut -d, -f8 nov.csv dec.csv | grep -E '^[0-9]{6,}$' | sort -u > users.txt
[[ $(wc -l < users.txt) -gt 100 ]] || fail "too few user ids"
if strings -n 6 a.h5 | grep -F -w -f users.txt -q || grep -F -w -f users.txt -q all.log; then
  fail "a raw user id appears in the store or the log"
fi
ing --input nov.csv --store t.h5 --truncate-to-minute --log-level warn || fail "ingest --truncate-to-minute"
$PY - t.h5 ref.h5 <<'PY' || fail "--truncate-to-minute"
import sys
import h5py, numpy as np
t = h5py.File(sys.argv[1], "r")["partitions/0000/events/time"][...]
r = h5py.File(sys.argv[2], "r")["partitions/0000/events/time"][...]
assert (t % 60 == 0).all() and (r % 60 != 0).any()
assert np.array_equal(np.sort(t), np.sort(r - r % 60))
PY
ok "no raw user id in the store or the log; times truncated to the minute on request"
