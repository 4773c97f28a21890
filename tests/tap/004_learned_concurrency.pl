# Concurrency: 4 pgbench clients insert, delete and query through the learned index for ~30 s
# while overflow chains grow, serial keys are appended at the right edge (edge leaves), VACUUM
# runs and the index is re-trained into new generations (by inserts, by VACUUM and by
# omendb_index_retrain) under the readers. A set of sentinel rows is never modified: every read of
# it must see exactly those rows, in order, or the client aborts. Readers of the appended keys
# check that the newest one is found by a point lookup, that none is returned twice, and that a
# backward scan returns them in order. Parallel readers (two workers each) scan 20000 more
# sentinel rows that span many leaves, through Parallel Index (Only) Scans and Gather Merge, while
# the index is re-trained under them.
# Afterwards the index verifies and answers like a sequential scan.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LearnedTest;

my $node = PostgreSQL::Test::Cluster->new('conc');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION omendb;
	CREATE TABLE t (id serial, k int8);
	INSERT INTO t (k) SELECT (random() * 100000)::int8 FROM generate_series(1, 20000);
	INSERT INTO t (k) SELECT 200000 + i FROM generate_series(0, 99) i;
	INSERT INTO t (k) SELECT -i FROM generate_series(1, 20000) i;
	CREATE SEQUENCE s START 300000;
	CREATE INDEX t_k ON t USING learned (k) WITH (fillfactor = 90, error_bound = 32);
	ANALYZE t;
});

my $parallel_settings = join('', map { "SET LOCAL $_;\n" } (
	'parallel_setup_cost = 0', 'parallel_tuple_cost = 0', 'min_parallel_index_scan_size = 0', 'min_parallel_table_scan_size = 0',
	'max_parallel_workers_per_gather = 2', 'cpu_tuple_cost = 1', 'cpu_index_tuple_cost = 1', 'enable_seqscan = off',
	'enable_bitmapscan = off'));
my @parallel_queries = (
	"SELECT 1 / (count(*) = 20000 AND sum(k) = -200010000)::int FROM t WHERE k < 0;\n",
	"SELECT 1 / (count(id) = 20000 AND sum(k) = -200010000)::int FROM t WHERE k < 0;\n",
	"SELECT 1 / (array_agg(k) = (SELECT array_agg(-g::int8 ORDER BY g DESC) FROM generate_series(1, 20000) g))::int FROM (SELECT k FROM t WHERE k < 0 ORDER BY k) s;\n");
my $plans = $node->safe_psql('postgres', "BEGIN;\n$parallel_settings" . join('', map { "EXPLAIN (COSTS OFF) $_" } @parallel_queries) . "COMMIT;\n");
like($plans, qr/Parallel Index Only Scan using t_k.*Parallel Index Scan using t_k.*Gather Merge\s+Workers Planned: 2\s+->  Parallel Index Only Scan using t_k/s,
	'the parallel readers plan Parallel Index Only Scan, Parallel Index Scan and Gather Merge over t_k');

