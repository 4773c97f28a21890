-- UNIQUE learned indexes: the build refuses duplicate live rows and accepts dead ones; inserts and
-- updates of a live key fail with 23505 (in one statement, at the right edge, in the overflow
-- chain, below the first leaf), a deleted key can come back; NULLs are distinct unless NULLS NOT
-- DISTINCT; uuid keys equal in their first 8 bytes are told apart; what Postgres keeps for btree
-- (PRIMARY KEY / UNIQUE USING INDEX, foreign keys, ON CONFLICT) is refused with a clear message,
-- and EXCLUDE USING learned (k WITH =) arbitrates ON CONFLICT DO NOTHING. Concurrent inserters:
-- isolation learned_unique; a tiered table's cold rows: regress 36.
CREATE EXTENSION IF NOT EXISTS omendb;
\set VERBOSITY default
CREATE TABLE uq (id int8, v text) WITH (autovacuum_enabled = off);
INSERT INTO uq SELECT g * 2, 'x' FROM generate_series(1, 20000) g;
-- duplicates of dead rows do not count, of live ones do
UPDATE uq SET v = 'y' WHERE id <= 200;
CREATE UNIQUE INDEX uq_id ON uq USING learned (id) WITH (fillfactor = 50);
INSERT INTO uq VALUES (4000, 'dup');
INSERT INTO uq VALUES (4001, 'a'), (4001, 'b');
UPDATE uq SET id = 6 WHERE id = 8;
UPDATE uq SET id = id + 1 WHERE id = 10;   -- 11 is free
SELECT id, v FROM uq WHERE id BETWEEN 9 AND 12 ORDER BY id;
DELETE FROM uq WHERE id = 12;
INSERT INTO uq VALUES (12, 'back');
INSERT INTO uq VALUES (-5, 'below the first leaf'), (-5, 'again');
-- right-edge appends open edge leaves; a duplicate of an earlier edge leaf's key fails
INSERT INTO uq SELECT 40000 + g, 'edge' FROM generate_series(1, 5000) g;
INSERT INTO uq VALUES (40001, 'dup of the first edge key');
INSERT INTO uq VALUES (45000, 'dup of the last');
-- many rows into one leaf's range (odd keys): the overflow chain holds them
INSERT INTO uq SELECT 2001 + 2 * g, 'odd' FROM generate_series(0, 1999) g;
INSERT INTO uq VALUES (3001, 'dup in the chain');
SELECT overflow_pages > 0 AS chained FROM omendb_index_stats('uq_id');
SELECT count(*), count(DISTINCT id) FROM uq;
SELECT omendb_index_verify('uq_id') > 0 AS verified;
-- VACUUM keeps it unique; a re-train too
DELETE FROM uq WHERE id % 3 = 0;
VACUUM uq;
SELECT omendb_index_retrain('uq_id') IS NOT NULL AS retrained;
INSERT INTO uq VALUES (3, 'freed by the delete');
INSERT INTO uq VALUES (3, 'dup');
INSERT INTO uq VALUES (4, 'dup');
-- REINDEX rebuilds it (no duplicates), a build over duplicates fails and leaves nothing
REINDEX INDEX uq_id;
DROP INDEX uq_id;
INSERT INTO uq VALUES (4, 'dup');
CREATE UNIQUE INDEX uq_id ON uq USING learned (id);
SELECT count(*) FROM pg_class WHERE relname = 'uq_id';
CREATE UNIQUE INDEX CONCURRENTLY uq_id ON uq USING learned (id);
SELECT indisvalid FROM pg_index WHERE indexrelid = 'uq_id'::regclass;
DROP INDEX uq_id;
DELETE FROM uq WHERE v = 'dup';
CREATE UNIQUE INDEX CONCURRENTLY uq_id ON uq USING learned (id);
SELECT indisvalid FROM pg_index WHERE indexrelid = 'uq_id'::regclass;
-- the index answers as a scan
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT v FROM uq WHERE id = 4;
SELECT v FROM uq WHERE id = 4;
RESET enable_seqscan;
-- NULLs: distinct by default; NULLS NOT DISTINCT allows one (build and insert)
INSERT INTO uq VALUES (NULL, 'n'), (NULL, 'n');
CREATE TABLE uqn (k int4);
INSERT INTO uqn VALUES (NULL), (1), (NULL);
CREATE UNIQUE INDEX uqn_k ON uqn USING learned (k) NULLS NOT DISTINCT;
DELETE FROM uqn WHERE ctid = (SELECT min(ctid) FROM uqn WHERE k IS NULL);
CREATE UNIQUE INDEX uqn_k ON uqn USING learned (k) NULLS NOT DISTINCT;
INSERT INTO uqn VALUES (NULL);
INSERT INTO uqn VALUES (2), (3);
-- uuid: keys are 8-byte prefixes; rows sharing one are told apart by their full value
CREATE TABLE uqu (u uuid);
INSERT INTO uqu SELECT format('00000000-0000-0001-0000-%s', lpad(to_hex(g), 12, '0'))::uuid
  FROM generate_series(1, 300) g;
CREATE UNIQUE INDEX uqu_u ON uqu USING learned (u);
INSERT INTO uqu VALUES ('00000000-0000-0001-0000-000000000fff');
INSERT INTO uqu VALUES ('00000000-0000-0001-0000-000000000007');
INSERT INTO uqu VALUES ('00000000-0000-0001-0000-000000000012');
DROP INDEX uqu_u;
INSERT INTO uqu VALUES ('00000000-0000-0001-0000-000000000012');
CREATE UNIQUE INDEX uqu_u ON uqu USING learned (u);
-- what Postgres reserves for btree, and the sparse layout
CREATE TABLE uqr (id int8 NOT NULL, v text);
CREATE UNIQUE INDEX uqr_id ON uqr USING learned (id);
ALTER TABLE uqr REPLICA IDENTITY USING INDEX uqr_id;
ALTER TABLE uqr ADD CONSTRAINT uqr_pk PRIMARY KEY USING INDEX uqr_id;
CREATE TABLE uqr_child (rid int8 REFERENCES uqr (id));
INSERT INTO uqr VALUES (1, 'a') ON CONFLICT DO NOTHING;
INSERT INTO uqr VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET v = 'b';
CREATE UNIQUE INDEX ON uqr USING learned (id) WITH (layout = 'sparse');
CREATE TABLE uqx (k int8, EXCLUDE USING learned (k WITH =) WITH (layout = 'sparse'));
-- an exclusion constraint arbitrates ON CONFLICT DO NOTHING
CREATE TABLE uqe (k int8, v text, EXCLUDE USING learned (k WITH =));
INSERT INTO uqe SELECT g, 'x' FROM generate_series(1, 1000) g;
INSERT INTO uqe VALUES (500, 'dup');
INSERT INTO uqe VALUES (500, 'dup'), (1001, 'new') ON CONFLICT DO NOTHING;
SELECT count(*) FROM uqe;
DROP TABLE uq, uqn, uqu, uqr, uqe;
