#!/usr/bin/env bash
# bench/insert_bench.sh: single-row inserts into a learned (dense) index against btree, at the right
# edge (sequential keys) and at random keys, with and without omendb preloaded (issue "Learned index
# on a production key column", point 3; docs/bench-pg.md, "Single-row inserts").
#
#   sudo bash bench/insert_bench.sh                                   # 1M and 10M rows, ~15 min
#   sudo ROWS_LIST=1000000 PRELOADS=0 ROUNDS=3 bash bench/insert_bench.sh
#
# Per row count: three tables of that many sequential int8 keys (k, v): one under a learned index
# on k, one under a btree, one with no index. Per preload setting (the cluster restarted with or
# without shared_preload_libraries = omendb: omendb's WAL records or GenericXLog), ROUNDS pgbench
# runs of DURATION s (-M prepared, CLIENTS clients, synchronous_commit off) in which each client
# picks, per transaction, one of six scripts at random: the next sequence value into each table,
# and a random key in 1..ROWS into each table. Every script's inserts thus share the machine's
# state of the moment (the machine is shared and noisy); a script's figure is its mean latency
# (pgbench -l). The ratio is the median of the rounds' btree latency over learned latency (a TPS
# ratio at equal clients; target >= 1.0); the index's own cost is a script's latency less the
# no-index table's in the same round. Tables grow by the rows inserted as the rounds go.
# Writes bench/out/insert_bench.csv. Environment: ROWS_LIST PRELOADS ROUNDS DURATION CLIENTS PGBIN
# OMEN_SKIP_INSTALL=1 BENCH_OUT. Needs root (the cluster runs as postgres, tests/pgcluster.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS_LIST=${ROWS_LIST:-1000000 10000000}
PRELOADS=${PRELOADS:-0 1}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-2}
export PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
OUT=${BENCH_OUT:-bench/out}
if [ "$(id -u)" -ne 0 ]; then echo "insert_bench.sh: needs root (starts a cluster as postgres)" >&2; exit 1; fi
if [ "${OMEN_SKIP_INSTALL:-0}" != 1 ]; then
  make -s -j2 PG_CONFIG="$PGBIN/pg_config" >/dev/null
  make -s install PG_CONFIG="$PGBIN/pg_config" >/dev/null
fi
mkdir -p "$OUT"
OPTS="-c shared_buffers=2GB -c maintenance_work_mem=512MB -c max_parallel_maintenance_workers=0 \
 -c max_parallel_workers_per_gather=0 -c jit=off -c autovacuum=off -c max_wal_size=16GB -c checkpoint_timeout=1h"
export CLUSTER_OPTS="$OPTS"
source tests/pgcluster.sh
q() { cluster_psql -At -q "$@"; }
step() { echo "-- $(date -u +%H:%M:%S) $*"; }
restart() {  # restart 0|1: without or with omendb preloaded
  local extra=""
  [ "$1" = 1 ] && extra="-c shared_preload_libraries=omendb"
  as_pg "$PGBIN/pg_ctl" -D "$cluster_dir/data" -l "$cluster_dir/server.log" -w -m fast restart \
    -o "-p $PGPORT -k $cluster_dir -c listen_addresses=127.0.0.1 $OPTS $extra" >/dev/null
}
csv=$OUT/insert_bench.csv
echo "rows,preload,keys,learned_tps,btree_tps,learned_over_btree,learned_index_us,btree_index_us,index_us_learned_over_btree" >"$csv"
TABLES=(ln bt no)
SCRIPTS=(seq_ln seq_bt seq_no rand_ln rand_bt rand_no)
logdir=$(as_pg mktemp -d /tmp/omendb-insert.XXXXXX)
q -c "CREATE EXTENSION omendb"

