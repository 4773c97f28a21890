-- VACUUM, ANALYZE and TABLESAMPLE of a tiered table's cold rows. VACUUM removes the index entries
-- of cold rows deleted or updated before every snapshot, folds their changes into the batches'
-- deleted bitmaps (dropping batches left empty), and removes the index entries an aborted move
-- left; pg_class counts both tiers after VACUUM and after ANALYZE alike; ANALYZE and TABLESAMPLE
-- sample cold rows too. Every step is checked against a heap twin and omendb_tier_verify (which
-- fails if an index still points at a folded row).
CREATE EXTENSION IF NOT EXISTS omendb;
CREATE TABLE tv (id int8, ts timestamptz, device int, note text) USING tiered
  WITH (autovacuum_enabled = off);  -- this test runs VACUUM itself (its heap must keep its pages)
CREATE TABLE tv_heap (LIKE tv) USING heap WITH (autovacuum_enabled = off);
INSERT INTO tv SELECT g, '2021-01-01'::timestamptz + g * interval '1 minute', g % 13,
                      CASE WHEN g % 11 = 0 THEN NULL ELSE 'n' || (g % 29) END
FROM generate_series(1, 12000) g;
INSERT INTO tv_heap SELECT * FROM tv;
CREATE INDEX tv_id ON tv (id);
CREATE INDEX tv_ts ON tv USING learned (ts);
CREATE INDEX tv_note ON tv USING hash (note);
CREATE INDEX tv_heap_id ON tv_heap (id);
CREATE INDEX tv_heap_ts ON tv_heap USING learned (ts);
CREATE INDEX tv_heap_note ON tv_heap USING hash (note);
CREATE FUNCTION tv_check() RETURNS text LANGUAGE sql AS $$
  SELECT concat_ws(' ',
    tiered_same('SELECT * FROM $T', 'tv', 'tv_heap'),
    tiered_same('SELECT id FROM $T WHERE id BETWEEN 2990 AND 3100', 'tv', 'tv_heap'),
    tiered_same('SELECT id, ts FROM $T WHERE ts < ''2021-01-03''', 'tv', 'tv_heap'),
    tiered_same('SELECT id FROM $T WHERE note = ''n7''', 'tv', 'tv_heap'),
    tiered_same('SELECT count(*), sum(id), count(note) FROM $T', 'tv', 'tv_heap'));
$$;
SELECT omendb_tier_set_policy('tv', 'ts', batch_rows => 1000);
-- every row cold (repeated while a concurrent snapshot keeps rows from being visible to all)
SELECT tiered_move_all('tv', 12000);
SELECT hot_rows, cold_rows, cold_batches FROM omendb_tier_stats('tv');

-- ANALYZE samples the cold rows: the same statistics as the heap twin's (every row is sampled at
-- this size), and reltuples counts both tiers
ANALYZE tv;
ANALYZE tv_heap;
SELECT a.attname, a.null_frac = b.null_frac AS null_frac, a.n_distinct = b.n_distinct AS n_distinct,
       a.avg_width = b.avg_width AS width,
       (SELECT array_agg(x ORDER BY x) FROM unnest(a.most_common_vals::text::text[]) x) IS NOT DISTINCT FROM
       (SELECT array_agg(x ORDER BY x) FROM unnest(b.most_common_vals::text::text[]) x) AS mcv,
       a.histogram_bounds::text IS NOT DISTINCT FROM b.histogram_bounds::text AS histogram
FROM pg_stats a JOIN pg_stats b USING (attname)
WHERE a.tablename = 'tv' AND b.tablename = 'tv_heap' ORDER BY 1;
SELECT relname, reltuples FROM pg_class WHERE relname IN ('tv', 'tv_heap') ORDER BY 1;

