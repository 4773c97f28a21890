// Batch codec against payloads it must refuse: another schema, another format version, and damage
// (deterministic seeds; run under ASan+UBSan by the project's test command). Bit flips, garbage
// runs, truncation, extension, insertion and deletion must be refused with a Status, or, if the
// payload came out byte-for-byte unchanged, decode to the original. A second pass re-seals the CRCs
// after each mutation, so the checks behind them (sizes, offsets, widths, indices, zstd frames)
// meet the damage too: those must never read out of bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>

#include "batch_test_util.h"
#include "util/crc32c.h"

namespace {

using namespace omen;
using omen::test::TestBatch;

// Payloads that between them use every encoding, NULL bitmaps, zstd frames and raw sections.
std::vector<std::pair<TestBatch, std::vector<uint8_t>>> corpus() {
  std::vector<std::pair<TestBatch, std::vector<uint8_t>>> out;
  for (int variant = 0; variant < 6; ++variant) {
    TestBatch b = test::time_series(variant == 5 ? 2 : 150, variant);
    if (variant % 2 == 1)
      for (auto& c : b.columns)
        c.set_nulls([&](size_t i, size_t rows) { return test::null_pattern(variant, i, rows); });
    BatchEncodeOptions o;
    o.zstd_level = variant == 2 ? 0 : 1;
    if (variant == 3) o.int64_encoding = Int64Encoding::kDictionary, o.bytes_encoding = BytesEncoding::kPlain;
    if (variant == 4)
      o.int64_encoding = Int64Encoding::kDelta, o.float64_encoding = Float64Encoding::kShuffle;
    if (variant == 0) o.float64_encoding = Float64Encoding::kXorShuffle;
    if (variant == 1) o.int64_encoding = Int64Encoding::kFrameOfReference, o.always_compress = true;
    std::vector<uint8_t> p = b.encode(o);
    out.emplace_back(std::move(b), std::move(p));
  }
  return out;
}

// One random mutation of p (it may, rarely, leave p unchanged).
void mutate(std::vector<uint8_t>* p, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); };
  switch (rng() % 7) {
    case 0:  // one bit
      if (!p->empty()) (*p)[pick(p->size())] ^= static_cast<uint8_t>(1u << (rng() % 8));
      break;
    case 1:  // a few bits anywhere
      for (int k = 1 + static_cast<int>(rng() % 8); k > 0 && !p->empty(); --k)
        (*p)[pick(p->size())] ^= static_cast<uint8_t>(1u << (rng() % 8));
      break;
    case 2: {  // a run of garbage
      size_t at = pick(p->size()), n = std::min(p->size() - at, 1 + pick(32));
      for (size_t i = 0; i < n; ++i) (*p)[at + i] = static_cast<uint8_t>(rng());
      break;
    }
    case 3:  // truncate
      p->resize(pick(p->size()));
      break;
    case 4:  // extend
      for (size_t n = 1 + pick(16); n > 0; --n) p->push_back(static_cast<uint8_t>(rng()));
      break;
    case 5: {  // insert bytes in the middle
      size_t at = pick(p->size() + 1);
      p->insert(p->begin() + static_cast<ptrdiff_t>(at), 1 + pick(8), static_cast<uint8_t>(rng()));
      break;
    }
    default: {  // delete a range
      size_t at = pick(p->size());
      p->erase(p->begin() + static_cast<ptrdiff_t>(at),
               p->begin() + static_cast<ptrdiff_t>(at + std::min(p->size() - at, 1 + pick(8))));
      break;
    }
  }
}

// Rewrites the payload size and every CRC the damaged header still locates (test-only; the format
// is in docs/format.md), so the decoder's structural checks are what stands between the damage and
// a read.
void reseal(std::vector<uint8_t>* p) {
  if (p->size() < 20) return;
  uint8_t* b = p->data();
  uint32_t size = static_cast<uint32_t>(p->size());
  std::memcpy(b + 12, &size, 4);
  uint16_t ncols;
  std::memcpy(&ncols, b + 6, 2);
  size_t header = 20 + size_t{16} * ncols, at = header;
  if (header > p->size()) return;
  for (size_t c = 0; c < ncols; ++c) {
    uint32_t stored;
    std::memcpy(&stored, b + 16 + 16 * c + 4, 4);
    if (stored > p->size() - at) break;
    uint32_t crc = detail::crc32c(b + at, stored);
    std::memcpy(b + 16 + 16 * c + 12, &crc, 4);
    at += stored;
  }
  uint32_t crc = detail::crc32c(b, header - 4);
  std::memcpy(b + header - 4, &crc, 4);
}

