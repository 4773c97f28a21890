#!/usr/bin/env bash
# `make bench`: builds core_bench in Release (-O3 -march=native for the bench itself) and runs it.
# Arguments are passed to the program, e.g.  bash bench/core_bench.sh --sizes 1M   (quick run).
# Default: 10M and 100M keys, uniform and lognormal (needs ~6 GiB of RAM and about 10 minutes).
# Output: the table on stdout (also saved to bench/out/core_bench.txt) and bench/out/core_bench.csv.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
build=build/bench-release
# PGM_INDEX_INCLUDE=<PGM-index checkout>/include adds the PGM-index library as a reference contender.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DOMEN_BUILD_TESTS=OFF -DOMEN_BUILD_BENCH=ON \
  -DOMEN_PGM_INDEX_INCLUDE="${PGM_INDEX_INCLUDE:-}" >/dev/null
cmake --build "$build" -j2 --target core_bench
mkdir -p bench/out
"$build/bench/core_bench" --csv bench/out/core_bench.csv "$@" | tee bench/out/core_bench.txt
