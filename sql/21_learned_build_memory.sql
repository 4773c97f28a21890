-- CREATE INDEX, REINDEX and re-training within maintenance_work_mem. At its minimum (1MB) the
-- (key, TID) pairs of 200K rows do not fit and go through an external tuplesort (the DEBUG1 line
-- says which path ran); the index gets the same leaves as one built in memory, verifies, and
-- answers like a sequential scan.
SET log_temp_files = -1;
CREATE TABLE bm (k int8, v int);
-- Random keys with duplicates, a run of 5000 equal keys spanning leaves, and NULLs (three null pages).
INSERT INTO bm
SELECT CASE WHEN i % 67 = 0 THEN NULL
            WHEN i % 40 = 1 THEN 42
            ELSE hashint8(i) % 1000000 END, i
FROM generate_series(1, 200000) i;
SET client_min_messages = debug1;  -- (log_temp_files is off: the LOG line names a PID)
SET maintenance_work_mem = '64MB';
CREATE INDEX bm_mem ON bm USING learned (k);
SET maintenance_work_mem = '1MB';
CREATE INDEX bm_ext ON bm USING learned (k);
RESET client_min_messages;
-- Same leaves and null pages; the streamed model ends a piece at each chunk of 32768 points.
SELECT a.keys = b.keys AS keys, a.nulls = b.nulls AS nulls, a.leaf_pages = b.leaf_pages AS leaves,
       a.null_pages = b.null_pages AS null_pages, a.null_pages, b.model_epsilon <= 64 AS eps,
       b.segments BETWEEN a.segments AND a.segments + 7 AS segments,
       abs(a.mean_error - b.mean_error) < 4 AS mean_error
FROM omendb_index_stats('bm_mem') a, omendb_index_stats('bm_ext') b;
SELECT omendb_index_verify('bm_mem') AS mem, omendb_index_verify('bm_ext') AS ext, count(*) FROM bm;
DROP INDEX bm_mem;
ANALYZE bm;
EXPLAIN (COSTS OFF) SELECT * FROM bm WHERE k = 42;
SELECT learned_same('SELECT k, v FROM bm WHERE k = 42') AS eq,
       learned_same('SELECT k, v FROM bm WHERE k BETWEEN 1000 AND 9000') AS range,
       learned_same('SELECT k, v FROM bm WHERE k > 995000 OR k < -995000') AS tails,
       learned_same('SELECT k FROM bm WHERE k >= 0 ORDER BY k LIMIT 300', true, false) AS ordered,
       learned_same('SELECT k FROM bm WHERE k < 500000 ORDER BY k DESC LIMIT 300', true, false) AS backward,
       learned_same('SELECT v FROM bm WHERE k IS NULL') AS nulls,
       learned_same('SELECT k, v FROM bm WHERE k = ANY(ARRAY[42, 7, -3, 123456])') AS any;

-- Inserts in the key range, then a re-train and a REINDEX, both at 1MB.
INSERT INTO bm SELECT hashint8(i) % 1000000, i FROM generate_series(200001, 230000) i;
SET client_min_messages = debug1;  -- (log_temp_files is off: the LOG line names a PID)
SELECT omendb_index_retrain('bm_ext');
REINDEX INDEX bm_ext;
RESET client_min_messages;
SELECT omendb_index_verify('bm_ext') = (SELECT count(*) FROM bm) AS verified;
SELECT learned_same('SELECT k, v FROM bm WHERE k BETWEEN -20000 AND 20000') AS range,
       learned_same('SELECT k, v FROM bm WHERE k = 42') AS eq;
-- Re-train of the REINDEXed index after more inserts.
INSERT INTO bm SELECT hashint8(i) % 1000000, i FROM generate_series(230001, 240000) i;
SELECT omendb_index_retrain('bm_ext');
SELECT generation, omendb_index_verify('bm_ext') = (SELECT count(*) FROM bm) AS verified
FROM omendb_index_stats('bm_ext');
SELECT learned_same('SELECT k, v FROM bm WHERE k BETWEEN 500000 AND 520000') AS range;
DROP TABLE bm;

-- Pairs already in key order (a table loaded in key order) skip the sort: beyond the budget they
-- go to a temporary file; one pair out of order moves them into the tuplesort.
CREATE TABLE bs (k int8);
INSERT INTO bs SELECT CASE WHEN i % 50 = 0 THEN NULL ELSE i / 3 END FROM generate_series(1, 150000) i;
SET client_min_messages = debug1;
CREATE INDEX bs_ext ON bs USING learned (k);
SET maintenance_work_mem = '64MB';
CREATE INDEX bs_mem ON bs USING learned (k);
SET maintenance_work_mem = '1MB';
INSERT INTO bs VALUES (7);  -- the last pair of the heap scan is out of order
CREATE INDEX bs_late ON bs USING learned (k);
RESET client_min_messages;
SELECT a.leaf_pages = b.leaf_pages AND a.keys = b.keys AND a.nulls = b.nulls AS same_leaves,
       omendb_index_verify('bs_ext') = (SELECT count(*) FROM bs) AND omendb_index_verify('bs_late') = (SELECT count(*) FROM bs) AS verified
FROM omendb_index_stats('bs_mem') a, omendb_index_stats('bs_ext') b;
DROP INDEX bs_mem, bs_ext;
SELECT learned_same('SELECT k FROM bs WHERE k BETWEEN 0 AND 10') AS low,
       learned_same('SELECT k FROM bs WHERE k > 49000 ORDER BY k', true, false) AS high;
RESET maintenance_work_mem;
RESET log_temp_files;
DROP TABLE bs;