// Reads every value of every decoded column (ASan sees any view outside its buffer).
size_t touch(const DecodedBatch& d) {
  size_t sum = 0;
  for (const DecodedColumn& c : d.columns)
    for (size_t i = 0; i < d.rows; ++i) {
      sum += c.is_null(i);
      if (c.kind == ColumnKind::kInt64) sum += static_cast<size_t>(c.int64(i));
      if (c.kind == ColumnKind::kFloat64) sum += c.float64_bits(i);
      if (c.kind == ColumnKind::kBytes)
        sum += c.bytes(i).size() ? static_cast<uint8_t>(c.bytes(i).back()) : 0;
    }
  return sum;
}

TEST(BatchFuzz, SchemaMismatchAndForeignPayloadsAreRefused) {
  TestBatch b = test::time_series(10, 2);
  std::vector<uint8_t> p = b.encode();
  std::vector<ColumnKind> kinds = b.kinds();
  BatchReader reader;
  DecodedBatch d;
  kinds[2] = ColumnKind::kInt64;
  EXPECT_EQ(reader.open(p, kinds).code(), Status::Code::kCorruption);
  EXPECT_EQ(reader.decode(&d).code(), Status::Code::kInvalidArgument);  // closed after a failure
  kinds.pop_back();
  EXPECT_EQ(reader.open(p, kinds).code(), Status::Code::kCorruption);
  std::vector<uint8_t> v2 = p;
  v2[4] = 2;
  EXPECT_EQ(reader.open(v2, b.kinds()).code(), Status::Code::kNotSupported);
  std::vector<uint8_t> foreign = p;
  foreign[0] = 'X';
  EXPECT_EQ(reader.open(foreign, b.kinds()).code(), Status::Code::kCorruption);
  EXPECT_EQ(reader.open({}, {}).code(), Status::Code::kCorruption);
  ASSERT_TRUE(reader.open(p, b.kinds()).ok());
  EXPECT_TRUE(reader.decode(&d).ok());
}

// One-column payloads (zstd off, so the body starts at byte 36) with one field made inconsistent and
// the CRCs re-sealed: each body check must refuse its case by itself (a wrong value read inside
// the section is invisible to ASan).
TEST(BatchFuzz, InconsistentBodiesAreRefused) {
  struct Case {
    const char* name;
    TestBatch batch;
    BatchEncodeOptions options;
    std::function<void(std::vector<uint8_t>*)> patch;
    const char* message;
  };
  BatchEncodeOptions off, int_dict, bytes_dict, bytes_plain, decimal;
  off.zstd_level = int_dict.zstd_level = bytes_dict.zstd_level = bytes_plain.zstd_level = decimal.zstd_level =
      0;
  int_dict.int64_encoding = Int64Encoding::kDictionary;
  bytes_dict.bytes_encoding = BytesEncoding::kDictionary;
  bytes_plain.bytes_encoding = BytesEncoding::kPlain;
  decimal.float64_encoding = Float64Encoding::kDecimal;
  auto set = [](size_t at, uint8_t v) { return [=](std::vector<uint8_t>* p) { (*p)[at] = v; }; };
  auto one = [](test::TestColumn c) {
    TestBatch b;
    b.rows = static_cast<uint32_t>(c.rows);
    b.columns.push_back(std::move(c));
    return b;
  };
  Case cases[] = {
      // k:4 = 3 at 36, values at 40, index block: base at 64, width at 72, packed at 73.
      {"Int64 index >= k", one(test::int_column({1, 2, 3, 1})), int_dict, set(73, 0xFF),
       "index out of range"},
      {"Int64 k > rows", one(test::int_column({1, 2, 3, 1})), int_dict, set(37, 1), "truncated dictionary"},
      // k at 36, lengths block 40..48 (width 0), index block: base 49, width 57, packed at 58.
      {"Bytes index >= k", one(test::bytes_column({"a", "b", "c", "a"})), bytes_dict, set(58, 0xFF),
       "index out of range"},
      // Frame of reference: base at 36, width at 44.
      {"width > 64", one(test::int_column({5, 6})), off, set(44, 65), "truncated values"},
      // Lengths block: base 1 at 36 -> 2: the lengths exceed the data.
      {"lengths", one(test::bytes_column({"ab", "c"})), bytes_plain, set(36, 2), "do not match"},
      {"exponent > 18", one(test::float_column({1.5, 2.5})), decimal, set(36, 19), "decimal exponent"},
      {"trailing byte", one(test::int_column({7, 7})), off,
       [](std::vector<uint8_t>* p) {
         p->push_back(0);          // one byte after the constant's body
         (*p)[20] = (*p)[24] = 9;  // stored and raw sizes 8 -> 9
       },
       "trailing bytes"},
  };
  for (Case& c : cases) {
    std::vector<uint8_t> p = c.batch.encode(c.options);
    reseal(&p);
    ASSERT_TRUE(test::round_trips(c.batch, p)) << c.name << ": the layout is not what the case assumes";
    c.patch(&p);
    reseal(&p);
    DecodedBatch d;
    Status s = decode_batch(p, c.batch.kinds(), &d);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << c.name;
    EXPECT_NE(s.message().find(c.message), std::string::npos) << c.name << ": " << s.to_string();
  }
}

