#!/usr/bin/env bash
# bench/pg_compare.sh: learned vs btree inside PostgreSQL, in one throwaway cluster (docs/bench-pg.md).
#
#   sudo bash bench/pg_compare.sh [--rows N] [--duration S] [--repeats R] [--build-repeats R]
#                                 [--probe-keys N] [--quick] [--preload] [--phases "LIST"]
#
# Two datasets (random int8 keys, sequential int8 keys), each loaded into two identical tables: one
# gets only a btree on k, the other only a learned index, so the planner has exactly one index to
# use (EXPLAIN proves it). Per dataset: build time, size, pgbench -M prepared point / 1000-row range
# / single-row insert TPS, ns per probe through the index AM interface (omendb_probe_cost), and a
# nested-loop join. Contenders alternate (ABBA order) in every repeat; medians are reported. Every
# pgbench run also reports its backends' CPU time per transaction, and point and range queries
# also run *concurrently* (two pgbench processes, one per table, over the same seconds) so that
# both contenders meet the same machine load (docs/bench-pg.md, "Why TPS swings").
# Writes bench/out/pg_compare.csv (medians, ratios, targets), bench/out/pg_compare_raw.csv (every
# repeat), bench/out/report/{report.md,*.png,explain.txt}.
#
# --preload: shared_preload_libraries = omendb (inserts log with omendb's WAL resource manager
# instead of GenericXLog, docs/index-am.md).
# --phases: which of "probe join point range insert" to run (default all; builds always run).
# Environment: ROWS DURATION REPEATS BUILD_REPEATS PROBE_KEYS CLIENTS PRELOAD=1 PHASES (as the flags; REPEATS: pgbench
# runs and probe calls, BUILD_REPEATS: index builds and joins), PGBIN (PostgreSQL bin
# dir, default /usr/lib/postgresql/15/bin), OMEN_SKIP_INSTALL=1 (do not `make install` first),
# SHARED_BUFFERS (default: enough for all tables and indexes), BENCH_OUT (default bench/out).
# Needs root (the cluster runs as the postgres user, tests/pgcluster.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-10000000}
DURATION=${DURATION:-10}
REPEATS=${REPEATS:-5}
BUILD_REPEATS=${BUILD_REPEATS:-3}
PROBE_KEYS=${PROBE_KEYS:-200000}
CLIENTS=${CLIENTS:-2}
PRELOAD=${PRELOAD:-0}
PHASES=${PHASES:-probe join point range insert}
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --build-repeats) BUILD_REPEATS=$2; shift 2 ;;
    --probe-keys) PROBE_KEYS=$2; shift 2 ;;
    --quick) ROWS=200000; DURATION=3; REPEATS=1; BUILD_REPEATS=1; PROBE_KEYS=20000; shift ;;
    --preload) PRELOAD=1; shift ;;
    --phases) PHASES=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "pg_compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
phase_on() { [[ " $PHASES " == *" $1 "* ]]; }
export PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
OUT=${BENCH_OUT:-bench/out}
REPORT=$OUT/report
NL_KEYS=$(( ROWS < 1000000 ? ROWS : 1000000 ))
PROBE_KEYS=$(( PROBE_KEYS < NL_KEYS ? PROBE_KEYS : NL_KEYS ))
# Tables (4 x ~44 bytes/row) + indexes (4 x ~24 bytes/row) + inserts must stay in shared buffers.
SHARED_BUFFERS=${SHARED_BUFFERS:-$(( ROWS * 300 / 1048576 < 256 ? 256 : ROWS * 300 / 1048576 ))MB}

if [ "$(id -u)" -ne 0 ]; then echo "pg_compare.sh: needs root (starts a cluster as postgres)" >&2; exit 1; fi
if [ "${OMEN_SKIP_INSTALL:-0}" != 1 ]; then
  echo "== building and installing omendb into $PGBIN/.."
  make -s -j2 PG_CONFIG="$PGBIN/pg_config" >/dev/null
  make -s install PG_CONFIG="$PGBIN/pg_config" >/dev/null
