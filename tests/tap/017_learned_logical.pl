# Logical replication between tables with learned indexes on both sides. The subscriber's
# indexes are its own: one exists before the initial sync (the copy goes through the AM's insert),
# one is built on its side after it, in a layout the publisher does not use. A stream of INSERT,
# UPDATE and DELETE from pgbench on the publisher is applied while both sides re-train their
# learned indexes; afterwards the subscriber's indexes verify, answer as its seq scans do, and
# its rows equal the publisher's. REPLICA IDENTITY USING INDEX needs a unique index: on a
# non-unique learned index Postgres refuses it (that table uses REPLICA IDENTITY FULL); a unique
# learned index is the replica identity of another table on both sides, and the subscriber's
# apply worker finds changed rows through it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $pub = PostgreSQL::Test::Cluster->new('pub');
$pub->init(allows_streaming => 'logical');
$pub->append_conf('postgresql.conf', "autovacuum = off\n");
$pub->start;
my $sub = PostgreSQL::Test::Cluster->new('sub');
$sub->init;
$sub->append_conf('postgresql.conf', "autovacuum = off\n");
$sub->start;

# ev: a primary key (the replica identity), k random, ts in insert order. logs: no key at all.
# acct: a key column, but no btree on it.
my $tables = q{
	CREATE EXTENSION omendb;
	CREATE TABLE ev (id int8 PRIMARY KEY, k int8, ts timestamptz, note text);
	CREATE TABLE logs (ts timestamptz NOT NULL, dev int, v float8);
	CREATE TABLE acct (id int8 NOT NULL, bal int8, note text);
};
$pub->safe_psql('postgres', $tables . q{
	CREATE INDEX ev_k ON ev USING learned (k);
	CREATE INDEX ev_ts ON ev USING learned (ts);
	CREATE INDEX logs_ts ON logs USING learned (ts) WITH (layout = 'sparse');
	INSERT INTO ev SELECT g, (g * 7919) % 100003, '2020-01-01'::timestamptz + g * interval '1 second', 'n' || g
	  FROM generate_series(1, 30000) g;
	INSERT INTO logs SELECT '2020-01-01'::timestamptz + g * interval '1 second', g % 10, g FROM generate_series(1, 5000) g;
	INSERT INTO acct SELECT g, 100, 'a' || g FROM generate_series(1, 10000) g;
	CREATE SEQUENCE ev_id START 100001;
	CREATE SEQUENCE acct_seq START 10001;
});
$sub->safe_psql('postgres', $tables . q{
	CREATE INDEX ev_k ON ev USING learned (k) WITH (fillfactor = 70);
	CREATE INDEX logs_ts ON logs USING learned (ts);
});

# REPLICA IDENTITY USING INDEX: Postgres accepts only a unique, non-partial, immediate index on
# NOT NULL columns.
my ($rc, $out, $err) = $pub->psql('postgres', 'ALTER TABLE logs REPLICA IDENTITY USING INDEX logs_ts');
like($err, qr/cannot use non-unique index "logs_ts" as replica identity/,
	'REPLICA IDENTITY USING INDEX on a non-unique learned index is refused');
$pub->safe_psql('postgres', 'ALTER TABLE logs REPLICA IDENTITY FULL');
# A unique learned index is acct's replica identity on both sides: the subscriber's apply worker
# looks changed rows up through it.
$_->safe_psql('postgres', q{
	CREATE UNIQUE INDEX acct_id ON acct USING learned (id);
	ALTER TABLE acct REPLICA IDENTITY USING INDEX acct_id;
}) for $pub, $sub;
is($sub->safe_psql('postgres', q{SELECT indisreplident FROM pg_index WHERE indexrelid = 'acct_id'::regclass}), 't',
	'a unique learned index is the replica identity');

# Initial sync.
$pub->safe_psql('postgres', 'CREATE PUBLICATION p FOR TABLE ev, logs, acct');
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres', "CREATE SUBSCRIPTION s CONNECTION '$connstr' PUBLICATION p");
$sub->wait_for_subscription_sync($pub, 's');

