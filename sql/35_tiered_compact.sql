-- Compaction of cold batches. VACUUM's fold stores a batch again when at least 1/8 of its rows are
-- deleted for every snapshot and still hold values, and that saves at least 1/16 of its payload:
-- those rows become NULL where that makes a column smaller (here the text column) and keep their
-- row numbers (so their TIDs: no index entry changes). Fewer such rows leave the payload as it is. Every step is checked against a heap twin through
-- index, bitmap and sequential scans (projected and whole rows) and omendb_tier_verify.
CREATE EXTENSION IF NOT EXISTS omendb;
CREATE TABLE tc (id int8, ts timestamptz, v float8, w float8, note text) USING tiered
  WITH (autovacuum_enabled = off);
CREATE TABLE tc_heap (LIKE tc) USING heap WITH (autovacuum_enabled = off);
-- v never NULL (a projection of id, v forms rows from a fixed layout), w NULL on every 7th row,
-- note hard to compress (the bytes a compaction saves are visible)
INSERT INTO tc SELECT g, '2022-01-01'::timestamptz + g * interval '1 minute', sin(g) * 1000,
                      CASE WHEN g % 7 = 0 THEN NULL ELSE cos(g) END, md5(g::text)
FROM generate_series(1, 16000) g;
INSERT INTO tc_heap SELECT * FROM tc;
CREATE INDEX tc_id ON tc (id);
CREATE INDEX tc_ts ON tc USING learned (ts);
CREATE INDEX tc_note ON tc (note);
CREATE INDEX tc_heap_id ON tc_heap (id);
CREATE INDEX tc_heap_ts ON tc_heap USING learned (ts);
CREATE INDEX tc_heap_note ON tc_heap (note);
CREATE FUNCTION tc_check() RETURNS text LANGUAGE sql AS $$
  SELECT concat_ws(' ',
    tiered_same('SELECT * FROM $T', 'tc', 'tc_heap'),
    tiered_same('SELECT id, v FROM $T WHERE id BETWEEN 1 AND 2500', 'tc', 'tc_heap'),
    tiered_same('SELECT count(*), sum(v::numeric), count(w), sum(w::numeric) FROM $T WHERE id BETWEEN 1500 AND 9000', 'tc', 'tc_heap'),
    tiered_same('SELECT id, w FROM $T WHERE ts < ''2022-01-05''', 'tc', 'tc_heap'),
    tiered_same('SELECT id FROM $T WHERE note < ''1''', 'tc', 'tc_heap'),
    tiered_same('SELECT count(*), sum(id), sum(v::numeric), count(w), count(note) FROM $T', 'tc', 'tc_heap'));
$$;
-- payload bytes of batch k (0-based), and of all
CREATE FUNCTION tc_bytes(k int DEFAULT NULL) RETURNS int8 LANGUAGE sql AS $$
  SELECT sum(pg_column_size(payload))::int8 FROM omendb.tier_batch
  WHERE relid = 'tc'::regclass AND (k IS NULL OR first_block = (SELECT min(first_block) FROM omendb.tier_batch
                                                               WHERE relid = 'tc'::regclass) + 16 * k);
$$;
SELECT omendb_tier_set_policy('tc', 'ts', batch_rows => 2000);
SELECT tiered_move_all('tc', 16000);
SELECT hot_rows, cold_rows, cold_batches FROM omendb_tier_stats('tc');
SELECT tc_bytes() AS b0, tc_bytes(0) AS b0_0, tc_bytes(1) AS b0_1 \gset
SELECT hot_bytes AS h0_0 FROM omendb.tier_batch WHERE relid = 'tc'::regclass ORDER BY first_block LIMIT 1 \gset

-- 1/20 of every batch deleted: folded, not compacted (the payloads stay as they were)
DELETE FROM tc WHERE id % 20 = 0;
DELETE FROM tc_heap WHERE id % 20 = 0;
SELECT 'VACUUM tc' FROM generate_series(1, 3) \gexec
SELECT count(*) AS changes, (SELECT sum(bit_count(deleted)) FROM omendb.tier_batch WHERE relid = 'tc'::regclass) AS folded
FROM omendb.tier_delete WHERE relid = 'tc'::regclass;
SELECT tc_bytes() = :b0 AS payloads_unchanged;
SELECT omendb_tier_verify('tc'), tc_check();

