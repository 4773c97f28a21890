# Shards behind postgres_fdw: two shard clusters hold a table with learned indexes of their own
# (dense on k, sparse on ts), and a coordinator's partitioned table has a postgres_fdw foreign
# partition on each, plus a local partition. Rows inserted through the coordinator are routed to
# the shards. Point and range conditions are pushed down (EXPLAIN VERBOSE on the coordinator shows
# them in the Remote SQL, and no pruned partition), and each shard answers them through its
# learned index: auto_explain on the shards logs the plan of every remote cursor (a wide range
# with cursor_tuple_fraction = 1 on the shards), and their pg_stat_user_indexes count the scans.
# Every answer equals that of the same rows in one local table, before and after UPDATE and
# DELETE through the coordinator and re-trains on the shards.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my @shards;
for my $i (1, 2) {
	my $s = PostgreSQL::Test::Cluster->new("shard$i");
	$s->init;
	# every plan a remote cursor runs is written to the shard's log
	$s->append_conf('postgresql.conf', qq{
session_preload_libraries = 'auto_explain'
auto_explain.log_min_duration = 0
autovacuum = off
});
	$s->start;
	$s->safe_psql('postgres', q{
		CREATE EXTENSION omendb;
		CREATE TABLE m (id int8, k int8, ts timestamptz, v float8);
	});
	push @shards, $s;
}
# shard 1 has its indexes before the rows arrive (every row goes through the AM's insert), shard
# 2 builds them afterwards
$shards[0]->safe_psql('postgres', q{
	CREATE INDEX m_k ON m USING learned (k);
	CREATE INDEX m_ts ON m USING learned (ts) WITH (layout = 'sparse');
});

my $coord = PostgreSQL::Test::Cluster->new('coordinator');
$coord->init;
$coord->start;
$coord->safe_psql('postgres', 'CREATE EXTENSION omendb; CREATE EXTENSION postgres_fdw');
for my $i (1, 2) {
	my $s = $shards[ $i - 1 ];
	my ($host, $port) = ($s->host, $s->port);
	$coord->safe_psql('postgres', qq{
		CREATE SERVER s$i FOREIGN DATA WRAPPER postgres_fdw
		  OPTIONS (host '$host', port '$port', dbname 'postgres', batch_size '500');
		CREATE USER MAPPING FOR CURRENT_USER SERVER s$i;
	});
}
# k in [0, 40000) on shard 1, [40000, 80000) on shard 2, the rest in a local partition
$coord->safe_psql('postgres', q{
	CREATE TABLE m (id int8, k int8, ts timestamptz, v float8) PARTITION BY RANGE (k);
	CREATE FOREIGN TABLE m_1 PARTITION OF m FOR VALUES FROM (MINVALUE) TO (40000) SERVER s1 OPTIONS (table_name 'm');
	CREATE FOREIGN TABLE m_2 PARTITION OF m FOR VALUES FROM (40000) TO (80000) SERVER s2 OPTIONS (table_name 'm');
	CREATE TABLE m_3 PARTITION OF m FOR VALUES FROM (80000) TO (MAXVALUE);
	CREATE INDEX m_k ON m USING learned (k);
	CREATE TABLE flat (id int8, k int8, ts timestamptz, v float8);
});
is($coord->safe_psql('postgres', q{
	SELECT string_agg(c.relname || ':' || am.amname, ',' ORDER BY c.relname) FROM pg_inherits i
	JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_am am ON am.oid = c.relam WHERE i.inhparent = 'm_k'::regclass}),
	'm_3_k_idx:learned', "the coordinator's parent index: a learned index on the local partition, foreign ones skipped");

# The same rows into the partitioned table (routed to the shards, in id order, so ts follows each
# shard's heap order) and into one local table. k is a permutation of 0..100002; some duplicates
# of one key and some NULL timestamps.
my $rows = q{
	SELECT g, (g * 7919) % 100003, CASE WHEN g % 997 = 0 THEN NULL
	  ELSE '2020-01-01'::timestamptz + g * interval '1 minute' END, g * 0.25
	FROM generate_series(1, 60000) g
	UNION ALL SELECT 60000 + g, 4242, '2021-01-01'::timestamptz + g * interval '1 second', g FROM generate_series(1, 300) g
	UNION ALL SELECT 70000 + g, 50505, '2021-02-01'::timestamptz + g * interval '1 second', g FROM generate_series(1, 200) g
	ORDER BY 1};
