-- Inserts (leaf gaps, overflow chains, many equal keys), deletes + VACUUM, and the DDL that
-- rebuilds or empties an index: answers keep equal a sequential scan's and verify passes.
CREATE EXTENSION IF NOT EXISTS omendb;
CREATE TABLE ld (id serial, k int8);
INSERT INTO ld (k) SELECT i * 10 FROM generate_series(1, 10000) i;
CREATE INDEX ld_k ON ld USING learned (k) WITH (fillfactor = 50, error_bound = 16);
SELECT error_bound, leaf_pages, overflow_pages FROM omendb_index_stats('ld_k');
-- inserts between, below and above every built key. The built keys lie in heap order, so leaves
-- store TIDs relative to their first block (format 4): an insert's TID, in a new heap block, fits
-- a leaf's gap only within its block range; the others go to overflow pages
INSERT INTO ld (k) SELECT i * 10 + 5 FROM generate_series(0, 10000, 3) i;
SELECT overflow_pages FROM omendb_index_stats('ld_k');
-- the extreme keys are far outside the packed key ranges of the first and last leaf
-- (docs/format.md): the smallest goes to an overflow page of leaf 0, the largest opens an edge leaf
INSERT INTO ld (k) VALUES (-9223372036854775808), (9223372036854775807), (NULL), (NULL);
SELECT overflow_pages FROM omendb_index_stats('ld_k');
SELECT omendb_index_verify('ld_k');
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM ld WHERE k = 15;
SELECT learned_same('SELECT id, k FROM ld WHERE k = 15');
SELECT learned_same('SELECT id, k FROM ld WHERE k BETWEEN 0 AND 1000');
SELECT learned_same('SELECT id, k FROM ld WHERE k < 0 OR k > 99990');
SELECT learned_same('SELECT id FROM ld WHERE k IS NULL');
-- tens of thousands of equal keys: overflow chains of one leaf
INSERT INTO ld (k) SELECT 5005 FROM generate_series(1, 30000);
SELECT generation, overflow_pages >= 16 AS chained FROM omendb_index_stats('ld_k');
SELECT omendb_index_verify('ld_k');
SELECT count(*) FROM ld WHERE k = 5005;
SELECT learned_same('SELECT id FROM ld WHERE k BETWEEN 5000 AND 5010');
SELECT k FROM ld WHERE k > 5000 ORDER BY k LIMIT 3;
SELECT k FROM ld WHERE k < 5010 ORDER BY k DESC LIMIT 3;
-- deletes + VACUUM remove index entries; emptied overflow pages are freed and reused
DELETE FROM ld WHERE k = 5005;
DELETE FROM ld WHERE k % 20 = 0;
VACUUM (INDEX_CLEANUP ON) ld;
SELECT omendb_index_verify('ld_k');
SELECT keys, free_pages > 0 AS freed FROM omendb_index_stats('ld_k');
SELECT learned_same('SELECT id, k FROM ld WHERE k BETWEEN 4000 AND 6000');
SELECT learned_same('SELECT id, k FROM ld WHERE k >= 5005');
SELECT count(*) FROM ld WHERE k = 5005;
INSERT INTO ld (k) SELECT 5005 FROM generate_series(1, 3000);
SELECT omendb_index_verify('ld_k');
SELECT free_pages, overflow_pages FROM omendb_index_stats('ld_k');
SELECT count(*) FROM ld WHERE k = 5005;
-- REINDEX rebuilds: no overflow left
REINDEX INDEX ld_k;
SELECT overflow_pages, keys FROM omendb_index_stats('ld_k');
SELECT omendb_index_verify('ld_k');
SELECT learned_same('SELECT id, k FROM ld WHERE k BETWEEN 4000 AND 6000');
-- VACUUM FULL and CLUSTER-free rewrite
VACUUM FULL ld;
SELECT omendb_index_verify('ld_k');
SELECT learned_same('SELECT id, k FROM ld WHERE k > 99000');
-- TRUNCATE empties the index; it keeps working
TRUNCATE ld;
SELECT keys, nulls FROM omendb_index_stats('ld_k');
SELECT * FROM ld WHERE k = 10;
INSERT INTO ld (k) SELECT i FROM generate_series(1, 2000) i;
SELECT omendb_index_verify('ld_k');
SELECT learned_same('SELECT id, k FROM ld WHERE k BETWEEN 100 AND 120');
-- CREATE INDEX CONCURRENTLY
CREATE INDEX CONCURRENTLY ld_k2 ON ld USING learned (k);
SELECT omendb_index_verify('ld_k2');
DROP INDEX ld_k;
REINDEX INDEX CONCURRENTLY ld_k2;
SELECT omendb_index_verify('ld_k2');
EXPLAIN (COSTS OFF) SELECT * FROM ld WHERE k = 7;
SELECT learned_same('SELECT id, k FROM ld WHERE k BETWEEN 7 AND 9');
DROP TABLE ld;

