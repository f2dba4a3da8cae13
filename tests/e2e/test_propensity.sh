#!/usr/bin/env bash
# Purchase propensity end to end, checked independently:
# - AUC >= 0.75 on the keyed holdout of the multi-category synthetic preset;
# - run.json's AUC and log-loss equal scikit-learn's on the holdout written to ecom.h5, and the
#   holdout labels equal "purchased in the last D days" recomputed from the event store;
# - customer_segments.csv has proba after segment_confidence, equal to /users/propensity;
# - no leakage with the real features: adding label-period events that leave the labels unchanged
#   (views, carts, extra purchases of buyers) gives bit-identical coefficients (run with another
#   number of ranks, so this also checks rank independence).
source "$(dirname "$0")/lib.sh"
key="$WORK/key"
make_key "$key"
"$ECOM" synth --preset multi-category --events 200000 --seed 1 --out "$WORK/data" --no-progress --log-level warn
opts=(--key-file "$key" --run-time 2026-01-01T00:00:00Z --k 6 --no-recommend --no-progress --log-level warn)
mpi 2 run --input "$WORK/data/events/*.csv" --out "$WORK/run" "${opts[@]}"
ok "run (np 2)"

# Label-period events that must not change the model.
mkdir -p "$WORK/more"
$PY - "$WORK/data/events/2019-10.csv" "$WORK/more/2019-10.csv" <<'PY'
import csv, datetime, sys
src, dst = sys.argv[1], sys.argv[2]
fmt = "%Y-%m-%d %H:%M:%S UTC"
rows, times = [], []
with open(src, newline="") as f:
    r = csv.reader(f)
    header = next(r)
    for row in r:
        rows.append(row)
        try:
            if len(row) == 9 and row[7].isdigit() and float(row[6]) >= 0:
                times.append(datetime.datetime.strptime(row[0], fmt))
        except ValueError:
            pass
end = max(times)
cut = end - datetime.timedelta(days=7)
late_buyers, last_row = set(), {}
for row in rows:
    if len(row) != 9 or not row[7].isdigit():
        continue
    try:
        t = datetime.datetime.strptime(row[0], fmt)
        float(row[6])
    except ValueError:
        continue
    last_row[row[7]] = row
    if row[1] == "purchase" and t > cut:
        late_buyers.add(row[7])
extra = []
for i, (user, row) in enumerate(sorted(last_row.items())):
    if i % 3 == 0:
        extra.append([(end - datetime.timedelta(days=1)).strftime(fmt), "view"] + row[2:])
        extra.append([(end - datetime.timedelta(days=1, seconds=-60)).strftime(fmt), "cart"] + row[2:])
    if user in late_buyers:
        extra.append([(end - datetime.timedelta(days=2)).strftime(fmt), "purchase"] + row[2:])
with open(dst, "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows + extra)
print(f"added {len(extra)} label-period rows; {len(late_buyers)} late buyers")
PY
mpi 3 run --input "$WORK/more/*.csv" --out "$WORK/run_more" "${opts[@]}"
ok "run with extra label-period events (np 3)"

$PY - "$WORK/run" "$WORK/run_more" <<'PY'
import csv, json, math, sys
import h5py
import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

run, more = sys.argv[1], sys.argv[2]
def fail(msg):
    sys.exit("FAIL: " + msg)

js = json.load(open(f"{run}/run.json"))
p = js["propensity"]
print(f"AUC {p['auc']:.4f} log-loss {p['logloss']:.4f} train AUC {p['train_auc']:.4f}; "
      f"holdout {p['holdout_users']} users ({p['holdout_positives']} buyers), trained on {p['train_users']}")
if not p["auc"] >= 0.75:
    fail(f"holdout AUC {p['auc']} < 0.75")

with h5py.File(f"{run}/ecom.h5", "r") as h:
    g = h["propensity"]
    users = g["holdout_user"][...]
    proba = g["holdout_proba"][...]
    label = g["holdout_label"][...]
    days = int(g.attrs["label_days"])
    cutoff = int(g.attrs["cutoff"])
    coef = g["coef"][...]
    pseud = h["users/pseudonym"][...]
    prop = h["users/propensity"][...]
if not np.all(np.diff(users.astype(np.uint64)) > 0):
    fail("holdout users not ascending")
auc = roc_auc_score(label, proba)
ll = log_loss(label, proba, eps=1e-15)
if abs(auc - p["auc"]) > 1e-9 or abs(ll - p["logloss"]) > 1e-9:
    fail(f"sklearn: AUC {auc} log-loss {ll} vs run.json {p['auc']} {p['logloss']}")
print("AUC and log-loss agree with scikit-learn")

# Labels from the store: a purchase after the cutoff = max event time - D days.
with h5py.File(f"{run}/events.h5", "r") as s:
    u, t, e = [], [], []
    for part in s["partitions"].values():
        u.append(part["events/user"][...]); t.append(part["events/time"][...]); e.append(part["events/event_type"][...])
u, t, e = np.concatenate(u), np.concatenate(t), np.concatenate(e)
end = int(t.max())
if cutoff != end - days * 86400:
    fail(f"cutoff {cutoff} != window end {end} - {days} days")
buyers = set(u[(t > cutoff) & (e == 3)].tolist())
history = set(u[t <= cutoff].tolist())
want = np.array([1 if x in buyers else 0 for x in users.tolist()], dtype=np.uint8)
if not np.array_equal(want, label):
    fail("holdout labels differ from purchases in the label period")
if not set(users.tolist()) <= history:
    fail("a holdout user has no event before the cutoff")
share = len(users) / len(history)
if not 0.17 < share < 0.23:
    fail(f"holdout share {share}")
print(f"labels agree with the store; holdout share {share:.3f}")

# customer_segments.csv: proba after segment_confidence, as /users/propensity.
with open(f"{run}/customer_segments.csv", newline="") as f:
    r = csv.DictReader(f)
    names = r.fieldnames
    rows = list(r)
if names[names.index("segment_confidence") + 1] != "proba":
    fail(f"header {names}")
if len(rows) != len(pseud):
    fail("row count")
for i, row in enumerate(rows):
    if row["user_id"] != format(int(pseud[i]), "016x") or abs(float(row["proba"]) - prop[i]) > 5.1e-7:
        fail(f"row {i}: {row} vs {prop[i]}")
if not (0 < prop.min() and prop.max() < 1):
    fail("proba outside (0, 1)")
print("customer_segments.csv proba = /users/propensity")

with h5py.File(f"{more}/ecom.h5", "r") as h:
    coef2 = h["propensity/coef"][...]
    label2 = h["propensity/holdout_label"][...]
if not np.array_equal(coef, coef2):
    fail(f"coefficients changed with label-period events: {coef - coef2}")
if not np.array_equal(label, label2):
    fail("labels changed")
print("coefficients bit-identical with extra label-period events (np 2 vs np 3)")
PY
ok "propensity"
