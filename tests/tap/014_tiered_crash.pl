# kill -9 at every step of a move and of VACUUM's cold pass. A crash point
# (omendb.debug_crash_point) makes the process reaching that step kill itself with SIGKILL; the
# postmaster then resets every backend and recovers from WAL. After each crash the tiered table
# equals its heap twin through every access path, omendb_tier_verify passes, and the interrupted
# work, run again, finishes. Last, VACUUM's sweep within a small maintenance_work_mem.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LearnedTest;

my $node = PostgreSQL::Test::Cluster->new('tier_crash');
$node->init;
$node->append_conf('postgresql.conf', "restart_after_crash = on\nautovacuum = off\n");
$node->start;
# The crash points exist only in a build with them (make OMEN_CRASH_POINTS=1, as `make test` builds).
my ($has_points) = $node->psql('postgres', q{LOAD 'omendb'; SHOW omendb.debug_crash_point});
is($has_points, 0, 'omendb was built with its crash points (OMEN_CRASH_POINTS=1)')
  or BAIL_OUT('omendb.so has no crash points: build it with make OMEN_CRASH_POINTS=1');
$node->safe_psql('postgres', q{
	CREATE EXTENSION omendb;
	CREATE TABLE ev (id int8 PRIMARY KEY, ts timestamptz, device int, note text) USING tiered;
	INSERT INTO ev SELECT g, '2020-01-01'::timestamptz + g * interval '1 minute', g % 13, 'n' || (g % 41)
	  FROM generate_series(1, 30000) g;
	CREATE TABLE twin AS SELECT * FROM ev;
	CREATE INDEX ev_ts ON ev USING learned (ts);
	CREATE INDEX ev_note ON ev USING hash (note);
	SELECT omendb_tier_set_policy('ev', 'ts', batch_rows => 1000);
});

my @queries = (
	'SELECT count(*), sum(id) FROM %s',
	"SELECT count(*), sum(id) FROM %s WHERE ts BETWEEN '2020-01-05' AND '2020-01-09'",
	'SELECT count(*), sum(id) FROM %s WHERE id BETWEEN 4000 AND 9000',
	"SELECT count(*), sum(id) FROM %s WHERE note = 'n7'");
sub same_as_twin {
	my ($name) = @_;
	for my $q (@queries) {
		my $twin = $node->safe_psql('postgres', sprintf($q, 'twin'));
		for my $mode ('SET enable_seqscan = off', 'SET enable_indexscan = off; SET enable_bitmapscan = off') {
			is($node->safe_psql('postgres', "$mode; " . sprintf($q, 'ev')), $twin, "$name: $q ($mode)");
		}
	}
	ok($node->safe_psql('postgres', q{SELECT omendb_tier_verify('ev')}) >= 0, "$name: verify");
}

# Runs `$sql` with the crash point set (in the session, or for every process when `$system`: the
# fold runs in a background worker) and waits for the server to come back.
sub crash_at {
	my ($point, $sql, $system) = @_;
	if ($system) {
		$node->safe_psql('postgres', "LOAD 'omendb'; ALTER SYSTEM SET omendb.debug_crash_point = '$point'; SELECT pg_reload_conf()");
		sleep 1;
	}
	my $log_from = -s $node->logfile;
	my $set = $system ? '' : "SET omendb.debug_crash_point = '$point'; ";
	my ($rc, $out, $err) = $node->psql('postgres', $set . $sql);
	isnt($rc, 0, "$point: the statement did not finish");
	$node->poll_query_until('postgres', 'SELECT true') or die "server did not come back after $point";
	my $log = slurp_file($node->logfile, $log_from);
	like($log, qr/crash point "\Q$point\E" reached/, "$point: reached");
	like($log, qr/all server processes terminated; reinitializing/, "$point: the server recovered from a crash");
	if ($system) {
		$node->safe_psql('postgres', q{LOAD 'omendb'; ALTER SYSTEM RESET omendb.debug_crash_point; SELECT pg_reload_conf()});
	}
}

my $move = q{SELECT omendb_tier_move('ev', now() - '2020-01-15'::timestamptz)};
for my $point ('move-before-batch', 'move-after-batch', 'move-mid-index', 'move-after-flush', 'move-end') {
	crash_at($point, $move);
	is($node->safe_psql('postgres', q{SELECT cold_rows FROM omendb_tier_stats('ev')}), '0', "$point: nothing moved");
	same_as_twin("after kill -9 at $point");
}
$node->poll_query_until('postgres', qq{$move >= 0 AND (SELECT cold_rows FROM omendb_tier_stats('ev')) > 0})
  or die 'the move did not finish';
is($node->safe_psql('postgres', q{SELECT cold_rows FROM omendb_tier_stats('ev')}),
	$node->safe_psql('postgres', q{SELECT count(*) FROM twin WHERE ts < '2020-01-15'}), 'the move, run again, moves every row');