my %content = (
	ev => q{SELECT count(*), sum(id), sum(k), string_agg(md5(id || ':' || k || ':' || ts || ':' || note), '' ORDER BY id) FROM ev},
	logs => q{SELECT count(*), string_agg(md5(ts || ':' || dev || ':' || v), '' ORDER BY ts, dev, v) FROM logs},
	acct => q{SELECT count(*), sum(id), sum(bal), string_agg(md5(id || ':' || bal || ':' || note), '' ORDER BY id) FROM acct});
sub same_content {
	my ($what) = @_;
	$pub->wait_for_catchup('s');
	for my $t (sort keys %content) {
		is($sub->safe_psql('postgres', $content{$t}), $pub->safe_psql('postgres', $content{$t}), "$what: $t on the subscriber = the publisher's");
	}
}
same_content('initial sync');
# the subscriber's own index, built on its side, in the layout the publisher does not use
$sub->safe_psql('postgres', q{CREATE INDEX ev_ts ON ev USING learned (ts) WITH (layout = 'sparse')});

my @queries = (
	q{SELECT id, k FROM ev WHERE k = 4242 ORDER BY id},
	q{SELECT count(*), sum(id) FROM ev WHERE k BETWEEN 1000 AND 5000},
	q{SELECT k FROM ev WHERE k > 99000 ORDER BY k LIMIT 30},
	q{SELECT count(*), sum(k) FROM ev WHERE ts BETWEEN '2020-01-01 03:00' AND '2020-01-01 03:30'},
	q{SELECT count(*), sum(k) FROM ev WHERE ts > '2020-01-02'},
	q{SELECT count(*) FROM ev WHERE ts IS NULL},
	q{SELECT count(*), sum(v) FROM logs WHERE ts BETWEEN '2020-01-01 00:20' AND '2020-01-01 00:40'},
	q{SELECT count(*), sum(v) FROM logs WHERE ts > '2020-01-01 01:20'},
	q{SELECT count(*), sum(bal) FROM acct WHERE id BETWEEN 2000 AND 2100 OR id > 10200},
	q{SELECT * FROM acct WHERE id = 4242});
# The subscriber's indexes verify (dense: one entry per row after VACUUM; sparse: every heap row
# plus its entries) and plan and answer as its seq scans do.
sub check_subscriber {
	my ($what) = @_;
	$sub->safe_psql('postgres', 'VACUUM ev, logs, acct');
	is($sub->safe_psql('postgres', q{
		SELECT string_agg(i || ':' || (omendb_index_verify(i) - CASE s.layout WHEN 'sparse' THEN s.keys + s.nulls ELSE 0 END
		  = CASE i WHEN 'logs_ts' THEN (SELECT count(*) FROM logs) WHEN 'acct_id' THEN (SELECT count(*) FROM acct)
		    ELSE (SELECT count(*) FROM ev) END), ',' ORDER BY i)
		FROM unnest('{acct_id, ev_k, ev_ts, logs_ts}'::text[]) i, omendb_index_stats(i::regclass) s}),
		'acct_id:true,ev_k:true,ev_ts:true,logs_ts:true', "$what: the subscriber's learned indexes verify and find every row");
	like($sub->safe_psql('postgres', q{SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT * FROM ev WHERE k = 4242}),
		qr/(Index Scan using|Bitmap Index Scan on) ev_k\b/, "$what: the subscriber plans its learned index");
	for my $q (@queries) {
		is($sub->safe_psql('postgres', "SET enable_seqscan = off; $q"),
			$sub->safe_psql('postgres', "SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off; $q"),
			"$what: subscriber index answer = its seq scan answer: $q");
	}
}
check_subscriber('after the initial sync');

# The stream: pgbench on the publisher inserts, updates (k, ts and NULLs) and deletes, and re-trains
# its indexes now and then; meanwhile the subscriber re-trains its own while the apply worker
# writes into them.
sub generation { my ($n, $i) = @_; return $n->safe_psql('postgres', "SELECT generation FROM omendb_index_stats('$i')"); }
my %gen = map { my $n = $_; $n => { map { $_ => generation($n, $_) } qw(ev_k ev_ts) } } ($pub, $sub);
my $acct_scans = q{SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'acct_id'};
my $acct_scans0 = $sub->safe_psql('postgres', $acct_scans);
my $script = $sub->basedir . '/retrain.sql';
open my $fh, '>', $script or die;
print $fh "SELECT omendb_index_retrain('ev_k'), omendb_index_retrain('ev_ts'), omendb_index_retrain('logs_ts');\nSELECT pg_sleep(0.1);\n";
close $fh;
my ($rout, $rerr) = ('', '');
my $retrains = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '1', '-T', '120', '-f', $script, '-h', $sub->host, '-p', $sub->port, 'postgres' ],
	'>', \$rout, '2>', \$rerr);
