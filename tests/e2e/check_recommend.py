#!/usr/bin/python3
"""Independent checks of ecom's recommendations (ALS, evaluation, top-N, score), from the raw
REES46 CSV files, the key and numpy, never from ecom's own code paths:

  check_recommend.py recs     RUNDIR KEY CSV...   recommendations.csv vs a numpy top-N from /als
  check_recommend.py recs-basic RUNDIR KEY CSV... only: N rows per user, no purchased product,
                                                   sources, order, catalogue and popularity
  check_recommend.py metrics  RUNDIR KEY CSV...   run.json `als` / `popularity` vs numpy metrics
                                                   (a run with --no-als-refit: /als is the
                                                   evaluated model)
  check_recommend.py future   RUNDIR KEY TRUTH CSV...  future purchases found in ALS top-10 vs
                                                   popularity top-10 (ratio printed, >= 1.5)
  check_recommend.py score    RUNDIR KEY OUTDIR NEW.csv -- CSV...  `ecom score` fold-in
  check_recommend.py same-segments RUNDIR OUTDIR   score's segments == the run's for its users

Definitions (docs in bench/ and the README): interactions r = min(10, 1 view + 3 cart +
5 purchase), c = 1 + r; exact duplicates (user, time, type, product, session) count once;
pseudonym = first 8 bytes of HMAC-SHA-256(key, user_id) in hex. Scores x_u . y_i are summed over
j ascending (as ecom's kernels, no fused multiply-add), so rankings match to the bit.
"""
import csv
import hashlib
import hmac
import json
import math
import sys
from collections import Counter, defaultdict

import h5py
import numpy as np

WEIGHTS = {"view": 1.0, "cart": 3.0, "remove_from_cart": 0.0, "purchase": 5.0}
CAP = 10.0
TYPE_ORDER = {"view": 0, "cart": 1, "remove_from_cart": 2, "purchase": 3}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def pseudonymizer(key_path):
    key = open(key_path, "rb").read()
    cache = {}

    def p(uid):
        v = cache.get(uid)
        if v is None:
            v = hmac.new(key, uid.encode(), hashlib.sha256).hexdigest()[:16]
            cache[uid] = v
        return v
    return p


def read_events(paths, key_path):
    """Valid events of the CSV files, exact duplicates removed: (user, time, type, product,
    session, category_id) with user the pseudonym (hex)."""
    p = pseudonymizer(key_path)
    seen = set()
    out = []
    for path in paths:
        with open(path, newline="") as f:
            r = csv.reader(f)
            next(r)
            for row in r:
                if len(row) != 9 or row[1] not in WEIGHTS:
                    continue
                t, typ, prod, cat, _, _, _, uid, sess = row
                e = (p(uid), t, typ, int(prod), sess, int(cat))
                k = e[:5]
                if k in seen:
                    continue
                seen.add(k)
                out.append(e)
    return out


class Pairs:
    """Interactions per (user, product) as ecom defines them."""

    def __init__(self, events):
        acc = {}
        for (u, t, typ, prod, sess, cat) in events:
            a = acc.get((u, prod))
            if a is None:
                a = acc[(u, prod)] = [0.0, False, (None,), 0]
            a[0] += WEIGHTS[typ]
            a[1] = a[1] or typ == "purchase"
            # category of the pair's last event in ecom's order (time, type, product, session)
            key = (t, TYPE_ORDER[typ], sess)
            if a[2] == (None,) or key >= a[2][0]:
                a[2] = (key, cat)
        self.strength = {k: min(CAP, v[0]) for k, v in acc.items()}
        self.purchased = {k for k, v in acc.items() if v[1]}
        self.category = {k: v[2][1] for k, v in acc.items()}
        self.by_user = defaultdict(list)
        for (u, prod) in acc:
            self.by_user[u].append(prod)
        self.products = sorted({prod for (_, prod) in acc})


