# Learned indexes on a partitioned table of 120 range partitions (one of them partitioned again by
# hash): CREATE INDEX on the parent builds one per partition (dense, and sparse with its layout
# inherited); partition pruning and the learned probes in one plan, at plan time and at run time,
# with only the probed partitions' indexes counted in pg_stat_user_indexes; ATTACH PARTITION reuses
# a matching learned index of the new table (and builds one when the table has only a btree),
# DETACH PARTITION [CONCURRENTLY] leaves a standalone index that still verifies and answers;
# CREATE INDEX ON ONLY + ALTER INDEX ... ATTACH PARTITION makes the parent index valid only once
# every partition's index is attached; REINDEX of the parent index. Every answer through the
# indexes equals a seq scan's.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('parts');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\nmax_locks_per_transaction = 256\n");
$node->start;
# pt_0 .. pt_119 hold k in [1000 i, 1000 (i + 1)); pt_7 is split again by hash of id. ts follows
# id, the load order, so each partition's heap is in ts order (the sparse layout's case).
$node->safe_psql('postgres', q{
	CREATE EXTENSION omendb;
	CREATE TABLE pt (id int8, k int8, ts timestamptz, v float8) PARTITION BY RANGE (k);
	DO $$ BEGIN
	  FOR i IN 0..119 LOOP
	    IF i = 7 THEN
	      EXECUTE 'CREATE TABLE pt_7 PARTITION OF pt FOR VALUES FROM (7000) TO (8000) PARTITION BY HASH (id)';
	      FOR j IN 0..3 LOOP
	        EXECUTE format('CREATE TABLE pt_7_%s PARTITION OF pt_7 FOR VALUES WITH (MODULUS 4, REMAINDER %s)', j, j);
	      END LOOP;
	    ELSE
	      EXECUTE format('CREATE TABLE pt_%s PARTITION OF pt FOR VALUES FROM (%s) TO (%s)', i, i * 1000, (i + 1) * 1000);
	    END IF;
	  END LOOP;
	END $$;
	INSERT INTO pt SELECT g, (g * 7919) % 120000, '2020-01-01'::timestamptz + g * interval '1 minute', g * 0.5
	  FROM generate_series(1, 200000) g;
	INSERT INTO pt SELECT 300000 + g, 4242, NULL, g FROM generate_series(1, 500) g;
	CREATE INDEX pt_k ON pt USING learned (k);
	CREATE INDEX pt_ts ON pt USING learned (ts) WITH (layout = 'sparse');
	VACUUM ANALYZE pt;
});

# every learned index under a parent index: leaf indexes of pt's leaf tables
my $leaves = q{
	SELECT count(*) FROM pg_partition_tree('%s') t JOIN pg_class c ON c.oid = t.relid JOIN pg_am am ON am.oid = c.relam
	WHERE t.isleaf AND am.amname = 'learned'};
is($node->safe_psql('postgres', sprintf($leaves, 'pt_k')), '123', 'CREATE INDEX on the parent: a learned index per leaf partition');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_partition_tree('pt_ts') t JOIN pg_class c ON c.oid = t.relid
	WHERE t.isleaf AND c.reloptions @> '{layout=sparse}'}), '123', 'the sparse layout is inherited by every partition index');
# Every leaf index of a parent index verifies, and the rows it finds add up to the table's: a dense
# index checks one entry per row (after VACUUM), a sparse one every heap row plus its entries.
# (The count(*) once took a parallel index-only scan of a sparse index under a Parallel Append,
# which failed: the planner hook did not clear amcanparallel.)
sub verify_all {
	my ($parent, $what) = @_;
	is($node->safe_psql('postgres', qq{
		SELECT sum(omendb_index_verify(t.relid::regclass) - CASE s.layout WHEN 'sparse' THEN s.keys + s.nulls ELSE 0 END)
		  = (SELECT count(*) FROM pt)
		FROM pg_partition_tree('$parent') t, omendb_index_stats(t.relid::regclass) s WHERE t.isleaf}), 't',
		"$what: every partition's $parent verifies and finds every row");
}
verify_all('pt_k', 'after CREATE INDEX on the parent');
verify_all('pt_ts', 'after CREATE INDEX on the parent');

