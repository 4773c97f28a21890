-- Mark/restore (ammarkpos/amrestrpos): a merge join reads its inner side straight from a learned
-- index scan, with no Materialize node in between (the planner adds one when the inner scan can't
-- mark and restore), and restores to the first row of a duplicate group for every outer duplicate.
-- Duplicate groups span leaves and overflow pages, so a restore often goes back to a batch the
-- scan had already left. Every answer equals a hash join's.
CREATE EXTENSION IF NOT EXISTS omendb;
CREATE TABLE mj_in (k int8, v int);
-- keys 0..1999, key k present (k % 5) + 1 times; key 1000 6000 times (many leaves); some NULLs
INSERT INTO mj_in SELECT k, k * 10 + d FROM generate_series(0, 1999) k, generate_series(0, 4) d WHERE d <= k % 5;
INSERT INTO mj_in SELECT 1000, 100000 + d FROM generate_series(1, 6000) d;
INSERT INTO mj_in SELECT NULL, -d FROM generate_series(1, 50) d;
CREATE INDEX mj_in_k ON mj_in USING learned (k) WITH (fillfactor = 30);
-- after the build: duplicates of existing keys into gaps and overflow chains, and new keys
INSERT INTO mj_in SELECT k, 500000 + k FROM generate_series(0, 2100, 7) k;
INSERT INTO mj_in SELECT 1000, 600000 + d FROM generate_series(1, 3000) d;
INSERT INTO mj_in SELECT 1999, 700000 + d FROM generate_series(1, 2000) d;
VACUUM ANALYZE mj_in;
SELECT omendb_index_verify('mj_in_k');
SELECT leaf_pages > 10 AS many_leaves, overflow_pages > 0 AS has_overflow FROM omendb_index_stats('mj_in_k');
CREATE TABLE mj_out (id serial, k int8);
-- every third key, 1-3 times; keys 1000 and 1999 four times (three restores each); keys past the end
INSERT INTO mj_out (k) SELECT k FROM generate_series(-5, 2200, 3) k, generate_series(1, 3) r WHERE r <= 1 + k % 3;
INSERT INTO mj_out (k) SELECT k FROM (VALUES (1000), (1000), (1000), (1000), (1999), (1999), (1999), (1999)) s(k);
INSERT INTO mj_out (k) VALUES (NULL), (NULL);
-- the outer side comes sorted from a btree, so the planner puts the learned scan on the inner side
CREATE INDEX mj_out_k ON mj_out USING btree (k);
ANALYZE mj_out;
-- timestamptz, 700 keys ~13 times each, joined with 350 of them ~3-4 times each
CREATE TABLE mj_ts (t timestamptz);
INSERT INTO mj_ts SELECT '2026-01-01'::timestamptz + (i % 700) * interval '1 minute' FROM generate_series(1, 9000) i;
CREATE INDEX mj_ts_t ON mj_ts USING learned (t);
CREATE TABLE mj_ts_out AS SELECT '2026-01-01'::timestamptz + (i % 350) * interval '2 minutes' AS t FROM generate_series(1, 1200) i;
CREATE INDEX mj_ts_out_t ON mj_ts_out USING btree (t);
ANALYZE mj_ts;
ANALYZE mj_ts_out;
-- the joins, each run as a merge join over the learned index and as a hash join over seqscans
CREATE TABLE mj_queries (q text, sql text);
INSERT INTO mj_queries VALUES
  ('plain', 'SELECT o.id, i.v FROM mj_out o JOIN mj_in i ON i.k = o.k'),
  ('only', 'SELECT o.id, i.k FROM mj_out o JOIN mj_in i ON i.k = o.k'),          -- index-only inner
  ('range', 'SELECT o.id, i.v FROM mj_out o JOIN mj_in i ON i.k = o.k WHERE i.k BETWEEN 990 AND 1999'),
  ('full', 'SELECT o.id, i.v FROM mj_out o FULL JOIN mj_in i ON i.k = o.k'),     -- unmatched, NULLs
  ('timestamptz', 'SELECT o.t, i.t FROM mj_ts_out o JOIN mj_ts i ON i.t = o.t');
-- the answer of one join, as (rows, a checksum of the rows)
CREATE FUNCTION mj_answer(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  EXECUTE format('SELECT count(*) || '' '' || coalesce(sum(hashtext(s::text)::int8), 0) FROM (%s) s', q) INTO r;
  RETURN r;
END $$;
CREATE FUNCTION mj_plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || q;
END $$;
CREATE TABLE mj_results (q text, how text, answer text);
SET enable_hashjoin = off;
SET enable_nestloop = off;
SET enable_material = off;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT q, mj_plan(sql) AS plan FROM mj_queries;
INSERT INTO mj_results SELECT q, 'merge', mj_answer(sql) FROM mj_queries;
RESET ALL;
SET enable_mergejoin = off;
SET enable_nestloop = off;
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
SET enable_bitmapscan = off;
SELECT q, bool_or(plan ~ 'Hash.*Join') AND NOT bool_or(plan ~ 'Index') AS hash_over_seqscans
FROM mj_queries, mj_plan(sql) plan GROUP BY q ORDER BY q;
INSERT INTO mj_results SELECT q, 'hash', mj_answer(sql) FROM mj_queries;
RESET ALL;
-- equal answers, and not trivially: thousands of rows per join
SELECT q, count(DISTINCT answer) = 1 AS same, min(split_part(answer, ' ', 1)::int8) AS rows
FROM mj_results GROUP BY q ORDER BY q;
DROP TABLE mj_in, mj_out, mj_queries, mj_results, mj_ts, mj_ts_out;
DROP FUNCTION mj_answer(text), mj_plan(text);
