#!/usr/bin/env bash
# bench/append_bench.sh: appends at the right edge (timestamps, serial ids), learned vs btree, in one
# throwaway cluster (docs/bench-pg.md, "Appends at the right edge").
#
#   sudo bash bench/append_bench.sh [--rows N] [--append M] [--duration S] [--repeats R] [--preload]
#
# Two identical tables of N sequential int8 keys, one with a btree on k, one with a learned index.
# 1. Size: M more keys appended in order (one INSERT .. SELECT: one aminsert per row), then each
#    index's size against a fresh build of the same rows (REINDEX). Target: learned appended
#    <= 1.3x learned fresh.
# 2. Pages a probe of the most recently appended key reads (EXPLAIN ANALYZE BUFFERS, index scan):
#    O(1), not O(M).
# 3. pgbench -M prepared single-row inserts at the right edge (nextval), CLIENTS clients, R repeats
#    of S seconds per index in ABBA order; median TPS and learned/btree (target >= 0.8).
# --preload: shared_preload_libraries = omendb, so inserts log with the custom WAL resource manager
# (docs/index-am.md); without it they use GenericXLog.
# Writes bench/out/append_bench.csv. Environment: ROWS APPEND DURATION REPEATS CLIENTS PGBIN
# PRELOAD=1 OMEN_SKIP_INSTALL=1 BENCH_OUT. Needs root (the cluster runs as postgres, tests/pgcluster.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-1000000}
APPEND=${APPEND:-}
DURATION=${DURATION:-10}
REPEATS=${REPEATS:-3}
CLIENTS=${CLIENTS:-2}
PRELOAD=${PRELOAD:-0}
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS=$2; shift 2 ;;
    --append) APPEND=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --preload) PRELOAD=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "append_bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
APPEND=${APPEND:-$ROWS}
export PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
OUT=${BENCH_OUT:-bench/out}
SHARED_BUFFERS=${SHARED_BUFFERS:-$(( (ROWS + APPEND) * 200 / 1048576 < 256 ? 256 : (ROWS + APPEND) * 200 / 1048576 ))MB}

if [ "$(id -u)" -ne 0 ]; then echo "append_bench.sh: needs root (starts a cluster as postgres)" >&2; exit 1; fi
if [ "${OMEN_SKIP_INSTALL:-0}" != 1 ]; then
  make -s -j2 PG_CONFIG="$PGBIN/pg_config" >/dev/null
  make -s install PG_CONFIG="$PGBIN/pg_config" >/dev/null
fi
mkdir -p "$OUT"
export CLUSTER_OPTS="-c shared_buffers=$SHARED_BUFFERS -c maintenance_work_mem=512MB \
 -c max_parallel_maintenance_workers=0 -c max_parallel_workers_per_gather=0 -c jit=off \
 -c autovacuum=off -c max_wal_size=16GB -c checkpoint_timeout=1h"
[ "$PRELOAD" = 1 ] && CLUSTER_OPTS="$CLUSTER_OPTS -c shared_preload_libraries=omendb"
source tests/pgcluster.sh
work=$(mktemp -d /tmp/omendb-append.XXXXXX)
trap 'cluster_stop; rm -rf "$work"' EXIT
chmod 755 "$work"
q() { cluster_psql -At -q "$@"; }
step() { echo "-- $(date -u +%H:%M:%S) $*"; }
csv=$OUT/append_bench.csv
echo "metric,btree,learned,learned_over_btree" > "$csv"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

step "loading $ROWS sequential keys into two tables; building btree and learned"
q -c "CREATE EXTENSION omendb"
for t in t_bt t_ln; do
  q -c "CREATE TABLE $t AS SELECT g AS k, g AS v FROM generate_series(1, $ROWS::bigint) g" \
    -c "CREATE SEQUENCE ${t}_seq START $(( ROWS + APPEND + 1 ))"
done
q -c "CREATE INDEX t_bt_k ON t_bt USING btree (k)" -c "CREATE INDEX t_ln_k ON t_ln USING learned (k)"
q -c "VACUUM ANALYZE" -c "CHECKPOINT"
built_bt=$(q -c "SELECT pg_relation_size('t_bt_k')"); built_ln=$(q -c "SELECT pg_relation_size('t_ln_k')")

step "appending $APPEND keys in order (one INSERT .. SELECT per table)"
for t in t_bt t_ln; do
  s=$(date +%s.%N)
  q -c "INSERT INTO $t SELECT g, g FROM generate_series($(( ROWS + 1 ))::bigint, $(( ROWS + APPEND ))::bigint) g"
  e=$(date +%s.%N)
  eval "append_s_$t=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }')"
