// Batch codec (omen/batch_codec.h): round trips of every kind and encoding, forced and chosen, with
// every NULL pattern and the edge values of each kind; the smallest encoding wins; regular data
// compresses; random access and column subsets; input limits. Damaged, foreign and mismatched
// payloads are in batch_fuzz_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>

#include "batch_test_util.h"
#include "util/crc32c.h"

namespace {

using namespace omen;
using omen::test::TestBatch;
using omen::test::TestColumn;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();

TestBatch one(TestColumn c) {
  TestBatch b;
  b.rows = static_cast<uint32_t>(c.rows);
  b.columns.push_back(std::move(c));
  return b;
}

BatchColumnInfo column_info(const std::vector<uint8_t>& payload, size_t c = 0) {
  BatchInfo info;
  EXPECT_TRUE(peek_batch(payload, &info).ok());
  return c < info.columns.size() ? info.columns[c] : BatchColumnInfo{};
}

// Round-trips b (one column) with each of its kind's n encodings forced through `field`, then
// chosen (e == n), at each zstd level; a forced encoding must be the one stored.
template <class E>
void round_trip_every_encoding(const TestBatch& b, uint8_t n, std::optional<E> BatchEncodeOptions::*field,
                               std::initializer_list<int> levels) {
  for (uint8_t e = 0; e <= n; ++e) {
    for (int level : levels) {
      BatchEncodeOptions o;
      if (e < n) o.*field = static_cast<E>(e);
      o.zstd_level = level;
      std::vector<uint8_t> p = b.encode(o);
      ASSERT_TRUE(test::round_trips(b, p)) << "encoding " << int(e) << " level " << level;
      if (e < n) {
        EXPECT_EQ(column_info(p).encoding, e);
      }
    }
  }
}

// Int64 data sets that stress each encoding, of n rows.
std::vector<std::vector<int64_t>> int64_sets(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<int64_t>> sets(6, std::vector<int64_t>(n));
  for (size_t i = 0; i < n; ++i) {
    sets[0][i] = static_cast<int64_t>(rng());                  // full range
    sets[1][i] = i % 3 == 0 ? kMin : (i % 3 == 1 ? kMax : 0);  // extremes: wrapping deltas
    sets[2][i] = 1000000 * static_cast<int64_t>(i) - 5;        // regular steps
    uint64_t prev = i ? static_cast<uint64_t>(sets[3][i - 1]) : uint64_t{kMax} - 100;
    sets[3][i] = static_cast<int64_t>(prev + rng() % 7 - 3);       // a walk that may wrap past INT64_MAX
    sets[4][i] = std::vector<int64_t>{kMin, 42, kMax}[rng() % 3];  // three values
    sets[5][i] = -7;                                               // constant
  }
  return sets;
}

TEST(BatchCodec, Crc32cKnownValueAndBothPaths) {
  EXPECT_EQ(detail::crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(detail::crc32c_portable("123456789", 9), 0xE3069283u);
  std::mt19937_64 rng(7);
  std::string s;
  for (size_t n = 0; n < 300; ++n, s.push_back(static_cast<char>(rng())))
    ASSERT_EQ(detail::crc32c(s), detail::crc32c_portable(s.data(), s.size())) << n;
}

TEST(BatchCodec, TimeSeriesRoundTripsAndCompresses) {
  TestBatch b = test::time_series(1000, 1);
  std::vector<uint8_t> p = b.encode();
  ASSERT_TRUE(test::round_trips(b, p));
  BatchInfo info;
  ASSERT_TRUE(peek_batch(p, &info).ok());
  ASSERT_EQ(info.rows, 1000u);
  // Timestamps at 1 s steps: one delta of zero width, a few bytes for 1000 rows.
  EXPECT_EQ(info.columns[0].encoding, static_cast<uint8_t>(Int64Encoding::kDelta));
  EXPECT_LE(info.columns[0].stored_bytes, 40u);
  // 64 devices: 6 bits a row at most.
  EXPECT_LE(info.columns[1].stored_bytes, 1000u * 6 / 8 + 16);
  // Temperatures with two decimals: integers of about 10 bits.
  EXPECT_EQ(info.columns[2].encoding, static_cast<uint8_t>(Float64Encoding::kDecimal));
  EXPECT_LE(info.columns[2].stored_bytes, 1300u);
  // Three statuses (ok, warn, error): a dictionary, 2-bit indices.
  EXPECT_EQ(info.columns[4].encoding, static_cast<uint8_t>(BytesEncoding::kDictionary));
  EXPECT_LE(info.columns[4].stored_bytes, 1000u * 2 / 8 + 40);
  // Raw input: 8 + 8 + 8 + 8 + ~3.4 bytes a row; the batch is a quarter of that (the random-walk
  // reading, full-precision, stays near 6 bytes a row).
  EXPECT_LT(p.size(), 1000u * 10);
}

TEST(BatchCodec, Int64EveryEncodingForcedRoundTrips) {
  const Int64Encoding all[] = {Int64Encoding::kConstant, Int64Encoding::kFrameOfReference,
                               Int64Encoding::kDelta, Int64Encoding::kDeltaOfDelta,
                               Int64Encoding::kDictionary};
  for (size_t n : {0, 1, 2, 3, 9, 1000}) {
    for (const auto& set : int64_sets(n, n)) {
      bool constant = std::all_of(set.begin(), set.end(), [&](int64_t v) { return v == set[0]; });
      for (Int64Encoding e : all) {
        for (int level : {0, 1}) {
          BatchEncodeOptions o;
          o.int64_encoding = e;
          o.zstd_level = level;
          TestBatch b = one(test::int_column(set));
          std::vector<uint8_t> p;
          Status s = BatchEncoder(o).encode(b.inputs(), b.rows, &p);
          if (e == Int64Encoding::kConstant && !constant) {
            EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
            continue;
          }
          ASSERT_TRUE(s.ok()) << s.to_string();
          EXPECT_EQ(column_info(p).encoding, static_cast<uint8_t>(e));
          ASSERT_TRUE(test::round_trips(b, p)) << "n=" << n << " encoding " << int(e);
        }
      }
    }
  }
}

// Without zstd, the chosen encoding's section is no larger than any forced encoding's.
TEST(BatchCodec, SmallestEncodingWins) {
  for (size_t n : {1, 2, 50, 1000}) {
    for (const auto& set : int64_sets(n, 3 + n)) {
      TestBatch b = one(test::int_column(set));
      BatchEncodeOptions o;
      o.zstd_level = 0;
      uint32_t chosen = column_info(b.encode(o)).raw_bytes;
      for (uint8_t e = 1; e <= 4; ++e) {
        o.int64_encoding = static_cast<Int64Encoding>(e);
        EXPECT_LE(chosen, column_info(b.encode(o)).raw_bytes) << "n=" << n << " encoding " << int(e);
      }
    }
  }
}

TEST(BatchCodec, Int64ChoosesTheFittingEncoding) {
  auto chosen = [](std::vector<int64_t> v) {
    return Int64Encoding(column_info(one(test::int_column(v)).encode()).encoding);
  };
  std::mt19937_64 rng(5);
  std::vector<int64_t> constant(1000, kMin), steps(1000), growing(1000), walk(1000), small(1000), few(1000);
  for (size_t i = 0; i < 1000; ++i) {
    steps[i] = 1700000000000000 + 60000000 * static_cast<int64_t>(i);
    growing[i] = 3 * static_cast<int64_t>(i * i) + static_cast<int64_t>(i % 2);  // deltas grow ~6 a row
    walk[i] = (i ? walk[i - 1] : int64_t{1} << 50) + static_cast<int64_t>(rng() % 9) - 4;
    small[i] = static_cast<int64_t>(rng() % 1000);
    few[i] = static_cast<int64_t>(rng() % 4) * 0x123456789ABCDLL;
  }
  EXPECT_EQ(chosen(constant), Int64Encoding::kConstant);
  EXPECT_EQ(chosen(steps), Int64Encoding::kDelta);  // a constant step packs to width 0
  EXPECT_EQ(chosen(growing), Int64Encoding::kDeltaOfDelta);
  EXPECT_EQ(chosen(walk), Int64Encoding::kDelta);
  EXPECT_EQ(chosen(small), Int64Encoding::kFrameOfReference);
  EXPECT_EQ(chosen(few), Int64Encoding::kDictionary);
  // A regular timestamp column: far fewer than 8 bytes a row.
  EXPECT_LT(column_info(one(test::int_column(steps)).encode()).stored_bytes, 1000u / 20);
}

std::vector<double> float_edges() {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> v = {0.0,
                           -0.0,
                           inf,
                           -inf,
                           std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::denorm_min(),
                           -std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::max(),
                           1.5,
                           -2.25};
  for (uint64_t payload : {uint64_t{1}, uint64_t{0xDEADBEEF}, (uint64_t{1} << 51) - 1})
    v.push_back(test::double_of(0x7FF0000000000000ull | payload)),      // signalling NaN with a payload
        v.push_back(test::double_of(0xFFF8000000000000ull | payload));  // negative quiet NaN
  return v;
}

TEST(BatchCodec, Float64EdgeValuesAreBitExact) {
  std::vector<double> edges = float_edges(), many;
  for (int r = 0; r < 50; ++r) many.insert(many.end(), edges.begin(), edges.end());
  for (const auto& set : {edges, many}) {
    TestBatch b = one(test::float_column(set));
    round_trip_every_encoding(b, 3, &BatchEncodeOptions::float64_encoding, {0, 1, 19});  // all but decimal
    BatchEncodeOptions decimal;
    decimal.float64_encoding = Float64Encoding::kDecimal;
    std::vector<uint8_t> p;
    EXPECT_EQ(BatchEncoder(decimal).encode(b.inputs(), b.rows, &p).code(), Status::Code::kInvalidArgument);
  }
}

// Values that are n / 10^e: the decimal encoding is exact, chosen, and far below 8 bytes a row.
TEST(BatchCodec, Float64DecimalValues) {
  std::mt19937_64 rng(17);
  std::vector<std::vector<double>> sets(4);
  for (int i = 0; i < 1000; ++i) {
    sets[0].push_back(static_cast<double>(static_cast<int64_t>(rng() % 200001) - 100000) / 100);  // prices
    sets[1].push_back(static_cast<double>(rng() % 1000));                                         // integers
    sets[2].push_back(static_cast<double>(rng() % 1000) / 1e18);                                  // e = 18
    sets[3].push_back(i % 2 ? 0.5 : 123456.789);                                                  // e = 3
  }
  for (const auto& set : sets) {
    for (int forced : {0, 1}) {
      BatchEncodeOptions o;
      if (forced) o.float64_encoding = Float64Encoding::kDecimal;
      TestBatch b = one(test::float_column(set));
      std::vector<uint8_t> p = b.encode(o);
      ASSERT_TRUE(test::round_trips(b, p));
      EXPECT_EQ(column_info(p).encoding, uint8_t(Float64Encoding::kDecimal));
      EXPECT_LT(column_info(p).stored_bytes, 3 * 1000u);  // under 3 bytes a row
    }
  }
  sets[0][500] = 0.1 + 0.2;  // 0.30000000000000004: 17 significant digits, no exponent <= 18 holds it
  BatchEncodeOptions o;
  o.float64_encoding = Float64Encoding::kDecimal;
  std::vector<uint8_t> p;
  EXPECT_EQ(BatchEncoder(o).encode(one(test::float_column(sets[0])).inputs(), 1000, &p).code(),
            Status::Code::kInvalidArgument);
}

TEST(BatchCodec, Float64CompressesRegularValuesOnly) {
  std::mt19937_64 rng(9);
  std::vector<double> slow(1000), noise(1000);
  for (size_t i = 0; i < 1000; ++i) {
    slow[i] = static_cast<double>(i / 100 + 1) / 3e4;  // ten plateaus of values with no short decimal form
    noise[i] = test::double_of(rng());
  }
  BatchColumnInfo s = column_info(one(test::float_column(slow)).encode());
  EXPECT_TRUE(s.compressed);
  EXPECT_NE(s.encoding, uint8_t(Float64Encoding::kDecimal));
  EXPECT_LT(s.stored_bytes, 1000u);  // under a byte a row
  BatchColumnInfo n = column_info(one(test::float_column(noise)).encode());
  EXPECT_FALSE(n.compressed);  // random bits do not pay for zstd
  EXPECT_EQ(n.encoding, static_cast<uint8_t>(Float64Encoding::kRaw));
  EXPECT_EQ(n.stored_bytes, 8000u);
}

TEST(BatchCodec, BytesEdgeValuesEveryEncoding) {
  std::string nul("a\0b\0", 4), longest(300000, 'x');
  longest[12345] = '\xff';
  std::vector<std::string> v = {"", "", "x", nul, longest, "", std::string(1, '\0'), longest, "tail"};
  round_trip_every_encoding(one(test::bytes_column(v)), 2, &BatchEncodeOptions::bytes_encoding, {0, 1});
  std::vector<std::string> unique, repeated;
  for (int i = 0; i < 1000; ++i) unique.push_back("user-" + std::to_string(i * 7919));
  for (int i = 0; i < 1000; ++i) repeated.push_back(i % 3 ? "Sao Paulo" : "Reykjavik");
  BatchEncodeOptions raw;
  raw.zstd_level = 0;
  EXPECT_EQ(column_info(one(test::bytes_column(unique)).encode(raw)).encoding,
            uint8_t(BytesEncoding::kPlain));
  BatchColumnInfo r = column_info(one(test::bytes_column(repeated)).encode(raw));
  EXPECT_EQ(r.encoding, uint8_t(BytesEncoding::kDictionary));
  EXPECT_LT(r.raw_bytes, 1000u / 4 + 64);  // 1 bit a row, two entries
}

TEST(BatchCodec, NullPatternsEveryKind) {
  for (uint32_t n : {1u, 2u, 9u, 64u, 1000u}) {
    for (int pattern = 0; pattern < test::kNullPatterns; ++pattern) {
      TestBatch b = test::time_series(n, pattern);
      for (auto& c : b.columns)
        c.set_nulls([&](size_t i, size_t rows) { return test::null_pattern(pattern, i, rows); });
      std::vector<uint8_t> p = b.encode();
      ASSERT_TRUE(test::round_trips(b, p)) << "rows " << n << " pattern " << pattern;
      bool any = pattern != 0 && !(pattern == 2 && n == 1);
      EXPECT_EQ(column_info(p, 2).has_nulls, any) << "rows " << n << " pattern " << pattern;
    }
  }
}

TEST(BatchCodec, ZeroOneAndMaxRowsAndZeroColumns) {
  for (uint32_t n : {0u, 1u, kBatchMaxRows})
    ASSERT_TRUE(test::round_trips(test::time_series(n, n), test::time_series(n, n).encode()));
  TestBatch empty;
  empty.rows = 77;
  std::vector<uint8_t> p = empty.encode();
  EXPECT_EQ(p.size(), 20u);  // just the header
  DecodedBatch d;
  ASSERT_TRUE(decode_batch(p, {}, &d).ok());
  EXPECT_EQ(d.rows, 77u);
  EXPECT_TRUE(d.columns.empty());
}

TEST(BatchCodec, ColumnLimit) {
  TestBatch wide;
  wide.rows = 3;
  for (uint32_t c = 0; c < kBatchMaxColumns; ++c)
    wide.columns.push_back(c % 2 ? test::int_column({c, 0, -1})
                                 : test::bytes_column({"a", "", std::to_string(c)}));
  ASSERT_TRUE(test::round_trips(wide, wide.encode()));
  wide.columns.push_back(test::int_column({1, 2, 3}));
  std::vector<uint8_t> p;
  EXPECT_EQ(BatchEncoder().encode(wide.inputs(), 3, &p).code(), Status::Code::kInvalidArgument);
}

TEST(BatchCodec, InvalidInputIsRefused) {
  std::vector<uint8_t> p;
  BatchEncoder enc;
  std::vector<int64_t> three = {1, 2, 3};
  bool two_flags[] = {false, true};
  auto refused = [&](std::vector<ColumnInput> in, uint32_t rows) {
    return enc.encode(in, rows, &p).code() == Status::Code::kInvalidArgument;
  };
  EXPECT_TRUE(refused({}, kBatchMaxRows + 1));
  EXPECT_TRUE(refused({ColumnInput::int64(three)}, 4));
  EXPECT_TRUE(refused({ColumnInput::int64(three, two_flags)}, 3));
  EXPECT_TRUE(refused({ColumnInput::float64({}, {})}, 3));  // kind and span disagree
  ColumnInput bad = ColumnInput::int64(three);
  bad.kind = static_cast<ColumnKind>(9);
  EXPECT_TRUE(refused({bad}, 3));
  const ColumnInput good[] = {ColumnInput::int64(three)};
  EXPECT_TRUE(enc.encode(good, 3, &p).ok());  // the encoder still works
}

TEST(BatchCodec, RandomAccessMatchesInput) {
  TestBatch b = test::time_series(5000, 11);
  b.columns[3].set_nulls([](size_t i, size_t) { return i % 7 == 3; });
  std::vector<uint8_t> p = b.encode();
  BatchReader reader;
  ASSERT_TRUE(reader.open(p, b.kinds()).ok());
  DecodedBatch d;
  ASSERT_TRUE(reader.decode(&d).ok());
  std::mt19937_64 rng(12);
  for (int k = 0; k < 20000; ++k) {
    size_t row = rng() % b.rows, col = rng() % b.columns.size();
    const TestColumn& want = b.columns[col];
    ASSERT_EQ(d.is_null(row, col), want.is_null(row));
    if (want.is_null(row)) continue;
    switch (want.kind) {
      case ColumnKind::kInt64:
        ASSERT_EQ(d.int64(row, col), want.ints[row]);
        break;
      case ColumnKind::kFloat64:
        ASSERT_EQ(test::bits_of(d.float64(row, col)), test::bits_of(want.floats[row]));
        break;
      case ColumnKind::kBytes:
        ASSERT_EQ(d.bytes(row, col), want.views[row]);
        break;
    }
  }
}

// A projection reads only its columns: it succeeds although another column's section is damaged.
TEST(BatchCodec, ColumnSubsetDecodesAlone) {
  TestBatch b = test::time_series(1000, 13);
  std::vector<uint8_t> p = b.encode();
  BatchInfo info;
  ASSERT_TRUE(peek_batch(p, &info).ok());
  p[batch_section_end(info, 0)] ^= 0x10;  // first byte of column 1's section
  BatchReader reader;
  ASSERT_TRUE(reader.open(p, b.kinds()).ok());  // the header is intact
  DecodedBatch d;
  const uint32_t wanted[] = {4, 0, 4};
  ASSERT_TRUE(reader.decode(wanted, &d).ok());
  EXPECT_TRUE(test::same_column(b.columns[0], d.columns[0], 0));
  EXPECT_TRUE(test::same_column(b.columns[4], d.columns[4], 4));
  EXPECT_FALSE(d.columns[1].present || d.columns[2].present || d.columns[3].present);
  EXPECT_EQ(reader.decode_column(1, &d.columns[1]).code(), Status::Code::kCorruption);
  EXPECT_EQ(reader.decode(&d).code(), Status::Code::kCorruption);
  const uint32_t outside[] = {5};
  EXPECT_EQ(reader.decode(outside, &d).code(), Status::Code::kInvalidArgument);
}

// A reader of a stored value peeks at its first bytes and reads only up to the end of the last
// section it decodes: every column up to that one decodes from those bytes (the rest zeroed).
TEST(BatchCodec, HeaderFromPrefixSaysWhereSectionsEnd) {
  TestBatch b = test::time_series(1000, 17);
  std::vector<uint8_t> p = b.encode();
  BatchInfo whole, part;
  ASSERT_TRUE(peek_batch(p, &whole).ok());
  const size_t header = batch_section_end(whole, 0) - whole.columns[0].stored_bytes;
  for (size_t got = 0; got <= header + 3; ++got) {
    Status s = peek_batch_prefix(std::span(p).first(got), p.size(), &part);
    ASSERT_EQ(s.ok(), got >= header) << got << ": " << s.to_string();
    if (!s.ok()) {
      EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.to_string();
    }
  }
  ASSERT_TRUE(peek_batch_prefix(std::span(p).first(header), p.size(), &part).ok());
  ASSERT_EQ(part.columns.size(), whole.columns.size());
  EXPECT_EQ(batch_section_end(part, part.columns.size() - 1), p.size());
  for (size_t c = 0; c < part.columns.size(); ++c) {
    EXPECT_EQ(part.columns[c].stored_bytes, whole.columns[c].stored_bytes);
    std::vector<uint8_t> cut = p;
    std::fill(cut.begin() + static_cast<ptrdiff_t>(batch_section_end(part, c)), cut.end(), 0);
    BatchReader reader;
    ASSERT_TRUE(reader.open(cut, b.kinds()).ok());
    for (size_t k = 0; k < part.columns.size(); ++k) {
      DecodedColumn col;
      Status s = reader.decode_column(k, &col);
      ASSERT_EQ(s.ok(), k <= c) << c << " " << k;
      if (s.ok()) {
        EXPECT_TRUE(test::same_column(b.columns[k], col, k));
      }
    }
  }
  // A declared size that disagrees with the header, or a damaged header, is refused.
  for (size_t n : {p.size() - 1, p.size() + 1})
    EXPECT_EQ(peek_batch_prefix(std::span(p).first(header), n, &part).code(), Status::Code::kCorruption);
  p[9] ^= 1;  // the row count
  EXPECT_EQ(peek_batch_prefix(std::span(p).first(header), p.size(), &part).code(), Status::Code::kCorruption);
}

TEST(BatchCodec, ReaderAndDecodedBatchAreReusable) {
  BatchReader reader;
  DecodedBatch d;
  for (uint32_t n : {1000u, 3u, 0u, 200u}) {
    TestBatch b = test::time_series(n, n + 40);
    if (n == 3) b.columns[4].set_nulls([](size_t i, size_t) { return i == 1; });
    std::vector<uint8_t> p = b.encode();
    ASSERT_TRUE(reader.open(p, b.kinds()).ok());
    ASSERT_TRUE(reader.decode(&d).ok());
    ASSERT_TRUE(test::same_batch(b, d)) << n;
  }
}

TEST(BatchCodec, ZstdLevels) {
  TestBatch b = test::time_series(1000, 21);
  for (int level : {-5, 1, 3, 19}) {
    BatchEncodeOptions o;
    o.zstd_level = level;
    ASSERT_TRUE(test::round_trips(b, b.encode(o))) << level;
  }
  BatchEncodeOptions off, always;
  off.zstd_level = 0;
  always.always_compress = true;
  BatchInfo info;
  ASSERT_TRUE(peek_batch(b.encode(off), &info).ok());
  for (const auto& c : info.columns) EXPECT_FALSE(c.compressed);
  std::vector<uint8_t> p = b.encode(always);
  ASSERT_TRUE(peek_batch(p, &info).ok());
  for (const auto& c : info.columns) EXPECT_TRUE(c.compressed);
  EXPECT_TRUE(test::round_trips(b, p));
}

}  // namespace
