// Compaction of a batch: marked rows become NULL where that makes a column smaller, keep their row
// numbers, and never make the batch larger; every other row decodes as before.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "batch_test_util.h"
#include "omen/batch_codec.h"

namespace omen {
namespace {

using test::TestBatch;

DecodedBatch decoded(const TestBatch& b, const std::vector<uint8_t>& payload) {
  DecodedBatch d;
  Status s = decode_batch(payload, b.kinds(), &d);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return d;
}

bool is_marked(const std::vector<uint8_t>& bits, size_t row) {
  return row / 8 < bits.size() && ((bits[row / 8] >> (row % 8)) & 1);
}

// Every unmarked row of `got` is as in `want`; a marked row is either as in `want` or NULL, the same
// in every row of a column (a column keeps its marked values, or drops them all).
::testing::AssertionResult compacted_from(const TestBatch& want, const std::vector<uint8_t>& bits,
                                          const DecodedBatch& got, std::vector<bool>* dropped) {
  if (got.rows != want.rows || got.columns.size() != want.columns.size())
    return ::testing::AssertionFailure() << "shape differs";
  dropped->assign(want.columns.size(), false);
  for (size_t c = 0; c < want.columns.size(); ++c) {
    const test::TestColumn& w = want.columns[c];
    const DecodedColumn& g = got.columns[c];
    int mode = -1;  // 0: marked rows kept, 1: dropped
    for (size_t i = 0; i < want.rows; ++i) {
      bool same_null = g.is_null(i) == w.is_null(i);
      bool same = same_null && (w.is_null(i) || (w.kind == ColumnKind::kInt64 ? g.int64(i) == w.ints[i]
                                                 : w.kind == ColumnKind::kFloat64
                                                     ? g.float64_bits(i) == test::bits_of(w.floats[i])
                                                     : g.bytes(i) == w.views[i]));
      if (!is_marked(bits, i)) {
        if (!same)
          return ::testing::AssertionFailure() << "column " << c << " unmarked row " << i << " changed";
        continue;
      }
      if (w.is_null(i)) {
        if (!g.is_null(i))
          return ::testing::AssertionFailure() << "column " << c << " row " << i << ": NULL lost";
        continue;
      }
      int m = g.is_null(i) ? 1 : 0;
      if (m == 0 && !same)
        return ::testing::AssertionFailure() << "column " << c << " marked row " << i << " changed";
      if (mode >= 0 && m != mode)
        return ::testing::AssertionFailure() << "column " << c << " mixes kept and dropped rows";
      mode = m;
    }
    (*dropped)[c] = mode == 1;
  }
  return ::testing::AssertionSuccess();
}

uint32_t marked_with_values(const TestBatch& b, const std::vector<uint8_t>& bits) {
  uint32_t n = 0;
  for (size_t i = 0; i < b.rows; ++i) {
    if (!is_marked(bits, i)) continue;
    bool any = false;
    for (const test::TestColumn& c : b.columns) any = any || !c.is_null(i);
    n += any;
  }
  return n;
}

TEST(BatchCompact, MarkedRowsDroppedPerColumnOthersStay) {
  std::mt19937_64 rng(11);
  for (uint32_t n : {1u, 9u, 1000u, 4656u}) {
    for (int pattern = 0; pattern < test::kNullPatterns; ++pattern) {
      TestBatch b = test::time_series(n, pattern);
      for (auto& c : b.columns)
        c.set_nulls([&](size_t i, size_t rows) { return test::null_pattern(pattern, i, rows); });
      std::vector<uint8_t> payload = b.encode();
      DecodedBatch d = decoded(b, payload);
      // Marks: none, all, every third, the first and last, a random half, and a span shorter
      // than the batch (the rows past it unmarked).
      std::vector<std::vector<uint8_t>> marks;
      size_t len = (n + 7) / 8;
      marks.emplace_back(len, 0);
      marks.emplace_back(len, 0xFF);
      marks.emplace_back(len, 0);
      for (size_t i = 0; i < n; i += 3) marks.back()[i / 8] |= 1 << (i % 8);
      marks.emplace_back(len, 0);
      marks.back()[0] |= 1;
      marks.back()[(n - 1) / 8] |= 1 << ((n - 1) % 8);
      marks.emplace_back(len, 0);
      for (size_t i = 0; i < n; ++i)
        if (rng() % 2) marks.back()[i / 8] |= 1 << (i % 8);
      marks.emplace_back(len / 2, 0xFF);
      for (const std::vector<uint8_t>& bits : marks) {
        SCOPED_TRACE(testing::Message()
                     << "rows " << n << " pattern " << pattern << " marks " << bits.size());
        ASSERT_EQ(batch_rows_with_values(d, bits), marked_with_values(b, bits));
        BatchEncoder enc;
        std::vector<uint8_t> out;
        Status s = encode_without_rows(enc, d, bits, &out);
        ASSERT_TRUE(s.ok()) << s.to_string();
        std::vector<bool> dropped;
        ASSERT_TRUE(compacted_from(b, bits, decoded(b, out), &dropped));
        EXPECT_LE(out.size(), payload.size());
      }
    }
  }
}

TEST(BatchCompact, TextValuesGoRegularSequencesStay) {
  // Distinct 32-byte texts (plain Bytes: each value stored), a timestamp-like sequence at regular
  // steps (delta of delta: a NULL filled from its neighbour would break it) and random floats.
  const uint32_t n = 4656;
  std::vector<std::string> text;
  std::vector<int64_t> ts;
  std::vector<double> v;
  std::mt19937_64 rng(5);
  for (uint32_t i = 0; i < n; ++i) {
    std::string t(32, ' ');
    for (char& ch : t) ch = static_cast<char>('a' + rng() % 26);
    text.push_back(t);
    ts.push_back(1'600'000'000'000'000 + 1'000'000 * static_cast<int64_t>(i));
    v.push_back(static_cast<double>(rng() % 1000000) / 7.0);
  }
  TestBatch b;
  b.rows = n;
  b.columns.push_back(test::bytes_column(text));
  b.columns.push_back(test::int_column(ts));
  b.columns.push_back(test::float_column(v));
  std::vector<uint8_t> payload = b.encode();
  DecodedBatch d = decoded(b, payload);
  std::vector<uint8_t> half((n + 7) / 8, 0);
  for (size_t i = 0; i < n; i += 2) half[i / 8] |= 1 << (i % 8);
  BatchEncoder enc;
  std::vector<uint8_t> h;
  ASSERT_TRUE(encode_without_rows(enc, d, half, &h).ok());
  std::vector<bool> dropped;
  ASSERT_TRUE(compacted_from(b, half, decoded(b, h), &dropped));
  EXPECT_TRUE(dropped[0]) << "the text values of deleted rows are dropped";
  EXPECT_FALSE(dropped[1]) << "the regular sequence keeps its values";
  BatchInfo before, after;
  ASSERT_TRUE(peek_batch(payload, &before).ok());
  ASSERT_TRUE(peek_batch(h, &after).ok());
  EXPECT_LT(after.columns[0].stored_bytes, before.columns[0].stored_bytes * 6 / 10);
  EXPECT_EQ(after.columns[1].stored_bytes, before.columns[1].stored_bytes);
  EXPECT_LT(h.size(), payload.size());
}

TEST(BatchCompact, EveryColumnMustBeDecoded) {
  TestBatch b = test::time_series(100, 0);
  std::vector<uint8_t> payload = b.encode();
  DecodedBatch d;
  BatchReader r;
  ASSERT_TRUE(r.open(payload, b.kinds()).ok());
  std::vector<uint32_t> first{0};
  ASSERT_TRUE(r.decode(first, &d).ok());
  BatchEncoder enc;
  std::vector<uint8_t> out;
  std::vector<uint8_t> bits(13, 0);
  EXPECT_EQ(encode_without_rows(enc, d, bits, &out).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace omen
