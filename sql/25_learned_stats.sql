-- The statistics views a monitoring dashboard reads count learned index scans as they count
-- btree's: pg_stat_user_indexes (idx_scan, idx_tup_read, idx_tup_fetch) and
-- pg_statio_user_indexes, for index, index-only, bitmap and parallel scans. Caught: idx_scan stayed
-- 0 after any number of learned scans, so the standard "unused indexes" query (idx_scan = 0) told
-- users to drop every learned index. The same query runs through a learned index on k and a btree
-- on k2 (= k) of the same table; their counters must move alike. (btree's also count the planner's
-- probes of its end values for range estimates: get_actual_variable_range reads btrees only.)
CREATE EXTENSION IF NOT EXISTS omendb;
CREATE TABLE ls (k int8, k2 int8, pad text);
INSERT INTO ls SELECT g, g, repeat('x', 40) FROM generate_series(1, 50000) g;
CREATE INDEX ls_learned ON ls USING learned (k);
CREATE INDEX ls_btree ON ls (k2);
VACUUM ANALYZE ls;
-- counters of both indexes, zeroed
CREATE FUNCTION ls_reset() RETURNS void LANGUAGE sql AS $$
  SELECT pg_stat_reset_single_table_counters('ls_learned'::regclass);
  SELECT pg_stat_reset_single_table_counters('ls_btree'::regclass);
$$;
-- learned's counters next to btree's (after pg_stat_force_next_flush() in an earlier statement)
CREATE VIEW ls_counters AS
SELECT s.indexrelname AS idx, s.idx_scan, s.idx_tup_read, s.idx_tup_fetch,
       io.idx_blks_read + io.idx_blks_hit > 0 AS blocks_counted
FROM pg_stat_user_indexes s JOIN pg_statio_user_indexes io USING (indexrelid)
WHERE s.relname = 'ls' ORDER BY s.indexrelname DESC;
SET enable_seqscan = off;
-- plain index scans: a point, a range, ORDER BY ... DESC LIMIT
SET enable_bitmapscan = off;
SET enable_indexonlyscan = off;
EXPLAIN (COSTS OFF) SELECT pad FROM ls WHERE k BETWEEN 100 AND 199;
SELECT ls_reset();
SELECT count(pad) FROM ls WHERE k = 77;
SELECT count(pad) FROM ls WHERE k2 = 77;
SELECT count(pad) FROM ls WHERE k BETWEEN 100 AND 199;
SELECT count(pad) FROM ls WHERE k2 BETWEEN 100 AND 199;
SELECT sum(k) FROM (SELECT k FROM ls ORDER BY k DESC LIMIT 5) s;
SELECT sum(k2) FROM (SELECT k2 FROM ls ORDER BY k2 DESC LIMIT 5) s;
SELECT pg_stat_force_next_flush();
SELECT * FROM ls_counters;
-- index-only scans (all-visible: no heap fetch)
RESET enable_indexonlyscan;
EXPLAIN (COSTS OFF) SELECT k FROM ls WHERE k BETWEEN 1000 AND 1499;
SELECT ls_reset();
SELECT count(k) FROM ls WHERE k BETWEEN 1000 AND 1499;
SELECT count(k2) FROM ls WHERE k2 BETWEEN 1000 AND 1499;
SELECT pg_stat_force_next_flush();
SELECT * FROM ls_counters;
-- bitmap scans
SET enable_indexscan = off;
SET enable_indexonlyscan = off;
RESET enable_bitmapscan;
EXPLAIN (COSTS OFF) SELECT pad FROM ls WHERE k BETWEEN 2000 AND 2999;
SELECT ls_reset();
SELECT count(pad) FROM ls WHERE k BETWEEN 2000 AND 2999;
SELECT count(pad) FROM ls WHERE k2 BETWEEN 2000 AND 2999;
SELECT count(pad) FROM ls WHERE k = ANY ('{5,6,7,8}');
SELECT count(pad) FROM ls WHERE k2 = ANY ('{5,6,7,8}');
SELECT pg_stat_force_next_flush();
SELECT idx, idx_tup_read, idx_tup_fetch, blocks_counted, idx_scan >= 2 AS scans_counted FROM ls_counters;
RESET enable_indexscan;
RESET enable_indexonlyscan;
-- parallel index scans: each participant counts its start, as in btree (two workers, no leader)
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_index_scan_size = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SET enable_bitmapscan = off;
SET enable_indexonlyscan = off;
SET cpu_tuple_cost = 1;
SET cpu_index_tuple_cost = 1;
EXPLAIN (COSTS OFF) SELECT count(pad) FROM ls WHERE k > 100;
SELECT ls_reset();
SELECT count(pad) FROM ls WHERE k > 100;
SELECT count(pad) FROM ls WHERE k2 > 100;
SELECT pg_stat_force_next_flush();
SELECT idx, idx_scan >= 1 AS scans_counted, idx_tup_read, idx_tup_fetch FROM ls_counters;
RESET ALL;
-- the "unused indexes" query of a monitoring dashboard does not list the learned index
SELECT count(*) AS learned_listed_unused FROM pg_stat_user_indexes WHERE indexrelname = 'ls_learned' AND idx_scan = 0;
DROP TABLE ls CASCADE;
DROP FUNCTION ls_reset();
