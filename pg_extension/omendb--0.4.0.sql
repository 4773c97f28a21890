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
-- compressed column-wise batches (omendb_tier_move). Its hot tier is heap.
CREATE FUNCTION tiered_handler(internal) RETURNS table_am_handler
AS 'MODULE_PATHNAME', 'tiered_handler'
LANGUAGE C STRICT;
CREATE ACCESS METHOD tiered TYPE TABLE HANDLER tiered_handler;
COMMENT ON ACCESS METHOD tiered IS 'tiered table: hot rows in heap, old rows compressed column-wise';

-- The cold tier of every tiered table of this database (docs/tiered.md). Each row is a batch:
-- rows moved out of one tiered table's heap, encoded column-wise by the core's batch codec. Only
-- the batches of the table's current relfilenode are its rows (TRUNCATE and table rewrites start a
-- new relfilenode; VACUUM FULL, CLUSTER and SET TABLESPACE carry the batches over). Not dumped by
-- pg_dump: the table's own data (read through the table AM, hot and cold) is.
CREATE SCHEMA omendb;
COMMENT ON SCHEMA omendb IS 'internal tables of the omendb extension';
CREATE TABLE omendb.tier_batch (
  relid oid NOT NULL,            -- the tiered table
  relnode oid NOT NULL,          -- its relfilenode these rows belong to
  first_block int8 NOT NULL,     -- first virtual block of the batch's TIDs (>= 2^31)
  nrows int4 NOT NULL,
  deleted bytea,                 -- bit i set: row i deleted (NULL: none)
  moved_at timestamptz NOT NULL,
  payload bytea NOT NULL,        -- core batch codec payload (docs/format.md), compressed already
  hot_bytes int8 NOT NULL        -- what the rows took in heap pages (tuples and line pointers)
);
ALTER TABLE omendb.tier_batch ALTER COLUMN payload SET STORAGE EXTERNAL;
CREATE UNIQUE INDEX tier_batch_key ON omendb.tier_batch (relnode, first_block);
CREATE INDEX tier_batch_relid ON omendb.tier_batch (relid);
-- Cold rows deleted or updated since their batch was written: one row per change, stamped with the
-- changing transaction's xid like a heap tuple's xmax (docs/tiered.md). new_tid: the row's new hot
-- version after an UPDATE (EvalPlanQual follows it), the moved-partition mark after a move to
-- another partition, NULL after a DELETE.
CREATE TABLE omendb.tier_delete (
  relid oid NOT NULL,
  relnode oid NOT NULL,
  first_block int8 NOT NULL,
  rowno int4 NOT NULL,
  new_tid tid
);
CREATE INDEX tier_delete_key ON omendb.tier_delete (relnode, first_block, rowno);
CREATE INDEX tier_delete_relid ON omendb.tier_delete (relid);
-- Batch slots: a batch takes 16 virtual blocks from slot n (first_block = 2^31 + 16 n); never reused.
CREATE SEQUENCE omendb.tier_slot MINVALUE 0 START 0 MAXVALUE 134217726 NO CYCLE;

-- Per-table policy, set by omendb_tier_set_policy; dumped by pg_dump with the extension.
CREATE TABLE omendb.tier_policy (
  relid regclass PRIMARY KEY,
  tier_column name NOT NULL,
  cold_after interval,
  order_by name,
  batch_rows int4 NOT NULL DEFAULT 1000 CHECK (batch_rows BETWEEN 1 AND 4656),
  last_move timestamptz
);
SELECT pg_catalog.pg_extension_config_dump('omendb.tier_policy', '');

-- A dropped tiered table takes its batches and policy with it.
CREATE FUNCTION omendb.tier_drop_cleanup() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  IF to_regclass('omendb.tier_batch') IS NULL THEN RETURN; END IF;
  DELETE FROM omendb.tier_batch b USING pg_event_trigger_dropped_objects() d
   WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND b.relid = d.objid;
  DELETE FROM omendb.tier_delete c USING pg_event_trigger_dropped_objects() d
   WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND c.relid = d.objid;
  DELETE FROM omendb.tier_policy p USING pg_event_trigger_dropped_objects() d
   WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND p.relid::oid = d.objid;
