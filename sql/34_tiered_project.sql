-- Column projection on a tiered table: a scan whose plan reads a few columns decodes only those of
-- its cold rows (the others read as NULL, unread). Every query here runs through a sequential, an
-- index, a bitmap and an index-only scan and must answer exactly as its heap twin; a column the
-- analysis missed would read as NULL and change an answer. DEBUG1 names the columns a scan reads.
CREATE EXTENSION IF NOT EXISTS omendb;
CREATE TABLE pj (id int8, ts timestamptz, device int, v1 float8, v2 float4, note text, big text, day date)
  USING tiered;
CREATE TABLE pj_heap (LIKE pj) USING heap;
-- pj_rows(lo, hi): the rows both tables get, from the same generator (the twin is not read from pj)
CREATE FUNCTION pj_rows(lo int, hi int) RETURNS SETOF pj_heap LANGUAGE sql AS $$
  SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', g % 50, g * 0.25, (g % 1000) / 8.0,
         'n' || (g % 37), CASE WHEN g % 2000 = 0 THEN repeat(md5(g::text), 200) END, '2020-01-01'::date + g / 1440
  FROM generate_series(lo, hi) g $$;
INSERT INTO pj SELECT * FROM pj_rows(1, 12000);
INSERT INTO pj_heap SELECT * FROM pj_rows(1, 15000);
CREATE INDEX pj_ts ON pj USING learned (ts);
CREATE INDEX pj_device ON pj (device);
CREATE INDEX pj_id ON pj (id);
SELECT omendb_tier_set_policy('pj', 'ts', batch_rows => 700);
SELECT omendb_tier_move('pj', now() - '2020-01-08'::timestamptz);
-- hot rows beside the cold ones
INSERT INTO pj SELECT * FROM pj_rows(12001, 15000);
CREATE INDEX pj_heap_ts ON pj_heap USING learned (ts);
CREATE INDEX pj_heap_device ON pj_heap (device);
CREATE INDEX pj_heap_id ON pj_heap (id);
VACUUM ANALYZE pj;
VACUUM ANALYZE pj_heap;
SELECT cold_rows FROM omendb_tier_stats('pj');