my $dir = $node->basedir;
my %scripts = (
	'insert.sql' => "\\set k random(0, 100000)\nINSERT INTO t (k) VALUES (CASE WHEN :k % 3 = 0 THEN 4242 WHEN :k % 101 = 0 THEN NULL ELSE :k END);\n",
	'sentinel.sql' => "SELECT 1 / (count(*) = 100 AND sum(k) = 20004950)::int FROM t WHERE k BETWEEN 200000 AND 200099;\n"
	  . "SELECT 1 / (array_agg(k) = (SELECT array_agg(g::int8) FROM generate_series(200000, 200099) g))::int FROM (SELECT k FROM t WHERE k >= 200000 AND k < 300000 ORDER BY k) s;\n"
	  . "SELECT 1 / (array_agg(k) = (SELECT array_agg(g::int8 ORDER BY g DESC) FROM generate_series(200000, 200099) g))::int FROM (SELECT k FROM t WHERE k >= 200000 AND k < 300000 ORDER BY k DESC) s;\n",
	'append.sql' => "INSERT INTO t (k) SELECT nextval('s') FROM generate_series(1, 40);\n",
	'appended.sql' => "SELECT 1 / ((SELECT count(*) FROM t WHERE k = m) = 1 OR m IS NULL)::int FROM (SELECT max(k) AS m FROM t WHERE k >= 300000) s;\n"
	  . "SELECT 1 / (count(*) = count(DISTINCT k))::int FROM t WHERE k >= 300000;\n"
	  . "SELECT 1 / coalesce(bool_and(k < prev), true)::int FROM (SELECT k, lag(k) OVER () AS prev FROM (SELECT k FROM t WHERE k >= 300000 ORDER BY k DESC LIMIT 300) a) b WHERE prev IS NOT NULL;\n",
	'parallel.sql' => "BEGIN;\n$parallel_settings" . join('', @parallel_queries) . "COMMIT;\n",
	'retrain.sql' => "SELECT omendb_index_retrain('t_k');\n\\sleep 1 s\n",
	'query.sql'  => "\\set k random(0, 100000)\nSELECT count(*) FROM t WHERE k BETWEEN :k AND :k + 200;\nSELECT k FROM t WHERE k >= :k ORDER BY k LIMIT 5;\nSELECT count(*) FROM t WHERE k = 4242;\n",
	'delete.sql' => "\\set k random(0, 100000)\nDELETE FROM t WHERE k BETWEEN :k AND :k + 3;\n",
	'vacuum.sql' => "VACUUM (INDEX_CLEANUP ON) t;\n\\sleep 2 s\n");
for my $f (keys %scripts) {
	open my $fh, '>', "$dir/$f" or die;
	print $fh $scripts{$f};
	close $fh;
}
my ($ok, $stdout, $stderr) = (0, '', '');
{
	local $ENV{PGOPTIONS} = '-c enable_seqscan=off';
	my @cmd = ('pgbench', '-n', '-c', '4', '-j', '2', '-T', '30',
		'-f', "$dir/insert.sql\@6", '-f', "$dir/query.sql\@6", '-f', "$dir/delete.sql\@1", '-f', "$dir/vacuum.sql\@1",
		'-f', "$dir/sentinel.sql\@4", '-f', "$dir/retrain.sql\@1", '-f', "$dir/append.sql\@6", '-f', "$dir/appended.sql\@3",
		'-f', "$dir/parallel.sql\@2",
		'-h', $node->host, '-p', $node->port, 'postgres');
	$ok = IPC::Run::run(\@cmd, '>', \$stdout, '2>', \$stderr);
}
ok($ok, 'pgbench: 4 clients inserting, deleting, querying, vacuuming for 30 s') or diag($stderr);
like($stdout, qr/number of failed transactions: 0/, 'no failed transactions');

is($node->safe_psql('postgres', q{SELECT omendb_index_verify('t_k') > 0}), 't', 'index verifies after the run');
my $gen = $node->safe_psql('postgres', q{SELECT generation FROM omendb_index_stats('t_k')});
ok($gen > 2, "the index was re-trained during the run (generation $gen)");
my $appended = $node->safe_psql('postgres', q{SELECT count(*) FROM t WHERE k >= 300000});
ok($appended > 4000, "serial keys were appended during the run ($appended)");

# A second phase without re-trains, so edge leaves pile up under the readers.
{
	local $ENV{PGOPTIONS} = '-c enable_seqscan=off';
	my @cmd = ('pgbench', '-n', '-c', '4', '-j', '2', '-T', '10',
		'-f', "$dir/append.sql\@6", '-f', "$dir/appended.sql\@3", '-f', "$dir/query.sql\@2",
		'-f', "$dir/sentinel.sql\@2", '-f', "$dir/vacuum.sql\@1",
		'-h', $node->host, '-p', $node->port, 'postgres');
	$ok = IPC::Run::run(\@cmd, '>', \$stdout, '2>', \$stderr);
}
ok($ok, 'pgbench: 4 clients appending and reading the appended keys for 10 s') or diag($stderr);
my $edge = $node->safe_psql('postgres', q{SELECT edge_leaves FROM omendb_index_stats('t_k')});
ok($edge > 0, "appends opened edge leaves under the readers ($edge)");
my @bad = same_answers($node, 't');
is(scalar(@bad), 0, 'answers equal a seqscan after the run') or diag(join("\n", @bad));
$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) t');
is($node->safe_psql('postgres',
	q{SELECT s.keys + s.nulls = (SELECT count(*) FROM t) FROM omendb_index_stats('t_k') s}),
	't', 'after VACUUM the index holds exactly the live rows');
