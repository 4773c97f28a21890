# Randomized differential stress test of the `learned` index (fixed seeds), once with GenericXLog
# (omendb not preloaded) and once with omendb's WAL resource manager (preloaded on the primary and
# the standby). For int8, float8 and timestamptz keys a random mix of single-row and bulk INSERTs
# (right-edge appends, in order and out of order near the edge, random keys, runs of duplicates,
# NULLs), DELETE, UPDATE, VACUUM and omendb_index_retrain runs; after every step the answers through
# the index (index scan forward and backward, ORDER BY .. DESC LIMIT, bitmap, index-only, = ANY,
# ranges with both bounds, min/max, IS NULL, parallel index scans) must equal a seqscan's, and omendb_index_verify must
# pass. Midway the primary is killed (-9) and restarted; at the end a streaming standby that
# replayed all of it answers through the index like the primary's seqscan.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use LearnedTest;

my $steps = 50;    # per type and mode

# SQL expression of type $type for the integer SQL expression $e (integer domain -> key domain).
sub kx {
	my ($type, $e) = @_;
	return "(($e)::int8)" if $type eq 'int8';
	return "(($e)::float8 / 4)" if $type eq 'float8';
	return "(timestamptz '2020-01-01 00:00:00+00' + ($e) * interval '1 second')";
}

my %mode_sets = (
	seq    => 'SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off;',
	index  => 'SET enable_seqscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off;',
	ionly  => 'SET enable_seqscan = off; SET enable_indexscan = on; SET enable_indexonlyscan = on; SET enable_bitmapscan = off;',
	bitmap => 'SET enable_seqscan = off; SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = on;',
	# parallel index (only) scans, every row from the two workers, Gather Merge for ORDER BY
	parallel => 'SET enable_seqscan = off; SET enable_bitmapscan = off; SET parallel_setup_cost = 0; '
	  . 'SET parallel_tuple_cost = 0; SET min_parallel_index_scan_size = 0; SET min_parallel_table_scan_size = 0; '
	  . 'SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off; '
	  . 'SET cpu_tuple_cost = 1; SET cpu_index_tuple_cost = 1;');

# The checked queries for table $t of $type over integer domain [$lo, $hi]; random bounds.
sub queries {
	my ($t, $type, $lo, $hi) = @_;
	my $r = sub { $lo + int(rand($hi - $lo + 1)) };
	my ($x, $y) = sort { $a <=> $b } ($r->(), $r->());
	my ($c, $d) = sort { $a <=> $b } ($r->(), $r->());
	my $any = join(', ', map { kx($type, $r->()) } 1 .. 6);
	my $e = $r->();
	return (
		[ "SELECT k FROM $t WHERE k BETWEEN " . kx($type, $x) . ' AND ' . kx($type, $y) . ' ORDER BY k', [qw(index ionly parallel)] ],
		[ "SELECT k FROM $t WHERE k >= " . kx($type, $c) . ' AND k < ' . kx($type, $d) . ' ORDER BY k DESC', [qw(index ionly parallel)] ],
		[ "SELECT k FROM $t ORDER BY k DESC LIMIT 25", [qw(index ionly)] ],
		[ "SELECT k FROM $t WHERE k IS NOT NULL ORDER BY k LIMIT 25", [qw(index ionly)] ],
		[ "SELECT k FROM $t WHERE k > " . kx($type, $e) . ' ORDER BY k LIMIT 40', [qw(index ionly)] ],
		[ "SELECT k FROM $t WHERE k <= " . kx($type, $e) . ' ORDER BY k DESC LIMIT 40', [qw(index ionly)] ],
		[ "SELECT count(*), sum(id) FROM $t WHERE k > " . kx($type, $x) . ' AND k <= ' . kx($type, $d), [qw(index bitmap parallel)] ],
		[ "SELECT count(*), sum(id) FROM $t WHERE k = " . kx($type, $e), [qw(index bitmap parallel)] ],
		[ "SELECT k, count(*) FROM $t WHERE k = ANY (ARRAY[$any]) GROUP BY k ORDER BY k", [qw(index ionly bitmap)] ],
		[ "SELECT sum(id) FROM $t WHERE k = ANY (ARRAY[$any])", [qw(index bitmap)] ],
		[ "SELECT min(k), max(k) FROM $t", [qw(index ionly)] ],
		[ "SELECT count(*), sum(id) FROM $t WHERE k IS NULL", [qw(index bitmap parallel)] ],
		[ "SELECT count(*) FROM $t WHERE k IS NOT NULL", [qw(index ionly bitmap parallel)] ]);
}

