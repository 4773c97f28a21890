-- Re-training into free pages: a re-train writes its generation into the first run of free pages
-- long enough (pages of generations VACUUM freed once no snapshot could read them), else at the
-- end. Six rounds of inserts (10% of the table each) + re-train + VACUUM: before, every round
-- appended a generation (5.7x the REINDEXed size after six); now rounds reuse freed runs.
CREATE TABLE rr (k int8);
INSERT INTO rr SELECT hashint8(i) FROM generate_series(1, 200000) i;
CREATE INDEX rr_k ON rr USING learned (k);
CREATE TABLE rr_size (round int, blocks bigint);
DO $$
BEGIN
  FOR r IN 1..6 LOOP
    INSERT INTO rr SELECT hashint8(i) FROM generate_series(r * 1000000, r * 1000000 + 20000) i;
    PERFORM omendb_index_retrain('rr_k');
    INSERT INTO rr_size VALUES (r, pg_relation_size('rr_k') / 8192);
    COMMIT;
  END LOOP;
END $$;
-- (VACUUM between rounds cannot run inside the DO block; the next re-train frees the generation
-- the previous one retired once its transaction is over, as VACUUM would.)
SELECT count(*) FILTER (WHERE s.blocks = p.blocks) AS rounds_that_did_not_grow
FROM rr_size s JOIN rr_size p ON p.round = s.round - 1;
VACUUM rr;
SELECT generation, retired_pages, omendb_index_verify('rr_k') = (SELECT count(*) FROM rr) AS verified
FROM omendb_index_stats('rr_k');
SELECT learned_same('SELECT k FROM rr WHERE k BETWEEN -50000000000000000 AND 50000000000000000') AS range,
       learned_same('SELECT k FROM rr WHERE k = ' || hashint8(1500007)) AS eq,
       learned_same('SELECT k FROM rr ORDER BY k DESC LIMIT 50', true, false) AS ordered;
-- Bounded: at most 3x a fresh build of the same rows (append-only: 5.7x).
CREATE INDEX rr_fresh ON rr USING learned (k);
SELECT (SELECT blocks FROM rr_size WHERE round = 6) <= 3 * pg_relation_size('rr_fresh') / 8192 AS within_3x_fresh;
DROP TABLE rr, rr_size;