-- TABLESAMPLE reaches the cold rows: 100% is every row, 0% none, REPEATABLE the same rows again
SELECT (SELECT count(*) FROM tv TABLESAMPLE SYSTEM (100)) AS system_all,
       (SELECT count(*) FROM tv TABLESAMPLE BERNOULLI (100)) AS bernoulli_all,
       (SELECT count(*) FROM tv TABLESAMPLE SYSTEM (0)) AS system_none;
SELECT (SELECT sum(id) FROM tv TABLESAMPLE BERNOULLI (30) REPEATABLE (7)) =
       (SELECT sum(id) FROM tv TABLESAMPLE BERNOULLI (30) REPEATABLE (7)) AS bernoulli_repeats,
       (SELECT count(*) FROM tv TABLESAMPLE BERNOULLI (30) REPEATABLE (7)) BETWEEN 3000 AND 4200 AS bernoulli_30pct,
       (SELECT sum(id) FROM tv TABLESAMPLE SYSTEM (30) REPEATABLE (3)) =
       (SELECT sum(id) FROM tv TABLESAMPLE SYSTEM (30) REPEATABLE (3)) AS system_repeats,
       (SELECT count(*) FROM tv TABLESAMPLE SYSTEM (30) REPEATABLE (3)) BETWEEN 1000 AND 7000 AS system_30pct;
-- TID range scans reach cold rows (their ctids are virtual blocks from 2^31), forward and backward
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM tv WHERE ctid > '(0,0)';
SELECT (SELECT count(*) FROM tv WHERE ctid >= '(2147483648,1)') AS cold_range,
       (SELECT count(*) FROM tv WHERE ctid > '(0,0)') AS whole_range,
       (SELECT count(*) FROM tv WHERE ctid BETWEEN '(2147483648,1)' AND '(2147483648,100)') AS first_100,
       (SELECT count(*) FROM tv WHERE ctid < '(2147483648,1)') AS hot_range;
BEGIN;
DECLARE c SCROLL CURSOR FOR SELECT id FROM tv WHERE ctid BETWEEN '(2147483648,1)' AND '(2147483648,3)';
FETCH ALL FROM c;
FETCH BACKWARD ALL FROM c;
COMMIT;
RESET enable_seqscan;
-- a scroll cursor over a seq scan: FETCH LAST reaches the last cold row, backward from there, and
-- back to the first (hot) row
INSERT INTO tv_heap VALUES (0, '2020-12-31', 0, 'hot');
INSERT INTO tv VALUES (0, '2020-12-31', 0, 'hot');
BEGIN;
SET LOCAL enable_indexscan = off;
SET LOCAL enable_bitmapscan = off;
SET LOCAL enable_tidscan = off;
DECLARE c SCROLL CURSOR FOR SELECT id FROM tv;
FETCH LAST FROM c;
FETCH BACKWARD 2 FROM c;
FETCH ABSOLUTE 1 FROM c;
COMMIT;
DELETE FROM tv WHERE id = 0;
DELETE FROM tv_heap WHERE id = 0;

