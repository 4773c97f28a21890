# The learned index's sparse layout under WAL: a streaming standby replays its build and the
# exception inserts and answers as the primary does; kill -9 and crash recovery keep every row
# findable; an unlogged table's sparse index comes back empty and takes rows; pg_dump keeps the
# layout.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION omendb;
	CREATE TABLE ev (id int8, ts timestamptz, pad text) WITH (autovacuum_enabled = off);
	INSERT INTO ev SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute'
	  - CASE WHEN g % 100 = 0 THEN (g % 997) * interval '1 minute' ELSE interval '0' END, repeat('x', 30)
	FROM generate_series(1, 30000) g;
});
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

# The build, and every change after it, reach the standby only through WAL.
$primary->safe_psql('postgres', q{
	CREATE INDEX ev_ts ON ev USING learned (ts) WITH (layout = 'sparse');
	INSERT INTO ev SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', 'end' FROM generate_series(30001, 31000) g;
	INSERT INTO ev VALUES (0, NULL, 'null');
	UPDATE ev SET ts = ts - interval '3 days' WHERE id % 450 = 0;
	DELETE FROM ev WHERE id % 5 = 0;
	VACUUM ev;
	INSERT INTO ev SELECT g, '2019-06-01'::timestamptz + g * interval '1 second', 'reused' FROM generate_series(40001, 40300) g;
});
$primary->wait_for_catchup($standby);

my @queries = (
	q{SELECT count(*) FROM ev WHERE ts = '2020-01-05 10:00'},
	q{SELECT count(*), sum(id) FROM ev WHERE ts BETWEEN '2020-01-03' AND '2020-01-04'},
	q{SELECT count(*), sum(id) FROM ev WHERE ts < '2020-01-01 12:00'},
	q{SELECT count(*), sum(id) FROM ev WHERE ts >= '2020-01-20'},
	q{SELECT count(*) FROM ev WHERE ts IS NULL},
);
sub check_answers {
	my ($node, $what) = @_;
	is($node->safe_psql('postgres', q{SELECT omendb_index_verify('ev_ts') > 0}), 't', "$what: the index verifies");
	for my $q (@queries) {
		my $i = $node->safe_psql('postgres', "SET enable_seqscan = off; $q");
		my $s = $primary->safe_psql('postgres', "SET enable_bitmapscan = off; $q");
		is($i, $s, "$what: index answer = primary seq scan answer: $q");
	}
}
like($standby->safe_psql('postgres', q{SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT * FROM ev WHERE ts = '2020-01-05'}),
	qr/Bitmap Index Scan on ev_ts/, 'the standby plans a bitmap scan of the sparse index');
check_answers($standby, 'standby');

# A re-fit (omendb_index_retrain; VACUUM when the entries double) widens the ranges to take the
# exceptions near their blocks, writes new fence and tail pages, and reaches the standby by WAL.
$primary->safe_psql('postgres', q{UPDATE ev SET ts = ts + interval '40 minutes' WHERE id % 7 = 0});
my ($before, $gen) = split /\|/, $primary->safe_psql('postgres', q{SELECT keys, generation FROM omendb_index_stats('ev_ts')});
is($primary->safe_psql('postgres', q{SELECT omendb_index_retrain('ev_ts')}), 't', 're-fit');
my ($after, $gen2) = split /\|/, $primary->safe_psql('postgres', q{SELECT keys, generation FROM omendb_index_stats('ev_ts')});
note("re-fit: $before exceptions before, $after after");
cmp_ok($after, '<', $before / 2, 'the re-fit absorbed most exceptions');
is($gen2, $gen + 1, 'a new generation');
$primary->wait_for_catchup($standby);
check_answers($standby, 'standby after a re-fit');

# kill -9 in the middle of a write stream, then recovery
$primary->safe_psql('postgres', q{
	INSERT INTO ev SELECT g, '2020-02-01'::timestamptz + g * interval '1 second', 'before crash' FROM generate_series(50001, 52000) g;
	UPDATE ev SET ts = ts + interval '1 year' WHERE id % 333 = 0;
});
$primary->stop('immediate');
$primary->start;
check_answers($primary, 'after crash recovery');
$primary->wait_for_catchup($standby);
check_answers($standby, 'standby after the primary crashed');

