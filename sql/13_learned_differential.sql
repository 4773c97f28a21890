-- Differential test: random tables (uniform, skewed, duplicate-heavy, with NULLs; random
-- error_bound and fillfactor) x random predicates, before and after random inserts and deletes
-- (+ VACUUM). Every answer through the learned index must equal the sequential scan's. Fixed seed.
CREATE EXTENSION IF NOT EXISTS omendb;

CREATE FUNCTION diff_answers(tbl text, nqueries int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  bad int := 0; q text; lo int8; hi int8; op text; i int;
  ops text[] := ARRAY['<', '<=', '=', '>=', '>'];
BEGIN
  FOR i IN 1..nqueries LOOP
    lo := (random() * 2200 - 100)::int8;
    hi := lo + (random() * random() * 300)::int8;
    op := ops[1 + (random() * 4)::int];
    q := CASE (random() * 6)::int
      WHEN 0 THEN format('SELECT id, k FROM %s WHERE k %s %s', tbl, op, lo)
      WHEN 1 THEN format('SELECT id, k FROM %s WHERE k BETWEEN %s AND %s', tbl, lo, hi)
      WHEN 2 THEN format('SELECT id, k FROM %s WHERE k = ANY (ARRAY[%s, %s, %s, NULL]::int8[])', tbl, lo, hi, lo + 1)
      WHEN 3 THEN format('SELECT k FROM %s WHERE k > %s ORDER BY k LIMIT %s', tbl, lo, 1 + (random() * 50)::int)
      WHEN 4 THEN format('SELECT k FROM %s WHERE k < %s ORDER BY k DESC LIMIT %s', tbl, hi, 1 + (random() * 50)::int)
      WHEN 5 THEN format('SELECT id FROM %s WHERE k IS NULL', tbl)
      ELSE format('SELECT k FROM %s ORDER BY k NULLS LAST LIMIT 20', tbl) END;
    IF NOT learned_same(q, false, random() < 0.3) THEN
      bad := bad + 1;
      RAISE NOTICE 'mismatch on %', q;
    END IF;
  END LOOP;
  RETURN bad;
END $$;

-- make_table(name, kind, n): kind 0 uniform, 1 skewed, 2 few distinct values, 3 with NULLs.
CREATE FUNCTION make_table(tbl text, kind int, n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE %s (id serial, k int8)', tbl);
  EXECUTE format('INSERT INTO %s (k) SELECT CASE %s
      WHEN 0 THEN (random() * 2000)::int8
      WHEN 1 THEN (2000 * random() ^ 4)::int8
      WHEN 2 THEN (random() * 5)::int8 * 400
      ELSE CASE WHEN random() < 0.2 THEN NULL ELSE (random() * 2000)::int8 END END
    FROM generate_series(1, %s)', tbl, kind, n);
  EXECUTE format('CREATE INDEX %s_k ON %s USING learned (k) WITH (error_bound = %s, fillfactor = %s)',
                 tbl, tbl, (ARRAY[1, 4, 16, 64, 512])[1 + (random() * 4)::int], 10 + (random() * 90)::int);
  EXECUTE format('ANALYZE %s', tbl);
END $$;

SELECT setseed(0.4242);
SELECT make_table('dt' || i, i % 4, (ARRAY[0, 1, 700, 5000, 20000])[1 + i % 5]) FROM generate_series(0, 7) i;
SELECT sum(diff_answers('dt' || i, 60)) AS mismatches_after_build FROM generate_series(0, 7) i;
-- random inserts (into gaps and overflow) and deletes
DO $$ BEGIN
  FOR i IN 0..7 LOOP
    EXECUTE format('INSERT INTO dt%s (k) SELECT CASE WHEN random() < 0.1 THEN NULL
        WHEN random() < 0.3 THEN 1000 ELSE (random() * 2400 - 200)::int8 END
      FROM generate_series(1, 3000)', i);
    EXECUTE format('DELETE FROM dt%s WHERE random() < 0.3', i);
  END LOOP;
END $$;
SELECT sum(diff_answers('dt' || i, 60)) AS mismatches_after_dml FROM generate_series(0, 7) i;
VACUUM (INDEX_CLEANUP ON) dt0, dt1, dt2, dt3, dt4, dt5, dt6, dt7;
SELECT sum(diff_answers('dt' || i, 60)) AS mismatches_after_vacuum FROM generate_series(0, 7) i;
SELECT bool_and(omendb_index_verify(('dt' || i || '_k')::regclass) >= 0) AS verified FROM generate_series(0, 7) i;
-- after VACUUM the index holds exactly the live rows
CREATE FUNCTION live_rows(tbl text) RETURNS int8 LANGUAGE plpgsql AS $$
DECLARE n int8; BEGIN EXECUTE format('SELECT count(*) FROM %s', tbl) INTO n; RETURN n; END $$;
SELECT bool_and(s.keys + s.nulls = live_rows('dt' || i)) AS index_holds_live_rows
  FROM generate_series(0, 7) i, omendb_index_stats(('dt' || i || '_k')::regclass) s;
DROP FUNCTION live_rows;
DROP TABLE dt0, dt1, dt2, dt3, dt4, dt5, dt6, dt7;

-- The sparse layout: keys in table order with a random share of late rows (0, 1%, 20%), NULLs,
-- duplicates; the same random queries, then inserts at the end and anywhere, deletes, VACUUM.
CREATE FUNCTION make_sparse(tbl text, late float8, n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE %s (id serial, k int8) WITH (autovacuum_enabled = off)', tbl);
  EXECUTE format('INSERT INTO %s (k) SELECT CASE WHEN random() < %s THEN (random() * 2000)::int8
      WHEN random() < 0.02 THEN NULL ELSE (g * 2000 / %s)::int8 END
    FROM generate_series(1, %s) g', tbl, late, n, n);
  EXECUTE format('CREATE INDEX %s_k ON %s USING learned (k) WITH (layout = sparse)', tbl, tbl);
  EXECUTE format('ANALYZE %s', tbl);
END $$;
SELECT make_sparse('ds' || i, (ARRAY[0, 0.01, 0.2])[1 + i % 3], (ARRAY[1, 3000, 20000])[1 + i / 3 % 3])
  FROM generate_series(0, 5) i;
SELECT sum(diff_answers('ds' || i, 60)) AS sparse_mismatches_after_build FROM generate_series(0, 5) i;
DO $$ BEGIN
  FOR i IN 0..5 LOOP
    EXECUTE format('INSERT INTO ds%s (k) SELECT CASE WHEN random() < 0.5 THEN 2000 + g / 10
        ELSE (random() * 2400 - 200)::int8 END FROM generate_series(1, 2000) g', i);
    EXECUTE format('DELETE FROM ds%s WHERE random() < 0.3', i);
  END LOOP;
END $$;
SELECT sum(diff_answers('ds' || i, 60)) AS sparse_mismatches_after_dml FROM generate_series(0, 5) i;
VACUUM ds0, ds1, ds2, ds3, ds4, ds5;
DO $$ BEGIN
  FOR i IN 0..5 LOOP
    EXECUTE format('INSERT INTO ds%s (k) SELECT (random() * 2000)::int8 FROM generate_series(1, 500)', i);
  END LOOP;
END $$;
SELECT sum(diff_answers('ds' || i, 60)) AS sparse_mismatches_after_vacuum FROM generate_series(0, 5) i;
SELECT bool_and(omendb_index_verify(('ds' || i || '_k')::regclass) >= 0) AS sparse_verified FROM generate_series(0, 5) i;
DROP TABLE ds0, ds1, ds2, ds3, ds4, ds5;
DROP FUNCTION diff_answers, make_table, make_sparse;
