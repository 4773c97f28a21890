-- Table AM `tiered`: cold rows of every physical form read back as heap's, and schema changes on a
-- table with cold rows: ADD COLUMN (NULL, constant default, volatile default), DROP COLUMN, ALTER
-- COLUMN TYPE, each compared with a heap twin that took the same statements.
CREATE EXTENSION IF NOT EXISTS omendb;
-- one column of each physical form: by value of 1, 2, 4 and 8 bytes, float4/float8, short and long
-- varlenas (text, bytea, numeric, arrays, jsonb), a plain-storage varlena (int2vector), fixed-length
-- by reference (uuid 16 bytes, name 64, interval 16, char-aligned), then NULLs in patterns that give
-- rows with and without a NULL bitmap (more than 8 columns: a bitmap of two bytes and more)
CREATE TABLE ty (id int8, ts timestamptz, b bool, c "char", s int2, i int4, f4 float4, f8 float8,
                 t text, by bytea, n numeric, arr int4[], j jsonb, iv int2vector, u uuid, nm name,
                 span interval, d date, tm time, ch char(3), vc varchar(200), p point)
  USING tiered;
CREATE TABLE ty_heap (LIKE ty) USING heap;
INSERT INTO ty
SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute',
       CASE WHEN g % 7 = 0 THEN NULL ELSE g % 2 = 0 END,
       chr(65 + g % 26)::"char",
       (g % 30000)::int2 * CASE WHEN g % 2 = 0 THEN -1 ELSE 1 END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE g * 7919 END,
       (g / 3.0)::float4,
       CASE WHEN g % 13 = 0 THEN 'NaN'::float8 WHEN g % 17 = 0 THEN '-0'::float8 ELSE sin(g) END,
       CASE WHEN g % 5 = 0 THEN NULL ELSE repeat('x', g % 140) END,        -- around the 1-byte header limit
       CASE WHEN g % 3 = 0 THEN decode(md5(g::text), 'hex') END,
       (g * 1.001)::numeric(20, 3),
       CASE WHEN g % 4 = 0 THEN ARRAY[g, g + 1, NULL] END,
       jsonb_build_object('g', g, 'tag', 'd' || g % 9),
       ('1 ' || g % 100)::int2vector,
       md5(g::text)::uuid,
       ('name-' || g)::name,
       make_interval(days => g % 40, secs => g % 60),
       '2020-01-01'::date + g % 400,
       make_time(g % 24, g % 60, (g % 60)::float8),
       CASE WHEN g % 6 = 0 THEN NULL ELSE 'c' || g % 10 END,
       CASE WHEN g % 500 = 0 THEN repeat(md5(g::text), 6) ELSE 'v' || g END,
       point(g, -g)
FROM generate_series(1, 3000) g;
INSERT INTO ty_heap SELECT * FROM ty;
CREATE INDEX ty_ts ON ty USING learned (ts);
CREATE INDEX ty_u ON ty (u);
CREATE INDEX ty_heap_ts ON ty_heap USING learned (ts);
CREATE INDEX ty_heap_u ON ty_heap (u);
-- a row with every column NULL but the key
INSERT INTO ty (id, ts) VALUES (0, '2019-12-31');
INSERT INTO ty_heap (id, ts) VALUES (0, '2019-12-31');
SELECT omendb_tier_set_policy('ty', 'ts', batch_rows => 700);
SELECT omendb_tier_move('ty', older_than => now() - '2020-01-02'::timestamptz);
SELECT cold_rows, hot_rows FROM omendb_tier_stats('ty');
CREATE FUNCTION ty_check() RETURNS text LANGUAGE sql AS $$
  SELECT concat_ws(' ',
    tiered_same('SELECT * FROM $T', 'ty', 'ty_heap'),
    tiered_same('SELECT id, t, nm, span FROM $T WHERE ts < ''2020-01-01 12:00''', 'ty', 'ty_heap'),
    tiered_same('SELECT id, n, arr, j FROM $T WHERE u = md5(''77'')::uuid', 'ty', 'ty_heap'),
    tiered_same('SELECT id, pg_column_size(t) AS a, pg_column_size(vc) AS b, pg_column_size(iv) AS c FROM $T',
                'ty', 'ty_heap'),
    tiered_same('SELECT count(*), count(b), count(i), count(t), sum(s), sum(f4::numeric), max(d), max(tm) FROM $T',
                'ty', 'ty_heap'));
$$;
SELECT ty_check();

-- ADD COLUMN without a default (old batches read NULL), with a constant default (old batches read
-- the missing value), DROP COLUMN (old batches keep its data, no row shows it)
ALTER TABLE ty ADD COLUMN extra int;
ALTER TABLE ty_heap ADD COLUMN extra int;
ALTER TABLE ty ADD COLUMN flag text DEFAULT 'old';
ALTER TABLE ty_heap ADD COLUMN flag text DEFAULT 'old';
ALTER TABLE ty ADD COLUMN w int8 DEFAULT 42;
ALTER TABLE ty_heap ADD COLUMN w int8 DEFAULT 42;
ALTER TABLE ty DROP COLUMN by;
ALTER TABLE ty_heap DROP COLUMN by;
SELECT ty_check();
SELECT count(*) FILTER (WHERE flag = 'old' AND w = 42 AND extra IS NULL) FROM ty;
-- new rows, then moved: batches of the new schema beside batches of the old one
UPDATE ty SET extra = id, flag = 'new' WHERE id % 10 = 0;
UPDATE ty_heap SET extra = id, flag = 'new' WHERE id % 10 = 0;
INSERT INTO ty (id, ts, t, extra, flag, w) SELECT g, '2020-01-03'::timestamptz + g * interval '1 minute', 'late', g, NULL, NULL
FROM generate_series(3001, 3500) g;
INSERT INTO ty_heap (id, ts, t, extra, flag, w) SELECT g, '2020-01-03'::timestamptz + g * interval '1 minute', 'late', g, NULL, NULL
FROM generate_series(3001, 3500) g;
SELECT omendb_tier_move('ty', older_than => interval '0') > 0 AS moved;
SELECT hot_rows FROM omendb_tier_stats('ty');
SELECT ty_check();
SELECT omendb_tier_verify('ty') = (SELECT count(*) FROM ty) AS verified;
-- ALTER COLUMN TYPE rewrites the table: every cold row comes back hot, converted
ALTER TABLE ty ALTER COLUMN s TYPE int8;
ALTER TABLE ty_heap ALTER COLUMN s TYPE int8;
SELECT cold_rows, hot_rows > 0 AS hot FROM omendb_tier_stats('ty');
SELECT ty_check();
-- a volatile default also rewrites
SELECT omendb_tier_move('ty', older_than => interval '0') > 0 AS moved;
ALTER TABLE ty ADD COLUMN r float8 DEFAULT random();
SELECT cold_rows FROM omendb_tier_stats('ty');
SELECT count(*) = count(r) AS all_set FROM ty;
DROP TABLE ty, ty_heap;
DROP FUNCTION ty_check();
