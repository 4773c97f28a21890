# Moves and cold reads with a tiny buffer pool: a heap scan over a table larger than a quarter of
# shared_buffers reads through a small ring of buffers (BAS_BULKREAD), so a page the move has left
# is soon overwritten by another. Every value a batch encodes must be copied out of the page it
# came from: the cold rows must equal their heap twin's, byte for byte.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('tier_small');
$node->init;
$node->append_conf('postgresql.conf', "shared_buffers = 1MB\nautovacuum = off\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION omendb;
	CREATE TABLE ev (id int8, ts timestamptz, note text, tag varchar(40)) USING tiered;
	INSERT INTO ev SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute',
	                      repeat(md5(g::text), 1 + g % 9), 'tag-' || (g % 97)
	  FROM generate_series(1, 30000) g;
	CREATE TABLE twin AS SELECT * FROM ev;
	CREATE INDEX ev_id ON ev (id);
	SELECT omendb_tier_set_policy('ev', 'ts', batch_rows => 4656);
});
$node->poll_query_until('postgres', q{
	SELECT omendb_tier_move('ev', interval '0') >= 0 AND (SELECT hot_rows FROM omendb_tier_stats('ev')) = 0})
  or die 'the move did not finish';
my $digest = q{SELECT count(*), md5(string_agg(id || ':' || note || ':' || tag, ',' ORDER BY id)) FROM %s};
is($node->safe_psql('postgres', sprintf($digest, 'ev')), $node->safe_psql('postgres', sprintf($digest, 'twin')),
	'cold rows moved through a small buffer ring equal the heap twin');
is($node->safe_psql('postgres', q{SET enable_seqscan = off; SELECT count(*), sum(length(note)) FROM ev WHERE id BETWEEN 1000 AND 9000}),
	$node->safe_psql('postgres', q{SELECT count(*), sum(length(note)) FROM twin WHERE id BETWEEN 1000 AND 9000}),
	'and through the index');
ok($node->safe_psql('postgres', q{SELECT omendb_tier_verify('ev')}) == 30000, 'verify');
$node->stop;
done_testing();
