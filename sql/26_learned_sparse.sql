-- Sparse layout of the learned index: a key range per heap block plus exact entries for the rows
-- out of order. Bitmap scans only; answers equal a sequential scan's on ordered data, on data with 1%
-- and 20% late rows, with NULLs and duplicates, after inserts at the end and in the middle,
-- updates, deletes and VACUUM; omendb_index_verify finds every heap row.
CREATE EXTENSION IF NOT EXISTS omendb;
-- bad input
CREATE TABLE sp_bad (ts timestamptz);
CREATE INDEX ON sp_bad USING learned (ts) WITH (layout = 'sideways');
CREATE INDEX ON sp_bad USING learned (ts) WITH (layout = 'sparse') WHERE ts > '2020-01-01';
CREATE TABLE sp_bad_t (ts timestamptz) USING tiered;
CREATE INDEX ON sp_bad_t USING learned (ts) WITH (layout = 'sparse');
DROP TABLE sp_bad, sp_bad_t;

-- sp_check(t): queries over t through the sparse index (a bitmap scan) and by a seq scan, compared
-- by learned_same (01_test_helpers)
CREATE FUNCTION sp_check(t text) RETURNS text LANGUAGE sql AS $$
  SELECT concat_ws(' ',
    learned_same(format('SELECT id FROM %s WHERE ts = ''2020-01-02 03:04:00''', t)),
    learned_same(format('SELECT id FROM %s WHERE ts BETWEEN ''2020-01-03'' AND ''2020-01-03 02:00''', t)),
    learned_same(format('SELECT count(*) FROM %s WHERE ts < ''2020-01-01 06:00''', t)),
    learned_same(format('SELECT count(*) FROM %s WHERE ts >= ''2020-01-10''', t)),
    learned_same(format('SELECT count(*) FROM %s WHERE ts > ''2020-01-05'' AND ts <= ''2020-01-05 00:30''', t)),
    learned_same(format('SELECT id FROM %s WHERE ts = ANY (ARRAY[''2020-01-01 00:07'', ''2020-01-04 10:00'', ''2019-06-01'']::timestamptz[])', t)),
    learned_same(format('SELECT count(*) FROM %s WHERE ts IS NULL', t)),
    learned_same(format('SELECT count(*) FROM %s WHERE ts IS NOT NULL', t)),
    learned_same(format('SELECT count(*) FROM %s WHERE ts < ''2019-01-01''', t)));
$$;

-- 1. ordered: every row fits its block's range; no exception but the NULLs
CREATE TABLE sp_ord (id int8, ts timestamptz, pad text) WITH (autovacuum_enabled = off);
INSERT INTO sp_ord SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', repeat('x', 40)
FROM generate_series(1, 20000) g;
INSERT INTO sp_ord VALUES (0, NULL, 'null');
CREATE INDEX sp_ord_ts ON sp_ord USING learned (ts) WITH (layout = 'sparse');
ANALYZE sp_ord;
SELECT keys, nulls FROM omendb_index_stats('sp_ord_ts');
SELECT omendb_index_verify('sp_ord_ts');
EXPLAIN (COSTS OFF) SELECT id FROM sp_ord WHERE ts = '2020-01-02 03:04:00';
EXPLAIN (COSTS OFF) SELECT id FROM sp_ord WHERE ts BETWEEN '2020-01-03' AND '2020-01-03 02:00';
-- no plain, index-only or ordered scans: ORDER BY sorts, min() reads the table
EXPLAIN (COSTS OFF) SELECT ts FROM sp_ord WHERE ts < '2020-01-01 01:00' ORDER BY ts;
EXPLAIN (COSTS OFF) SELECT min(ts) FROM sp_ord;
SELECT sp_check('sp_ord');
-- there is no index scan path: with bitmap and seq scans disabled, the planner still picks among
-- those two (never an Index Scan)
SET enable_bitmapscan = off;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM sp_ord WHERE ts < '2020-01-01 01:00';
SELECT count(*) FROM sp_ord WHERE ts < '2020-01-01 01:00';
RESET enable_bitmapscan;
RESET enable_seqscan;
-- a tenth of btree's size even before the ranges are compressed
CREATE INDEX sp_ord_bt ON sp_ord (ts);
SELECT pg_relation_size('sp_ord_ts') * 10 < pg_relation_size('sp_ord_bt') AS smaller;
-- beside the btree, each query takes the cheaper one, and both answer alike
SELECT sp_check('sp_ord');
DROP INDEX sp_ord_bt;

