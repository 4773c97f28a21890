// DynamicLearnedIndex against a std::multimap model under random inserts and erases.
#include "omen/dynamic_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "test_data.h"

namespace {

using omen::DynamicLearnedIndex;
using omen::ModelOptions;
using Multimap = std::multimap<uint64_t, uint64_t>;

// Same entries in the same order (scan from the smallest key), and same size.
void expect_same(const DynamicLearnedIndex& idx, const Multimap& ref) {
  ASSERT_TRUE(idx.check_invariants());
  ASSERT_EQ(idx.size(), ref.size());
  std::vector<std::pair<uint64_t, uint64_t>> got;
  idx.scan(0, [&](uint64_t k, uint64_t p) {
    got.emplace_back(k, p);
    return true;
  });
  ASSERT_EQ(got.size(), ref.size());
  size_t i = 0;
  for (const auto& [k, p] : ref) {  // multimap keeps equal keys in insertion order
    ASSERT_EQ(got[i].first, k) << i;
    ++i;
  }
}

// find() agrees with the multimap on presence, and returns a payload stored under the key.
void expect_finds(const DynamicLearnedIndex& idx, const Multimap& ref, const std::vector<uint64_t>& probes) {
  for (uint64_t q : probes) {
    const auto [b, e] = ref.equal_range(q);
    const std::optional<uint64_t> f = idx.find(q);
    ASSERT_EQ(f.has_value(), b != e) << q;
    if (f) {
      bool stored = false;
      for (auto it = b; it != e; ++it) stored |= it->second == *f;
      ASSERT_TRUE(stored) << q;
    }
  }
}

class DynamicIndexTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(DynamicIndexTest, RandomInsertsAndErasesMatchMultimap) {
  std::mt19937_64 rng(GetParam());
  for (auto dist : {omen::testing::Dist::kUniform, omen::testing::Dist::kHeavyDups,
                    omen::testing::Dist::kClustered, omen::testing::Dist::kExtremes}) {
    SCOPED_TRACE(omen::testing::dist_name(dist));
    std::vector<uint64_t> keys = omen::testing::make_keys<omen::testing::Int64Key>(dist, 4000, GetParam());
    std::vector<uint64_t> pay(keys.size());
    Multimap ref;
    for (size_t i = 0; i < keys.size(); ++i) ref.emplace(keys[i], pay[i] = i);
    std::vector<uint64_t> pool = keys;  // new keys: mostly existing neighbourhoods and duplicates
    DynamicLearnedIndex idx(std::move(keys), std::move(pay), {.epsilon = GetParam()});
    expect_same(idx, ref);
    for (size_t step = 0; step < 8000; ++step) {
      const uint64_t r = rng();
      if (r % 3 != 0) {  // insert
        uint64_t k = pool[rng() % pool.size()];
        if (r % 5 == 0)
          k = rng();
        else if (r % 5 == 1)
          k += (rng() % 7) - 3;
        ref.emplace(k, step + 1000000);
        idx.insert(k, step + 1000000);
      } else if (!ref.empty()) {  // erase an existing pair, or try a missing one
        auto it = ref.lower_bound(r % 4 == 0 ? rng() : pool[rng() % pool.size()]);
        if (it == ref.end()) it = ref.begin();
        if (r % 7 == 0) {
          ASSERT_FALSE(idx.erase(it->first, 999999999));
        } else {
          ASSERT_TRUE(idx.erase(it->first, it->second));
          ref.erase(it);
        }
      }
      if (step % 2000 == 0) expect_same(idx, ref);
    }
    expect_same(idx, ref);
    std::vector<uint64_t> probes = omen::testing::queries_for(pool, 500);
    expect_finds(idx, ref, probes);
    // Scans starting anywhere see exactly the multimap's suffix.
    for (size_t t = 0; t < 50; ++t) {
      const uint64_t from = probes[rng() % probes.size()];
      auto it = ref.lower_bound(from);
      size_t seen = 0;
      idx.scan(from, [&](uint64_t k, uint64_t) {
        EXPECT_TRUE(it != ref.end() && it->first == k) << from;
        ++it;
        return ++seen < 100;
      });
      if (it != ref.end()) {
        EXPECT_EQ(seen, 100u);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Epsilons, DynamicIndexTest, ::testing::Values(1u, 8u, 64u, 256u));

TEST(DynamicIndex, GrowsFromEmptyAndShrinksToEmpty) {
  DynamicLearnedIndex idx(ModelOptions{.epsilon = 4});
  Multimap ref;
  std::mt19937_64 rng(5);
  for (uint64_t i = 0; i < 3000; ++i) {
    const uint64_t k = rng() % 500;
    idx.insert(k, i);
    ref.emplace(k, i);
  }
  expect_same(idx, ref);
  EXPECT_GT(idx.leaf_count(), 1u);
  while (!ref.empty()) {
    auto it = ref.begin();
    std::advance(it, rng() % ref.size());
    ASSERT_TRUE(idx.erase(it->first, it->second));
    ref.erase(it);
  }
  expect_same(idx, ref);
  EXPECT_FALSE(idx.find(0).has_value());
  EXPECT_FALSE(idx.erase(0, 0));
}

TEST(DynamicIndex, ExtremeKeysZeroAndMax) {
  DynamicLearnedIndex idx;
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  for (uint64_t i = 0; i < 1000; ++i) {
    idx.insert(i % 2 ? max - i / 2 : i / 2, i);
  }
  idx.insert(max, 7);
  idx.insert(0, 8);
  EXPECT_TRUE(idx.find(max).has_value());
  EXPECT_TRUE(idx.find(0).has_value());
  EXPECT_FALSE(idx.find(uint64_t{1} << 63).has_value());
  size_t n = 0;
  idx.scan(max, [&](uint64_t k, uint64_t) {
    EXPECT_EQ(k, max);
    return ++n < 10;
  });
  EXPECT_EQ(n, 2u);
  EXPECT_TRUE(idx.check_invariants());
}

// Regression: retraining a leaf alone left a short last piece every time, and after the data
// doubled by random inserts the index had 8.6x the leaves of a fresh build (5919 vs 689 at 10M).
TEST(DynamicIndex, RetrainAbsorbsShortLeavesSoLeafCountStaysNearAFreshBuild) {
  std::mt19937_64 rng(8);
  const size_t n = 100000;
  std::vector<uint64_t> all(2 * n);
  for (auto& k : all) k = rng();
  std::vector<uint64_t> first(all.begin(), all.begin() + n), sorted = all;
  std::sort(first.begin(), first.end());
  std::sort(sorted.begin(), sorted.end());
  DynamicLearnedIndex grown(std::move(first), std::vector<uint64_t>(n, 0), {.epsilon = 16});
  for (size_t i = n; i < 2 * n; ++i) grown.insert(all[i], i);
  const DynamicLearnedIndex fresh(std::move(sorted), std::vector<uint64_t>(2 * n, 0), {.epsilon = 16});
  EXPECT_LE(grown.leaf_count(), fresh.leaf_count() * 3 / 2);
  EXPECT_TRUE(grown.check_invariants());
  for (size_t i = 0; i < 2 * n; i += 7) ASSERT_TRUE(grown.find(all[i]).has_value());
}

// Regression: sequential keys form one PGM segment, so the last leaf grew without bound and every
// few hundred appends retrained all of it (quadratic). Long segments are now cut into leaves of at
// most kMaxLeafKeys sharing the segment's model.
TEST(DynamicIndex, SequentialAppendsAndBulkLoadKeepLeavesBounded) {
  constexpr size_t kMax = DynamicLearnedIndex::kMaxLeafKeys;
  DynamicLearnedIndex appended;
  for (uint64_t k = 0; k < 4 * kMax; ++k) appended.insert(k * 3, k);
  EXPECT_GE(appended.leaf_count(), 4u);
  std::vector<uint64_t> keys(5 * kMax + 7), pay(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = 3 * (pay[i] = i);
  DynamicLearnedIndex bulk(std::move(keys), std::move(pay), {.epsilon = 8});
  EXPECT_GE(bulk.leaf_count(), 6u);
  for (const DynamicLearnedIndex* idx : {&appended, &bulk}) {
    ASSERT_TRUE(idx->check_invariants());
    for (uint64_t k = 0; k < 12 * kMax; ++k) {  // present (multiples of 3) and absent keys
      const std::optional<uint64_t> f = idx->find(k);
      ASSERT_EQ(f.has_value(), k % 3 == 0 && k / 3 < idx->size()) << k;
      if (f) {
        ASSERT_EQ(*f, k / 3) << k;
      }
    }
  }
}

// A segment longer than kMaxLeafKeys with a non-zero error: its slices' windows stick out of
// the slices and must be clipped to them.
TEST(DynamicIndex, SlicesOfOneLongNoisySegmentAnswerExactly) {
  std::mt19937_64 rng(12);
  std::vector<uint64_t> keys(300000), pay(keys.size());
  for (auto& k : keys) k = rng() >> 20;
  std::sort(keys.begin(), keys.end());
  const std::vector<uint64_t> ref = keys;
  DynamicLearnedIndex idx(std::move(keys), std::move(pay), {.epsilon = 512});
  EXPECT_GT(idx.leaf_count(), ref.size() / DynamicLearnedIndex::kMaxLeafKeys);
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_TRUE(idx.find(ref[i]).has_value()) << i;
    const bool absent = !std::binary_search(ref.begin(), ref.end(), ref[i] + 1);
    ASSERT_EQ(idx.find(ref[i] + 1).has_value(), !absent) << i;
  }
}

// One key repeated beyond kMaxLeafKeys: a run is never cut, so that leaf keeps growing.
TEST(DynamicIndex, OneKeyRepeatedBeyondTheLeafLimit) {
  DynamicLearnedIndex idx;
  const size_t copies = DynamicLearnedIndex::kMaxLeafKeys + 5000;
  for (uint64_t i = 0; i < copies; ++i) idx.insert(7, i);
  idx.insert(6, 0);
  idx.insert(8, 0);
  ASSERT_TRUE(idx.check_invariants());
  EXPECT_EQ(idx.find(7), std::optional<uint64_t>(0));  // the first inserted copy
  size_t n = 0;
  idx.scan(7, [&](uint64_t k, uint64_t p) {
    EXPECT_EQ(p, k == 7 ? n : 0);
    return ++n < copies + 10;
  });
  EXPECT_EQ(n, copies + 1);
  EXPECT_TRUE(idx.erase(7, copies - 1));
  EXPECT_FALSE(idx.erase(7, copies - 1));
  EXPECT_EQ(idx.size(), copies + 1);
}

TEST(DynamicIndex, RejectsUnsortedOrMismatchedInput) {
  EXPECT_THROW(DynamicLearnedIndex({3, 1}, {0, 0}), std::invalid_argument);
  EXPECT_THROW(DynamicLearnedIndex({1, 3}, {0}), std::invalid_argument);
}

}  // namespace

// find_payload changes a key's payload in place, for entries in a leaf's main array and in its
// insert buffer; the change survives the retrains that later inserts cause.
TEST(DynamicIndex, FindPayloadChangesThePayloadInPlace) {
  std::vector<uint64_t> keys(5000), pay(5000);
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = 10 * i, pay[i] = i;
  DynamicLearnedIndex idx(std::move(keys), std::move(pay), {.epsilon = 8});
  idx.insert(15, 1);  // buffered
  EXPECT_EQ(idx.find_payload(16), nullptr);
  ASSERT_NE(idx.find_payload(20), nullptr);
  ASSERT_NE(idx.find_payload(15), nullptr);
  *idx.find_payload(20) = 777;  // main array
  *idx.find_payload(15) = 555;  // buffer
  EXPECT_EQ(idx.find(20), 777u);
  EXPECT_EQ(idx.find(15), 555u);
  for (uint64_t k = 1; k < 20000; k += 10) idx.insert(k, k);  // fills buffers: retrains move the entries
  EXPECT_EQ(idx.find(20), 777u);
  EXPECT_EQ(idx.find(15), 555u);
  EXPECT_EQ(idx.find(30), 3u);
  EXPECT_TRUE(idx.check_invariants());
}
