#!/usr/bin/env bash
# bench/demo_index.sh ROWS: the index part of `make demo` (bench/demo.sh), in the demo's cluster.
#
# Needs PGHOST/PGPORT of a running cluster with omendb created (bench/demo.sh sets them). Loads an
# `events` table of ROWS rows, builds a btree and a learned index on the same timestamptz column,
# shows the planner choosing the learned index by cost for a point and a range query (nothing is
# disabled: both indexes exist, and the btree plan is shown for comparison inside a rolled-back
# DROP INDEX), omendb_index_stats, the sizes side by side, the sparse layout beside BRIN (size,
# a point lookup's plan and heap pages), then a short bench/pg_compare.sh run in
# its own throwaway cluster with the ratio table. PGBIN: PostgreSQL bin dir (default
# /usr/lib/postgresql/15/bin). DEMO_COMPARE=0 skips the comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:?usage: bench/demo_index.sh ROWS}
: "${PGHOST:?run from bench/demo.sh (PGHOST/PGPORT of the demo cluster)}" "${PGPORT:?}"
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
psql() { "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -U postgres -d postgres "$@"; }

echo "== loading events: $rows rows (one per second from 2026-01-01 with sub-second jitter, 100 devices)"
psql -q <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS events;
CREATE TABLE events (id bigint, ts timestamptz, device int, value float8);
SELECT setseed(0.5) \gset
INSERT INTO events
SELECT g, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' + random() * interval '1 second',
       (random() * 99)::int, random() * 100
FROM generate_series(1, $rows) g;
\timing on
\echo btree build:
CREATE INDEX events_ts_btree ON events USING btree (ts);
\echo learned build:
CREATE INDEX events_ts_learned ON events USING learned (ts);
\timing off
VACUUM ANALYZE events;
SQL

probe=$(psql -At -c "SELECT ts FROM events WHERE id = $(( rows / 2 ))")
point="SELECT * FROM events WHERE ts = '$probe'"
range="SELECT count(*), avg(value) FROM events WHERE ts BETWEEN '$probe' AND timestamptz '$probe' + interval '10 minutes'"
for q in "$point" "$range"; do
  echo
  echo "== $q"
  echo "-- both indexes present; the planner's choice:"
  psql -c "EXPLAIN (ANALYZE, BUFFERS, COSTS ON, TIMING OFF) $q" | sed 's/^/   /'
  echo "-- the btree plan it rejected (learned index dropped inside a transaction that is rolled back):"
  psql -q -c "BEGIN" -c "DROP INDEX events_ts_learned" -c "EXPLAIN (COSTS ON) $q" -c "ROLLBACK" | sed 's/^/   /'
done

echo
echo "== omendb_index_stats('events_ts_learned')"
psql -x -c "SELECT * FROM omendb_index_stats('events_ts_learned')"
echo "== sizes"
psql -c "SELECT pg_size_pretty(pg_relation_size('events')) AS \"table\",
                pg_size_pretty(pg_relation_size('events_ts_btree')) AS btree,
                pg_size_pretty(pg_relation_size('events_ts_learned')) AS learned,
                round(pg_relation_size('events_ts_learned')::numeric / pg_relation_size('events_ts_btree'), 3) AS \"learned/btree\""
psql -At -c "SELECT 'omendb_index_verify: ' || omendb_index_verify('events_ts_learned') || ' items checked'"

echo
echo "== the sparse layout beside BRIN (the rows are in time order): a key range per heap block"
psql -q <<SQL
\timing on
\echo sparse learned build:
CREATE INDEX events_ts_sparse ON events USING learned (ts) WITH (layout = 'sparse');
\echo BRIN (pages_per_range 16) build:
CREATE INDEX events_ts_brin ON events USING brin (ts) WITH (pages_per_range = 16);
\timing off
ANALYZE events;
SQL
psql -c "SELECT pg_size_pretty(pg_relation_size('events_ts_btree')) AS btree,
                pg_size_pretty(pg_relation_size('events_ts_brin')) AS brin16,
                pg_size_pretty(pg_relation_size('events_ts_sparse')) AS sparse,
                round(pg_relation_size('events_ts_sparse')::numeric / pg_relation_size('events_ts_btree'), 5) AS \"sparse/btree\""
for idx in events_ts_sparse events_ts_brin; do
  echo "-- $point, only $idx left (the others dropped in a transaction that is rolled back):"
  others=$(echo events_ts_btree events_ts_learned events_ts_sparse events_ts_brin | tr ' ' '\n' | grep -vx "$idx" | paste -sd, -)
  psql -q -c "BEGIN" -c "DROP INDEX $others" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) $point" -c "ROLLBACK" | sed 's/^/   /'
done
psql -At -c "SELECT 'omendb_index_verify(sparse): ' || omendb_index_verify('events_ts_sparse') || ' rows and entries checked'"
psql -q -c "DROP INDEX events_ts_sparse, events_ts_brin"

if [ "${DEMO_COMPARE:-1}" = 1 ]; then
  qrows=$(( rows < 1000000 ? rows : 1000000 ))
  echo
  echo "== quick learned vs btree comparison (bench/pg_compare.sh: $qrows rows, 5 s per pgbench run, one repeat;"
  echo "   the full run is 'sudo bash bench/pg_compare.sh', docs/bench-pg.md)"
  OMEN_SKIP_INSTALL=1 PGBIN=$PGBIN BENCH_OUT=bench/out/demo ROWS=$qrows DURATION=5 REPEATS=1 BUILD_REPEATS=1 PROBE_KEYS=50000 \
    bash bench/pg_compare.sh | grep -v '^-- '
fi