-- 2. late rows (1% and 20%: keys from the past, stored among the new ones) and duplicates
CREATE TABLE sp_late (id int8, ts timestamptz, pad text) WITH (autovacuum_enabled = off);
INSERT INTO sp_late SELECT g,
  CASE WHEN g % 100 = 7 THEN '2020-01-01'::timestamptz + (g * 37 % 20000) * interval '1 minute'
       ELSE '2020-01-01'::timestamptz + (g / 3) * interval '3 minute' END,  -- runs of 3 equal keys
  repeat('y', 40)
FROM generate_series(1, 20000) g;
CREATE INDEX sp_late_ts ON sp_late USING learned (ts) WITH (layout = 'sparse');
SELECT keys BETWEEN 150 AND 400 AS about_one_percent FROM omendb_index_stats('sp_late_ts');
SELECT omendb_index_verify('sp_late_ts') > 0 AS verified;
SELECT sp_check('sp_late');
CREATE TABLE sp_late20 (id int8, ts timestamptz, pad text) WITH (autovacuum_enabled = off);
INSERT INTO sp_late20 SELECT g,
  CASE WHEN g % 5 = 0 THEN '2020-01-01'::timestamptz + (g * 7919 % 20000) * interval '1 minute'
       ELSE '2020-01-01'::timestamptz + g * interval '1 minute' END, repeat('z', 40)
FROM generate_series(1, 20000) g;
CREATE INDEX sp_late20_ts ON sp_late20 USING learned (ts) WITH (layout = 'sparse');
SELECT keys BETWEEN 3000 AND 6000 AS about_twenty_percent FROM omendb_index_stats('sp_late20_ts');
SELECT sp_check('sp_late20');

-- 3. writes after the build: appends in order (new heap blocks: the ranges grow, no entry), rows
-- into old blocks' free space, updates (HOT and not), deletes, VACUUM
CREATE TEMP TABLE sp_keys AS SELECT keys FROM omendb_index_stats('sp_ord_ts');
-- (rows as wide as the others: shorter ones would go into the old blocks' leftover space, found
-- through the free space map, and be exceptions there)
INSERT INTO sp_ord SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', repeat('x', 40)
FROM generate_series(20001, 21000) g;
SELECT s.keys = k.keys AS appends_add_no_entry FROM omendb_index_stats('sp_ord_ts') s, sp_keys k;
SELECT layout, block_ranges > 0 AS built, appended_ranges > 0 AS appended, range_pages > 0 AS pages
FROM omendb_index_stats('sp_ord_ts');
SELECT sp_check('sp_ord');
UPDATE sp_ord SET ts = ts - interval '10 days' WHERE id % 500 = 0;
UPDATE sp_ord SET pad = 'hot' WHERE id % 700 = 0;
DELETE FROM sp_ord WHERE id % 3 = 0;
VACUUM sp_ord;
INSERT INTO sp_ord SELECT g, '2019-12-01'::timestamptz + g * interval '1 second', 'reused'
FROM generate_series(30001, 30500) g;
SELECT omendb_index_verify('sp_ord_ts') > 0 AS verified;
SELECT sp_check('sp_ord');
-- REINDEX re-fits the block ranges: rows out of place in the old ranges may fit the new ones
CREATE TEMP TABLE sp_before AS SELECT keys FROM omendb_index_stats('sp_ord_ts');
REINDEX INDEX sp_ord_ts;
SELECT s.keys < b.keys AS fewer_exceptions FROM omendb_index_stats('sp_ord_ts') s, sp_before b;
SELECT omendb_index_verify('sp_ord_ts') > 0 AS verified;
SELECT sp_check('sp_ord');
-- re-fit: VACUUM re-fits once the entries (exceptions, NULLs) doubled since the build or the last
-- re-fit. Updates that move rows' keys a little past their block's range (the new versions stay
-- in the block: fillfactor 50) make exceptions; the re-fit widens those ranges to take them (a new
-- generation, no appended range left: the open one is on a fresh tail page). Rows far outside
-- their block's range (another era's keys in an old block's free space) stay exceptions. Every
-- row is still found, and the point lookup still reads one heap block.
CREATE TABLE sp_fit (id int8, ts timestamptz, pad text) WITH (fillfactor = 50, autovacuum_enabled = off);
INSERT INTO sp_fit SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', 'x' FROM generate_series(1, 20000) g;
CREATE INDEX sp_fit_ts ON sp_fit USING learned (ts) WITH (layout = 'sparse');
UPDATE sp_fit SET ts = ts + interval '40 minutes' WHERE id % 4 = 0;
UPDATE sp_fit SET ts = ts - interval '500 days' WHERE id % 1000 = 1;
CREATE TEMP TABLE sp_fit_before AS SELECT keys, generation FROM omendb_index_stats('sp_fit_ts');
SELECT keys > 2000 AS many_exceptions FROM sp_fit_before;
VACUUM sp_fit;
SELECT s.generation = b.generation + 1 AS refit, s.keys BETWEEN 20 AND b.keys / 10 AS far_ones_stay,
       s.appended_ranges AS open_ranges
  FROM omendb_index_stats('sp_fit_ts') s, sp_fit_before b;