TEST(BatchFuzz, DamagedPayloadsAreRefused) {
  auto cases = corpus();
  BatchReader reader;
  DecodedBatch d;
  size_t refused = 0, unchanged = 0;
  for (uint64_t seed = 1; seed <= 10000; ++seed) {
    std::mt19937_64 rng(seed);
    const auto& [batch, original] = cases[seed % cases.size()];
    std::vector<uint8_t> p = original;
    for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k) mutate(&p, rng);
    BatchInfo info;
    const bool peeked = peek_batch(p, &info).ok();
    Status s = reader.open(p, batch.kinds());
    ASSERT_TRUE(peeked || !s.ok()) << "seed " << seed << ": open accepted what peek refused";
    if (s.ok()) s = reader.decode(&d);
    if (p == original) {
      unchanged++;
      ASSERT_TRUE(s.ok()) << "seed " << seed << ": " << s.to_string();
      ASSERT_TRUE(test::same_batch(batch, d)) << "seed " << seed;
      continue;
    }
    ASSERT_FALSE(s.ok()) << "seed " << seed << ": a damaged payload decoded";
    EXPECT_TRUE(s.code() == Status::Code::kCorruption || s.code() == Status::Code::kNotSupported)
        << s.to_string();
    refused++;
  }
  EXPECT_GT(refused, 9800u);
  EXPECT_LT(unchanged, 100u);
}

TEST(BatchFuzz, ResealedDamageNeverReadsOutOfBounds) {
  auto cases = corpus();
  BatchReader reader;
  DecodedBatch d;
  size_t decoded = 0, body_refusals = 0, total = 0;
  for (uint64_t seed = 1; seed <= 20000; ++seed) {
    std::mt19937_64 rng(seed * 7919);
    const auto& [batch, original] = cases[seed % cases.size()];
    std::vector<uint8_t> p = original;
    for (int k = 1 + static_cast<int>(rng() % 2); k > 0; --k) mutate(&p, rng);
    reseal(&p);
    total++;
    Status s = reader.open(p, batch.kinds());
    for (size_t c = 0; s.ok() && c < reader.columns(); ++c) {
      DecodedColumn col;
      Status one = reader.decode_column(c, &col);
      body_refusals += one.message().find("body") != std::string::npos;
    }
    if (s.ok()) s = reader.decode(&d);
    if (s.ok()) {
      decoded++;
      EXPECT_EQ(d.columns.size(), batch.columns.size());
      (void)touch(d);
    }
  }
  // The damage reached the body decoders (past every CRC) and some was refused there, while other
  // damage (e.g. in a value's bits) decodes to other values.
  EXPECT_GT(body_refusals, 300u);
  EXPECT_GT(decoded, 1000u);
  EXPECT_LT(decoded, total);
}

}  // namespace
