// Baselines: every answer of BinarySearchIndex (single and batched) and BTreeIndex is checked
// against std::lower_bound over the whole array, on random, duplicate-heavy and extreme keys.
#include "omen/baseline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <vector>

namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

size_t reference(const std::vector<uint64_t>& keys, uint64_t key) {
  return static_cast<size_t>(std::lower_bound(keys.begin(), keys.end(), key) - keys.begin());
}

// Probes: every key, its neighbours, the extremes and random values.
std::vector<uint64_t> probes_for(const std::vector<uint64_t>& keys, std::mt19937_64& rng) {
  std::vector<uint64_t> p = {0, 1, kMax - 1, kMax};
  for (uint64_t k : keys) {
    p.push_back(k);
    p.push_back(k - 1);  // wraps for 0: also a valid probe
    p.push_back(k + 1);
  }
  for (int i = 0; i < 1000; ++i) p.push_back(rng());
  return p;
}

// Checks both indexes over `keys` (sorted here) with every probe, single and batched.
void check_all(std::vector<uint64_t> keys, uint64_t seed) {
  std::sort(keys.begin(), keys.end());
  std::mt19937_64 rng(seed);
  const std::vector<uint64_t> probes = probes_for(keys, rng);
  std::vector<size_t> want(probes.size());
  for (size_t i = 0; i < probes.size(); ++i) want[i] = reference(keys, probes[i]);

  omen::BTreeIndex tree(keys);
  omen::BinarySearchIndex bs{std::vector<uint64_t>(keys)};
  ASSERT_EQ(bs.size(), keys.size());
  ASSERT_EQ(tree.size(), keys.size());
  for (size_t i = 0; i < probes.size(); ++i) {
    ASSERT_EQ(bs.lower_bound(probes[i]), want[i]) << "n=" << keys.size() << " probe=" << probes[i];
    ASSERT_EQ(tree.lower_bound(probes[i]), want[i]) << "n=" << keys.size() << " probe=" << probes[i];
  }
  // Batched, with batch lengths that are not multiples of the group size.
  for (size_t len : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, probes.size()}) {
    len = std::min(len, probes.size());
    std::vector<size_t> out(len, 12345);
    bs.lower_bound_batch(std::span<const uint64_t>(probes.data(), len), out);
    for (size_t i = 0; i < len; ++i) ASSERT_EQ(out[i], want[i]) << "batch len " << len << " i=" << i;
  }
}

TEST(Baseline, EmptyAndSingle) {
  check_all({}, 1);
  check_all({0}, 2);
  check_all({kMax}, 3);
  check_all({42}, 4);
}

TEST(Baseline, EverySmallSize) {
  std::mt19937_64 rng(5);
  for (size_t n = 0; n <= 70; ++n) {
    std::vector<uint64_t> keys(n);
    for (auto& k : keys) k = rng() % 100;  // dense: many duplicates and gaps
    check_all(keys, n);
  }
}

TEST(Baseline, RandomUniform) {
  std::mt19937_64 rng(6);
  std::vector<uint64_t> keys(100000);
  for (auto& k : keys) k = rng();
  check_all(keys, 7);
}

TEST(Baseline, HeavyDuplicates) {
  std::mt19937_64 rng(8);
  std::vector<uint64_t> keys(50000);
  for (auto& k : keys) k = (rng() % 7) * 1000;  // 7 distinct keys, ~7000 copies each
  check_all(keys, 9);
  check_all(std::vector<uint64_t>(4097, 77), 10);  // one key only
}

TEST(Baseline, ExtremeKeys) {
  std::vector<uint64_t> keys = {0, 0, 1, 2, kMax / 2, kMax - 2, kMax - 1, kMax, kMax};
  check_all(keys, 11);
  std::vector<uint64_t> ends(3000);
  for (size_t i = 0; i < ends.size(); ++i) ends[i] = i % 2 ? kMax - i : i;  // clustered at both ends
  check_all(ends, 12);
}

TEST(Baseline, BTreeKeepsFirstOccurrenceAndCountsBytes) {
  std::vector<uint64_t> keys = {5, 5, 5, 9, 9, 12};
  omen::BTreeIndex tree(keys);
  EXPECT_EQ(tree.distinct(), 3u);
  EXPECT_EQ(tree.lower_bound(5), 0u);
  EXPECT_EQ(tree.lower_bound(6), 3u);
  EXPECT_EQ(tree.lower_bound(13), 6u);
  EXPECT_GE(tree.size_bytes(), 3 * 2 * sizeof(uint64_t));
  omen::BTreeIndex moved(std::move(tree));
  EXPECT_EQ(moved.lower_bound(9), 3u);
  EXPECT_GT(moved.size_bytes(), 0u);
}

TEST(Baseline, BinarySearchTakesTheBufferOver) {
  std::vector<uint64_t> keys = {1, 2, 3};
  const uint64_t* data = keys.data();
  omen::BinarySearchIndex bs(std::move(keys));
  EXPECT_EQ(bs.keys().data(), data);
  EXPECT_EQ(bs.size_bytes(), 3 * sizeof(uint64_t));
}

}  // namespace