$pub->pgbench('--no-vacuum --client=2 --jobs=2 --transactions=2500', 0, [qr{processed: 5000/5000}], [qr{^$}],
	'a stream of INSERT, UPDATE and DELETE on the publisher',
	{ 'ins@6' => q{
\set k random(0, 120000)
INSERT INTO ev VALUES (nextval('ev_id'), :k, '2020-01-02'::timestamptz + :k * interval '1 second', 'new');
INSERT INTO logs VALUES ('2020-01-01'::timestamptz + (5000 + :k % 4000) * interval '1 second', :k % 10, :k);
INSERT INTO acct VALUES (nextval('acct_seq'), :k, 'new');
},
	  'upd@4' => q{
\set id random(1, 30000)
UPDATE ev SET k = k + 7, note = 'upd' WHERE id = :id;
UPDATE ev SET ts = CASE WHEN :id % 5 = 0 THEN NULL ELSE ts - interval '1 hour' END WHERE id = :id + 1;
UPDATE logs SET v = v + 0.5 WHERE ts = '2020-01-01'::timestamptz + (:id % 5000) * interval '1 second';
UPDATE acct SET bal = bal + 1, note = 'upd' WHERE id = :id % 10000 + 1;
},
	  'del@2' => q{
\set id random(1, 30000)
DELETE FROM ev WHERE id = :id;
DELETE FROM logs WHERE ts = '2020-01-01'::timestamptz + (:id % 5000 + 1) * interval '1 second' AND dev = (:id + 1) % 10;
DELETE FROM acct WHERE id = (:id + 17) % 10000 + 1;
},
	  'fit@1' => q{SELECT omendb_index_retrain('ev_k'), omendb_index_retrain('ev_ts'), omendb_index_retrain('logs_ts');} });
$pub->wait_for_catchup('s');
# the subscriber's re-trains ran until its apply worker caught up
$retrains->kill_kill;
$retrains->finish;
# (until its backend is gone, a re-train's snapshot would keep VACUUM from removing dead entries)
$sub->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'pgbench'})
  or die 'the re-trains did not end';
unlike($rerr, qr/ERROR|aborted/, 'the re-trains on the subscriber beside the apply worker succeed') or diag($rerr);
for my $n ($pub, $sub) {
	my $side = $n == $pub ? 'publisher' : 'subscriber';
	for my $i (qw(ev_k ev_ts)) {
		cmp_ok(generation($n, $i), '>', $gen{$n}{$i},
			"$side: $i was re-trained during the stream");
	}
}
same_content('after the stream');
ok($sub->poll_query_until('postgres', "SELECT ($acct_scans) > $acct_scans0 + 500"),
	"the subscriber's apply worker found the rows it changed through the unique learned index");
check_subscriber('after the stream');

# A re-train and VACUUM on each side after the stream; more changes; the sides still agree.
$_->safe_psql('postgres', q{SELECT omendb_index_retrain('ev_k'); SELECT omendb_index_retrain('ev_ts'); VACUUM ev, logs, acct})
  for $pub, $sub;
$pub->safe_psql('postgres', q{
	UPDATE acct SET bal = 0 WHERE id % 7 = 0;
	DELETE FROM acct WHERE id % 11 = 0;
	UPDATE ev SET k = 4242 WHERE id % 1000 = 1;
	DELETE FROM ev WHERE k BETWEEN 2000 AND 2500;
	DELETE FROM logs WHERE dev = 3;
	INSERT INTO ev SELECT 200000 + g, g, NULL, 'late' FROM generate_series(1, 500) g;
});
same_content('after re-trains and VACUUM on both sides, then more changes');
check_subscriber('after re-trains and VACUUM on both sides, then more changes');

$sub->stop;
$pub->stop;
done_testing();
