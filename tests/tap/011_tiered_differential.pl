# Differential test of the table AM `tiered`: a tiered table and its heap twin take the same random
# stream of inserts (old and new timestamps), updates, deletes, moves (on the tiered table only),
# VACUUM, VACUUM FULL and REINDEX; after every step random queries through sequential, index,
# index-only and bitmap scans (btree, hash, GIN, GiST and learned indexes) answer identically on both, and
# omendb_tier_verify passes. Fixed seed (OMEN_TIERED_SEED=n explores others by hand).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $seed = $ENV{OMEN_TIERED_SEED} // 11;
srand($seed);
my $node = PostgreSQL::Test::Cluster->new('tiered_diff');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION omendb;
	CREATE TABLE t (id int8 PRIMARY KEY, ts timestamptz, dev int, v float8, note text, tags int[], span int4range) USING tiered;
	CREATE TABLE h (id int8 PRIMARY KEY, ts timestamptz, dev int, v float8, note text, tags int[], span int4range);
	CREATE INDEX t_ts ON t USING learned (ts);
	CREATE INDEX h_ts ON h USING learned (ts);
	CREATE INDEX t_dev ON t (dev);
	CREATE INDEX h_dev ON h (dev);
	CREATE INDEX t_note ON t USING hash (note);
	CREATE INDEX h_note ON h USING hash (note);
	CREATE INDEX t_tags ON t USING gin (tags);
	CREATE INDEX h_tags ON h USING gin (tags);
	CREATE INDEX t_span ON t USING gist (span);
	CREATE INDEX h_span ON h USING gist (span);
	SELECT omendb_tier_set_policy('t', 'ts', batch_rows => 300);
});

my $next_id = 1;
sub both { my ($sql) = @_; $node->safe_psql('postgres', join("\n", map { my $q = $sql; $q =~ s/\bTBL\b/$_/g; $q } ('t', 'h'))); }

# One random step; returns its description.
sub step {
	my $r = rand();
	if ($r < 0.30) {
		my $n = 200 + int(rand(1500));
		my $first = $next_id;
		$next_id += $n;
		my $days = int(rand(60));
		both("INSERT INTO TBL SELECT g, '2020-01-01'::timestamptz + (g % 5000) * interval '17 minutes' + interval '$days days',
		      g % 37, g * 0.5, 'n' || (g % 53), ARRAY[g % 5, g % 11], int4range(g % 997, g % 997 + 15)
		      FROM generate_series($first, $first + $n - 1) g;");
		return "insert $n rows from id $first";
	}
	if ($r < 0.45) {
		my ($k, $m) = (2 + int(rand(40)), int(rand(40)));
		both("UPDATE TBL SET v = v + 1, note = 'u' || (id % 7), ts = ts + interval '1 hour' WHERE id % $k = " . ($m % $k) . ";");
		return "update id % $k";
	}
	if ($r < 0.58) {
		my ($k, $m) = (5 + int(rand(60)), int(rand(60)));
		both("DELETE FROM TBL WHERE id % $k = " . ($m % $k) . ";");
		return "delete id % $k";
	}
	if ($r < 0.78) {
		my $days = int(rand(70));
		my $moved = $node->safe_psql('postgres', "SELECT omendb_tier_move('t', now() - ('2020-01-01'::timestamptz + interval '$days days'))");
		return "move before day $days: $moved rows";
	}
	if ($r < 0.88) { both('VACUUM TBL;'); return 'vacuum'; }
	if ($r < 0.94) { both('REINDEX TABLE TBL;'); return 'reindex'; }
	both('VACUUM FULL TBL;');
	return 'vacuum full';
}

# Random queries, each through indexes (seqscan off) and through a seqscan on t, and on h.
sub queries {
	my @q;
	for (1 .. 4) {
		my ($a, $b) = (int(rand(60)), int(rand(6)) + 1);
		push @q, "SELECT id, v, note FROM TBL WHERE ts >= '2020-01-01'::timestamptz + interval '$a days' AND ts < '2020-01-01'::timestamptz + interval '" . ($a + $b) . " days'";
	}
	push @q, 'SELECT id, ts FROM TBL WHERE dev = ' . int(rand(37));
	push @q, "SELECT count(*), sum(v) FROM TBL WHERE note = 'n" . int(rand(53)) . "'";
	push @q, "SELECT ts FROM TBL WHERE ts < '2020-01-01'::timestamptz + interval '" . int(rand(60)) . " days' ORDER BY ts DESC LIMIT 25";
	push @q, 'SELECT count(*), sum(id), sum(v) FROM TBL';
	push @q, 'SELECT id FROM TBL WHERE tags @> ARRAY[' . int(rand(11)) . ']';
	my $s = int(rand(990));
	push @q, "SELECT id, span FROM TBL WHERE span && int4range($s, " . ($s + 20) . ')';
	my $d = int(rand(34));
	push @q, "SELECT dev FROM TBL WHERE dev BETWEEN $d AND " . ($d + 3);
	return @q;
}

my $steps = $ENV{OMEN_TIERED_STEPS} // 30;
for my $i (1 .. $steps) {
	my $what = step();
	my @bad;
	for my $q (queries()) {
		(my $qt = $q) =~ s/\bTBL\b/t/g;
		(my $qh = $q) =~ s/\bTBL\b/h/g;
		my $want = $node->safe_psql('postgres', "SELECT string_agg(s::text, ';' ORDER BY s::text) FROM ($qh) s");
		my $via_index = $node->safe_psql('postgres',
			"SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT string_agg(s::text, ';' ORDER BY s::text) FROM ($qt) s");
		my $via_bitmap = $node->safe_psql('postgres',
			"SET enable_seqscan = off; SET enable_indexscan = off; SET enable_indexonlyscan = off; SELECT string_agg(s::text, ';' ORDER BY s::text) FROM ($qt) s");
		my $via_seq = $node->safe_psql('postgres',
			"SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off; SELECT string_agg(s::text, ';' ORDER BY s::text) FROM ($qt) s");
		push @bad, "$q [index]" if $via_index ne $want;
		push @bad, "$q [bitmap]" if $via_bitmap ne $want;
		push @bad, "$q [seq]" if $via_seq ne $want;
	}
	is(join("\n", @bad), '', "step $i ($what): tiered answers as heap through every scan type");
	my ($rc, $out, $err) = $node->psql('postgres', q{SELECT omendb_tier_verify('t')});
	is($rc, 0, "step $i: omendb_tier_verify") or diag($err);
}
# The index mode's plans: index-only, GIN and GiST scans among them.
like($node->safe_psql('postgres', q{SET enable_seqscan = off; SET enable_bitmapscan = off; EXPLAIN (COSTS OFF) SELECT dev FROM t WHERE dev BETWEEN 3 AND 6}),
	qr/Index Only Scan/, 'index mode: an index-only scan');
like($node->safe_psql('postgres', q{SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM t WHERE tags @> ARRAY[3]}),
	qr/Bitmap Index Scan on t_tags/, 'the GIN index answers');
like($node->safe_psql('postgres', q{SET enable_seqscan = off; SET enable_bitmapscan = off; EXPLAIN (COSTS OFF) SELECT id FROM t WHERE span && int4range(5, 25)}),
	qr/Index Scan using t_span/, 'the GiST index answers');
my $stats = $node->safe_psql('postgres', q{SELECT cold_rows > 0 AND hot_rows > 0 FROM omendb_tier_stats('t')});
is($stats, 't', 'rows in both tiers at the end');
done_testing();
