#!/usr/bin/env bash
# scripts/report.py: the HTML report of a run renders in headless Chromium (Debian's chromium)
# from disk, and every figure loads: a copy of the page with a small script records each image's
# naturalWidth and any load error into the DOM (--dump-dom), compared with the PNGs' own widths
# read from their headers. Also: no link leaves the report directory, every section is present.
source "$(dirname "$0")/lib.sh"
chrome=$(command -v chromium || command -v chromium-browser || true)
[[ -n "$chrome" ]] || fail "chromium not found (Debian: apt-get install chromium; scripts/setup.sh --with-tests installs it)"
key="$WORK/key"
make_key "$key"
"$ECOM" synth --preset multi-category --events 30000 --seed 5 --out "$WORK/data" --no-progress --log-level warn
mpi 2 run --input "$WORK/data/events/*.csv" --out "$WORK/run" --key-file "$key" --run-time 2026-01-01T00:00:00Z \
  --k-min 2 --k-max 4 --gap-references 3 --stability-resamples 3 --als-iterations 3 --no-progress --log-level warn
$PY "$ECOM_SOURCE_DIR/scripts/report.py" "$WORK/run"
report="$WORK/run/report"
[[ -f "$report/index.html" ]] || fail "no index.html"
ok "report written"

# Every img is a relative link to a PNG of the report directory; nothing points outside.
$PY - "$report" <<'PY' || fail "links"
import os, re, sys
d = sys.argv[1]
page = open(f"{d}/index.html").read()
srcs = re.findall(r'<img src="([^"]+)"', page)
assert len(srcs) == 7, srcs
for s in srcs:
    assert re.fullmatch(r"[a-z_]+\.png", s) and os.path.isfile(f"{d}/{s}"), s
assert not re.search(r'(src|href)="(https?:|//|/)', page), "a link leaves the report"
for title in ["Event profile", "Choice of k", "Segments in PCA space", "Segment sizes and value",
              "Recommendations against popularity", "Purchase propensity", "Stage timings"]:
    assert f"<h2>{title}</h2>" in page, title
assert 'class="missing"' not in page, "a section says its inputs are missing"
PY

# Render in headless Chromium.
check="$report/check.html"
$PY - "$report/index.html" "$check" <<'PY'
import sys
page = open(sys.argv[1]).read()
probe = """<script>
const errors = [];
window.addEventListener('error', e => errors.push('error ' + (e.target && e.target.src || e.message)), true);
window.addEventListener('load', () => {
  const out = [...document.images].map(i => i.getAttribute('src') + ' ' + (i.complete ? i.naturalWidth : -1) + ' ' + i.naturalHeight);
  const pre = document.createElement('pre');
  pre.id = 'imgcheck';
  pre.textContent = out.concat(errors).join('\\n');
  document.body.appendChild(pre);
});
</script>"""
open(sys.argv[2], "w").write(page.replace("<body>", "<body>" + probe, 1))
PY
sandbox=()
[[ $(id -u) -eq 0 ]] && sandbox=(--no-sandbox)
timeout 60 "$chrome" --headless "${sandbox[@]}" --disable-gpu --no-first-run --user-data-dir="$WORK/chrome" \
  --virtual-time-budget=5000 --dump-dom "file://$check" > "$WORK/dom.html" 2> "$WORK/chrome.log" ||
  { tail -20 "$WORK/chrome.log"; fail "chromium failed"; }
$PY - "$report" "$WORK/dom.html" <<'PY' || fail "images in Chromium"
import re, struct, sys, html
d, dom = sys.argv[1], open(sys.argv[2]).read()
m = re.search(r'<pre id="imgcheck">(.*?)</pre>', dom, re.S)
assert m, "the probe did not run (page not loaded?)"
lines = html.unescape(m.group(1)).strip().split("\n")
assert not [l for l in lines if l.startswith("error")], lines
assert len(lines) == 7, lines
for line in lines:
    src, w, h = line.split()
    with open(f"{d}/{src}", "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", src
    pw, ph = struct.unpack(">II", head[16:24])
    assert (int(w), int(h)) == (pw, ph), f"{src}: rendered {w}x{h}, file {pw}x{ph}"
    print(f"  {src}: {w}x{h}")
PY
ok "Chromium loads all 7 figures from disk"
