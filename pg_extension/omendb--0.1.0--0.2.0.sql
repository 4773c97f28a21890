-- omendb 0.1.0 -> 0.2.0 (ALTER EXTENSION omendb UPDATE TO '0.2.0').
\echo Use "ALTER EXTENSION omendb UPDATE TO '0.2.0'" to load this file. \quit

-- 0.2.0 writes `learned` indexes in on-disk format 2 (bit-packed leaves, 16-byte model segments,
-- edge leaves for right-edge inserts; docs/format.md). The 0.2.0 library refuses to read a format-1
-- index (SQLSTATE 0A000, hint REINDEX), so every learned index in this database is rebuilt here,
-- inside the upgrade's transaction: the update takes each index's table lock for the rebuild, and
-- an error rolls the whole update back. Other sessions' temporary indexes are skipped (REINDEX
-- cannot reach them). Other databases of the cluster need their own UPDATE.
DO $upgrade$
DECLARE
  idx regclass;
BEGIN
  FOR idx IN
    SELECT c.oid::regclass
    FROM pg_class c JOIN pg_am am ON am.oid = c.relam
    WHERE am.amname = 'learned' AND c.relkind = 'i'
      AND (c.relpersistence <> 't' OR c.relnamespace = pg_my_temp_schema())
    ORDER BY c.oid
  LOOP
    EXECUTE format('REINDEX INDEX %s', idx);
  END LOOP;
END
$upgrade$;

-- omendb_index_stats reports the edge leaves and their directory pages too.
DROP FUNCTION omendb_index_stats(regclass);
CREATE FUNCTION omendb_index_stats(index regclass,
    OUT keys bigint, OUT nulls bigint, OUT build_keys bigint, OUT segments int,
    OUT error_bound int, OUT model_epsilon int, OUT mean_error float8, OUT max_error bigint,
    OUT leaf_pages int, OUT overflow_pages int, OUT model_pages int, OUT null_pages int,
    OUT free_pages int, OUT bytes bigint, OUT retired_pages int, OUT generation bigint,
    OUT edge_leaves int, OUT dir_pages int)
AS 'MODULE_PATHNAME', 'omendb_index_stats'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION omendb_index_stats(regclass) IS 'size, model and page statistics of a learned index';