-- half of the first batch deleted, and a cold UPDATE of a quarter of the second (its old
-- versions deleted, the new ones hot): both compacted; the others keep their payloads
DELETE FROM tc WHERE id <= 2000 AND id % 2 = 1;
UPDATE tc SET note = 'u' || id WHERE id BETWEEN 2001 AND 4000 AND id % 4 = 1;
DELETE FROM tc_heap WHERE id <= 2000 AND id % 2 = 1;
UPDATE tc_heap SET note = 'u' || id WHERE id BETWEEN 2001 AND 4000 AND id % 4 = 1;
SELECT tc_check();
SELECT 'VACUUM tc' FROM generate_series(1, 3) \gexec
SELECT count(*) AS changes FROM omendb.tier_delete WHERE relid = 'tc'::regclass;
SELECT tc_bytes(0) AS b1_0, tc_bytes(1) AS b1_1 \gset
SELECT :b1_0 < 0.6 * :b0_0 AS first_compacted, :b1_1 < 0.85 * :b0_1 AS second_compacted,
       tc_bytes() - :b1_0 - :b1_1 = :b0 - :b0_0 - :b0_1 AS others_unchanged;
SELECT omendb_tier_verify('tc'), tc_check();
-- hot_bytes follows the live rows (900 of the first batch's 2000 now), as heap's pages would
SELECT abs(hot_bytes - :h0_0 * 0.95 * 900 / 1900) <= 2 AS hot_bytes_live FROM omendb.tier_batch
WHERE relid = 'tc'::regclass ORDER BY first_block LIMIT 1;

-- 1/100 more of the first batch deleted: storing it again would save too little
DELETE FROM tc WHERE id <= 2000 AND id % 100 = 2;
DELETE FROM tc_heap WHERE id <= 2000 AND id % 100 = 2;
SELECT 'VACUUM tc' FROM generate_series(1, 3) \gexec
SELECT tc_bytes(0) = :b1_0 AS first_not_again;
SELECT omendb_tier_verify('tc'), tc_check();
-- then another 1/8: compacted again
DELETE FROM tc WHERE id <= 2000 AND id % 8 = 4;
DELETE FROM tc_heap WHERE id <= 2000 AND id % 8 = 4;
SELECT 'VACUUM tc' FROM generate_series(1, 3) \gexec
SELECT tc_bytes(0) < :b1_0 AS first_again;
SELECT omendb_tier_verify('tc'), tc_check();

-- nothing reads a batch version dead to every snapshot (the replaced payloads' TOAST chunks
-- vacuumed first, as autovacuum may do before the versions themselves are removed): not a row
-- lock, not RETURNING, not an index build, which also skips the compacted rows; a REINDEX and a
-- VACUUM FULL keep every answer
SELECT reltoastrelid::regclass AS batch_toast FROM pg_class WHERE oid = 'omendb.tier_batch'::regclass \gset
VACUUM :batch_toast;
-- row locks and RETURNING fetch cold rows again under SnapshotAny: they take the live version
SELECT id, note FROM tc WHERE id IN (8, 10) ORDER BY id FOR UPDATE;
DELETE FROM tc WHERE id = 6 RETURNING id, note;
DELETE FROM tc_heap WHERE id = 6;
CREATE INDEX tc_v ON tc (v);
CREATE INDEX tc_heap_v ON tc_heap (v);
SELECT tiered_same('SELECT id FROM $T WHERE v BETWEEN 0 AND 100', 'tc', 'tc_heap');
-- parallel builds and scans with dead batch versions present: participants claim batches by their
-- first block (counting them could differ once a dead version is pruned mid-walk), each once
SET max_parallel_maintenance_workers = 2;
SET max_parallel_workers_per_gather = 2;
SET min_parallel_table_scan_size = 0;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
CREATE INDEX tc_w ON tc (w, id);
CREATE INDEX tc_heap_w ON tc_heap (w, id);
SELECT tiered_same('SELECT id FROM $T WHERE w > 0.5', 'tc', 'tc_heap');
EXPLAIN (COSTS OFF) SELECT count(*), sum(id) FROM tc;
SELECT tiered_same('SELECT count(*), sum(id), count(w) FROM $T', 'tc', 'tc_heap');
REINDEX TABLE tc;
RESET max_parallel_maintenance_workers;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
SELECT omendb_tier_verify('tc'), tc_check();
VACUUM FULL tc;
SELECT omendb_tier_verify('tc'), tc_check();
SELECT hot_rows + cold_rows = (SELECT count(*) FROM tc_heap) AS rows_kept FROM omendb_tier_stats('tc');
DROP TABLE tc, tc_heap;
DROP FUNCTION tc_check(), tc_bytes(int);
