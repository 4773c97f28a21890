-- Helpers of bench/pg_compare.sh (docs/bench-pg.md). Loaded into the throwaway cluster only.
CREATE EXTENSION IF NOT EXISTS omendb;
CREATE EXTENSION IF NOT EXISTS pg_prewarm;

-- bench_key(i): the key of row i in the random tables. A bijection of [0, 2^62): three rounds of
-- "multiply by an odd constant" (as shift-and-adds, masked, so bigint never overflows) and an
-- xor-shift, like a hash finaliser. Keys are distinct, spread over [0, 2^62) with gaps distributed
-- like those of uniform random keys (a linear xorshift alone gave a key set so regular that one
-- model segment fit 1M keys), and pgbench scripts compute the same key from i (bench/sql/*.pgbench),
-- so a point lookup hits an existing row without a second query.
CREATE FUNCTION bench_key(i bigint) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  m constant bigint := 4611686018427387903;  -- 2^62 - 1
  x bigint := i & m;
BEGIN
  FOR r IN 1..3 LOOP
    x := (x + ((x << 7) & m)) & m;
    x := (x + ((x << 19) & m)) & m;
    x := (x + ((x << 31) & m)) & m;
    x := (x + ((x << 47) & m)) & m;
    x := x # (x >> 29);
  END LOOP;
  RETURN x;
END $$;

-- bench_build_ms(table, index, am): drops `index` if it exists, builds it on table(k) with access
-- method `am`, and returns the wall-clock build time in milliseconds.
CREATE FUNCTION bench_build_ms(tbl text, idx text, am text) RETURNS float8
LANGUAGE plpgsql SET client_min_messages = warning AS $$
DECLARE
  t0 timestamptz;
BEGIN
  EXECUTE format('DROP INDEX IF EXISTS %I', idx);
  t0 := clock_timestamp();
  EXECUTE format('CREATE INDEX %I ON %I USING %s (k)', idx, tbl, am);
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;

-- bench_nl_join_ms(table, probe table): wall-clock ms of a nested-loop join of every key of the
-- probe table with `table`: hash and merge joins off, so each outer row is one index probe, and
-- Memoize off, so repeated probe keys are probed again rather than served from a cache.
CREATE FUNCTION bench_nl_join_ms(tbl text, probes text) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz;
  n bigint;
BEGIN
  SET LOCAL enable_hashjoin = off;
  SET LOCAL enable_mergejoin = off;
  SET LOCAL enable_memoize = off;
  t0 := clock_timestamp();
  EXECUTE format('SELECT count(*) FROM %I p JOIN %I t ON t.k = p.k', probes, tbl) INTO n;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
