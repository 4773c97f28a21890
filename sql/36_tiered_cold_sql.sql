-- Statements whose rows are cold, as on heap (regress 30 runs them on hot rows): INSERT ... ON
-- CONFLICT (DO UPDATE, DO NOTHING) and MERGE meeting cold rows, row triggers seeing cold OLD rows,
-- foreign keys whose referenced or referencing rows are cold (checks, CASCADE, RESTRICT, ADD
-- CONSTRAINT's validation), generated columns read from cold rows, values stored out of line
-- (TOAST) moved cold, GIN and GiST indexes kept through a move and built over cold rows, REINDEX
-- CONCURRENTLY, COPY to and from a table with cold rows; then moves of partitions, policies on
-- timestamp, date, int4 and int8 columns and with order_by, omendb_tier_stats' byte counts, and
-- the SQLSTATEs of bad input. Every step against a heap twin.
CREATE EXTENSION IF NOT EXISTS omendb;
-- the error a statement raises, with its SQLSTATE
CREATE FUNCTION sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TABLE cq (id int8 PRIMARY KEY, ts timestamptz NOT NULL, dev int, v float8, note text,
                 tags int[], span int4range, big text, total float8 GENERATED ALWAYS AS (v * 2) STORED)
  USING tiered WITH (autovacuum_enabled = off);
CREATE TABLE cq_heap (LIKE cq INCLUDING ALL) USING heap WITH (autovacuum_enabled = off);
-- big: every 250th row 4 kB stored out of line, uncompressed
ALTER TABLE cq ALTER COLUMN big SET STORAGE EXTERNAL;
ALTER TABLE cq_heap ALTER COLUMN big SET STORAGE EXTERNAL;
INSERT INTO cq (id, ts, dev, v, note, tags, span, big)
  SELECT g, '2025-01-01'::timestamptz + g * interval '1 minute', g % 17, g * 0.5, 'n' || (g % 100),
         ARRAY[g % 5, g % 7], int4range(g % 1000, g % 1000 + 10),
         CASE WHEN g % 250 = 0 THEN (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 128) i) END
  FROM generate_series(1, 6000) g;
INSERT INTO cq_heap (id, ts, dev, v, note, tags, span, big) SELECT id, ts, dev, v, note, tags, span, big FROM cq;
SELECT pg_relation_size(reltoastrelid) > 0 AS big_out_of_line FROM pg_class WHERE relname = 'cq';
CREATE INDEX cq_ts ON cq USING learned (ts);
CREATE INDEX cq_heap_ts ON cq_heap USING learned (ts);
CREATE INDEX cq_dev ON cq (dev);
CREATE INDEX cq_heap_dev ON cq_heap (dev);
CREATE INDEX cq_tags ON cq USING gin (tags);
CREATE INDEX cq_heap_tags ON cq_heap USING gin (tags);
CREATE INDEX cq_heap_span ON cq_heap USING gist (span);
CREATE FUNCTION cq_check() RETURNS text LANGUAGE sql AS $$
  SELECT concat_ws(' ',
    tiered_same('SELECT id, ts, dev, v, note, tags, span, md5(big), total FROM $T', 'cq', 'cq_heap'),
    tiered_same('SELECT id FROM $T WHERE tags @> ARRAY[3]', 'cq', 'cq_heap'),
    tiered_same('SELECT id FROM $T WHERE span && int4range(100, 120)', 'cq', 'cq_heap'),
    tiered_same('SELECT id, total FROM $T WHERE dev = 3', 'cq', 'cq_heap'),
    tiered_same('SELECT id, md5(big) FROM $T WHERE ts < ''2025-01-03''', 'cq', 'cq_heap'));
