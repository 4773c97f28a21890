#!/usr/bin/env bash
# bench/pg_loops.sh: per-query backend time of learned vs btree for 1000-row range counts and
# single-row inserts, measured inside one backend (a PL/pgSQL loop), so the client round trip and
# pgbench's scheduling on a loaded machine do not drown the index's own cost (docs/bench-pg.md).
#
#   sudo bash bench/pg_loops.sh            # ROWS=2000000 LOOPS=2000 REPEATS=4
#
# Same data as bench/pg_compare.sh (random keys bench_key(i), sequential keys i), one table per
# index. Range: LOOPS queries `SELECT count(*) … WHERE k BETWEEN lo AND lo + w` (1000 rows,
# index-only scans, tables all-visible); insert: LOOPS rows per call into the random-key tables.
# Contenders alternate (ABBA); prints per-call µs, medians and the ratio learned/btree (time, so
# < 1 means learned is faster); for ranges also the backend's CPU µs per call (/proc/self/schedstat),
# steadier than wall time on a shared machine. Environment: ROWS LOOPS REPEATS PGBIN OMEN_SKIP_INSTALL.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-2000000}
LOOPS=${LOOPS:-2000}
REPEATS=${REPEATS:-4}
export PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ "$(id -u)" -ne 0 ]; then echo "pg_loops.sh: needs root (starts a cluster as postgres)" >&2; exit 1; fi
if [ "${OMEN_SKIP_INSTALL:-0}" != 1 ]; then
  make -s -j2 PG_CONFIG="$PGBIN/pg_config" >/dev/null
  make -s install PG_CONFIG="$PGBIN/pg_config" >/dev/null
fi
export CLUSTER_OPTS="-c shared_buffers=$(( ROWS * 300 / 1048576 < 256 ? 256 : ROWS * 300 / 1048576 ))MB \
 -c maintenance_work_mem=512MB -c max_parallel_workers_per_gather=0 -c max_parallel_maintenance_workers=0 \
 -c jit=off -c autovacuum=off -c max_wal_size=16GB -c checkpoint_timeout=1h"
source tests/pgcluster.sh
q() { cluster_psql -At -q "$@"; }

W=$(( 4611686018427387904 / ROWS * 1000 ))
echo "== loading $ROWS rows x 4 tables"
q < bench/sql/pg_compare_setup.sql  # stdin: the postgres user may not be able to read the checkout
q <<SQL
CREATE TABLE r_bt AS SELECT bench_key(g) AS k, g AS v FROM generate_series(1, $ROWS::bigint) g;
CREATE TABLE r_ln AS SELECT * FROM r_bt;
CREATE TABLE s_bt AS SELECT g AS k, g AS v FROM generate_series(1, $ROWS::bigint) g;
CREATE TABLE s_ln AS SELECT * FROM s_bt;
CREATE INDEX ON r_bt USING btree (k);
CREATE INDEX ON r_ln USING learned (k);
CREATE INDEX ON s_bt USING btree (k);
CREATE INDEX ON s_ln USING learned (k);
VACUUM (FREEZE, ANALYZE);
CHECKPOINT;
SQL
# One function per table, static SQL, so each query runs a cached plan as pgbench -M prepared does.
for t in r_bt r_ln s_bt s_ln; do
  if [ "${t%_*}" = r ]; then w=$W span=$(( 4611686018427387903 - W )); else w=999 span=$(( ROWS - 1000 )); fi
  q <<SQL
-- range_us_$t(n): 'wall cpu': µs per 1000-row count(*) over n windows spread over the keys, as
-- wall-clock time and as this backend's CPU time (/proc/self/schedstat: time on a CPU, so waiting
-- for a core on a busy machine is not counted).
CREATE FUNCTION range_us_$t(n int) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; cpu0 bigint; c bigint; lo bigint; BEGIN
  cpu0 := split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint;
  t0 := clock_timestamp();
  FOR i IN 1..n LOOP
    lo := ((i % 1999)::numeric * $span / 1999)::bigint;
    SELECT count(*) INTO c FROM $t WHERE k BETWEEN lo AND lo + $w;
  END LOOP;
  RETURN round((extract(epoch FROM clock_timestamp() - t0) * 1e6 / n)::numeric, 1) || ' ' ||
         round((split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint - cpu0) / 1e3 / n, 1);
END \$\$;
-- insert_us_$t(first row id, n): µs per single-row insert of n new random keys.
CREATE FUNCTION insert_us_$t(base bigint, n int) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; BEGIN
  t0 := clock_timestamp();
  FOR i IN 1..n LOOP INSERT INTO $t VALUES (bench_key(base + i), i); END LOOP;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
END \$\$;
SQL
done
for d in r s; do
  for t in ${d}_bt ${d}_ln; do
    q -c "SET enable_bitmapscan = off" -c "EXPLAIN (COSTS OFF) SELECT count(*) FROM $t WHERE k BETWEEN 1 AND 2" |
      grep -q "Index Only Scan" || { echo "pg_loops.sh: no index-only scan on $t" >&2; exit 1; }
  done
done

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
report() {  # report LABEL FILE_BT FILE_LN
  local b l
  b=$(median < "$2"); l=$(median < "$3")
  printf '%-22s btree %8.1f us  learned %8.1f us  learned/btree %.3f   (btree: %s; learned: %s)\n' "$1" "$b" "$l" \
    "$(awk -v l="$l" -v b="$b" 'BEGIN { print l / b }')" "$(tr '\n' ' ' < "$2")" "$(tr '\n' ' ' < "$3")"
}
work=$(mktemp -d)
for d in r s; do
  q -c "SET enable_bitmapscan = off" -c "SELECT range_us_${d}_bt(200), range_us_${d}_ln(200)" >/dev/null  # warm-up
  for r in $(seq 1 "$REPEATS"); do
    order=$([ $(( r % 2 )) = 1 ] && echo "bt ln" || echo "ln bt")
    for a in $order; do
      q -c "SET enable_bitmapscan = off" -c "SELECT range_us_${d}_$a($LOOPS)" > "$work/out"
      cut -d' ' -f1 "$work/out" >> "$work/range_${d}_$a"
      cut -d' ' -f2 "$work/out" >> "$work/range_cpu_${d}_$a"
    done
  done
  report "range $([ $d = r ] && echo random || echo sequential)" "$work/range_${d}_bt" "$work/range_${d}_ln"
  report "  (backend CPU)" "$work/range_cpu_${d}_bt" "$work/range_cpu_${d}_ln"
done
for r in $(seq 1 "$REPEATS"); do
  order=$([ $(( r % 2 )) = 1 ] && echo "bt ln" || echo "ln bt")
  for a in $order; do
    q -c "SELECT round(insert_us_r_$a($(( ROWS * (r + 1) )), $LOOPS)::numeric, 1)" >> "$work/insert_$a"
  done
done
report "insert random" "$work/insert_bt" "$work/insert_ln"
rm -rf "$work"