$coord->safe_psql('postgres', "INSERT INTO m $rows; INSERT INTO flat $rows");
$shards[1]->safe_psql('postgres', q{
	CREATE INDEX m_k ON m USING learned (k);
	CREATE INDEX m_ts ON m USING learned (ts) WITH (layout = 'sparse');
});
$_->safe_psql('postgres', 'VACUUM ANALYZE m') for @shards;
$coord->safe_psql('postgres', 'ANALYZE m; ANALYZE flat');
my @counts = map { $_->safe_psql('postgres', 'SELECT count(*) FROM m') } @shards;
ok($counts[0] > 20000 && $counts[1] > 20000, "rows routed to both shards (@counts)");
# Both learned indexes of a shard verify and find every row (dense: one entry per row after
# VACUUM; sparse: every heap row, plus its entries).
my $verified = q{SELECT omendb_index_verify('m_k') = (SELECT count(*) FROM m)
	AND omendb_index_verify('m_ts') = (SELECT (SELECT count(*) FROM m) + keys + nulls FROM omendb_index_stats('m_ts'))};
for my $i (0, 1) {
	is($shards[$i]->safe_psql('postgres', $verified), 't', 'shard ' . ($i + 1) . ': both learned indexes verify');
}

# Pushdown, as the coordinator plans it.
my $plan = $coord->safe_psql('postgres', 'EXPLAIN VERBOSE SELECT * FROM m WHERE k = 4242');
like($plan, qr/Foreign Scan on public\.m_1.*Remote SQL: SELECT id, k, ts, v FROM public\.m WHERE \(\(k = 4242\)\)/s,
	'point query: the condition is sent to shard 1');
unlike($plan, qr/m_2|m_3/, 'point query: the other partitions are pruned');
$plan = $coord->safe_psql('postgres', q{EXPLAIN VERBOSE SELECT count(*) FROM m WHERE k BETWEEN 39000 AND 41000});
like($plan, qr/m_1.*Remote SQL: .*k >= 39000.*k <= 41000.*m_2.*Remote SQL: .*k >= 39000.*k <= 41000/s,
	'range across two shards: both get the range');
