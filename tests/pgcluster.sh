# Sourced by the demo and the pgbench comparison: starts a throwaway PostgreSQL 15 cluster owned by
# the postgres user, in a temp dir, listening on 127.0.0.1 and a Unix socket in that dir, on a free
# port; stops it and removes the dir on exit. Defines: PGBIN, PGPORT, PGHOST, cluster_psql.
# PGBIN (default /usr/lib/postgresql/15/bin) selects the PostgreSQL installation.
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
cluster_dir=$(mktemp -d /tmp/omendb-cluster.XXXXXX)
chown postgres: "$cluster_dir"
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 54329)
PGHOST=$cluster_dir
export PGPORT PGHOST
# Runs in the cluster dir: the checkout may be unreadable to postgres (e.g. under /root), so
# files from it are passed on stdin, never by path.
as_pg() { (cd "$cluster_dir" && runuser -u postgres -- env PGPORT="$PGPORT" PGHOST="$PGHOST" "$@"); }
cluster_stop() {
  as_pg "$PGBIN/pg_ctl" -D "$cluster_dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$cluster_dir"
}
trap cluster_stop EXIT
as_pg "$PGBIN/initdb" -D "$cluster_dir/data" -A trust -U postgres >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$cluster_dir/data" -l "$cluster_dir/server.log" -w start \
  -o "-p $PGPORT -k $cluster_dir -c listen_addresses=127.0.0.1 ${CLUSTER_OPTS:-}" >/dev/null
cluster_psql() { as_pg "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -d postgres "$@"; }
