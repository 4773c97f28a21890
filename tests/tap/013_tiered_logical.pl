# Logical replication of tiered tables, through a FOR ALL TABLES publication (which publishes the
# extension's internal tables too). The initial sync copies hot and cold rows; changes of hot rows
# replicate; what logical decoding cannot carry is refused on the publisher with a clear error (a
# move, a cold DELETE or UPDATE), never sent as something else; the publisher's batches never land
# in the subscriber's cold tier; the subscriber moves rows of its own, and replicated UPDATEs and
# DELETEs reach them there; TRUNCATE and DROP of a tiered table work on the publisher, and the
# published deletes of its batch rows leave the subscriber's own batches alone. The subscriber's
# table equals the publisher's after every step.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pub = PostgreSQL::Test::Cluster->new('tier_pub');
$pub->init(allows_streaming => 'logical');
$pub->start;
my $sub = PostgreSQL::Test::Cluster->new('tier_sub');
$sub->init;
$sub->start;

my $schema = q{
	CREATE EXTENSION omendb;
	CREATE TABLE ev (id int8 PRIMARY KEY, ts timestamptz, device int, note text) USING tiered;
	CREATE INDEX ev_ts ON ev USING learned (ts);
	CREATE TABLE other (id int PRIMARY KEY, ts timestamptz) USING tiered;
	CREATE TABLE gone (id int PRIMARY KEY, ts timestamptz) USING tiered;
};
$pub->safe_psql('postgres', $schema);
$sub->safe_psql('postgres', $schema);

# Rows on the publisher, the older half of `ev` (and all of `other` and `gone`) cold before the
# publication exists.
$pub->safe_psql('postgres', q{
	INSERT INTO ev SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', g % 13, 'n' || g
	  FROM generate_series(1, 20000) g;
	INSERT INTO other SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 3000) g;
	INSERT INTO gone SELECT * FROM other;
	SELECT omendb_tier_set_policy('ev', 'ts', batch_rows => 1000);
	SELECT omendb_tier_set_policy('other', 'ts');
	SELECT omendb_tier_set_policy('gone', 'ts');
});
# (repeated while a snapshot held elsewhere keeps rows from being visible to all)
$pub->poll_query_until('postgres', q{
	SELECT omendb_tier_move('ev', now() - '2020-01-08'::timestamptz) + omendb_tier_move('other', interval '0')
	       + omendb_tier_move('gone', interval '0') >= 0
	   AND (SELECT cold_rows FROM omendb_tier_stats('ev')) = 10079
	   AND (SELECT cold_rows FROM omendb_tier_stats('other')) = 3000
	   AND (SELECT cold_rows FROM omendb_tier_stats('gone')) = 3000})
  or die 'moves did not finish';

my $content = q{SELECT count(*), sum(id), string_agg(md5(id || ':' || coalesce(note, '-')), '' ORDER BY id) FROM ev};
sub same_content {
	my ($name) = @_;
	$pub->wait_for_catchup('tier_s');
	is($sub->safe_psql('postgres', $content), $pub->safe_psql('postgres', $content), "$name: subscriber = publisher");
}

$pub->safe_psql('postgres', 'CREATE PUBLICATION tier_p FOR ALL TABLES');
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres', "CREATE SUBSCRIPTION tier_s CONNECTION '$connstr' PUBLICATION tier_p");
$sub->wait_for_subscription_sync($pub, 'tier_s');
same_content('initial sync copies hot and cold rows');
is($sub->safe_psql('postgres', q{SELECT count(*) FROM other}), '3000', 'initial sync: a table with only cold rows');
is($sub->safe_psql('postgres', q{SELECT (SELECT count(*) FROM omendb.tier_batch) + (SELECT count(*) FROM omendb.tier_policy)}),
	'0', "the publisher's batches and policies are not copied into the subscriber's");

# Changes of hot rows replicate.
$pub->safe_psql('postgres', q{
	INSERT INTO ev SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', g % 13, 'n' || g
	  FROM generate_series(20001, 21000) g;
	UPDATE ev SET note = 'hot update' WHERE id % 100 = 1 AND id > 15000;
	DELETE FROM ev WHERE id % 100 = 2 AND id > 15000;
});
same_content('hot INSERT, UPDATE, DELETE');

