-- omendb_probe_cost(): the benchmark's per-probe timer (bench/pg_compare.sh). The time varies, so
-- only its sign is checked; probes and TIDs must be the same through every index AM.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS omendb;
RESET client_min_messages;
CREATE TABLE pc (k int8, i int4, t text);
INSERT INTO pc SELECT g % 500, g, g::text FROM generate_series(1, 2000) g;  -- each k 4 times
CREATE INDEX pc_bt ON pc USING btree (k);
CREATE INDEX pc_l ON pc USING learned (k);
CREATE INDEX pc_h ON pc USING hash (k);
CREATE INDEX pc_i ON pc USING learned (i);
CREATE INDEX pc_t ON pc (t);
SELECT probes, tids, ns_per_probe > 0 AS timed FROM omendb_probe_cost('pc_bt', '{1, 2, 3, 600}');
SELECT probes, tids, ns_per_probe > 0 AS timed FROM omendb_probe_cost('pc_l', '{1, 2, 3, 600}');
SELECT probes, tids, ns_per_probe > 0 AS timed FROM omendb_probe_cost('pc_h', '{1, 2, 3, 600}', false);
-- One index scan per probe (begin, rescan, drain, end), as one query's Index Scan does.
SELECT probes, tids, ns_per_probe > 0 AS timed FROM omendb_probe_cost('pc_bt', '{1, 2, 3, 600}', per_scan => true);
SELECT probes, tids, ns_per_probe > 0 AS timed FROM omendb_probe_cost('pc_l', '{1, 2, 3, 600}', per_scan => true);
SELECT probes, tids FROM omendb_probe_cost('pc_l', array(SELECT g::int8 FROM generate_series(1, 3000) g), false, true);
-- An int4 column is probed with the cross-type int4 = int8 operator.
SELECT probes, tids FROM omendb_probe_cost('pc_i', '{1, 2000, 2001, -5}');
-- Keys are probed as given: duplicates count twice.
SELECT probes, tids FROM omendb_probe_cost('pc_l', '{7, 7}');
SELECT probes, tids, ns_per_probe FROM omendb_probe_cost('pc_l', '{}');
-- Dead tuples not yet vacuumed are still returned (the heap is not read); after VACUUM they are gone.
DELETE FROM pc WHERE k = 7;
SELECT tids FROM omendb_probe_cost('pc_l', '{7}');
VACUUM pc;
SELECT tids FROM omendb_probe_cost('pc_l', '{7}');
SELECT tids FROM omendb_probe_cost('pc_bt', '{7}');
-- Errors.
SELECT * FROM omendb_probe_cost('pc', '{1}');
SELECT * FROM omendb_probe_cost('pc_t', '{1}');
SELECT * FROM omendb_probe_cost('pc_l', '{1, NULL}');
SELECT * FROM omendb_probe_cost('pc_l', '{{1, 2}, {3, 4}}');
CREATE ROLE pc_nobody;
SET ROLE pc_nobody;
SELECT * FROM omendb_probe_cost('pc_l', '{1}');
RESET ROLE;
DROP ROLE pc_nobody;
DROP TABLE pc;