def read_als(rundir):
    with h5py.File(rundir + "/ecom.h5", "r") as f:
        a = f["als"]
        out = {
            "items": a["item_ids"][:],
            "Y": a["item_factors"][:],
            "pop": a["item_popularity"][:],
            "item_cat": a["item_category"][:],
            "users": ["%016x" % u for u in a["user_ids"][:]],
            "X": a["user_factors"][:],
            "attrs": dict(a.attrs),
        }
        ev = f["recs/evaluation"]
        if "holdout_user" in ev:
            out["holdout"] = set(zip(("%016x" % u for u in ev["holdout_user"][:]),
                                     (int(p) for p in ev["holdout_product"][:])))
    return out


def seq_scores(X, Y):
    """S[u, i] = sum_j X[u, j] * Y[i, j], j ascending, each product rounded then added."""
    S = np.zeros((X.shape[0], Y.shape[0]))
    for j in range(X.shape[1]):
        S += np.outer(X[:, j], Y[:, j])
    return S


def ranked(scores, products, excluded_idx, n):
    """Top n catalogue indices: score descending, ties to the lower product id."""
    order = np.lexsort((products, -scores))
    out = []
    for i in order:
        if i in excluded_idx:
            continue
        out.append(int(i))
        if len(out) == n:
            break
    return out


def read_recs(path):
    recs = defaultdict(list)
    users_in_order = []
    with open(path) as f:
        r = csv.reader(f)
        if next(r) != ["user_id", "rank", "product_id", "score", "source"]:
            fail(path + ": wrong header")
        for u, rank, prod, score, src in r:
            if not users_in_order or users_in_order[-1] != u:
                users_in_order.append(u)
            recs[u].append((int(rank), int(prod), float(score), src))
    if users_in_order != sorted(users_in_order) or len(set(users_in_order)) != len(users_in_order):
        fail(path + ": users are not in ascending pseudonym order, each once")
    return recs


def fallback_rows(u, pairs, cat_products, cat_of_product, popularity, n, excluded):
    """category_popular then popular rows of a user ALS cannot serve (ecom's rule)."""
    counts = Counter(pairs.category[(u, p)] for p in pairs.by_user[u])
    cats = sorted(counts, key=lambda c: (-counts[c], c))[:3]
    by_pop = sorted(range(len(cat_products)), key=lambda i: (-popularity[i], cat_products[i]))
    rows, chosen = [], set()
    for c in cats:
        for i in by_pop:
            if len(rows) >= n:
                break
            if cat_of_product[i] == c and cat_products[i] not in excluded and i not in chosen:
                chosen.add(i)
                rows.append((cat_products[i], "category_popular"))
    for i in by_pop:
        if len(rows) >= n:
            break
        if cat_products[i] not in excluded and i not in chosen:
            chosen.add(i)
            rows.append((cat_products[i], "popular"))
    return rows


