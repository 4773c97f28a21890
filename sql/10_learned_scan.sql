-- Every query shape the learned index serves, for every key type: the plan uses the index
-- (EXPLAIN (COSTS OFF)) and the answers equal a sequential scan's.
CREATE EXTENSION IF NOT EXISTS omendb;

-- learned_same(q, ordered, bitmap) comes from 01_test_helpers.sql.
CREATE TABLE li (id serial, k int4, pad text);
INSERT INTO li (k, pad) SELECT (i * 7919) % 20011, 'p' || i FROM generate_series(1, 20000) i;
INSERT INTO li (k, pad) SELECT NULL, 'null' || i FROM generate_series(1, 5) i;
INSERT INTO li (k, pad) SELECT 777, 'dup' || i FROM generate_series(1, 1500) i;
CREATE INDEX li_k ON li USING learned (k);
ANALYZE li;
SELECT omendb_index_verify('li_k');
SELECT keys, nulls, segments > 0 AS has_model, error_bound FROM omendb_index_stats('li_k');

SET enable_seqscan = off;
SET enable_bitmapscan = off;
-- point, ranges, both directions, LIMIT, min/max, arrays, NULL tests
EXPLAIN (COSTS OFF) SELECT * FROM li WHERE k = 42;
SELECT learned_same('SELECT id, k FROM li WHERE k = 42');
SELECT learned_same('SELECT id, k FROM li WHERE k = 777');
SELECT learned_same('SELECT id, k FROM li WHERE k = 20011');
EXPLAIN (COSTS OFF) SELECT * FROM li WHERE k BETWEEN 100 AND 200;
SELECT learned_same('SELECT id, k FROM li WHERE k BETWEEN 100 AND 200');
SELECT learned_same('SELECT id, k FROM li WHERE k < 50');
SELECT learned_same('SELECT id, k FROM li WHERE k <= 50');
SELECT learned_same('SELECT id, k FROM li WHERE k > 19950');
SELECT learned_same('SELECT id, k FROM li WHERE k >= 19950');
SELECT learned_same('SELECT id, k FROM li WHERE k > 10 AND k < 5');
EXPLAIN (COSTS OFF) SELECT k FROM li WHERE k > 700 ORDER BY k LIMIT 5;
SELECT learned_same('SELECT k FROM li WHERE k > 700 ORDER BY k LIMIT 90', true);
EXPLAIN (COSTS OFF) SELECT id, k FROM li WHERE k < 800 ORDER BY k DESC LIMIT 5;
SELECT learned_same('SELECT k FROM li WHERE k < 800 ORDER BY k DESC LIMIT 600', true);
EXPLAIN (COSTS OFF) SELECT min(k), max(k) FROM li;
SELECT min(k), max(k) FROM li;
EXPLAIN (COSTS OFF) SELECT * FROM li WHERE k = ANY ('{5, 777, 3, NULL, 99999}');
SELECT learned_same('SELECT id, k FROM li WHERE k = ANY (''{5, 777, 3, NULL, 99999}'')');
SELECT learned_same('SELECT k FROM li WHERE k = ANY (''{9, 1, 5, 1}'') ORDER BY k', true);
SELECT learned_same('SELECT k FROM li WHERE k = ANY (''{9, 1, 5, 1}'') ORDER BY k DESC', true);
SELECT learned_same('SELECT k FROM li WHERE k < ANY (''{3, 10}'')');
SELECT learned_same('SELECT k FROM li WHERE k = ANY (''{}''::int[])');
EXPLAIN (COSTS OFF) SELECT id FROM li WHERE k IS NULL;
SELECT learned_same('SELECT id FROM li WHERE k IS NULL');
SELECT learned_same('SELECT count(*) FROM li WHERE k IS NOT NULL');
-- a full ordered scan returns NULLs last (and first backward)
EXPLAIN (COSTS OFF) SELECT k FROM li ORDER BY k;
SELECT learned_same('SELECT k, id FROM li ORDER BY k, id', true);
SELECT learned_same('SELECT k FROM li ORDER BY k', true);
SELECT learned_same('SELECT k FROM li ORDER BY k DESC', true);
-- cross-type operators (int4 column, int8 / int2 constants)
EXPLAIN (COSTS OFF) SELECT * FROM li WHERE k = 42::int8;
SELECT learned_same('SELECT id FROM li WHERE k < 30::int8 AND k > 10::int2');
SELECT learned_same('SELECT id FROM li WHERE k < 3000000000::int8 AND k >= -5::int8');
-- index-only scan
SET enable_indexonlyscan = on;
VACUUM li;
EXPLAIN (COSTS OFF) SELECT k FROM li WHERE k BETWEEN 10 AND 20;
SELECT learned_same('SELECT k FROM li WHERE k BETWEEN 10 AND 20');
-- bitmap scan
SET enable_indexscan = off;
SET enable_bitmapscan = on;
EXPLAIN (COSTS OFF) SELECT * FROM li WHERE k BETWEEN 10 AND 20;
SELECT learned_same('SELECT id, k FROM li WHERE k BETWEEN 10 AND 20 OR k = 777');
RESET enable_indexscan;