# Appends at the table's end extend the ranges; concurrent appends (several inserters extending
# at once), late rows and updates from pgbench leave every row found.
$primary->safe_psql('postgres', q{
	CREATE TABLE ap (id bigserial, ts timestamptz, pad text) WITH (autovacuum_enabled = off);
	INSERT INTO ap (ts, pad) SELECT '2020-01-01'::timestamptz + g * interval '1 second', repeat('p', 60)
	FROM generate_series(1, 5000) g;
	CREATE INDEX ap_ts ON ap USING learned (ts) WITH (layout = 'sparse');
	CREATE SEQUENCE ap_clock START 7001;
});
# rows appended in order extend the ranges: no entry at all
$primary->safe_psql('postgres', q{
	INSERT INTO ap (ts, pad) SELECT '2020-01-01'::timestamptz + g * interval '1 second', repeat('p', 60)
	FROM generate_series(5001, 7000) g;
});
is($primary->safe_psql('postgres', q{SELECT keys FROM omendb_index_stats('ap_ts')}), '0',
	'2000 rows appended in order (new heap blocks) add no index entry');
$primary->pgbench('--no-vacuum --client=4 --jobs=4 --transactions=400', 0, [qr{processed: 1600/1600}], [qr{^$}],
	'concurrent appends and updates',
	{ 'ap' => q{
INSERT INTO ap (ts, pad) SELECT '2020-01-01'::timestamptz + nextval('ap_clock') * interval '1 second', repeat('q', 60);
INSERT INTO ap (ts, pad) SELECT '2020-01-01'::timestamptz + (nextval('ap_clock') - 3) * interval '1 second', 'a little late';
UPDATE ap SET ts = ts + interval '1 millisecond' WHERE id = (random() * 5000)::int + 1;
} });
is($primary->safe_psql('postgres', q{SELECT omendb_index_verify('ap_ts') > 0}), 't', 'the index verifies after concurrent appends');
for my $q (q{SELECT count(*), sum(id) FROM ap WHERE ts > '2020-01-01 01:30'},
		q{SELECT count(*), sum(id) FROM ap WHERE ts BETWEEN '2020-01-01 01:20' AND '2020-01-01 01:40'},
		q{SELECT count(*) FROM ap WHERE ts = '2020-01-01 01:25:00'}) {
	is($primary->safe_psql('postgres', "SET enable_seqscan = off; $q"),
		$primary->safe_psql('postgres', "SET enable_bitmapscan = off; $q"), "after concurrent appends: $q");
}

# Concurrent inserters in key order fill a heap block each: the newest ranges stay open until
# their blocks fill, so in-order rows stay out of the index (closing each range when the next
# block began made ~3 in 4 rows exceptions with 4 inserters).
$primary->safe_psql('postgres', q{
	CREATE TABLE cc (id bigserial, ts timestamptz, pad text) WITH (autovacuum_enabled = off);
	INSERT INTO cc (ts, pad) SELECT '2020-01-01'::timestamptz + g * interval '1 second', repeat('p', 60)
	FROM generate_series(1, 5000) g;
	CREATE INDEX cc_ts ON cc USING learned (ts) WITH (layout = 'sparse');
	CREATE SEQUENCE cc_clock START 5001;
});
$primary->pgbench('--no-vacuum --client=4 --jobs=4 --transactions=1000', 0, [qr{processed: 4000/4000}], [qr{^$}],
	'concurrent in-order appends',
	{ 'cc@4' => q{INSERT INTO cc (ts, pad) SELECT '2020-01-01'::timestamptz + nextval('cc_clock') * interval '1 second', repeat('q', 60);},
	  # bitmap scans of the newest rows meanwhile read the tail while appends close its open ranges
	  'cc_scan@1' => q{SET enable_seqscan = off; SELECT count(*) FROM cc WHERE ts > '2020-01-01 01:30';} });
my ($exc, $appended) = split /\|/, $primary->safe_psql('postgres', q{SELECT keys, appended_ranges FROM omendb_index_stats('cc_ts')});
my $added = $primary->safe_psql('postgres', q{SELECT count(*) FROM cc WHERE id > 5000});
note("$added concurrent in-order appends: $exc exceptions, $appended appended ranges");
cmp_ok($exc, '<', $added / 10, 'concurrent in-order appends: under 10% of the rows are exceptions');
cmp_ok($appended, '>', 30, 'and they appended ranges');
is($primary->safe_psql('postgres', q{SELECT omendb_index_verify('cc_ts') > 0}), 't', 'the index verifies after concurrent in-order appends');
for my $q (q{SELECT count(*), sum(id) FROM cc WHERE ts > '2020-01-01 02:30'},
		q{SELECT count(*), sum(id) FROM cc WHERE ts BETWEEN '2020-01-01 02:00' AND '2020-01-01 02:10'},
		q{SELECT count(*) FROM cc WHERE ts = '2020-01-01 02:25:00'}) {
	is($primary->safe_psql('postgres', "SET enable_seqscan = off; $q"),
		$primary->safe_psql('postgres', "SET enable_bitmapscan = off; $q"), "after concurrent in-order appends: $q");
}

