-- Table AM `tiered`, all rows hot: a tiered table behaves as heap under every statement. A tiered
-- table and its heap twin take the same statements; after each, the same queries (seq, index,
-- index-only and bitmap scans, through btree, hash, GiST, GIN and learned indexes) answer alike.
CREATE EXTENSION IF NOT EXISTS omendb;
SELECT amname, amtype FROM pg_am WHERE amname = 'tiered';
-- twin_same(q): q with $T replaced by tt (tiered) and by th (heap), compared as multisets (in
-- order when `ordered`), through the indexes (seqscan off) and through a seqscan.
CREATE FUNCTION twin_same(q text, ordered boolean DEFAULT false) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE a text; b text; c text; agg text;
BEGIN
  agg := CASE WHEN ordered THEN 'string_agg(s::text, '';'')' ELSE 'string_agg(s::text, '';'' ORDER BY s::text)' END;
  PERFORM set_config('enable_seqscan', 'off', true);
  EXECUTE format('SELECT %s FROM (%s) s', agg, replace(q, '$T', 'tt')) INTO a;
  PERFORM set_config('enable_seqscan', 'on', true);
  PERFORM set_config('enable_indexscan', 'off', true);
  PERFORM set_config('enable_bitmapscan', 'off', true);
  PERFORM set_config('enable_indexonlyscan', 'off', true);
  EXECUTE format('SELECT %s FROM (%s) s', agg, replace(q, '$T', 'tt')) INTO b;
  EXECUTE format('SELECT %s FROM (%s) s', agg, replace(q, '$T', 'th')) INTO c;
  PERFORM set_config('enable_indexscan', 'on', true);
  PERFORM set_config('enable_bitmapscan', 'on', true);
  PERFORM set_config('enable_indexonlyscan', 'on', true);
  IF a IS DISTINCT FROM c OR b IS DISTINCT FROM c THEN
    RAISE NOTICE 'tiered (index): %', left(a, 200);
    RAISE NOTICE 'tiered (seq):   %', left(b, 200);
    RAISE NOTICE 'heap:           %', left(c, 200);
  END IF;
  RETURN a IS NOT DISTINCT FROM c AND b IS NOT DISTINCT FROM c;
END $$;
-- the checks run after every step
CREATE FUNCTION twin_check() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN concat_ws(' ',
    twin_same('SELECT id, ts, dev, v, note, big IS NULL, length(big) FROM $T'),
    twin_same('SELECT id, v FROM $T WHERE ts BETWEEN ''2026-01-02'' AND ''2026-01-03'''),
    twin_same('SELECT ts FROM $T WHERE ts >= ''2026-01-05'' ORDER BY ts DESC LIMIT 30', true),
    twin_same('SELECT id FROM $T WHERE dev = 7 AND id % 3 = 0'),
    twin_same('SELECT id FROM $T WHERE note = ''n42'''),
    twin_same('SELECT id FROM $T WHERE tags @> ARRAY[3]'),
    twin_same('SELECT id FROM $T WHERE span && int4range(100, 120)'),
    twin_same('SELECT count(*), sum(v), min(ts), max(ts) FROM $T'));
END $$;
CREATE TABLE tt (id int8 PRIMARY KEY, ts timestamptz NOT NULL, dev int, v float8, note text,
                 tags int[], span int4range, big text, total float8 GENERATED ALWAYS AS (v * 2) STORED)
  USING tiered;
CREATE TABLE th (LIKE tt INCLUDING ALL) USING heap;
SELECT c.relname, a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relname IN ('tt', 'th') ORDER BY 1;
-- TOAST tables of a tiered table are heap
SELECT a.amname AS toast_am FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid
JOIN pg_am a ON a.oid = t.relam WHERE c.relname = 'tt';
CREATE FUNCTION twin_load(n int, first int8) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tt (id, ts, dev, v, note, tags, span, big)
    SELECT first + g, '2026-01-01'::timestamptz + (first + g) * interval '1 minute', g % 17, g * 0.5,
           'n' || (g % 100), ARRAY[g % 5, g % 7], int4range(g % 1000, g % 1000 + 10),
           CASE WHEN g % 500 = 0 THEN repeat(md5(g::text), 300) END
    FROM generate_series(1, n) g;
  INSERT INTO th (id, ts, dev, v, note, tags, span, big)
    SELECT id, ts, dev, v, note, tags, span, big FROM tt WHERE id > first AND id <= first + n;
