// The SIMD kernel. This file alone is compiled with -mavx2 (core/CMakeLists.txt) and is only
// called after best_search_kernel() found AVX2. Phases 1-2 are the header's
// detail::narrow_to_line, which has internal linkage: this file's AVX2-compiled copy stays here.
#include <xsimd/xsimd.hpp>

#include "omen/search.h"

namespace omen {

namespace {

using batch = xsimd::batch<int64_t, xsimd::avx2>;

// Keys of base[0, 8) below key, with AVX2: unsigned order = signed order after flipping the
// sign bit (AVX2 only has a signed 64-bit compare).
size_t count_below8(const uint64_t* base, uint64_t key) noexcept {
  constexpr int64_t kFlip = INT64_MIN;
  const batch flip(kFlip), needle(static_cast<int64_t>(key) ^ kFlip), one(int64_t{1}), zero(int64_t{0});
  const batch v0 = batch::load_unaligned(reinterpret_cast<const int64_t*>(base)) ^ flip;
  const batch v1 = batch::load_unaligned(reinterpret_cast<const int64_t*>(base + batch::size)) ^ flip;
  const batch acc = xsimd::select(v0 < needle, one, zero) + xsimd::select(v1 < needle, one, zero);
  return static_cast<size_t>(xsimd::hadd(acc));
}

}  // namespace

size_t lower_bound_simd(const uint64_t* keys, size_t lo, size_t hi, uint64_t key) noexcept {
  static_assert(2 * batch::size == kLineKeys);
  if (lo >= hi) return lo;
  size_t b, e;
  detail::narrow_to_line(keys, lo, hi, key, &b, &e);
  if (e - b == kLineKeys) return b + count_below8(keys + b, key);  // a whole line inside the window
  return b + detail::count_below(keys, b, e, key);
}

}  // namespace omen