for rows in $ROWS_LIST; do
  step "$rows rows: loading three tables, building learned and btree"
  for t in "${TABLES[@]}"; do
    q -c "DROP TABLE IF EXISTS t_$t" -c "DROP SEQUENCE IF EXISTS t_${t}_seq" \
      -c "CREATE TABLE t_$t AS SELECT g AS k, g AS v FROM generate_series(1, $rows::bigint) g" \
      -c "CREATE SEQUENCE t_${t}_seq START $(( rows + 1 ))"
  done
  q -c "CREATE INDEX t_ln_k ON t_ln USING learned (k)" -c "CREATE INDEX t_bt_k ON t_bt (k)"
  q -c "VACUUM (FREEZE, ANALYZE)" -c "CHECKPOINT"
  for t in "${TABLES[@]}"; do
    echo "INSERT INTO t_$t (k, v) VALUES (nextval('t_${t}_seq'), 0);" | as_pg tee "$logdir/seq_$t.sql" >/dev/null
    printf '\\set k random(1, %s)\nINSERT INTO t_%s (k, v) VALUES (:k, 1);\n' "$rows" "$t" |
      as_pg tee "$logdir/rand_$t.sql" >/dev/null
  done
  for preload in $PRELOADS; do
    restart "$preload"
    declare -A LAT=()
    for ((round = 0; round < ROUNDS; round++)); do
      as_pg rm -f "$logdir"/pgbench_log.*
      (cd "$logdir" && runuser -u postgres -- env PGPORT="$PGPORT" PGHOST="$PGHOST" PGOPTIONS="-c synchronous_commit=off" \
        "$PGBIN/pgbench" -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" -l \
        $(for s in "${SCRIPTS[@]}"; do echo "-f $s.sql"; done) postgres >"$logdir/out.txt" 2>&1) ||
        { echo "insert_bench.sh: pgbench failed:" >&2; cat "$logdir/out.txt" >&2; exit 1; }
      # A log line: client, transaction, latency us, script number, ...
      lat=$(cat "$logdir"/pgbench_log.* | python3 -c "
import statistics, sys
lat = {}
for line in sys.stdin:
    f = line.split()
    lat.setdefault(int(f[3]), []).append(int(f[2]))
print(*[round(statistics.mean(lat[k]), 2) for k in range(int(sys.argv[1]))])" "${#SCRIPTS[@]}")
      read -r -a l <<<"$lat"
      for ((j = 0; j < ${#SCRIPTS[@]}; j++)); do LAT[${SCRIPTS[$j]}]="${LAT[${SCRIPTS[$j]}]:-} ${l[$j]}"; done
      step "  $rows rows, preload $preload, round $((round + 1)), mean latency us (${SCRIPTS[*]}): $lat"
    done
    q -c "SELECT omendb_index_verify('t_ln_k')" >/dev/null
    for keys in seq rand; do
      python3 - "$rows" "$preload" "$keys" "$CLIENTS" "${LAT[${keys}_ln]}" "${LAT[${keys}_bt]}" "${LAT[${keys}_no]}" >>"$csv" <<'PY'
import statistics, sys
rows, preload, keys, clients = sys.argv[1:5]
ln, bt, no = ([float(x) for x in v.split()] for v in sys.argv[5:8])
c = float(clients)
ratio = statistics.median(b / a for a, b in zip(ln, bt))
ln_idx = statistics.median(a - n for a, n in zip(ln, no))
bt_idx = statistics.median(b - n for b, n in zip(bt, no))
print(f"{rows},{preload},{keys},{c * 1e6 / statistics.median(ln):.0f},{c * 1e6 / statistics.median(bt):.0f},"
      f"{ratio:.3f},{ln_idx:.2f},{bt_idx:.2f},{ln_idx / bt_idx if bt_idx > 0 else float('nan'):.3f}")
PY
    done
    q -c "SELECT 'learned after the runs: ' || keys || ' keys, ' || edge_leaves || ' edge leaves, ' || overflow_pages
                 || ' overflow pages, generation ' || generation FROM omendb_index_stats('t_ln_k')"
  done
done
as_pg rm -rf "$logdir"
echo "== rounds=$ROUNDS duration=${DURATION}s clients=$CLIENTS (ratios: medians of the rounds' btree/learned latency; target >= 1.0)"
column -t -s, "$csv"