$$;
SELECT omendb_tier_set_policy('cq', 'ts', batch_rows => 1000);
-- rows before 2025-01-04 cold (the GIN index kept through the move), the rest hot
SELECT omendb_tier_move('cq', now() - '2025-01-04'::timestamptz) AS moved;
SELECT hot_rows, cold_rows, cold_batches FROM omendb_tier_stats('cq');
-- a GiST index built over cold rows
CREATE INDEX cq_span ON cq USING gist (span);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM cq WHERE tags @> ARRAY[3];
EXPLAIN (COSTS OFF) SELECT id FROM cq WHERE span && int4range(100, 120);
RESET enable_seqscan;
SELECT cq_check();
-- ANALYZE over both tiers: the same statistics as the heap twin's (every row is sampled at this
-- size), but for the out-of-line column's width: ANALYZE counts a heap row's TOAST pointer, a cold
-- row carries its value
ANALYZE cq;
ANALYZE cq_heap;
SELECT a.attname, a.null_frac = b.null_frac AS null_frac, a.n_distinct = b.n_distinct AS n_distinct,
       a.avg_width = b.avg_width AS width, a.most_common_vals::text IS NOT DISTINCT FROM b.most_common_vals::text AS mcv,
       a.histogram_bounds::text IS NOT DISTINCT FROM b.histogram_bounds::text AS histogram
FROM pg_stats a JOIN pg_stats b USING (attname)
WHERE a.tablename = 'cq' AND b.tablename = 'cq_heap' ORDER BY 1;
SELECT count(*) FILTER (WHERE total = v * 2) AS generated_ok, count(big) AS big_values,
       count(*) FILTER (WHERE length(big) = 4096) AS big_whole
FROM cq WHERE ts < '2025-01-04';

