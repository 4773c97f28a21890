#!/usr/bin/env bash
# bench/tiered_bench.sh: table AM `tiered` against heap, same data, same run (docs/tiered.md).
#
#   sudo bash bench/tiered_bench.sh              # ROWS=1000000 DURATION=10 CLIENTS=2
#   sudo ROWS=10000000 bash bench/tiered_bench.sh
#
# A time-series table (id int8, ts timestamptz at 1 s steps, device int, two float8, a short text)
# loaded twice: `hh` (heap) and `tt` (tiered), each with a btree on id and a learned index on ts.
# Then every row of `tt` is moved cold (one backend, timed). Reported, each with its ratio to heap:
#   cold bytes (batches + their TOAST) / heap bytes of the same rows     target <= 0.2
#   move throughput, rows/s, one backend, against a heap DELETE of the same rows with the same
#   indexes, a heap INSERT of them into a table with the same indexes (the index work), and the
#   floor of both together (a move deletes every row from heap, then encodes and indexes it)
#                                                                        target >= 500K rows/s
#   full-table aggregate (seq scan), ms, median of REPEATS               target <= 1.0x heap
#   point lookups through the btree and through the learned index, random keys, pgbench TPS:
#     all rows hot (before the move)                                     target >= 0.95x heap
#     all rows cold                                                      target >= 0.5x heap
#   1000-row ranges through the learned index on ts, cold, pgbench TPS   target >= 1.0x heap
#   (ROUNDS rounds of one run on each table, in alternating order)
#   pgbench TPC-B-like (pgbench -i, tables converted to tiered, all hot) target >= 0.95x heap
#   (TPCB_ROUNDS rounds of one run on each database, in alternating order)
# Rounds: the TPS shown is the median of each side's runs, the ratio the median of the rounds'
# ratios (the two runs of a round share the machine's state; from round to round it drifts by
# more than the difference measured).
# Writes bench/out/tiered_bench.csv, bench/out/tiered_bench.png (ratios and targets) and
# bench/out/tiered_bench_tps.png (each TPS metric, heap beside tiered). Environment: ROWS DURATION
# CLIENTS REPEATS ROUNDS TPCB_ROUNDS PGBIN OMEN_SKIP_INSTALL.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-2}
REPEATS=${REPEATS:-3}
ROUNDS=${ROUNDS:-5}
TPCB_ROUNDS=${TPCB_ROUNDS:-7}
export PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ "$(id -u)" -ne 0 ]; then echo "tiered_bench.sh: needs root (starts a cluster as postgres)" >&2; exit 1; fi
if [ "${OMEN_SKIP_INSTALL:-0}" != 1 ]; then
  make -s -j2 PG_CONFIG="$PGBIN/pg_config" >/dev/null
  make -s install PG_CONFIG="$PGBIN/pg_config" >/dev/null
fi
export CLUSTER_OPTS="-c shared_buffers=$(( ROWS * 400 / 1048576 < 256 ? 256 : ROWS * 400 / 1048576 ))MB \
 -c maintenance_work_mem=512MB -c max_parallel_workers_per_gather=0 -c jit=off -c autovacuum=off \
 -c max_wal_size=16GB -c checkpoint_timeout=1h"
source tests/pgcluster.sh
q() { cluster_psql -At -q "$@"; }
mkdir -p bench/out
csv=bench/out/tiered_bench.csv
echo "metric,heap,tiered,ratio,target" >"$csv"

echo "== loading $ROWS rows twice (heap hh, tiered tt)"
q <<SQL
CREATE EXTENSION omendb;
CREATE TABLE hh (id int8, ts timestamptz, device int, v1 float8, v2 float8, note text);
INSERT INTO hh SELECT g, '2020-01-01'::timestamptz + g * interval '1 second', (g * 7919) % 1000,
                      (g % 100000) * 0.01, sin(g) * 100, 'dev-' || ((g * 7919) % 1000)
FROM generate_series(1, $ROWS::bigint) g;
CREATE TABLE tt (LIKE hh) USING tiered;
INSERT INTO tt SELECT * FROM hh;
CREATE TABLE hd AS SELECT * FROM hh;
CREATE INDEX ON hd (id);
CREATE INDEX ON hd USING learned (ts);
VACUUM (FREEZE, ANALYZE) hd;
CREATE INDEX hh_id ON hh (id);
CREATE INDEX tt_id ON tt (id);
CREATE INDEX hh_ts ON hh USING learned (ts);
CREATE INDEX tt_ts ON tt USING learned (ts);
VACUUM (FREEZE, ANALYZE) hh;
VACUUM (FREEZE, ANALYZE) tt;
SELECT omendb_tier_set_policy('tt', 'ts', batch_rows => 1000);
CHECKPOINT;
SQL

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{b / a:.3f}' if a else 'nan')" "$1" "$2"; }
row() {  # metric heap tiered target [ratio, when not tiered/heap of the two]
  local r; r=${5:-$(ratio "$2" "$3")}
  printf '%-44s %14s %14s %8s   %s\n' "$1" "$2" "$3" "$r" "$4"
  printf '"%s",%s,%s,%s,"%s"\n' "$1" "$2" "$3" "$r" "$4" >>"$csv"
}

