#!/usr/bin/env bash
# Runs every OmenDB test, as `make test` (and .ci/run) do:
#   1. format: every tracked C++ file matches .clang-format (tests/format.sh; one test);
#   2. the core GoogleTest suite (RelWithDebInfo); the Release build of core, tests, benches and
#      omen_kv, built but not run (one test); the suite again under ASan+UBSan, and its
#      concurrency tests (suites named Concurrency*) and the hot log's (HotLog*) under ThreadSanitizer;
#   3. the extension build (-Wall -Wextra -Werror) and install;
#   4. pg_regress (sql/, expected/) in a throwaway instance run as the `postgres` user, then the
#      isolation specs (tests/isolation/specs, expected/; pg_isolation_regress) the same way;
#   5. the TAP tests (tests/tap/*.pl, PostgreSQL::Test::Cluster) as the `postgres` user.
# Installs its own dependencies (root). A skipped test is a failure. Ends with one line
# "omendb: N passed, N failed" and exits non-zero if anything failed.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bash tests/deps.sh test || exit 1

pgbin=${PGBIN:-/usr/lib/postgresql/15/bin}   # PGBIN: another (e.g. private, relocated) PostgreSQL 15
pgxs=$("$pgbin/pg_config" --pkglibdir)/pgxs
export PATH="$pgbin:$PATH"
logs=$(mktemp -d /tmp/omendb-test.XXXXXX)
chown postgres: "$logs"
passed=0 failed=0 failures=()

fail() { failed=$((failed + ${2:-1})); failures+=("$1"); echo "FAILED: $1" >&2; }

# ctest in build dir $1, labelled $2, optionally only the tests matching regex $3: counts its
# tests, fails on any failure or skip.
run_ctest() {
  local dir=$1 label=$2 filter=${3:-} log="$logs/ctest-$2.log"
  (cd "$dir" && ctest --output-on-failure -j2 --timeout 1800 ${filter:+-R "$filter"}) >"$log" 2>&1
  local rc=$? total ok
  tail -n 30 "$log"
  total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  ok=$(sed -n 's/.*[0-9]*% tests passed, \([0-9]*\) tests failed.*/\1/p' "$log" | tail -1)
  if [ -z "$total" ]; then fail "$label: ctest did not run"; return; fi
  passed=$((passed + total - ${ok:-0}))
  [ "$rc" -eq 0 ] || fail "$label: ctest" "${ok:-1}"
  if grep -qiE '\(Skipped\)|\[  SKIPPED \]' "$log"; then fail "$label: a test was skipped"; fi
}

echo "== format"
if bash tests/format.sh --check >"$logs/format.log" 2>&1; then passed=$((passed + 1))
else cat "$logs/format.log"; fail "format"; fi

echo "== core: GoogleTest"
if cmake -S . -B build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$logs/cmake.log" 2>&1 &&
   cmake --build build/test -j2 >>"$logs/cmake.log" 2>&1; then
  run_ctest build/test core
else tail -n 40 "$logs/cmake.log"; fail "core: build"; fi

# What a plain `cmake -DCMAKE_BUILD_TYPE=Release` builds: -O3 inlines more than the -O2 above and
# GCC then warns about code -O2 accepts (-Werror: a failed build). Built only; the suite ran above.
echo "== core: Release build"
if cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DOMEN_BUILD_TESTS=ON -DOMEN_BUILD_BENCH=ON \
     >"$logs/cmake-release.log" 2>&1 &&
   cmake --build build/release -j2 >>"$logs/cmake-release.log" 2>&1; then
  passed=$((passed + 1))
else
  grep -m 10 -A 4 ': error: ' "$logs/cmake-release.log"; tail -n 20 "$logs/cmake-release.log"
  fail "core: Release build"
fi

echo "== core: GoogleTest under ASan+UBSan"
if cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DOMEN_BUILD_BENCH=OFF \
     -DOMEN_SANITIZE=address,undefined >"$logs/cmake-asan.log" 2>&1 &&
   cmake --build build/asan -j2 >>"$logs/cmake-asan.log" 2>&1; then
  run_ctest build/asan asan