my @queries = (
	q{SELECT id, k FROM pt WHERE k = 4242 ORDER BY id},
	q{SELECT * FROM pt WHERE k = 7001},
	q{SELECT count(*), sum(id) FROM pt WHERE k BETWEEN 5500 AND 7500},
	q{SELECT k FROM pt WHERE k > 118950 ORDER BY k LIMIT 30},
	q{SELECT k FROM pt WHERE k < 2100 ORDER BY k DESC LIMIT 30},
	q{SELECT count(*), sum(id) FROM pt WHERE k = ANY ('{1, 999, 1000, 7777, 65432, 119999, 120000}')},
	q{SELECT count(*), sum(k) FROM pt WHERE ts BETWEEN '2020-02-01' AND '2020-02-01 03:00'},
	q{SELECT count(*), sum(k) FROM pt WHERE ts IS NULL},
	q{SELECT count(*), sum(v) FROM pt WHERE k BETWEEN 40000 AND 40999 AND ts < '2020-03-01'});
sub same_answers {
	my ($what) = @_;
	for my $q (@queries) {
		my $idx = $node->safe_psql('postgres', "SET enable_seqscan = off; $q");
		my $seq = $node->safe_psql('postgres', "SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off; $q");
		is($idx, $seq, "$what: index answer = seq scan answer: $q");
	}
}
same_answers('after CREATE INDEX on the parent');

# Pruning and learned probes in one plan.
my $plan = $node->safe_psql('postgres', 'EXPLAIN (COSTS OFF) SELECT * FROM pt WHERE k BETWEEN 6995 AND 7005');
my @scanned = $plan =~ /(?:Index Scan using|Bitmap Index Scan on) (pt_\w+?_k_idx)\b/g;
is(join(',', sort @scanned), 'pt_6_k_idx,pt_7_0_k_idx,pt_7_1_k_idx,pt_7_2_k_idx,pt_7_3_k_idx',
	'plan-time pruning leaves 5 of 123 leaves, each probed through its learned index');
unlike($plan, qr/Seq Scan/, 'and no seq scan');
my $scans = q{SELECT string_agg(indexrelname || '=' || idx_scan, ',' ORDER BY indexrelname) FROM pg_stat_user_indexes
	WHERE indexrelname LIKE 'pt%k_idx'};
my %before = map { split /=/ } split /,/, $node->safe_psql('postgres', $scans);
$plan = $node->safe_psql('postgres', q{
	SET plan_cache_mode = force_generic_plan;
	PREPARE q(int8) AS SELECT id, ts FROM pt WHERE k = $1;
	EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE q(65432);});
like($plan, qr/Subplans Removed: 122/, 'a generic plan: run-time pruning removes 122 of 123 leaves');
like($plan, qr/(Index Scan using|Bitmap Index Scan on) pt_65_k_idx /, 'the one left is probed through its learned index');
ok($node->poll_query_until('postgres', "SELECT idx_scan > $before{pt_65_k_idx} FROM pg_stat_user_indexes WHERE indexrelname = 'pt_65_k_idx'"),
	'the probe was counted');
my %after = map { split /=/ } split /,/, $node->safe_psql('postgres', $scans);
is(join(',', map { "$_+" . ($after{$_} - $before{$_}) } grep { $after{$_} != $before{$_} } sort keys %after), 'pt_65_k_idx+1',
	"pg_stat_user_indexes: only the probed partition's learned index was scanned, once");

