-- uuid keys: the index keeps a uuid's first 8 bytes, so every row it returns is rechecked, and it
-- claims no order (ORDER BY, min/max and merge joins sort instead) and no index-only scan.
-- Random v4 uuids, time-ordered v7 uuids (dense and sparse), and uuids that share their first 8
-- bytes in runs (whose order within a run is not the index's): every query shape answers as a
-- sequential scan does, after the build, after DML and after VACUUM.
CREATE EXTENSION IF NOT EXISTS omendb;
SELECT setseed(0.27);
-- A v7-shaped uuid: 48 bits of milliseconds, version 7, then bits from md5.
CREATE FUNCTION uuid7(ms bigint, salt int) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
  SELECT (lpad(to_hex(ms), 12, '0') || '7' || substr(md5(salt::text), 1, 3) || '8' ||
          substr(md5(salt::text), 4, 15))::uuid
$$;
CREATE TABLE u4 (id serial, v uuid);
INSERT INTO u4 (v) SELECT CASE WHEN g % 50 = 0 THEN NULL ELSE gen_random_uuid() END FROM generate_series(1, 5000) g;
CREATE INDEX u4_v ON u4 USING learned (v);
-- 40 rows per millisecond: many share the first 8 bytes (48 ms bits, 4 version bits, 12 md5 bits)
CREATE TABLE u7 (id serial, v uuid);
INSERT INTO u7 (v) SELECT uuid7(1700000000000 + g / 40, g % 3) FROM generate_series(1, 5000) g;
CREATE INDEX u7_v ON u7 USING learned (v);
CREATE TABLE u7s (id serial, v uuid);
INSERT INTO u7s (v) SELECT v FROM u7 ORDER BY id;
CREATE INDEX u7s_v ON u7s USING learned (v) WITH (layout = 'sparse');
-- 8 prefixes, 500 distinct uuids each, stored out of their order within the prefix
CREATE TABLE utie (id serial, v uuid);
INSERT INTO utie (v) SELECT format('00000000-0000-%s-0000-%s', lpad(to_hex(g % 8), 4, '0'),
                                   lpad(to_hex((g * 7919) % 4001), 12, '0'))::uuid
  FROM generate_series(1, 4000) g;
CREATE INDEX utie_v ON utie USING learned (v) WITH (error_bound = 4);
-- the same prefixes in table order under a sparse index: a probe's matches are rechecked too
CREATE TABLE uties (id serial, v uuid);
INSERT INTO uties (v) SELECT v FROM utie ORDER BY v;
CREATE INDEX uties_v ON uties USING learned (v) WITH (layout = 'sparse');
ANALYZE u4, u7, u7s, utie, uties;

-- The index is used, rechecks, and takes no part in ordering.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM utie WHERE v = '00000000-0000-0003-0000-000000000c10';
SELECT id, v FROM utie WHERE v = '00000000-0000-0003-0000-000000000c10';  -- one of 500 with its key
SELECT count(*) FROM utie WHERE v > '00000000-0000-0003-0000-000000000abc'
                            AND v < '00000000-0000-0004-0000-000000000005';
EXPLAIN (COSTS OFF) SELECT v FROM u7 WHERE v > uuid7(1700000000050, 1) ORDER BY v LIMIT 3;
EXPLAIN (COSTS OFF) SELECT v FROM u7 ORDER BY v DESC LIMIT 1;
EXPLAIN (COSTS OFF) SELECT v FROM u7s WHERE v = uuid7(1700000000050, 1);
RESET enable_seqscan;

-- Random predicates on values taken from the tables (and a few absent ones): index == seq scan.
CREATE FUNCTION diff_uuid(tbl text, nqueries int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  qs text[] := ARRAY[]::text[]; v1 text; v2 text; vals text[];
  ops text[] := ARRAY['<', '<=', '=', '>=', '>'];
BEGIN
  EXECUTE format('SELECT array_agg(v::text) FROM (SELECT v FROM %s WHERE v IS NOT NULL ORDER BY random() LIMIT 40) s', tbl)
    INTO vals;
  vals := vals || ARRAY['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
                        '00000000-0000-0003-0000-000000000000', '018bcfe5-6800-7000-8000-000000000000'];
  FOR i IN 1..nqueries LOOP
    v1 := quote_literal(vals[1 + (random() * (array_length(vals, 1) - 1))::int]) || '::uuid';
    v2 := quote_literal(vals[1 + (random() * (array_length(vals, 1) - 1))::int]) || '::uuid';
    qs := qs || CASE (random() * 5)::int
      WHEN 0 THEN format('SELECT id, v FROM %s WHERE v %s %s', tbl, ops[1 + (random() * 4)::int], v1)
      WHEN 1 THEN format('SELECT id, v FROM %s WHERE v BETWEEN %s AND %s', tbl, v1, v2)
      WHEN 2 THEN format('SELECT id, v FROM %s WHERE v = ANY (ARRAY[%s, %s])', tbl, v1, v2)
      WHEN 3 THEN format('SELECT v FROM %s WHERE v >= %s ORDER BY v LIMIT 7', tbl, v1)
      WHEN 4 THEN format('SELECT v FROM %s WHERE v < %s ORDER BY v DESC LIMIT 7', tbl, v1)
      ELSE format('SELECT id FROM %s WHERE v IS NULL', tbl) END;
  END LOOP;
  RETURN learned_mismatches(qs);
END $$;
CREATE FUNCTION diff_uuid_all(n int) RETURNS int LANGUAGE sql AS $$
  SELECT diff_uuid('u4', n) + diff_uuid('u7', n) + diff_uuid('u7s', n) + diff_uuid('utie', n) + diff_uuid('uties', n)
$$;
SELECT diff_uuid_all(30) AS mismatches_after_build;
INSERT INTO u4 (v) SELECT gen_random_uuid() FROM generate_series(1, 2000);
INSERT INTO u7 (v) SELECT uuid7(1700000000000 + g / 40, g % 5) FROM generate_series(5001, 7000) g;
INSERT INTO u7s (v) SELECT uuid7(1700000000000 + g / 40, g % 5) FROM generate_series(5001, 7000) g;
INSERT INTO u7s (v) SELECT uuid7(1700000000000 + g, 9) FROM generate_series(1, 100) g;  -- late rows
INSERT INTO utie (v) SELECT format('00000000-0000-0003-0000-%s', lpad(to_hex(g), 12, '0'))::uuid
  FROM generate_series(5000, 5500) g;
DELETE FROM u4 WHERE id % 3 = 0;
DELETE FROM u7 WHERE id % 4 = 0;
DELETE FROM u7s WHERE id % 5 = 0;
UPDATE utie SET v = format('00000000-0000-0005-0000-%s', lpad(to_hex(id), 12, '0'))::uuid WHERE id % 7 = 0;
SELECT diff_uuid_all(30) AS mismatches_after_dml;
VACUUM (INDEX_CLEANUP ON) u4, u7, u7s, utie;
SELECT diff_uuid_all(30) AS mismatches_after_vacuum;
SELECT omendb_index_retrain('u4_v') IS NOT NULL AS retrained;
SELECT diff_uuid('u4', 20) AS mismatches_after_retrain;
SELECT omendb_index_verify('u4_v') > 0 AND omendb_index_verify('u7_v') > 0 AND omendb_index_verify('u7s_v') > 0
   AND omendb_index_verify('utie_v') > 0 AS verified;
-- A uuid index answers a join's inner side by probes (a parameterized scan), rechecked.
SET enable_seqscan = off;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT count(*) FROM (SELECT v FROM u7 WHERE id % 97 = 0) a JOIN u7 b ON a.v = b.v;
RESET enable_seqscan;
RESET enable_hashjoin;
RESET enable_mergejoin;
SELECT count(*) FROM (SELECT v FROM u7 WHERE id % 97 = 0) a JOIN u7 b ON a.v = b.v;
SET enable_seqscan = off;
SELECT count(*) FROM uties WHERE v = '00000000-0000-0003-0000-000000000c10';  -- one of 500 with its key
RESET enable_seqscan;
DROP TABLE u4, u7, u7s, utie, uties;
DROP FUNCTION diff_uuid_all, diff_uuid, uuid7;
