// Models: predict(key) must bracket std::lower_bound for every key, for every model, key type,
// error bound and distribution (omen/search_bound.h).
#include "omen/model.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>

#include "omen/search.h"
#include "test_data.h"

namespace {

using namespace omen;
using namespace omen::testing;

constexpr uint32_t kEpsilons[] = {1, 8, 64, 256};
constexpr size_t kN = 6000;

// Checks the SearchBound contract at every query and that searching the window finds lb.
// Returns false after the first failure (with a gtest message).
template <class Model>
void expect_brackets(const std::vector<uint64_t>& keys, const Model& m) {
  const size_t n = keys.size();
  const uint64_t e = m.max_error();
  const SearchKernel simd = best_search_kernel();
  for (uint64_t q : queries_for(keys)) {
    const SearchBound b = m.predict(q);
    const size_t lb = true_lower_bound(keys, q);
    ASSERT_TRUE(b.lo <= lb && lb <= b.hi && b.lo <= b.pos && b.pos <= b.hi && b.hi <= n)
        << "key " << q << " lb " << lb << " got {" << b.pos << "," << b.lo << "," << b.hi << "} n " << n;
    ASSERT_LE(b.hi - b.lo, 2 * e + 2) << "key " << q;
    ASSERT_EQ(lower_bound_scalar(keys.data(), b.lo, b.hi, q), lb) << "key " << q;
    ASSERT_EQ(lower_bound_in(keys.data(), b.lo, b.hi, q, simd), lb) << "key " << q;
  }
}

// PgmModel in its wide layout (WidePgmSegment), which large models use; forced on small data.
struct WidePgmModel : PgmModel {
  WidePgmModel(PgmModel m) : PgmModel(std::move(m)) {}  // NOLINT: implicit on purpose
  static WidePgmModel build(std::span<const uint64_t> keys, ModelOptions opts = {}) {
    opts.force_wide = true;
    return PgmModel::build(keys, opts);
  }
};

template <class K, class M>
struct Case {
  using Key = K;
  using Model = M;
};

template <class C>
class ModelTest : public ::testing::Test {};

// Every key type x {PGM, RMI, Linear}.
using Cases =
    ::testing::Types<Case<Int16Key, PgmModel>, Case<Int32Key, PgmModel>, Case<Int64Key, PgmModel>,
                     Case<Float4Key, PgmModel>, Case<Float8Key, PgmModel>, Case<DateKey, PgmModel>,
                     Case<TimestampKey, PgmModel>, Case<Int16Key, RmiModel>, Case<Int32Key, RmiModel>,
                     Case<Int64Key, RmiModel>, Case<Float4Key, RmiModel>, Case<Float8Key, RmiModel>,
                     Case<DateKey, RmiModel>, Case<TimestampKey, RmiModel>, Case<Int16Key, LinearModel>,
                     Case<Int32Key, LinearModel>, Case<Int64Key, LinearModel>, Case<Float4Key, LinearModel>,
                     Case<Float8Key, LinearModel>, Case<DateKey, LinearModel>,
                     Case<TimestampKey, LinearModel>, Case<Int64Key, WidePgmModel>,
                     Case<Float8Key, WidePgmModel>, Case<TimestampKey, WidePgmModel>>;
TYPED_TEST_SUITE(ModelTest, Cases);

TYPED_TEST(ModelTest, EveryLookupBracketsLowerBound) {
  using K = typename TypeParam::Key;
  using M = typename TypeParam::Model;
  for (Dist d : kAllDists) {
    const std::vector<uint64_t> keys = make_keys<K>(d, kN);
    for (uint32_t eps : kEpsilons) {
      SCOPED_TRACE(std::string(dist_name(d)) + " eps=" + std::to_string(eps));
      const M m = M::build(keys, {.epsilon = eps});
      expect_brackets(keys, m);
      if (::testing::Test::HasFatalFailure()) return;
      if constexpr (std::is_base_of_v<PgmModel, M>) {
        EXPECT_LE(m.max_error(), eps);
        EXPECT_EQ(m.is_wide(), (std::is_same_v<M, WidePgmModel>));
      }
    }
  }
}

template <class M>
class RawModelTest : public ::testing::Test {};
using Models = ::testing::Types<PgmModel, WidePgmModel, RmiModel, LinearModel>;
TYPED_TEST_SUITE(RawModelTest, Models);

TYPED_TEST(RawModelTest, EmptyAndOneKey) {
  const std::vector<uint64_t> none;
  const TypeParam m0 = TypeParam::build(none);
  for (uint64_t q : {uint64_t{0}, uint64_t{5}, std::numeric_limits<uint64_t>::max()}) {
    const SearchBound b = m0.predict(q);
    EXPECT_EQ(b.hi, 0u);
  }
  for (uint64_t k : {uint64_t{0}, uint64_t{77}, std::numeric_limits<uint64_t>::max()}) {
    const std::vector<uint64_t> one{k};
    expect_brackets(one, TypeParam::build(one));
  }
}

TYPED_TEST(RawModelTest, KeysNear2To63And2To64) {
  const std::vector<uint64_t> keys = raw_extreme_keys(20000);
  for (uint32_t eps : kEpsilons) {
    SCOPED_TRACE(eps);
    expect_brackets(keys, TypeParam::build(keys, {.epsilon = eps, .epsilon_internal = 2}));
  }
}

// Only the endpoints are far apart: a single huge gap next to dense keys.
TYPED_TEST(RawModelTest, HugeGapBetweenDenseRuns) {
  std::vector<uint64_t> keys;
  for (uint64_t i = 0; i < 3000; ++i) keys.push_back(i);
  for (uint64_t i = 0; i < 3000; ++i) keys.push_back(std::numeric_limits<uint64_t>::max() - 3000 + i);
  for (uint32_t eps : kEpsilons) expect_brackets(keys, TypeParam::build(keys, {.epsilon = eps}));
}

// Automatic RMI sizing gives few leaves on test-sized data; force many (mostly empty) leaves and
// a single one, so keys routed to empty leaves and before a leaf's first point are exercised.
TEST(RmiModel, ManyEmptyLeavesAndOneLeafStillBracket) {
  for (Dist d : {Dist::kLognormal, Dist::kClustered, Dist::kHeavyDups, Dist::kExtremes}) {
    const std::vector<uint64_t> keys = make_keys<Int64Key>(d, 3000);
    for (uint32_t leaves : {1u, 7u, 3000u, 12000u}) {
      SCOPED_TRACE(std::string(dist_name(d)) + " leaves=" + std::to_string(leaves));
      const RmiModel m = RmiModel::build(keys, {.rmi_leaves = leaves});
      EXPECT_EQ(m.leaf_count(), leaves);
      expect_brackets(keys, m);
    }
  }
}

// Every key of a small domain (not just keys near the data), tiny error bounds included.
TYPED_TEST(RawModelTest, ExhaustiveOverASmallKeyDomain) {
  std::mt19937_64 rng(21);
  std::vector<uint64_t> keys(4000);
  for (auto& k : keys) k = rng() % 3 == 0 ? 5000 + rng() % 50 : rng() % 20000;  // dense dup cluster
  std::sort(keys.begin(), keys.end());
  for (uint32_t eps : {0u, 1u, 3u}) {
    for (uint32_t eps_internal : {0u, 2u}) {
      const TypeParam m =
          TypeParam::build(keys, {.epsilon = eps, .epsilon_internal = eps_internal, .rmi_leaves = 500});
      for (uint64_t q = 0; q <= 20001; ++q) {
        const SearchBound b = m.predict(q);
        const size_t lb = true_lower_bound(keys, q);
        ASSERT_TRUE(b.lo <= lb && lb <= b.hi && b.hi <= keys.size()) << q << " eps " << eps;
      }
    }
  }
}

TEST(PgmModel, FromSegmentsPredictsLikeTheOriginal) {
  for (Dist d : {Dist::kLognormal, Dist::kHeavyDups, Dist::kExtremes}) {
    const std::vector<uint64_t> keys = make_keys<Int64Key>(d, 20000);
    for (bool wide : {false, true}) {
      const PgmModel m = PgmModel::build(keys, {.epsilon = 16, .force_wide = wide});
      ASSERT_EQ(m.is_wide(), wide);
      const PgmModel r =
          wide ? PgmModel::from_segments(
                     std::vector<WidePgmSegment>(m.wide_segments().begin(), m.wide_segments().end()),
                     m.key_count(), m.epsilon(), {.epsilon_internal = 2})
               : PgmModel::from_segments(std::vector<PgmSegment>(m.segments().begin(), m.segments().end()),
                                         m.key_count(), m.epsilon(), {.epsilon_internal = 2});
      for (uint64_t q : queries_for(keys)) {
        const SearchBound a = m.predict(q), b = r.predict(q);
        ASSERT_TRUE(a.pos == b.pos && a.lo == b.lo && a.hi == b.hi) << q;
      }
    }
  }
}

TEST(PgmModel, FromSegmentsRejectsUnorderedLeaves) {
  std::vector<PgmSegment> bad = {{10, 0.0f, 0}, {5, 0.0f, 1}};
  EXPECT_THROW(PgmModel::from_segments(bad, 2, 1), std::invalid_argument);
  std::vector<PgmSegment> past_end = {{10, 0.0f, 3}};
  EXPECT_THROW(PgmModel::from_segments(past_end, 2, 1), std::invalid_argument);
  std::vector<PgmSegment> negative = {{10, -1.0f, 0}};
  EXPECT_THROW(PgmModel::from_segments(negative, 2, 1), std::invalid_argument);
  std::vector<WidePgmSegment> nan = {{10, std::numeric_limits<double>::quiet_NaN(), 0}};
  EXPECT_THROW(PgmModel::from_segments(nan, 2, 1), std::invalid_argument);
  std::vector<PgmSegment> ok = {{10, 0.0f, 0}};
  EXPECT_THROW(PgmModel::from_segments(ok, kMaxCompactKeys, 1), std::invalid_argument);
}

TEST(PgmModel, ParallelBuildIsExactAndAsSmall) {
  std::vector<uint64_t> keys = make_keys<Int64Key>(Dist::kLognormal, size_t{5} << 19);
  const PgmModel seq = PgmModel::build(keys, {.epsilon = 32});
  const PgmModel par = PgmModel::build(keys, {.epsilon = 32, .parallel = true});
  EXPECT_LE(par.max_error(), 32u);
  EXPECT_LE(par.segment_count(), seq.segment_count() + 16);  // one extra cut per chunk at most
  std::mt19937_64 rng(3);
  for (size_t i = 0; i < 200000; ++i) {
    const uint64_t q = i % 2 ? keys[rng() % keys.size()] + (rng() % 3) - 1 : rng();
    const SearchBound b = par.predict(q);
    const size_t lb = true_lower_bound(keys, q);
    ASSERT_TRUE(b.lo <= lb && lb <= b.hi) << q;
  }
}

// The key directory above the leaf level: every segment count around its node and level
// boundaries (8, 64, 128 = 8 x kDirTop, 1024 segments...), keys at, between and around the first
// keys, and a last first_key of UINT64_MAX (the directory's padding is UINT64_MAX too).
TEST(PgmModel, DirectoryFindsTheLastSegmentAtOrBelowEveryKey) {
  for (size_t segs : {1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 128, 129, 130, 1023, 1024, 1025, 1200}) {
    for (bool max_last : {false, true}) {
      std::vector<PgmSegment> leaf(segs);
      std::vector<uint64_t> firsts(segs);
      for (size_t i = 0; i < segs; ++i) {
        firsts[i] = max_last && i + 1 == segs ? UINT64_MAX : 100 + 10 * i;
        leaf[i] = {firsts[i], 0.0f, static_cast<int32_t>(i)};
      }
      const PgmModel m = PgmModel::from_segments(leaf, segs, 0);
      EXPECT_GE(m.height(), 2u);
      auto want = [&](uint64_t k) {
        return std::upper_bound(firsts.begin(), firsts.end(), k) - firsts.begin() - 1;
      };
      for (size_t i = 0; i < segs; ++i)
        for (uint64_t k : {firsts[i], firsts[i] + 1, firsts[i] + 9, firsts[i] - 1}) {
          if (k < firsts[0]) continue;
          ASSERT_EQ(m.find_segment(k), static_cast<size_t>(want(k))) << segs << " " << k;
        }
      ASSERT_EQ(m.find_segment(UINT64_MAX), segs - 1) << segs;
      if (UINT64_MAX - 1 >= firsts[0]) {
        ASSERT_EQ(m.find_segment(UINT64_MAX - 1), static_cast<size_t>(want(UINT64_MAX - 1))) << segs;
      }
    }
  }
}

// The bucket table in front of the directory (model.h): find_segment must give the last segment
// whose first key is <= key whether the key's bucket answers or sends it to the directory. Leaf
// levels chosen to hit the table's edges: first keys in every octave (2^o and its neighbours,
// 0 and UINT64_MAX), an even spread (no wide bucket), a cluster of many segments inside one
// bucket (wide buckets: the directory answers), a leaf whose first key is high (octaves below
// it are never read); compact and wide segment layouts; keys at, around and between the first
// keys, at every power of two and its neighbours, and random.
TEST(PgmModel, BucketTableFindsTheSameSegmentAsTheDirectory) {
  std::mt19937_64 rng(17);
  std::vector<std::pair<const char*, std::vector<uint64_t>>> layouts;
  {
    std::vector<uint64_t> f{0};
    for (unsigned o = 0; o < 64; ++o)
      for (uint64_t k : {(uint64_t{1} << o) - 1, uint64_t{1} << o, (uint64_t{1} << o) + 1}) f.push_back(k);
    f.push_back(UINT64_MAX);
    layouts.push_back({"octave edges", f});
  }
  {
    std::vector<uint64_t> f;
    for (uint64_t i = 0; i < 5000; ++i) f.push_back(1'000'000 + 7919 * i);
    layouts.push_back({"even spread", f});
  }
  {
    std::vector<uint64_t> f;
    for (uint64_t i = 0; i < 300; ++i) f.push_back(uint64_t{1} << 40 | (i << 28));
    for (uint64_t i = 0; i < 3000; ++i)
      f.push_back((uint64_t{3} << 50) + i);  // 3000 segments, 3000 keys wide
    for (uint64_t i = 0; i < 300; ++i) f.push_back((uint64_t{1} << 62) + (i << 40));
    layouts.push_back({"cluster", f});
  }
  {
    std::vector<uint64_t> f;
    for (int i = 0; i < 4000; ++i) f.push_back(rng() | (uint64_t{1} << 63));
    layouts.push_back({"random high", f});
  }
  {
    std::vector<uint64_t> f;
    std::lognormal_distribution<double> ln(0.0, 2.0);
    for (int i = 0; i < 4000; ++i) f.push_back(static_cast<uint64_t>(ln(rng) * 1e12));
    layouts.push_back({"lognormal", f});
  }
  for (auto& [name, firsts] : layouts) {
    std::sort(firsts.begin(), firsts.end());
    firsts.erase(std::unique(firsts.begin(), firsts.end()), firsts.end());
    std::vector<uint64_t> probes;
    for (size_t i = 0; i < firsts.size(); ++i)
      for (uint64_t d : {uint64_t{0}, uint64_t{1}, uint64_t{2}, UINT64_MAX})
        probes.push_back(firsts[i] + d);  // + UINT64_MAX: - 1
    for (size_t i = 0; i + 1 < firsts.size(); ++i)
      probes.push_back(firsts[i] + (firsts[i + 1] - firsts[i]) / 2);
    for (unsigned o = 0; o < 64; ++o)
      for (uint64_t k : {(uint64_t{1} << o) - 1, uint64_t{1} << o, (uint64_t{1} << o) + 1})
        probes.push_back(k);
    for (int i = 0; i < 20000; ++i) probes.push_back(rng() >> (rng() % 64));
    probes.push_back(UINT64_MAX);
    auto want = [&](uint64_t k) {
      return static_cast<size_t>(std::upper_bound(firsts.begin(), firsts.end(), k) - firsts.begin() - 1);
    };
    auto check = [&](const PgmModel& m, const char* layout) {
      ASSERT_GT(m.bucket_count(), 0u) << name;
      EXPECT_LT(m.bucket_count(), 2 * (firsts.size() + 64)) << name;
      for (uint64_t k : probes) {
        if (k < firsts[0]) {  // outside find_segment's precondition: any segment, but no stray read (ASan)
          ASSERT_LT(m.find_segment(k), firsts.size()) << name << " " << layout << " key " << k;
          continue;
        }
        ASSERT_EQ(m.find_segment(k), want(k)) << name << " " << layout << " key " << k;
      }
    };
    std::vector<PgmSegment> leaf;
    std::vector<WidePgmSegment> wide;
    for (size_t i = 0; i < firsts.size(); ++i) {
      leaf.push_back({firsts[i], 0.0f, static_cast<int32_t>(i)});
      wide.push_back({firsts[i], 0.0, static_cast<int64_t>(i)});
    }
    const PgmModel c = PgmModel::from_segments(leaf, firsts.size(), 0);
    check(c, "compact");
    check(PgmModel::from_segments(wide, firsts.size(), 0), "wide");
    if (std::string(name) == "even spread") {
      EXPECT_EQ(c.wide_bucket_count(), 0u);  // every key by the table
    }
    if (std::string(name) == "cluster") {
      EXPECT_GT(c.wide_bucket_count(), 0u);  // some by the directory
    }
  }
  // Below kMinBucketSegments segments there is no table; the directory alone answers.
  std::vector<PgmSegment> few;
  for (uint64_t i = 0; i < PgmModel::kMinBucketSegments - 1; ++i)
    few.push_back({100 * i + 5, 0.0f, static_cast<int32_t>(i)});
  const PgmModel small = PgmModel::from_segments(few, few.size(), 0);
  EXPECT_EQ(small.bucket_count(), 0u);
  for (uint64_t k = 5; k < 100 * few.size() + 50; k += 7)
    ASSERT_EQ(small.find_segment(k), std::min<size_t>((k - 5) / 100, few.size() - 1));
}

TEST(PgmModel, SizeIsSmallOnUniformKeys) {
  const std::vector<uint64_t> keys = make_keys<Int64Key>(Dist::kUniform, 1 << 20);
  const PgmModel m = PgmModel::build(keys, {.epsilon = 64});
  EXPECT_LE(m.max_error(), 64u);
  EXPECT_LE(m.size_bytes(), keys.size() * 8 / 1000);  // < 0.1% of the key bytes at 1M keys
  EXPECT_GE(m.height(), 2u);
}

}  // namespace