def check_recs(rundir, key, csvs, full=True):
    events = read_events(csvs, key)
    pairs = Pairs(events)
    als = read_als(rundir)
    items = als["items"]
    if list(items) != pairs.products:
        fail("/als/item_ids is not the set of products of the events")
    # popularity = training strengths (all pairs when refitted), category = most frequent
    refit = int(als["attrs"].get("refit_on_all", 1))
    hold = als.get("holdout", set()) if not refit else set()
    pop = defaultdict(float)
    votes = defaultdict(Counter)
    for (u, p), s in pairs.strength.items():
        if (u, p) not in hold:
            pop[p] += s
        votes[p][pairs.category[(u, p)]] += 1
    popularity = np.array([pop[p] for p in items])
    if not np.allclose(popularity, als["pop"], rtol=0, atol=1e-9):
        fail("/als/item_popularity differs from the summed strengths")
    cat_of = [min(votes[p], key=lambda c: (-votes[p][c], c)) for p in items]
    if list(cat_of) != list(als["item_cat"]):
        fail("/als/item_category differs from the most frequent category")
    segments = [r["user_id"] for r in csv.DictReader(open(rundir + "/customer_segments.csv"))]
    recs = read_recs(rundir + "/recommendations.csv")
    n = int(als["attrs"].get("top_n", 10))
    if sorted(segments) != sorted(recs) or sorted(segments) != sorted(pairs.by_user):
        fail("users of recommendations.csv, customer_segments.csv and the events differ")
    uindex = {u: i for i, u in enumerate(als["users"])}
    pindex = {int(p): i for i, p in enumerate(items)}
    trained = {u for (u, p), s in pairs.strength.items() if s > 0 and (u, p) not in hold}
    served = [u for u in als["users"] if u in trained] if full else []
    S = seq_scores(als["X"][[uindex[u] for u in served]], als["Y"])
    n_als = n_fb = 0
    for row, u in enumerate(served):
        excl = {pindex[p] for p in pairs.by_user[u] if (u, p) in pairs.purchased}
        top = ranked(S[row], items, excl, n)
        got = recs[u]
        want = [(r + 1, int(items[i]), S[row, i], "als") for r, i in enumerate(top)]
        if [(a, b, d) for a, b, _, d in got] != [(a, b, d) for a, b, _, d in want]:
            fail(f"user {u}: ALS top-{n} {got[:3]}... differs from numpy {want[:3]}...")
        for (_, _, s, _), (_, _, t, _) in zip(got, want):
            if abs(s - t) > 1e-8 * max(1.0, abs(t)):
                fail(f"user {u}: score {s} vs numpy {t}")
        n_als += 1
    for u in recs:
        if u in trained or not full:
            continue
        excl = {p for p in pairs.by_user[u] if (u, p) in pairs.purchased}
        want = fallback_rows(u, pairs, [int(p) for p in items], cat_of, popularity, n, excl)
        got = [(p, s) for (_, p, _, s) in recs[u]]
        if got != want:
            fail(f"user {u} (no training pairs): {got} vs {want}")
        n_fb += 1
    # every user N rows unless the catalogue minus exclusions is smaller; no excluded product
    for u, rows in recs.items():
        excl = {p for p in pairs.by_user[u] if (u, p) in pairs.purchased}
        expect = min(n, len(items) - len(excl))
        if len(rows) != expect or [r[0] for r in rows] != list(range(1, expect + 1)):
            fail(f"user {u}: {len(rows)} rows, expected {expect}")
        if any(r[1] in excl for r in rows):
            fail(f"user {u}: a purchased product is recommended")
    for u, rows in recs.items():
        if any((r[3] == "als") != (u in trained) for r in rows):
            fail(f"user {u}: source column wrong (ALS rows exactly for users with training pairs)")
    print(f"recs ok: {n_als} ALS users and {n_fb} fallback users match numpy; "
          f"{len(recs)} users x up to {n} rows, no purchased product recommended")


