# A learned index beside btrees under the maintenance a DBA runs while the table is written:
# parallel VACUUM with workers vacuuming the learned index, vacuumdb -j, autovacuum re-training,
# CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY under pgbench writes, pg_repack, and the
# progress views (pg_stat_progress_create_index, pg_stat_progress_vacuum) read while they run. On a
# hot standby: scans counted in its own pg_stat_user_indexes, re-training refused with a clear error.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use LearnedTest;

my $node = PostgreSQL::Test::Cluster->new('maint');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
max_worker_processes = 12
max_parallel_workers = 8
max_parallel_maintenance_workers = 4
min_parallel_index_scan_size = 0
autovacuum_naptime = 1s
autovacuum_vacuum_threshold = 200
autovacuum_vacuum_scale_factor = 0
autovacuum_vacuum_insert_threshold = 200
autovacuum_vacuum_insert_scale_factor = 0
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION omendb;
	CREATE EXTENSION amcheck;
	CREATE TABLE t (id int8 PRIMARY KEY, k int8, v text) WITH (autovacuum_enabled = off);
	INSERT INTO t SELECT g, g, md5(g::text) FROM generate_series(1, 100000) g;
	CREATE INDEX t_id2 ON t (id, k);
	CREATE INDEX t_v ON t (v);
	CREATE INDEX t_kb ON t (k);
	CREATE INDEX t_k ON t USING learned (k);
});

# Everything a check needs: the learned index verifies with one entry per row, answers as a seq
# scan does, and the btrees beside it pass amcheck with every heap tuple.
sub check_all {
	my ($name) = @_;
	is($node->safe_psql('postgres', q{SELECT omendb_index_verify('t_k') = (SELECT count(*) FROM t)}), 't',
		"$name: learned index verifies, one entry per row");
	is(join("\n", same_answers($node, 't')), '', "$name: answers through the learned index equal a seq scan");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_index WHERE indrelid = 't'::regclass AND indisvalid AND indisready}),
		'5', "$name: five valid indexes");
	my ($rc, $out, $err) = $node->psql('postgres', q{
		SELECT bt_index_check(c.oid, true) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = 't'::regclass AND am.amname = 'btree'});
	is($rc, 0, "$name: the btrees beside it pass amcheck (bt_index_check with heapallindexed)") or diag($err);
}

# 1. Parallel VACUUM: workers take indexes from a shared queue; the learned index is the last of
# five, so a worker usually takes it. Each round must succeed; some round must see a worker at it.
my $worker_seen = 0;
for my $round (1 .. 8) {
	my $log_pos = -s $node->logfile;
	$node->safe_psql('postgres', qq{
		INSERT INTO t SELECT 1000000 * $round + g, floor(random() * 100000)::int8, 'x' FROM generate_series(1, 20000) g;
		DELETE FROM t WHERE id % 13 = $round;
	});
	my ($rc, $out, $err) = $node->psql('postgres', 'SET log_min_messages = debug1; VACUUM (PARALLEL 4, VERBOSE) t');
	is($rc, 0, "parallel VACUUM round $round succeeds") or diag($err);
	my $log = slurp_file($node->logfile, $log_pos);
	$worker_seen++ if $log =~ /learned index "t_k": (bulk delete|cleanup) in a parallel worker/;
	last if $worker_seen && $round >= 3;
}
ok($worker_seen, 'a parallel VACUUM worker vacuumed the learned index');
check_all('after parallel VACUUM');

# 2. vacuumdb -j 2 over two tables, each with a learned index beside a btree.
$node->safe_psql('postgres', q{
	CREATE TABLE u (id int8, k int8);
	INSERT INTO u SELECT g, g % 5000 FROM generate_series(1, 50000) g;
	CREATE INDEX u_id ON u (id);
	CREATE INDEX u_k ON u USING learned (k);
	DELETE FROM u WHERE id % 3 = 0;
	DELETE FROM t WHERE id % 17 = 0;
});
command_ok([ 'vacuumdb', '-j', '2', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-t', 't', '-t', 'u' ],
	'vacuumdb -j 2');
command_ok([ 'vacuumdb', '--parallel=2', '--analyze', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-t', 't' ],
	'vacuumdb --parallel=2 --analyze');
is($node->safe_psql('postgres', q{SELECT omendb_index_verify('u_k') = (SELECT count(*) FROM u)}), 't',
	'vacuumdb: the second table\'s learned index verifies');
check_all('after vacuumdb');

# 3. Autovacuum re-trains: inserts into the middle of the key range grow overflow chains until
# cleanup re-trains; autovacuum holds no xid and must still succeed.
$node->safe_psql('postgres', q{
	CREATE TABLE a (id serial, k int8);
	INSERT INTO a (k) SELECT g FROM generate_series(1, 50000) g;
	CREATE INDEX a_k ON a USING learned (k) WITH (fillfactor = 100);
	CREATE INDEX a_id ON a (id);
	INSERT INTO a (k) SELECT floor(random() * 50000)::int8 FROM generate_series(1, 30000);
	DELETE FROM a WHERE id % 10 = 0;
});
my $gen = $node->safe_psql('postgres', q{SELECT generation FROM omendb_index_stats('a_k')});
ok($node->poll_query_until('postgres', qq{
	SELECT autovacuum_count > 0 AND (SELECT generation FROM omendb_index_stats('a_k')) > $gen
	FROM pg_stat_user_tables WHERE relname = 'a'}), 'autovacuum vacuums the table and re-trains the learned index');
is($node->safe_psql('postgres', q{SELECT omendb_index_verify('a_k') = (SELECT count(*) FROM a)}), 't',
	'after autovacuum: the learned index verifies');
unlike(slurp_file($node->logfile), qr/cannot assign XIDs|automatic vacuum of table "postgres.public.a".*ERROR/s,
	'no autovacuum error in the server log');

# 4. CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY while pgbench writes.
$node->safe_psql('postgres', 'CREATE SEQUENCE ts START 90000000');
my $writes = start_pgbench($node,
	"\\set r random(1, 100000)\n"
	  . "INSERT INTO t VALUES (nextval('ts'), :r, 'w');\n"
	  . "UPDATE t SET k = k + 1 WHERE id = :r;\n"
	  . "DELETE FROM t WHERE id = :r + 7;\n");
sleep 1;
$node->safe_psql('postgres', 'CREATE INDEX CONCURRENTLY t_k2 ON t USING learned (k)');
$node->safe_psql('postgres', 'REINDEX INDEX CONCURRENTLY t_k');
$node->safe_psql('postgres', 'REINDEX TABLE CONCURRENTLY t');
sleep 1;
$writes->kill_kill;
$writes->finish;
# the writers' dead versions keep index entries until VACUUM; afterwards one entry per row
$node->safe_psql('postgres', 'VACUUM t');
is($node->safe_psql('postgres', q{SELECT omendb_index_verify('t_k2') = (SELECT count(*) FROM t)}), 't',
	'CREATE INDEX CONCURRENTLY under writes: the new learned index verifies');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relname LIKE 't%ccnew%' OR relname LIKE 't%ccold%'}), '0',
	'REINDEX CONCURRENTLY left no _ccnew/_ccold index behind');
