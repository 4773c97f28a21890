-- The planner's choice: with a btree and a learned index on one column, the learned index wins
-- point and short range lookups (its probe reads one leaf; the model replaces btree's inner
-- pages); unselective predicates go to a sequential scan.
CREATE EXTENSION IF NOT EXISTS omendb;
CREATE TABLE lc (id int8, k int8, pad text);
INSERT INTO lc SELECT i, (i::int8 * 104729) % 200000, repeat('x', 20) FROM generate_series(1, 200000) i;
CREATE INDEX lc_bt ON lc USING btree (k);
CREATE INDEX lc_l ON lc USING learned (k);
VACUUM ANALYZE lc;
EXPLAIN (COSTS OFF) SELECT * FROM lc WHERE k = 4242;
EXPLAIN (COSTS OFF) SELECT * FROM lc WHERE k = ANY ('{1, 5, 9}');
EXPLAIN (COSTS OFF) SELECT k FROM lc WHERE k BETWEEN 100 AND 150;
EXPLAIN (COSTS OFF) SELECT * FROM lc ORDER BY k LIMIT 10;
EXPLAIN (COSTS OFF) SELECT * FROM lc WHERE k > 1000;
SELECT pg_relation_size('lc_l') < pg_relation_size('lc_bt') AS learned_is_smaller;
DROP TABLE lc;
