#!/usr/bin/env bash
# bench/fdw_bench.sh: the cost of the postgres_fdw hop for point lookups through learned indexes
# (README, "Scaling out"; docs/bench-pg.md).
#
#   sudo bash bench/fdw_bench.sh               # ROWS=1000000 DURATION=10 CLIENTS=2 ROUNDS=3
#   sudo ROWS=10000000 ROUNDS=5 bash bench/fdw_bench.sh
#
# Three throwaway clusters on this machine, each owned by the postgres user in a temp dir, on a
# free loopback port: a node and two shards. The node holds t_single (ROWS rows, a learned index
# on k) and, as the coordinator, t_sharded: a table partitioned by range of k whose two
# partitions are postgres_fdw foreign tables, one per shard; each shard holds its half of the same
# rows in a table with its own learned index on k. The foreign servers connect over TCP to
# 127.0.0.1. The same pgbench point-lookup script (-M prepared, a random existing k) runs against
# t_single and against t_sharded, ROUNDS rounds of DURATION s each, alternating which goes first.
# Reported: the median TPS of each, the median of the rounds' ratios sharded/single, and the
# hop's cost per lookup (CLIENTS / TPS, sharded less single). On one machine the ratio is below
# 1: it is the price of the hop (the coordinator's executor, postgres_fdw's remote transaction and
# cursor, a shard backend, all on the same cores), not a speed-up. Before timing it checks that
# the coordinator sends the condition to the shards (EXPLAIN VERBOSE), that each shard plans its
# learned index for it, and that 1000 random keys give the same rows both ways; afterwards, that
# the shards' pg_stat_user_indexes counted the lookups. Writes bench/out/fdw_bench.csv.
# Environment: ROWS DURATION CLIENTS ROUNDS PGBIN OMEN_SKIP_INSTALL.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-2}
ROUNDS=${ROUNDS:-3}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ "$(id -u)" -ne 0 ]; then echo "fdw_bench.sh: needs root (starts clusters as postgres)" >&2; exit 1; fi
if [ "${OMEN_SKIP_INSTALL:-0}" != 1 ]; then
  make -s -j2 PG_CONFIG="$PGBIN/pg_config" >/dev/null
  make -s install PG_CONFIG="$PGBIN/pg_config" >/dev/null
fi
OPTS="-c shared_buffers=$(( ROWS * 150 / 1048576 < 128 ? 128 : ROWS * 150 / 1048576 ))MB \
 -c maintenance_work_mem=256MB -c max_parallel_workers_per_gather=0 -c jit=off -c autovacuum=off \
 -c max_wal_size=8GB -c checkpoint_timeout=1h"

