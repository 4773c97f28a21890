#!/usr/bin/env bash
# bench/big_bench.sh: point lookups when the btree no longer fits in shared_buffers and the learned
# index does (issue "Learned index on a production key column", point 4; docs/bench-pg.md,
# "Beyond shared_buffers").
#
#   sudo bash bench/big_bench.sh                                  # 100M rows, four datasets (~3 h)
#   sudo ROWS=100000000 DATASETS=int8_rand bash bench/big_bench.sh
#
# Per dataset, two identical tables of ROWS rows (k, v), one under each index: int8_seq (k = row
# number, in heap order), int8_rand (k = a permutation of the row numbers spread over 0..2^32, in
# random heap order), uuid_v4 (k = md5 of the row number as a uuid: random), uuid_v7 (k = a
# version-7 layout: 48 bits of milliseconds from the row number, then hash bits: time-ordered).
# shared_buffers is set halfway between the two indexes' sizes (the learned index fits, the btree
# does not; the heap fits in neither case). ROUNDS rounds per client count in CLIENTS_LIST, the
# indexes in alternating order, each measured after a restart (empty shared buffers), its index
# prewarmed (pg_prewarm) and a WARMUP s run: pgbench -M prepared point lookups of existing keys
# for DURATION s. A figure is the median of the rounds, the ratio the median of the rounds'
# ratios. Buffers per lookup are the index's and the table's block hits and reads over the run
# (pg_statio_user_indexes / _tables) per transaction; reads are blocks not in shared_buffers
# (from the OS page cache or the disk).
# The floor: a third measurement, `tid`, reads a random row of the same heap by its TID (a TID
# scan, no index at all), with the same shared_buffers: the heap visit every index lookup makes,
# and nothing else. Its TPS over btree's is the ceiling of any index's ratio here.
# Writes bench/out/big_bench.csv. Environment: ROWS DATASETS CLIENTS_LIST ROUNDS DURATION WARMUP RAM_MB PGBIN
# OMEN_SKIP_INSTALL=1 BENCH_OUT. Needs root (the cluster runs as postgres, tests/pgcluster.sh) and
# ~25 GB of disk per dataset at 100M rows.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-100000000}
DATASETS=${DATASETS:-int8_rand int8_seq uuid_v4 uuid_v7}
CLIENTS_LIST=${CLIENTS_LIST:-2 8}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-20}
export PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
OUT=${BENCH_OUT:-bench/out}
if [ "$(id -u)" -ne 0 ]; then echo "big_bench.sh: needs root (starts a cluster as postgres)" >&2; exit 1; fi
if [ "${OMEN_SKIP_INSTALL:-0}" != 1 ]; then
  make -s -j2 PG_CONFIG="$PGBIN/pg_config" >/dev/null
  make -s install PG_CONFIG="$PGBIN/pg_config" >/dev/null
fi
mkdir -p "$OUT"
MWM_MB=2048; LOAD_SB_MB=2048  # within RAM_MB when set: a quarter each
[ -n "${RAM_MB:-}" ] && MWM_MB=$(( RAM_MB / 4 )) && LOAD_SB_MB=$(( RAM_MB / 4 ))
OPTS="-c maintenance_work_mem=${MWM_MB}MB -c max_parallel_maintenance_workers=0 -c max_parallel_workers_per_gather=0 \
 -c jit=off -c autovacuum=off -c max_wal_size=32GB -c checkpoint_timeout=1h -c max_connections=50"
export CLUSTER_OPTS="$OPTS -c shared_buffers=${LOAD_SB_MB}MB"
# RAM_MB: the cluster, its loads and pgbench run in a memory cgroup (v1) of that many MB, so the
# OS page cache they fill is bounded too: blocks outside shared_buffers and that cache come from
# the disk. Unset: the machine's whole RAM caches them.
if [ -n "${RAM_MB:-}" ]; then
  cg=/sys/fs/cgroup/memory/omendb-big-$$
  mkdir "$cg" || { echo "big_bench.sh: RAM_MB needs a writable cgroup v1 memory controller" >&2; exit 1; }
  echo $(( RAM_MB * 1048576 )) >"$cg/memory.limit_in_bytes"
  echo $$ >"$cg/cgroup.procs"
fi
source tests/pgcluster.sh
if [ -n "${RAM_MB:-}" ]; then
  trap 'cluster_stop; echo $$ >/sys/fs/cgroup/memory/cgroup.procs; rmdir "$cg" 2>/dev/null || true' EXIT