fi
mkdir -p "$REPORT"
rm -f "$REPORT"/*.png "$REPORT"/*.txt "$REPORT"/report.md

export CLUSTER_OPTS="-c shared_buffers=$SHARED_BUFFERS -c maintenance_work_mem=512MB \
 -c max_parallel_maintenance_workers=0 -c max_parallel_workers_per_gather=0 -c jit=off \
 -c autovacuum=off -c max_wal_size=16GB -c checkpoint_timeout=1h \
 -c work_mem=64MB"
[ "$PRELOAD" = 1 ] && CLUSTER_OPTS="$CLUSTER_OPTS -c shared_preload_libraries=omendb"
echo "== starting a throwaway cluster ($PGBIN, shared_buffers=$SHARED_BUFFERS)"
source tests/pgcluster.sh
work=$(mktemp -d /tmp/omendb-pgcompare.XXXXXX)
trap 'cluster_stop; rm -rf "$work"' EXIT
chmod 755 "$work"

# psql as the postgres user; -At: bare values.
q() { cluster_psql -At -q "$@"; }
raw=$OUT/pg_compare_raw.csv
echo "dataset,metric,index,repeat,value" > "$raw"
record() { echo "$1,$2,$3,$4,$5" >> "$raw"; }
# ABBA order: repeat r runs btree first when r is odd, learned first when r is even.
order() { if [ $(( $1 % 2 )) = 1 ]; then echo "btree learned"; else echo "learned btree"; fi; }
table_of() { [ "$2" = btree ] && echo "t_$1_bt" || echo "t_$1_ln"; }
index_of() { [ "$2" = btree ] && echo "t_$1_bt_k" || echo "t_$1_ln_k"; }
step() { echo "-- $(date -u +%H:%M:%S) $*"; }

echo "== loading: $ROWS rows x 2 datasets x 2 identical tables"
q < bench/sql/pg_compare_setup.sql  # stdin: the postgres user may not be able to read the checkout
step "random keys"
q -c "CREATE TABLE src_rand AS SELECT g AS i, bench_key(g) AS k FROM generate_series(1, $ROWS::bigint) g"
for t in t_rand_bt t_rand_ln; do
  q -c "CREATE TABLE $t AS SELECT k, i AS v FROM src_rand" -c "CREATE SEQUENCE ${t}_seq"
done
step "sequential keys"
for t in t_seq_bt t_seq_ln; do
  q -c "CREATE TABLE $t AS SELECT g AS k, g AS v FROM generate_series(1, $ROWS::bigint) g" \
    -c "CREATE SEQUENCE ${t}_seq START $(( ROWS + 1 ))"
done
step "probe keys ($NL_KEYS per dataset, random existing keys in random order)"
q <<SQL
SELECT setseed(0.42) \gset
CREATE TABLE probe_rand AS SELECT bench_key(1 + (random() * ($ROWS - 1))::bigint) AS k FROM generate_series(1, $NL_KEYS);
CREATE TABLE probe_seq AS SELECT 1 + (random() * ($ROWS - 1))::bigint AS k FROM generate_series(1, $NL_KEYS);
DROP TABLE src_rand;
SQL
step "VACUUM (FREEZE, ANALYZE)"
q -c "CHECKPOINT" -c "VACUUM (FREEZE, ANALYZE)" -c "CHECKPOINT"
notvis=$(q -c "SELECT string_agg(relname, ' ') FROM pg_class WHERE relname ~ '^t_(rand|seq)_(bt|ln)$' AND relallvisible < relpages")
[ -z "$notvis" ] || { echo "pg_compare.sh: not all-visible after VACUUM: $notvis" >&2; exit 1; }

echo "== index builds (maintenance_work_mem=512MB, no parallel workers), $BUILD_REPEATS repeats, alternating"
for d in rand seq; do
  for r in $(seq 1 "$BUILD_REPEATS"); do
    for am in $(order "$r"); do
      ms=$(q -c "SELECT round(bench_build_ms('$(table_of $d $am)', '$(index_of $d $am)', '$am')::numeric, 1)")
      q -c "CHECKPOINT"
      record "$d" build_ms "$am" "$r" "$ms"
      step "$d build $am #$r: $ms ms"
    done
  done
  for am in btree learned; do
    record "$d" size_bytes "$am" 1 "$(q -c "SELECT pg_relation_size('$(index_of $d $am)')")"
  done
done
q -c "ANALYZE"
q -c "SELECT 'heap ' || relname || ': ' || relpages || ' pages, ' || relallvisible || ' all-visible' FROM pg_class WHERE relname ~ '^t_(rand|seq)_(bt|ln)$' ORDER BY 1" | tee "$REPORT/stats.txt"
q -c "SELECT 'learned ' || c.relname || ': ' || s.keys || ' keys, ' || s.segments || ' segments, eps ' || s.model_epsilon || ', leaf ' || s.leaf_pages || ' pages, ' || pg_size_pretty(s.bytes)
      FROM pg_class c, omendb_index_stats(c.oid) s WHERE c.relname IN ('t_rand_ln_k', 't_seq_ln_k')" | tee -a "$REPORT/stats.txt"

# pgbench scripts for this run.
W=$(( 4611686018427387904 / ROWS * 1000 ))
script() {  # script WORKLOAD DATASET TABLE -> path
  local f="$work/$1_$2_$3.pgbench"
  sed -e "s/@TABLE@/$3/g" -e "s/@N@/$ROWS/g" -e "s/@W@/$W/g" "bench/sql/$1_$2.pgbench" > "$f"
  echo "$f"
}
lookup_sql() {  # lookup_sql WORKLOAD DATASET TABLE -> the query with sample constants
  case "$1_$2" in
    point_rand) echo "SELECT v FROM $3 WHERE k = bench_key($(( ROWS / 2 )))" ;;
    point_seq) echo "SELECT v FROM $3 WHERE k = $(( ROWS / 2 ))" ;;
    range_rand) echo "SELECT count(*) FROM $3 WHERE k BETWEEN 2305843009213693952 AND 2305843009213693952 + $W" ;;
    range_seq) echo "SELECT count(*) FROM $3 WHERE k BETWEEN $(( ROWS / 2 )) AND $(( ROWS / 2 + 999 ))" ;;
  esac
}

echo "== warm-up (pg_prewarm of every table and index) and plans"
q -c "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c WHERE c.relname LIKE 't\_%' AND c.relkind IN ('r', 'i')" >/dev/null
: > "$REPORT/explain.txt"
for d in rand seq; do
  for w in point range; do
    for am in btree learned; do
      t=$(table_of $d $am); sql=$(lookup_sql $w $d "$t")
      # The second execution in one session: the first also reads catalogs and metapages.
      plan=$(q -c "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY OFF) $sql" -c "SELECT '@@'" \
               -c "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY OFF) $sql" | sed '1,/^@@$/d')
      printf '### %s %s %s\n%s\n%s\n\n' "$d" "$w" "$am" "$sql" "$plan" >> "$REPORT/explain.txt"
      if ! grep -q "$(index_of $d $am)" <<<"$plan"; then
        echo "pg_compare.sh: the plan of '$sql' does not use $(index_of $d $am):" >&2; echo "$plan" >&2; exit 1
      fi
      if [ "$w" = range ] && ! grep -q "Heap Fetches: 0" <<<"$plan"; then
        echo "pg_compare.sh: the range plan on $t visits the heap (not all-visible):" >&2; echo "$plan" >&2; exit 1
      fi
      echo "   $d $w $am: $(grep -oE '(Index Only Scan|Index Scan|Bitmap Index Scan) using [a-z_]+' <<<"$plan" | head -1), $(grep -m1 -oE 'Buffers: shared hit=[0-9]+' <<<"$plan")"
    done
  done
done

phase_on probe && {
echo "== ns per probe through the index AM interface ($PROBE_KEYS keys, omendb_probe_cost), $REPEATS repeats"
for d in rand seq; do
  for r in $(seq 1 "$REPEATS"); do
    for am in $(order "$r"); do
      ns=$(q -c "SELECT round(ns_per_probe::numeric, 1) || ',' || tids FROM omendb_probe_cost('$(index_of $d $am)',
                   (SELECT array_agg(k) FROM (SELECT k FROM probe_$d LIMIT $PROBE_KEYS) s))")
      [ "${ns#*,}" -ge "$PROBE_KEYS" ] || { echo "pg_compare.sh: $am found ${ns#*,} of $PROBE_KEYS probe keys" >&2; exit 1; }
      record "$d" probe_ns "$am" "$r" "${ns%,*}"
    done
  done
  # The same keys, each probe its own index scan: what one query's Index Scan pays.
  for r in $(seq 1 "$REPEATS"); do
    for am in $(order "$r"); do
      ns=$(q -c "SELECT round(ns_per_probe::numeric, 1) FROM omendb_probe_cost('$(index_of $d $am)',
                   (SELECT array_agg(k) FROM (SELECT k FROM probe_$d LIMIT $PROBE_KEYS) s), per_scan => true)")
      record "$d" scan_ns "$am" "$r" "$ns"
    done
  done
  step "$d probes done"
done
}

phase_on join && {
echo "== nested-loop join of $NL_KEYS keys, $BUILD_REPEATS repeats"
for d in rand seq; do
  for am in btree learned; do
    plan=$(q -c "SET enable_hashjoin = off" -c "SET enable_mergejoin = off" -c "SET enable_memoize = off" \
             -c "EXPLAIN (COSTS OFF) SELECT count(*) FROM probe_$d p JOIN $(table_of $d $am) t ON t.k = p.k")
    printf '### %s nl-join %s\n%s\n\n' "$d" "$am" "$plan" >> "$REPORT/explain.txt"
    grep -q "Nested Loop" <<<"$plan" && grep -q "$(index_of $d $am)" <<<"$plan" ||
      { echo "pg_compare.sh: the join on $(table_of $d $am) is not a nested loop over $(index_of $d $am):" >&2; echo "$plan" >&2; exit 1; }
  done
  for r in $(seq 1 "$BUILD_REPEATS"); do
    for am in $(order "$r"); do
      ns=$(q -c "SELECT round((bench_nl_join_ms('$(table_of $d $am)', 'probe_$d') * 1e6 / $NL_KEYS)::numeric, 1)")
      record "$d" nljoin_ns "$am" "$r" "$ns"
    done
  done
  step "$d joins done"
done
}

# Postmaster's reaped-children CPU time (utime + stime, clock ticks): a backend's CPU time is
# added when it exits, so the difference around one pgbench run is the CPU of the run's backends.
pm_pid=$(head -1 "$cluster_dir/data/postmaster.pid")
child_cpu() { awk '{ print $16 + $17 }' "/proc/$pm_pid/stat"; }
# Children of the postmaster other than its background processes: client backends, and exiting
# ones (once an exiting process has released its memory its title reads "[postgres]"; a zombie is
# not reaped yet): their CPU time is not in the postmaster's children's time yet.
backends() {
  ps --ppid "$pm_pid" -o args= |
    grep -cvE '^postgres: (checkpointer|background writer|walwriter|autovacuum launcher|logical replication launcher|archiver)' || true
}
settle() {  # waits until no client backend is left, so every finished one's CPU has been added
  local i
  for i in $(seq 100); do [ "$(backends)" = 0 ] && return 0; sleep 0.05; done
  echo "pg_compare.sh: client backends still running after 5 s" >&2; exit 1
}
checkpoints() { q -c "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"; }
TCK=$(getconf CLK_TCK)
pgbench_cmd() {  # pgbench_cmd SECONDS SCRIPT LOG: one pgbench run, its output in LOG
  PGOPTIONS="-c synchronous_commit=off" "$PGBIN/pgbench" -h "$PGHOST" -p "$PGPORT" -U postgres -n -M prepared \
    -c "$CLIENTS" -j "$CLIENTS" -T "$1" --random-seed=7 -f "$2" postgres > "$3" 2>&1
}
tps_of() {  # tps_of LOG -> the tps pgbench reported
  local tps
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$1" | tail -1)
  [ -n "$tps" ] || { echo "pg_compare.sh: pgbench failed:" >&2; cat "$1" >&2; exit 1; }
  echo "$tps"
}
pgb() {  # pgb SCRIPT SECONDS -> "tps backend_cpu_us_per_txn"; commits do not wait for the WAL flush
  local c0 c1 txn tps log=$work/pgbench.log
  settle; c0=$(child_cpu)  # earlier psql and pgbench backends have exited and been counted
  pgbench_cmd "$2" "$1" "$log" || { echo "pg_compare.sh: pgbench failed:" >&2; cat "$log" >&2; exit 1; }
  settle; c1=$(child_cpu)
  tps=$(tps_of "$log")
  txn=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
  [ "${txn:-0}" -gt 0 ] || { echo "pg_compare.sh: no transactions:" >&2; cat "$log" >&2; exit 1; }
  echo "$tps $(awk -v d=$(( c1 - c0 )) -v t="$TCK" -v n="$txn" 'BEGIN { printf "%.1f", d / t * 1e6 / n }')"
}
pgb_concurrent() {  # pgb_concurrent SECONDS SCRIPT_A SCRIPT_B -> "tps_a tps_b": two pgbench
  # processes started together, CLIENTS clients each, so both contenders share the same seconds
  pgbench_cmd "$1" "$2" "$work/pgbench_a.log" & local pa=$!
  pgbench_cmd "$1" "$3" "$work/pgbench_b.log" & local pb=$!
  wait "$pa" || true; wait "$pb" || true
  echo "$(tps_of "$work/pgbench_a.log") $(tps_of "$work/pgbench_b.log")"
}
load1() { cut -d' ' -f1 /proc/loadavg; }
# The timed read phases start from a checkpoint (no dirty buffers left by the builds to flush
# in the middle of a run); checkpoint_timeout = 1h and max_wal_size = 16GB keep others out.
q -c "CHECKPOINT"
ckpt0=$(checkpoints)
for w in point range insert; do
  phase_on "$w" || continue
  echo "== pgbench $w: -M prepared, $CLIENTS clients, ${DURATION}s x $REPEATS repeats per index, alternating"
  for d in rand seq; do
    if [ "$w" != insert ]; then
      for am in btree learned; do pgb "$(script $w $d "$(table_of $d $am)")" 3 >/dev/null; done
    fi
    for r in $(seq 1 "$REPEATS"); do
      for am in $(order "$r"); do
        la=$(load1)
        res=$(pgb "$(script $w $d "$(table_of $d $am)")" "$DURATION")
        read -r tps cpu <<<"$res"
        record "$d" "${w}_tps" "$am" "$r" "$tps"
        record "$d" "${w}_cpu_us" "$am" "$r" "$cpu"
        step "$d $w $am #$r: $tps tps, backend CPU $cpu us/txn (load average $la)"
      done
    done
    [ "$w" = insert ] && continue
    # Concurrent runs: both tables at once, each with its own pgbench and CLIENTS clients.
    for r in $(seq 1 "$REPEATS"); do
      set -- $(order "$r")
      la=$(load1)
      res=$(pgb_concurrent "$DURATION" "$(script $w $d "$(table_of $d $1)")" "$(script $w $d "$(table_of $d $2)")")
      read -r ta tb <<<"$res"
      record "$d" "${w}_conc_tps" "$1" "$r" "$ta"
      record "$d" "${w}_conc_tps" "$2" "$r" "$tb"
      step "$d $w concurrent #$r: $1 $ta tps, $2 $tb tps (load average $la)"
    done
  done
  if [ "$w" != insert ]; then
    n=$(( $(checkpoints) - ckpt0 ))
    [ "$n" = 0 ] || echo "pg_compare.sh: warning: $n checkpoint(s) during the read phases" | tee -a "$REPORT/stats.txt" >&2
  fi
done
phase_on insert && {
q -c "SELECT 'after inserts: ' || c.relname || ' ' || pg_size_pretty(pg_relation_size(c.oid)) FROM pg_class c WHERE c.relname LIKE 't\_%\_k' ORDER BY 1" | tee -a "$REPORT/stats.txt"
q -c "SELECT 'after inserts: learned ' || c.relname || ': ' || s.keys || ' keys, ' || s.overflow_pages || ' overflow pages'
      FROM pg_class c, omendb_index_stats(c.oid) s WHERE c.relname IN ('t_rand_ln_k', 't_seq_ln_k')" | tee -a "$REPORT/stats.txt"
}

echo "== summary"
settings="rows=$ROWS preload=$PRELOAD duration=${DURATION}s repeats=$REPEATS build_repeats=$BUILD_REPEATS clients=$CLIENTS probe_keys=$PROBE_KEYS nl_keys=$NL_KEYS shared_buffers=$SHARED_BUFFERS"
bash bench/pg_report.sh "$raw" "$OUT/pg_compare.csv" "$REPORT" "$settings"
