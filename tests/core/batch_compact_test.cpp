// Compaction of a batch: marked rows become NULL in every column, keep their row numbers, and stop
// costing their values' bytes; every other row decodes as before.
#include <gtest/gtest.h>

#include <random>
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

// The input with the marked rows NULL in every column.
TestBatch without(const TestBatch& b, const std::vector<uint8_t>& bits) {
  TestBatch w;
  w.rows = b.rows;
  for (const test::TestColumn& c : b.columns) {
    test::TestColumn& x = w.columns.emplace_back();
    x.kind = c.kind;
    x.rows = c.rows;
    x.ints = c.ints;
    x.floats = c.floats;
    x.strings = c.strings;
    x.views.assign(x.strings.begin(), x.strings.end());
    x.set_nulls([&](size_t i, size_t) { return c.is_null(i) || is_marked(bits, i); });
  }
  return w;
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

TEST(BatchCompact, MarkedRowsBecomeNullOthersStay) {
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
        TestBatch want = without(b, bits);
        ASSERT_TRUE(test::round_trips(want, out));
        EXPECT_EQ(batch_rows_with_values(decoded(want, out), bits), 0u);
        if (marked_with_values(b, bits) == 0) {
          EXPECT_LE(out.size(), payload.size() + 16 * b.columns.size());
        }
      }
    }
  }
}

TEST(BatchCompact, DeletedHalfTakesAboutHalfTheBytes) {
  TestBatch b = test::time_series(4656, 0);
  std::vector<uint8_t> payload = b.encode();
  DecodedBatch d = decoded(b, payload);
  std::vector<uint8_t> half(4656 / 8, 0), all(4656 / 8, 0xFF);
  for (size_t i = 0; i < 4656; i += 2) half[i / 8] |= 1 << (i % 8);
  BatchEncoder enc;
  std::vector<uint8_t> h, a;
  ASSERT_TRUE(encode_without_rows(enc, d, half, &h).ok());
  ASSERT_TRUE(encode_without_rows(enc, d, all, &a).ok());
  EXPECT_LT(h.size(), payload.size() * 3 / 4) << payload.size();
  EXPECT_LT(a.size(), payload.size() / 10) << payload.size();
  EXPECT_TRUE(test::round_trips(without(b, half), h));
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
