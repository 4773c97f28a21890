# A streaming standby replays the learned index's generic WAL and answers through the index
# exactly as the primary does.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LearnedTest;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION omendb;
	CREATE TABLE t (id serial, k int8);
	INSERT INTO t (k) SELECT (i * 7919) % 100003 FROM generate_series(1, 30000) i;
	CREATE INDEX t_k ON t USING learned (k);
});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

# changes after the base backup reach the standby only through WAL
$primary->safe_psql('postgres', q{
	INSERT INTO t (k) SELECT (random() * 100000)::int8 FROM generate_series(1, 5000);
	INSERT INTO t (k) SELECT 4242 FROM generate_series(1, 3000);
	INSERT INTO t (k) SELECT NULL FROM generate_series(1, 700);
	DELETE FROM t WHERE id % 7 = 0;
	VACUUM (INDEX_CLEANUP ON) t;
	CREATE TABLE u (k int4);
	INSERT INTO u SELECT i FROM generate_series(1, 10000) i;
	CREATE INDEX u_k ON u USING learned (k);
});
$primary->wait_for_catchup($standby);

my $plan = $standby->safe_psql('postgres',
	'SET enable_seqscan = off; SET enable_bitmapscan = off; EXPLAIN (COSTS OFF) SELECT * FROM t WHERE k = 4242');
like($plan, qr/Index Scan using t_k/, 'standby plans the learned index');
is($standby->safe_psql('postgres', q{SELECT omendb_index_verify('t_k') > 0 AND omendb_index_verify('u_k') > 0}),
	't', 'indexes verify on the standby');
for my $q (answer_queries('t'), 'SELECT count(*) FROM u WHERE k BETWEEN 10 AND 500') {
	my $s = $standby->safe_psql('postgres', "SET enable_seqscan = off; SET enable_bitmapscan = off; $q");
	my $p = $primary->safe_psql('postgres', "SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off; $q");
	is($s, $p, "standby index answer = primary seqscan answer: $q");
}

# A standby query reading a generation the primary re-trained away and freed (the primary can't
# see standby snapshots without hot_standby_feedback) fails cleanly with a serialization failure
# instead of reading reused pages.
my $sb = $standby->background_psql('postgres', on_error_stop => 0);
$sb->query_safe('SET enable_seqscan = off');
$sb->query_safe('SET enable_bitmapscan = off');
$sb->query_safe('BEGIN');
$sb->query_safe('DECLARE c CURSOR FOR SELECT k FROM t WHERE k BETWEEN 0 AND 6000 ORDER BY k');
my $first = $sb->query_safe('FETCH 2 FROM c');
like($first, qr/^\d+\n\d+$/, 'standby cursor started on the old generation');
$primary->safe_psql('postgres', q{SELECT omendb_index_retrain('t_k')});
$primary->safe_psql('postgres', 'VACUUM t');    # frees the old generation: no primary snapshot needs it
$primary->safe_psql('postgres', q{SELECT omendb_index_retrain('t_k')});
$primary->safe_psql('postgres', 'INSERT INTO t (k) SELECT 4242 FROM generate_series(1, 20000)');    # reuses pages
$primary->wait_for_catchup($standby);
my ($rest, $failed) = $sb->query('FETCH ALL FROM c');
ok($failed, 'the standby cursor fails');
like($sb->{stderr}, qr/learned index "t_k" was re-trained on the primary while this query read it/,
	'with a serialization failure, not rows from pages of another generation');
$sb->query('ROLLBACK');
$sb->quit;
is($standby->safe_psql('postgres', q{SET enable_seqscan = off; SELECT count(*) FROM t WHERE k BETWEEN 0 AND 6000}),
	$primary->safe_psql('postgres', q{SET enable_indexscan = off; SET enable_bitmapscan = off; SELECT count(*) FROM t WHERE k BETWEEN 0 AND 6000}),
	'a new standby query reads the new generation');

# A standby session that read the index, then a re-train replayed, a promotion, and inserts by
# that session: they land in the new generation. (Inserts route keys with the cache as it is,
# no metapage read, only when it was read after recovery ended: a re-train freezes the old leaves
# only in the primary's buffers. Here a relcache rebuild may refresh the session's cache too.)
my $ss = $standby->background_psql('postgres', on_error_stop => 0);
$ss->query_safe('SET enable_seqscan = off');
$ss->query_safe('SET enable_bitmapscan = off');
like($ss->query_safe('SELECT count(*) FROM t WHERE k = 4242'), qr/^\d+$/, 'a standby session reads the index');
$primary->safe_psql('postgres', q{SELECT omendb_index_retrain('t_k')});
my $gen = $primary->safe_psql('postgres', q{SELECT generation FROM omendb_index_stats('t_k')});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', q{SELECT generation FROM omendb_index_stats('t_k')}), $gen,
	"the standby replayed the re-train (generation $gen)");
$primary->stop;
$standby->promote;
$ss->query_safe('INSERT INTO t (k) SELECT 777777 FROM generate_series(1, 50)');
is($ss->query_safe('SELECT count(*) FROM t WHERE k = 777777'), '50',
	'after promotion, rows the session inserted are found through the index');
is($standby->safe_psql('postgres', q{SELECT omendb_index_verify('t_k') > 0}), 't', 'the index verifies');
$ss->quit;
$standby->stop;
done_testing();
