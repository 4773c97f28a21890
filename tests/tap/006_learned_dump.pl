# pg_dump / pg_restore round trip: learned indexes (with options, explicit and default opclasses,
# on a partitioned table) come back and answer through the index.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION omendb;
	CREATE TABLE t (k int8, d date);
	INSERT INTO t SELECT i * 3, date '2020-01-01' + i FROM generate_series(1, 5000) i;
	CREATE INDEX t_k ON t USING learned (k int8_learned_ops) WITH (error_bound = 16, fillfactor = 70);
	CREATE INDEX t_d ON t USING learned (d);
	CREATE TABLE p (k int4) PARTITION BY RANGE (k);
	CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (1000);
	CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (1000) TO (2000);
	INSERT INTO p SELECT i FROM generate_series(0, 1999) i;
	CREATE INDEX p_k ON p USING learned (k);
});
my $dump = $node->basedir . '/db.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');

is($node->safe_psql('restored', q{SELECT indexdef FROM pg_indexes WHERE indexname = 't_k'}),
	q{CREATE INDEX t_k ON public.t USING learned (k) WITH (error_bound='16', fillfactor='70')},
	'index definition and options restored');
is($node->safe_psql('restored',
	q{SELECT omendb_index_verify('t_k') + omendb_index_verify('t_d') + omendb_index_verify('p1_k_idx') + omendb_index_verify('p2_k_idx')}),
	'12000', 'restored indexes verify');
my $plan = $node->safe_psql('restored', 'SET enable_seqscan = off; SET enable_bitmapscan = off; EXPLAIN (COSTS OFF) SELECT * FROM t WHERE k = 300');
like($plan, qr/Index Scan using t_k/, 'restored index is used');
is($node->safe_psql('restored', 'SET enable_seqscan = off; SELECT d FROM t WHERE k = 300'), '2020-04-10', 'and answers');
is($node->safe_psql('restored', 'SET enable_seqscan = off; SELECT count(*) FROM p WHERE k BETWEEN 990 AND 1009'), '20',
	'partitioned learned index answers after restore');
$node->stop;
done_testing();