SELECT omendb_index_verify('sp_fit_ts') > 0 AS verified;
SELECT sp_check('sp_fit');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT id FROM sp_fit WHERE ts = '2020-01-08 12:00';
-- a VACUUM that finds nothing new re-fits nothing
VACUUM sp_fit;
SELECT s.generation = b.generation + 1 AS no_second_refit FROM omendb_index_stats('sp_fit_ts') s, sp_fit_before b;
-- omendb_index_retrain re-fits at once (after the retired generation is freed)
UPDATE sp_fit SET ts = ts + interval '40 minutes' WHERE id % 4 = 2;
SELECT omendb_index_retrain('sp_fit_ts') AS retrained;
SELECT keys < 100 AS absorbed FROM omendb_index_stats('sp_fit_ts');
SELECT omendb_index_verify('sp_fit_ts') > 0 AS verified;
SELECT sp_check('sp_fit');
-- a sparse index built on an empty table holds all its ranges as appended (low, high) pairs; once
-- there are 1,024 of them and as many as the build's, VACUUM re-fits them into the compact stream
CREATE TABLE sp_tail (ts timestamptz) WITH (autovacuum_enabled = off);
CREATE INDEX sp_tail_ts ON sp_tail USING learned (ts) WITH (layout = 'sparse');
INSERT INTO sp_tail SELECT '2020-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 250000) g;
CREATE TEMP TABLE sp_tail_before AS SELECT * FROM omendb_index_stats('sp_tail_ts');
SELECT keys, block_ranges, appended_ranges > 1024 AS long_tail, refits FROM sp_tail_before;
VACUUM sp_tail;
SELECT s.keys, s.block_ranges + s.appended_ranges = b.appended_ranges AS same_blocks, s.appended_ranges AS open_ranges,
       s.range_pages < b.range_pages AS fewer_range_pages, s.refits
  FROM omendb_index_stats('sp_tail_ts') s, sp_tail_before b;
SELECT omendb_index_verify('sp_tail_ts') AS verified;
SELECT learned_same('SELECT count(*) FROM sp_tail WHERE ts BETWEEN ''2020-01-02'' AND ''2020-01-02 01:00''') AS same;
-- a re-fit leaves far rows in an empty block's free space as exceptions: an empty block's range
-- is inverted ([next block's low, previous block's high]) and has no width to absorb with
CREATE TABLE sp_gap (id int8, ts timestamptz, pad text) WITH (autovacuum_enabled = off);
INSERT INTO sp_gap SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', repeat('g', 40) FROM generate_series(1, 20000) g;
DELETE FROM sp_gap WHERE (ctid::text::point)[0] BETWEEN 40 AND 42;
VACUUM sp_gap;
CREATE INDEX sp_gap_ts ON sp_gap USING learned (ts) WITH (layout = 'sparse');
INSERT INTO sp_gap SELECT g, '2023-01-01'::timestamptz + g * interval '1 minute', repeat('g', 40) FROM generate_series(30001, 30200) g;
SELECT count(*) FILTER (WHERE (ctid::text::point)[0] BETWEEN 40 AND 42) AS in_the_gap FROM sp_gap WHERE id > 30000;
SELECT keys AS exceptions_before FROM omendb_index_stats('sp_gap_ts');
SELECT omendb_index_retrain('sp_gap_ts') AS refit;
SELECT keys AS exceptions_after FROM omendb_index_stats('sp_gap_ts');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT id FROM sp_gap WHERE ts = '2020-01-05 00:00';
SELECT omendb_index_verify('sp_gap_ts') > 0 AS verified;
SELECT sp_check('sp_gap');
-- the largest key ('infinity' encodes as 2^64 - 1) in appended blocks: a closed range may end
-- there; appends go on past 64 more blocks, and every row is found
CREATE TABLE sp_inf (id int8, ts timestamptz, pad text) WITH (autovacuum_enabled = off);
INSERT INTO sp_inf SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', 'x' FROM generate_series(1, 1000) g;
CREATE INDEX sp_inf_ts ON sp_inf USING learned (ts) WITH (layout = 'sparse');
INSERT INTO sp_inf SELECT g, CASE WHEN g % 500 = 0 THEN 'infinity' ELSE '2020-01-01'::timestamptz + g * interval '1 minute' END, 'x'
  FROM generate_series(1001, 30000) g;