def metrics(rundir, key, csvs):
    events = read_events(csvs, key)
    pairs = Pairs(events)
    als = read_als(rundir)
    if int(als["attrs"].get("refit_on_all", 1)):
        fail("metrics needs a run with --no-als-refit")
    hold = als["holdout"]
    positive = {k for k, s in pairs.strength.items() if s > 0}
    if not hold <= positive:
        fail("a held-out pair is not a pair with strength > 0")
    frac = len(hold) / len(positive)
    items = als["items"]
    pindex = {int(p): i for i, p in enumerate(items)}
    train = defaultdict(set)
    test = defaultdict(set)
    pop = np.zeros(len(items))
    for (u, p) in positive:
        if (u, p) in hold:
            test[u].add(pindex[p])
        else:
            train[u].add(pindex[p])
            pop[pindex[p]] += pairs.strength[(u, p)]
    users = sorted(u for u in test if train[u])
    uindex = {u: i for i, u in enumerate(als["users"])}
    S_all = seq_scores(als["X"][[uindex[u] for u in users]], als["Y"])
    disc = [1.0 / math.log2(j + 2) for j in range(10)]
    out = {}
    for name in ("als", "popularity"):
        sums = np.zeros(5)
        auc_users = 0
        covered = set()
        for row, u in enumerate(users):
            s = S_all[row] if name == "als" else pop
            top = ranked(s, items, train[u], 10)
            covered.update(top)
            rel = test[u]
            hits = [i in rel for i in top]
            h = sum(hits)
            sums[0] += h / 10
            sums[1] += h / len(rel)
            ap, c = 0.0, 0
            for j, hit in enumerate(hits):
                if hit:
                    c += 1
                    ap += c / (j + 1)
            sums[2] += ap / min(10, len(rel))
            sums[3] += sum(d for d, hit in zip(disc, hits) if hit) / sum(disc[:min(10, len(rel))])
            neg = np.array([s[i] for i in range(len(items)) if i not in rel and i not in train[u]])
            if len(neg):
                pos = np.array([s[i] for i in rel])
                gt = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
                sums[4] += gt / (len(pos) * len(neg))
                auc_users += 1
        n = len(users)
        out[name] = {"precision_at_10": sums[0] / n, "recall_at_10": sums[1] / n,
                     "map_at_10": sums[2] / n, "ndcg_at_10": sums[3] / n,
                     "auc": sums[4] / auc_users, "coverage": len(covered) / len(items)}
    run = json.load(open(rundir + "/run.json"))
    for name in out:
        for k, v in out[name].items():
            if abs(run[name][k] - v) > 1e-9:
                fail(f"{name}.{k}: run.json {run[name][k]} vs numpy {v}")
        if run[name]["users"] != len(users):
            fail(f"{name}.users: {run[name]['users']} vs {len(users)}")
    print(f"metrics ok: holdout {len(hold)} of {len(positive)} pairs ({100 * frac:.1f}%), "
          f"{len(users)} users; ALS P@10 {out['als']['precision_at_10']:.4f}, popularity "
          f"{out['popularity']['precision_at_10']:.4f}; all 12 figures equal numpy within 1e-9")
    if not 0.17 < frac < 0.23:
        fail(f"holdout share {frac:.3f} is not about 20%")


def future(rundir, key, truth, csvs):
    events = read_events(csvs, key)
    pairs = Pairs(events)
    p = pseudonymizer(key)
    fut = defaultdict(set)
    with open(truth) as f:
        for row in csv.DictReader(f):
            fut[p(row["user_id"])].add(int(row["product_id"]))
    recs = read_recs(rundir + "/recommendations.csv")
    pop = defaultdict(float)
    for k, s in pairs.strength.items():
        pop[k[1]] += s
    by_pop = sorted(pop, key=lambda q: (-pop[q], q))
    als_hits = pop_hits = users = 0
    for u, want in fut.items():
        if u not in recs:
            continue
        users += 1
        als_hits += len(want & {r[1] for r in recs[u]})
        excl = {q for q in pairs.by_user[u] if (u, q) in pairs.purchased}
        top = [q for q in by_pop if q not in excl][:10]
        pop_hits += len(want & set(top))
    ratio = als_hits / max(1, pop_hits)
    print(f"future purchases of {users} users: {als_hits} in ALS top-10, {pop_hits} in popularity "
          f"top-10 (ratio {ratio:.2f})")
    if not (als_hits >= 1.5 * pop_hits and als_hits > 0):
        fail("ALS top-10 does not find 1.5x as many future purchases as popularity")


