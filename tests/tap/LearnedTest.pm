# Helpers shared by the learned-index TAP tests.
package LearnedTest;
use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
our @EXPORT = qw(same_answers answer_queries start_pgbench restart_after_kill9);

# Queries whose answers must not depend on the access path.
sub answer_queries {
	my ($tbl) = @_;
	return (
		"SELECT count(*), sum(k) FROM $tbl WHERE k BETWEEN 1000 AND 5000",
		"SELECT id, k FROM $tbl WHERE k = 4242 ORDER BY id",
		"SELECT k FROM $tbl WHERE k > 90000 ORDER BY k LIMIT 50",
		"SELECT k FROM $tbl WHERE k < 300 ORDER BY k DESC LIMIT 50",
		"SELECT count(*) FROM $tbl WHERE k = ANY ('{1, 77, 500, 777, 99999}')",
		"SELECT count(*) FROM $tbl WHERE k IS NULL",
		"SELECT count(*) FROM $tbl WHERE k >= 0");
}

# Runs every query through the index (seqscan off) and through a seqscan only; returns the
# list of queries whose answers differ (empty when all agree).
sub same_answers {
	my ($node, $tbl) = @_;
	my @bad;
	for my $q (answer_queries($tbl)) {
		my $idx = $node->safe_psql('postgres',
			"SET enable_seqscan = off; SET enable_bitmapscan = off; $q");
		my $seq = $node->safe_psql('postgres',
			"SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off; $q");
		push @bad, "$q: index [$idx] seq [$seq]" if $idx ne $seq;
	}
	return @bad;
}

# Starts pgbench in the background: 4 clients running the one-statement script `$sql` for up to
# 60 s against $node. Returns the IPC::Run harness (finish it after killing the server).
sub start_pgbench {
	my ($node, $sql) = @_;
	my $script = $node->basedir . '/bench.sql';
	open my $fh, '>', $script or die;
	print $fh $sql;
	close $fh;
	my ($out, $err) = ('', '');
	return IPC::Run::start(
		[ 'pgbench', '-n', '-c', '4', '-T', '60', '-f', $script, '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$out, '2>', \$err);
}

# Starts $node again after kill9. Children of the killed postmaster may hold shared memory for a
# moment: retries for up to 30 s. Returns true when it started.
sub restart_after_kill9 {
	my ($node) = @_;
	for (1 .. 30) {
		sleep 1;
		return 1 if $node->start(fail_ok => 1);
		$node->{_pid} = undef;    # a failed start read the stale postmaster.pid
	}
	return 0;
}

1;