$node->safe_psql('postgres', 'DROP INDEX t_k2');
check_all('after CREATE INDEX / REINDEX CONCURRENTLY under writes');

# 5. pg_repack rebuilds the table and every index (the learned one with them), online.
$node->safe_psql('postgres', 'CREATE EXTENSION pg_repack');
command_ok([ 'pg_repack', '--no-superuser-check', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-t', 't' ],
	'pg_repack -t t');
command_ok([ 'pg_repack', '--no-superuser-check', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-t', 't', '--only-indexes' ],
	'pg_repack --only-indexes');
check_all('after pg_repack');

# 6. Progress views read while a learned index builds and while VACUUM runs.
$node->safe_psql('postgres', q{
	CREATE TABLE big (k int8);
	INSERT INTO big SELECT hashint8(g) FROM generate_series(1, 2000000) g;
});
sub watch_progress {
	my ($sql, $view_query) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ 'psql', '-X', '-q', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-c', $sql ],
		'>', \$out, '2>', \$err);
	my %seen;
	while ($h->pumpable) {
		my $row = $node->safe_psql('postgres', $view_query);
		$seen{$row} = 1 if $row ne '';
		usleep(20_000);
		$h->pump_nb;
	}
	$h->finish;
	return (($h->results)[0], join("\n", sort keys %seen));
}
my ($rc, $phases) = watch_progress('SET maintenance_work_mem = \'64MB\'; CREATE INDEX big_k ON big USING learned (k)',
	q{SELECT phase || CASE WHEN blocks_total > 0 THEN ' (blocks)' ELSE '' END FROM pg_stat_progress_create_index
	  WHERE relid = 'big'::regclass});
is($rc, 0, 'CREATE INDEX on a 2M-row table');
like($phases, qr/building index: (scanning table|sorting keys|writing leaf pages|training model)/,
	'pg_stat_progress_create_index names the learned build phases') or diag($phases);
$node->safe_psql('postgres', 'CREATE INDEX big_kb ON big (k); DELETE FROM big WHERE k % 3 = 0');
($rc, $phases) = watch_progress('VACUUM (PARALLEL 2) big',
	q{SELECT phase || ' ' || max_dead_tuples FROM pg_stat_progress_vacuum WHERE relid = 'big'::regclass});
is($rc, 0, 'VACUUM of the 2M-row table');
like($phases, qr/vacuuming indexes|cleaning up indexes|scanning heap/, 'pg_stat_progress_vacuum reports the VACUUM')
  or diag($phases);

# 7. A hot standby: scans are counted in its own statistics; re-training (a write) is refused.
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('maint_standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
$standby->safe_psql('postgres', q{
	SET enable_seqscan = off; SET enable_bitmapscan = off;
	SELECT count(*) FROM t WHERE k BETWEEN 10 AND 20;
	SELECT count(*) FROM t WHERE k = 4242;
	SELECT pg_stat_force_next_flush();
});
is($standby->safe_psql('postgres', q{SELECT idx_scan >= 2 FROM pg_stat_user_indexes WHERE indexrelname = 't_k'}), 't',
	'standby: idx_scan counts the learned index scans');
my ($src, $sout, $serr) = $standby->psql('postgres', q{SELECT omendb_index_retrain('t_k')}, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($serr, qr/25006.*cannot execute omendb_index_retrain\(\) during recovery/s, 'standby: re-training refused with SQLSTATE 25006');
is($standby->safe_psql('postgres', q{SELECT omendb_index_verify('t_k') > 0}), 't', 'standby: the learned index verifies');

done_testing();