# ATTACH PARTITION: a table with a matching learned index keeps it (attached, not rebuilt); a table
# with only a btree on k gets a learned index built. Postgres matches an index by access method,
# operator class and columns, not by storage parameters: a dense learned index on ts is attached
# under the sparse parent index as it is.
$node->safe_psql('postgres', q{
	CREATE TABLE pt_new1 (id int8, k int8, ts timestamptz, v float8);
	INSERT INTO pt_new1 SELECT 400000 + g, 120000 + g % 1000, '2021-01-01'::timestamptz + g * interval '1 second', g
	  FROM generate_series(1, 3000) g;
	CREATE INDEX pt_new1_mine ON pt_new1 USING learned (k);
	CREATE INDEX pt_new1_ts ON pt_new1 USING learned (ts) WITH (layout = 'sparse');
	CREATE TABLE pt_new2 (LIKE pt_new1);
	INSERT INTO pt_new2 SELECT 500000 + g, 121000 + g % 1000, '2021-02-01'::timestamptz + g * interval '1 second', g
	  FROM generate_series(1, 3000) g;
	CREATE INDEX pt_new2_bt ON pt_new2 (k);
	CREATE INDEX pt_new2_dense ON pt_new2 USING learned (ts);
	ALTER TABLE pt ATTACH PARTITION pt_new1 FOR VALUES FROM (120000) TO (121000);
	ALTER TABLE pt ATTACH PARTITION pt_new2 FOR VALUES FROM (121000) TO (122000);
	CREATE TABLE pt_new3 PARTITION OF pt FOR VALUES FROM (122000) TO (123000);
	INSERT INTO pt_new3 SELECT 700000 + g, 122000 + g % 1000, '2021-03-01'::timestamptz + g * interval '1 second', g
	  FROM generate_series(1, 2000) g;
});
is($node->safe_psql('postgres', q{
	SELECT string_agg(indexrelid::regclass || ':' || coalesce(array_to_string(c.reloptions, ','), ''), ',' ORDER BY c.relname)
	FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE indrelid = 'pt_new3'::regclass}),
	'pt_new3_k_idx:,pt_new3_ts_idx:layout=sparse', 'a partition created later gets both learned indexes, the layout included');
is($node->safe_psql('postgres', q{
	SELECT string_agg(c.relname || ':' || am.amname, ',' ORDER BY c.relname) FROM pg_index i
	JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
	WHERE i.indrelid IN ('pt_new1'::regclass, 'pt_new2'::regclass)}),
	'pt_new1_mine:learned,pt_new1_ts:learned,pt_new2_bt:btree,pt_new2_dense:learned,pt_new2_k_idx:learned',
	'ATTACH: the matching learned indexes attached as they were, the missing one built');
is($node->safe_psql('postgres', q{
	SELECT string_agg(inhrelid::regclass || '<' || inhparent::regclass, ',' ORDER BY inhrelid::regclass::text) FROM pg_inherits
	WHERE inhrelid IN ('pt_new1_mine'::regclass, 'pt_new1_ts'::regclass, 'pt_new2_dense'::regclass)}),
	'pt_new1_mine<pt_k,pt_new1_ts<pt_ts,pt_new2_dense<pt_ts', "ATTACH: the new tables' own learned indexes are partitions of the parent's");
is($node->safe_psql('postgres', q{SELECT layout FROM omendb_index_stats('pt_new2_dense')}), 'dense',
	'ATTACH: a dense index under the sparse parent index keeps its layout');
push @queries, q{SELECT count(*), sum(id) FROM pt WHERE k BETWEEN 120500 AND 122500},
  q{SELECT count(*), sum(id) FROM pt WHERE ts BETWEEN '2021-01-01 00:10' AND '2021-02-01 00:10'};
verify_all('pt_k', 'after ATTACH');
same_answers('after ATTACH');

# DETACH: the partition's index becomes a standalone learned index that still verifies and answers;
# the parent answers without the partition. Then attach it back.
$node->safe_psql('postgres', 'ALTER TABLE pt DETACH PARTITION pt_40');
$node->safe_psql('postgres', 'ALTER TABLE pt DETACH PARTITION pt_41 CONCURRENTLY');
$node->safe_psql('postgres', 'INSERT INTO pt_40 SELECT 600000 + g, 40000 + g % 1000, NULL, 1 FROM generate_series(1, 2000) g');
for my $t ('pt_40', 'pt_41') {
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid WHERE x.indrelid = '$t'::regclass}),
		'0', "DETACH $t: its indexes are no longer partitions of the parent's");
	is($node->safe_psql('postgres', qq{
		SELECT bool_and(omendb_index_verify(i) - CASE s.layout WHEN 'sparse' THEN s.keys + s.nulls ELSE 0 END = (SELECT count(*) FROM $t))
		FROM unnest('{${t}_k_idx, ${t}_ts_idx}'::regclass[]) i, omendb_index_stats(i) s}), 't',
		"DETACH $t: its learned indexes verify and find every row");
	my $lo = substr($t, 3) * 1000;
	my $q = sprintf('SELECT count(*), sum(id) FROM %s WHERE k BETWEEN %d AND %d', $t, $lo + 100, $lo + 300);
	is($node->safe_psql('postgres', "SET enable_seqscan = off; SET enable_bitmapscan = off; $q"),
		$node->safe_psql('postgres', "SET enable_indexscan = off; SET enable_bitmapscan = off; $q"), "DETACH $t: $q");
}
like($node->safe_psql('postgres', 'SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT * FROM pt_40 WHERE k = 40123'),
	qr/using pt_40_k_idx|on pt_40_k_idx/, 'the detached table plans its learned index');