END $$;
SELECT twin_load(10000, 0);
-- every index kind the columns allow, and learned
CREATE INDEX tt_ts ON tt USING learned (ts);
CREATE INDEX th_ts ON th USING learned (ts);
CREATE INDEX tt_dev ON tt (dev);
CREATE INDEX th_dev ON th (dev);
CREATE INDEX tt_note ON tt USING hash (note);
CREATE INDEX th_note ON th USING hash (note);
CREATE INDEX tt_tags ON tt USING gin (tags);
CREATE INDEX th_tags ON th USING gin (tags);
CREATE INDEX tt_span ON tt USING gist (span);
CREATE INDEX th_span ON th USING gist (span);
VACUUM ANALYZE tt;
VACUUM ANALYZE th;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM tt WHERE ts BETWEEN '2026-01-02' AND '2026-01-03';
EXPLAIN (COSTS OFF) SELECT id FROM tt WHERE tags @> ARRAY[3];
RESET enable_seqscan;
SELECT twin_check();
-- DML: UPDATE (HOT and not), DELETE, COPY, MERGE, ON CONFLICT, generated column, TOASTed values
UPDATE tt SET v = v + 1 WHERE id % 10 = 1;
UPDATE th SET v = v + 1 WHERE id % 10 = 1;
UPDATE tt SET ts = ts + interval '1 day', note = 'moved' WHERE id % 50 = 2;
UPDATE th SET ts = ts + interval '1 day', note = 'moved' WHERE id % 50 = 2;
DELETE FROM tt WHERE id % 7 = 3;
DELETE FROM th WHERE id % 7 = 3;
INSERT INTO tt (id, ts, dev, v, note) VALUES (5, '2026-04-01', 1, 1, 'dup') ON CONFLICT (id) DO UPDATE SET note = 'conflict';
INSERT INTO th (id, ts, dev, v, note) VALUES (5, '2026-04-01', 1, 1, 'dup') ON CONFLICT (id) DO UPDATE SET note = 'conflict';
INSERT INTO tt (id, ts, dev, v, note) VALUES (6, '2026-04-01', 1, 1, 'dup') ON CONFLICT DO NOTHING;
INSERT INTO th (id, ts, dev, v, note) VALUES (6, '2026-04-01', 1, 1, 'dup') ON CONFLICT DO NOTHING;
MERGE INTO tt USING (SELECT g FROM generate_series(9990, 10010) g) s ON tt.id = s.g
  WHEN MATCHED THEN UPDATE SET note = 'merged'
  WHEN NOT MATCHED THEN INSERT (id, ts, dev, v, note) VALUES (s.g, '2026-03-01', 0, 0, 'merged-new');
MERGE INTO th USING (SELECT g FROM generate_series(9990, 10010) g) s ON th.id = s.g
  WHEN MATCHED THEN UPDATE SET note = 'merged'
  WHEN NOT MATCHED THEN INSERT (id, ts, dev, v, note) VALUES (s.g, '2026-03-01', 0, 0, 'merged-new');