SELECT keys, appended_ranges > 100 AS appended FROM omendb_index_stats('sp_inf_ts');
SELECT omendb_index_verify('sp_inf_ts') > 0 AS verified;
SELECT sp_check('sp_inf');
SELECT learned_same('SELECT id FROM sp_inf WHERE ts = ''infinity''') AS infinity_same,
       learned_same('SELECT count(*) FROM sp_inf WHERE ts > ''2020-01-20''') AS tail_same;
SELECT omendb_index_retrain('sp_inf_ts') AS refit;
INSERT INTO sp_inf SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', 'x' FROM generate_series(30001, 31000) g;
SELECT omendb_index_verify('sp_inf_ts') > 0 AS verified;
SELECT learned_same('SELECT count(*) FROM sp_inf WHERE ts > ''2020-01-20''') AS tail_same;
-- the planner's choice: beside BRIN, the sparse index for a point lookup; a seq scan for most of
-- the table
CREATE INDEX sp_ord_brin ON sp_ord USING brin (ts) WITH (pages_per_range = 16);
ANALYZE sp_ord;
EXPLAIN (COSTS OFF) SELECT id FROM sp_ord WHERE ts = '2020-01-05 00:00';
EXPLAIN (COSTS OFF) SELECT count(*) FROM sp_ord WHERE ts > '2020-01-02';
DROP INDEX sp_ord_brin;
-- VACUUM FULL and CLUSTER (through a btree) rebuild it: still every row found
VACUUM FULL sp_ord;
SELECT omendb_index_verify('sp_ord_ts') > 0 AS verified;
SELECT sp_check('sp_ord');
CREATE INDEX sp_ord_id ON sp_ord (id);
CLUSTER sp_ord USING sp_ord_id;
SELECT omendb_index_verify('sp_ord_ts') > 0 AS verified;
SELECT sp_check('sp_ord');
-- partitions: each partition's index is built and read on its own
CREATE TABLE sp_part (id int8, ts timestamptz) PARTITION BY RANGE (ts);
CREATE TABLE sp_part_1 PARTITION OF sp_part FOR VALUES FROM ('2020-01-01') TO ('2020-01-08');
CREATE TABLE sp_part_2 PARTITION OF sp_part FOR VALUES FROM ('2020-01-08') TO ('2020-02-01');
INSERT INTO sp_part SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 20000) g;
CREATE INDEX sp_part_ts ON sp_part USING learned (ts) WITH (layout = 'sparse');
INSERT INTO sp_part SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(20001, 21000) g;
ANALYZE sp_part;
EXPLAIN (COSTS OFF) SELECT id FROM sp_part WHERE ts = '2020-01-09 00:00';
SELECT sp_check('sp_part');
DROP TABLE sp_part;
-- VACUUM truncates the heap under ranges that outlive it: lookups there find nothing (and read
-- no missing block); the table grows again and is found; a concurrent build
CREATE TABLE sp_tr (id int8, ts timestamptz, pad text) WITH (autovacuum_enabled = off);
INSERT INTO sp_tr SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', repeat('t', 40)
FROM generate_series(1, 6000) g;
CREATE INDEX CONCURRENTLY sp_tr_ts ON sp_tr USING learned (ts) WITH (layout = 'sparse');
DELETE FROM sp_tr WHERE id > 3000;
VACUUM sp_tr;
SELECT pg_relation_size('sp_tr') < 60 * 8192 AS truncated;
SET enable_seqscan = off;
SELECT count(*) FROM sp_tr WHERE ts = '2020-01-04 10:00';
SELECT count(*) FROM sp_tr WHERE ts >= '2020-01-03 02:00';
RESET enable_seqscan;
INSERT INTO sp_tr SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', repeat('t', 40)
FROM generate_series(4001, 5000) g;
SELECT sp_check('sp_tr');
SELECT omendb_index_verify('sp_tr_ts') > 0 AS verified;
DROP TABLE sp_tr;
-- TRUNCATE, then the empty index takes rows (its ranges grow from block 0)
TRUNCATE sp_late20;
INSERT INTO sp_late20 SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', 'again'
FROM generate_series(1, 2000) g;
SELECT sp_check('sp_late20');
SELECT omendb_index_verify('sp_late20_ts') > 0 AS verified;
-- A HOT chain updated before the index existed holds two keys under one root: the build reads
-- the page without pruning it, and a lookup of the old key probes the dead version; every TID is
-- rechecked, so the live row (new key) is not returned for the old key.
CREATE TABLE sp_hot (id int8, k int8) WITH (fillfactor = 50, autovacuum_enabled = off);
INSERT INTO sp_hot SELECT g, g FROM generate_series(1, 1000) g;
VACUUM sp_hot;
UPDATE sp_hot SET k = k + 100000 WHERE id IN (5, 700);
CREATE INDEX sp_hot_k ON sp_hot USING learned (k) WITH (layout = 'sparse');
SELECT indcheckxmin FROM pg_index WHERE indexrelid = 'sp_hot_k'::regclass;
SET enable_seqscan = off;
SELECT * FROM sp_hot WHERE k = 5;
SELECT * FROM sp_hot WHERE k IN (700, 100700) ORDER BY k;
SELECT count(*) FROM sp_hot WHERE k BETWEEN 1 AND 10;
RESET enable_seqscan;
SELECT omendb_index_verify('sp_hot_k') > 0 AS verified;
DROP TABLE sp_hot;
-- Parallel plans: no parallel index or index-only scan of a sparse index (it serves bitmap scans
-- only), whatever the costs; a parallel bitmap heap scan reads it.
CREATE TABLE sp_par (id int8, ts timestamptz);
INSERT INTO sp_par SELECT g, '2020-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 50000) g;
CREATE INDEX sp_par_ts ON sp_par USING learned (ts) WITH (layout = 'sparse');
VACUUM ANALYZE sp_par;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_index_scan_size = 0;
SET min_parallel_table_scan_size = 0;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM sp_par;
SELECT count(*) FROM sp_par;
EXPLAIN (COSTS OFF) SELECT sum(id) FROM sp_par WHERE ts > '2020-01-01 10:00';
SELECT sum(id) FROM sp_par WHERE ts > '2020-01-01 10:00';
RESET enable_seqscan;
DROP TABLE sp_par;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_index_scan_size;
RESET min_parallel_table_scan_size;
-- The probe reads keys at a fixed offset when the row has no NULL and every column before the
-- key has a fixed length, else through heap_getattr: keys after a NULL, after a varlena column,
-- a float key (read as a Datum), and a column added after the rows that lack it (its default).
CREATE TABLE sp_lay (a int4, d float8, note text) WITH (autovacuum_enabled = off);
INSERT INTO sp_lay SELECT CASE WHEN g % 3 = 0 THEN NULL ELSE g END, g * 0.5, 'n' || g
  FROM generate_series(1, 6000) g;
