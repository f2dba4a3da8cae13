-- ecom warehouse schema (PostgreSQL 12 or later). Idempotent: scripts/load_warehouse.sh runs it
-- before every load, inside the load's transaction. README.md ("For marketing and BI") explains
-- every column. User ids are pseudonyms (16 hex digits of a keyed hash), never raw ids.

-- One row per loaded run directory.
CREATE TABLE IF NOT EXISTS runs (
  run_id       text PRIMARY KEY,          -- first 16 hex digits of SHA-256(run.json)
  run_time     timestamptz NOT NULL,      -- the run's updated_at (ecom --run-time)
  loaded_at    timestamptz NOT NULL DEFAULT now(),
  version      text,
  git_revision text,
  ranks        integer,
  config       text,                      -- the effective ecom configuration (TOML)
  counts       jsonb NOT NULL,            -- events, users, rows read/kept, duplicates, files, rejects
  metrics      jsonb NOT NULL             -- segments, pca, propensity, als, popularity, recommendations
);

-- The current segment and purchase propensity of every user (the latest run that saw the user).
CREATE TABLE IF NOT EXISTS customer_segments (
  user_id            char(16) PRIMARY KEY,
  segment_id         integer NOT NULL,
  segment_name       text NOT NULL,
  segment_confidence double precision,
  proba              double precision,  -- P(purchase in the next D days); NULL if not trained
  updated_at         timestamptz NOT NULL,
  run_id             text NOT NULL REFERENCES runs (run_id)
);
CREATE INDEX IF NOT EXISTS customer_segments_segment_updated
  ON customer_segments (segment_id, updated_at);

-- Top-N product recommendations per user, from the latest run that saw the user.
CREATE TABLE IF NOT EXISTS recommendations (
  user_id    char(16) NOT NULL,
  rank       integer NOT NULL,
  product_id bigint NOT NULL,
  score      double precision,
  source     text NOT NULL,  -- als, category_popular or popular
  updated_at timestamptz NOT NULL,
  run_id     text NOT NULL REFERENCES runs (run_id),
  PRIMARY KEY (user_id, rank)
);

-- Segment profiles of every run (segment ids are per run: join on run_id).
CREATE TABLE IF NOT EXISTS segment_profiles (
  run_id        text NOT NULL REFERENCES runs (run_id),
  segment_id    integer NOT NULL,
  name          text NOT NULL,
  users         bigint NOT NULL,
  share         double precision,
  revenue       double precision,
  revenue_share double precision,
  profile       jsonb NOT NULL,  -- the mean of every feature over the segment's users
  PRIMARY KEY (run_id, segment_id)
);

-- Users and revenue per segment in the latest run (the BI starting point).
CREATE OR REPLACE VIEW segment_summary AS
SELECT p.segment_id, p.name AS segment_name, count(c.user_id) AS users, p.revenue,
       avg(c.proba) AS mean_proba, r.run_id, r.run_time
FROM runs r
JOIN segment_profiles p ON p.run_id = r.run_id
LEFT JOIN customer_segments c ON c.run_id = r.run_id AND c.segment_id = p.segment_id
WHERE r.run_id = (SELECT run_id FROM runs ORDER BY run_time DESC, loaded_at DESC LIMIT 1)
GROUP BY p.segment_id, p.name, p.revenue, r.run_id, r.run_time;