-- other sampling methods count the blocks they were first told of (the hot tier's): refused
CREATE EXTENSION IF NOT EXISTS tsm_system_rows;
SELECT count(*) FROM tv TABLESAMPLE system_rows (10);
SELECT count(*) FROM tv_heap TABLESAMPLE system_rows (10);

-- retention: a DELETE of the oldest three batches, single rows deleted and updated (the new
-- versions hot) all over the cold tier; the statistics views count the cold deletes
SELECT pg_stat_force_next_flush();
SELECT n_tup_del AS del0 FROM pg_stat_user_tables WHERE relname = 'tv' \gset
DELETE FROM tv WHERE id <= 3000;
DELETE FROM tv WHERE id % 97 = 0;
UPDATE tv SET note = 'u' WHERE id % 89 = 0;
DELETE FROM tv_heap WHERE id <= 3000;
DELETE FROM tv_heap WHERE id % 97 = 0;
UPDATE tv_heap SET note = 'u' WHERE id % 89 = 0;
SELECT pg_stat_force_next_flush();
SELECT n_tup_del - :del0 AS cold_deleted, n_tup_upd FROM pg_stat_user_tables WHERE relname = 'tv';
SELECT count(*) AS changes FROM omendb.tier_delete WHERE relid = 'tv'::regclass;
SELECT tv_check();

-- VACUUM: the changes are folded into the batches (the first three batches dropped), their
-- index entries removed (verify checks that none is left), every answer unchanged
SELECT 'VACUUM tv' FROM generate_series(1, 3) \gexec
VACUUM tv_heap;
SELECT count(*) AS changes FROM omendb.tier_delete WHERE relid = 'tv'::regclass;
SELECT count(*) AS batches, sum(nrows) AS rows, sum(bit_count(deleted)) AS folded, min(first_block) > 2147483648 AS first_dropped
FROM omendb.tier_batch WHERE relid = 'tv'::regclass;
SELECT omendb_tier_verify('tv');
SELECT hot_rows, cold_rows, cold_batches FROM omendb_tier_stats('tv');
SELECT tv_check();
-- reltuples after VACUUM: both tiers' live rows, as after ANALYZE; the planner's estimate agrees
SELECT reltuples = (SELECT count(*) FROM tv_heap) AS reltuples_exact FROM pg_class WHERE relname = 'tv';
ANALYZE tv;
SELECT reltuples = (SELECT count(*) FROM tv_heap) AS reltuples_exact FROM pg_class WHERE relname = 'tv';
CREATE FUNCTION plan_rows(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN ' || q LOOP RETURN (regexp_match(line, 'rows=(\d+)'))[1]::int; END LOOP;
END $$;
SELECT plan_rows('SELECT * FROM tv') = (SELECT count(*) FROM tv_heap) AS estimate_exact;
VACUUM tv;
SELECT reltuples = (SELECT count(*) FROM tv_heap) AS reltuples_exact FROM pg_class WHERE relname = 'tv';
SELECT plan_rows('SELECT * FROM tv') = (SELECT count(*) FROM tv_heap) AS estimate_exact;

-- VACUUM (INDEX_CLEANUP off) keeps index entries, so it folds nothing; the next VACUUM does
DELETE FROM tv WHERE id = 5001;
DELETE FROM tv_heap WHERE id = 5001;
VACUUM (INDEX_CLEANUP off) tv;
SELECT count(*) AS changes FROM omendb.tier_delete WHERE relid = 'tv'::regclass;
SELECT 'VACUUM tv' FROM generate_series(1, 3) \gexec
SELECT count(*) AS changes FROM omendb.tier_delete WHERE relid = 'tv'::regclass;
SELECT omendb_tier_verify('tv'), tv_check();

-- a rolled-back move leaves index entries of batches that never were; VACUUM removes them
INSERT INTO tv SELECT g, '2021-01-01'::timestamptz + g * interval '1 minute', g % 13, 'late'
FROM generate_series(12001, 14000) g;
INSERT INTO tv_heap SELECT * FROM tv WHERE id > 12000;
BEGIN;
SELECT omendb_tier_move('tv', interval '0') > 0 AS moved;
ROLLBACK;
-- an index built now does not count the rolled-back batches' rows (live in the hot tier) twice
CREATE UNIQUE INDEX tv_id_unique ON tv (id);
DROP INDEX tv_id_unique;
SELECT omendb_tier_verify('tv');
VACUUM tv;
SELECT omendb_tier_verify('tv'), tv_check();
-- cold rows deleted in a transaction that rolls back stay
BEGIN;
DELETE FROM tv WHERE id BETWEEN 6000 AND 6500;
ROLLBACK;
VACUUM tv;
SELECT count(*) FROM tv WHERE id BETWEEN 6000 AND 6500;
SELECT omendb_tier_verify('tv'), tv_check();
DROP TABLE tv, tv_heap;
DROP FUNCTION tv_check(), plan_rows(text);
DROP EXTENSION tsm_system_rows;
