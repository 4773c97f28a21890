-- Table AM `tiered` with cold rows: omendb_tier_move turns old rows into compressed batches; every
-- scan type (seq, parallel seq, index, index-only, bitmap, backward) still answers as the heap twin
-- does; indexes built later, VACUUM [FULL], CLUSTER, SET TABLESPACE, TRUNCATE and a rewrite to heap
-- keep every row exactly once; DML on cold rows behaves as on heap; corrupt batches give errors,
-- never wrong answers.
CREATE EXTENSION IF NOT EXISTS omendb;
CREATE TABLE ev (id int8, ts timestamptz, device int, v1 float8, v2 float4, note text, big text, day date)
  USING tiered;
CREATE TABLE ev_heap (LIKE ev) USING heap;
INSERT INTO ev SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', g % 50, g * 0.25,
                      (g % 1000) / 8.0, 'n' || (g % 37), CASE WHEN g % 2000 = 0 THEN repeat(md5(g::text), 200) END,
                      '2020-01-01'::date + g / 1440
FROM generate_series(1, 20000) g;
INSERT INTO ev_heap SELECT * FROM ev;
CREATE INDEX ev_ts ON ev USING learned (ts);
CREATE INDEX ev_device ON ev (device);
CREATE INDEX ev_note ON ev USING hash (note);
CREATE INDEX ev_heap_ts ON ev_heap USING learned (ts);
CREATE INDEX ev_heap_device ON ev_heap (device);
CREATE INDEX ev_heap_note ON ev_heap USING hash (note);
VACUUM ANALYZE ev;
VACUUM ANALYZE ev_heap;
-- ev_same(q): tiered_same (01_test_helpers) over ev and its heap twin ev_heap
CREATE FUNCTION ev_same(q text) RETURNS boolean LANGUAGE sql AS $$ SELECT tiered_same(q, 'ev', 'ev_heap') $$;
CREATE FUNCTION ev_check() RETURNS text LANGUAGE sql AS $$
  SELECT concat_ws(' ',
    ev_same('SELECT * FROM $T'),
    ev_same('SELECT id, v1 FROM $T WHERE ts BETWEEN ''2020-01-03'' AND ''2020-01-03 06:00'''),
    ev_same('SELECT ts FROM $T WHERE ts < ''2020-01-01 03:00'''),
    ev_same('SELECT id FROM $T WHERE device = 7'),
    ev_same('SELECT id, v2 FROM $T WHERE note = ''n5'''),
    ev_same('SELECT count(*), sum(v1), sum(v2), count(big), max(day) FROM $T'));