tps() {  # table script-body -> TPS
  local f; f=$(as_pg mktemp /tmp/omendb-bench.XXXXXX.sql)
  printf '%s\n' "${2//TBL/$1}" | as_pg tee "$f" >/dev/null
  as_pg "$PGBIN/pgbench" -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" -f "$f" postgres 2>/dev/null |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p'
  as_pg rm -f "$f"
}
# rounds metric target count heap-arg tiered-arg command [args...]: `count` rounds of one run of
# `command heap-arg args...` and one of `command tiered-arg args...`, in alternating order; a row
# with each side's median and the median of the rounds' ratios.
rounds() {
  local metric=$1 target=$2 n=$3 ha=$4 ta=$5 h t hs=() ts=() rs=()
  shift 5
  for ((i = 0; i < n; i++)); do
    if ((i % 2 == 0)); then h=$("$1" "$ha" "${@:2}"); t=$("$1" "$ta" "${@:2}"); else t=$("$1" "$ta" "${@:2}"); h=$("$1" "$ha" "${@:2}"); fi
    hs+=("$h"); ts+=("$t"); rs+=("$(ratio "$h" "$t")")
  done
  echo "  $metric, rounds (heap/tiered): $(for ((i = 0; i < n; i++)); do printf '%s/%s ' "${hs[$i]}" "${ts[$i]}"; done)"
  row "$metric" "$(printf '%s\n' "${hs[@]}" | median)" "$(printf '%s\n' "${ts[@]}" | median)" "$target" \
    "$(printf '%s\n' "${rs[@]}" | median)"
}
point_id="\\set k random(1, $ROWS)
SELECT * FROM TBL WHERE id = :k;"
point_ts="\\set k random(1, $ROWS)
SELECT * FROM TBL WHERE ts = '2020-01-01'::timestamptz + :k * interval '1 second';"
range_ts="\\set k random(1, $(( ROWS - 1000 )))
SELECT count(*), sum(v1) FROM TBL WHERE ts >= '2020-01-01'::timestamptz + :k * interval '1 second' AND ts < '2020-01-01'::timestamptz + (:k + 1000) * interval '1 second';"
# All rows hot: the tiered table is heap plus a cold-tier lookup that finds nothing. Both tables
# and their indexes are read into shared buffers first (the load left them partly in the OS cache
# only, and the first rounds would measure that).
echo "== point lookups, all rows hot"
q -c "CREATE EXTENSION pg_prewarm" \
  -c "SELECT sum(pg_prewarm(c)) FROM unnest(ARRAY['hh', 'tt', 'hh_id', 'tt_id', 'hh_ts', 'tt_ts']::regclass[]) c" >/dev/null
hot_id=$(rounds "point lookup via btree, hot, TPS" ">= 0.95" "$ROUNDS" hh tt tps "$point_id")
hot_ts=$(rounds "point lookup via learned, hot, TPS" ">= 0.95" "$ROUNDS" hh tt tps "$point_ts")

echo "== moving every row of tt cold (one backend); deleting every row of hd (heap, same indexes)"
t0=$(date +%s.%N)
moved=$(q -c "SELECT omendb_tier_move('tt', now() - '2100-01-01'::timestamptz)")
t1=$(date +%s.%N)
rate=$(python3 -c "print(int($moved / ($t1 - $t0)))")
t0=$(date +%s.%N)
q -c "DELETE FROM hd" >/dev/null
t1=$(date +%s.%N)
delete_rate=$(python3 -c "print(int($ROWS / ($t1 - $t0)))")
# The floor of a move: it deletes every row from heap (as the DELETE above) and inserts every row's
# cold TID into each index. A heap INSERT of the same rows into a table with the same indexes
# measures that index work (plus heap's insert, which a move does not do).
q -c "CREATE TABLE hi (LIKE hh)" -c "CREATE INDEX ON hi (id)" -c "CREATE INDEX ON hi USING learned (ts)" >/dev/null
t0=$(date +%s.%N)
q -c "INSERT INTO hi SELECT * FROM hh" >/dev/null
t1=$(date +%s.%N)
insert_rate=$(python3 -c "print(int($ROWS / ($t1 - $t0)))")
floor_rate=$(python3 -c "print(int(1 / (1 / $delete_rate + 1 / $insert_rate)))")
q -c "DROP TABLE hi"
q -c "VACUUM ANALYZE tt"
heap_bytes=$(q -c "SELECT pg_table_size('hh')")
cold_bytes=$(q -c "SELECT cold_bytes FROM omendb_tier_stats('tt')")
verify=$(q -c "SELECT omendb_tier_verify('tt')")
[ "$verify" = "$ROWS" ] || { echo "verify counted $verify cold rows, expected $ROWS" >&2; exit 1; }