# Compares every query's answer in its modes with a seqscan's on $node (or, with $seqnode, with
# the seqscan of another node); returns the differences.
sub check_answers {
	my ($node, $t, $type, $lo, $hi, $seqnode) = @_;
	$seqnode //= $node;
	my @qs = queries($t, $type, $lo, $hi);
	my @bad;
	my %script;
	for my $m (qw(seq index ionly bitmap parallel)) {
		$script{$m} = join("\n", map { my ($q, $ms) = @$_; ($m eq 'seq' || grep { $_ eq $m } @$ms) ? "\\echo Q$_->[2]\n$q;" : () }
			map { [ $qs[$_][0], $qs[$_][1], $_ ] } 0 .. $#qs);
	}
	my %out;
	for my $m (qw(index ionly bitmap parallel)) {
		$out{$m} = { split_answers($node->safe_psql('postgres', "$mode_sets{$m}\n$script{$m}")) };
	}
	my %seq = split_answers($seqnode->safe_psql('postgres', "$mode_sets{seq}\n$script{seq}"));
	for my $m (qw(index ionly bitmap parallel)) {
		for my $i (sort keys %{ $out{$m} }) {
			next if $out{$m}{$i} eq $seq{$i};
			push @bad, "$m: $qs[$i][0]\n  index: " . substr($out{$m}{$i}, 0, 400) . "\n  seq:   " . substr($seq{$i}, 0, 400);
		}
	}
	return @bad;
}

sub split_answers {
	my ($text) = @_;
	my %h;
	my $cur;
	for my $line (split /\n/, $text) {
		if ($line =~ /^Q(\d+)$/) { $cur = $1; $h{$cur} = ''; next; }
		$h{$cur} .= "$line\n" if defined $cur;
	}
	return %h;
}

# One random change of table $t; updates the tracked integer domain [$$lo, $$hi].
sub random_step {
	my ($node, $t, $type, $lo, $hi) = @_;
	my $p = rand();
	my $span = $$hi - $$lo + 1;
	my $sql;
	if ($p < 0.14) {    # single-row appends at the right edge, in order
		my $n = 1 + int(rand(40));
		$sql = join('', map { "INSERT INTO $t (k) VALUES (" . kx($type, $$hi + $_) . ");\n" } 1 .. $n);
		$$hi += $n;
	} elsif ($p < 0.24) {    # single rows near the edge, out of order (some beyond it, some just below)
		my @v = map { $$hi - 30 + int(rand(60)) } 1 .. 1 + int(rand(30));
		$sql = join('', map { "INSERT INTO $t (k) VALUES (" . kx($type, $_) . ");\n" } @v);
		$$hi = (sort { $b <=> $a } ($$hi, @v))[0];
	} elsif ($p < 0.36) {    # bulk append at the edge
		my $n = 50 + int(rand(1000));
		$sql = "INSERT INTO $t (k) SELECT " . kx($type, "$$hi + i") . " FROM generate_series(1, $n) i";
		$$hi += $n;
	} elsif ($p < 0.44) {    # one multi-row INSERT near the edge, shuffled
		my @v = map { $$hi - 10 + int(rand(200)) } 1 .. 20 + int(rand(300));
		$sql = "INSERT INTO $t (k) VALUES " . join(', ', map { '(' . kx($type, $_) . ')' } @v);
		$$hi = (sort { $b <=> $a } ($$hi, @v))[0];
	} elsif ($p < 0.55) {    # bulk random keys inside the domain
		my $n = 20 + int(rand(800));
		my $mul = 7919 + 2 * int(rand(5000));
		my $off = int(rand($span));
		$sql = "INSERT INTO $t (k) SELECT " . kx($type, "$$lo + (i * $mul + $off) % $span") . " FROM generate_series(1, $n) i";
	} elsif ($p < 0.62) {    # a run of duplicates (sometimes the current maximum)
		my $v = rand() < 0.3 ? $$hi : $$lo + int(rand($span));
		my $n = 2 + int(rand(rand() < 0.5 ? 30 : 700));
		$sql = "INSERT INTO $t (k) SELECT " . kx($type, $v) . " FROM generate_series(1, $n)";
	} elsif ($p < 0.66) {    # NULLs
		$sql = "INSERT INTO $t (k) SELECT NULL FROM generate_series(1, " . (1 + int(rand(300))) . ')';
	} elsif ($p < 0.74) {    # DELETE a key range or every m-th row
		if (rand() < 0.5) {
			my $from = $$lo + int(rand($span));
			$sql = "DELETE FROM $t WHERE k BETWEEN " . kx($type, $from) . ' AND ' . kx($type, $from + int(rand($span / 10 + 1)));
		} else {
			my $m = 2 + int(rand(9));
			$sql = "DELETE FROM $t WHERE id % $m = " . int(rand($m));
		}
	} elsif ($p < 0.81) {    # UPDATE keys (new tuples, new index entries), some to NULL
		my $m = 3 + int(rand(20));
		my $r = int(rand($m));
		$sql = rand() < 0.2 ? "UPDATE $t SET k = NULL WHERE id % 97 = $r"
			: "UPDATE $t SET k = " . kx($type, "$$lo + (id * 31) % $span") . " WHERE id % $m = $r";
	} elsif ($p < 0.95) {
		$sql = "VACUUM $t";
	} else {
		$sql = "SELECT omendb_index_retrain('${t}_k')";
	}
	$node->safe_psql('postgres', $sql);
	return length($sql) > 160 ? substr($sql, 0, 160) . '...' : $sql;
}

for my $mode ('generic', 'custom') {
	# OMEN_STRESS_SEED explores other seeds by hand; the suite runs the fixed ones
	srand(($ENV{OMEN_STRESS_SEED} // 0) + ($mode eq 'generic' ? 20261121 : 1121));
	my $primary = PostgreSQL::Test::Cluster->new("stress_$mode");
	$primary->init(allows_streaming => 1);
	$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'omendb'") if $mode eq 'custom';
	# every index record carries a page image that redo (crash recovery, the standby) compares its
	# result with: redo must rebuild the primary's pages byte for byte (omendb: the custom records)
	$primary->append_conf('postgresql.conf',
		"wal_consistency_checking = '" . ($mode eq 'custom' ? 'generic,omendb' : 'generic') . "'\nwal_keep_size = '4GB'");
	$primary->start;
	$primary->safe_psql('postgres', 'CREATE EXTENSION omendb');
	my %dom;
	for my $type (qw(int8 float8 timestamptz)) {
		my $t = "t_$type";
		$primary->safe_psql('postgres', qq{
			CREATE TABLE $t (id serial, k $type) WITH (autovacuum_enabled = off);
			INSERT INTO $t (k) SELECT } . kx($type, '(i * 7) % 20000 - 1000') . qq{ FROM generate_series(1, 15000) i;
			CREATE INDEX ${t}_k ON $t USING learned (k);
			VACUUM $t;});
		$dom{$type} = [ -1000, 18999 ];
	}
	$primary->backup('b');
	my $standby = PostgreSQL::Test::Cluster->new("stress_standby_$mode");
	$standby->init_from_backup($primary, 'b', has_streaming => 1);
	$standby->start;

	# the answers below come from the index: each mode's plan uses it
	for my $m (qw(index ionly bitmap)) {
		my $plan = $primary->safe_psql('postgres', "$mode_sets{$m} EXPLAIN (COSTS OFF) SELECT k FROM t_int8 WHERE k BETWEEN 5 AND 10 ORDER BY k");
		my $want = { index => qr/Index Scan using t_int8_k/, ionly => qr/Index Only Scan using t_int8_k/, bitmap => qr/Bitmap Index Scan on t_int8_k/ }->{$m};
		like($plan, $want, "$mode: $m plans use the learned index");
	}
	like($primary->safe_psql('postgres', "$mode_sets{parallel} EXPLAIN (COSTS OFF) SELECT count(*), sum(id) FROM t_int8 WHERE k IS NOT NULL"),
		qr/Parallel Index Scan using t_int8_k/, "$mode: parallel plans use the learned index");

	my $failures = 0;
	for my $type (qw(int8 float8 timestamptz)) {
		my $t = "t_$type";
		my ($lo, $hi) = @{ $dom{$type} };
		my @log;
		for my $step (1 .. $steps) {
			push @log, random_step($primary, $t, $type, \$lo, \$hi);
			my @bad = check_answers($primary, $t, $type, $lo - 50, $hi + 50);
			my $verify = $primary->safe_psql('postgres', "SELECT omendb_index_verify('${t}_k') >= 0");
			push @bad, "omendb_index_verify: $verify" if $verify ne 't';
			if (@bad) {
				$failures++;
				diag("$mode $type step $step differs after:\n  " . join("\n  ", @log[ -(@log < 6 ? @log : 6) .. -1 ]) . "\n" . join("\n", @bad));
				last;
			}
		}
		ok(1, "$mode $type: $steps random steps ran");
		diag("$mode $type: " . $primary->safe_psql('postgres', "SELECT format('%s keys, %s nulls, %s edge leaves, %s overflow pages, generation %s', keys, nulls, edge_leaves, overflow_pages, generation) FROM omendb_index_stats('${t}_k')"));
		$dom{$type} = [ $lo, $hi ];
	}
	is($failures, 0, "$mode: after every step the index answers equal a seqscan and the index verifies");

	# crash: in-flight appends of committed transactions must survive kill -9 (redo of the
	# custom records in the preloaded mode)
	for my $type (qw(int8 float8 timestamptz)) {
		my ($lo, $hi) = @{ $dom{$type} };
		$primary->safe_psql('postgres', join('', map { "INSERT INTO t_$type (k) VALUES (" . kx($type, $hi + $_) . ");\n" } 1 .. 200)
			. "INSERT INTO t_$type (k) SELECT " . kx($type, "$lo + (i * 104729) % 3000") . " FROM generate_series(1, 2000) i;\n");
		$dom{$type}[1] = $hi + 200;
	}
	$primary->kill9;
	ok(restart_after_kill9($primary), "$mode: primary restarts after kill -9");
	for my $type (qw(int8 float8 timestamptz)) {
		is($primary->safe_psql('postgres', "SELECT omendb_index_verify('t_${type}_k') >= 0"), 't', "$mode $type: verifies after crash recovery");
		my @bad = check_answers($primary, "t_$type", $type, $dom{$type}[0] - 50, $dom{$type}[1] + 50);
		is(scalar(@bad), 0, "$mode $type: answers equal a seqscan after crash recovery") or diag(join("\n", @bad));
		# and it keeps working after recovery
		my ($lo, $hi) = @{ $dom{$type} };
		random_step($primary, "t_$type", $type, \$lo, \$hi) for 1 .. 4;
		$dom{$type} = [ $lo, $hi ];
		@bad = check_answers($primary, "t_$type", $type, $lo - 50, $hi + 50);
		is(scalar(@bad), 0, "$mode $type: answers equal a seqscan after more steps post recovery") or diag(join("\n", @bad));
	}

	# TIDs and keys that do not fit the built widths: a few wide rows (offsets < 8, 4 blocks)
	# build the index; narrow rows then get offsets and blocks past those widths, keys past the edge
	$primary->safe_psql('postgres', q{
		CREATE TABLE w (id serial, k int8, pad text) WITH (autovacuum_enabled = off);
		INSERT INTO w (k, pad) SELECT i * 10, repeat('x', 1500) FROM generate_series(1, 20) i;
		CREATE INDEX w_k ON w USING learned (k);
		INSERT INTO w (k) SELECT (i * 37) % 250 FROM generate_series(1, 4000) i;
		INSERT INTO w (k) SELECT 200 + i FROM generate_series(1, 3000) i;
		INSERT INTO w (k) VALUES (5), (3300), (3190), (NULL), (-7);
		INSERT INTO w (k) SELECT NULL FROM generate_series(1, 500);});
	is($primary->safe_psql('postgres', "SELECT omendb_index_verify('w_k') >= 0"), 't', "$mode: index with TIDs past its widths verifies");
	my @wbad = check_answers($primary, 'w', 'int8', -20, 3400);
	$primary->safe_psql('postgres', q{DELETE FROM w WHERE id % 3 = 0; VACUUM w; SELECT omendb_index_retrain('w_k');
		INSERT INTO w (k) SELECT (i * 53) % 3500 FROM generate_series(1, 2000) i;});
	push @wbad, check_answers($primary, 'w', 'int8', -20, 3600);
	is(scalar(@wbad), 0, "$mode: answers with TIDs past the built widths equal a seqscan") or diag(join("\n", @wbad));

	# the standby replayed everything (custom records in the preloaded mode)
	$primary->wait_for_catchup($standby);
	is($standby->safe_psql('postgres', "SELECT omendb_index_verify('w_k') >= 0"), 't', "$mode: standby index w_k verifies");
	for my $type (qw(int8 float8 timestamptz)) {
		is($standby->safe_psql('postgres', "SELECT omendb_index_verify('t_${type}_k') >= 0"), 't', "$mode $type: standby index verifies");
		my @bad = check_answers($standby, "t_$type", $type, $dom{$type}[0] - 50, $dom{$type}[1] + 50, $primary);
		is(scalar(@bad), 0, "$mode $type: standby index answers equal the primary's seqscan") or diag(join("\n", @bad));
	}
	$standby->stop;

	# a standby that does not preload omendb stops at the first omendb record with a clear error
	if ($mode eq 'custom') {
		$primary->backup('b2');
		my $bare = PostgreSQL::Test::Cluster->new('stress_standby_no_preload');
		$bare->init_from_backup($primary, 'b2', has_streaming => 1);
		$bare->append_conf('postgresql.conf', "shared_preload_libraries = ''\nwal_consistency_checking = ''");
		$bare->start;
		$primary->safe_psql('postgres', 'INSERT INTO t_int8 (k) VALUES (-5), (7)');
		my $log = '';
		for (1 .. 60) {
			$log = slurp_file($bare->logfile);
			last if $log =~ /resource manager with ID 128 not registered/;
			sleep 1;
		}
		like($log, qr/FATAL:.*resource manager with ID 128 not registered.*\n.*HINT:.*shared_preload_libraries/,
			'a standby without omendb preloaded stops replay with a clear error');
		$bare->stop('immediate', fail_ok => 1);
	}
	$primary->stop;
}
done_testing();
