# Crash safety: kill -9 the server while 4 clients insert into a learned index (leaf gaps,
# overflow chains, NULLs). After restart (WAL replay of generic records) the index verifies and
# answers like a sequential scan.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use LearnedTest;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "checkpoint_timeout = 30min\nmax_wal_size = 4GB");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION omendb;
	CREATE TABLE t (id serial, k int8);
	INSERT INTO t (k) SELECT (random() * 100000)::int8 FROM generate_series(1, 20000);
	CREATE INDEX t_k ON t USING learned (k) WITH (fillfactor = 80);
	CREATE UNLOGGED TABLE u (k int4);
	CREATE INDEX u_k ON u USING learned (k);
	INSERT INTO u SELECT i FROM generate_series(1, 3000) i;
	CHECKPOINT;
});

my $bench = start_pgbench($node, "\\set k random(-100, 100100)\n"
	. "INSERT INTO t (k) VALUES (CASE WHEN :k % 17 = 0 THEN NULL WHEN :k % 5 = 0 THEN 4242 ELSE :k END);\n");
sleep 8;
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM t');
ok($before > 20000, "concurrent inserts ran before the crash ($before rows)");
$node->kill9;
$bench->finish;    # pgbench fails: its server died

my $started = restart_after_kill9($node);
ok($started, 'server restarts after kill -9');
is($node->safe_psql('postgres', q{SELECT omendb_index_verify('t_k') > 0}), 't', 'index verifies after crash recovery');
diag('after recovery: ' . $node->safe_psql('postgres',
	q{SELECT format('generation %s, overflow pages %s, retired pages %s', generation, overflow_pages, retired_pages) FROM omendb_index_stats('t_k')}));
my @bad = same_answers($node, 't');
is(scalar(@bad), 0, 'answers equal a seqscan after crash recovery') or diag(join("\n", @bad));
# an unlogged table comes back empty; its index is reset from the init fork (ambuildempty)
is($node->safe_psql('postgres', q{SET enable_seqscan = off; SELECT count(*) FROM u WHERE k > 0}), '0',
	'unlogged table and its learned index are empty after the crash');
$node->safe_psql('postgres', 'INSERT INTO u SELECT i FROM generate_series(1, 2000) i');
is($node->safe_psql('postgres', q{SELECT omendb_index_verify('u_k')}), '2000', 'reset unlogged index verifies');
is($node->safe_psql('postgres', q{SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT count(*) FROM u WHERE k BETWEEN 10 AND 19}),
	'10', 'reset unlogged index answers');
# the recovered index keeps taking inserts
$node->safe_psql('postgres', 'INSERT INTO t (k) SELECT 4242 FROM generate_series(1, 2000)');
is($node->safe_psql('postgres', q{SELECT omendb_index_verify('t_k') > 0}), 't', 'index verifies after more inserts');
@bad = same_answers($node, 't');
is(scalar(@bad), 0, 'answers equal a seqscan after more inserts') or diag(join("\n", @bad));
$node->stop;
done_testing();
