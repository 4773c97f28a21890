#!/usr/bin/env bash
# `make demo`: installs dependencies (root), builds and installs omendb, starts a throwaway cluster,
# loads a table, builds a btree and a learned index on the same column, shows EXPLAIN choosing the
# learned index, and prints a side-by-side comparison; moves old rows of a tiered table cold and
# shows the sizes and a query answered from cold rows; then runs the core benchmark at 10M keys.
# DEMO_ROWS (default 1000000) sets the table size. PGBIN (default /usr/lib/postgresql/15/bin) selects
# the PostgreSQL installation; OMEN_SKIP_INSTALL=1 uses what is installed there without `make install`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/deps.sh demo || exit 1
rows=${DEMO_ROWS:-1000000}
export PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ "${OMEN_SKIP_INSTALL:-0}" != 1 ]; then
  echo "== building and installing omendb"
  MAKEFLAGS= make -s -j2 PG_CONFIG="$PGBIN/pg_config" >/dev/null
  MAKEFLAGS= make -s install PG_CONFIG="$PGBIN/pg_config" >/dev/null
fi
echo "== starting a throwaway PostgreSQL 15 cluster"
source tests/pgcluster.sh
cluster_psql -q -c "CREATE EXTENSION omendb" -c "SELECT 'omendb ' || omendb_version() AS loaded"
if [ "$(cluster_psql -Atc "SELECT count(*) FROM pg_am WHERE amname = 'learned'")" = 1 ]; then
  bash bench/demo_index.sh "$rows"
else
  echo "(the learned index access method is not in this build yet: see README, Status)"
fi
if [ "$(cluster_psql -Atc "SELECT count(*) FROM pg_am WHERE amname = 'tiered'")" = 1 ]; then
  bash bench/demo_tiered.sh "$rows"
fi
echo "== core learned index vs binary search vs absl::btree_map (10M keys)"
if [ -f bench/core_bench.sh ]; then MAKEFLAGS= bash bench/core_bench.sh --sizes 10000000; fi