$$;
-- bad input: clear errors, nothing moved
SELECT omendb_tier_move('ev_heap');
SELECT omendb_tier_move('ev');
SELECT omendb_tier_set_policy('ev', 'nope');
SELECT omendb_tier_set_policy('ev', 'note');
SELECT omendb_tier_set_policy('ev', 'ts', batch_rows => 0);
SELECT omendb_tier_set_policy('ev', 'ts', cold_after => interval '-1 day');
SELECT omendb_tier_set_policy('ev', 'ts', order_by => 'nope');
SELECT omendb_tier_set_policy('ev', 'ts', batch_rows => 700);
SELECT omendb_tier_move('ev');
SELECT relid, tier_column, cold_after, order_by, batch_rows FROM omendb.tier_policy;
-- move everything before 2020-01-08 (row 10079 and older): repeated while a concurrent snapshot
-- (autoanalyze) keeps rows from being visible to all
CREATE FUNCTION ev_move(upto timestamptz) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE total bigint := 0;
BEGIN
  FOR i IN 1..100 LOOP
    total := total + omendb_tier_move('ev', now() - upto);
    EXIT WHEN NOT EXISTS (SELECT FROM omendb_tier_stats('ev')) OR
              (SELECT cold_rows FROM omendb_tier_stats('ev')) >= (SELECT count(*) FROM ev_heap WHERE ts < upto);
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN total;
END $$;
SELECT ev_move('2020-01-08');
SELECT hot_rows, cold_rows, cold_batches, compression_ratio > 2 AS compressed, last_move IS NOT NULL AS moved
FROM omendb_tier_stats('ev');
SELECT omendb_tier_verify('ev');
SELECT count(*) AS batches, min(nrows), max(nrows), bool_and(first_block >= 2147483648) AS virtual
FROM omendb.tier_batch WHERE relid = 'ev'::regclass;
SELECT ev_check();
-- cold rows through every scan type
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ev WHERE ts BETWEEN '2020-01-03' AND '2020-01-03 06:00';
EXPLAIN (COSTS OFF) SELECT ts FROM ev WHERE ts < '2020-01-01 03:00';
SET enable_indexscan = off;
SET effective_io_concurrency = 64;
EXPLAIN (COSTS OFF) SELECT id FROM ev WHERE device = 7;
SELECT count(*), sum(id) FROM ev WHERE device = 7;
SELECT count(*), sum(id) FROM ev_heap WHERE device = 7;
RESET effective_io_concurrency;
RESET enable_indexscan;
RESET enable_seqscan;
SELECT ctid, id, ts FROM ev WHERE id = 5;
SELECT id FROM ev WHERE ctid = (SELECT ctid FROM ev WHERE id = 17);
-- parallel seq scan, leader not participating: every cold batch read once
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT count(*), sum(id) FROM ev;
SELECT (SELECT count(*) || ' ' || sum(id) FROM ev) = (SELECT count(*) || ' ' || sum(id) FROM ev_heap) AS parallel_same;
RESET ALL;
-- a scroll cursor over a seq scan, forward into the cold tier and back into the hot one
BEGIN;
SET LOCAL enable_indexscan = off;
SET LOCAL enable_bitmapscan = off;
DECLARE c SCROLL CURSOR FOR SELECT id FROM ev;
MOVE FORWARD 10100 IN c;
FETCH BACKWARD 3 FROM c;
FETCH FORWARD 2 FROM c;
MOVE LAST IN c;
FETCH BACKWARD 2 FROM c;
COMMIT;
-- COPY out reads both tiers
COPY (SELECT count(*) FROM ev) TO STDOUT;
-- DML on both tiers, the same statements on the heap twin: cold rows deleted and updated (the new
-- version hot) and locked; every query still answers alike
UPDATE ev SET v1 = -1 WHERE id = 19000;
UPDATE ev_heap SET v1 = -1 WHERE id = 19000;
WITH u AS (UPDATE ev SET v1 = -v1, note = 'upd' WHERE id % 97 = 3 RETURNING id, (ctid::text::point)[0] < 2147483648 AS hot)
SELECT count(*) AS updated, count(*) FILTER (WHERE id < 12960) AS were_cold, bool_and(hot) AS all_hot_now FROM u;
UPDATE ev_heap SET v1 = -v1, note = 'upd' WHERE id % 97 = 3;
DELETE FROM ev WHERE id BETWEEN 100 AND 140 OR id % 89 = 5;
DELETE FROM ev_heap WHERE id BETWEEN 100 AND 140 OR id % 89 = 5;
SELECT id, v1 FROM ev WHERE id IN (7, 8) ORDER BY id FOR UPDATE;
SELECT count(*) FROM (SELECT id FROM ev WHERE id BETWEEN 1 AND 50 FOR SHARE SKIP LOCKED) s;
UPDATE ev SET v2 = 0 WHERE id = 10;
UPDATE ev_heap SET v2 = 0 WHERE id = 10;
DELETE FROM ev WHERE id = 3 RETURNING id, ts, device, v1;
DELETE FROM ev_heap WHERE id = 3;
-- a row updated twice in one transaction, a deleted row updated (nothing), a cold row updated then
-- deleted
BEGIN;
UPDATE ev SET v1 = 1 WHERE id = 11;
UPDATE ev SET v1 = 2 WHERE id = 11;
UPDATE ev SET v1 = 3 WHERE id = 3;
UPDATE ev SET v1 = 4 WHERE id = 12;
DELETE FROM ev WHERE id = 12;
COMMIT;
UPDATE ev_heap SET v1 = 2 WHERE id = 11;
DELETE FROM ev_heap WHERE id = 12;
SELECT ev_check();
-- a unique index built over both tiers: an updated cold row (its new version hot, same id) is
-- not a duplicate of itself
CREATE UNIQUE INDEX ev_id_unique ON ev (id);
INSERT INTO ev (id, ts) VALUES (11, '2020-01-01');   -- duplicate of a hot (updated) row
INSERT INTO ev (id, ts) VALUES (13, '2020-01-01');   -- duplicate of a cold row
DROP INDEX ev_id_unique;
SELECT cold_rows, hot_rows FROM omendb_tier_stats('ev');
SELECT omendb_tier_verify('ev');
-- indexes built after the move index the cold rows too
CREATE INDEX ev_v1 ON ev (v1);
CREATE INDEX ev_heap_v1 ON ev_heap (v1);
CREATE INDEX ev_day ON ev USING learned (day) WHERE device < 10;
CREATE INDEX CONCURRENTLY ev_v2 ON ev (v2);
CREATE INDEX ev_heap_v2 ON ev_heap (v2);
SELECT ev_same('SELECT id FROM $T WHERE v1 BETWEEN 100 AND 120'), ev_same('SELECT id FROM $T WHERE v2 = 3.5');
SELECT omendb_tier_verify('ev');
-- a parallel btree build: its participants take the cold batches in turn, each once
SET max_parallel_maintenance_workers = 2;
SET min_parallel_table_scan_size = 0;
SET parallel_setup_cost = 0;
CREATE INDEX ev_device_par ON ev (device, id);
RESET max_parallel_maintenance_workers;
RESET min_parallel_table_scan_size;
RESET parallel_setup_cost;
SELECT ev_same('SELECT id FROM $T WHERE device = 3 AND id < 15000');
SELECT omendb_tier_verify('ev');
DROP INDEX ev_device_par;
REINDEX TABLE ev;
SELECT omendb_tier_verify('ev');
-- a second move appends batches; VACUUM leaves the cold rows alone
SELECT ev_move('2020-01-10') > 0 AS moved_more;
VACUUM ev;
SELECT cold_rows, cold_batches FROM omendb_tier_stats('ev');
SELECT ev_check();
-- rewrites that keep the relfilenode's batches: VACUUM FULL, CLUSTER, SET TABLESPACE
VACUUM FULL ev;
SELECT ev_check(), omendb_tier_verify('ev');
CLUSTER ev USING ev_device;
SELECT ev_check(), omendb_tier_verify('ev');
SET allow_in_place_tablespaces = true;
CREATE TABLESPACE ev_space LOCATION '';
ALTER TABLE ev SET TABLESPACE ev_space;
SELECT ev_check(), omendb_tier_verify('ev');
ALTER TABLE ev SET TABLESPACE pg_default;
DROP TABLESPACE ev_space;
RESET allow_in_place_tablespaces;
-- TRUNCATE drops the cold rows too, and a rollback brings them back
BEGIN;
TRUNCATE ev;
SELECT count(*) FROM ev;
ROLLBACK;
SELECT count(*), (SELECT cold_rows FROM omendb_tier_stats('ev')) AS cold FROM ev;
-- corrupt batch payload: a clear error on read, XX002 from verify, never a crash
BEGIN;
UPDATE omendb.tier_batch SET payload = overlay(payload PLACING '\xdeadbeef'::bytea FROM 40)
WHERE relid = 'ev'::regclass AND first_block = (SELECT min(first_block) FROM omendb.tier_batch WHERE relid = 'ev'::regclass);
\set VERBOSITY terse
SAVEPOINT s;
SELECT count(*) FROM ev;
ROLLBACK TO s;
SELECT omendb_tier_verify('ev');
\set VERBOSITY default
ROLLBACK;
SELECT count(*) = (SELECT count(*) FROM ev_heap) AS intact FROM ev;
-- back to heap: every row hot, none twice
CREATE TABLE ev_back USING tiered AS SELECT * FROM ev;
ALTER TABLE ev SET ACCESS METHOD heap;
SELECT ev_check();
-- DROP TABLE takes the batches and the policy with it
SELECT omendb_tier_set_policy('ev_back', 'day', interval '1 day');
SELECT ev_move_back FROM (SELECT omendb_tier_move('ev_back', now() - '2020-01-05'::timestamptz) AS ev_move_back) s;
SELECT count(*) > 0 AS has_batches FROM omendb.tier_batch WHERE relid = 'ev_back'::regclass;
SELECT 'ev_back'::regclass::oid AS back_oid \gset
DROP TABLE ev_back;
SELECT count(*) AS left_batches FROM omendb.tier_batch WHERE relid = :back_oid;
SELECT count(*) AS left_policies FROM omendb.tier_policy WHERE relid::oid = :back_oid;
-- a committed TRUNCATE deletes the old relfilenode's batches; TEMP and UNLOGGED tiered tables
-- work all hot, and moving their rows is refused (cold rows are logged: an unlogged table's would
-- come back after a crash)
CREATE TABLE ev_tr USING tiered AS SELECT * FROM ev_heap WHERE id < 3000;
SELECT omendb_tier_set_policy('ev_tr', 'ts');
SELECT omendb_tier_move('ev_tr', now() - '2020-01-02'::timestamptz) > 0 AS moved;
TRUNCATE ev_tr;
SELECT count(*) AS batches_left FROM omendb.tier_batch WHERE relid = 'ev_tr'::regclass;
CREATE TEMP TABLE ev_temp (ts timestamptz) USING tiered;
SELECT omendb_tier_set_policy('ev_temp', 'ts');   -- refused
SELECT omendb_tier_move('ev_temp', interval '1 day');
CREATE UNLOGGED TABLE ev_unlogged (ts timestamptz) USING tiered;
SELECT omendb_tier_set_policy('ev_unlogged', 'ts');   -- refused
SELECT omendb_tier_move('ev_unlogged', interval '1 day');
DROP TABLE ev, ev_heap, ev_tr, ev_temp, ev_unlogged;
DROP FUNCTION ev_same(text), ev_check(), ev_move(timestamptz);
