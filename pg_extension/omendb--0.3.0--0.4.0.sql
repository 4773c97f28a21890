-- omendb 0.3.0 -> 0.4.0: the learned index's sparse layout (WITH (layout = 'sparse'); format
-- version 3 for sparse indexes only: existing indexes are unchanged and not rebuilt).
-- omendb_index_stats reports the layout and a sparse index's block ranges.
\echo Use "ALTER EXTENSION omendb UPDATE" to load this file. \quit

DROP FUNCTION omendb_index_stats(regclass);
-- Statistics of a learned index: live keys (leaves + overflow; sparse layout: its exceptions),
-- NULLs, the model, pages by kind; the layout and, sparse, its heap block ranges (built, appended)
-- and their pages.
CREATE FUNCTION omendb_index_stats(index regclass,
    OUT keys bigint, OUT nulls bigint, OUT build_keys bigint, OUT segments int,
    OUT error_bound int, OUT model_epsilon int, OUT mean_error float8, OUT max_error bigint,
    OUT leaf_pages int, OUT overflow_pages int, OUT model_pages int, OUT null_pages int,
    OUT free_pages int, OUT bytes bigint, OUT retired_pages int, OUT generation bigint,
    OUT edge_leaves int, OUT dir_pages int,
    OUT layout text, OUT block_ranges bigint, OUT appended_ranges bigint, OUT range_pages int)
AS 'MODULE_PATHNAME', 'omendb_index_stats'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION omendb_index_stats(regclass) IS 'size, model and page statistics of a learned index';
