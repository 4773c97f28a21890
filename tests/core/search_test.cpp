// Last-mile kernels: scalar and SIMD agree with std::lower_bound on every window.
#include "omen/search.h"

#include <gtest/gtest.h>

#include <random>

#include "test_data.h"

namespace {

using namespace omen;

std::vector<SearchKernel> kernels() {
  std::vector<SearchKernel> k{SearchKernel::kScalar};
  if (best_search_kernel() == SearchKernel::kSimd) k.push_back(SearchKernel::kSimd);
  return k;
}

// Every sub-window [lo, hi) of a small array, every query around its keys, both kernels.
TEST(Search, EveryWindowOfSmallArrays) {
  std::mt19937_64 rng(1);
  for (size_t n : {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 33, 70}) {
    std::vector<uint64_t> keys(n);
    for (auto& k : keys) k = rng() % 40;  // many duplicates
    std::sort(keys.begin(), keys.end());
    for (size_t lo = 0; lo <= n; ++lo) {
      for (size_t hi = lo; hi <= n; ++hi) {
        for (uint64_t q = 0; q <= 41; ++q) {
          const size_t want = std::lower_bound(keys.begin() + lo, keys.begin() + hi, q) - keys.begin();
          for (SearchKernel k : kernels())
            ASSERT_EQ(lower_bound_in(keys.data(), lo, hi, q, k), want)
                << n << " " << lo << " " << hi << " " << q;
        }
      }
    }
  }
}

// Wide windows take the bisection phase first; unsigned order at the top of the key space
// (a signed compare would put keys >= 2^63 first).
TEST(Search, WideWindowsAndKeysAbove2To63) {
  const std::vector<uint64_t> keys = omen::testing::raw_extreme_keys(5000);
  std::mt19937_64 rng(2);
  for (size_t t = 0; t < 20000; ++t) {
    size_t lo = rng() % keys.size(), hi = rng() % (keys.size() + 1);
    if (lo > hi) std::swap(lo, hi);
    uint64_t q = t % 2 ? keys[rng() % keys.size()] : rng();
    if (t % 3 == 0) q += 1;
    const size_t want = std::lower_bound(keys.begin() + lo, keys.begin() + hi, q) - keys.begin();
    for (SearchKernel k : kernels()) ASSERT_EQ(lower_bound_in(keys.data(), lo, hi, q, k), want);
  }
}

// The kernels bisect over cache lines as the memory lays them out: arrays starting at every
// 8-byte offset inside a line, windows starting and ending at every position of a line.
TEST(Search, ArraysAtEveryAlignmentWithinALine) {
  std::mt19937_64 rng(3);
  std::vector<uint64_t> buf(600 + 16);
  const size_t aligned = (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64 / 8;
  for (size_t shift = 0; shift < 8; ++shift) {
    uint64_t* keys = buf.data() + aligned + shift;
    const size_t n = 600;
    for (size_t i = 0; i < n; ++i) keys[i] = rng() % 900;
    std::sort(keys, keys + n);
    for (size_t t = 0; t < 30000; ++t) {
      size_t lo = rng() % (n + 1), hi = t % 4 ? std::min(n, lo + rng() % 300) : rng() % (n + 1);
      if (lo > hi) std::swap(lo, hi);
      const uint64_t q = t % 2 ? keys[rng() % n] + (t % 3) - 1 : rng() % 1000;
      const size_t want = std::lower_bound(keys + lo, keys + hi, q) - keys;
      for (SearchKernel k : kernels())
        ASSERT_EQ(lower_bound_in(keys, lo, hi, q, k), want) << shift << " " << lo << " " << hi << " " << q;
    }
  }
}

TEST(Search, PrefetchWindowAcceptsEmptyAndUnalignedWindows) {
  std::vector<uint64_t> keys(100, 5);
  prefetch_window(keys.data(), 10, 10);
  prefetch_window(keys.data(), 3, 97);
  SUCCEED();
}

}  // namespace
