-- A learned index the way a real table carries one: beside three btrees, under every maintenance
-- command a DBA runs (VACUUM with each option, parallel too, VACUUM FULL, CLUSTER, REINDEX
-- [CONCURRENTLY], SET TABLESPACE), checked after each one against the btrees and a sequential
-- scan. Caught: a plain VACUUM failed ("cannot assign XIDs during a parallel operation") once two
-- indexes were big enough for parallel index vacuuming and the learned index wanted a re-train.
CREATE EXTENSION IF NOT EXISTS omendb;
CREATE TABLE lm (id int8, k int8, v text);
SELECT setseed(0.24);
INSERT INTO lm SELECT g, g, md5(g::text) FROM generate_series(1, 60000) g;
CREATE INDEX lm_k_learned ON lm USING learned (k) WITH (fillfactor = 100);
CREATE INDEX lm_id_bt ON lm (id);
CREATE INDEX lm_k_bt ON lm (k);
CREATE INDEX lm_v_bt ON lm (v);
-- lm_check(): the learned index verifies, holds one entry per row (more after INDEX_CLEANUP OFF,
-- which leaves dead rows' entries for the next VACUUM: `exact` false), and answers as the btree on k
-- and as a sequential scan do; pg_index still says valid, ready and live.
CREATE FUNCTION lm_check(exact boolean DEFAULT true) RETURNS text LANGUAGE plpgsql AS $$
DECLARE rows bigint; verified bigint; flags text;
BEGIN
  SELECT count(*) INTO rows FROM lm WHERE k IS NOT NULL;
  verified := omendb_index_verify('lm_k_learned');
  SELECT string_agg(format('%s:%s%s%s', c.relname, i.indisvalid::int, i.indisready::int, i.indislive::int), ' ' ORDER BY c.relname)
    INTO flags FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'lm'::regclass;
  RETURN format('verified=%s rows=%s same=%s %s', CASE WHEN exact THEN verified = rows ELSE verified > rows END,
                rows = (SELECT count(*) FROM lm),
                learned_same('SELECT id, k FROM lm WHERE k BETWEEN 1000 AND 1400 OR k > 59950')
                AND learned_same('SELECT k FROM lm ORDER BY k DESC LIMIT 20', true),
                flags);
END $$;
-- inserts into the middle (overflow chains long enough that VACUUM re-trains), deletes
INSERT INTO lm SELECT 60000 + g, floor(random() * 60000)::int8, md5(g::text) FROM generate_series(1, 40000) g;
DELETE FROM lm WHERE id % 10 = 0;
SELECT overflow_pages >= 8 AND overflow_pages * 4 >= leaf_pages + edge_leaves AS vacuum_will_retrain
FROM omendb_index_stats('lm_k_learned');
SELECT generation AS gen_before FROM omendb_index_stats('lm_k_learned') \gset
-- every index above the parallel threshold: VACUUM vacuums them in parallel, the leader in
-- parallel mode (the bug's setting), workers possibly vacuuming the learned index
SET min_parallel_index_scan_size = 0;
SET max_parallel_maintenance_workers = 2;
VACUUM lm;
SELECT generation > :gen_before AS retrained_in_parallel_vacuum, overflow_pages = 0 AS folded
FROM omendb_index_stats('lm_k_learned');
SELECT lm_check();
-- each VACUUM option, with fresh dead rows before each
CREATE FUNCTION lm_churn(n int) RETURNS void LANGUAGE sql AS $$
  UPDATE lm SET k = k + 1 WHERE id % 97 = n;
  DELETE FROM lm WHERE id % 89 = n;
  INSERT INTO lm SELECT 200000 * n + g, floor(random() * 70000)::int8, 'x' FROM generate_series(1, 3000) g;
$$;
SELECT lm_churn(1);
VACUUM (PARALLEL 2) lm;
SELECT lm_check();
SELECT lm_churn(2);
VACUUM (PARALLEL 0) lm;
SELECT lm_check();
SELECT lm_churn(3);
VACUUM (PARALLEL 1, INDEX_CLEANUP ON) lm;
SELECT lm_check();
SELECT lm_churn(4);
VACUUM (INDEX_CLEANUP OFF) lm;
SELECT lm_check(exact => false);
SELECT lm_churn(5);
VACUUM (INDEX_CLEANUP AUTO) lm;
SELECT lm_check();
SELECT lm_churn(6);
VACUUM (TRUNCATE false) lm;
SELECT lm_check();
SELECT lm_churn(7);
VACUUM (FREEZE) lm;
SELECT lm_check();
SELECT lm_churn(8);
VACUUM (DISABLE_PAGE_SKIPPING, VERBOSE false) lm;
SELECT lm_check();
SELECT lm_churn(9);
VACUUM (PROCESS_TOAST false, SKIP_LOCKED) lm;
SELECT lm_check();
SELECT lm_churn(10);
VACUUM (PARALLEL 2, FREEZE, ANALYZE) lm;
SELECT lm_check();
SELECT lm_churn(11);
VACUUM ANALYZE lm;
SELECT lm_check();
-- a VACUUM that must not re-train (few overflow pages) still succeeds in parallel, and counts
SELECT lm_churn(12);
VACUUM (PARALLEL 2) lm;
SELECT reltuples = (SELECT count(*) FROM lm) AS reltuples_exact FROM pg_class WHERE relname = 'lm_k_learned';
SELECT lm_check();
-- rewrites: every index rebuilt beside the learned one
VACUUM FULL lm;
SELECT lm_check();
CLUSTER lm USING lm_id_bt;
SELECT lm_check();
REINDEX INDEX lm_k_learned;
SELECT lm_check();
REINDEX TABLE lm;
SELECT lm_check();
REINDEX INDEX CONCURRENTLY lm_k_learned;
SELECT lm_check();
REINDEX TABLE CONCURRENTLY lm;
SELECT lm_check();
-- moved to another tablespace and back, the index alone and the whole table
SET allow_in_place_tablespaces = true;
CREATE TABLESPACE lm_space LOCATION '';
ALTER INDEX lm_k_learned SET TABLESPACE lm_space;
SELECT lm_check();
ALTER TABLE lm SET TABLESPACE lm_space;
SELECT c.relname, t.spcname FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace
WHERE c.relname IN ('lm', 'lm_k_learned') ORDER BY 1;
SELECT lm_churn(13);
VACUUM (PARALLEL 2) lm;
SELECT lm_check();
ALTER INDEX lm_k_learned SET TABLESPACE pg_default;
ALTER TABLE lm SET TABLESPACE pg_default;
SELECT lm_check();
DROP TABLESPACE lm_space;
RESET allow_in_place_tablespaces;
-- re-training is a write: refused in a read-only transaction, as DDL is
BEGIN READ ONLY;
SELECT omendb_index_retrain('lm_k_learned');
ROLLBACK;
RESET min_parallel_index_scan_size;
RESET max_parallel_maintenance_workers;
DROP TABLE lm;
DROP FUNCTION lm_check(boolean), lm_churn(int);