same_as_twin('after the move');
# A move that committed survives a crash of the server right after it (no checkpoint between:
# redo brings its batches, its index entries and its deletes of hot rows back).
$node->poll_query_until('postgres', q{SELECT omendb_tier_move('ev', now() - '2020-01-18'::timestamptz) >= 0 AND
	(SELECT cold_rows FROM omendb_tier_stats('ev')) = (SELECT count(*) FROM twin WHERE ts < '2020-01-18')})
  or die 'the move to 2020-01-18 did not finish';
my $cold_committed = $node->safe_psql('postgres', q{SELECT cold_rows FROM omendb_tier_stats('ev')});
$node->kill9;
ok(restart_after_kill9($node), 'the server restarts after kill -9');
is($node->safe_psql('postgres', q{SELECT cold_rows FROM omendb_tier_stats('ev')}), $cold_committed,
	'a committed move survives kill -9 of the server right after it');
is($cold_committed, $node->safe_psql('postgres', q{SELECT count(*) FROM twin WHERE ts < '2020-01-18'}),
	'every row of that move is cold');
same_as_twin('after kill -9 after a committed move');

# Cold rows deleted and updated, then VACUUM crashed at each of its steps.
$node->safe_psql('postgres', q{
	DELETE FROM ev WHERE id % 17 = 3 AND id < 15000;
	DELETE FROM twin WHERE id % 17 = 3 AND id < 15000;
	UPDATE ev SET note = 'u' WHERE id % 19 = 4 AND id < 15000;
	UPDATE twin SET note = 'u' WHERE id % 19 = 4 AND id < 15000;
	DELETE FROM ev WHERE id BETWEEN 1 AND 1000;
	DELETE FROM twin WHERE id BETWEEN 1 AND 1000;
});
my $changes = $node->safe_psql('postgres', q{SELECT count(*) FROM omendb.tier_delete});
ok($changes > 1000, 'cold rows changed');
for my $point ('vacuum-mid-sweep', 'vacuum-after-sweep') {
	crash_at($point, 'VACUUM ev');
	is($node->safe_psql('postgres', q{SELECT count(*) FROM omendb.tier_delete}), $changes, "$point: nothing folded");
	same_as_twin("after kill -9 at $point");
}
crash_at('fold-mid', 'VACUUM ev', 1);
is($node->safe_psql('postgres', q{SELECT count(*) FROM omendb.tier_delete}), $changes, 'fold-mid: the fold rolled back');
same_as_twin('after kill -9 in the fold worker');
crash_at('vacuum-after-fold', 'VACUUM ev');
is($node->safe_psql('postgres', q{SELECT count(*) FROM omendb.tier_delete}), '0', 'vacuum-after-fold: the fold stays');
same_as_twin('after kill -9 after the fold');
$node->safe_psql('postgres', 'VACUUM ev');
same_as_twin('after VACUUM');
my ($rc, $out, $err) = $node->psql('postgres', q{SELECT omendb_tier_verify('ev')});
unlike($err, qr/in no batch/, "VACUUM removed the index entries the killed moves left");
# VACUUM's sweep stays within maintenance_work_mem (1MB: 131072 row keys): 150000 cold deletes take
# two VACUUMs, the first folding whole batches only; the table equals its twin after each.
$node->safe_psql('postgres', q{
	CREATE TABLE big (id int8, ts timestamptz) USING tiered;
	INSERT INTO big SELECT g, '2020-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 160000) g;
	CREATE TABLE bigtwin AS SELECT * FROM big;
	CREATE INDEX big_id ON big (id);
	SELECT omendb_tier_set_policy('big', 'ts', batch_rows => 4656);
});
$node->poll_query_until('postgres', q{
	SELECT omendb_tier_move('big', interval '0') >= 0 AND (SELECT hot_rows FROM omendb_tier_stats('big')) = 0})
  or die 'the move of big did not finish';
$node->safe_psql('postgres', 'DELETE FROM big WHERE id <= 150000; DELETE FROM bigtwin WHERE id <= 150000');
my $big = q{SELECT count(*), sum(id) FROM %s WHERE id > 0};
for my $round (1, 2) {
	$node->safe_psql('postgres', q{SET maintenance_work_mem = '1MB'; VACUUM big});
	my $left = $node->safe_psql('postgres', q{SELECT count(*) FROM omendb.tier_delete WHERE relid = 'big'::regclass});
	if ($round == 1) {
		ok($left > 0 && $left < 150000, "a 1MB VACUUM folds part of the changes ($left left)");
	} else {
		is($left, '0', 'the second folds the rest');
	}
	for my $mode ('SET enable_seqscan = off', 'SET enable_indexscan = off; SET enable_bitmapscan = off') {
		is($node->safe_psql('postgres', "$mode; " . sprintf($big, 'big')), $node->safe_psql('postgres', sprintf($big, 'bigtwin')),
			"after VACUUM round $round ($mode)");
	}
	is($node->safe_psql('postgres', q{SELECT omendb_tier_verify('big')}), '10000', "verify after VACUUM round $round");
}
$node->stop;
done_testing();
