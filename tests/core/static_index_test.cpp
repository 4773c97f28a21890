// StaticLearnedIndex: exact lower_bound/find/batch answers over key types x error bounds.
#include "omen/static_index.h"

#include <gtest/gtest.h>

#include <random>

#include "test_data.h"

namespace {

using namespace omen;
using namespace omen::testing;

template <class K>
class StaticIndexTest : public ::testing::Test {};
using KeyTypes = ::testing::Types<Int16Key, Int32Key, Int64Key, Float4Key, Float8Key, DateKey, TimestampKey>;
TYPED_TEST_SUITE(StaticIndexTest, KeyTypes);

TYPED_TEST(StaticIndexTest, LowerBoundFindAndBatchAreExact) {
  for (Dist d : kAllDists) {
    for (uint32_t eps : {1u, 8u, 64u, 256u}) {
      SCOPED_TRACE(std::string(dist_name(d)) + " eps=" + std::to_string(eps));
      std::vector<uint64_t> keys = make_keys<TypeParam>(d, 3000);
      std::vector<uint64_t> pay(keys.size());
      for (size_t i = 0; i < pay.size(); ++i) pay[i] = i * 3;
      const std::vector<uint64_t> ref = keys;
      StaticLearnedIndex idx(std::move(keys), std::move(pay), {.epsilon = eps});
      const std::vector<uint64_t> q = queries_for(ref, 300);
      std::vector<size_t> batch(q.size());
      idx.lower_bound_batch(q, batch);
      for (size_t i = 0; i < q.size(); ++i) {
        const size_t lb = true_lower_bound(ref, q[i]);
        ASSERT_EQ(idx.lower_bound(q[i]), lb) << q[i];
        ASSERT_EQ(batch[i], lb) << q[i];
        const std::optional<uint64_t> f = idx.find(q[i]);
        if (lb < ref.size() && ref[lb] == q[i]) {
          ASSERT_EQ(f, std::optional<uint64_t>(lb * 3));  // the FIRST equal key's payload
        } else {
          ASSERT_FALSE(f.has_value());
        }
      }
    }
  }
}

TEST(StaticIndex, BothKernelsGiveTheSameAnswers) {
  std::vector<uint64_t> keys = raw_extreme_keys(20000);
  const std::vector<uint64_t> ref = keys;
  StaticLearnedIndex idx(std::move(keys), {}, {.epsilon = 64});
  for (uint64_t q : queries_for(ref, 2000)) {
    idx.set_kernel(SearchKernel::kScalar);
    const size_t a = idx.lower_bound(q);
    idx.set_kernel(best_search_kernel());
    ASSERT_EQ(a, idx.lower_bound(q));
    ASSERT_EQ(a, true_lower_bound(ref, q));
  }
}

// Arrays of kHugePageMinBytes or more are copied into huge-page memory; the views must survive
// the copy and moves of the index.
TEST(StaticIndex, LargeArraysInHugePageMemoryAnswersExactlyAfterMoves) {
  const size_t n = StaticLearnedIndex::kHugePageMinBytes / sizeof(uint64_t) + 1000;
  std::mt19937_64 rng(31);
  std::vector<uint64_t> keys(n), pay(n);
  for (auto& k : keys) k = rng();
  std::sort(keys.begin(), keys.end());
  for (size_t i = 0; i < n; ++i) pay[i] = ~keys[i];
  const std::vector<uint64_t> ref = keys;
  StaticLearnedIndex built(std::move(keys), std::move(pay), {.epsilon = 64});
  StaticLearnedIndex moved(std::move(built));
  StaticLearnedIndex idx({1}, {});
  idx = std::move(moved);
  ASSERT_EQ(idx.size(), n);
  for (size_t t = 0; t < 100000; ++t) {
    const uint64_t q = t % 2 ? ref[rng() % n] : rng();
    const size_t lb = true_lower_bound(ref, q);
    ASSERT_EQ(idx.lower_bound(q), lb);
    if (t % 2) {
      ASSERT_EQ(idx.find(q), std::optional<uint64_t>(~q));
    }
  }
}

TEST(StaticIndex, EmptyAndOneKeyAndNoPayloads) {
  StaticLearnedIndex empty({}, {});
  EXPECT_EQ(empty.lower_bound(0), 0u);
  EXPECT_EQ(empty.lower_bound(~uint64_t{0}), 0u);
  EXPECT_FALSE(empty.find(0).has_value());
  const std::vector<uint64_t> q = {0, 5, ~uint64_t{0}};
  std::vector<size_t> out(q.size(), 99);
  empty.lower_bound_batch(q, out);  // empty windows: nothing may be read
  EXPECT_EQ(out, std::vector<size_t>(q.size(), 0));
  StaticLearnedIndex one({42}, {});
  EXPECT_EQ(one.lower_bound(41), 0u);
  EXPECT_EQ(one.lower_bound(42), 0u);
  EXPECT_EQ(one.lower_bound(43), 1u);
  EXPECT_EQ(one.find(42), std::optional<uint64_t>(0));  // position when there are no payloads
  EXPECT_THROW(StaticLearnedIndex({1, 2}, {1}), std::invalid_argument);
}

}  // namespace
