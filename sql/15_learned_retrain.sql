-- Re-training into a new generation: triggered by a long overflow chain on insert, by VACUUM when
-- overflow pages pile up, or by omendb_index_retrain(); scans that started on the old generation
-- keep reading it; the retired pages are freed once no snapshot can read them.
CREATE EXTENSION IF NOT EXISTS omendb;
CREATE TABLE lr (id serial, k int4);
INSERT INTO lr (k) SELECT i FROM generate_series(1, 5000) i;
CREATE INDEX lr_k ON lr USING learned (k) WITH (fillfactor = 100);
SELECT generation, overflow_pages FROM omendb_index_stats('lr_k');
-- 20000 equal keys: the chain of one leaf passes the bound and the insert re-trains
INSERT INTO lr (k) SELECT 2500 FROM generate_series(1, 20000);
SELECT generation > 1 AS retrained FROM omendb_index_stats('lr_k');
SELECT omendb_index_verify('lr_k');
SELECT count(*) FROM lr WHERE k = 2500;
SELECT learned_same('SELECT id, k FROM lr WHERE k BETWEEN 2490 AND 2510');
-- manual re-train: all overflow folded into leaves
SELECT omendb_index_retrain('lr_k');
SELECT overflow_pages, keys FROM omendb_index_stats('lr_k');
SELECT omendb_index_verify('lr_k');
SELECT learned_same('SELECT id, k FROM lr WHERE k >= 2499 AND k < 2502');
-- a cursor opened before a re-train finishes on the old generation with the right answer
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT k FROM lr WHERE k BETWEEN 4990 AND 5000 ORDER BY k;
BEGIN;
DECLARE c CURSOR FOR SELECT k FROM lr WHERE k BETWEEN 4990 AND 5000 ORDER BY k;
FETCH 3 FROM c;
SELECT omendb_index_retrain('lr_k');
FETCH ALL FROM c;
-- the retired generation is still readable by this transaction: not freed yet
SELECT omendb_index_retrain('lr_k');
COMMIT;
SELECT retired_pages > 0 AS old_generation_kept FROM omendb_index_stats('lr_k');
RESET enable_seqscan;
RESET enable_bitmapscan;
-- VACUUM frees the retired pages once no snapshot needs them; later inserts reuse them
VACUUM lr;
SELECT retired_pages = 0 AND free_pages > 0 AS freed FROM omendb_index_stats('lr_k');
SELECT omendb_index_verify('lr_k');
-- VACUUM re-trains when overflow chains hold many pages
INSERT INTO lr (k) SELECT (i * 7) % 5000 FROM generate_series(1, 12000) i;
SELECT overflow_pages >= 8 AS overflowing FROM omendb_index_stats('lr_k');
VACUUM lr;
SELECT overflow_pages FROM omendb_index_stats('lr_k');
SELECT omendb_index_verify('lr_k');
SELECT learned_same('SELECT id, k FROM lr WHERE k < 100 OR k = 2500 OR k > 4900');
-- options changed with ALTER INDEX apply at the next re-train
ALTER INDEX lr_k SET (error_bound = 4, fillfactor = 50);
SELECT omendb_index_retrain('lr_k');
SELECT error_bound FROM omendb_index_stats('lr_k');
SELECT omendb_index_verify('lr_k');
SELECT learned_same('SELECT id, k FROM lr WHERE k BETWEEN 1000 AND 1100');
SELECT omendb_index_retrain('lr');
DROP TABLE lr;
