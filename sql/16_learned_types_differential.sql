-- Differential test over the other key types: float8 / float4 with NaN, +-Infinity, -0 and
-- duplicates; timestamptz and date with +-infinity; int2 over its whole range. Random predicates
-- (fixed seed), answers through the learned index == sequential scan, after build and after
-- inserts + deletes + VACUUM.
CREATE EXTENSION IF NOT EXISTS omendb;
-- `proj` is what LIMIT queries return: ties are returned in any order, and -0 = 0 ties print
-- differently, so floats project v + 0 (-0 + 0 = 0).
CREATE FUNCTION diff_typed(tbl text, typ text, vals text[], nqueries int, proj text DEFAULT 'v') RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  bad int := 0; q text; v1 text; v2 text; i int;
  ops text[] := ARRAY['<', '<=', '=', '>=', '>'];
BEGIN
  FOR i IN 1..nqueries LOOP
    v1 := quote_literal(vals[1 + (random() * (array_length(vals, 1) - 1))::int]) || '::' || typ;
    v2 := quote_literal(vals[1 + (random() * (array_length(vals, 1) - 1))::int]) || '::' || typ;
    q := CASE (random() * 5)::int
      WHEN 0 THEN format('SELECT id, v FROM %s WHERE v %s %s', tbl, ops[1 + (random() * 4)::int], v1)
      WHEN 1 THEN format('SELECT id, v FROM %s WHERE v BETWEEN %s AND %s', tbl, v1, v2)
      WHEN 2 THEN format('SELECT id, v FROM %s WHERE v = ANY (ARRAY[%s, %s])', tbl, v1, v2)
      WHEN 3 THEN format('SELECT %s FROM %s WHERE v >= %s ORDER BY v LIMIT 7', proj, tbl, v1)
      WHEN 4 THEN format('SELECT %s FROM %s WHERE v <= %s ORDER BY v DESC LIMIT 7', proj, tbl, v1)
      ELSE format('SELECT id FROM %s WHERE v IS NULL', tbl) END;
    IF NOT learned_same(q, false, random() < 0.3) THEN
      bad := bad + 1;
      RAISE NOTICE 'mismatch on %', q;
    END IF;
  END LOOP;
  RETURN bad;
END $$;

SELECT setseed(0.77);
CREATE TABLE df8 (id serial, v float8);
INSERT INTO df8 (v) SELECT CASE (random() * 9)::int WHEN 0 THEN 'NaN' WHEN 1 THEN 'Infinity'
    WHEN 2 THEN '-Infinity' WHEN 3 THEN '-0' WHEN 4 THEN NULL ELSE round((random() * 200 - 100)::numeric, 1) END::float8
  FROM generate_series(1, 4000);
CREATE INDEX df8_v ON df8 USING learned (v) WITH (error_bound = 8);
CREATE TABLE df4 (id serial, v float4);
INSERT INTO df4 (v) SELECT v::float4 FROM df8 ORDER BY id;
CREATE INDEX df4_v ON df4 USING learned (v);
CREATE TABLE dtz (id serial, v timestamptz);
INSERT INTO dtz (v) SELECT CASE (random() * 20)::int WHEN 0 THEN '-infinity' WHEN 1 THEN 'infinity'
    WHEN 2 THEN NULL ELSE timestamptz '2024-01-01 00:00+00' + (random() * 1000)::int * interval '1 hour' END
  FROM generate_series(1, 4000);
CREATE INDEX dtz_v ON dtz USING learned (v) WITH (fillfactor = 60);
CREATE TABLE dd (id serial, v date);
INSERT INTO dd (v) SELECT v::date FROM dtz ORDER BY id;
CREATE INDEX dd_v ON dd USING learned (v);
CREATE TABLE di2 (id serial, v int2);
INSERT INTO di2 (v) SELECT (random() * 65535 - 32768)::int2 FROM generate_series(1, 4000);
CREATE INDEX di2_v ON di2 USING learned (v) WITH (error_bound = 1);
ANALYZE df8, df4, dtz, dd, di2;

CREATE FUNCTION diff_all(n int) RETURNS int LANGUAGE sql AS $$
  SELECT diff_typed('df8', 'float8', ARRAY['NaN', 'Infinity', '-Infinity', '-0', '0', '1.5', '-3.2', '50', '-99.9', '100'], n, 'v + 0')
       + diff_typed('df4', 'float8', ARRAY['NaN', 'Infinity', '-Infinity', '-0', '0.1', '1.5', '-3.2', '50', '-99.9'], n, 'v + 0')
       + diff_typed('df4', 'float4', ARRAY['NaN', '-Infinity', '-0', '1.5', '-3.2', '50'], n, 'v + 0')
       + diff_typed('dtz', 'timestamptz', ARRAY['-infinity', 'infinity', '2024-01-01 00:00+00', '2024-01-10 12:00+00',
                                                '2024-01-20 03:00+02', '2023-12-31 23:00+00', '2024-03-01 00:00+00'], n)
       + diff_typed('dd', 'date', ARRAY['-infinity', 'infinity', '2024-01-01', '2024-01-15', '2024-02-11', '1999-01-01'], n)
       + diff_typed('di2', 'int2', ARRAY['-32768', '32767', '0', '-1', '1', '12345', '-20000'], n)
$$;
SELECT diff_all(40) AS mismatches_after_build;
INSERT INTO df8 (v) SELECT CASE WHEN random() < 0.3 THEN 'NaN'::float8 WHEN random() < 0.3 THEN '-0'::float8
    ELSE (random() * 300 - 150)::float8 END FROM generate_series(1, 3000);
INSERT INTO df4 (v) SELECT v::float4 FROM df8 WHERE id > 4000;
INSERT INTO dtz (v) SELECT 'infinity' FROM generate_series(1, 1500);
INSERT INTO dd (v) SELECT '2024-01-15' FROM generate_series(1, 1500);
INSERT INTO di2 (v) SELECT (random() * 100)::int2 FROM generate_series(1, 3000);
DELETE FROM df8 WHERE id % 3 = 0;
DELETE FROM df4 WHERE id % 4 = 0;
DELETE FROM dtz WHERE id % 5 = 0;
DELETE FROM dd WHERE id % 2 = 0;
DELETE FROM di2 WHERE id % 7 = 0;
SELECT diff_all(40) AS mismatches_after_dml;
VACUUM (INDEX_CLEANUP ON) df8, df4, dtz, dd, di2;
SELECT diff_all(40) AS mismatches_after_vacuum;
SELECT omendb_index_verify('df8_v') > 0 AND omendb_index_verify('df4_v') > 0 AND omendb_index_verify('dtz_v') > 0
   AND omendb_index_verify('dd_v') > 0 AND omendb_index_verify('di2_v') > 0 AS verified;
DROP TABLE df8, df4, dtz, dd, di2;
DROP FUNCTION diff_all, diff_typed;
