// Last-mile search kernels: find lower_bound inside the window [lo, hi) a model predicted.
//
// Every kernel runs in three phases, shaped for a window that is NOT in cache (the common case
// for a big index: the model is cached, the keys are in DRAM):
//   1. bisect (branchless) while the window is wider than kSampleWindow keys;
//   2. prefetch every cache line of the window at once, non-temporally (the lines of random
//      windows are never reused, and kept out of L2 they do not evict the model there), predicted
//      line first; then bisect over the first keys of those lines (as laid out in memory). The
//      misses overlap, and the answer waits only for the ~log2(17) lines on its bisection path,
//      not for the last of all 17 to arrive (measured at 100M keys in one process: 1.03 against
//      1.18 "DRAM misses" for a sample of every line, short slices; docs/bench.md);
//   3. finish inside the one line phase 2 leaves (already in L1).
// Two compute engines differ only in phase 3, chosen at run time by CPU feature:
//   kScalar  branchless count of the line's keys below key (any CPU);
//   kSimd    one AVX2 pass (xsimd, 4 keys per compare, unsigned order via sign-bit flip) counting
//            the keys below key, when the line lies whole inside the window.
// best_search_kernel() returns kSimd iff the running CPU has AVX2 (cpuid, through xsimd).
// Both kernels return exactly the same answer.
//
// Batches work differently (see learned_lower_bound_batch): many queries in flight already
// overlap their misses, so they bisect in lockstep and touch fewer lines.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "omen/search_bound.h"

