-- omendb 0.5.0 -> 0.6.0: the learned index takes uuid columns. Its key is the uuid's first 8
-- bytes (time-ordered v7 uuids keep their order in it, random v4 ones spread evenly), so a scan
-- rechecks every row it returns and the index serves no ORDER BY (the planner is told it has no
-- order) and no index-only scan. No on-disk change: nothing is rebuilt.
\echo Use "ALTER EXTENSION omendb UPDATE" to load this file. \quit

CREATE OPERATOR FAMILY uuid_learned_ops USING learned;
CREATE OPERATOR CLASS uuid_learned_ops DEFAULT FOR TYPE uuid USING learned FAMILY uuid_learned_ops AS
  OPERATOR 1 <,
  OPERATOR 2 <=,
  OPERATOR 3 =,
  OPERATOR 4 >=,
  OPERATOR 5 >,
  FUNCTION 1 uuid_cmp(uuid, uuid);