-- TIDs relative to a leaf's first block: the same keys in heap order make a smaller index than in
-- a random heap order, which spans the whole heap in every leaf; inserts in the heap-ordered one
-- land in gaps or overflow pages; both answer alike, verify, and survive a re-train
CREATE TABLE lr_seq (k int8, pad int8);
CREATE TABLE lr_rand (k int8, pad int8);
INSERT INTO lr_seq SELECT i, i FROM generate_series(1, 200000) i;
INSERT INTO lr_rand SELECT i, i FROM generate_series(1, 200000) i ORDER BY hashint4(i);
CREATE INDEX lr_seq_k ON lr_seq USING learned (k);
CREATE INDEX lr_rand_k ON lr_rand USING learned (k);
SELECT s.leaf_pages::float8 / r.leaf_pages < 0.9 AS heap_order_smaller
FROM omendb_index_stats('lr_seq_k') s, omendb_index_stats('lr_rand_k') r;
INSERT INTO lr_seq SELECT i * 37 % 200000, -i FROM generate_series(1, 5000) i;
INSERT INTO lr_rand SELECT i * 37 % 200000, -i FROM generate_series(1, 5000) i;
SELECT omendb_index_verify('lr_seq_k') = 205000 AS seq_ok, omendb_index_verify('lr_rand_k') = 205000 AS rand_ok;
SET enable_seqscan = off;
SELECT (SELECT array_agg(pad ORDER BY pad) FROM lr_seq WHERE k BETWEEN 1000 AND 1100) =
       (SELECT array_agg(pad ORDER BY pad) FROM lr_rand WHERE k BETWEEN 1000 AND 1100) AS same_range,
       (SELECT count(*) FROM lr_seq WHERE k = 37) AS seq_37;
SELECT omendb_index_retrain('lr_seq_k') IS NOT NULL AS retrained;
SELECT omendb_index_verify('lr_seq_k') = 205000 AS seq_ok_after, overflow_pages
FROM omendb_index_stats('lr_seq_k');
SELECT count(*) FROM lr_seq WHERE k = 37;
RESET enable_seqscan;
DROP TABLE lr_seq, lr_rand;

-- a key scale: whole-second timestamps (4 rows per second) store keys divided by 10^6, so their
-- index is smaller than the same keys half a microsecond off the whole seconds; keys between the
-- stored ones (bounds of ranges, off-scale inserts into overflow pages, off-scale keys appended at
-- the end) answer alike through index, bitmap and ordered scans, verify, and survive a re-train
CREATE TABLE ks (k timestamptz, v int8);
CREATE TABLE ks_us (k timestamptz, v int8);
INSERT INTO ks SELECT '2020-01-01'::timestamptz + ((g - 1) / 4) * interval '1 second', g
FROM generate_series(1, 100000) g;
INSERT INTO ks_us SELECT k + CASE WHEN v % 2 = 0 THEN interval '1 microsecond' ELSE interval '0' END, v FROM ks;
CREATE INDEX ks_k ON ks USING learned (k);
CREATE INDEX ks_us_k ON ks_us USING learned (k);
SELECT s.leaf_pages::float8 / u.leaf_pages < 0.8 AS scaled_smaller
FROM omendb_index_stats('ks_k') s, omendb_index_stats('ks_us_k') u;
INSERT INTO ks VALUES ('2020-01-01 01:00:00.5', -1), ('2020-01-01 01:00:00.000001', -2),
                      ('2020-01-01 00:00:00.25', -3), ('2030-01-01 00:00:00.7', -4);
