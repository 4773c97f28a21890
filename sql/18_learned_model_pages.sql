-- Model pages hold 16-byte segments (format version 2; docs/format.md): an index with many
-- segments needs about half the model pages the former 32-byte layout did, and the model found
-- there still answers every probe exactly.
CREATE EXTENSION IF NOT EXISTS omendb;
CREATE TABLE lm (k int8);
-- hashed keys and error_bound 1: about ten thousand segments
INSERT INTO lm SELECT hashint8(i) FROM generate_series(1, 100000) i;
CREATE INDEX lm_k ON lm USING learned (k) WITH (error_bound = 1);
SELECT segments > 5000 AS many_segments,
       model_pages <= ceil((segments * 16 + leaf_pages * 8) / 8168.0) AS sixteen_byte_segments,
       model_pages < ceil(segments * 32 / 8168.0) AS smaller_than_32_byte_segments
  FROM omendb_index_stats('lm_k');
SELECT omendb_index_verify('lm_k') AS verified;
SET enable_seqscan = off;
SELECT count(*) FROM lm a WHERE NOT EXISTS (SELECT 1 FROM lm b WHERE b.k = a.k);
SELECT learned_same('SELECT k FROM lm WHERE k BETWEEN 500000000 AND 520000000');
RESET enable_seqscan;
DROP TABLE lm;
