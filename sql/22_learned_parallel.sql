-- Parallel index scans (amcanparallel): the participants take the scan's units (a leaf and its
-- overflow chain, or the NULL chain) one at a time in key order through shared state. With the
-- leader not participating, every row comes from the two workers: a unit read twice or skipped
-- would change the answers, which must equal a sequential scan's, for ranges, duplicates,
-- overflow chains, edge leaves, IS [NOT] NULL, and ORDER BY through Gather Merge, both ways. (The
-- planner keeps = ANY scans serial: it costs a parallel one higher.)
CREATE EXTENSION IF NOT EXISTS omendb;
CREATE TABLE lp (k int8, v int);
SELECT setseed(0.21);
INSERT INTO lp SELECT (random() * 1000000)::int8, g FROM generate_series(1, 60000) g;
INSERT INTO lp SELECT 424242, g FROM generate_series(1, 5000) g;          -- one key, many leaves
INSERT INTO lp SELECT NULL, g FROM generate_series(1, 20000) g;
CREATE INDEX lp_k ON lp USING learned (k) WITH (fillfactor = 50);
-- after the build: overflow chains and unsorted tails, then appends past the end (edge leaves)
INSERT INTO lp SELECT (random() * 1000000)::int8, g FROM generate_series(1, 20000) g;
INSERT INTO lp SELECT 424242, g FROM generate_series(1, 3000) g;
INSERT INTO lp SELECT 1000000 + g, g FROM generate_series(1, 30000) g;
VACUUM ANALYZE lp;
SELECT leaf_pages > 50 AS many_leaves, overflow_pages > 0 AS has_overflow, edge_leaves > 0 AS has_edge
FROM omendb_index_stats('lp_k');
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_index_scan_size = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SET enable_bitmapscan = off;
-- per-row CPU weighs more than Gather Merge's comparisons, so ordered scans go parallel too
SET cpu_tuple_cost = 1;
SET cpu_index_tuple_cost = 1;
-- the plan of q under enable_seqscan = off: a parallel scan of lp_k, and the workers launched
CREATE FUNCTION lp_plan(q text, OUT parallel_learned boolean, OUT workers int) LANGUAGE plpgsql AS $$
DECLARE j json; t text;
BEGIN
  PERFORM set_config('enable_seqscan', 'off', true);
  EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || q INTO j;
  PERFORM set_config('enable_seqscan', 'on', true);
  t := j::text;
  parallel_learned := t ~ '"Parallel Aware": true,\s*"Async Capable": false,\s*"Scan Direction": "\w+",\s*"Index Name": "lp_k"';
  workers := (regexp_match(t, '"Workers Launched": (\d+)'))[1]::int;
END $$;
CREATE TABLE lp_queries (q text, ordered boolean);
INSERT INTO lp_queries VALUES
  ('SELECT count(*), sum(k) FROM lp WHERE k BETWEEN 100000 AND 900000', false),  -- index-only
  ('SELECT count(*), sum(v) FROM lp WHERE k BETWEEN 100000 AND 900000', false),  -- index scan
  ('SELECT count(*), sum(v) FROM lp WHERE k IS NOT NULL', false),                -- every leaf
  ('SELECT count(*), sum(v) FROM lp WHERE k = 424242', false),                   -- duplicates
  ('SELECT count(*), sum(v) FROM lp WHERE k > 999000', false),                   -- edge leaves
  ('SELECT count(*), sum(v) FROM lp WHERE k IS NULL', false),                    -- NULL chain
  ('SELECT k FROM lp WHERE k BETWEEN 400000 AND 1010000 ORDER BY k', true),     -- Gather Merge
  ('SELECT k FROM lp WHERE k < 600000 ORDER BY k DESC', true);                   -- backward
-- every query: a parallel scan of lp_k with workers launched, answers equal a seqscan's
SELECT q, p.parallel_learned, p.workers > 0 AS workers, learned_same(q, ordered, false) AS same
FROM lp_queries, lp_plan(q) p;
-- two plans in full
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*), sum(k) FROM lp WHERE k BETWEEN 100000 AND 900000;
EXPLAIN (COSTS OFF) SELECT k FROM lp WHERE k < 600000 ORDER BY k DESC;
-- rescans of a parallel scan (amparallelrescan): a Gather on the inner side of a nested loop
-- (below it because the CTE scan is parallel-restricted) runs again for every outer row
SET enable_material = off;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_memoize = off;
EXPLAIN (COSTS OFF) WITH p AS MATERIALIZED (VALUES (10::int8), (21), (32))
SELECT count(*), sum(lp.v) FROM p LEFT JOIN lp ON lp.k BETWEEN 1000 AND 300000 AND lp.k % 10 = p.column1 % 10;
SELECT learned_same('WITH p AS MATERIALIZED (VALUES (10::int8), (21), (32))
  SELECT count(*), sum(lp.v) FROM p LEFT JOIN lp ON lp.k BETWEEN 1000 AND 300000 AND lp.k % 10 = p.column1 % 10', false, false);
RESET ALL;
DROP TABLE lp, lp_queries;
DROP FUNCTION lp_plan(text);