namespace omen {

enum class SearchKernel : uint8_t { kScalar, kSimd };

// kSimd when this CPU supports AVX2, else kScalar. Cheap after the first call (xsimd caches the
// cpuid result in a function-local static); callers usually keep the value.
SearchKernel best_search_kernel() noexcept;

inline constexpr size_t kSampleWindow = 256;  // phase 2 starts at or below this width
inline constexpr size_t kLineKeys = 8;        // keys per 64-byte cache line

namespace detail {

// Phases 1 and 2: narrows [lo, hi) to [*b, *e), the part of one cache line inside the window
// (e - b <= kLineKeys), with lower_bound in [b, e]. REQUIRES lo < hi, keys 8-byte aligned.
// Internal linkage (static): the AVX2 file gets its own copy, so the linker can never pick an
// AVX2-compiled body for the portable callers (or the reverse).
static inline void narrow_to_line(const uint64_t* keys, size_t lo, size_t hi, uint64_t key, size_t* b,
                                  size_t* e) noexcept {
  size_t len = hi - lo;
  while (len > kSampleWindow) {
    const size_t half = len / 2;
    lo = keys[lo + half] < key ? lo + half : lo;  // compiles to cmov
    len -= half;
  }
  hi = lo + len;
  // Line l holds positions [8l - off, 8l - off + 8): lines as the memory has them, whatever the
  // array's alignment. Lines fl..ll cover the window; a line after fl starts inside it.
  const size_t off = (reinterpret_cast<uintptr_t>(keys) / sizeof(uint64_t)) % kLineKeys;
  const size_t fl = (lo + off) / kLineKeys, ll = (hi - 1 + off) / kLineKeys;
  __builtin_prefetch(keys + lo + len / 2, 0, 0);  // the predicted line first (0: non-temporal)
  for (size_t i = lo; i < hi; i += kLineKeys) __builtin_prefetch(keys + i, 0, 0);
  __builtin_prefetch(keys + hi - 1, 0, 0);
  size_t line = fl;  // last line whose first key is below key (fl if none)
  for (size_t n = ll - fl + 1; n > 1;) {
    const size_t half = n / 2;
    line = keys[(line + half) * kLineKeys - off] < key ? line + half : line;  // compiles to cmov
    n -= half;
  }
  *b = line == fl ? lo : line * kLineKeys - off;
  *e = std::min(line * kLineKeys + kLineKeys - off, hi);
}

// Keys of [b, e) below key, scalar (internal linkage, as narrow_to_line).
static inline size_t count_below(const uint64_t* keys, size_t b, size_t e, uint64_t key) noexcept {
  size_t below = 0;
  for (size_t i = b; i < e; ++i) below += keys[i] < key;
  return below;
}

}  // namespace detail

// First index i in [lo, hi) with keys[i] >= key, or hi. REQUIRES keys[lo, hi) sorted ascending.
inline size_t lower_bound_scalar(const uint64_t* keys, size_t lo, size_t hi, uint64_t key) noexcept {
  if (lo >= hi) return lo;
  size_t b, e;
  detail::narrow_to_line(keys, lo, hi, key, &b, &e);
  return b + detail::count_below(keys, b, e, key);
}

// Same contract and answer as lower_bound_scalar. REQUIRES: best_search_kernel() == kSimd (AVX2).
size_t lower_bound_simd(const uint64_t* keys, size_t lo, size_t hi, uint64_t key) noexcept;

// Dispatches to the kernel k (kSimd only where best_search_kernel() returned it).
inline size_t lower_bound_in(const uint64_t* keys, size_t lo, size_t hi, uint64_t key,
                             SearchKernel k) noexcept {
  return k == SearchKernel::kSimd ? lower_bound_simd(keys, lo, hi, key)
                                  : lower_bound_scalar(keys, lo, hi, key);
}

// Prefetches (for reading) the cache lines holding keys[lo, hi): the keys the sampling phase
// reads (keys[lo + 8j]) and the last one, i.e. every line of the window.
inline void prefetch_window(const uint64_t* keys, size_t lo, size_t hi) noexcept {
  if (lo >= hi) return;
  for (size_t i = lo; i < hi; i += kLineKeys) __builtin_prefetch(keys + i, 0, 3);
  __builtin_prefetch(keys + hi - 1, 0, 3);
}

// One lookup: model prediction then last-mile search. Returns lower_bound over keys (the array
// the model was built on).
template <class Model>
size_t learned_lower_bound(const Model& model, const uint64_t* keys, uint64_t key, SearchKernel k) noexcept {
  const SearchBound b = model.predict(key);
  return lower_bound_in(keys, b.lo, b.hi, key, k);
}

// Batched lookups overlapping memory latency: in groups of kBatchGroup queries, predict all,
// then bisect all windows in lockstep: each step issues one independent load per query, so the
// misses of the whole group overlap, and a query touches only the ~log2(window / 8) + 1 lines a
// bisection needs (phase-2 sampling would touch every line of every window and saturate the
// memory-level parallelism; measured 94 ns vs 220 ns per lookup at 10M keys, E = 64).
// out[i] = lower_bound of queries[i]. REQUIRES out.size() >= queries.size(). The kernel argument
// is unused (the lockstep bisection is scalar) and kept for a SIMD variant.
inline constexpr size_t kBatchGroup = 32;
template <class Model>
void learned_lower_bound_batch(const Model& model, const uint64_t* keys, std::span<const uint64_t> queries,
                               std::span<size_t> out, SearchKernel /*k*/) noexcept {
  const uint64_t* base[kBatchGroup];
  size_t len[kBatchGroup];
  for (size_t i = 0; i < queries.size(); i += kBatchGroup) {
    const size_t g = std::min(kBatchGroup, queries.size() - i);
    const uint64_t* q = queries.data() + i;
    size_t steps = 0;  // bisection steps of the widest window
    for (size_t j = 0; j < g; ++j) {
      const SearchBound b = model.predict(q[j]);
      base[j] = keys + b.lo;
      len[j] = b.hi - b.lo;
      steps = std::max(steps, len[j]);
    }
    for (; steps > 1; steps -= steps / 2) {
      for (size_t j = 0; j < g; ++j) {
        const size_t half = len[j] / 2;
        if (half == 0) continue;  // this window is done (or empty: nothing may be read)
        base[j] = base[j][half] < q[j] ? base[j] + half : base[j];
        len[j] -= half;
      }
    }
    for (size_t j = 0; j < g; ++j)
      out[i + j] = static_cast<size_t>(base[j] - keys) + (len[j] != 0 && *base[j] < q[j]);
  }
}

}  // namespace omen
