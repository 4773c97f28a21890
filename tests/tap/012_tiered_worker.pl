# The tier policy worker (shared_preload_libraries = 'omendb'): a launcher starts a worker per
# database every omendb.tier_naptime seconds; it moves the rows older than each policy's cold_after,
# in every database that has the extension, skips databases without it, and logs (instead of
# stopping at) a table it cannot move.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('tier_worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'omendb'
omendb.tier_naptime = 1
});
$node->start;
like($node->safe_psql('postgres', q{SELECT string_agg(backend_type, ',') FROM pg_stat_activity WHERE backend_type LIKE 'omendb%'}),
	qr/omendb tier launcher/, 'the launcher runs');
$node->safe_psql('postgres', 'CREATE DATABASE other');
for my $db ('postgres', 'other') {
	$node->safe_psql($db, q{
		CREATE EXTENSION omendb;
		CREATE TABLE ev (id int8, ts timestamptz, v float8) USING tiered;
		INSERT INTO ev SELECT g, now() - g * interval '1 hour', g FROM generate_series(1, 2000) g;
		CREATE INDEX ON ev USING learned (ts);
		-- a table without cold_after is left alone; one that cannot be moved is logged
		CREATE TABLE keep (id int8, ts timestamptz) USING tiered;
		INSERT INTO keep SELECT g, now() - g * interval '1 day' FROM generate_series(1, 100) g;
		SELECT omendb_tier_set_policy('keep', 'ts');
		SELECT omendb_tier_set_policy('ev', 'ts', cold_after => interval '30 days');
	});
}
$node->safe_psql('postgres', 'CREATE DATABASE plain');    # no extension: skipped
# a table the worker cannot move (published for logical replication): logged, the others go on
$node->safe_psql('postgres', q{
	CREATE TABLE pub (id int8, ts timestamptz) USING tiered;
	INSERT INTO pub SELECT g, now() - g * interval '1 day' FROM generate_series(1, 100) g;
	CREATE PUBLICATION p FOR TABLE pub;
	SELECT omendb_tier_set_policy('pub', 'ts', cold_after => interval '1 day');
});
for my $db ('postgres', 'other') {
	ok($node->poll_query_until($db, q{SELECT cold_rows = (SELECT count(*) FROM ev WHERE ts < now() - interval '30 days') AND cold_rows > 0
	  FROM omendb_tier_stats('ev')}), "$db: the worker moved the rows older than cold_after");
	is($node->safe_psql($db, q{SELECT count(*), sum(id) FROM ev}), '2000|2001000', "$db: every row once");
	is($node->safe_psql($db, q{SELECT cold_rows FROM omendb_tier_stats('keep')}), '0', "$db: no cold_after, nothing moved");
	ok($node->safe_psql($db, q{SELECT omendb_tier_verify('ev')}) > 0, "$db: verify");
}
# the worker's pass that meets "pub" may come after the passes that moved "ev": wait for the line
ok($node->wait_for_log(qr/omendb tier worker: moving rows of relation \d+ failed: cannot move rows of tiered table "pub"/),
	'the table that cannot be moved is logged');
is($node->safe_psql('postgres', q{SELECT cold_rows FROM omendb_tier_stats('pub')}), '0', 'and left hot');
unlike(slurp_file($node->logfile), qr/PANIC|terminated by signal/, 'no crash in the log');
done_testing();