@bad = same_answers($node, 't');
is(scalar(@bad), 0, 'answers equal a seqscan after VACUUM') or diag(join("\n", @bad));

# Inserts do not take the writer lock: a re-train freezes every leaf before it copies it. One
# cancelled after the freeze (statement_timeout, raised until a cancel lands after it) leaves
# frozen leaves of the current generation (counted through pageinspect: the leaf kind and
# generation in the special space, bit 2 of the items header's flags); inserts that find one take
# the writer lock, find no re-train running, thaw it and insert.
$node->safe_psql('postgres', q{
	CREATE EXTENSION pageinspect;
	CREATE TABLE fz (k int8);
	INSERT INTO fz SELECT g * 2 FROM generate_series(1, 300000) g;
	CREATE INDEX fz_k ON fz USING learned (k);
	CREATE FUNCTION frozen_leaves(idx regclass) RETURNS bigint LANGUAGE sql AS $$
	  SELECT count(*) FROM generate_series(1, (pg_relation_size(idx) / 8192)::int - 1) b,
	    LATERAL get_raw_page(idx::text, b) p
	  WHERE get_byte(p, 8184) = 2 AND get_byte(p, 8185) = 0 AND get_byte(p, 8186) = 138
	    AND get_byte(p, 8187) = 255 AND get_byte(p, 30) & 2 = 2
	    AND get_byte(p, 8188) + 256 * get_byte(p, 8189) = (SELECT generation FROM omendb_index_stats(idx)) $$;
});
my $leaves = $node->safe_psql('postgres', q{SELECT leaf_pages FROM omendb_index_stats('fz_k')});
my ($frozen, $cancels) = (0, 0);
for my $ms (1 .. 300) {
	my ($ret, $out, $err) = $node->psql('postgres', "SET statement_timeout = $ms;\nSELECT omendb_index_retrain('fz_k');");
	$cancels++ if $err =~ /canceling statement due to statement timeout/;
	$frozen = $node->safe_psql('postgres', q{SELECT frozen_leaves('fz_k')});
	last if $frozen == $leaves;
}
is($frozen, $leaves, "a re-train cancelled after its freeze left every leaf frozen ($cancels cancels)");
$node->safe_psql('postgres', 'INSERT INTO fz SELECT g * 2 + 1 FROM generate_series(1, 300000, 5) g');
is($node->safe_psql('postgres', q{SELECT frozen_leaves('fz_k')}), '0', 'inserts thawed every leaf they went to');
is($node->safe_psql('postgres', q{
	SET enable_seqscan = off; SET enable_bitmapscan = off;
	SELECT count(*), sum(k) FROM fz WHERE k % 2 = 1 AND k > 0}),
	$node->safe_psql('postgres', q{SELECT count(*), sum(k) FROM fz WHERE k % 2 = 1}),
	'every inserted row is found through the index');
ok($node->safe_psql('postgres', q{SELECT omendb_index_retrain('fz_k')}) eq 't'
	&& $node->safe_psql('postgres', q{SELECT frozen_leaves('fz_k')}) eq '0', 'a later re-train completes, nothing frozen');
is($node->safe_psql('postgres', q{SELECT omendb_index_verify('fz_k') = (SELECT count(*) FROM fz)}), 't',
	'the index verifies and holds every row');
$node->stop;
done_testing();
