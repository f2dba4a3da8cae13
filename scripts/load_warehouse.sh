#!/usr/bin/env bash
# Loads one ecom run directory into PostgreSQL: scripts/load_warehouse.sh RUNDIR
#
# Connection from the standard libpq environment: PGHOST, PGPORT, PGDATABASE, PGUSER,
# PGPASSWORD (or ~/.pgpass), PGSSLMODE, ... Needs psql (Debian: postgresql-client).
#
# In ONE transaction: creates the schema if missing (sql/schema.sql), copies the run's CSVs into
# temporary staging tables with \copy (client side: the server never reads RUNDIR), then
#   runs               insert (run id = first 16 hex digits of the SHA-256 of run.json's
#                      contents: the same run has the same id from any path or copy)
#   customer_segments  upsert by user_id
#   recommendations    upsert by (user_id, rank); ranks a user no longer has are deleted
#   segment_profiles   insert by (run_id, segment_id)
# A row is only written when it changes and the run is not older than the row (updated_at), so
# loading the same run twice changes nothing, a later run updates its users' rows, and loading
# an older run after a newer one never overwrites newer rows. Any error rolls everything back.
# No path text reaches psql: the files are linked into a private staging directory of plain
# name first, so RUNDIR may hold quotes, backslashes or newlines.
set -euo pipefail