-- pj_same(q): q ($T names the table) as CREATE TABLE AS (so its top node is q's own, as when run
-- alone) over pj through a sequential, an index and a bitmap scan, and over pj_heap: 'seq index
-- bitmap' when all three answer pj_heap's multiset, else which differ (NOTICE with the counts).
CREATE FUNCTION pj_same(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  modes text[] := ARRAY['seq', 'index', 'bitmap', 'indexonly'];
  m text; out text := ''; diff int8;
BEGIN
  EXECUTE 'CREATE TEMP TABLE pj_want AS ' || replace(q, '$T', 'pj_heap');
  FOREACH m IN ARRAY modes LOOP
    PERFORM set_config('enable_seqscan', (m = 'seq')::text, true);
    PERFORM set_config('enable_indexscan', (m IN ('index', 'indexonly'))::text, true);
    PERFORM set_config('enable_bitmapscan', (m = 'bitmap')::text, true);
    PERFORM set_config('enable_indexonlyscan', (m = 'indexonly')::text, true);
    EXECUTE 'CREATE TEMP TABLE pj_got AS ' || replace(q, '$T', 'pj');
    EXECUTE 'SELECT (SELECT count(*) FROM (TABLE pj_got EXCEPT ALL TABLE pj_want) a) +
                    (SELECT count(*) FROM (TABLE pj_want EXCEPT ALL TABLE pj_got) b)' INTO diff;
    IF diff > 0 THEN RAISE NOTICE '%: % rows differ', m, diff; END IF;
    out := out || CASE WHEN diff = 0 THEN m ELSE upper(m) || '!' END || ' ';
    DROP TABLE pj_got;
  END LOOP;
  DROP TABLE pj_want;
  PERFORM set_config(g, 'on', true)
  FROM unnest(ARRAY['enable_seqscan', 'enable_indexscan', 'enable_bitmapscan', 'enable_indexonlyscan']) g;
  RETURN rtrim(out);
END $$;

-- which columns scans read (DEBUG1)
SET client_min_messages = debug1;
SELECT count(*), sum(v1), max(ts) FROM pj;
SELECT count(*) FROM pj;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT sum(v2), count(note) FROM pj WHERE ts >= '2020-01-03' AND ts < '2020-01-03 01:00';
SELECT id, note FROM pj WHERE device = 7 AND id < 300 ORDER BY id;
SELECT t.id, length(t::text) FROM pj t WHERE device = 7 AND id < 300 ORDER BY id;  -- whole row: every column
-- an index-only scan fetches cold rows only to check their visibility: no column
SELECT device, count(*) FROM pj WHERE device < 3 GROUP BY device ORDER BY device;
SELECT device, count(*) FROM pj_heap WHERE device < 3 GROUP BY device ORDER BY device;
SELECT count(*), min(id), max(id) FROM pj WHERE id BETWEEN 100 AND 9000;
RESET enable_seqscan;
RESET enable_bitmapscan;
RESET client_min_messages;

-- the same answers as heap, through every scan type
SELECT pj_same('SELECT count(*), sum(v1), max(ts) FROM $T');
SELECT pj_same('SELECT count(*) FROM $T WHERE ts < ''2020-01-05''');
-- each column below is read by one construct only, over cold rows (a column missed reads NULL):
-- HAVING, a grouping column not in the output, FILTER, an aggregate's ORDER BY, DISTINCT
SELECT pj_same('SELECT device, sum(v1) AS s FROM $T WHERE ts < ''2020-01-08'' GROUP BY device HAVING max(v2) > 120');
SELECT pj_same('SELECT count(*) FROM $T WHERE ts < ''2020-01-08'' GROUP BY day');
SELECT pj_same('SELECT sum(v1) FILTER (WHERE device > 20) FROM $T WHERE ts < ''2020-01-05''');
SELECT pj_same('SELECT string_agg(note, '','' ORDER BY v2, id) FROM $T WHERE ts BETWEEN ''2020-01-03'' AND ''2020-01-04''');
SELECT pj_same('SELECT count(DISTINCT day) AS d, count(big) AS b FROM $T WHERE ts < ''2020-01-08''');
SELECT pj_same('SELECT id, note, length(big) FROM $T WHERE device = 7');
SELECT pj_same('SELECT t::text FROM $T t WHERE device = 9');
-- system columns of projected cold rows come from their header and TID (no "cannot retrieve a
-- system column" error)
SELECT pj_same('SELECT id, xmin IS NOT NULL AS x, ctid IS NOT NULL AS c, tableoid <> 0 AS t FROM $T WHERE device = 3');
SELECT pj_same('SELECT max(id), (SELECT sum(v1) FROM $T x WHERE x.device = 5 AND x.ts < ''2020-01-02'')
                FROM $T WHERE device = 4');
-- a correlated subquery: an index scan with run-time keys under its aggregate
SELECT pj_same('SELECT d.n, (SELECT sum(v1) + count(note) FROM $T x WHERE x.ts >= d.t0 AND x.ts < d.t0 + interval ''1 hour'')
                FROM (VALUES (1, ''2020-01-02''::timestamptz), (2, ''2020-01-06''::timestamptz),
                             (3, ''2020-01-10''::timestamptz)) d(n, t0)');
SELECT pj_same('SELECT device, avg(v2) FROM $T WHERE day = ''2020-01-04'' GROUP BY device ORDER BY 2 DESC LIMIT 5');
SELECT pj_same('SELECT a.id, b.note FROM $T a JOIN $T b ON a.id = b.id + 1 WHERE a.device = 6 AND b.device = 5');

-- a join reads the columns of the scan tuples it is handed: in its target list, its quals, and
-- by its method in its hash or merge clauses, hash keys or nested-loop parameters; each join
-- method in turn (each column below is read by one of those only)
CREATE TABLE pj_dim (device int, label text);
INSERT INTO pj_dim SELECT d, 'dev' || d FROM generate_series(0, 49) d;
ANALYZE pj_dim;
CREATE FUNCTION pj_joins() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  m text;
BEGIN
  FOREACH m IN ARRAY ARRAY['hashjoin', 'mergejoin', 'nestloop'] LOOP
    PERFORM set_config('enable_hashjoin', (m = 'hashjoin')::text, true);
    PERFORM set_config('enable_mergejoin', (m = 'mergejoin')::text, true);
    PERFORM set_config('enable_nestloop', (m = 'nestloop')::text, true);
    RETURN NEXT m || ': ' || pj_same('SELECT d.label, t.v1 FROM $T t JOIN pj_dim d ON d.device = t.device
                                      WHERE t.ts < ''2020-01-03'' AND t.v2 > d.device');
    RETURN NEXT m || ': ' || pj_same('SELECT d.label, t.id FROM pj_dim d JOIN $T t ON t.device = d.device
                                      WHERE d.device < 4 AND t.ts < ''2020-01-05''');
    RETURN NEXT m || ': ' || pj_same('SELECT a.id, b.v1 FROM $T a JOIN $T b ON a.id = b.id + 1 AND a.v2 <> b.v2
                                      WHERE a.device = 6 AND b.device = 5');
    RETURN NEXT m || ': ' || pj_same('SELECT a.id, b.id AS bid FROM $T a LEFT JOIN $T b ON a.id = b.id - 1 AND b.note > a.note
                                      WHERE a.ts < ''2020-01-02''');
    RETURN NEXT m || ': ' || pj_same('SELECT a.v1, b.v2 FROM $T a JOIN $T b ON a.id = b.id WHERE a.device = 6');
    -- a CTE's plan hangs on the query's top node, here the join: the scan under it is not a side
    RETURN NEXT m || ': ' || pj_same('WITH c AS MATERIALIZED (SELECT * FROM $T WHERE ts < ''2020-01-03'')
                                      SELECT c.note, c.v2, d.label FROM c JOIN pj_dim d ON c.device = d.device');
  END LOOP;
  PERFORM set_config(g, 'on', true) FROM unnest(ARRAY['enable_hashjoin', 'enable_mergejoin', 'enable_nestloop']) g;
END $$;
SELECT * FROM pj_joins();
SET client_min_messages = debug1;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT count(*), sum(t.v1) FROM pj_dim d JOIN pj t ON t.device = d.device WHERE d.device = 2;
SET enable_nestloop = off;
SET enable_hashjoin = on;
SELECT count(*), sum(t.v1) FROM pj t JOIN pj_dim d ON t.device = d.device WHERE t.v2 > 100;
RESET enable_nestloop;
RESET enable_mergejoin;
RESET enable_hashjoin;
RESET client_min_messages;

-- a generic plan (parameters as run-time keys of a prepared index scan)
SET plan_cache_mode = force_generic_plan;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
PREPARE pj_range(timestamptz) AS SELECT count(*), sum(v1), min(note) FROM pj WHERE ts >= $1 AND ts < $1 + interval '2 hours';
PREPARE pj_heap_range(timestamptz) AS SELECT count(*), sum(v1), min(note) FROM pj_heap WHERE ts >= $1 AND ts < $1 + interval '2 hours';
EXECUTE pj_range('2020-01-04');
EXECUTE pj_heap_range('2020-01-04');
EXECUTE pj_range('2020-01-09 23:00');
EXECUTE pj_heap_range('2020-01-09 23:00');
RESET plan_cache_mode;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- UPDATE and DELETE read their old rows whole; RETURNING sees every column
WITH u AS (UPDATE pj SET v1 = v1 + 1 WHERE device = 11 RETURNING id, v1, note, big)
SELECT count(*), sum(v1), count(note), sum(length(big)) FROM u;
WITH u AS (UPDATE pj_heap SET v1 = v1 + 1 WHERE device = 11 RETURNING id, v1, note, big)
SELECT count(*), sum(v1), count(note), sum(length(big)) FROM u;
WITH d AS (DELETE FROM pj WHERE device = 13 AND ts < '2020-01-05' RETURNING *) SELECT count(*), sum(v2), count(big) FROM d;
WITH d AS (DELETE FROM pj_heap WHERE device = 13 AND ts < '2020-01-05' RETURNING *) SELECT count(*), sum(v2), count(big) FROM d;
SELECT pj_same('SELECT device, sum(v1), count(*) FROM $T GROUP BY device');

-- columns added (with a default: batches older than it carry none) and dropped
ALTER TABLE pj ADD COLUMN extra int DEFAULT 7;
ALTER TABLE pj_heap ADD COLUMN extra int DEFAULT 7;
ALTER TABLE pj DROP COLUMN day;
ALTER TABLE pj_heap DROP COLUMN day;
SELECT pj_same('SELECT sum(extra) AS e, sum(v1) AS v, count(*) FROM $T');
SELECT pj_same('SELECT id, extra, note FROM $T WHERE device = 8');
SELECT pj_same('SELECT device, max(extra), sum(v2) FROM $T WHERE ts > ''2020-01-06'' GROUP BY device');
SELECT omendb_tier_verify('pj') > 0 AS verified;

-- NOT NULL columns before the last column read are read too: JIT-compiled deforming takes them
-- for present (a skipped one would shift every later column)
CREATE TABLE pn (a int8 NOT NULL, b text NOT NULL, c float8, d int4 NOT NULL, e float8, f text NOT NULL) USING tiered;
CREATE TABLE pn_heap (LIKE pn) USING heap;
INSERT INTO pn SELECT g, 'b' || g, g * 0.5, g % 7, g * 0.125, 'f' FROM generate_series(1, 3000) g;
INSERT INTO pn_heap SELECT g, 'b' || g, g * 0.5, g % 7, g * 0.125, 'f' FROM generate_series(1, 3000) g;
SELECT omendb_tier_set_policy('pn', 'a', batch_rows => 1000);
SELECT omendb_tier_move('pn', interval '1 day');
SET jit = on;
SET jit_above_cost = 0;
SET jit_optimize_above_cost = -1;
SET jit_inline_above_cost = -1;
SELECT sum(e), sum(c) FROM pn;
SELECT sum(e), sum(c) FROM pn_heap;
SELECT sum(e) FILTER (WHERE d > 2), max(c) FROM pn WHERE a > 100;
SELECT sum(e) FILTER (WHERE d > 2), max(c) FROM pn_heap WHERE a > 100;
RESET jit;
RESET jit_above_cost;
RESET jit_optimize_above_cost;
RESET jit_inline_above_cost;
DROP FUNCTION pj_joins();
DROP FUNCTION pj_same(text);
DROP FUNCTION pj_rows(int, int);
DROP TABLE pj, pj_heap, pn, pn_heap, pj_dim;
