# Damaged pages are reported, not answered from: a bad metapage magic or version fails every use
# of the index with a clear error, and omendb_index_verify finds a leaf whose keys are out of
# order (amcheck-like). Pages are damaged on disk while the server is stopped.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('corrupt');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION omendb;
	CREATE TABLE t (k int4);
	INSERT INTO t SELECT i FROM generate_series(1, 5000) i;
	CREATE INDEX t_k ON t USING learned (k);
	CREATE TABLE t2 (k int4);
	INSERT INTO t2 SELECT i FROM generate_series(1, 5000) i;
	CREATE INDEX t_k2 ON t2 USING learned (k);
});
is($node->safe_psql('postgres', q{SELECT omendb_index_verify('t_k')}), '5000', 'intact index verifies');
my $pgdata = $node->data_dir;
my $path1 = $node->safe_psql('postgres', q{SELECT pg_relation_filepath('t_k')});
my $path2 = $node->safe_psql('postgres', q{SELECT pg_relation_filepath('t_k2')});
$node->stop;

# Overwrites `len` bytes at `offset` of a relation file.
sub poke {
	my ($file, $offset, $bytes) = @_;
	open my $fh, '+<', "$pgdata/$file" or die "open $file: $!";
	binmode $fh;
	seek($fh, $offset, 0) or die;
	print $fh $bytes;
	close $fh;
}
# Block 0, page contents start after the 24-byte page header: magic (4 bytes), version (4 bytes).
poke($path1, 24, pack('L', 0xDEADBEEF));
# t_k2: the version.
poke($path2, 28, pack('L', 99));
$node->start;

my ($ret, $out, $err) = $node->psql('postgres',
	'SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT * FROM t WHERE k = 5');
like($err, qr/index "t_k" is not a learned index \(magic deadbeef/, 'bad magic is reported on a scan');
($ret, $out, $err) = $node->psql('postgres', 'INSERT INTO t VALUES (7)');
like($err, qr/is not a learned index \(magic/, 'bad magic is reported on an insert');
($ret, $out, $err) = $node->psql('postgres', q{SELECT omendb_index_verify('t_k2')});
like($err, qr/learned format version 99, this omendb reads 2/, 'unknown format version is reported');
$node->safe_psql('postgres', 'REINDEX INDEX t_k; REINDEX INDEX t_k2');
is($node->safe_psql('postgres', q{SELECT omendb_index_verify('t_k') + omendb_index_verify('t_k2')}), '10000',
	'REINDEX repairs both');

my $path3 = $node->safe_psql('postgres', q{SELECT pg_relation_filepath('t_k')});
$node->stop;
open my $fh, '+<', "$pgdata/$path3" or die;
binmode $fh;
# Block 1 is leaf 0. Format version 2 (docs/format.md): the items header follows the 24-byte page
# header, key_bits is its byte 7, and the bit-packed keys start after the 56-byte header (LSB
# first). Swap the bits of keys 0 and 1: both stay within the leaf's fences, out of order.
my $page = 8192;
seek($fh, $page + 24 + 7, 0);
my $kb;
read($fh, $kb, 1);
my $w = ord($kb);
die "key_bits $w" if $w < 1 || $w > 64;
seek($fh, $page + 24 + 56, 0);
my $buf;
read($fh, $buf, 16);
my $bits = unpack('b*', $buf);
$bits = substr($bits, $w, $w) . substr($bits, 0, $w) . substr($bits, 2 * $w);
seek($fh, $page + 24 + 56, 0);
print $fh pack('b*', $bits);
close $fh;
$node->start;
($ret, $out, $err) = $node->psql('postgres', q{SELECT omendb_index_verify('t_k')});
like($err, qr/corrupted at block 1: leaf items out of order/, 'verify finds out-of-order keys');
$node->stop;
done_testing();
