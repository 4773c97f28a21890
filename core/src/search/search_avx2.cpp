// The SIMD kernel. This file alone is compiled with -mavx2 (core/CMakeLists.txt); it is only
// called when best_search_kernel() found AVX2, and includes no header whose inline functions
// other files share except xsimd's, which no other file instantiates for AVX2.
#include <xsimd/xsimd.hpp>

#include "omen/search.h"

namespace omen {

size_t lower_bound_simd(const uint64_t* keys, size_t lo, size_t hi, uint64_t key) noexcept {
  using batch = xsimd::batch<int64_t, xsimd::avx2>;
  constexpr size_t kLanes = batch::size;
  const uint64_t* base = keys + lo;
  size_t len = hi > lo ? hi - lo : 0;
  while (len > kSimdWindow) {  // same bisection as the scalar kernel
    const size_t half = len / 2;
    base = base[half] < key ? base + half : base;
    len -= half;
  }
  // Now lower_bound is in [base, base + len]: count the window's keys below key. Unsigned order
  // = signed order after flipping the sign bit (AVX2 only has a signed 64-bit compare).
  constexpr int64_t kFlip = INT64_MIN;
  const batch flip(kFlip), needle(static_cast<int64_t>(key) ^ kFlip), one(int64_t{1}), zero(int64_t{0});
  batch acc(int64_t{0});
  size_t i = 0;
  for (; i + kLanes <= len; i += kLanes) {
    const batch v = batch::load_unaligned(reinterpret_cast<const int64_t*>(base + i)) ^ flip;
    acc += xsimd::select(v < needle, one, zero);
  }
  size_t count = static_cast<size_t>(xsimd::hadd(acc));
  for (; i < len; ++i) count += base[i] < key;
  return static_cast<size_t>(base - keys) + count;
}

}  // namespace omen
