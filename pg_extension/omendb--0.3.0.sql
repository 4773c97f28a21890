/* pg_extension/omendb--0.3.0.sql: objects of omendb 0.3.0 */

\echo Use "CREATE EXTENSION omendb" to load this file. \quit

-- The version of the loaded shared library (may differ from the SQL-level extension version
-- between ALTER EXTENSION UPDATE and a reconnect).
CREATE FUNCTION omendb_version() RETURNS text
AS 'MODULE_PATHNAME', 'omendb_version'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION omendb_version() IS 'version of the omendb shared library';

-- Index access method `learned` (docs/index-am.md).
CREATE FUNCTION learned_handler(internal) RETURNS index_am_handler
AS 'MODULE_PATHNAME', 'learned_handler'
LANGUAGE C STRICT;

CREATE ACCESS METHOD learned TYPE INDEX HANDLER learned_handler;
COMMENT ON ACCESS METHOD learned IS 'learned index: piecewise-linear model with a guaranteed error bound over sorted keys';

-- Operator classes: the btree operators and btree comparison function of each type (strategies
-- 1..5 = < <= = >= >). Integers and floats get cross-type operators, like btree's families, so
-- `int8col = 5` (an int8 = int4 comparison) can use the index.

CREATE OPERATOR FAMILY integer_learned_ops USING learned;
CREATE OPERATOR CLASS int2_learned_ops DEFAULT FOR TYPE int2 USING learned FAMILY integer_learned_ops AS
  OPERATOR 1 <,
  OPERATOR 2 <=,
  OPERATOR 3 =,
  OPERATOR 4 >=,
  OPERATOR 5 >,
  FUNCTION 1 btint2cmp(int2, int2);
CREATE OPERATOR CLASS int4_learned_ops DEFAULT FOR TYPE int4 USING learned FAMILY integer_learned_ops AS
  OPERATOR 1 <,
  OPERATOR 2 <=,
  OPERATOR 3 =,
  OPERATOR 4 >=,
  OPERATOR 5 >,
  FUNCTION 1 btint4cmp(int4, int4);
CREATE OPERATOR CLASS int8_learned_ops DEFAULT FOR TYPE int8 USING learned FAMILY integer_learned_ops AS
  OPERATOR 1 <,
  OPERATOR 2 <=,
  OPERATOR 3 =,
  OPERATOR 4 >=,
  OPERATOR 5 >,
  FUNCTION 1 btint8cmp(int8, int8);
ALTER OPERATOR FAMILY integer_learned_ops USING learned ADD
  OPERATOR 1 < (int2, int4),
  OPERATOR 2 <= (int2, int4),
  OPERATOR 3 = (int2, int4),
  OPERATOR 4 >= (int2, int4),
  OPERATOR 5 > (int2, int4),
  FUNCTION 1 (int2, int4) btint24cmp(int2, int4),
  OPERATOR 1 < (int2, int8),
  OPERATOR 2 <= (int2, int8),
  OPERATOR 3 = (int2, int8),
  OPERATOR 4 >= (int2, int8),
  OPERATOR 5 > (int2, int8),
  FUNCTION 1 (int2, int8) btint28cmp(int2, int8),
  OPERATOR 1 < (int4, int2),
  OPERATOR 2 <= (int4, int2),
  OPERATOR 3 = (int4, int2),
  OPERATOR 4 >= (int4, int2),
  OPERATOR 5 > (int4, int2),
  FUNCTION 1 (int4, int2) btint42cmp(int4, int2),
  OPERATOR 1 < (int4, int8),
  OPERATOR 2 <= (int4, int8),
  OPERATOR 3 = (int4, int8),
  OPERATOR 4 >= (int4, int8),
  OPERATOR 5 > (int4, int8),
  FUNCTION 1 (int4, int8) btint48cmp(int4, int8),
  OPERATOR 1 < (int8, int2),
  OPERATOR 2 <= (int8, int2),
  OPERATOR 3 = (int8, int2),
  OPERATOR 4 >= (int8, int2),
  OPERATOR 5 > (int8, int2),
  FUNCTION 1 (int8, int2) btint82cmp(int8, int2),
  OPERATOR 1 < (int8, int4),
  OPERATOR 2 <= (int8, int4),
  OPERATOR 3 = (int8, int4),
  OPERATOR 4 >= (int8, int4),
  OPERATOR 5 > (int8, int4),
  FUNCTION 1 (int8, int4) btint84cmp(int8, int4);

CREATE OPERATOR FAMILY float_learned_ops USING learned;
CREATE OPERATOR CLASS float4_learned_ops DEFAULT FOR TYPE float4 USING learned FAMILY float_learned_ops AS
  OPERATOR 1 <,
  OPERATOR 2 <=,
  OPERATOR 3 =,
  OPERATOR 4 >=,
  OPERATOR 5 >,
  FUNCTION 1 btfloat4cmp(float4, float4);
CREATE OPERATOR CLASS float8_learned_ops DEFAULT FOR TYPE float8 USING learned FAMILY float_learned_ops AS
  OPERATOR 1 <,
  OPERATOR 2 <=,
  OPERATOR 3 =,
  OPERATOR 4 >=,
  OPERATOR 5 >,
  FUNCTION 1 btfloat8cmp(float8, float8);