-- ON CONFLICT meeting cold rows: DO UPDATE (EXCLUDED and the cold row's values), DO NOTHING
INSERT INTO cq (id, ts, dev, v, note) VALUES (5, '2026-04-01', 1, 1, 'dup')
  ON CONFLICT (id) DO UPDATE SET note = 'conflict ' || cq.note, v = cq.v + excluded.v RETURNING id, note, v, total;
INSERT INTO cq_heap (id, ts, dev, v, note) VALUES (5, '2026-04-01', 1, 1, 'dup')
  ON CONFLICT (id) DO UPDATE SET note = 'conflict ' || cq_heap.note, v = cq_heap.v + excluded.v RETURNING id, note, v, total;
INSERT INTO cq (id, ts, dev, v, note) VALUES (6, '2026-04-01', 1, 1, 'dup') ON CONFLICT DO NOTHING RETURNING id;
INSERT INTO cq_heap (id, ts, dev, v, note) VALUES (6, '2026-04-01', 1, 1, 'dup') ON CONFLICT DO NOTHING RETURNING id;
INSERT INTO cq (id, ts, dev, v, note) SELECT g, '2026-04-02', 2, g, 'batch' FROM generate_series(10, 30) g
  ON CONFLICT (id) DO UPDATE SET note = excluded.note || ' over ' || cq.note WHERE cq.id % 3 = 0;
INSERT INTO cq_heap (id, ts, dev, v, note) SELECT g, '2026-04-02', 2, g, 'batch' FROM generate_series(10, 30) g
  ON CONFLICT (id) DO UPDATE SET note = excluded.note || ' over ' || cq_heap.note WHERE cq_heap.id % 3 = 0;
-- MERGE matching cold rows: delete some, update others, insert the unmatched
MERGE INTO cq USING (SELECT g FROM generate_series(100, 130) g UNION ALL SELECT 900000) s ON cq.id = s.g
  WHEN MATCHED AND s.g % 4 = 0 THEN DELETE
  WHEN MATCHED THEN UPDATE SET note = 'merged', v = cq.v * 3
  WHEN NOT MATCHED THEN INSERT (id, ts, dev, v, note) VALUES (s.g, '2026-03-01', 0, 0, 'merged-new');
MERGE INTO cq_heap USING (SELECT g FROM generate_series(100, 130) g UNION ALL SELECT 900000) s ON cq_heap.id = s.g
  WHEN MATCHED AND s.g % 4 = 0 THEN DELETE
  WHEN MATCHED THEN UPDATE SET note = 'merged', v = cq_heap.v * 3
  WHEN NOT MATCHED THEN INSERT (id, ts, dev, v, note) VALUES (s.g, '2026-03-01', 0, 0, 'merged-new');
SELECT cq_check();

-- row triggers see the cold OLD row whole (its generated and out-of-line values included)
CREATE TABLE cq_log (tbl text, op text, id int8, old_v float8, old_total float8, old_big text, new_v float8, new_total float8);
CREATE FUNCTION cq_trig() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO cq_log VALUES (TG_TABLE_NAME, TG_OP, coalesce(NEW.id, OLD.id), OLD.v, OLD.total, md5(OLD.big),
                             NEW.v, NEW.total);
  RETURN coalesce(NEW, OLD);
END $$;
CREATE TRIGGER cq_t BEFORE UPDATE OR DELETE ON cq FOR EACH ROW EXECUTE FUNCTION cq_trig();
CREATE TRIGGER cq_heap_t BEFORE UPDATE OR DELETE ON cq_heap FOR EACH ROW EXECUTE FUNCTION cq_trig();
UPDATE cq SET v = v + 10 WHERE id BETWEEN 248 AND 252;
UPDATE cq_heap SET v = v + 10 WHERE id BETWEEN 248 AND 252;
DELETE FROM cq WHERE id IN (500, 501);
DELETE FROM cq_heap WHERE id IN (500, 501);
SELECT op, count(*), count(old_big) AS with_big FROM cq_log WHERE tbl = 'cq' GROUP BY op ORDER BY op;
SELECT count(*) AS trigger_rows_differing FROM (
  (SELECT op, id, old_v, old_total, old_big, new_v, new_total FROM cq_log WHERE tbl = 'cq'
   EXCEPT ALL SELECT op, id, old_v, old_total, old_big, new_v, new_total FROM cq_log WHERE tbl = 'cq_heap')
  UNION ALL
  (SELECT op, id, old_v, old_total, old_big, new_v, new_total FROM cq_log WHERE tbl = 'cq_heap'
   EXCEPT ALL SELECT op, id, old_v, old_total, old_big, new_v, new_total FROM cq_log WHERE tbl = 'cq')) d;
DROP TRIGGER cq_t ON cq;
DROP TRIGGER cq_heap_t ON cq_heap;
SELECT cq_check();

-- foreign keys referencing cold rows: the check locks them (FOR KEY SHARE), ON DELETE CASCADE
-- reaches children of a cold row, RESTRICT refuses to delete or re-key one
CREATE TABLE cq_child (id int8 REFERENCES cq (id) ON DELETE CASCADE, x int);
CREATE TABLE cq_keep (id int8 REFERENCES cq (id), x int);
INSERT INTO cq_child SELECT id, 1 FROM cq WHERE id BETWEEN 300 AND 310;
INSERT INTO cq_keep VALUES (320, 1);
INSERT INTO cq_child VALUES (424242, 1);
DELETE FROM cq WHERE id = 300;
DELETE FROM cq_heap WHERE id = 300;
SELECT count(*) AS cascaded_left FROM cq_child WHERE id = 300;
DELETE FROM cq WHERE id = 320;
UPDATE cq SET id = 99999 WHERE id = 320;
-- cold rows referencing: ADD CONSTRAINT validates them (a missing key found in the cold tier),
-- and the referenced side's DELETE finds them
-- (dev 16 left in cold rows only)
DELETE FROM cq WHERE dev = 16 AND ts >= '2025-01-04';
DELETE FROM cq_heap WHERE dev = 16 AND ts >= '2025-01-04';
CREATE TABLE cq_devs (dev int PRIMARY KEY);
INSERT INTO cq_devs SELECT g FROM generate_series(0, 15) g;
ALTER TABLE cq ADD CONSTRAINT cq_dev_fk FOREIGN KEY (dev) REFERENCES cq_devs (dev);
INSERT INTO cq_devs VALUES (16);
ALTER TABLE cq ADD CONSTRAINT cq_dev_fk FOREIGN KEY (dev) REFERENCES cq_devs (dev);
DELETE FROM cq_devs WHERE dev = 16;
SELECT cq_check();

-- REINDEX CONCURRENTLY of the GIN and GiST indexes, then of the whole table
REINDEX INDEX CONCURRENTLY cq_tags;
REINDEX TABLE CONCURRENTLY cq;
SELECT omendb_tier_verify('cq') > 0 AS verified, cq_check();

-- COPY out of a table with cold rows (a table scan), and back in (hot rows)
COPY cq (id, ts, dev, v, note, tags, span, big) TO '/tmp/omendb_regress_36_tiered.csv' CSV;
CREATE TEMP TABLE cq_copy (id int8, ts timestamptz, dev int, v float8, note text, tags int[], span int4range, big text);
COPY cq_copy FROM '/tmp/omendb_regress_36_tiered.csv' CSV;
SELECT count(*) AS copied, count(*) FILTER (WHERE ts < '2025-01-04') AS copied_cold FROM cq_copy;
SELECT count(*) AS copy_rows_differing FROM (
  (SELECT id, ts, dev, v, note, tags, span, big FROM cq_copy EXCEPT ALL SELECT id, ts, dev, v, note, tags, span, big FROM cq_heap)
  UNION ALL
  (SELECT id, ts, dev, v, note, tags, span, big FROM cq_heap EXCEPT ALL SELECT id, ts, dev, v, note, tags, span, big FROM cq_copy)) d;
COPY cq (id, ts, dev, v, note, tags, span, big) FROM PROGRAM 'sed -e s/^/9000000/ /tmp/omendb_regress_36_tiered.csv' CSV;
COPY cq_heap (id, ts, dev, v, note, tags, span, big) FROM PROGRAM 'sed -e s/^/9000000/ /tmp/omendb_regress_36_tiered.csv' CSV;
SELECT cq_check();

-- the statistics: bytes of both tiers, the cold bytes as the batches' own
SELECT hot_bytes > 0 AS hot_bytes, cold_bytes = (SELECT sum(pg_column_size(payload) + coalesce(pg_column_size(deleted), 0))
                                                 FROM omendb.tier_batch WHERE relid = 'cq'::regclass) AS cold_bytes,
       compression_ratio > 1 AS compressed, cold_rows + hot_rows = (SELECT count(*) FROM cq_heap) AS rows
FROM omendb_tier_stats('cq');
-- omendb_tier_verify finds a cold row that no index has (a batch row copied under another slot, as
-- a damaged catalog would hold it): XX002
INSERT INTO omendb.tier_batch SELECT relid, relnode, first_block + 16 * 100000, nrows, deleted, moved_at, payload, hot_bytes
FROM omendb.tier_batch WHERE relid = 'cq'::regclass ORDER BY first_block LIMIT 1;
SELECT sqlstate_of($$SELECT omendb_tier_verify('cq')$$) ~ '^XX002: ' AS verify_xx002;
DELETE FROM omendb.tier_batch WHERE relid = 'cq'::regclass AND first_block = (SELECT max(first_block) FROM omendb.tier_batch WHERE relid = 'cq'::regclass);
SELECT omendb_tier_verify('cq') > 0 AS verified;
DROP TABLE cq_child, cq_keep, cq_log, cq, cq_heap, cq_devs;
DROP FUNCTION cq_check(), cq_trig();

-- partitions using tiered: each partition moves its own rows (the parent, which has no rows of its
-- own, refuses: below); queries through the parent prune and agree
CREATE TABLE pq (id int8, ts timestamp NOT NULL, v int) PARTITION BY RANGE (ts);
CREATE TABLE pq_2024 PARTITION OF pq FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') USING tiered;
CREATE TABLE pq_2025 PARTITION OF pq FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') USING tiered;
CREATE TABLE pq_heap (LIKE pq);
INSERT INTO pq SELECT g, '2024-01-01'::timestamp + g * interval '1 hour', g FROM generate_series(1, 12000) g;
INSERT INTO pq_heap SELECT * FROM pq;
CREATE INDEX ON pq USING learned (ts);
CREATE INDEX ON pq_heap USING learned (ts);
-- a timestamp (without time zone) tier column, batches sorted by v descending
SELECT omendb_tier_set_policy('pq_2024', 'ts', order_by => 'v', batch_rows => 500);
SELECT omendb_tier_set_policy('pq_2025', 'ts', cold_after => interval '0');
SELECT omendb_tier_move('pq_2024', now() - '2024-07-01'::timestamp) AS moved_2024,
       omendb_tier_move('pq_2025') AS moved_2025;
SELECT tiered_same('SELECT * FROM $T WHERE ts BETWEEN ''2024-06-20'' AND ''2025-01-10''', 'pq', 'pq_heap'),
       tiered_same('SELECT count(*), sum(v) FROM $T', 'pq', 'pq_heap');
EXPLAIN (COSTS OFF) SELECT * FROM pq WHERE ts < '2024-03-01';
SELECT tier_column, cold_after, order_by, batch_rows FROM omendb.tier_policy ORDER BY relid::regclass::text;
DROP TABLE pq, pq_heap;

-- policies on date, int4 (Unix epoch seconds) and int8 columns: the cutoff splits the rows
CREATE TABLE pd (d date, e int4, f int8, v int) USING tiered;
INSERT INTO pd SELECT '2020-01-01'::date + g, extract(epoch FROM '2020-01-01'::timestamptz + g * interval '1 day')::int4,
                      extract(epoch FROM '2020-01-01'::timestamptz + g * interval '1 day')::int8, g
FROM generate_series(0, 999) g;
SELECT omendb_tier_set_policy('pd', 'd');
SELECT omendb_tier_move('pd', now() - '2021-01-01'::timestamptz) AS moved_by_date;
SELECT omendb_tier_set_policy('pd', 'e');
SELECT omendb_tier_move('pd', now() - '2021-07-01'::timestamptz) AS moved_by_int4;
SELECT omendb_tier_set_policy('pd', 'f');
SELECT omendb_tier_move('pd', now() - '2022-01-01'::timestamptz) AS moved_by_int8;
SELECT cold_rows, hot_rows FROM omendb_tier_stats('pd');
SELECT count(*), sum(v), min(d), max(d) FROM pd;
DROP TABLE pd;

-- bad input, with its SQLSTATE
CREATE TABLE bq (id int, ts timestamptz, note text) USING tiered;
CREATE TABLE bq_heap (id int, ts timestamptz);
CREATE TABLE bq_parent (ts timestamptz) PARTITION BY RANGE (ts);
SELECT q, sqlstate_of(q) FROM (VALUES
  ($$SELECT omendb_tier_set_policy('bq', 'missing')$$),
  ($$SELECT omendb_tier_set_policy('bq', 'note')$$),
  ($$SELECT omendb_tier_set_policy('bq', 'ts', order_by => 'missing')$$),
  ($$SELECT omendb_tier_set_policy('bq', 'ts', cold_after => interval '-1 day')$$),
  ($$SELECT omendb_tier_set_policy('bq', 'ts', batch_rows => 0)$$),
  ($$SELECT omendb_tier_set_policy('bq', 'ts', batch_rows => 100000)$$),
  ($$SELECT omendb_tier_set_policy(NULL, 'ts')$$),
  ($$SELECT omendb_tier_set_policy('bq_heap', 'ts')$$),
  ($$SELECT omendb_tier_move('bq_heap', interval '1 day')$$),
  ($$SELECT omendb_tier_move('bq_parent', interval '1 day')$$),
  ($$SELECT omendb_tier_move('bq')$$),
  ($$SELECT omendb_tier_stats('bq_heap')$$),
  ($$SELECT omendb_tier_verify('bq_heap')$$),
  ($$CREATE INDEX ON bq USING brin (ts)$$)) t(q);
DROP TABLE bq, bq_heap, bq_parent;
DROP FUNCTION sqlstate_of(text);
-- a UNIQUE learned index (regress 28) on a tiered table: a duplicate of a cold row fails; a
-- deleted cold row's key can come back
CREATE TABLE uqt (id int8, ts timestamptz) USING tiered;
CREATE UNIQUE INDEX uqt_id ON uqt USING learned (id);
INSERT INTO uqt SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 3000) g;
SELECT omendb_tier_set_policy('uqt', 'ts');
SELECT tiered_move_all('uqt', 3000);
INSERT INTO uqt VALUES (1500, now());
DELETE FROM uqt WHERE id = 1501;
INSERT INTO uqt VALUES (1501, now());
SELECT count(*), count(DISTINCT id) FROM uqt;
DROP TABLE uqt;
