#!/usr/bin/env bash
# bench/sparse_bench.sh: the learned index's sparse layout against btree, BRIN and the dense layout,
# same data, same run (docs/index-am.md, "Sparse layout").
#
#   sudo bash bench/sparse_bench.sh               # ROWS=1000000 DURATION=10 CLIENTS=2
#   sudo ROWS=10000000 bash bench/sparse_bench.sh
#
# A time-series table (id int8, ts timestamptz at 1 s steps in heap order, device int, a float8, a
# short text) loaded twice: with 0% late rows, and with 1% (every 100th row carries a key from
# up to a day earlier). On each, one index at a time on ts: learned sparse, btree, BRIN
# (pages_per_range 16 and 128), learned dense. Reported per index, with its ratio to btree:
#   index bytes                                    targets: sparse <= 2x BRIN(16) at 0% late,
#                                                           <= 0.05x btree at 1% late
#   build time, ms                                          <= 0.3x btree
#   point lookups (random ts), pgbench TPS                  >= 0.9x btree
#   1000-row ranges, pgbench TPS                            >= 1.0x btree
#     (ROUNDS rounds over the five indexes in turn, each building the index, then its lookups;
#     figures are medians of the rounds, ratios the medians of the rounds' ratios to btree)
#   single-row inserts at the table's end, pgbench TPS      >= 1.0x btree
#     (a copy of the table per index and one with none; ROUNDS pgbench runs in which each
#     transaction inserts into a copy picked at random, so all copies share the machine's state
#     of the moment; an index's TPS is CLIENTS over its inserts' mean latency (pgbench -l), the
#     ratio the median of the runs' ratios to btree. Separate runs per copy scattered by +-20%
#     per round, BRIN(128) included, on a difference of ~2%)
#   the index's own cost of one such insert, us: a server-side loop of LOOP_ROWS single-row
#     INSERTs in one transaction on each copy, ROUNDS times; the fastest loop of each copy less
#     the fastest on a copy with no index (the heap's insert, the executor and the client's round
#     trip, which pgbench's TPS carries alike for every index, fall out; noise only adds time, so
#     the fastest round is the least disturbed)
# The lookup's key is computed once per query (a scalar subquery), so a lossy index's recheck
# compares against a constant, as it would with a literal. synchronous_commit is off, so a
# single-row insert measures the insert's work, not the WAL flush every index would wait for alike.
# With no checkpoint in the run every WAL segment is a new file, zero-filled by the backend that
# first needs it: a loop that starts one takes ~150 ms longer (a quarter to a third of them, on
# any index), hence the fastest loop.
# Writes bench/out/sparse_bench.csv and bench/out/sparse_bench.png. Environment: ROWS DURATION
# CLIENTS ROUNDS LOOP_ROWS LATES PGBIN OMEN_SKIP_INSTALL.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-2}
ROUNDS=${ROUNDS:-5}
LOOP_ROWS=${LOOP_ROWS:-50000}
LATES=${LATES:-0 1}  # the late-row percentages to run (0 1; a rerun of one: LATES=1)
export PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ "$(id -u)" -ne 0 ]; then echo "sparse_bench.sh: needs root (starts a cluster as postgres)" >&2; exit 1; fi
if [ "${OMEN_SKIP_INSTALL:-0}" != 1 ]; then
  make -s -j2 PG_CONFIG="$PGBIN/pg_config" >/dev/null
  make -s install PG_CONFIG="$PGBIN/pg_config" >/dev/null
fi
export CLUSTER_OPTS="-c shared_buffers=$(( ROWS * 200 / 1048576 < 256 ? 256 : ROWS * 200 / 1048576 ))MB \
 -c maintenance_work_mem=512MB -c max_parallel_workers_per_gather=0 -c max_parallel_maintenance_workers=0 \
 -c jit=off -c autovacuum=off -c max_wal_size=16GB -c checkpoint_timeout=1h -c synchronous_commit=off"
