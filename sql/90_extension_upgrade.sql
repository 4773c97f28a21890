-- ALTER EXTENSION omendb UPDATE from 0.1.0 leaves exactly the objects of a fresh install of the
-- default version, and rebuilds the learned indexes it finds in the new on-disk format.
CREATE FUNCTION pg_temp.omendb_members()
RETURNS TABLE (obj text, detail text) LANGUAGE sql AS $$
  SELECT pg_describe_object(d.classid, d.objid, d.objsubid),
         CASE WHEN d.classid = 'pg_proc'::regclass
              THEN pg_get_function_identity_arguments(d.objid) || ' -> ' ||
                   pg_get_function_result(d.objid) END ||
         coalesce(' -- ' || obj_description(d.objid, d.classid::regclass::text), '')
  FROM pg_depend d
  WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
    AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'omendb')
$$;
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.omendb_members();
SELECT count(*) AS members FROM fresh;
-- the extension's tables: replica identity and triggers (with their firing mode)
CREATE FUNCTION pg_temp.omendb_tables()
RETURNS TABLE (rel name, replident text, triggers text) LANGUAGE sql AS $$
  SELECT c.relname, c.relreplident::text,
         (SELECT string_agg(t.tgname || ':' || t.tgenabled::text, ',' ORDER BY t.tgname)
          FROM pg_trigger t WHERE t.tgrelid = c.oid)
  FROM pg_class c WHERE c.relnamespace = 'omendb'::regnamespace AND c.relkind = 'r'
$$;
CREATE TEMP TABLE fresh_tables AS SELECT * FROM pg_temp.omendb_tables();
SELECT * FROM fresh_tables ORDER BY 1;

SET client_min_messages = warning;   -- the cascade list depends on the tests before this one
DROP EXTENSION omendb CASCADE;
RESET client_min_messages;
CREATE EXTENSION omendb VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'omendb';
CREATE TABLE upg (k int8);
INSERT INTO upg SELECT (g * 7919) % 20011 FROM generate_series(1, 20000) g;
CREATE INDEX upg_k ON upg USING learned (k);
CREATE TABLE upg_other (t timestamptz);
INSERT INTO upg_other SELECT '2026-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 5000) g;
CREATE INDEX upg_other_t ON upg_other USING learned (t) WITH (error_bound = 16);
SELECT relfilenode AS before_k FROM pg_class WHERE relname = 'upg_k' \gset

ALTER EXTENSION omendb UPDATE;
SELECT extversion, omendb_version() = extversion AS library_matches_sql
  FROM pg_extension WHERE extname = 'omendb';
-- same objects, signatures and comments as a fresh install
SELECT * FROM fresh EXCEPT SELECT * FROM pg_temp.omendb_members();
SELECT * FROM pg_temp.omendb_members() EXCEPT SELECT * FROM fresh;
SELECT * FROM fresh_tables EXCEPT SELECT * FROM pg_temp.omendb_tables();
SELECT * FROM pg_temp.omendb_tables() EXCEPT SELECT * FROM fresh_tables;

-- the indexes were rebuilt (new relfilenode), keep their options, and answer through the index
SELECT relfilenode <> :before_k AS rebuilt FROM pg_class WHERE relname = 'upg_k';
SELECT reloptions FROM pg_class WHERE relname = 'upg_other_t';
SELECT omendb_index_verify('upg_k') AS k_items, omendb_index_verify('upg_other_t') AS t_items;
SELECT keys, edge_leaves, dir_pages FROM omendb_index_stats('upg_k');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM upg WHERE k BETWEEN 100 AND 200;
SELECT count(*) FROM upg WHERE k BETWEEN 100 AND 200;
RESET enable_seqscan;
SELECT count(*) FROM upg WHERE k BETWEEN 100 AND 200;

-- updating to the version already installed is a no-op
ALTER EXTENSION omendb UPDATE;
DROP TABLE upg, upg_other;