# Re-fits while other sessions append, update and delete: the inserts that found their row in a
# range (no lock) still find it after the swap, since ranges only widen; every row is found.
$primary->pgbench('--no-vacuum --client=4 --jobs=4 --transactions=500', 0, [qr{processed: 2000/2000}], [qr{^$}],
	'appends, updates and deletes beside re-fits',
	{ 'cc_app@20' => q{INSERT INTO cc (ts, pad) SELECT '2020-01-01'::timestamptz + nextval('cc_clock') * interval '1 second', repeat('r', 60);},
	  'cc_upd@6' => q{UPDATE cc SET ts = ts + interval '50 seconds' WHERE id = (random() * 9000)::int + 1;},
	  'cc_del@2' => q{DELETE FROM cc WHERE id = (random() * 9000)::int + 1;},
	  'cc_fit@1' => q{SELECT omendb_index_retrain('cc_ts');} });
cmp_ok($primary->safe_psql('postgres', q{SELECT refits FROM omendb_index_stats('cc_ts')}), '>', 0, 'the index was re-fit');
is($primary->safe_psql('postgres', q{SELECT omendb_index_verify('cc_ts') > 0}), 't', 'the index verifies after re-fits beside writers');
for my $q (q{SELECT count(*), sum(id) FROM cc WHERE ts > '2020-01-01 02:30'},
		q{SELECT count(*), sum(id) FROM cc WHERE ts BETWEEN '2020-01-01 01:00' AND '2020-01-01 02:10'},
		q{SELECT count(*), sum(id) FROM cc WHERE ts < '2020-01-01 01:00'}) {
	is($primary->safe_psql('postgres', "SET enable_seqscan = off; $q"),
		$primary->safe_psql('postgres', "SET enable_bitmapscan = off; $q"), "after re-fits beside writers: $q");
}

# unlogged: the init fork holds an empty sparse index (no ranges: every row an exception)
$primary->safe_psql('postgres', q{
	CREATE UNLOGGED TABLE ul (ts timestamptz);
	INSERT INTO ul SELECT '2020-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 5000) g;
	CREATE INDEX ul_ts ON ul USING learned (ts) WITH (layout = 'sparse');
});
$primary->stop('immediate');
$primary->start;
is($primary->safe_psql('postgres', 'SELECT count(*) FROM ul'), '0', 'unlogged table empty after a crash');
$primary->safe_psql('postgres',
	q{INSERT INTO ul SELECT '2021-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 3000) g});
is($primary->safe_psql('postgres',
	q{SET enable_seqscan = off; SELECT count(*) FROM ul WHERE ts BETWEEN '2021-01-01 10:00' AND '2021-01-01 20:00'}),
	'601', 'the reset sparse index finds new rows');
is($primary->safe_psql('postgres', q{SELECT omendb_index_verify('ul_ts') > 0}), 't', 'the reset sparse index verifies');

# pg_dump keeps the layout
my $dump = $primary->safe_psql('postgres', q{SELECT pg_get_indexdef('ev_ts'::regclass)});
like($dump, qr/layout='?sparse'?/, 'the index definition names the layout');
my $out = $primary->basedir . '/dump.sql';
$primary->command_ok([ 'pg_dump', '-d', $primary->connstr('postgres'), '-t', 'ev', '-f', $out ], 'pg_dump');
$primary->safe_psql('postgres', 'CREATE DATABASE restored');
$primary->safe_psql('restored', 'CREATE EXTENSION omendb');
$primary->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $primary->connstr('restored'), '-f', $out ],
	'restore');
is($primary->safe_psql('restored', q{SELECT layout FROM (SELECT unnest(reloptions) AS layout FROM pg_class WHERE relname = 'ev_ts') o}),
	'layout=sparse', 'the restored index is sparse');
is($primary->safe_psql('restored', q{SELECT omendb_index_verify('ev_ts') > 0}), 't', 'the restored index verifies');
is($primary->safe_psql('restored', $queries[1]), $primary->safe_psql('postgres', "SET enable_bitmapscan = off; $queries[1]"),
	'the restored index answers as the original table');

done_testing();