done
app_bt=$(q -c "SELECT pg_relation_size('t_bt_k')"); app_ln=$(q -c "SELECT pg_relation_size('t_ln_k')")
stats=$(q -c "SELECT 'learned after append: ' || keys || ' keys, ' || leaf_pages || ' leaf pages (' || edge_leaves || ' edge), '
              || overflow_pages || ' overflow, ' || dir_pages || ' directory, generation ' || generation FROM omendb_index_stats('t_ln_k')")
echo "   $stats"
q -c "SELECT omendb_index_verify('t_ln_k')" >/dev/null

step "pages read by a probe of the last appended key"
probe_buffers() {  # probe_buffers TABLE KEY -> shared buffers of the index scan (index + 1 heap page)
  q -c "SET enable_seqscan = off" -c "SET enable_bitmapscan = off" -c "SET enable_indexonlyscan = off" \
    -c "SELECT v FROM $1 WHERE k = $2" \
    -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) SELECT v FROM $1 WHERE k = $2" |
    tr -d ' \n' | grep -oE '"SharedHitBlocks":[0-9]+,"SharedReadBlocks":[0-9]+' | head -1 |
    sed 's/[^0-9,]//g' | awk -F, '{ print $1 + $2 }'
}
last=$(( ROWS + APPEND ))
buf_bt=$(probe_buffers t_bt "$last"); buf_ln=$(probe_buffers t_ln "$last")
mid=$(( ROWS + APPEND / 2 ))
buf_bt_mid=$(probe_buffers t_bt "$mid"); buf_ln_mid=$(probe_buffers t_ln "$mid")

step "REINDEX: a fresh build of the same rows"
q -c "REINDEX INDEX t_bt_k" -c "REINDEX INDEX t_ln_k"
fresh_bt=$(q -c "SELECT pg_relation_size('t_bt_k')"); fresh_ln=$(q -c "SELECT pg_relation_size('t_ln_k')")
q -c "VACUUM ANALYZE" -c "CHECKPOINT"

pgb() {  # pgb TABLE SECONDS -> tps; commits do not wait for the WAL flush (inserts measure the index)
  echo "INSERT INTO $1 (k, v) VALUES (nextval('$1_seq'), 0);" > "$work/ins_$1.pgbench"
  PGOPTIONS="-c synchronous_commit=off" "$PGBIN/pgbench" -h "$PGHOST" -p "$PGPORT" -U postgres -n -M prepared \
    -c "$CLIENTS" -j "$CLIENTS" -T "$2" -f "$work/ins_$1.pgbench" postgres 2>&1 | tee "$work/pgbench.log" |
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -1 | grep . ||
    { echo "append_bench.sh: pgbench failed:" >&2; cat "$work/pgbench.log" >&2; exit 1; }
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
step "pgbench single-row inserts at the right edge: $CLIENTS clients, ${DURATION}s x $REPEATS per index (ABBA)"
tps_bt=""; tps_ln=""
for r in $(seq 1 "$REPEATS"); do
  if [ $(( r % 2 )) = 1 ]; then order="t_bt t_ln"; else order="t_ln t_bt"; fi
  for t in $order; do
    v=$(pgb "$t" "$DURATION")
    step "  $t #$r: $v tps"
    if [ "$t" = t_bt ]; then tps_bt="$tps_bt $v"; else tps_ln="$tps_ln $v"; fi
  done
done
med_bt=$(echo "$tps_bt" | median); med_ln=$(echo "$tps_ln" | median)
q -c "SELECT omendb_index_verify('t_ln_k')" >/dev/null
after=$(q -c "SELECT 'learned after pgbench: ' || keys || ' keys, ' || edge_leaves || ' edge leaves, ' || overflow_pages || ' overflow pages' FROM omendb_index_stats('t_ln_k')")
echo "   $after"

{
  echo "index bytes built ($ROWS rows),$built_bt,$built_ln,$(ratio "$built_ln" "$built_bt")"
  echo "index bytes after appending $APPEND,$app_bt,$app_ln,$(ratio "$app_ln" "$app_bt")"
  echo "index bytes after REINDEX,$fresh_bt,$fresh_ln,$(ratio "$fresh_ln" "$fresh_bt")"
  echo "appended / REINDEX,$(ratio "$app_bt" "$fresh_bt"),$(ratio "$app_ln" "$fresh_ln"),"
  echo "append seconds (INSERT .. SELECT),${append_s_t_bt},${append_s_t_ln},$(ratio "$append_s_t_ln" "$append_s_t_bt")"
  echo "buffers: probe of the last key,$buf_bt,$buf_ln,"
  echo "buffers: probe of a key appended midway,$buf_bt_mid,$buf_ln_mid,"
  echo "single-row insert TPS (median),$med_bt,$med_ln,$(ratio "$med_ln" "$med_bt")"
} >> "$csv"
echo "== rows=$ROWS append=$APPEND preload=$PRELOAD clients=$CLIENTS duration=${DURATION}s repeats=$REPEATS shared_buffers=$SHARED_BUFFERS"
column -t -s, "$csv"
echo "targets: learned appended / REINDEX <= 1.3; probe buffers O(1); insert TPS learned/btree >= 0.8"