fi
q() { cluster_psql -At -q "$@"; }
step() { echo "-- $(date -u +%H:%M:%S) $*"; }
restart() {  # restart SHARED_BUFFERS_MB
  as_pg "$PGBIN/pg_ctl" -D "$cluster_dir/data" -l "$cluster_dir/server.log" -w -m fast restart \
    -o "-p $PGPORT -k $cluster_dir -c listen_addresses=127.0.0.1 $OPTS -c shared_buffers=${1}MB" >/dev/null
}
# The key of row :g, in SQL over g and as a pgbench script's lines.
key_sql() {
  case "$1" in
    int8_seq) echo "g" ;;
    int8_rand) echo "(g * 2654435761) % 4294967311" ;;
    uuid_v4) echo "md5(g::text)::uuid" ;;
    uuid_v7) echo "(lpad(to_hex(1600000000000 + g), 12, '0') || '7' || substr(md5(g::text), 1, 3) || '8'
                    || substr(md5(g::text), 4, 15))::uuid" ;;
  esac
}
lookup_script() {  # lookup_script DATASET TABLE
  case "$1" in
    int8_seq) printf '\\set g random(1, %s)\nSELECT v FROM %s WHERE k = :g;\n' "$ROWS" "$2" ;;
    int8_rand) printf '\\set g random(1, %s)\n\\set k (:g * 2654435761) %% 4294967311\nSELECT v FROM %s WHERE k = :k;\n' "$ROWS" "$2" ;;
    *) printf '\\set g random(1, %s)\nSELECT v FROM %s WHERE k = (SELECT %s FROM (SELECT :g::int8 AS g) s);\n' \
         "$ROWS" "$2" "$(key_sql "$1" | tr -s ' \n' ' ')" ;;
  esac
}
statio() {  # statio TABLE -> index block hits, reads, heap block hits, reads
  q -c "SELECT i.idx_blks_hit, i.idx_blks_read, t.heap_blks_hit, t.heap_blks_read FROM pg_statio_user_indexes i
        JOIN pg_statio_user_tables t USING (relid) WHERE t.relname = '$1'" | tr '|' ' '
}
csv=$OUT/big_bench.csv
echo "dataset,rows,index,index_bytes,heap_bytes,build_s,shared_buffers_mb,clients,tps,index_blocks_per_lookup,index_reads_per_lookup,heap_blocks_per_lookup,heap_reads_per_lookup,tps_over_btree" >"$csv"
q -c "CREATE EXTENSION omendb" -c "CREATE EXTENSION pg_prewarm"
work=$(as_pg mktemp -d /tmp/omendb-big.XXXXXX)
declare -A TABLE=([learned]=big_ln [btree]=big_bt [tid]=big_ln)

for ds in $DATASETS; do
  step "$ds: loading $ROWS rows into two tables, one per index"
  type=int8; case "$ds" in uuid*) type=uuid ;; esac
  restart "$LOAD_SB_MB"
  q -c "DROP TABLE IF EXISTS big_ln, big_bt" -c "CREATE TABLE big_bt (k $type, v int8)" \
    -c "INSERT INTO big_bt SELECT $(key_sql "$ds"), g FROM generate_series(1, $ROWS::bigint) g" \
    -c "CREATE TABLE big_ln AS SELECT * FROM big_bt" \
    -c "VACUUM (FREEZE, ANALYZE) big_bt" -c "VACUUM (FREEZE, ANALYZE) big_ln" -c "CHECKPOINT"
  heap=$(q -c "SELECT pg_relation_size('big_bt')")
  declare -A SIZE=() BUILD=() TPS=() IH=() IR=() HH=() HR=()
  for idx in btree learned; do
    lookup_script "$ds" "${TABLE[$idx]}" | as_pg tee "$work/$idx.sql" >/dev/null
    s=$(date +%s.%N)
    q -c "CREATE INDEX ${TABLE[$idx]}_k ON ${TABLE[$idx]} USING $idx (k)"
    BUILD[$idx]=$(python3 -c "import time; print(round(time.time() - $s, 1))")
    SIZE[$idx]=$(q -c "SELECT pg_relation_size('${TABLE[$idx]}_k')")
    step "  $idx: ${SIZE[$idx]} bytes, built in ${BUILD[$idx]} s"
  done
  # Rows are fixed-width and the pages full, so row g (from 1) lies at TID ((g-1)/rpp, (g-1)%rpp+1).
  rpp=$(q -c "SELECT count(*) FROM big_ln WHERE ctid < '(1,0)'::tid")
  printf '\\set g random(0, %s)\n\\set b :g / %s\n\\set o :g %% %s + 1\nSELECT v FROM big_ln WHERE ctid = (%s)::tid;\n' \
    "$(( ROWS - 1 ))" "$rpp" "$rpp" "'(' || :b || ',' || :o || ')'" | as_pg tee "$work/tid.sql" >/dev/null
  q -c "CHECKPOINT"
  sb=$(( (SIZE[btree] + SIZE[learned]) / 2 / 1048576 ))
  # ROUNDS rounds per client count, the two indexes in alternating order; each measurement after
  # a restart (empty shared buffers), its index prewarmed and a warm-up run.
  for ((round = 0; round < ROUNDS; round++)); do
    for c in $CLIENTS_LIST; do
      order="learned btree tid"; [ $(( round % 2 )) = 1 ] && order="tid btree learned"
      for idx in $order; do
        restart "$sb"
        j=$(( c < 2 ? c : 2 ))
        bench() { as_pg "$PGBIN/pgbench" -n -M prepared -c "$c" -j "$j" -T "$1" -f "$work/$idx.sql" postgres 2>&1; }
        [ "$idx" = tid ] || q -c "SELECT pg_prewarm('${TABLE[$idx]}_k')" >/dev/null
        bench "$WARMUP" >/dev/null
        before=$(statio "${TABLE[$idx]}")
        out=$(bench "$DURATION")
        sleep 1  # statistics reach the views at the backends' exit
        after=$(statio "${TABLE[$idx]}")
        tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -1)
        n=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
        read -r ih ir hh hr <<<"$(python3 -c "
