// Last-mile search kernels: find lower_bound inside the window [lo, hi) a model predicted.
//
// Two compute engines, chosen at run time by CPU feature (not by window size):
//   kScalar  branchless binary search (any x86-64 / any CPU);
//   kSimd    branchless binary search down to a window of kSimdWindow keys, then one AVX2 pass
//            (xsimd, 4 keys per compare, unsigned order via sign-bit flip) counting keys < key.
// best_search_kernel() returns kSimd iff the running CPU has AVX2 (cpuid, through xsimd).
// Both give exactly the same answer. Windows come from SearchBound, so they are small (2E + 2).
//
// To hide DRAM latency a single lookup prefetches every cache line of its window before
// searching (all misses overlap instead of one dependent miss per binary-search step), and a
// batch predicts a group of queries, prefetches all their windows, then searches them.
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

// First index i in [lo, hi) with keys[i] >= key, or hi. REQUIRES keys[lo, hi) sorted ascending.
inline size_t lower_bound_scalar(const uint64_t* keys, size_t lo, size_t hi, uint64_t key) noexcept {
  if (lo >= hi) return lo;
  const uint64_t* base = keys + lo;
  size_t len = hi - lo;
  while (len > 1) {
    const size_t half = len / 2;
    base = base[half] < key ? base + half : base;  // compiles to cmov
    len -= half;
  }
  return static_cast<size_t>(base - keys) + (*base < key);
}

// Window size below which the SIMD kernel stops bisecting and counts.
inline constexpr size_t kSimdWindow = 32;

// Same contract as lower_bound_scalar. REQUIRES: best_search_kernel() == kSimd (AVX2).
size_t lower_bound_simd(const uint64_t* keys, size_t lo, size_t hi, uint64_t key) noexcept;

inline size_t lower_bound_in(const uint64_t* keys, size_t lo, size_t hi, uint64_t key,
                             SearchKernel k) noexcept {
  return k == SearchKernel::kSimd ? lower_bound_simd(keys, lo, hi, key)
                                  : lower_bound_scalar(keys, lo, hi, key);
}

// Prefetches (for reading) every 64-byte cache line holding keys[lo, hi).
inline void prefetch_window(const uint64_t* keys, size_t lo, size_t hi) noexcept {
  if (lo >= hi) return;
  const char* p = reinterpret_cast<const char*>(keys + lo);
  const char* end = reinterpret_cast<const char*>(keys + hi);
  p = reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) & ~uintptr_t{63});
  for (; p < end; p += 64) __builtin_prefetch(p, 0, 3);
}

// One lookup: model prediction, prefetch of the window, last-mile search. Returns lower_bound
// over keys (the array the model was built on).
template <class Model>
size_t learned_lower_bound(const Model& model, const uint64_t* keys, uint64_t key,
                           SearchKernel k) noexcept {
  const SearchBound b = model.predict(key);
  prefetch_window(keys, b.lo, b.hi);
  return lower_bound_in(keys, b.lo, b.hi, key, k);
}

// Batched lookups overlapping memory latency: in groups of kBatchGroup queries, predict all,
// prefetch all their windows, then search each. out[i] = lower_bound of queries[i].
// REQUIRES out.size() >= queries.size().
inline constexpr size_t kBatchGroup = 16;
template <class Model>
void learned_lower_bound_batch(const Model& model, const uint64_t* keys,
                               std::span<const uint64_t> queries, std::span<size_t> out,
                               SearchKernel k) noexcept {
  SearchBound b[kBatchGroup];
  for (size_t i = 0; i < queries.size(); i += kBatchGroup) {
    const size_t g = std::min(kBatchGroup, queries.size() - i);
    for (size_t j = 0; j < g; ++j) {
      b[j] = model.predict(queries[i + j]);
      prefetch_window(keys, b[j].lo, b[j].hi);
    }
    for (size_t j = 0; j < g; ++j) out[i + j] = lower_bound_in(keys, b[j].lo, b[j].hi, queries[i + j], k);
  }
}

}  // namespace omen