source tests/pgcluster.sh
q() { cluster_psql -At -q "$@"; }
mkdir -p bench/out
csv=bench/out/sparse_bench.csv
echo "late,index,bytes,build_ms,point_tps,range_tps,insert_tps,bytes_vs_btree,build_vs_btree,point_vs_btree,range_vs_btree,insert_vs_btree,insert_index_us,insert_index_vs_btree" >"$csv"
q -c "CREATE EXTENSION omendb"

tps() {  # script-body -> TPS
  local f; f=$(as_pg mktemp /tmp/omendb-bench.XXXXXX.sql)
  printf '%s\n' "$1" | as_pg tee "$f" >/dev/null
  as_pg "$PGBIN/pgbench" -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" -f "$f" postgres 2>/dev/null |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
# Runs one statement and prints its duration in ms, timed by the server (starting psql through
# runuser costs ~0.8 s here, more than a sparse or BRIN build itself).
timed() {
  q <<SQL
SELECT clock_timestamp() AS t0 \gset
$1;
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 1);
SQL
}

point="\\set k random(1, $ROWS)
SELECT * FROM ev WHERE ts = (SELECT '2020-01-01'::timestamptz + :k * interval '1 second');"
range="\\set k random(1, $(( ROWS - 1000 )))
SELECT count(*), sum(v) FROM ev WHERE ts >= (SELECT '2020-01-01'::timestamptz + :k * interval '1 second')
  AND ts < (SELECT '2020-01-01'::timestamptz + (:k + 1000) * interval '1 second');"
IDX=(sparse btree brin16 brin128 dense)
declare -A USING=([sparse]="USING learned (ts) WITH (layout = 'sparse')" [btree]="(ts)"
  [brin16]="USING brin (ts) WITH (pages_per_range = 16)" [brin128]="USING brin (ts) WITH (pages_per_range = 128)"
  [dense]="USING learned (ts)")

declare -A R
for late in $LATES; do
  echo "== $ROWS rows, ${late}% late"
  q -c "DROP TABLE IF EXISTS ev"
  q <<SQL
CREATE TABLE ev (id int8, ts timestamptz, device int, v float8, note text);
INSERT INTO ev SELECT g,
  '2020-01-01'::timestamptz + g * interval '1 second'
    - CASE WHEN $late > 0 AND g % (100 / GREATEST($late, 1)) = 0 THEN ((g * 7919) % 86400) * interval '1 second'
           ELSE interval '0' END,
  (g * 7919) % 1000, (g % 100000) * 0.01, 'dev-' || ((g * 7919) % 1000)
