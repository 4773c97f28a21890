-- Edge data (NULLs only, NaN / +-Infinity / -0, integer extremes, empty table, one row) and the
-- errors users get for bad options, types and index definitions.
CREATE EXTENSION IF NOT EXISTS omendb;
SET enable_seqscan = off;
SET enable_bitmapscan = off;

-- floats in Postgres order: -Infinity < ... < -0 = 0 < ... < Infinity < NaN
CREATE TABLE lf (f8 float8, f4 float4);
INSERT INTO lf VALUES ('-Infinity', '-Infinity'), (-1.5, -1.5), ('-0', '-0'), (0, 0), (2.5, 2.5),
  ('Infinity', 'Infinity'), ('NaN', 'NaN'), ('NaN', 'NaN'), (NULL, NULL);
CREATE INDEX lf_f8 ON lf USING learned (f8);
CREATE INDEX lf_f4 ON lf USING learned (f4);
SELECT omendb_index_verify('lf_f8'), omendb_index_verify('lf_f4');
EXPLAIN (COSTS OFF) SELECT f8 FROM lf WHERE f8 = 0;
SELECT f8 FROM lf WHERE f8 = 0;
SELECT f8 FROM lf WHERE f8 = 'NaN';
SELECT f8 FROM lf WHERE f8 > 2 ORDER BY f8;
SELECT f8 FROM lf WHERE f8 < 0 ORDER BY f8;
SELECT f8 FROM lf ORDER BY f8 DESC;
SELECT f4 FROM lf WHERE f4 >= 'Infinity' ORDER BY f4;
SELECT f4 FROM lf WHERE f4 = '-0'::float8;
-- float keys are never returned from the index (no index-only scan): -0 stays -0
EXPLAIN (COSTS OFF) SELECT f8 FROM lf WHERE f8 <= 0;
SELECT f8 FROM lf WHERE f8 <= 0 ORDER BY f8;

-- integer extremes
CREATE TABLE lx (i2 int2, i4 int4, i8 int8);
INSERT INTO lx VALUES (-32768, -2147483648, -9223372036854775808), (32767, 2147483647, 9223372036854775807),
  (0, 0, 0), (-1, -1, -1), (1, 1, 1);
CREATE INDEX lx_i2 ON lx USING learned (i2);
CREATE INDEX lx_i4 ON lx USING learned (i4);
CREATE INDEX lx_i8 ON lx USING learned (i8);
SELECT i8 FROM lx WHERE i8 >= 9223372036854775807;
SELECT i8 FROM lx WHERE i8 > 9223372036854775806;
SELECT i8 FROM lx WHERE i8 <= -9223372036854775808;
SELECT i8 FROM lx WHERE i8 < -9223372036854775807;
SELECT i4 FROM lx WHERE i4 > 2147483646 OR i4 < -2147483647 ORDER BY i4;
SELECT i2 FROM lx WHERE i2 = ANY ('{32767, -32768, 5}') ORDER BY i2;
SELECT i2 FROM lx WHERE i2 < 100000 ORDER BY i2 DESC;

-- empty table, one row, NULLs only
CREATE TABLE le (k int4);
CREATE INDEX le_k ON le USING learned (k);
SELECT keys, nulls, segments, leaf_pages FROM omendb_index_stats('le_k');
SELECT * FROM le WHERE k = 1;
SELECT * FROM le ORDER BY k DESC;
SELECT omendb_index_verify('le_k');
INSERT INTO le VALUES (42);
SELECT * FROM le WHERE k >= 42;
SELECT * FROM le WHERE k < 42;
REINDEX INDEX le_k;
SELECT keys, segments FROM omendb_index_stats('le_k');
SELECT * FROM le WHERE k = 42;
SELECT * FROM le WHERE k = 41;
TRUNCATE le;
INSERT INTO le SELECT NULL FROM generate_series(1, 1000);
REINDEX INDEX le_k;
SELECT keys, nulls, null_pages FROM omendb_index_stats('le_k');
SELECT count(*) FROM le WHERE k IS NULL;
SELECT count(*) FROM le WHERE k IS NOT NULL;
SELECT count(*) FROM le WHERE k IS NULL AND k = 3;
INSERT INTO le VALUES (7), (NULL);
SELECT k FROM le ORDER BY k LIMIT 2;
SELECT k FROM le ORDER BY k DESC LIMIT 2;
SELECT omendb_index_verify('le_k');

-- options
CREATE INDEX ON le USING learned (k) WITH (error_bound = 0);
CREATE INDEX ON le USING learned (k) WITH (error_bound = 5000);
CREATE INDEX ON le USING learned (k) WITH (fillfactor = 5);
CREATE INDEX ON le USING learned (k) WITH (fillfactor = 101);
CREATE INDEX ON le USING learned (k) WITH (epsilon = 3);
CREATE INDEX le_opt ON le USING learned (k) WITH (error_bound = 8, fillfactor = 100);
SELECT error_bound FROM omendb_index_stats('le_opt');
SELECT reloptions FROM pg_class WHERE relname = 'le_opt';
ALTER INDEX le_opt SET (fillfactor = 70);
-- definitions the AM refuses
CREATE TABLE lbad (a int4, b int4, t text, n numeric);
CREATE INDEX ON lbad USING learned (a, b);
CREATE INDEX ON lbad USING learned ((a + b));
CREATE INDEX ON lbad USING learned (a DESC);
CREATE INDEX ON lbad USING learned (a NULLS FIRST);
CREATE INDEX ON lbad USING learned (a) INCLUDE (b);
CREATE INDEX ON lbad USING learned (t);
CREATE INDEX ON lbad USING learned (n);
CREATE UNIQUE INDEX ON lbad USING learned (a) WITH (layout = 'sparse');
SELECT omendb_index_stats('lbad');
CREATE INDEX lbad_bt ON lbad (a);
SELECT omendb_index_verify('lbad_bt');
-- a partial index works
CREATE INDEX lbad_part ON lbad USING learned (a) WHERE b > 0;
INSERT INTO lbad SELECT i, i % 3, 'x', i FROM generate_series(1, 100) i;
SELECT count(*) FROM lbad WHERE a < 50 AND b > 0;
DROP TABLE lf, lx, le, lbad;
-- amvalidate checks opclasses against btree: wrong operator for a strategy, missing strategies,
-- a support function that is not the btree comparison function, an unsupported type
CREATE OPERATOR CLASS bad_swapped_ops FOR TYPE int4 USING learned AS
  OPERATOR 1 >, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 <, FUNCTION 1 btint4cmp(int4, int4);
CREATE OPERATOR CLASS bad_missing_ops FOR TYPE int8 USING learned AS
  OPERATOR 1 <, OPERATOR 3 =, FUNCTION 1 btint8cmp(int8, int8);
CREATE OPERATOR CLASS bad_proc_ops FOR TYPE int2 USING learned AS
  OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 int2larger(int2, int2);
CREATE OPERATOR CLASS bad_type_ops FOR TYPE numeric USING learned AS
  OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 numeric_cmp(numeric, numeric);
SELECT opcname, amvalidate(oid) FROM pg_opclass WHERE opcname LIKE 'bad\_%' ORDER BY opcname;
DROP OPERATOR FAMILY bad_swapped_ops USING learned;
DROP OPERATOR FAMILY bad_missing_ops USING learned;
DROP OPERATOR FAMILY bad_proc_ops USING learned;
DROP OPERATOR FAMILY bad_type_ops USING learned;
