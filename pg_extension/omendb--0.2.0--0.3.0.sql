-- omendb 0.2.0 -> 0.3.0 (ALTER EXTENSION omendb UPDATE TO '0.3.0'): adds the table access method
-- `tiered`. No on-disk change to `learned` indexes.
\echo Use "ALTER EXTENSION omendb UPDATE TO '0.3.0'" to load this file. \quit

-- Table access method `tiered` (docs/tiered.md): a heap table whose old rows can be moved into
-- compressed column-wise batches. Its hot tier is heap; this version keeps every row hot.
CREATE FUNCTION tiered_handler(internal) RETURNS table_am_handler
AS 'MODULE_PATHNAME', 'tiered_handler'
LANGUAGE C STRICT;
CREATE ACCESS METHOD tiered TYPE TABLE HANDLER tiered_handler;
COMMENT ON ACCESS METHOD tiered IS 'tiered table: hot rows in heap, old rows compressed column-wise';
