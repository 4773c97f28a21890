#!/usr/bin/env bash
# bench/leaf_size_bench.sh: learned index bytes against btree's on the data shapes of the issue
# "Leaves a third of btree's size" (docs/bench-pg.md, "Leaf size by data shape"), and point-lookup
# TPS on each, in one throwaway cluster.
#
#   sudo bash bench/leaf_size_bench.sh                               # 10M rows, seven datasets
#   sudo ROWS=1000000 DATASETS="int8_seq ts_dup4" bash bench/leaf_size_bench.sh
#
# Datasets (row g = 1..ROWS inserted in g order, so heap order is g order):
#   int8_rand    bench_key(g): distinct keys spread like uniform random ones over [0, 2^62)
#                (bench/sql/pg_compare_setup.sql), in random heap order
#   int8_seq     g: keys in heap order
#   ts_dup4      timestamptz, 4 rows per distinct second, in heap order
#   ts_dup4_us   the same with each value moved by a random 0-0.5 s in microseconds (no common unit)
#   uuid_rand    md5(g) as a uuid: uniform random 128-bit keys (the index keeps a 64-bit prefix)
#   dup_heavy    int8, 8192 distinct values of ~ROWS/8192 rows each, in random heap order
#   real_shaped  int8 runs of 1000 rows 10^6 apart, each run's own stride 1-8: clustered runs with
#                skewed gaps, in heap order
# Per dataset two identical tables (k, v), one under each index. Bytes are pg_relation_size.
# Point lookups: ROUNDS rounds, the two indexes in alternating order, each a DURATION s pgbench -M
# prepared run of CLIENTS clients looking up the key of a random row; the ratio is the median of
# the rounds' ratios (ROUNDS=0: bytes only). Writes bench/out/leaf_size_bench.csv. Environment: ROWS DATASETS ROUNDS
# DURATION CLIENTS PGBIN OMEN_SKIP_INSTALL=1 BENCH_OUT. Needs root (tests/pgcluster.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-10000000}
DATASETS=${DATASETS:-int8_rand int8_seq ts_dup4 ts_dup4_us uuid_rand dup_heavy real_shaped}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-2}
export PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
OUT=${BENCH_OUT:-bench/out}
if [ "$(id -u)" -ne 0 ]; then echo "leaf_size_bench.sh: needs root (starts a cluster as postgres)" >&2; exit 1; fi
if [ "${OMEN_SKIP_INSTALL:-0}" != 1 ]; then
  make -s -j2 PG_CONFIG="$PGBIN/pg_config" >/dev/null
  make -s install PG_CONFIG="$PGBIN/pg_config" >/dev/null
fi
mkdir -p "$OUT"
export CLUSTER_OPTS="-c shared_buffers=2GB -c maintenance_work_mem=2GB -c max_parallel_maintenance_workers=0 \
 -c jit=off -c autovacuum=off -c max_wal_size=32GB -c checkpoint_timeout=1h"
source tests/pgcluster.sh
q() { cluster_psql -At -q "$@"; }
step() { echo "-- $(date -u +%H:%M:%S) $*"; }
key_type() { case "$1" in ts_*) echo timestamptz ;; uuid_*) echo uuid ;; *) echo int8 ;; esac; }
key_sql() {  # the key of row g
  case "$1" in
    int8_rand) echo "bench_key(g)" ;;
    int8_seq) echo "g" ;;
    ts_dup4) echo "'2020-01-01'::timestamptz + ((g - 1) / 4) * interval '1 second'" ;;
    ts_dup4_us) echo "'2020-01-01'::timestamptz + ((g - 1) / 4) * interval '1 second'
                     + (hashint8((g - 1) / 4) & 524287) * interval '1 microsecond'" ;;
    uuid_rand) echo "md5(g::text)::uuid" ;;
    dup_heavy) echo "hashint8(g) & 8191" ;;
    real_shaped) echo "(g / 1000) * 1000000 + (g % 1000) * (1 + (hashint8(g / 1000) & 7))" ;;
  esac
}
target() {
  case "$1" in
    int8_rand) echo 0.30 ;; int8_seq) echo 0.15 ;; ts_dup4*) echo 0.35 ;; uuid_rand) echo 0.40 ;; *) echo "" ;;
  esac
}
q -c "CREATE EXTENSION omendb"
q < bench/sql/pg_compare_setup.sql >/dev/null  # stdin: the postgres user may not read the checkout
work=$(as_pg mktemp -d /tmp/omendb-leaf.XXXXXX)
csv=$OUT/leaf_size_bench.csv
echo "dataset,rows,btree_bytes,learned_bytes,bytes_ratio,target,btree_tps,learned_tps,tps_ratio" >"$csv"
declare -A TABLE=([btree]=ls_bt [learned]=ls_ln)

