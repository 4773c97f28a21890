// The SIMD kernel. This file alone is compiled with -mavx2 (core/CMakeLists.txt) and is only
// called after best_search_kernel() found AVX2. It re-implements phases 1-2 instead of calling
// the header's inline detail::narrow_window: an AVX2-compiled copy of a shared inline function
// could otherwise be the one the linker keeps for every file.
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
  size_t len = hi - lo;
  while (len > kSampleWindow) {
    const size_t half = len / 2;
    lo = keys[lo + half] < key ? lo + half : lo;
    len -= half;
  }
  size_t below = 0;
  for (size_t j = 0; j < len; j += kLineKeys) below += keys[lo + j] < key;
  if (below == 0) return lo;
  // lower_bound is in [b, e] with e - b < 8, and every key before b is below key.
  const size_t b = lo + (below - 1) * kLineKeys + 1;
  const size_t e = lo + (below * kLineKeys < len ? below * kLineKeys : len);
  if (len >= kLineKeys) {  // count over the 8 keys ending at e (all inside [lo, hi))
    const size_t s = e >= lo + kLineKeys ? e - kLineKeys : lo;
    return s + count_below8(keys + s, key);
  }
  size_t i = b;
  while (i < e && keys[i] < key) ++i;
  return i;
}

}  // namespace omen