ALTER TABLE sp_lay ADD COLUMN k int8 DEFAULT 7;
INSERT INTO sp_lay SELECT CASE WHEN g % 5 = 0 THEN NULL ELSE g END, g * 0.5, CASE WHEN g % 7 = 0 THEN NULL ELSE 'm' END, g
  FROM generate_series(6001, 9000) g;
CREATE INDEX sp_lay_d ON sp_lay USING learned (d) WITH (layout = 'sparse');
CREATE INDEX sp_lay_k ON sp_lay USING learned (k) WITH (layout = 'sparse');
CREATE INDEX sp_lay_a ON sp_lay USING learned (a) WITH (layout = 'sparse');
ANALYZE sp_lay;
SELECT learned_mismatches(ARRAY[
  'SELECT a, note FROM sp_lay WHERE d = 1500',
  'SELECT a, note FROM sp_lay WHERE d = 3500.5',
  'SELECT count(*) FROM sp_lay WHERE d BETWEEN 10 AND 4400',
  'SELECT count(*) FROM sp_lay WHERE k = 7',
  'SELECT a, d FROM sp_lay WHERE k = 8123',
  'SELECT a, d FROM sp_lay WHERE k IN (6001, 6002, 8999, 9000, 7)',
  'SELECT d FROM sp_lay WHERE a = 4001',
  'SELECT d FROM sp_lay WHERE a = 4002',
  'SELECT count(*) FROM sp_lay WHERE a BETWEEN 100 AND 8000']) AS mismatches;
SELECT omendb_index_verify('sp_lay_d') > 0 AND omendb_index_verify('sp_lay_k') > 0
  AND omendb_index_verify('sp_lay_a') > 0 AS verified;
DROP TABLE sp_lay;
DROP TABLE sp_ord, sp_late, sp_late20;
DROP FUNCTION sp_check(text);
