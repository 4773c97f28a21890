// PgmModel::Builder (the streaming build): for every distribution, chunk size and batch size the
// model brackets std::lower_bound for every query; with one chunk it is the very fit of build();
// misuse throws.
#include "omen/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "test_data.h"

namespace {

using namespace omen;
using namespace omen::testing;

// Streams `keys` into a Builder in batches of `batch` keys.
PgmModel stream_build(const std::vector<uint64_t>& keys, ModelOptions opts, size_t chunk, size_t batch) {
  PgmModel::Builder b(keys.size(), opts, chunk);
  for (size_t i = 0; i < keys.size(); i += batch)
    b.add(std::span<const uint64_t>(keys.data() + i, std::min(batch, keys.size() - i)));
  return b.finish();
}

void expect_brackets(const std::vector<uint64_t>& keys, const PgmModel& m, uint32_t eps) {
  ASSERT_LE(m.max_error(), eps);
  ASSERT_EQ(m.key_count(), keys.size());
  for (uint64_t q : queries_for(keys)) {
    const SearchBound b = m.predict(q);
    const size_t lb = true_lower_bound(keys, q);
    ASSERT_TRUE(b.lo <= lb && lb <= b.hi && b.hi <= keys.size())
        << "key " << q << " lb " << lb << " got {" << b.pos << "," << b.lo << "," << b.hi << "}";
  }
}

TEST(PgmBuilder, EveryChunkSizeBracketsLowerBound) {
  for (Dist d : kAllDists) {
    const std::vector<uint64_t> keys = make_keys<Int64Key>(d, 5000);
    for (uint32_t eps : {1u, 16u, 64u}) {
      for (size_t chunk : {size_t{2}, size_t{3}, size_t{17}, size_t{1000}}) {
        SCOPED_TRACE(std::string(dist_name(d)) + " eps " + std::to_string(eps) + " chunk " +
                     std::to_string(chunk));
        expect_brackets(keys, stream_build(keys, {.epsilon = eps}, chunk, 333), eps);
      }
    }
  }
}

TEST(PgmBuilder, ExtremeKeysAndWideLayout) {
  const std::vector<uint64_t> keys = raw_extreme_keys(4000);
  for (bool wide : {false, true}) {
    const PgmModel m = stream_build(keys, {.epsilon = 8, .force_wide = wide}, 5, 7);
    EXPECT_EQ(m.is_wide(), wide);
    expect_brackets(keys, m, 8);
  }
}

// With every point in one chunk no piece is cut early: the fit is build()'s, segment by segment.
TEST(PgmBuilder, OneChunkIsTheBuildFit) {
  for (Dist d : kAllDists) {
    const std::vector<uint64_t> keys = make_keys<Int64Key>(d, 20000);
    const PgmModel whole = PgmModel::build(keys, {.epsilon = 32});
    const PgmModel streamed = stream_build(keys, {.epsilon = 32}, keys.size() * 2 + 2, 1000);
    ASSERT_EQ(streamed.segment_count(), whole.segment_count()) << dist_name(d);
    for (size_t i = 0; i < whole.segment_count(); ++i) {
      ASSERT_EQ(streamed.segments()[i].first_key, whole.segments()[i].first_key);
      ASSERT_EQ(streamed.segments()[i].slope, whole.segments()[i].slope);
      ASSERT_EQ(streamed.segments()[i].intercept, whole.segments()[i].intercept);
    }
    EXPECT_EQ(streamed.epsilon(), whole.epsilon());
  }
}

// Chunks cost at most one segment each; the batching of add() changes nothing.
TEST(PgmBuilder, ChunksAddFewSegmentsAndBatchesNone) {
  const std::vector<uint64_t> keys = make_keys<Int64Key>(Dist::kLognormal, 200000);
  const PgmModel whole = PgmModel::build(keys, {.epsilon = 64});
  const size_t chunk = 10000;
  const PgmModel a = stream_build(keys, {.epsilon = 64}, chunk, 1);
  const PgmModel b = stream_build(keys, {.epsilon = 64}, chunk, 4096);
  EXPECT_LE(a.segment_count(), whole.segment_count() + keys.size() / chunk + 1);
  ASSERT_EQ(a.segment_count(), b.segment_count());
  for (size_t i = 0; i < a.segment_count(); ++i)
    ASSERT_EQ(a.segments()[i].first_key, b.segments()[i].first_key);
  expect_brackets(keys, a, 64);
}

TEST(PgmBuilder, EmptyAndOneKey) {
  PgmModel::Builder empty(0, {}, 16);
  const PgmModel m0 = empty.finish();
  EXPECT_EQ(m0.segment_count(), 0u);
  EXPECT_EQ(m0.predict(42).hi, 0u);
  expect_brackets({7}, stream_build({7}, {.epsilon = 0}, 2, 1), 0);
}

TEST(PgmBuilder, MisuseThrows) {
  EXPECT_THROW(PgmModel::Builder(10, {}, 1), std::invalid_argument);
  PgmModel::Builder unordered(3, {}, 16);
  const uint64_t down[] = {5, 4};
  EXPECT_THROW(unordered.add(down), std::invalid_argument);
  PgmModel::Builder too_many(1, {}, 16);
  const uint64_t two[] = {1, 2};
  EXPECT_THROW(too_many.add(two), std::invalid_argument);
  PgmModel::Builder too_few(2, {}, 16);
  const uint64_t one[] = {1};
  too_few.add(one);
  EXPECT_THROW(too_few.finish(), std::invalid_argument);
}

}  // namespace