import sys
b = list(map(int, sys.argv[1].split())); a = list(map(int, sys.argv[2].split())); n = int(sys.argv[3])
d = [x - y for x, y in zip(a, b)]
print(round((d[0] + d[1]) / n, 3), round(d[1] / n, 3), round((d[2] + d[3]) / n, 3), round(d[3] / n, 3))" "$before" "$after" "$n")"
        TPS[$idx,$c]="${TPS[$idx,$c]:-} $tps"; IH[$idx,$c]="${IH[$idx,$c]:-} $ih"; IR[$idx,$c]="${IR[$idx,$c]:-} $ir"
        HH[$idx,$c]="${HH[$idx,$c]:-} $hh"; HR[$idx,$c]="${HR[$idx,$c]:-} $hr"
        step "  round $((round + 1)), $idx, shared_buffers ${sb}MB, $c clients: $tps TPS; per lookup: index blocks $ih (read $ir), heap blocks $hh (read $hr)"
      done
    done
  done
  # A figure is the median of its rounds; the ratio the median of the rounds' ratios.
  for c in $CLIENTS_LIST; do
    SIZE[tid]=0 BUILD[tid]=0
    for idx in learned btree tid; do
      python3 - "$ds,$ROWS,$idx,${SIZE[$idx]},$heap,${BUILD[$idx]},$sb,$c" "${TPS[$idx,$c]}" "${TPS[btree,$c]}" \
        "${IH[$idx,$c]}" "${IR[$idx,$c]}" "${HH[$idx,$c]}" "${HR[$idx,$c]}" >>"$csv" <<'PY'
import statistics, sys
head, tps, bt = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
med = [statistics.median(float(x) for x in v.split()) for v in sys.argv[4:8]]
ratio = statistics.median(a / b for a, b in zip(tps, bt))
print(head, f"{statistics.median(tps):.0f}", *[f"{m:.3f}" for m in med], f"{ratio:.3f}", sep=",")
PY
    done
    step "  $ds, $c clients: learned / btree TPS per round:$(python3 -c "
import sys
print(''.join(f' {a / b:.3f}' for a, b in zip(map(float, sys.argv[1].split()), map(float, sys.argv[2].split()))))" "${TPS[learned,$c]}" "${TPS[btree,$c]}"); floor (TID scan) / btree:$(python3 -c "
import sys
print(''.join(f' {a / b:.3f}' for a, b in zip(map(float, sys.argv[1].split()), map(float, sys.argv[2].split()))))" "${TPS[tid,$c]}" "${TPS[btree,$c]}")"
  done
  q -c "DROP TABLE big_ln, big_bt"
done
as_pg rm -rf "$work"
echo "== rows=$ROWS duration=${DURATION}s warmup=${WARMUP}s (target: learned / btree TPS >= 1.5; tid = the heap visit alone, the ceiling)"
column -t -s, "$csv"
