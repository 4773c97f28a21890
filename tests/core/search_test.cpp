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

TEST(Search, PrefetchWindowAcceptsEmptyAndUnalignedWindows) {
  std::vector<uint64_t> keys(100, 5);
  prefetch_window(keys.data(), 10, 10);
  prefetch_window(keys.data(), 3, 97);
  SUCCEED();
}

}  // namespace
