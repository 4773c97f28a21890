-- Helpers shared by the learned-index tests that follow (pg_regress runs the files in order in one
-- database; run this file first when running a later one alone).
--
-- learned_same(q, ordered, bitmap): runs q with sequential scans off (so through the indexes;
-- bitmap scans allowed or not per `bitmap`, the session's setting when NULL) and then with index,
-- index-only and bitmap scans off (a sequential scan), and compares the two answers: in order when
-- `ordered`, as multisets otherwise. On a difference it raises NOTICEs with both answers. The
-- planner settings it touches are restored to what they were.
CREATE FUNCTION learned_same(q text, ordered boolean DEFAULT false, bitmap boolean DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  a text; b text; agg text;
  gucs text[] := ARRAY['enable_seqscan', 'enable_indexscan', 'enable_indexonlyscan', 'enable_bitmapscan'];
  saved text[] := ARRAY[]::text[];
  g text;
BEGIN
  FOREACH g IN ARRAY gucs LOOP saved := saved || current_setting(g); END LOOP;
  agg := CASE WHEN ordered THEN 'string_agg(s::text, '';'')'
              ELSE 'string_agg(s::text, '';'' ORDER BY s::text)' END;
  PERFORM set_config('enable_seqscan', 'off', true);
  PERFORM set_config('enable_indexscan', 'on', true);
  IF bitmap IS NOT NULL THEN
    PERFORM set_config('enable_bitmapscan', CASE WHEN bitmap THEN 'on' ELSE 'off' END, true);
  END IF;
  EXECUTE format('SELECT %s FROM (%s) s', agg, q) INTO a;
  PERFORM set_config('enable_seqscan', 'on', true);
  PERFORM set_config('enable_indexscan', 'off', true);
  PERFORM set_config('enable_indexonlyscan', 'off', true);
  PERFORM set_config('enable_bitmapscan', 'off', true);
  EXECUTE format('SELECT %s FROM (%s) s', agg, q) INTO b;
  FOR i IN 1..array_length(gucs, 1) LOOP PERFORM set_config(gucs[i], saved[i], true); END LOOP;
  IF a IS DISTINCT FROM b THEN
    RAISE NOTICE 'index: %', left(a, 300);
    RAISE NOTICE 'seq:   %', left(b, 300);
  END IF;
  RETURN a IS NOT DISTINCT FROM b;
END $$;
-- tiered_same(q, t, twin): q ($T names the table) over tiered table t through indexes, then by a
-- sequential scan, and over its heap twin; true when all three answer the same multiset (NOTICEs
-- with the answers otherwise). Planner settings are restored.
CREATE FUNCTION tiered_same(q text, t regclass, twin regclass) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE a text; b text; c text;
BEGIN
  PERFORM set_config('enable_seqscan', 'off', true);
  EXECUTE format('SELECT string_agg(s::text, '';'' ORDER BY s::text) FROM (%s) s', replace(q, '$T', t::text)) INTO a;
  PERFORM set_config('enable_seqscan', 'on', true);
  PERFORM set_config('enable_indexscan', 'off', true);
  PERFORM set_config('enable_indexonlyscan', 'off', true);
  PERFORM set_config('enable_bitmapscan', 'off', true);
  EXECUTE format('SELECT string_agg(s::text, '';'' ORDER BY s::text) FROM (%s) s', replace(q, '$T', t::text)) INTO b;
  EXECUTE format('SELECT string_agg(s::text, '';'' ORDER BY s::text) FROM (%s) s', replace(q, '$T', twin::text)) INTO c;
  PERFORM set_config('enable_indexscan', 'on', true);
  PERFORM set_config('enable_indexonlyscan', 'on', true);
  PERFORM set_config('enable_bitmapscan', 'on', true);
  IF a IS DISTINCT FROM c OR b IS DISTINCT FROM c THEN
    RAISE NOTICE 'index: %', left(a, 150);
    RAISE NOTICE 'seq:   %', left(b, 150);
    RAISE NOTICE 'heap:  %', left(c, 150);
  END IF;
  RETURN a IS NOT DISTINCT FROM c AND b IS NOT DISTINCT FROM c;
END $$;
-- tiered_move_all(t, n): moves every row of tiered table t (n rows) cold, again while a concurrent
-- snapshot (another test's, autovacuum's) keeps some from being visible to all; up to 10 s.
CREATE FUNCTION tiered_move_all(t regclass, n bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..100 LOOP
    PERFORM omendb_tier_move(t, interval '0');
    EXIT WHEN (SELECT cold_rows FROM omendb_tier_stats(t)) = n;
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
-- learned_mismatches(qs): how many of the queries qs answer otherwise through the indexes than by
-- a sequential scan (learned_same: queries with ORDER BY compared in order, about 40% of them with
-- bitmap scans allowed); a NOTICE names each.
CREATE FUNCTION learned_mismatches(qs text[]) RETURNS int LANGUAGE plpgsql AS $$
DECLARE bad int := 0; q text;
BEGIN
  FOREACH q IN ARRAY qs LOOP
    CONTINUE WHEN learned_same(q, q LIKE '%ORDER BY%', random() < 0.4);
    bad := bad + 1;
    RAISE NOTICE 'mismatch on %', q;
  END LOOP;
  RETURN bad;
END $$;
