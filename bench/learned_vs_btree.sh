#!/usr/bin/env bash
# Learned index vs btree on one int8 column: build time, size, point and short-range lookup
# throughput (pgbench, prepared statements, 1 client, index scans forced on), then single-row
# insert throughput (after the lookups, so the inserts land in leaf gaps and overflow pages).
#   bash bench/learned_vs_btree.sh [rows=1000000] [seconds=10]
# Runs a throwaway cluster as the `postgres` user; needs omendb installed (make install).
# Prints one markdown table.
set -euo pipefail
rows=${1:-1000000}
secs=${2:-10}
pgbin=${PGBIN:-/usr/lib/postgresql/15/bin}
dir=$(mktemp -d /tmp/omendb-bench.XXXXXX)
chown postgres: "$dir"
port=$((20000 + RANDOM % 10000))
as_pg() { runuser -u postgres -- "$@"; }
as_pg "$pgbin/initdb" -D "$dir/data" >/dev/null
as_pg "$pgbin/pg_ctl" -D "$dir/data" -o "-p $port -k $dir -c shared_buffers=256MB" -l "$dir/log" start >/dev/null
trap 'as_pg "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null; rm -rf "$dir"' EXIT
psql() { as_pg "$pgbin/psql" -X -q -h "$dir" -p "$port" -d postgres -v ON_ERROR_STOP=1 "$@"; }

psql -c "CREATE EXTENSION omendb"
for am in btree learned; do
  psql -c "CREATE TABLE t_$am (id int8, k int8, pad text)" \
       -c "INSERT INTO t_$am SELECT i, (i::int8 * 7919) % $rows * 16, 'x' FROM generate_series(1, $rows) i" \
       -c "VACUUM ANALYZE t_$am"
done
declare -A build size point range insert
for am in btree learned; do
  start=$(date +%s.%N)
  psql -c "CREATE INDEX t_${am}_k ON t_$am USING $am (k)"
  build[$am]=$(echo "$(date +%s.%N) - $start" | bc)
  size[$am]=$(psql -At -c "SELECT pg_size_pretty(pg_relation_size('t_${am}_k'))")
  psql -c "SELECT count(*) FROM t_$am WHERE k >= 0" >/dev/null  # warm the cache
  echo "\\set k random(0, $((rows - 1)))" > "$dir/point_$am.sql"
  echo "SELECT id FROM t_$am WHERE k = :k * 16;" >> "$dir/point_$am.sql"
  echo "\\set k random(0, $((rows - 1)))" > "$dir/range_$am.sql"
  echo "SELECT count(*) FROM t_$am WHERE k BETWEEN :k * 16 AND :k * 16 + 1600;" >> "$dir/range_$am.sql"
  chown postgres: "$dir"/*.sql
  echo "\\set k random(0, $((rows * 16)))" > "$dir/insert_$am.sql"
  echo "INSERT INTO t_$am VALUES (0, :k, 'y');" >> "$dir/insert_$am.sql"
  chown postgres: "$dir"/*.sql
  for kind in point range insert; do
    tps=$(PGOPTIONS='-c enable_seqscan=off -c enable_bitmapscan=off -c synchronous_commit=off' as_pg "$pgbin/pgbench" -n -M prepared \
            -c 1 -T "$secs" -f "$dir/${kind}_$am.sql" -h "$dir" -p "$port" postgres |
          sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    case $kind in point) point[$am]=$tps ;; range) range[$am]=$tps ;; insert) insert[$am]=$tps ;; esac
  done
done
echo
echo "rows=$rows, ${secs}s per run, 1 client, int8 keys"
echo "| index | build s | size | point lookups tps | 100-row ranges tps | inserts tps |"
echo "|---|---|---|---|---|---|"
for am in btree learned; do
  echo "| $am | ${build[$am]} | ${size[$am]} | ${point[$am]} | ${range[$am]} | ${insert[$am]} |"
done
psql -c "SELECT segments, model_epsilon, mean_error, leaf_pages, overflow_pages, model_pages, generation FROM omendb_index_stats('t_learned_k')"