FROM generate_series(1, $ROWS::bigint) g;
VACUUM (FREEZE, ANALYZE) ev;
CHECKPOINT;
SQL
  # Lookups and builds: ROUNDS rounds over the five indexes in turn (each round starting one
  # later): build one (timed), point and range lookups, drop it. A figure is the median of its
  # rounds; a ratio is the median of the rounds' ratios to btree (each round measures btree too),
  # so drift on a shared machine falls on every index alike.
  declare -A BLD=() PT=() RG=() BYTES=()
  for ((round = 0; round < ROUNDS; round++)); do
    for ((j = 0; j < ${#IDX[@]}; j++)); do
      idx=${IDX[$(( (j + round) % ${#IDX[@]} ))]}
      b=$(timed "CREATE INDEX ev_i ON ev ${USING[$idx]}")
      q -c "ANALYZE ev"
      BYTES[$idx]=$(q -c "SELECT pg_relation_size('ev_i')")
      p=$(tps "$point"); r=$(tps "$range")
      q -c "DROP INDEX ev_i"
      BLD[$idx]="${BLD[$idx]:-} $b"; PT[$idx]="${PT[$idx]:-} $p"; RG[$idx]="${RG[$idx]:-} $r"
    done
  done
  for idx in "${IDX[@]}"; do
    R[$late,$idx]="${BYTES[$idx]} $(python3 -c "
import statistics, sys
m = [list(map(float, a.split())) for a in sys.argv[1:]]
print(*[statistics.median(m[k]) for k in (0, 1, 2)], *[statistics.median(x / y for x, y in zip(m[k], m[k + 3])) for k in (0, 1, 2)])" \
      "${BLD[$idx]}" "${PT[$idx]}" "${RG[$idx]}" "${BLD[btree]}" "${PT[btree]}" "${RG[btree]}")"
    printf '  %-8s %12s bytes; rounds: build ms%s, point TPS%s, range TPS%s\n' "$idx" "${BYTES[$idx]}" "${BLD[$idx]}" "${PT[$idx]}" "${RG[$idx]}"
  done
  # Inserts: a copy of the table per index and one with none. A round is one pgbench run of
  # DURATION s in which each client picks, per transaction, the insert into one of the six copies
  # at random (pgbench -f ... per copy), so every copy's inserts share the machine's state of the
  # moment; an index's figure is its inserts' mean latency (pgbench -l), its ratio btree's mean
  # over its own (a TPS ratio at equal clients). Then the server-side loop of each copy in turn.
  INS_IDX=("${IDX[@]}" none)
  USING[none]=""
  for idx in "${INS_IDX[@]}"; do
    q -c "CREATE TABLE ev_ins_$idx AS SELECT * FROM ev" \
      -c "$([ "$idx" = none ] || echo "CREATE INDEX ON ev_ins_$idx ${USING[$idx]}")" \
      -c "VACUUM (FREEZE, ANALYZE) ev_ins_$idx" -c "CREATE SEQUENCE ev_ins_${idx}_seq START $(( ROWS + 1 ))"
  done
  q -c "CHECKPOINT"
  declare -A INS=() LOOP=()
  row_sql() {  # the inserted row of table ev_ins_$1, at the table's end
    echo "INSERT INTO ev_ins_$1 SELECT nextval('ev_ins_${1}_seq'), '2020-01-01'::timestamptz + currval('ev_ins_${1}_seq') * interval '1 second', 7, 1.5, 'dev-7'"
  }
  logdir=$(as_pg mktemp -d /tmp/omendb-bench.XXXXXX)
  for idx in "${INS_IDX[@]}"; do row_sql "$idx" | sed 's/$/;/' | as_pg tee "$logdir/$idx.sql" >/dev/null; done
  for ((round = 0; round < ROUNDS; round++)); do
    as_pg rm -f "$logdir"/pgbench_log.*
    (cd "$logdir" && runuser -u postgres -- env PGPORT="$PGPORT" PGHOST="$PGHOST" "$PGBIN/pgbench" -n -M prepared \
      -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" -l $(for idx in "${INS_IDX[@]}"; do echo "-f $idx.sql"; done) postgres \
      >/dev/null 2>&1)
    # A log line: client, transaction, latency us, script number, ...
    lat=$(cat "$logdir"/pgbench_log.* | python3 -c "
import statistics, sys
lat = {}
for line in sys.stdin:
    f = line.split()
    lat.setdefault(int(f[3]), []).append(int(f[2]))
print(*[round(statistics.mean(lat[k]), 2) for k in range(len(sys.argv) - 1)])" "${INS_IDX[@]}")
    read -r -a l <<<"$lat"
    for ((j = 0; j < ${#INS_IDX[@]}; j++)); do INS[${INS_IDX[$j]}]="${INS[${INS_IDX[$j]}]:-} ${l[$j]}"; done
    for ((j = 0; j < ${#INS_IDX[@]}; j++)); do
      idx=${INS_IDX[$(( (j + round) % ${#INS_IDX[@]} ))]}
      LOOP[$idx]="${LOOP[$idx]:-} $(timed "DO \$\$ BEGIN FOR i IN 1..$LOOP_ROWS LOOP $(row_sql "$idx"); END LOOP; END \$\$")"
    done
  done
  as_pg rm -rf "$logdir"
  # An index's insert figure is its median latency as TPS at CLIENTS clients; its ratio the median
  # of the rounds' ratios (btree's latency over its own). Its cost per row in the loop is its
  # fastest loop less the no-index copy's fastest.
  for idx in "${IDX[@]}"; do
    read -r i ratio cost cratio <<<"$(python3 -c "
import statistics, sys
a, b, la, lb, ln = ([float(x) for x in v.split()] for v in sys.argv[1:6])
n, clients = float(sys.argv[6]), float(sys.argv[7])
ca, cb = (min(la) - min(ln)) * 1000 / n, (min(lb) - min(ln)) * 1000 / n
print(round(clients * 1e6 / statistics.median(a), 1), statistics.median(y / x for x, y in zip(a, b)), round(ca, 3), round(ca / cb, 4))" \
      "${INS[$idx]}" "${INS[btree]}" "${LOOP[$idx]}" "${LOOP[btree]}" "${LOOP[none]}" "$LOOP_ROWS" "$CLIENTS")"
    R[$late,$idx]="${R[$late,$idx]} $i $ratio $cost $cratio"  # bytes build point range rbuild rpoint rrange insert rinsert cost rcost
    printf '  %-8s insert: %s TPS (mean latency in the mixed runs, us:%s; no index:%s), median ratio to btree %.4f\n' "$idx" "$i" "${INS[$idx]}" "${INS[none]}" "$ratio"
    printf '  %-8s index cost per insert: %s us, ratio to btree %s  (loop ms:%s; no index:%s)\n' "$idx" "$cost" "$cratio" "${LOOP[$idx]}" "${LOOP[none]}"
  done
  for idx in "${INS_IDX[@]}"; do q -c "DROP TABLE ev_ins_$idx" -c "DROP SEQUENCE ev_ins_${idx}_seq"; done
done

printf '\n%-6s %-8s %12s %10s %10s %10s %10s %9s   %s\n' late index bytes build_ms point range insert idx_us "(ratios to btree: bytes build point range insert, medians of the rounds' ratios; idx_us of the fastest loops)"
for late in $LATES; do
  read -r bb _ <<<"${R[$late,btree]}"
  for idx in "${IDX[@]}"; do
    read -r b build p r rbuild rp rr i ri c rc <<<"${R[$late,$idx]}"
    ratios=$(python3 -c "import sys; v = list(map(float, sys.argv[1:])); print(','.join(f'{x:.4f}' for x in [v[0] / v[1]] + v[2:]))" \
      "$b" "$bb" "$rbuild" "$rp" "$rr" "$ri")
    printf '%-6s %-8s %12s %10s %10s %10s %10s %9s   %s,%s\n' "$late%" "$idx" "$b" "$build" "$p" "$r" "$i" "$c" "$ratios" "$rc"
    echo "$late,$idx,$b,$build,$p,$r,$i,$ratios,$c,$rc" >>"$csv"
  done
done
if [ -n "${R[0,sparse]:-}" ]; then
  read -r sb _ <<<"${R[0,sparse]}"; read -r b16 _ <<<"${R[0,brin16]}"
  echo "sparse bytes / BRIN(16) bytes at 0% late: $(python3 -c "print(round($sb / $b16, 3))")"
fi

if command -v gnuplot >/dev/null; then
  read -r chart_late _ <<<"$LATES"
  gnuplot <<GP
set terminal pngcairo size 1100,500
set output 'bench/out/sparse_bench.png'
set datafile separator ','
set style data histograms
set style fill solid 0.8
set yrange [0:*]
set key top left
set title "learned sparse vs btree, BRIN, learned dense ($ROWS rows): TPS ($chart_late% late rows)"
plot '< grep "^$chart_late," $csv' using 5:xtic(2) title 'point TPS', '' using 6 title 'range TPS', '' using 7 title 'insert TPS'
GP
  echo "chart: bench/out/sparse_bench.png"
fi
echo "csv: $csv"
