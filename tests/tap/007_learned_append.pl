# Appends at the right edge under concurrency, crash and replication, once with GenericXLog (omendb
# not preloaded) and once with omendb's WAL resource manager (shared_preload_libraries = omendb on
# the primary and the standby). 4 clients append serial keys (edge leaves), insert keys inside the
# built range (leaf gaps, overflow) and NULLs while a streaming standby replays; then the standby
# answers through the index like the primary's seqscan, and after kill -9 the primary recovers an
# index that verifies and answers the same. wal_consistency_checking on the primary makes replay
# compare every index page it rebuilds with the primary's image.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use LearnedTest;

for my $mode ('generic', 'custom') {
	my $primary = PostgreSQL::Test::Cluster->new("append_$mode");
	$primary->init(allows_streaming => 1);
	$primary->append_conf('postgresql.conf', "checkpoint_timeout = 30min\nmax_wal_size = 4GB");
	$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'omendb'") if $mode eq 'custom';
	# every record carries the page images that redo (the standby, crash recovery) compares its
	# result with: the appends' generic records (written directly, without GenericXLog) and the
	# omendb records must rebuild the primary's pages byte for byte
	# ('all' would add the heap's records: several times the WAL for no index coverage)
	$primary->append_conf('postgresql.conf',
		"wal_consistency_checking = '" . ($mode eq 'custom' ? 'generic,omendb' : 'generic') . "'\nwal_keep_size = '4GB'");
	$primary->start;
	$primary->safe_psql('postgres', q{
		CREATE EXTENSION omendb;
		CREATE TABLE t (id serial, k int8);
		INSERT INTO t (k) SELECT i FROM generate_series(1, 20000) i;
		CREATE INDEX t_k ON t USING learned (k) WITH (fillfactor = 95);
		CREATE SEQUENCE s START 20001;
	});
	$primary->backup('b');
	my $standby = PostgreSQL::Test::Cluster->new("append_standby_$mode");
	$standby->init_from_backup($primary, 'b', has_streaming => 1);
	$standby->start;
	$primary->safe_psql('postgres', 'CHECKPOINT');

	my $bench = start_pgbench($primary, "\\set r random(1, 100)\n"
		. "INSERT INTO t (k) VALUES (CASE WHEN :r <= 85 THEN nextval('s') WHEN :r <= 97 THEN (:r * 199)::int8 ELSE NULL END);\n");
	sleep 6;
	$primary->wait_for_catchup($standby);
	my $edge = $primary->safe_psql('postgres', q{SELECT edge_leaves FROM omendb_index_stats('t_k')});
	ok($edge > 0, "$mode: appends opened edge leaves ($edge)");
	$standby->safe_psql('postgres', q{SELECT omendb_index_verify('t_k')});
	sleep 2;
	my $rows = $primary->safe_psql('postgres', 'SELECT count(*) FROM t');
	$primary->kill9;
	$bench->finish;    # pgbench fails: its server died
	ok($rows > 20000, "$mode: concurrent appends ran before the crash ($rows rows)");

	my $started = restart_after_kill9($primary);
	ok($started, "$mode: primary restarts after kill -9");
	is($primary->safe_psql('postgres', q{SELECT omendb_index_verify('t_k') > 0}), 't', "$mode: index verifies after crash recovery");
	my @bad = same_answers($primary, 't');
	is(scalar(@bad), 0, "$mode: answers equal a seqscan after crash recovery") or diag(join("\n", @bad));
	$primary->safe_psql('postgres', q{INSERT INTO t (k) SELECT nextval('s') FROM generate_series(1, 3000)});
	$primary->wait_for_catchup($standby);
	is($standby->safe_psql('postgres', q{SELECT omendb_index_verify('t_k') > 0}), 't', "$mode: standby index verifies");
	my $from = $primary->safe_psql('postgres', 'SELECT max(k) - 5000 FROM t');
	my $recent = "SELECT count(*), min(k), max(k) FROM t WHERE k > $from";
	is($standby->safe_psql('postgres', "SET enable_seqscan = off; SET enable_bitmapscan = off; $recent"),
		$primary->safe_psql('postgres', "SET enable_indexscan = off; SET enable_bitmapscan = off; $recent"),
		"$mode: standby index answer on recent keys = primary seqscan answer");
	for my $q (answer_queries('t')) {
		my $idx = $standby->safe_psql('postgres', "SET enable_seqscan = off; SET enable_bitmapscan = off; $q");
		my $seq = $primary->safe_psql('postgres', "SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off; $q");
		is($idx, $seq, "$mode: standby index answer = primary seqscan answer: $q");
	}
	diag("$mode: " . $primary->safe_psql('postgres',
		q{SELECT format('%s keys, %s edge leaves, %s overflow pages', keys, edge_leaves, overflow_pages) FROM omendb_index_stats('t_k')}));
	$standby->stop;
	$primary->stop;
}
done_testing();