# What logical decoding cannot carry is refused on the publisher.
my ($rc, $out, $err) = $pub->psql('postgres', q{DELETE FROM ev WHERE id = 5});
like($err, qr/cannot delete cold rows of tiered table "ev": it is published for logical replication/,
	'a cold DELETE on a published table is refused');
($rc, $out, $err) = $pub->psql('postgres', q{UPDATE ev SET note = 'x' WHERE id BETWEEN 10 AND 20});
like($err, qr/cannot update cold rows of tiered table "ev": it is published/, 'a cold UPDATE is refused');
($rc, $out, $err) = $pub->psql('postgres', q{SELECT omendb_tier_move('ev', interval '0')});
like($err, qr/cannot move rows of tiered table "ev": it is published/, 'a move is refused');
like($err, qr/HINT:  Remove the table from its publications/, 'with a hint');
is($pub->safe_psql('postgres', q{SELECT count(*) FROM ev WHERE id = 5 OR note = 'x'}), '1', 'nothing changed');
same_content('after the refusals');

# TRUNCATE and DROP of tiered tables with cold rows work on the publisher (its internal tables are
# published too: their deletes need a replica identity), and TRUNCATE replicates.
$pub->safe_psql('postgres', 'TRUNCATE other');
$pub->wait_for_catchup('tier_s');
is($sub->safe_psql('postgres', 'SELECT count(*) FROM other'), '0', 'TRUNCATE of a tiered table replicates');
is($pub->safe_psql('postgres', q{SELECT count(*) FROM omendb.tier_batch WHERE relid = 'other'::regclass}), '0',
	'the truncated table took its batches with it');

# The subscriber moves rows of its own table (not published there): every row cold. Replicated
# UPDATEs and DELETEs of rows hot on the publisher reach them in the subscriber's cold tier.
$sub->safe_psql('postgres', q{SELECT omendb_tier_set_policy('ev', 'ts')});
$sub->poll_query_until('postgres', q{
	SELECT omendb_tier_move('ev', interval '0') >= 0 AND (SELECT hot_rows FROM omendb_tier_stats('ev')) = 0})
  or die 'subscriber move did not finish';
$pub->safe_psql('postgres', q{
	UPDATE ev SET note = 'to cold on the subscriber' WHERE id % 50 = 3 AND id > 12000;
	DELETE FROM ev WHERE id % 50 = 4 AND id > 12000;
	INSERT INTO ev VALUES (30000, now(), 1, 'new');
});
same_content('replicated UPDATE and DELETE of rows cold on the subscriber');
ok($sub->safe_psql('postgres', q{SELECT count(*) FROM omendb.tier_delete}) > 0,
	"the subscriber changed its cold rows (its own change rows)");
$sub->safe_psql('postgres', 'VACUUM ev');
ok($sub->safe_psql('postgres', q{SELECT omendb_tier_verify('ev')}) > 0, 'subscriber: verify after VACUUM');
same_content('after VACUUM on the subscriber');
is($sub->safe_psql('postgres', q{SET enable_seqscan = off; SELECT count(*) FROM ev WHERE ts > '2020-01-10'}),
	$pub->safe_psql('postgres', q{SELECT count(*) FROM ev WHERE ts > '2020-01-10'}), 'subscriber: the learned index on cold rows');

# The publisher's DROP of a tiered table with cold rows deletes its batch rows, which are published
# too: the subscriber, which has batches of its own by now, keeps every one of them.
my $sub_batches = $sub->safe_psql('postgres', q{SELECT count(*), sum(nrows) FROM omendb.tier_batch});
ok((split /\|/, $sub_batches)[0] > 0, 'the subscriber has batches of its own');
$pub->safe_psql('postgres', 'DROP TABLE gone');
$pub->wait_for_catchup('tier_s');
is($pub->safe_psql('postgres', q{SELECT count(*) FROM omendb.tier_batch WHERE relid <> 'ev'::regclass}), '0',
	'the dropped table took its batches with it');
is($sub->safe_psql('postgres', q{SELECT count(*), sum(nrows) FROM omendb.tier_batch}), $sub_batches,
	"the publisher's batch deletes leave the subscriber's batches alone");
same_content('after the publisher dropped a tiered table with cold rows');
ok($sub->safe_psql('postgres', q{SELECT omendb_tier_verify('ev')}) > 0, 'subscriber: verify after the drop');

$sub->stop;
$pub->stop;
done_testing();