unlike($plan, qr/m_3/, 'range across two shards: the local partition is pruned');
$plan = $coord->safe_psql('postgres', q{
	SET plan_cache_mode = force_generic_plan;
	PREPARE p(int8) AS SELECT * FROM m WHERE k = $1;
	EXPLAIN (VERBOSE, ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p(50505)});
like($plan, qr/Subplans Removed: 2.*Foreign Scan on public\.m_2.*WHERE \(\(k = \$1::bigint\)\)/s,
	'a generic plan: pruned at run time, the parameter sent to shard 2');

# Each shard's plan for what the coordinator sent: the remote cursor's plan in the shard's log.
sub shard_logs {
	my ($sql) = @_;
	my @pos = map { -s $_->logfile } @shards;
	$coord->safe_psql('postgres', $sql);
	return map { slurp_file($shards[$_]->logfile, $pos[$_]) } 0, 1;
}
# true when the log has a plan for a remote query matching $cond that scans the index $idx
sub scans_index {
	my ($log, $cond, $idx) = @_;
	return $log =~ /$cond.*\n([ \t]+.*\n)*?[ \t]*(->  )?(Index (Only )?Scan using|Bitmap Index Scan on) $idx /;
}
my @logs = shard_logs('SELECT * FROM m WHERE k = 12345; SELECT * FROM m WHERE k = 4242');
ok(scans_index($logs[0], qr/WHERE \(\(k = 12345\)\)/, 'm_k'), 'shard 1 answers a point query through m_k');
ok(scans_index($logs[0], qr/WHERE \(\(k = 4242\)\)/, 'm_k'), 'shard 1: a key with 301 rows through m_k');
unlike($logs[1], qr/CURSOR/, 'shard 2 is not asked');
@logs = shard_logs('SELECT count(*) FROM m WHERE k BETWEEN 39000 AND 41000');
ok(scans_index($logs[$_], qr/k >= 39000.*k <= 41000/, 'm_k'), 'shard ' . ($_ + 1) . ': the range through m_k') for 0, 1;
@logs = shard_logs(q{SELECT count(*), sum(v) FROM m WHERE ts >= '2020-01-20' AND ts < '2020-01-20 02:00'});
ok(scans_index($logs[$_], qr/ts >= '2020-01-20/, 'm_ts'), 'shard ' . ($_ + 1) . ': a ts range through the sparse m_ts')
  for 0, 1;

# A shard plans what it is sent as a cursor, for a first row fast (cursor_tuple_fraction = 0.1),
# which can prefer a seq scan to a sparse index's bitmap for a wide range; with 1 the shard plans
# for the whole result, as for the same query sent directly.
my $wide = q{SELECT count(*), sum(v) FROM m WHERE ts >= '2020-01-25' AND ts < '2020-01-27'};
@logs = shard_logs($wide);
note('a two-day ts range at cursor_tuple_fraction 0.1: shard 1 '
	  . (scans_index($logs[0], qr/ts >= '2020-01-25/, 'm_ts') ? 'uses m_ts' : 'does not use m_ts'));
$_->safe_psql('postgres', 'ALTER DATABASE postgres SET cursor_tuple_fraction = 1') for @shards;
@logs = shard_logs($wide);
ok(scans_index($logs[$_], qr/ts >= '2020-01-25/, 'm_ts'), 'shard ' . ($_ + 1) . ': at cursor_tuple_fraction 1, a wide range through m_ts')
  for 0, 1;

# The same rows in one local table answer every query alike (its seq scan is the reference).
my @queries = (
	q{SELECT id, k, ts FROM %s WHERE k = 4242 ORDER BY id},
	q{SELECT count(*), sum(id) FROM %s WHERE k = 50505},
	q{SELECT * FROM %s WHERE k = 12345},
	q{SELECT count(*), sum(id), min(ts), max(ts) FROM %s WHERE k BETWEEN 39000 AND 41000},
	q{SELECT count(*), sum(id) FROM %s WHERE k BETWEEN 79500 AND 80500},
	q{SELECT k FROM %s WHERE k > 39950 ORDER BY k LIMIT 20},
	q{SELECT k FROM %s WHERE k < 40100 ORDER BY k DESC LIMIT 20},
	q{SELECT count(*), sum(k) FROM %s WHERE ts >= '2020-01-10' AND ts < '2020-01-10 02:00'},
	q{SELECT count(*), sum(k) FROM %s WHERE ts BETWEEN '2021-01-01' AND '2021-02-01 00:01'},
	q{SELECT count(*) FROM %s WHERE ts IS NULL},
	q{SELECT count(*), sum(id) FROM %s WHERE k = ANY ('{1, 4242, 50505, 99999, 12345, 100002}')},
	q{SELECT sum(t.id) FROM %s t JOIN (VALUES (4242), (50505), (85000), (7)) v(k) ON t.k = v.k},
	q{SELECT count(*), sum(v) FROM %s});
sub same_as_flat {
	my ($what) = @_;
	for my $q (@queries) {
		my $sharded = $coord->safe_psql('postgres', sprintf($q, 'm'));
		my $flat = $coord->safe_psql('postgres', 'SET enable_indexscan = off; SET enable_bitmapscan = off; ' . sprintf($q, 'flat'));
		is($sharded, $flat, "$what: sharded = one local table: " . sprintf($q, 'm'));
	}
}
my $scans = q{SELECT sum(idx_scan) FROM pg_stat_user_indexes WHERE indexrelname IN ('m_k', 'm_ts')};
my @before = map { $_->safe_psql('postgres', $scans) } @shards;
same_as_flat('after loading');
# the coordinator's sessions are gone, so the shard backends serving them flushed their counters
for my $i (0, 1) {
	ok($shards[$i]->poll_query_until('postgres', "SELECT ($scans) > $before[$i] + 4"),
		'shard ' . ($i + 1) . ': pg_stat_user_indexes counted the scans of its learned indexes');
}

# Writes through the coordinator (UPDATE and DELETE are sent to the shards whole), then re-trains
# and VACUUM on the shards: every shard index verifies and the answers stay equal.
my $dml = q{
	UPDATE %1$s SET v = v + 1, ts = ts + interval '30 seconds' WHERE k BETWEEN 30000 AND 50000;
	DELETE FROM %1$s WHERE id %% 10 = 3;
	INSERT INTO %1$s SELECT 200000 + g, (g * 31) %% 100003, '2022-01-01'::timestamptz + g * interval '1 second', 1
	  FROM generate_series(1, 3000) g;
	UPDATE %1$s SET k = 4242 WHERE k BETWEEN 100 AND 120;};
$plan = $coord->safe_psql('postgres', q{EXPLAIN VERBOSE UPDATE m SET v = v + 1 WHERE k BETWEEN 30000 AND 50000});
like($plan, qr/Foreign Update on public\.m_1.*Remote SQL: UPDATE public\.m SET v = \(v \+ 1/s, 'UPDATE is sent to the shards');
$coord->safe_psql('postgres', sprintf($dml, 'm') . sprintf($dml, 'flat'));
for my $i (0, 1) {
	my $s = $shards[$i];
	my $gen = $s->safe_psql('postgres', q{SELECT generation FROM omendb_index_stats('m_k')});
	is($s->safe_psql('postgres', q{SELECT omendb_index_retrain('m_k') AND omendb_index_retrain('m_ts')}), 't',
		'shard ' . ($i + 1) . ': re-train both indexes');
	$s->safe_psql('postgres', 'VACUUM ANALYZE m');
	cmp_ok($s->safe_psql('postgres', q{SELECT generation FROM omendb_index_stats('m_k')}), '>', $gen,
		'shard ' . ($i + 1) . ': a new generation');
	is($s->safe_psql('postgres', $verified), 't', 'shard ' . ($i + 1) . ': both indexes verify after the writes');
}
same_as_flat('after writes through the coordinator and re-trains on the shards');

$coord->stop;
$_->stop for @shards;
done_testing();
