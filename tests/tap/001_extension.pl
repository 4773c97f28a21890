# The extension loads in a fresh cluster started by PostgreSQL::Test::Cluster, survives a restart,
# and its version function answers.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('ext');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION omendb');
my $v = $node->safe_psql('postgres', "SELECT omendb_version() = extversion FROM pg_extension WHERE extname = 'omendb'");
is($v, 't', 'library and SQL versions agree');
$node->restart;
is($node->safe_psql('postgres', 'SELECT length(omendb_version()) > 0'), 't', 'version answers after restart');
$node->stop;
done_testing();
