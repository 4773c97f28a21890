-- omendb 0.2.0 -> 0.3.0 (ALTER EXTENSION omendb UPDATE TO '0.3.0'): adds the table access method
-- `tiered`. No on-disk change to `learned` indexes.
\echo Use "ALTER EXTENSION omendb UPDATE TO '0.3.0'" to load this file. \quit

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