ALTER OPERATOR FAMILY float_learned_ops USING learned ADD
  OPERATOR 1 < (float4, float8),
  OPERATOR 2 <= (float4, float8),
  OPERATOR 3 = (float4, float8),
  OPERATOR 4 >= (float4, float8),
  OPERATOR 5 > (float4, float8),
  FUNCTION 1 (float4, float8) btfloat48cmp(float4, float8),
  OPERATOR 1 < (float8, float4),
  OPERATOR 2 <= (float8, float4),
  OPERATOR 3 = (float8, float4),
  OPERATOR 4 >= (float8, float4),
  OPERATOR 5 > (float8, float4),
  FUNCTION 1 (float8, float4) btfloat84cmp(float8, float4);

CREATE OPERATOR FAMILY date_learned_ops USING learned;
CREATE OPERATOR CLASS date_learned_ops DEFAULT FOR TYPE date USING learned FAMILY date_learned_ops AS
  OPERATOR 1 <,
  OPERATOR 2 <=,
  OPERATOR 3 =,
  OPERATOR 4 >=,
  OPERATOR 5 >,
  FUNCTION 1 date_cmp(date, date);

CREATE OPERATOR FAMILY timestamp_learned_ops USING learned;
CREATE OPERATOR CLASS timestamp_learned_ops DEFAULT FOR TYPE timestamp USING learned FAMILY timestamp_learned_ops AS
  OPERATOR 1 <,
  OPERATOR 2 <=,
  OPERATOR 3 =,
  OPERATOR 4 >=,
  OPERATOR 5 >,
  FUNCTION 1 timestamp_cmp(timestamp, timestamp);

CREATE OPERATOR FAMILY timestamptz_learned_ops USING learned;
CREATE OPERATOR CLASS timestamptz_learned_ops DEFAULT FOR TYPE timestamptz USING learned FAMILY timestamptz_learned_ops AS
  OPERATOR 1 <,
  OPERATOR 2 <=,
  OPERATOR 3 =,
  OPERATOR 4 >=,
  OPERATOR 5 >,
  FUNCTION 1 timestamptz_cmp(timestamptz, timestamptz);

-- Statistics of a learned index: live keys (leaves + overflow), NULLs, the model, pages by kind.
CREATE FUNCTION omendb_index_stats(index regclass,
    OUT keys bigint, OUT nulls bigint, OUT build_keys bigint, OUT segments int,
    OUT error_bound int, OUT model_epsilon int, OUT mean_error float8, OUT max_error bigint,
    OUT leaf_pages int, OUT overflow_pages int, OUT model_pages int, OUT null_pages int,
    OUT free_pages int, OUT bytes bigint, OUT retired_pages int, OUT generation bigint,
    OUT edge_leaves int, OUT dir_pages int)
AS 'MODULE_PATHNAME', 'omendb_index_stats'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION omendb_index_stats(regclass) IS 'size, model and page statistics of a learned index';

-- amcheck-like verification: order, fences, model bounds, overflow/null chains, TIDs. Returns the
-- number of items checked; raises index_corrupted (XX002) at the first violation.
CREATE FUNCTION omendb_index_verify(index regclass) RETURNS bigint
AS 'MODULE_PATHNAME', 'omendb_index_verify'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION omendb_index_verify(regclass) IS 'checks the invariants of a learned index';

-- Re-trains a learned index now: a new generation of leaves and model with every live key and the
-- current options, swapped in without blocking readers. False if the previous generation is still
-- in use by an old snapshot.
CREATE FUNCTION omendb_index_retrain(index regclass) RETURNS boolean
AS 'MODULE_PATHNAME', 'omendb_index_retrain'
LANGUAGE C STRICT;
COMMENT ON FUNCTION omendb_index_retrain(regclass) IS 're-trains a learned index into a new generation';

-- Benchmark support (bench/pg_compare.sh, docs/bench-pg.md): nanoseconds per equality probe of the
-- first column of any index whose operator family has `= bigint` (btree, learned, hash), through
-- index_rescan + index_getnext_tid, heap not read; one untimed warm-up pass first unless told not;
-- per_scan: each probe is its own index scan (index_beginscan .. index_endscan), as in one query.
CREATE FUNCTION omendb_probe_cost(index regclass, keys bigint[], warmup boolean DEFAULT true,
    per_scan boolean DEFAULT false, OUT ns_per_probe float8, OUT probes bigint, OUT tids bigint)
AS 'MODULE_PATHNAME', 'omendb_probe_cost'
LANGUAGE C STRICT;
COMMENT ON FUNCTION omendb_probe_cost(regclass, bigint[], boolean, boolean) IS 'ns per equality probe through the index AM interface';

-- Table access method `tiered` (docs/tiered.md): a heap table whose old rows can be moved into
-- compressed column-wise batches. Its hot tier is heap; this version keeps every row hot.
CREATE FUNCTION tiered_handler(internal) RETURNS table_am_handler
AS 'MODULE_PATHNAME', 'tiered_handler'
LANGUAGE C STRICT;
CREATE ACCESS METHOD tiered TYPE TABLE HANDLER tiered_handler;
COMMENT ON ACCESS METHOD tiered IS 'tiered table: hot rows in heap, old rows compressed column-wise';