SELECT omendb_index_verify('ks_k') = 100004 AS verified, overflow_pages > 0 AS off_scale_overflow
FROM omendb_index_stats('ks_k');
SELECT learned_same($$SELECT v FROM ks WHERE k = '2020-01-01 01:00:00'$$),
       learned_same($$SELECT v FROM ks WHERE k = '2020-01-01 01:00:00.5'$$),
       learned_same($$SELECT v FROM ks WHERE k BETWEEN '2020-01-01 00:59:59.5' AND '2020-01-01 01:00:01.2'$$),
       learned_same($$SELECT v FROM ks WHERE k > '2020-01-01 01:00:00.000001' AND k < '2020-01-01 01:00:02'$$),
       learned_same($$SELECT v FROM ks WHERE k >= '2020-01-01 00:00:00.1' AND k <= '2020-01-01 00:00:01'$$),
       learned_same($$SELECT v FROM ks WHERE k > '2029-12-31'$$);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT k, v FROM ks WHERE k >= '2020-01-01 00:59:59.9' ORDER BY k LIMIT 7;
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT omendb_index_retrain('ks_k') IS NOT NULL AS retrained;
SELECT omendb_index_verify('ks_k') = 100004 AS verified_after, overflow_pages FROM omendb_index_stats('ks_k');
SELECT learned_same($$SELECT v FROM ks WHERE k BETWEEN '2020-01-01 00:59:59.5' AND '2020-01-01 01:00:01.2'$$);
DROP TABLE ks, ks_us;

-- unlogged table (init fork written by ambuildempty)
CREATE UNLOGGED TABLE lu (k int4);
CREATE INDEX lu_k ON lu USING learned (k);
INSERT INTO lu SELECT i FROM generate_series(1, 3000) i;
SELECT omendb_index_verify('lu_k');
SELECT learned_same('SELECT k FROM lu WHERE k BETWEEN 10 AND 20');
DROP TABLE lu;

-- partitioned table: one learned index per partition
CREATE TABLE lp (k int4, v text) PARTITION BY RANGE (k);
CREATE TABLE lp1 PARTITION OF lp FOR VALUES FROM (0) TO (1000);
CREATE TABLE lp2 PARTITION OF lp FOR VALUES FROM (1000) TO (2000);
INSERT INTO lp SELECT i, 'v' || i FROM generate_series(0, 1999) i;
CREATE INDEX lp_k ON lp USING learned (k);
ANALYZE lp;
EXPLAIN (COSTS OFF) SELECT * FROM lp WHERE k IN (5, 1500);
SELECT learned_same('SELECT * FROM lp WHERE k IN (5, 1500) OR k BETWEEN 990 AND 1010');
SELECT omendb_index_verify('lp1_k_idx'), omendb_index_verify('lp2_k_idx');
DROP TABLE lp;
RESET ALL;
-- keys appended in order to a full leaf's overflow page come back merged in key order, forward
-- and backward (regression: the overflow page's own sorted prefix was taken as ordered against
-- the leaf, so 15, 16, 17 came after 50)
CREATE TABLE lo (k int8);
INSERT INTO lo SELECT i * 10 FROM generate_series(1, 3000) i;
CREATE INDEX lo_k ON lo USING learned (k) WITH (fillfactor = 100);
INSERT INTO lo VALUES (15), (16), (17);
SELECT overflow_pages FROM omendb_index_stats('lo_k');
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT array_agg(k) FROM (SELECT k FROM lo WHERE k < 60 ORDER BY k) s;
SELECT array_agg(k) FROM (SELECT k FROM lo WHERE k < 60 ORDER BY k DESC) s;
SELECT omendb_index_verify('lo_k');
DROP TABLE lo;
RESET ALL;