printf '\n%-44s %14s %14s %8s   %s\n' "$ROWS rows" heap tiered ratio target
row "bytes of the rows (cold: batches + TOAST)" "$heap_bytes" "$cold_bytes" "<= 0.2"
row "move vs heap DELETE, rows/s (one backend)" "$delete_rate" "$rate" ">= 500000 rows/s"
row "heap INSERT, same indexes, rows/s" "$insert_rate" "$rate" "(index work)"
row "move vs DELETE+INSERT floor, rows/s" "$floor_rate" "$rate" "(floor)"
echo "$hot_id"; echo "$hot_ts"

median_ms() {  # table: median wall ms of the aggregate over REPEATS runs
  for _ in $(seq "$REPEATS"); do
    q -c '\timing on' -c "SELECT count(*), sum(v1), avg(v2), max(ts) FROM $1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
  done | median
}
median_ms hh >/dev/null; median_ms tt >/dev/null   # warm both
row "full-table aggregate, ms (median)" "$(median_ms hh)" "$(median_ms tt)" "<= 1.0"

rounds "point lookup via btree, cold, TPS" ">= 0.5" "$ROUNDS" hh tt tps "$point_id"
rounds "point lookup via learned, cold, TPS" ">= 0.5" "$ROUNDS" hh tt tps "$point_ts"
rounds "1000-row range via learned, cold, TPS" ">= 1.0" "$ROUNDS" hh tt tps "$range_ts"

echo "== pgbench TPC-B-like, all hot (heap database vs tiered database)"
q -c "CREATE DATABASE bh" -c "CREATE DATABASE bt"
as_pg "$PGBIN/pgbench" -i -q -s 5 bh >/dev/null 2>&1
as_pg "$PGBIN/pgbench" -i -q -s 5 bt >/dev/null 2>&1
cluster_psql -d bt -q -c "CREATE EXTENSION omendb" \
  -c "ALTER TABLE pgbench_accounts SET ACCESS METHOD tiered" -c "ALTER TABLE pgbench_branches SET ACCESS METHOD tiered" \
  -c "ALTER TABLE pgbench_tellers SET ACCESS METHOD tiered" -c "ALTER TABLE pgbench_history SET ACCESS METHOD tiered" \
  -c "VACUUM ANALYZE"
cluster_psql -d bh -q -c "VACUUM ANALYZE"
tpcb() { as_pg "$PGBIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T "$DURATION" "$1" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'; }
rounds "pgbench TPC-B-like, all hot, TPS" ">= 0.95" "$TPCB_ROUNDS" bh bt tpcb
# Draws bench/out/tiered_bench.png from the CSV: each metric's tiered/heap ratio (bars) and its
# target ratio where it has one (points; the move's target is in rows/s, the floor rows are marks).
chart() {
  local png=bench/out/tiered_bench.png data
  data=$(mktemp)
  tail -n +2 "$csv" | python3 -c '
import csv, re, sys
for i, (metric, heap, tiered, ratio, target) in enumerate(csv.reader(sys.stdin)):
    m = re.match(r"\s*[<>]=\s*([0-9.]+)\s*$", target)
    goal = m.group(1) if m else "NaN"
    print(i, ratio, goal, chr(34) + metric + chr(34), sep=chr(9))' >"$data"
  gnuplot <<GP
set terminal pngcairo size 1400,700 font "sans,10"
set output "$png"
set title "tiered / heap, $ROWS rows, same run (bars: ratio; points: target)"
set datafile separator "\t"
set style fill solid 0.6
set boxwidth 0.6
set yrange [0:*]
set grid ytics
set xtics rotate by 30 right
set bmargin 12
set lmargin 28
plot "$data" using 1:2:xtic(4) with boxes title "tiered / heap", \
     "" using 1:3 with points pt 7 ps 1.5 title "target"
GP
  # The TPS metrics side by side.
  tail -n +2 "$csv" | python3 -c '
import csv, sys
for metric, heap, tiered, ratio, target in csv.reader(sys.stdin):
    if "TPS" in metric:
        print(chr(34) + metric.replace(", TPS", "") + chr(34), heap, tiered, sep=chr(9))' >"$data"
  gnuplot <<GP
set terminal pngcairo size 1100,550 font "sans,10"
set output "bench/out/tiered_bench_tps.png"
set title "pgbench TPS, $ROWS rows, $CLIENTS clients, same run (medians of the rounds)"
set datafile separator "\t"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.7
set yrange [0:*]
set grid ytics
set xtics rotate by 20 right
set bmargin 8
plot "$data" using 2:xtic(1) title "heap", "" using 3 title "tiered"
GP
  rm -f "$data"
  echo "charts: $png bench/out/tiered_bench_tps.png"
}
chart
echo "csv: $csv"
