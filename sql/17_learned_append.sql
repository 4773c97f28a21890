-- Appends at the right edge (timestamps, serial ids), the headline use case: new keys open edge
-- leaves, so the index stays as small as a fresh build of the same data, a probe of a recently
-- appended key reads O(1) index pages whatever was appended, and every scan shape still agrees
-- with a sequential scan, through VACUUM, re-training (a cursor spanning one) and TRUNCATE.
CREATE EXTENSION IF NOT EXISTS omendb;
-- Shared buffers the plan's root node touched (index pages + heap pages), from EXPLAIN ANALYZE.
CREATE FUNCTION scan_buffers(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || q INTO j;
  RETURN (j->0->'Plan'->>'Shared Hit Blocks')::int + (j->0->'Plan'->>'Shared Read Blocks')::int;
END $$;
CREATE TABLE sizes (label text PRIMARY KEY, bytes bigint);
CREATE TABLE la (id bigserial, ts timestamptz);
CREATE TABLE lab (id bigserial, ts timestamptz);  -- the same rows under a btree, for reference
INSERT INTO la (ts) SELECT '2026-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, 50000) i;
INSERT INTO lab SELECT * FROM la;
CREATE INDEX la_ts ON la USING learned (ts);
CREATE INDEX lab_ts ON lab USING btree (ts);
INSERT INTO sizes VALUES ('built', pg_relation_size('la_ts'));
-- append as many rows again, one key after the other
INSERT INTO la (ts) SELECT '2026-01-01'::timestamptz + i * interval '1 second' FROM generate_series(50001, 100000) i;
INSERT INTO lab (ts) SELECT '2026-01-01'::timestamptz + i * interval '1 second' FROM generate_series(50001, 100000) i;
SELECT keys, overflow_pages, edge_leaves > 0 AS has_edge, dir_pages, generation FROM omendb_index_stats('la_ts');
SELECT omendb_index_verify('la_ts');
-- size against a fresh build of the same rows, and against btree
INSERT INTO sizes VALUES ('appended', pg_relation_size('la_ts')), ('btree', pg_relation_size('lab_ts'));
CREATE INDEX la_fresh ON la USING learned (ts);
INSERT INTO sizes VALUES ('fresh', pg_relation_size('la_fresh'));
DROP INDEX la_fresh;
SELECT a.bytes <= 1.3 * f.bytes AS appended_within_1_3x_fresh, a.bytes >= 0.7 * f.bytes AS plausible,
       a.bytes < 0.9 * b.bytes AS appended_below_btree
  FROM sizes a, sizes f, sizes b WHERE a.label = 'appended' AND f.label = 'fresh' AND b.label = 'btree';
-- a recent key: metapage + one edge leaf + one heap page; an old key: the same through the model
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET enable_indexonlyscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM la WHERE ts = '2026-01-01'::timestamptz + 99999 * interval '1 second';
SELECT scan_buffers($$SELECT id FROM la WHERE ts = '2026-01-01'::timestamptz + 99999 * interval '1 second'$$) AS recent,
       scan_buffers($$SELECT id FROM la WHERE ts = '2026-01-01'::timestamptz + 60000 * interval '1 second'$$) AS appended,
       scan_buffers($$SELECT id FROM la WHERE ts = '2026-01-01'::timestamptz + 777 * interval '1 second'$$) AS built;
RESET enable_indexonlyscan;
-- every shape, across the boundary between build and edge leaves
SELECT learned_same($$SELECT id, ts FROM la WHERE ts BETWEEN '2026-01-01 13:50' AND '2026-01-01 14:00'$$);
SELECT learned_same($$SELECT id FROM la WHERE ts > '2026-01-02 03:00' ORDER BY ts$$, true);
SELECT learned_same($$SELECT ts FROM la WHERE ts < '2026-01-01 13:55' ORDER BY ts DESC LIMIT 20$$, true);
SELECT learned_same($$SELECT ts FROM la ORDER BY ts DESC LIMIT 5$$, true);
SELECT learned_same($$SELECT id FROM la WHERE ts = ANY (ARRAY['2026-01-01 00:00:01', '2026-01-01 13:53:20',
  '2026-01-01 13:53:21', '2026-01-02 03:46:40']::timestamptz[])$$);
SELECT learned_same($$SELECT count(*) FROM la WHERE ts >= '2026-01-01 10:00'$$, false, true);
SELECT min(ts), max(ts), count(*) FROM la WHERE ts > '2026-01-01 12:00';
-- keys arriving slightly out of order (concurrent inserters) stay in the edge leaves' slack
INSERT INTO la (ts) SELECT '2026-01-01'::timestamptz + (i + CASE i % 4 WHEN 0 THEN 3 WHEN 3 THEN -3 ELSE 0 END) * interval '1 second'
  FROM generate_series(100001, 120000) i;
SELECT keys, overflow_pages FROM omendb_index_stats('la_ts');
SELECT omendb_index_verify('la_ts');
SELECT learned_same($$SELECT id, ts FROM la WHERE ts > '2026-01-02 03:40' ORDER BY ts, id$$, true);
-- more appends: a recent key still costs the same pages
INSERT INTO la (ts) SELECT '2026-01-01'::timestamptz + i * interval '1 second' FROM generate_series(120001, 200000) i;
SET enable_indexonlyscan = off;
SELECT scan_buffers($$SELECT id FROM la WHERE ts = '2026-01-01'::timestamptz + 199999 * interval '1 second'$$) AS recent;
RESET enable_indexonlyscan;
-- deletes in edge leaves + VACUUM
DELETE FROM la WHERE id % 7 = 0 AND id > 50000;
VACUUM la;
SELECT omendb_index_verify('la_ts');
SELECT learned_same($$SELECT id, ts FROM la WHERE ts BETWEEN '2026-01-01 13:00' AND '2026-01-02 06:00'$$);
-- a cursor reading edge leaves finishes on the old generation across a re-train
BEGIN;
DECLARE c CURSOR FOR SELECT ts FROM la WHERE ts > '2026-01-02 00:00' ORDER BY ts;
FETCH 2 FROM c;
SELECT omendb_index_retrain('la_ts');
MOVE FORWARD ALL IN c;
FETCH BACKWARD 2 FROM c;
COMMIT;
SELECT edge_leaves, dir_pages, overflow_pages, generation FROM omendb_index_stats('la_ts');
SELECT omendb_index_verify('la_ts');
-- a cursor that descended before the first edge leaf existed walks into edge leaves of its
-- generation after a re-train (found through the retired directory the metapage keeps)
CREATE TABLE lc (k int8);
INSERT INTO lc SELECT i FROM generate_series(1, 20000) i;
CREATE INDEX lc_k ON lc USING learned (k);
BEGIN;
DECLARE c2 CURSOR FOR SELECT k FROM lc WHERE k >= 100 ORDER BY k;
FETCH 2 FROM c2;
INSERT INTO lc SELECT i FROM generate_series(20001, 60000) i;
SELECT edge_leaves > 0 AS has_edge FROM omendb_index_stats('lc_k');
SELECT omendb_index_retrain('lc_k');
SELECT count(*) FROM lc WHERE k = 5;  -- this backend's cache moves to the new generation
MOVE FORWARD ALL IN c2;
FETCH BACKWARD 1 FROM c2;
COMMIT;
DROP TABLE lc;
-- VACUUM frees the retired generation (its edge leaves and directory too); new appends reuse it
VACUUM la;
SELECT retired_pages, free_pages > 0 AS freed FROM omendb_index_stats('la_ts');
INSERT INTO la (ts) SELECT '2026-01-01'::timestamptz + i * interval '1 second' FROM generate_series(200001, 230000) i;
SELECT edge_leaves > 0 AS has_edge, overflow_pages FROM omendb_index_stats('la_ts');
SELECT omendb_index_verify('la_ts');
SELECT learned_same($$SELECT id, ts FROM la WHERE ts > '2026-01-03 07:00' ORDER BY ts$$, true);
-- keys arriving later than the slack allows go to the last leaf's overflow chain; appends after
-- them still open edge leaves (the chain is below the new fence). Leaf capacities depend on the
-- packed widths, so the steps run until the stats show each state.
CREATE TABLE lo (k int8);
INSERT INTO lo SELECT i FROM generate_series(1, 1000) i;
CREATE INDEX lo_k ON lo USING learned (k) WITH (fillfactor = 100);
DO $$
DECLARE k int8 := 1000;
BEGIN
  -- appends until the first edge leaf opens, then a few more into it
  WHILE (SELECT edge_leaves FROM omendb_index_stats('lo_k')) = 0 LOOP
    k := k + 1;
    INSERT INTO lo VALUES (k);
  END LOOP;
  INSERT INTO lo SELECT k + i FROM generate_series(1, 5) i;
  -- late copies of a key below the edge leaf's largest fill it, then its overflow chain
  WHILE (SELECT overflow_pages FROM omendb_index_stats('lo_k')) = 0 LOOP
    INSERT INTO lo SELECT k + 2 FROM generate_series(1, 50);
  END LOOP;
END $$;
SELECT edge_leaves, overflow_pages FROM omendb_index_stats('lo_k');
INSERT INTO lo SELECT m + i FROM (SELECT max(k) AS m FROM lo) s, generate_series(1, 3000) i;
SELECT edge_leaves > 1 AS more_edge_leaves, overflow_pages FROM omendb_index_stats('lo_k');
SELECT omendb_index_verify('lo_k') = (SELECT count(*) FROM lo) AS verified;
SELECT learned_same('SELECT k FROM lo WHERE k BETWEEN 1400 AND 3000');
SELECT learned_same('SELECT k FROM lo WHERE k >= 1500 ORDER BY k LIMIT 30', true);
SELECT learned_same('SELECT k FROM lo ORDER BY k DESC LIMIT 30', true);
DROP TABLE lo;
-- serial ids from an empty index (TRUNCATE), up to the largest int8
CREATE TABLE ls (id int8);
CREATE INDEX ls_id ON ls USING learned (id);
INSERT INTO ls SELECT i FROM generate_series(1, 30000) i;
INSERT INTO ls VALUES (9223372036854775807), (9223372036854775807);
SELECT keys, overflow_pages, edge_leaves > 0 AS has_edge FROM omendb_index_stats('ls_id');
SELECT omendb_index_verify('ls_id');
SELECT learned_same('SELECT id FROM ls WHERE id > 29990');
SELECT learned_same('SELECT id FROM ls WHERE id BETWEEN 500 AND 2000 ORDER BY id DESC', true);
SELECT count(*) FROM ls WHERE id = 9223372036854775807;
TRUNCATE ls;
INSERT INTO ls SELECT i FROM generate_series(1, 5000) i;
SELECT keys, overflow_pages, edge_leaves > 0 AS has_edge FROM omendb_index_stats('ls_id');
SELECT omendb_index_verify('ls_id');
SELECT learned_same('SELECT id FROM ls WHERE id >= 4000');
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP TABLE la, lab, ls, sizes;
DROP FUNCTION scan_buffers(text);
