/* pg_extension/omendb--0.1.0.sql: objects of omendb 0.1.0 */

\echo Use "CREATE EXTENSION omendb" to load this file. \quit

-- The version of the loaded shared library (may differ from the SQL-level extension version
-- between ALTER EXTENSION UPDATE and a reconnect).
CREATE FUNCTION omendb_version() RETURNS text
AS 'MODULE_PATHNAME', 'omendb_version'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION omendb_version() IS 'version of the omendb shared library';