-- a scrollable cursor moving both ways
BEGIN;
DECLARE c SCROLL CURSOR FOR SELECT k FROM li WHERE k BETWEEN 5 AND 9 ORDER BY k;
FETCH 3 FROM c;
FETCH BACKWARD 2 FROM c;
FETCH LAST FROM c;
FETCH BACKWARD 1 FROM c;
FETCH ABSOLUTE 1 FROM c;
COMMIT;

-- every key type
CREATE TABLE lt (i2 int2, i8 int8, f4 float4, f8 float8, d date, ts timestamp, tz timestamptz);
INSERT INTO lt SELECT i - 500, i * 1000003 - 5000, (i - 500) / 7.0, (i - 500) / 3.0,
    date '2000-01-01' + i, timestamp '2020-01-01' + i * interval '1 minute',
    timestamptz '2020-01-01 00:00+00' + i * interval '1 hour'
  FROM generate_series(1, 1000) i;
CREATE INDEX lt_i2 ON lt USING learned (i2);
CREATE INDEX lt_i8 ON lt USING learned (i8);
CREATE INDEX lt_f4 ON lt USING learned (f4);
CREATE INDEX lt_f8 ON lt USING learned (f8);
CREATE INDEX lt_d ON lt USING learned (d);
CREATE INDEX lt_ts ON lt USING learned (ts);
CREATE INDEX lt_tz ON lt USING learned (tz);
ANALYZE lt;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM lt WHERE i2 = 3;
SELECT learned_same('SELECT * FROM lt WHERE i2 BETWEEN -10 AND 10');
SELECT learned_same('SELECT * FROM lt WHERE i2 = 3::int4');
EXPLAIN (COSTS OFF) SELECT * FROM lt WHERE i8 > 5 AND i8 < 100000000;
SELECT learned_same('SELECT * FROM lt WHERE i8 > 5 AND i8 < 100000000');
EXPLAIN (COSTS OFF) SELECT * FROM lt WHERE f4 < 1.5;
SELECT learned_same('SELECT * FROM lt WHERE f4 < 1.5 AND f4 >= -1');
SELECT learned_same('SELECT * FROM lt WHERE f4 < 1.5::float8');
EXPLAIN (COSTS OFF) SELECT * FROM lt WHERE f8 >= 100;
SELECT learned_same('SELECT * FROM lt WHERE f8 >= 100');
EXPLAIN (COSTS OFF) SELECT * FROM lt WHERE d = '2000-02-01';
SELECT learned_same('SELECT * FROM lt WHERE d BETWEEN ''2000-02-01'' AND ''2000-03-01''');
EXPLAIN (COSTS OFF) SELECT * FROM lt WHERE ts > '2020-01-01 10:00';
SELECT learned_same('SELECT * FROM lt WHERE ts > ''2020-01-01 10:00'' ORDER BY ts LIMIT 7', true);
EXPLAIN (COSTS OFF) SELECT * FROM lt WHERE tz <= '2020-01-02 00:00+00';
SELECT learned_same('SELECT * FROM lt WHERE tz <= ''2020-01-02 00:00+00'' ORDER BY tz DESC', true);
SELECT omendb_index_verify(c.oid::regclass) > 0 AS ok, c.relname
  FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE i.indrelid = 'lt'::regclass ORDER BY c.relname;
-- index-only scans for types whose keys decode exactly; floats are not offered (-0, NaN payloads)
SET enable_indexscan = off;
VACUUM lt;
EXPLAIN (COSTS OFF) SELECT d FROM lt WHERE d < '2000-01-05';
SELECT d FROM lt WHERE d < '2000-01-05';
EXPLAIN (COSTS OFF) SELECT ts FROM lt WHERE ts < '2020-01-01 00:03';
SELECT ts FROM lt WHERE ts < '2020-01-01 00:03';
SELECT i8 FROM lt WHERE i8 < 3000000;
RESET ALL;
SELECT amvalidate(oid), opcname FROM pg_opclass
  WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'learned') ORDER BY opcname;
DROP TABLE li, lt;