else tail -n 40 "$logs/cmake-asan.log"; fail "asan: build"; fi

echo "== core: concurrency tests under TSan"
if cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOMEN_BUILD_BENCH=OFF \
     -DOMEN_SANITIZE=thread >"$logs/cmake-tsan.log" 2>&1 &&
   cmake --build build/tsan -j2 >>"$logs/cmake-tsan.log" 2>&1; then
  run_ctest build/tsan tsan '^(Concurrency|HotLog)'
else tail -n 40 "$logs/cmake-tsan.log"; fail "tsan: build"; fi

echo "== extension: build and install"
# With the tiered AM's crash points (TAP 014); a plain `make install` builds without them.
if make -j2 OMEN_CRASH_POINTS=1 PG_CONFIG="$pgbin/pg_config" >"$logs/make.log" 2>&1 &&
   make install OMEN_CRASH_POINTS=1 PG_CONFIG="$pgbin/pg_config" >>"$logs/make.log" 2>&1; then
  :
else
  # pg_regress and TAP would test whatever omendb was installed before: stop here.
  tail -n 40 "$logs/make.log"; fail "extension: build"
  echo "omendb: $passed passed, $failed failed"; exit 1
fi

# Tests running as postgres get their own copy of what they read: the clone may sit in a directory
# that user cannot enter.
work="$logs/work"
mkdir -p "$work" && cp -r sql expected tests "$work"/ && chown -R postgres: "$work"

# run_regress LABEL DRIVER DIR TESTS...: a pg_regress-style driver (pg_regress, pg_isolation_regress)
# as postgres in DIR (inputs and expected/ there, a throwaway instance); counts each test.
run_regress() {
  local label=$1 driver=$2 dir=$3 log="$logs/$1.log"
  shift 3
  (cd "$dir" && runuser -u postgres -- "$driver" --temp-instance="$dir/instance" --bindir="$pgbin" \
     --inputdir=. --outputdir=. "$@") >"$log" 2>&1
  local rc=$? n=$# nf
  cat "$log"
  if [ $rc -eq 0 ] && grep -qE "All $n tests passed" "$log"; then passed=$((passed + n))
  else
    nf=$(sed -n 's/.*\([0-9][0-9]*\) of [0-9]* tests failed.*/\1/p' "$log" | tail -1)
    passed=$((passed + n - ${nf:-$n})); fail "$label" "${nf:-$n}"
    [ -f "$dir/regression.diffs" ] && head -n 200 "$dir/regression.diffs"
  fi
}

echo "== pg_regress"
run_regress pg_regress "$pgxs/src/test/regress/pg_regress" "$work" $(cd sql && ls *.sql | sed 's/\.sql$//' | sort)
echo "== isolation"
run_regress isolation "$pgxs/src/test/isolation/pg_isolation_regress" "$work/tests/isolation" \
  $(cd tests/isolation/specs && ls *.spec | sed 's/\.spec$//' | sort)

echo "== TAP"
(cd "$work" && runuser -u postgres -- env PATH="$PATH" PG_REGRESS="$pgxs/src/test/regress/pg_regress" \
   TESTDIR="$work" prove -v -I "$pgxs/src/test/perl" -I "$work/tests/tap" "$work"/tests/tap/*.pl) >"$logs/tap.log" 2>&1
rc=$?
tail -n 40 "$logs/tap.log"
tap_ok=$(grep -cE '^\s*ok [0-9]+' "$logs/tap.log")
tap_bad=$(grep -cE '^\s*not ok [0-9]+' "$logs/tap.log")
passed=$((passed + tap_ok))
[ "$rc" -eq 0 ] && grep -q '^Result: PASS' "$logs/tap.log" || fail "TAP" "$((tap_bad > 0 ? tap_bad : 1))"
if grep -qiE '^\s*ok [0-9]+.*# skip|skipped:' "$logs/tap.log"; then fail "TAP: a test was skipped"; fi

echo "logs: $logs"
for f in "${failures[@]}"; do echo "  failed: $f"; done
echo "omendb: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
