# Table AM `tiered` with cold rows across the machinery around a database: a streaming standby
# (made from pg_basebackup) answers every query like the primary after moves, after cold rows
# were deleted and updated, and after VACUUM swept and folded them (an old standby snapshot keeps
# its answers: replay waits at the horizon VACUUM logs); kill -9 in the middle
# of a move leaves the table equal to its heap twin (the move's rows are hot again, none lost, none
# twice); pg_dump / pg_restore brings every row back once, and the policy with it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use LearnedTest;

my $primary = PostgreSQL::Test::Cluster->new('tiered_primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION omendb;
	CREATE TABLE ev (id int8 PRIMARY KEY, ts timestamptz, device int, v float8, note text) USING tiered;
	INSERT INTO ev SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', g % 50, g * 0.5, 'n' || (g % 37)
	  FROM generate_series(1, 50000) g;
	CREATE TABLE twin AS SELECT * FROM ev;
	CREATE INDEX ev_ts ON ev USING learned (ts);
	CREATE INDEX ev_device ON ev (device);
	SELECT omendb_tier_set_policy('ev', 'ts', interval '1 day', order_by => 'device', batch_rows => 1000);
});

my @queries = (
	'SELECT count(*), sum(id), sum(v) FROM %s',
	"SELECT count(*), sum(id) FROM %s WHERE ts BETWEEN '2020-01-05' AND '2020-01-06'",
	'SELECT count(*), sum(id) FROM %s WHERE device = 7',
	"SELECT string_agg(id::text, ',' ORDER BY id) FROM %s WHERE note = 'n3' AND id < 3000");
# Every query through the indexes and through a seq scan on `node`, equal to the heap twin's.
sub same_as_twin {
	my ($node, $name) = @_;
	for my $q (@queries) {
		my $twin = $node->safe_psql('postgres', sprintf($q, 'twin'));
		for my $mode ('SET enable_seqscan = off', 'SET enable_indexscan = off; SET enable_bitmapscan = off') {
			my $got = $node->safe_psql('postgres', "$mode; " . sprintf($q, 'ev'));
			is($got, $twin, "$name: $q ($mode)");
		}
	}
}

# Moves everything older than `upto`, repeating while a snapshot held elsewhere keeps rows from
# being visible to all.
sub move_until {
	my ($node, $upto) = @_;
	$node->poll_query_until('postgres', qq{
		SELECT omendb_tier_move('ev', now() - '$upto'::timestamptz) >= 0 AND
		       (SELECT cold_rows FROM omendb_tier_stats('ev')) >= (SELECT count(*) FROM twin WHERE ts < '$upto')})
	  or die "move to $upto did not finish";
}

move_until($primary, '2020-01-15');
same_as_twin($primary, 'primary after a move');

# A standby from pg_basebackup, then more moves streamed to it.
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('tiered_standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;
move_until($primary, '2020-01-25');
# cold rows deleted and updated on the primary (the heap twin takes the same statements)
$primary->safe_psql('postgres', q{
	DELETE FROM ev WHERE id % 101 = 7;
	DELETE FROM twin WHERE id % 101 = 7;
	UPDATE ev SET v = -v, note = 'u' WHERE id % 103 = 5;
	UPDATE twin SET v = -v, note = 'u' WHERE id % 103 = 5;
});
same_as_twin($primary, 'primary after cold deletes and updates');
$primary->wait_for_catchup($standby);
same_as_twin($standby, 'standby after moves, cold deletes and updates');
is($standby->safe_psql('postgres', q{SELECT omendb_tier_verify('ev')}),
	$primary->safe_psql('postgres', q{SELECT omendb_tier_verify('ev')}), 'standby: verify counts the same cold rows');
my ($rc, $out, $err) = $standby->psql('postgres', q{SELECT omendb_tier_move('ev', interval '1 day')});
like($err, qr/read-only transaction|during recovery/, 'standby: a move is refused');

# VACUUM of cold rows (index entries of deleted rows swept, changes folded into the batches)
# streams to the standby. A standby snapshot older than the deletes VACUUM sweeps keeps its answers
# through the indexes too: replay waits for it at the conflict horizon VACUUM logs before it
# removes entries (max_standby_streaming_delay = -1: wait rather than cancel).
$standby->append_conf('postgresql.conf', 'max_standby_streaming_delay = -1');
$standby->reload;
my $by_index = q{SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SELECT count(*), sum(id) FROM ev WHERE device = 7};
my $by_seq = q{SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off; SELECT count(*), sum(id) FROM ev WHERE device = 7};
my $sb = $standby->background_psql('postgres', on_error_stop => 0);
$sb->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
my $old = $sb->query_safe($by_index);
is($sb->query_safe($by_seq), $old, 'standby snapshot: index and seq scan agree');
$primary->safe_psql('postgres', q{
	DELETE FROM ev WHERE device = 7 AND ts < '2020-01-20';
	DELETE FROM twin WHERE device = 7 AND ts < '2020-01-20';
});
my $folded = 0;
for (1 .. 60) {    # again while a snapshot elsewhere (autovacuum's analyze) holds the horizon back
	$primary->safe_psql('postgres', 'VACUUM ev');
	$folded = $primary->safe_psql('postgres', q{SELECT count(*) = 0 FROM omendb.tier_delete}) eq 't' and last;
	sleep 1;
}
ok($folded, 'VACUUM swept and folded the cold deletes on the primary');
ok($standby->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'startup' AND wait_event = 'RecoveryConflictSnapshot'}),
	'standby replay waits for the old snapshot at the sweep');