def score(rundir, key, outdir, new_csv, csvs):
    """score's recommendations vs a numpy fold-in (exact solve) over history + new events."""
    hist = read_events(csvs, key)
    new = read_events([new_csv], key)
    new_users = {e[0] for e in new}
    seen = set()
    events = []
    for e in [e for e in hist if e[0] in new_users] + new:
        if e[:5] not in seen:
            seen.add(e[:5])
            events.append(e)
    pairs = Pairs(events)
    als = read_als(rundir)
    a = als["attrs"]
    lam, alpha, n = float(a["regularization"]), float(a["alpha"]), int(a["top_n"])
    items, Y = als["items"], als["Y"]
    pindex = {int(q): i for i, q in enumerate(items)}
    k = Y.shape[1]
    G = Y.T @ Y + lam * np.eye(k)
    recs = read_recs(outdir + "/recommendations.csv")
    if sorted(recs) != sorted(new_users):
        fail("score: the users of recommendations.csv are not the users of the new events")
    n_als = n_fb = 0
    for u in sorted(new_users):
        idx = [(pindex[q], pairs.strength[(u, q)]) for q in pairs.by_user[u]
               if q in pindex and pairs.strength[(u, q)] > 0]
        excl = {pindex[q] for q in pairs.by_user[u] if (u, q) in pairs.purchased and q in pindex}
        got = recs[u]
        if not idx:
            if any(r[3] == "als" for r in got):
                fail(f"score: user {u} has no known product but ALS rows")
            n_fb += 1
            continue
        A = G.copy()
        b = np.zeros(k)
        for i, r in idx:
            c = 1 + alpha * r
            A += (c - 1) * np.outer(Y[i], Y[i])
            b += c * Y[i]
        x = np.linalg.solve(A, b)
        s = seq_scores(x[None, :], Y)[0]
        top = ranked(s, items, excl, n)
        if len(got) != len(top):
            fail(f"score: user {u}: {len(got)} rows, expected {len(top)}")
        for (rank, prod, sc, src), i in zip(got, top):
            if src != "als":
                fail(f"score: user {u} rank {rank}: source {src}")
            # a swap of near-ties is allowed: the product's numpy score equals the rank's
            if abs(s[pindex[prod]] - s[i]) > 1e-7 * max(1, abs(s[i])) or abs(sc - s[i]) > 1e-6 * max(1, abs(s[i])):
                fail(f"score: user {u} rank {rank}: {prod} ({sc}) vs numpy {int(items[i])} ({s[i]})")
            if pindex[prod] in excl:
                fail(f"score: user {u}: purchased product {prod} recommended")
        n_als += 1
    print(f"score ok: {n_als} users folded in match a numpy exact solve; {n_fb} served by fallbacks")


def same_segments(rundir, outdir):
    run = {r["user_id"]: r for r in csv.DictReader(open(rundir + "/customer_segments.csv"))}
    sc = list(csv.DictReader(open(outdir + "/customer_segments.csv")))
    if not sc:
        fail("score wrote no segments")
    for r in sc:
        o = run.get(r["user_id"])
        if o is None:
            fail(f"{r['user_id']} is not a user of the run")
        for col in ("segment_id", "segment_name", "segment_confidence", "proba"):
            if r[col] != o[col]:
                fail(f"{r['user_id']}: {col} {r[col]} from score vs {o[col]} in the run")
    if list(sc[0].keys()) != list(next(iter(run.values())).keys()):
        fail("score's customer_segments.csv columns differ from the run's")
    print(f"segments ok: {len(sc)} users re-scored from their training events keep their segment, "
          "confidence and proba")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "recs":
        check_recs(args[0], args[1], args[2:])
    elif cmd == "recs-basic":
        check_recs(args[0], args[1], args[2:], full=False)
    elif cmd == "metrics":
        metrics(args[0], args[1], args[2:])
    elif cmd == "future":
        future(args[0], args[1], args[2], args[3:])
    elif cmd == "score":
        sep = args.index("--")
        score(args[0], args[1], args[2], args[3], args[sep + 1:])
    elif cmd == "same-segments":
        same_segments(args[0], args[1])
    else:
        fail("unknown command " + cmd)


if __name__ == "__main__":
    main()