for ds in $DATASETS; do
  step "$ds: loading $ROWS rows"
  q -c "DROP TABLE IF EXISTS ls_bt, ls_ln" -c "CREATE TABLE ls_bt (k $(key_type "$ds"), v int8)" \
    -c "INSERT INTO ls_bt SELECT $(key_sql "$ds"), g FROM generate_series(1, $ROWS::bigint) g" \
    -c "CREATE TABLE ls_ln AS SELECT * FROM ls_bt" \
    -c "VACUUM (FREEZE, ANALYZE) ls_bt" -c "VACUUM (FREEZE, ANALYZE) ls_ln"
  declare -A SIZE=() TPS=()
  for idx in btree learned; do
    q -c "CREATE INDEX ${TABLE[$idx]}_k ON ${TABLE[$idx]} USING $idx (k)"
    SIZE[$idx]=$(q -c "SELECT pg_relation_size('${TABLE[$idx]}_k')")
    printf '\\set g random(1, %s)\nSELECT v FROM %s WHERE k = (SELECT %s FROM (SELECT :g::int8 AS g) s);\n' \
      "$ROWS" "${TABLE[$idx]}" "$(key_sql "$ds" | tr -s ' \n' ' ')" | as_pg tee "$work/$idx.sql" >/dev/null
  done
  ratio=$(python3 -c "print(round(${SIZE[learned]} / ${SIZE[btree]}, 4))")
  step "  btree ${SIZE[btree]} bytes, learned ${SIZE[learned]} bytes: $ratio (target $(target "$ds"))"
  q -c "CHECKPOINT"
  for ((round = 0; round < ROUNDS; round++)); do
    order="learned btree"; [ $(( round % 2 )) = 1 ] && order="btree learned"
    for idx in $order; do
      j=$(( CLIENTS < 2 ? CLIENTS : 2 ))
      out=$(as_pg "$PGBIN/pgbench" -n -M prepared -c "$CLIENTS" -j "$j" -T "$DURATION" -f "$work/$idx.sql" postgres 2>&1)
      tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -1)
      TPS[$idx]="${TPS[$idx]:-} $tps"
      step "  round $((round + 1)), $idx: $tps TPS"
    done
  done
  python3 - "$ds,$ROWS,${SIZE[btree]},${SIZE[learned]},$ratio,$(target "$ds")" "${TPS[btree]:-}" "${TPS[learned]:-}" >>"$csv" <<'PY'
import statistics, sys
bt = [float(x) for x in sys.argv[2].split()]
ln = [float(x) for x in sys.argv[3].split()]
if not bt:  # ROUNDS=0: bytes only
    print(sys.argv[1], "", "", "", sep=",")
else:
    print(sys.argv[1], f"{statistics.median(bt):.0f}", f"{statistics.median(ln):.0f}",
          f"{statistics.median(a / b for a, b in zip(ln, bt)):.3f}", sep=",")
PY
  q -c "DROP TABLE ls_bt, ls_ln"
done
as_pg rm -rf "$work"
echo "== rows=$ROWS rounds=$ROUNDS duration=${DURATION}s clients=$CLIENTS (bytes: learned / btree; tps: learned / btree)"
column -t -s, "$csv"