same_answers('after DETACH');
$node->safe_psql('postgres', 'ALTER TABLE pt ATTACH PARTITION pt_40 FOR VALUES FROM (40000) TO (41000)');
$node->safe_psql('postgres', 'ALTER TABLE pt ATTACH PARTITION pt_41 FOR VALUES FROM (41000) TO (42000)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_inherits WHERE inhrelid IN ('pt_40_k_idx'::regclass, 'pt_40_ts_idx'::regclass,
	'pt_41_k_idx'::regclass, 'pt_41_ts_idx'::regclass)}), '4', 'attached back: their learned indexes are partitions of the parent indexes again');
verify_all('pt_k', 'after DETACH and ATTACH');
same_answers('after DETACH and ATTACH');

# CREATE INDEX ON ONLY: an invalid parent index; one learned index per partition, attached one
# by one; valid once the last is attached (the sub-partitioned pt_7 through its own ON ONLY index).
$node->safe_psql('postgres', q{
	CREATE INDEX pt_v ON ONLY pt USING learned (v);
	CREATE INDEX pt_7_v ON ONLY pt_7 USING learned (v);
	DO $$ DECLARE r record; BEGIN
	  FOR r IN SELECT c.relname, p.relname AS parent FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	    JOIN pg_class p ON p.oid = i.inhparent
	    WHERE i.inhparent IN ('pt'::regclass, 'pt_7'::regclass) AND c.relkind = 'r'
	    ORDER BY c.relname LOOP
	    EXECUTE format('CREATE INDEX %I ON %I USING learned (v)', r.relname || '_v', r.relname);
	    EXECUTE format('ALTER INDEX %I ATTACH PARTITION %I', r.parent || '_v', r.relname || '_v');
	  END LOOP;
	END $$;
});
my $valid = q{SELECT string_agg(indexrelid::regclass || ':' || indisvalid, ',' ORDER BY indexrelid::regclass::text)
	FROM pg_index WHERE indexrelid IN ('pt_v'::regclass, 'pt_7_v'::regclass)};
is($node->safe_psql('postgres', $valid), 'pt_7_v:true,pt_v:false', 'ON ONLY: the parent index stays invalid while pt_7_v is not attached');
$node->safe_psql('postgres', 'ALTER INDEX pt_v ATTACH PARTITION pt_7_v');
is($node->safe_psql('postgres', $valid), 'pt_7_v:true,pt_v:true', 'ON ONLY: valid once every partition index is attached');
is($node->safe_psql('postgres', sprintf($leaves, 'pt_v')), '126', 'ON ONLY: a learned index on every leaf (123 + 3 added)');
push @queries, q{SELECT count(*), sum(id) FROM pt WHERE v BETWEEN 1000 AND 1100.5},
  q{SELECT v FROM pt WHERE v > 60000 ORDER BY v LIMIT 10};
like($node->safe_psql('postgres', 'EXPLAIN (COSTS OFF) SELECT * FROM pt WHERE v = 1234.5 AND k BETWEEN 2000 AND 2999'),
	qr/(Index Scan using|Bitmap Index Scan on) pt_2_v .*\n\s*Index Cond: \(v = /, 'a probe through an attached index');
verify_all('pt_v', 'after ON ONLY and ATTACH PARTITION');
same_answers('after ON ONLY and ATTACH PARTITION');

# Writes across partitions (UPDATE moving rows between them), then REINDEX of the parent index.
$node->safe_psql('postgres', q{
	UPDATE pt SET k = k + 1500 WHERE id % 50 = 0 AND k < 100000;
	DELETE FROM pt WHERE id % 9 = 0;
	VACUUM pt;
	REINDEX INDEX pt_k;
});
verify_all('pt_k', 'after cross-partition updates and REINDEX of the parent index');
verify_all('pt_ts', 'after cross-partition updates');
same_answers('after cross-partition updates and REINDEX');

$node->stop;
done_testing();
