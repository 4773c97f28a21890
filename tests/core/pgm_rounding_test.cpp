// PgmModel's compact pieces (float slope, integer intercept): rounding must never break the
// error bound. Data shaped to stress the rounding: very long pieces, steep and flat slopes, keys
// near 2^63 and 2^64, error bound 0, and the evaluator at the 2^31 layout boundary.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>

#include "omen/model.h"
#include "test_data.h"

namespace {

using namespace omen;
using omen::testing::true_lower_bound;

// Every stored key, its neighbours and random keys are bracketed; intercepts never decrease.
void expect_exact(const std::vector<uint64_t>& keys, const PgmModel& m, uint32_t eps) {
  ASSERT_LE(m.max_error(), eps);
  const auto segs = m.segments();
  for (size_t i = 1; i < segs.size(); ++i) ASSERT_LE(segs[i - 1].intercept, segs[i].intercept) << i;
  std::mt19937_64 rng(keys.size());
  const auto check = [&](uint64_t q) {
    const SearchBound b = m.predict(q);
    const size_t lb = true_lower_bound(keys, q);
    ASSERT_TRUE(b.lo <= lb && lb <= b.hi && b.hi <= keys.size()) << "key " << q << " lb " << lb;
  };
  for (size_t i = 0; i < keys.size(); i += 1 + keys.size() / 200000) {
    check(keys[i]);
    check(keys[i] - 1);
    check(keys[i] + 1);
    if (::testing::Test::HasFatalFailure()) return;
  }
  for (int i = 0; i < 20000; ++i) check(rng());
  check(0);
  check(std::numeric_limits<uint64_t>::max());
}

// One line over 3M keys: the float slope (24-bit mantissa) must still place the last keys within
// eps; at eps 0 any slope error of half a rank would show.
TEST(PgmRounding, LongPiecesWithAwkwardSlopes) {
  for (uint64_t step : {3u, 7u, 1000003u}) {
    std::vector<uint64_t> keys(3'000'000);
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = (uint64_t{1} << 62) + i * step;
    for (uint32_t eps : {0u, 1u, 64u}) {
      SCOPED_TRACE("step " + std::to_string(step) + " eps " + std::to_string(eps));
      expect_exact(keys, PgmModel::build(keys, {.epsilon = eps}), eps);
    }
  }
}

// Steep: thousands of ranks per key unit (runs of duplicates on consecutive keys). Flat: keys
// 2^58 apart, slopes near 2^-58.
TEST(PgmRounding, SteepAndFlatSlopes) {
  std::vector<uint64_t> steep;
  for (uint64_t k = 0; k < 300; ++k) steep.insert(steep.end(), 1000 + k % 7, (uint64_t{1} << 63) + k);
  std::vector<uint64_t> flat;
  for (uint64_t k = 0; k < 60; ++k) flat.push_back(k << 58 | k);
  std::vector<uint64_t> mixed = flat;
  mixed.insert(mixed.end(), steep.begin(), steep.end());
  std::sort(mixed.begin(), mixed.end());
  for (const auto* keys : {&steep, &flat, &mixed}) {
    for (uint32_t eps : {0u, 1u, 8u, 64u}) {
      SCOPED_TRACE(eps);
      expect_exact(*keys, PgmModel::build(*keys, {.epsilon = eps, .epsilon_internal = 1}), eps);
    }
  }
}

// Keys packed just below 2^64 and around 2^63, where key - first_key is the only conversion.
TEST(PgmRounding, KeysAtTheTopOfTheRange) {
  std::mt19937_64 rng(5);
  std::vector<uint64_t> keys;
  for (int i = 0; i < 200000; ++i) keys.push_back(std::numeric_limits<uint64_t>::max() - rng() % 5'000'000);
  for (int i = 0; i < 200000; ++i) keys.push_back((uint64_t{1} << 63) - 2'500'000 + rng() % 5'000'000);
  std::sort(keys.begin(), keys.end());
  for (uint32_t eps : {0u, 2u, 64u}) {
    SCOPED_TRACE(eps);
    expect_exact(keys, PgmModel::build(keys, {.epsilon = eps}), eps);
    expect_exact(keys, PgmModel::build(keys, {.epsilon = eps, .parallel = true}), eps);
  }
}

// The evaluator at the compact layout's limit: intercepts and clamps near 2^31 - 1 (no model of
// 2^31 keys can be built in a test), and negative intercepts, stay exact and monotone.
TEST(PgmRounding, EvaluatorNearTheCompactLimit) {
  constexpr int64_t kTop = int64_t{std::numeric_limits<int32_t>::max()};  // largest compact rank
  const PgmSegment s{uint64_t{1} << 63, 0.5f, static_cast<int32_t>(kTop - 1000)};
  EXPECT_EQ(detail::eval_pgm_segment(s, kTop, s.first_key), size_t(kTop - 1000));
  EXPECT_EQ(detail::eval_pgm_segment(s, kTop, s.first_key + 1), size_t(kTop - 999));  // .5 rounds up
  EXPECT_EQ(detail::eval_pgm_segment(s, kTop, s.first_key + 2), size_t(kTop - 999));
  EXPECT_EQ(detail::eval_pgm_segment(s, kTop, s.first_key + 3), size_t(kTop - 998));
  EXPECT_EQ(detail::eval_pgm_segment(s, kTop, s.first_key + 1998), size_t(kTop - 1));
  EXPECT_EQ(detail::eval_pgm_segment(s, kTop, s.first_key + 5000), size_t(kTop));  // clamped
  EXPECT_EQ(detail::eval_pgm_segment(s, kTop, std::numeric_limits<uint64_t>::max()), size_t(kTop));
  EXPECT_EQ(detail::eval_pgm_segment(s, kTop, 0), size_t(kTop - 1000));  // below first_key
  size_t prev = 0;
  for (uint64_t dx = 0; dx < 4000; ++dx) {
    const size_t v = detail::eval_pgm_segment(s, kTop, s.first_key + dx);
    ASSERT_GE(v, prev) << dx;
    ASSERT_LE(v, size_t(kTop));
    prev = v;
  }
  // A negative intercept (a piece at rank 0 whose line starts below it) never yields below 0.
  const PgmSegment low{100, 0.25f, -5};
  EXPECT_EQ(detail::eval_pgm_segment(low, 10, 100), 0u);
  EXPECT_EQ(detail::eval_pgm_segment(low, 10, 100 + 22), 1u);  // -5 + 5.5 rounds half up
  EXPECT_EQ(detail::eval_pgm_segment(low, 10, 100 + 1000), 10u);
  // The wide layout past 2^31.
  const WidePgmSegment w{7, 1.0, int64_t{1} << 40};
  EXPECT_EQ(detail::eval_pgm_segment(w, (int64_t{1} << 40) + 10, 7 + 3), (size_t{1} << 40) + 3);
  EXPECT_EQ(detail::eval_pgm_segment(w, (int64_t{1} << 40) + 10, 7 + 30), (size_t{1} << 40) + 10);
}

// The compact model is exact, as small as the optimal segmentation allows, and smaller than the
// wide one.
TEST(PgmRounding, CompactAndWideAgreeOnTheBound) {
  std::mt19937_64 rng(9);
  std::vector<uint64_t> keys(500000);
  for (auto& k : keys) k = rng();
  std::sort(keys.begin(), keys.end());
  const PgmModel c = PgmModel::build(keys, {.epsilon = 16});
  const PgmModel w = PgmModel::build(keys, {.epsilon = 16, .force_wide = true});
  EXPECT_FALSE(c.is_wide());
  EXPECT_TRUE(w.is_wide());
  expect_exact(keys, c, 16);
  EXPECT_LE(w.max_error(), 16u);
  // Both find the optimal number of pieces up to a few the rounding shortened.
  EXPECT_LE(c.segment_count(), w.segment_count() + w.segment_count() / 100 + 1);
  EXPECT_LT(c.segments().size_bytes() * 10, w.wide_segments().size_bytes() * 7);  // 16 B vs 24 B pieces
}

}  // namespace