usage() { echo "usage: $0 RUNDIR  (connection: PGHOST, PGPORT, PGDATABASE, PGUSER, ...)" >&2; exit 2; }
[[ $# -eq 1 ]] || usage
run="$1"
here="$(cd "$(dirname "$0")" && pwd)"
schema="$here/../sql/schema.sql"
die() { echo "load_warehouse: $*" >&2; exit 1; }
command -v psql >/dev/null || die "psql not found (Debian: apt-get install postgresql-client)"
[[ -f "$schema" ]] || die "schema not found: $schema"
for f in run.json customer_segments.csv segment_profiles.csv; do
  [[ -f "$run/$f" ]] || die "$run/$f not found (is $run a finished run directory?)"
done

# The CSV headers this loader understands (a change in ecom must be matched here).
want_segments="user_id,segment_id,segment_name,segment_confidence,proba,updated_at"
want_recs="user_id,rank,product_id,score,source"
got=$(head -n1 "$run/customer_segments.csv" | tr -d '\r')
[[ "$got" == "$want_segments" ]] || die "$run/customer_segments.csv: header '$got', expected '$want_segments'"
has_recs=0
if [[ -f "$run/recommendations.csv" ]]; then
  got=$(head -n1 "$run/recommendations.csv" | tr -d '\r')
  [[ "$got" == "$want_recs" ]] || die "$run/recommendations.csv: header '$got', expected '$want_recs'"
  has_recs=1
fi
profile_header=$(head -n1 "$run/segment_profiles.csv" | tr -d '\r')
[[ "$profile_header" == segment_id,name,users,share,revenue,revenue_share* ]] ||
  die "$run/segment_profiles.csv: unexpected header '$profile_header'"

# From the contents on stdin: `sha256sum FILE` escapes a name holding a backslash or newline
# and prefixes the hash with '\'.
run_id=$(sha256sum < "$run/run.json" | cut -c1-16)
[[ "$run_id" =~ ^[0-9a-f]{16}$ ]] || die "cannot hash $run/run.json"
sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }
abs() { printf '%s/%s' "$(cd "$(dirname "$1")" && pwd)" "$(basename "$1")"; }
# psql reads file names in its meta-commands (\i, \copy, backquotes) with its own escapes and
# ends them at a newline: it only ever sees the staging directory's plain names.
tmp_base="${TMPDIR:-/tmp}"
[[ "$tmp_base" =~ ^[A-Za-z0-9_./-]+$ ]] || tmp_base=/tmp
stage=$(mktemp -d "$tmp_base/ecom-load.XXXXXX")
trap 'rm -rf "$stage"' EXIT
case "$run" in /*) from="$run" ;; *) from="$PWD/$run" ;; esac  # no $(...): it strips newlines
for f in run.json customer_segments.csv segment_profiles.csv recommendations.csv; do
  if [[ -f "$from/$f" ]]; then ln -s "$from/$f" "$stage/$f"; fi
done
case "$schema" in /*) ln -s "$schema" "$stage/schema.sql" ;; *) ln -s "$PWD/$schema" "$stage/schema.sql" ;; esac
run="$stage" schema="$stage/schema.sql"
# Staging columns of segment_profiles: every CSV column as text (names checked above to be
# identifiers: letters, digits, underscores).
profile_cols=""
IFS=',' read -r -a cols <<< "$profile_header"
for c in "${cols[@]}"; do
  [[ "$c" =~ ^[a-z_][a-z0-9_]*$ ]] || die "$run/segment_profiles.csv: bad column name '$c'"
  profile_cols+="${profile_cols:+, }\"$c\" text"
done

{
  echo '\set ON_ERROR_STOP on'
  echo "SET client_min_messages = warning;"
  echo "\\i $(sql_quote "$schema")"
  echo "\\set run_json \`cat $(printf '%q' "$(abs "$run/run.json")")\`"
  cat <<SQL
CREATE TEMP TABLE stage_run ON COMMIT DROP AS SELECT (:'run_json')::jsonb AS j;
INSERT INTO runs (run_id, run_time, version, git_revision, ranks, config, counts, metrics)
SELECT $(sql_quote "$run_id"), (j->>'run_time')::timestamptz, j->>'version', j->>'git_revision',
       (j->>'ranks')::integer, j->>'config', (j->'counts') || jsonb_build_object('rejects', j->'rejects'),
       jsonb_strip_nulls(jsonb_build_object('segments', j->'segments', 'pca', j->'pca',
         'propensity', j->'propensity', 'als', j->'als', 'popularity', j->'popularity',
         'recommendations', j->'recommendations', 'holdout_pairs', j->'holdout_pairs'))
FROM stage_run
ON CONFLICT (run_id) DO NOTHING;

CREATE TEMP TABLE stage_segments (
  user_id text, segment_id integer, segment_name text, segment_confidence double precision,
  proba double precision, updated_at timestamptz) ON COMMIT DROP;
SQL
  echo "\\copy stage_segments FROM $(sql_quote "$(abs "$run/customer_segments.csv")") WITH (FORMAT csv, HEADER true)"
  cat <<SQL
INSERT INTO customer_segments AS c
  (user_id, segment_id, segment_name, segment_confidence, proba, updated_at, run_id)
SELECT user_id, segment_id, segment_name, segment_confidence, proba, updated_at, $(sql_quote "$run_id")
FROM stage_segments
ON CONFLICT (user_id) DO UPDATE SET
  segment_id = EXCLUDED.segment_id, segment_name = EXCLUDED.segment_name,
  segment_confidence = EXCLUDED.segment_confidence, proba = EXCLUDED.proba,
  updated_at = EXCLUDED.updated_at, run_id = EXCLUDED.run_id
WHERE EXCLUDED.updated_at >= c.updated_at
  AND (c.segment_id, c.segment_name, c.segment_confidence, c.proba, c.updated_at, c.run_id)
      IS DISTINCT FROM (EXCLUDED.segment_id, EXCLUDED.segment_name, EXCLUDED.segment_confidence,
                        EXCLUDED.proba, EXCLUDED.updated_at, EXCLUDED.run_id);

CREATE TEMP TABLE stage_profiles ($profile_cols) ON COMMIT DROP;
SQL
  echo "\\copy stage_profiles FROM $(sql_quote "$(abs "$run/segment_profiles.csv")") WITH (FORMAT csv, HEADER true)"
  cat <<SQL
INSERT INTO segment_profiles (run_id, segment_id, name, users, share, revenue, revenue_share, profile)
SELECT $(sql_quote "$run_id"), s.segment_id::integer, s.name, s.users::bigint,
       nullif(s.share, '')::double precision, nullif(s.revenue, '')::double precision,
       nullif(s.revenue_share, '')::double precision,
       coalesce((SELECT jsonb_object_agg(key, nullif(value, '')::double precision)
                 FROM jsonb_each_text(to_jsonb(s) - 'segment_id' - 'name' - 'users' - 'share'
                                      - 'revenue' - 'revenue_share')), '{}'::jsonb)
FROM stage_profiles s
ON CONFLICT (run_id, segment_id) DO NOTHING;
SQL
  if ((has_recs)); then
    cat <<SQL
CREATE TEMP TABLE stage_recs (
  user_id text, rank integer, product_id bigint, score double precision, source text) ON COMMIT DROP;
SQL
    echo "\\copy stage_recs FROM $(sql_quote "$(abs "$run/recommendations.csv")") WITH (FORMAT csv, HEADER true)"
    cat <<SQL
-- Ranks a user of this run no longer has (a smaller top-N), unless the stored rows are newer.
DELETE FROM recommendations r
USING (SELECT DISTINCT user_id FROM stage_recs) u, stage_run
WHERE r.user_id = u.user_id AND r.updated_at <= (stage_run.j->>'run_time')::timestamptz
  AND NOT EXISTS (SELECT 1 FROM stage_recs s WHERE s.user_id = r.user_id AND s.rank = r.rank);
INSERT INTO recommendations AS r (user_id, rank, product_id, score, source, updated_at, run_id)
SELECT s.user_id, s.rank, s.product_id, s.score, s.source, (stage_run.j->>'run_time')::timestamptz,
       $(sql_quote "$run_id")
FROM stage_recs s, stage_run
ON CONFLICT (user_id, rank) DO UPDATE SET
  product_id = EXCLUDED.product_id, score = EXCLUDED.score, source = EXCLUDED.source,
  updated_at = EXCLUDED.updated_at, run_id = EXCLUDED.run_id
WHERE EXCLUDED.updated_at >= r.updated_at
  AND (r.product_id, r.score, r.source, r.updated_at, r.run_id)
      IS DISTINCT FROM (EXCLUDED.product_id, EXCLUDED.score, EXCLUDED.source, EXCLUDED.updated_at,
                        EXCLUDED.run_id);
SQL
  fi
  cat <<SQL
SELECT 'loaded run ' || $(sql_quote "$run_id") || ' (' || (SELECT j->>'run_time' FROM stage_run) || '): '
       || (SELECT count(*) FROM stage_segments) || ' users, '
       || (SELECT count(*) FROM stage_profiles) || ' segments'
       || $( ((has_recs)) && echo "', ' || (SELECT count(*) FROM stage_recs) || ' recommendations'" || echo "''" );
SQL
} | psql -X --no-psqlrc -q -v ON_ERROR_STOP=1 --single-transaction -At -f -
