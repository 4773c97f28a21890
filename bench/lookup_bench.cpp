// Google Benchmark micro-benchmarks of single lookups, for profiling one index at a time
// (e.g. `lookup_bench --benchmark_filter=Learned/.*`). The comparison table with ratios, DRAM
// reference and targets is core_bench (docs/bench.md); this program complements it.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <random>

#include "bench_support.h"
#include "omen/baseline.h"
#include "omen/static_index.h"

namespace {

constexpr size_t kProbes = size_t{1} << 20;

// Uniform keys and probes (stored keys) for n keys, built once per n (fixed seed).
struct Data {
  std::vector<uint64_t> keys, probes;
  explicit Data(size_t n)
      : keys(bench::make_keys("uniform", n, 42)), probes(bench::make_queries(keys, kProbes, 43)) {}
};

const Data& data(size_t n) {
  static std::map<size_t, std::unique_ptr<Data>> cache;
  auto& d = cache[n];
  if (!d) d = std::make_unique<Data>(n);
  return *d;
}

// Independent lookups, one per iteration.
template <class Index>
void lookups(benchmark::State& state, const Index& idx, const Data& d) {
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(idx.lower_bound(d.probes[i]));
    i = (i + 1) & (kProbes - 1);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Binary(benchmark::State& state) {
  const Data& d = data(static_cast<size_t>(state.range(0)));
  omen::BinarySearchIndex idx{bench::huge_copy(d.keys)};
  lookups(state, idx, d);
}

void BM_Learned(benchmark::State& state) {
  const Data& d = data(static_cast<size_t>(state.range(0)));
  omen::StaticLearnedIndex idx(bench::huge_copy(d.keys), {}, omen::ModelOptions{});
  lookups(state, idx, d);
}

void BM_BTree(benchmark::State& state) {
  const Data& d = data(static_cast<size_t>(state.range(0)));
  omen::BTreeIndex idx(d.keys);
  lookups(state, idx, d);
}

BENCHMARK(BM_Binary)->Arg(1 << 20)->Arg(10'000'000);
BENCHMARK(BM_Learned)->Arg(1 << 20)->Arg(10'000'000);
BENCHMARK(BM_BTree)->Arg(1 << 20)->Arg(10'000'000);

}  // namespace

BENCHMARK_MAIN();
