// StaticLearnedIndex: exact lower_bound/find/batch answers over key types x error bounds.
#include "omen/static_index.h"

#include <gtest/gtest.h>

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

TEST(StaticIndex, EmptyAndOneKeyAndNoPayloads) {
  StaticLearnedIndex empty({}, {});
  EXPECT_EQ(empty.lower_bound(0), 0u);
  EXPECT_EQ(empty.lower_bound(~uint64_t{0}), 0u);
  EXPECT_FALSE(empty.find(0).has_value());
  StaticLearnedIndex one({42}, {});
  EXPECT_EQ(one.lower_bound(41), 0u);
  EXPECT_EQ(one.lower_bound(42), 0u);
  EXPECT_EQ(one.lower_bound(43), 1u);
  EXPECT_EQ(one.find(42), std::optional<uint64_t>(0));  // position when there are no payloads
  EXPECT_THROW(StaticLearnedIndex({1, 2}, {1}), std::invalid_argument);
}

}  // namespace
