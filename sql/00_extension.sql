-- The extension installs, reports its version, and drops cleanly.
CREATE EXTENSION omendb;
SELECT extname, extversion, omendb_version() = extversion AS library_matches_sql
  FROM pg_extension WHERE extname = 'omendb';
SELECT obj_description('omendb_version()'::regprocedure, 'pg_proc');
DROP EXTENSION omendb;
SELECT count(*) AS leftover_functions FROM pg_proc WHERE proname LIKE 'omendb%';
CREATE EXTENSION omendb;
