-- omendb 0.4.0 -> 0.5.0: a sparse learned index re-fits its block ranges (VACUUM, once the
-- entries doubled since the build or the last re-fit; omendb_index_retrain), and keeps its newest
-- ranges open while concurrent inserters fill their blocks. The on-disk format stays version 3:
-- the new metapage fields read as zero in indexes written before (nothing retired, nothing
-- counted), so nothing is rebuilt. omendb_index_stats reports the re-fits.
\echo Use "ALTER EXTENSION omendb UPDATE" to load this file. \quit

DROP FUNCTION omendb_index_stats(regclass);
-- Statistics of a learned index: live keys (leaves + overflow; sparse layout: its exceptions),
-- NULLs, the model, pages by kind; the layout and, sparse, its heap block ranges (built, appended),
-- their pages, its re-fits and the entries the build or last re-fit left.
CREATE FUNCTION omendb_index_stats(index regclass,
    OUT keys bigint, OUT nulls bigint, OUT build_keys bigint, OUT segments int,
    OUT error_bound int, OUT model_epsilon int, OUT mean_error float8, OUT max_error bigint,
    OUT leaf_pages int, OUT overflow_pages int, OUT model_pages int, OUT null_pages int,
    OUT free_pages int, OUT bytes bigint, OUT retired_pages int, OUT generation bigint,
    OUT edge_leaves int, OUT dir_pages int,
    OUT layout text, OUT block_ranges bigint, OUT appended_ranges bigint, OUT range_pages int,
    OUT refits bigint, OUT fit_entries bigint)
AS 'MODULE_PATHNAME', 'omendb_index_stats'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION omendb_index_stats(regclass) IS 'size, model and page statistics of a learned index';