COPY (SELECT id + 100000, ts, dev, v, note, tags, span, big FROM th WHERE id < 300) TO '/tmp/omendb_regress_30_tiered.csv' CSV;
COPY tt (id, ts, dev, v, note, tags, span, big) FROM '/tmp/omendb_regress_30_tiered.csv' CSV;
COPY th (id, ts, dev, v, note, tags, span, big) FROM '/tmp/omendb_regress_30_tiered.csv' CSV;
SELECT count(*) FILTER (WHERE total = v * 2) = count(*) AS generated_ok FROM tt;
SELECT twin_check();
-- row locks: FOR UPDATE / SHARE / SKIP LOCKED, as heap
BEGIN;
SELECT id FROM tt WHERE id BETWEEN 10 AND 14 ORDER BY id FOR UPDATE;
SELECT count(*) FROM (SELECT id FROM tt WHERE id BETWEEN 10 AND 20 FOR SHARE SKIP LOCKED) s;
COMMIT;
-- triggers and foreign keys in both directions
CREATE TABLE tt_log (id int8, op text);
CREATE FUNCTION tt_trig() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO tt_log VALUES (coalesce(NEW.id, OLD.id), TG_OP); RETURN coalesce(NEW, OLD); END $$;
CREATE TRIGGER tt_t BEFORE INSERT OR UPDATE OR DELETE ON tt FOR EACH ROW EXECUTE FUNCTION tt_trig();
CREATE TABLE tt_child (id int8 REFERENCES tt (id) ON DELETE CASCADE, x int) USING tiered;
CREATE TABLE tt_parent (dev int PRIMARY KEY);
INSERT INTO tt_parent SELECT g FROM generate_series(0, 16) g;
ALTER TABLE tt ADD CONSTRAINT tt_dev_fk FOREIGN KEY (dev) REFERENCES tt_parent (dev);
INSERT INTO tt_child SELECT id, 1 FROM tt WHERE id % 100 = 0;
DELETE FROM tt WHERE id = 100;
DELETE FROM th WHERE id = 100;
INSERT INTO tt (id, ts, dev) VALUES (999999, '2026-04-01', 99);   -- violates tt_dev_fk
INSERT INTO tt_child VALUES (424242, 1);                    -- violates tt_child_id_fkey
SELECT op, count(*) FROM tt_log GROUP BY op ORDER BY op;
SELECT count(*) AS cascaded FROM tt_child WHERE id = 100;
DROP TRIGGER tt_t ON tt;
SELECT twin_check();
-- maintenance: VACUUM, VACUUM FULL, CLUSTER, ANALYZE, REINDEX, CREATE INDEX CONCURRENTLY
VACUUM tt;
VACUUM th;
SELECT twin_check();
VACUUM FULL tt;
VACUUM FULL th;
SELECT twin_check();
CLUSTER tt USING tt_pkey;
CLUSTER th USING th_pkey;
ANALYZE tt;
SELECT count(*) > 0 AS has_stats FROM pg_stats WHERE tablename = 'tt';
REINDEX TABLE tt;
REINDEX TABLE CONCURRENTLY tt;
CREATE INDEX CONCURRENTLY tt_v ON tt (v);
CREATE INDEX CONCURRENTLY th_v ON th (v);
SELECT indisvalid FROM pg_index WHERE indexrelid = 'tt_v'::regclass;
SELECT omendb_index_verify('tt_ts') = (SELECT count(*) FROM tt) AS learned_verified;
SELECT twin_check();
-- BRIN is refused with a clear error
\set VERBOSITY default
CREATE INDEX tt_brin ON tt USING brin (ts);
-- an ERROR inside heap's build scan (run with heap's routine presented) leaves the table tiered
-- in this backend's relcache: BRIN is still refused afterwards
\set VERBOSITY terse
CREATE INDEX tt_div ON tt ((1 / (dev - 3)));   -- division by zero inside the scan
CREATE INDEX tt_brin ON tt USING brin (ts);
\set VERBOSITY default
-- TABLESAMPLE and parallel seq scan: same rows as the heap twin
SELECT (SELECT count(*) FROM tt TABLESAMPLE SYSTEM (100)) = (SELECT count(*) FROM th) AS sample_all;
SELECT count(*) > 0 AS sample_some FROM tt TABLESAMPLE BERNOULLI (50) REPEATABLE (7);
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*), sum(v) FROM tt;
SELECT (SELECT count(*) || ' ' || sum(v) FROM tt) = (SELECT count(*) || ' ' || sum(v) FROM th) AS parallel_same;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
-- ALTER TABLE SET ACCESS METHOD both ways, CREATE TABLE AS, TEMP, UNLOGGED, partitions
ALTER TABLE th SET ACCESS METHOD tiered;
ALTER TABLE th SET ACCESS METHOD heap;
CREATE TABLE tt_copy USING tiered AS SELECT id, ts, dev, v, note, tags, span, big FROM th;
ALTER TABLE tt_copy SET ACCESS METHOD heap;
ALTER TABLE tt_copy SET ACCESS METHOD tiered;
SELECT (SELECT count(*) FROM tt_copy) = (SELECT count(*) FROM th) AS ctas_same;
CREATE TEMP TABLE tt_temp (k int) USING tiered;
INSERT INTO tt_temp SELECT generate_series(1, 100);
CREATE UNLOGGED TABLE tt_unlogged (k int) USING tiered;
INSERT INTO tt_unlogged SELECT generate_series(1, 100);
CREATE INDEX ON tt_unlogged USING learned (k);
SELECT (SELECT sum(k) FROM tt_temp), (SELECT sum(k) FROM tt_unlogged WHERE k > 50);
CREATE TABLE tt_part (ts timestamptz, v int) PARTITION BY RANGE (ts);
CREATE TABLE tt_part_1 PARTITION OF tt_part FOR VALUES FROM ('2026-01-01') TO ('2026-02-01') USING tiered;
CREATE TABLE tt_part_2 PARTITION OF tt_part FOR VALUES FROM ('2026-02-01') TO ('2026-03-01') USING tiered;
INSERT INTO tt_part SELECT '2026-01-01'::timestamptz + g * interval '1 hour', g FROM generate_series(0, 1400) g;
CREATE INDEX ON tt_part USING learned (ts);
SELECT c.relname, a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
WHERE c.relname LIKE 'tt_part_%' AND c.relkind = 'r' ORDER BY 1;
SELECT count(*), sum(v) FROM tt_part WHERE ts >= '2026-01-31' AND ts < '2026-02-02';
-- TRUNCATE
TRUNCATE tt_copy;
SELECT count(*) FROM tt_copy;
SELECT twin_check();
DROP TABLE tt, th, tt_log, tt_child, tt_parent, tt_copy, tt_temp, tt_unlogged, tt_part CASCADE;
DROP FUNCTION twin_same(text, boolean), twin_check(), twin_load(int, int8), tt_trig();