# Clusters, as tests/pgcluster.sh starts one: DIR[name], PORT[name]; all stopped and removed on exit.
declare -A DIR PORT
stop_all() {
  for n in "${!DIR[@]}"; do
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "${DIR[$n]}/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "${DIR[$n]}"
  done
}
trap stop_all EXIT
start_cluster() {  # name
  local d p
  d=$(mktemp -d "/tmp/omendb-fdw-$1.XXXXXX")
  chown postgres: "$d"
  DIR[$1]=$d
  p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  PORT[$1]=$p
  (cd "$d" && runuser -u postgres -- "$PGBIN/initdb" -D "$d/data" -A trust -U postgres >/dev/null)
  (cd "$d" && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$d/data" -l "$d/server.log" -w start \
    -o "-p $p -k $d -c listen_addresses=127.0.0.1 $OPTS" >/dev/null)
}
# psql on cluster $1 as postgres (SQL on stdin or -c: the checkout may be unreadable to postgres)
q() {
  local n=$1; shift
  (cd "${DIR[$n]}" && runuser -u postgres -- "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -At -q \
    -h "${DIR[$n]}" -p "${PORT[$n]}" -d postgres "$@")
}
step() { echo "-- $(date -u +%H:%M:%S) $*"; }

for n in node shard1 shard2; do start_cluster "$n"; done
half=$(( ROWS / 2 ))
rows_sql() {  # first last -> the rows k in [first, last]: k, v, a short text
  echo "SELECT g, (g * 7919) % 1000003, 'row-' || g FROM generate_series($1::bigint, $2) g"
}
step "loading $ROWS rows on the node, $half and $(( ROWS - half )) on the shards"
q node <<SQL
CREATE EXTENSION omendb;
CREATE EXTENSION postgres_fdw;
CREATE TABLE t_single (k int8, v int8, note text);
INSERT INTO t_single $(rows_sql 1 "$ROWS");
CREATE INDEX t_single_k ON t_single USING learned (k);
VACUUM (FREEZE, ANALYZE) t_single;
SQL
declare -A FIRST=([shard1]=1 [shard2]=$(( half + 1 ))) LAST=([shard1]=$half [shard2]=$ROWS)
for s in shard1 shard2; do
  q "$s" <<SQL
CREATE EXTENSION omendb;
CREATE TABLE t (k int8, v int8, note text);
INSERT INTO t $(rows_sql "${FIRST[$s]}" "${LAST[$s]}");
CREATE INDEX t_k ON t USING learned (k);
VACUUM (FREEZE, ANALYZE) t;
SQL
  q node <<SQL
CREATE SERVER $s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '${PORT[$s]}', dbname 'postgres');
CREATE USER MAPPING FOR CURRENT_USER SERVER $s;
SQL
done
q node <<SQL
CREATE TABLE t_sharded (k int8, v int8, note text) PARTITION BY RANGE (k);
CREATE FOREIGN TABLE t_sharded_1 PARTITION OF t_sharded FOR VALUES FROM (MINVALUE) TO ($(( half + 1 )))
  SERVER shard1 OPTIONS (table_name 't');
CREATE FOREIGN TABLE t_sharded_2 PARTITION OF t_sharded FOR VALUES FROM ($(( half + 1 ))) TO (MAXVALUE)
  SERVER shard2 OPTIONS (table_name 't');
ANALYZE t_sharded;
CHECKPOINT;
SQL

# Checks before timing: pushdown, the shards' plans, the same rows both ways.
key=$(( half + 12345 > ROWS ? ROWS : half + 12345 ))
plan=$(q node -c "EXPLAIN VERBOSE SELECT * FROM t_sharded WHERE k = $key")
echo "$plan" | grep -q "Foreign Scan on public.t_sharded_2" && echo "$plan" | grep -q "Remote SQL: .*WHERE ((k = $key))" ||
  { echo "fdw_bench.sh: the coordinator does not send k = $key to shard2:" >&2; echo "$plan" >&2; exit 1; }
echo "$plan" | grep -q "t_sharded_1" && { echo "fdw_bench.sh: shard1 not pruned:" >&2; echo "$plan" >&2; exit 1; }
for s in shard1 shard2; do
  remote=$(q "$s" -c "EXPLAIN SELECT k, v, note FROM public.t WHERE ((k = ${FIRST[$s]}))")
  echo "$remote" | grep -q "Index Scan using t_k on t" ||
    { echo "fdw_bench.sh: $s does not plan its learned index:" >&2; echo "$remote" >&2; exit 1; }
done
same=$(q node <<SQL
SELECT setseed(0.5);
CREATE TEMP TABLE probe AS SELECT 1 + (random() * ($ROWS - 1))::bigint AS k FROM generate_series(1, 1000);
SELECT (SELECT count(*) || ':' || sum(v) || ':' || sum(length(note)) FROM t_single JOIN probe USING (k))
     = (SELECT count(*) || ':' || sum(v) || ':' || sum(length(note)) FROM t_sharded JOIN probe USING (k));
SQL
)
[ "$(echo "$same" | tail -1)" = t ] || { echo "fdw_bench.sh: 1000 random keys differ between t_single and t_sharded" >&2; exit 1; }
echo "checks: the condition is pushed down, each shard plans its learned index, 1000 random keys agree"

scans() {  # the shards' learned-index scans so far
  local total=0
  for s in shard1 shard2; do
    total=$(( total + $(q "$s" -c "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 't_k'") ))
  done
  echo "$total"
}
script=$(runuser -u postgres -- mktemp -d /tmp/omendb-fdw-pgbench.XXXXXX)
trap 'stop_all; rm -rf "$script"' EXIT
for t in t_single t_sharded; do
  printf '\\set k random(1, %s)\nSELECT k, v, note FROM %s WHERE k = :k;\n' "$ROWS" "$t" |
    runuser -u postgres -- tee "$script/$t.sql" >/dev/null
done
tps() {  # table seconds -> TPS and transactions, one pgbench run against the node
  (cd "$script" && runuser -u postgres -- "$PGBIN/pgbench" -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$2" \
    -f "$script/$1.sql" -h "${DIR[node]}" -p "${PORT[node]}" postgres 2>/dev/null) |
    awk '/^number of transactions actually processed/ { n = $NF } /^tps = / { t = $3 } END { printf "%.1f %d\n", t, n }'
}
step "warm-up: 3 s each"
tps t_single 3 >/dev/null
tps t_sharded 3 >/dev/null

declare -A RUNS=([t_single]="" [t_sharded]="")
scans0=$(scans)
sharded_tx=0
for ((r = 1; r <= ROUNDS; r++)); do
  if (( r % 2 )); then order="t_single t_sharded"; else order="t_sharded t_single"; fi
  for t in $order; do
    read -r v n < <(tps "$t" "$DURATION")
    RUNS[$t]="${RUNS[$t]} $v"
    [ "$t" = t_sharded ] && sharded_tx=$(( sharded_tx + n ))
    step "round $r $t: $v TPS"
  done
done
sleep 1  # the shards' backends flush their counters when the coordinator's sessions end
scanned=$(( $(scans) - scans0 ))
echo "the shards' learned index scans during the sharded runs: $scanned (the runs' transactions: $sharded_tx)"
(( scanned >= sharded_tx )) || { echo "fdw_bench.sh: fewer shard index scans than lookups" >&2; exit 1; }

read -r s_med c_med ratio hop_us <<<"$(python3 -c "
import statistics, sys
a, b = ([float(x) for x in v.split()] for v in sys.argv[1:3])
clients = float(sys.argv[3])
sm, cm = statistics.median(a), statistics.median(b)
print(round(sm, 1), round(cm, 1), round(statistics.median(y / x for x, y in zip(a, b)), 4),
      round(clients * 1e6 / cm - clients * 1e6 / sm, 1))" "${RUNS[t_single]}" "${RUNS[t_sharded]}" "$CLIENTS")"
mkdir -p bench/out
csv=bench/out/fdw_bench.csv
{
  echo "rows,clients,duration_s,rounds,target,tps_median,tps_rounds,ratio_to_single,hop_us"
  echo "$ROWS,$CLIENTS,$DURATION,$ROUNDS,single,$s_med,${RUNS[t_single]# },1,0"
  echo "$ROWS,$CLIENTS,$DURATION,$ROUNDS,two_fdw_shards,$c_med,${RUNS[t_sharded]# },$ratio,$hop_us"
} >"$csv"
printf '\n%s rows, %s clients, %s rounds of %s s (pgbench -M prepared, point lookup on k)\n' "$ROWS" "$CLIENTS" "$ROUNDS" "$DURATION"
printf '%-32s %12s   %-30s %s\n' target "TPS (median)" "rounds" "ratio to single (median of rounds)"
printf '%-32s %12s   %-30s %s\n' "one node, learned index" "$s_med" "${RUNS[t_single]# }" "1"
printf '%-32s %12s   %-30s %s\n' "coordinator + 2 fdw shards" "$c_med" "${RUNS[t_sharded]# }" "$ratio"
echo "the hop's cost per lookup: $hop_us us (CLIENTS / TPS, sharded less single); $csv"
