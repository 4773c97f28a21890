#!/usr/bin/env bash
# bench/build_memory.sh: CREATE INDEX time, btree vs learned, with the learned pairs in memory and
# spilled (docs/bench-pg.md, "Build memory: in memory vs spilled").
#
#   sudo bash bench/build_memory.sh [--rows N] [--mwm "512MB 64MB"] [--datasets "rand seq"]
#
# One throwaway cluster (tests/pgcluster.sh; PGBIN selects the PostgreSQL installation, omendb
# installed there), tables of N rows with random keys (bench_key, as pg_compare.sh) and sequential
# keys. For each dataset and maintenance_work_mem, 2 builds of each index, alternating (ABBA).
# Prints CSV: dataset,mwm,am,repeat,seconds,path — path is learned's DEBUG1 line ("in memory",
# "temporary file" for pairs already in key order, "tuplesort").
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=10000000
MWM="512MB 64MB"
DATASETS="rand seq"
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS=$2; shift 2 ;;
    --mwm) MWM=$2; shift 2 ;;
    --datasets) DATASETS=$2; shift 2 ;;
    *) echo "usage: $0 [--rows N] [--mwm \"512MB 64MB\"] [--datasets \"rand seq\"]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root (the cluster runs as postgres): sudo bash $0 $*" >&2; exit 1; }
CLUSTER_OPTS="-c shared_buffers=1GB -c max_parallel_maintenance_workers=0 -c jit=off -c max_wal_size=8GB -c log_temp_files=-1"
source tests/pgcluster.sh
q() { cluster_psql -At -q "$@"; }
err=$(mktemp)
trap 'cluster_stop; rm -f "$err"' EXIT
q < bench/sql/pg_compare_setup.sql  # stdin: the postgres user may not be able to read the checkout
for d in $DATASETS; do
  case $d in
    rand) q -c "CREATE TABLE t_rand AS SELECT bench_key(g) AS k, g AS v FROM generate_series(1, $ROWS::bigint) g" ;;
    seq) q -c "CREATE TABLE t_seq AS SELECT g AS k, g AS v FROM generate_series(1, $ROWS::bigint) g" ;;
    *) echo "unknown dataset $d" >&2; exit 2 ;;
  esac
done
q -c "VACUUM (FREEZE, ANALYZE)" -c CHECKPOINT
echo "dataset,mwm,am,repeat,seconds,path"
for d in $DATASETS; do
  for mwm in $MWM; do
    for r in 1 2; do
      if [ $r = 1 ]; then ams="btree learned"; else ams="learned btree"; fi
      for am in $ams; do
        s=$(q 2>"$err" <<SQL
SET maintenance_work_mem = '$mwm';
SET client_min_messages = debug1;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
CREATE INDEX t_${d}_i ON t_$d USING $am (k);
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 3);
SQL
)
        path=-
        grep -q "sorted in memory" "$err" && path="in memory"
        grep -q "temporary file" "$err" && path="temporary file"
        grep -q "sorted externally" "$err" && path="tuplesort"
        echo "$d,$mwm,$am,$r,$s,$path"
        q -c "DROP INDEX t_${d}_i" -c CHECKPOINT
      done
    done
  done
done