is($sb->query_safe($by_index), $old, 'old standby snapshot: the swept rows still found through the index');
is($sb->query_safe($by_seq), $old, 'old standby snapshot: and by a seq scan');
$sb->query_safe('COMMIT');
$sb->quit;
$primary->wait_for_catchup($standby);
same_as_twin($primary, 'primary after VACUUM of cold rows');
same_as_twin($standby, 'standby after VACUUM of cold rows');
is($standby->safe_psql('postgres', q{SELECT omendb_tier_verify('ev')}),
	$primary->safe_psql('postgres', q{SELECT omendb_tier_verify('ev')}), 'standby: verify after VACUUM');
# The base backup, promoted: a server of its own with every cold row, that moves rows itself.
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'the standby was not promoted';
same_as_twin($standby, 'promoted standby');
move_until($standby, '2020-02-01');
same_as_twin($standby, 'promoted standby after its own move');
ok($standby->safe_psql('postgres', q{SELECT omendb_tier_verify('ev')}) > 0, 'promoted standby: verify');
$standby->stop;

# kill -9 while a move runs: nothing of it survives, nothing is lost.
my ($o, $e) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-X', '-h', $primary->host, '-p', $primary->port, '-d', 'postgres', '-c',
	  q{SELECT omendb_tier_move('ev', now() - '2020-02-01'::timestamptz), pg_sleep(30)} ],
	'>', \$o, '2>', \$e);
$primary->poll_query_until('postgres', q{SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND state = 'active'})
  or die 'the move did not start';
my $cold_before = $primary->safe_psql('postgres', q{SELECT cold_rows FROM omendb_tier_stats('ev')});
$primary->kill9;
$h->finish;
ok(restart_after_kill9($primary), 'primary restarts after kill -9 during a move');
is($primary->safe_psql('postgres', q{SELECT cold_rows FROM omendb_tier_stats('ev')}), $cold_before,
	'the killed move left no cold rows behind');
same_as_twin($primary, 'after kill -9 during a move');
ok($primary->safe_psql('postgres', q{SELECT omendb_tier_verify('ev')}) > 0, 'verify after the crash');

# pg_dump / pg_restore: every row once (restored hot), the policy too.
my $dump = $primary->basedir . '/ev.dump';
command_ok([ 'pg_dump', '-Fc', '-h', $primary->host, '-p', $primary->port, '-f', $dump, 'postgres' ], 'pg_dump');
$primary->safe_psql('postgres', 'CREATE DATABASE restored');
command_ok([ 'pg_restore', '-h', $primary->host, '-p', $primary->port, '-d', 'restored', $dump ], 'pg_restore');
is($primary->safe_psql('restored', q{SELECT count(*), sum(id) FROM ev}), $primary->safe_psql('postgres', q{SELECT count(*), sum(id) FROM twin}),
	'restored: every row once');
is($primary->safe_psql('restored', q{SELECT relid::text, tier_column, cold_after, order_by, batch_rows FROM omendb.tier_policy}), 'ev|ts|1 day|device|1000',
	'restored: the policy');
is($primary->safe_psql('restored', q{SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE relname = 'ev'}), 'tiered',
	'restored: still a tiered table');
done_testing();
