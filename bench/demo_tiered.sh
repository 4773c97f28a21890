#!/usr/bin/env bash
# bench/demo_tiered.sh ROWS: the tiered-table part of `make demo` (bench/demo.sh), in the demo's
# cluster. Loads a year of readings into a `tiered` table (a heap table until rows move), sets a
# policy, moves the rows older than 30 days into compressed batches, shows the sizes before and
# after (omendb_tier_stats), answers a query from cold rows through a learned index (EXPLAIN
# ANALYZE) with the same answer a heap copy gives, then deletes the oldest cold rows and shows
# VACUUM folding the deletes and dropping the emptied batches.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:?usage: bench/demo_tiered.sh ROWS}
: "${PGHOST:?run from bench/demo.sh (PGHOST/PGPORT of the demo cluster)}" "${PGPORT:?}"
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
psql() { "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -U postgres -d postgres "$@"; }

echo "== tiered table: $rows readings over the last 365 days, and a heap copy"
psql -q <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS readings, readings_heap;
CREATE TABLE readings (ts timestamptz, device int, temp float8, humidity float8, site text) USING tiered;
INSERT INTO readings
SELECT now() - interval '365 days' + g * (interval '365 days' / $rows), g % 500, round((20 + 10 * sin(g / 1000.0))::numeric, 2),
       round((50 + 20 * cos(g / 777.0))::numeric, 1), 'site-' || (g % 500 / 50)
FROM generate_series(1, $rows) g;
CREATE TABLE readings_heap AS SELECT * FROM readings;
CREATE INDEX ON readings USING learned (ts);
CREATE INDEX ON readings (device);
VACUUM (FREEZE, ANALYZE) readings;
SQL
psql -c "SELECT pg_size_pretty(pg_table_size('readings')) AS before_move, hot_rows, cold_rows FROM omendb_tier_stats('readings')"
echo "== policy: rows age by ts, cold after 30 days; then a move"
psql -c "SELECT omendb_tier_set_policy('readings', 'ts', cold_after => interval '30 days')"
psql -c '\timing on' -c "SELECT omendb_tier_move('readings') AS rows_moved"
psql -q -c "VACUUM FULL readings"   # the moved rows' heap pages back to the OS (plain VACUUM keeps them for new rows)
psql -c "SELECT hot_rows, pg_size_pretty(hot_bytes) AS hot, cold_rows, pg_size_pretty(cold_bytes) AS cold,
                cold_batches, round(compression_ratio::numeric, 1) AS compression_ratio
         FROM omendb_tier_stats('readings')"
psql -c "SELECT pg_size_pretty(pg_table_size('readings_heap')) AS heap_copy_of_all_rows"
echo "== a query answered from cold rows (two months ago), through the learned index"
q="SELECT count(*), round(avg(temp)::numeric, 3) FROM %s WHERE ts BETWEEN now() - interval '61 days' AND now() - interval '60 days'"
psql -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $(printf "$q" readings)"
psql -c "$(printf "$q" readings) UNION ALL $(printf "$q" readings_heap)"
psql -c "SELECT omendb_tier_verify('readings') AS cold_rows_verified"
echo "== retention: cold rows older than 300 days deleted; VACUUM folds the deletes and drops emptied batches"
psql -c "DELETE FROM readings WHERE ts < now() - interval '300 days'" -c "DELETE FROM readings_heap WHERE ts < now() - interval '300 days'"
psql -q -c "VACUUM readings"
psql -c "SELECT cold_rows, pg_size_pretty(cold_bytes) AS cold, cold_batches FROM omendb_tier_stats('readings')"
psql -c "SELECT (SELECT count(*) FROM readings) AS tiered_rows, (SELECT count(*) FROM readings_heap) AS heap_rows"