END $$;
CREATE EVENT TRIGGER omendb_tier_drop ON sql_drop EXECUTE FUNCTION omendb.tier_drop_cleanup();

-- Logical replication (docs/tiered.md). A FOR ALL TABLES publication also publishes these internal
-- tables. On the publisher, a DELETE or UPDATE of them (DROP or TRUNCATE of a tiered table, VACUUM's
-- fold) needs a replica identity. On a subscriber, rows of the publisher's batches, changes and
-- policies name the publisher's tables and files: logical replication workers skip them (these
-- triggers fire only with session_replication_role = replica, as those workers run), so only the
-- subscriber's own moves write its cold tier.
ALTER TABLE omendb.tier_batch REPLICA IDENTITY USING INDEX tier_batch_key;
ALTER TABLE omendb.tier_delete REPLICA IDENTITY FULL;
CREATE FUNCTION omendb.tier_skip_replicated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT backend_type FROM pg_catalog.pg_stat_activity WHERE pid = pg_catalog.pg_backend_pid())
     LIKE 'logical replication%' THEN
    RETURN NULL;  -- a row of the publisher's cold tier: not this server's
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;  -- another session in replica mode
END $$;
CREATE TRIGGER tier_batch_skip_replicated BEFORE INSERT OR UPDATE OR DELETE ON omendb.tier_batch
  FOR EACH ROW EXECUTE FUNCTION omendb.tier_skip_replicated();
CREATE TRIGGER tier_delete_skip_replicated BEFORE INSERT OR UPDATE OR DELETE ON omendb.tier_delete
  FOR EACH ROW EXECUTE FUNCTION omendb.tier_skip_replicated();
CREATE TRIGGER tier_policy_skip_replicated BEFORE INSERT OR UPDATE OR DELETE ON omendb.tier_policy
  FOR EACH ROW EXECUTE FUNCTION omendb.tier_skip_replicated();
ALTER TABLE omendb.tier_batch ENABLE REPLICA TRIGGER tier_batch_skip_replicated;
ALTER TABLE omendb.tier_delete ENABLE REPLICA TRIGGER tier_delete_skip_replicated;
ALTER TABLE omendb.tier_policy ENABLE REPLICA TRIGGER tier_policy_skip_replicated;

CREATE FUNCTION omendb_tier_set_policy(rel regclass, tier_column name, cold_after interval DEFAULT NULL,
                                       order_by name DEFAULT NULL, batch_rows int DEFAULT 1000)
RETURNS void AS 'MODULE_PATHNAME', 'omendb_tier_set_policy' LANGUAGE C;
COMMENT ON FUNCTION omendb_tier_set_policy(regclass, name, interval, name, int) IS
  'sets which column ages the rows of a tiered table, when a row is cold, and how batches are sorted';

CREATE FUNCTION omendb_tier_move(rel regclass, older_than interval DEFAULT NULL) RETURNS bigint
AS 'MODULE_PATHNAME', 'omendb_tier_move' LANGUAGE C;
COMMENT ON FUNCTION omendb_tier_move(regclass, interval) IS
  'moves the rows of a tiered table older than older_than (default: the policy) into compressed batches';

CREATE FUNCTION omendb_tier_stats(rel regclass,
    OUT hot_rows bigint, OUT hot_bytes bigint, OUT cold_rows bigint, OUT cold_bytes bigint,
    OUT cold_batches bigint, OUT compression_ratio float8, OUT last_move timestamptz)
AS 'MODULE_PATHNAME', 'omendb_tier_stats' LANGUAGE C STRICT;
COMMENT ON FUNCTION omendb_tier_stats(regclass) IS 'rows and bytes of the hot and cold tiers of a tiered table';

CREATE FUNCTION omendb_tier_verify(rel regclass) RETURNS bigint
AS 'MODULE_PATHNAME', 'omendb_tier_verify' LANGUAGE C STRICT;
COMMENT ON FUNCTION omendb_tier_verify(regclass) IS
  'checks the cold batches of a tiered table and that every cold row is in every index once';
