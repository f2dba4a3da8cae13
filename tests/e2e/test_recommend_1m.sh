#!/usr/bin/env bash
# The issue's acceptance run: `ecom synth --preset multi-category --events 1000000` (planted
# tastes, 14 future days), then `ecom run` with 2 ranks (segmentation kept cheap: k = 5, no gap
# references or bootstrap; recommendations from the evaluated model, --no-als-refit, so ALS is
# trained once). Checks, independently of ecom (check_recommend.py, from the raw CSV and key):
#  - ALS precision@10 on the held-out interactions >= 1.5 x popularity's (run.json);
#  - ALS top-10 lists contain the generator's future purchases (truth/future_purchases.csv,
#    user ids pseudonymised with the key) >= 1.5 x as often as popularity top-10 lists (the
#    most popular products minus the user's purchases);
#  - every user of customer_segments.csv has exactly 10 rows, in pseudonym order, no product the
#    user purchased, sources as the training pairs say; catalogue and popularity as the events say.
source "$(dirname "$0")/lib.sh"
HERE="$(cd "$(dirname "$0")" && pwd)"
CHECK="$HERE/check_recommend.py"
key="$WORK/key"
make_key "$key"

mpi 2 synth --preset multi-category --events 1000000 --seed 1 --out "$WORK/data" --no-progress --log-level warn
csv="$WORK/data/events/2019-10.csv"
mpi 2 run --input "$csv" --out "$WORK/run" --key-file "$key" --run-time 2020-01-01T00:00:00Z --k 5 \
  --gap-references 0 --stability-resamples 0 --no-als-refit --no-progress --log-level warn
$PY - "$WORK/run/run.json" <<'PY' || fail "ALS precision@10 is not 1.5x popularity's"
import json, sys
r = json.load(open(sys.argv[1]))
a, p = r["als"]["precision_at_10"], r["popularity"]["precision_at_10"]
print(f"holdout precision@10: ALS {a:.4f}, popularity {p:.4f} (ratio {a / p:.2f}); "
      f"NDCG@10 {r['als']['ndcg_at_10']:.4f} vs {r['popularity']['ndcg_at_10']:.4f}; "
      f"AUC {r['als']['auc']:.4f} vs {r['popularity']['auc']:.4f}")
assert a >= 1.5 * p
PY
ok "ALS precision@10 >= 1.5 x popularity"
$PY "$CHECK" future "$WORK/run" "$key" "$WORK/data/truth/future_purchases.csv" "$csv" \
  || fail "future purchases"
ok "ALS top-10 finds >= 1.5 x the future purchases popularity finds"
$PY "$CHECK" recs-basic "$WORK/run" "$key" "$csv" || fail "recommendations.csv"
ok "10 rows per user, no purchased product, sources, catalogue and popularity as the events say"
