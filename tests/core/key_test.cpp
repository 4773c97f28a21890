// Key encodings: encode order must equal Postgres comparison order on edge values and random pairs.
#include "omen/key.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

using omen::key::from_float4;
using omen::key::from_float8;
using omen::key::from_int16;
using omen::key::from_int32;
using omen::key::from_int64;

// Postgres' float8 comparison (float8_cmp_internal): NaN equal to NaN and above everything.
int pg_float_cmp(double a, double b) {
  if (std::isnan(a)) return std::isnan(b) ? 0 : 1;
  if (std::isnan(b)) return -1;
  return a < b ? -1 : (a > b ? 1 : 0);
}
int u64_cmp(uint64_t a, uint64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

template <typename T>
int int_cmp(T a, T b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

std::vector<double> float_edges() {
  const double inf = std::numeric_limits<double>::infinity();
  return {-inf,
          std::numeric_limits<double>::lowest(),
          -1e300,
          -1.0,
          -std::numeric_limits<double>::min(),
          -std::numeric_limits<double>::denorm_min(),
          -0.0,
          0.0,
          std::numeric_limits<double>::denorm_min(),
          std::numeric_limits<double>::min(),
          1.0,
          1e300,
          std::numeric_limits<double>::max(),
          inf,
          std::numeric_limits<double>::quiet_NaN(),
          -std::numeric_limits<double>::quiet_NaN(),
          std::numeric_limits<double>::signaling_NaN()};
}

TEST(KeyFloat8, EdgeValuesOrderLikePostgres) {
  auto v = float_edges();
  for (double a : v)
    for (double b : v)
      EXPECT_EQ(pg_float_cmp(a, b), u64_cmp(from_float8(a), from_float8(b))) << a << " vs " << b;
}

TEST(KeyFloat8, MinusZeroEqualsZeroAndNaNsAreEqual) {
  EXPECT_EQ(from_float8(-0.0), from_float8(0.0));
  EXPECT_EQ(from_float8(std::nan("1")), from_float8(-std::nan("2")));
  EXPECT_LT(from_float8(std::numeric_limits<double>::infinity()), from_float8(std::nan("")));
}

TEST(KeyFloat8, RoundTrips) {
  for (double a : float_edges()) {
    double b = omen::key::to_float8(from_float8(a));
    if (std::isnan(a))
      EXPECT_TRUE(std::isnan(b));
    else
      EXPECT_EQ(a, b);
  }
}

TEST(KeyFloat8, RandomPairsOrderLikePostgres) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 200000; ++i) {
    uint64_t ba = rng(), bb = (i % 3 == 0) ? ba + (rng() % 5) - 2 : rng();
    double a, b;
    std::memcpy(&a, &ba, 8);
    std::memcpy(&b, &bb, 8);
    ASSERT_EQ(pg_float_cmp(a, b), u64_cmp(from_float8(a), from_float8(b))) << ba << " " << bb;
  }
}

TEST(KeyFloat4, RandomPairsOrderLikePostgres) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    uint32_t ba = rng(), bb = rng();
    float a, b;
    std::memcpy(&a, &ba, 4);
    std::memcpy(&b, &bb, 4);
    ASSERT_EQ(pg_float_cmp(a, b), u64_cmp(from_float4(a), from_float4(b)));
  }
  EXPECT_EQ(from_float4(1.5f), from_float8(1.5));
}

TEST(KeyInt, EdgeValuesAndRandomPairs) {
  std::vector<int64_t> e = {std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::min() + 1,
                            std::numeric_limits<int32_t>::min(),
                            -1,
                            0,
                            1,
                            std::numeric_limits<int32_t>::max(),
                            std::numeric_limits<int64_t>::max() - 1,
                            std::numeric_limits<int64_t>::max()};
  for (int64_t a : e)
    for (int64_t b : e) EXPECT_EQ(int_cmp(a, b), u64_cmp(from_int64(a), from_int64(b)));
  std::mt19937_64 rng(1);
  for (int i = 0; i < 100000; ++i) {
    int64_t a = static_cast<int64_t>(rng()), b = static_cast<int64_t>(rng());
    ASSERT_EQ(int_cmp(a, b), u64_cmp(from_int64(a), from_int64(b)));
    int32_t c = static_cast<int32_t>(a), d = static_cast<int32_t>(b);
    ASSERT_EQ(int_cmp(c, d), u64_cmp(from_int32(c), from_int32(d)));
    int16_t f = static_cast<int16_t>(a), g = static_cast<int16_t>(b);
    ASSERT_EQ(int_cmp(f, g), u64_cmp(from_int16(f), from_int16(g)));
  }
  EXPECT_EQ(omen::key::from_date(std::numeric_limits<int32_t>::max()),
            from_int64(std::numeric_limits<int32_t>::max()));
}

// uuid's key: its first 8 bytes, big-endian. Bytewise (memcmp) order of the 16 bytes gives the
// keys' order or equal keys, never the reverse; keys differ exactly when the first 8 bytes do.
TEST(KeyPrefix, OrderFollowsBytesAndTiesShareTheFirstEightBytes) {
  unsigned char lo[16] = {}, hi[16];
  std::memset(hi, 0xFF, sizeof hi);
  EXPECT_EQ(omen::key::from_prefix(lo), 0u);
  EXPECT_EQ(omen::key::from_prefix(hi), std::numeric_limits<uint64_t>::max());
  unsigned char v[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 9, 9, 9, 9, 9, 9, 9, 9};
  EXPECT_EQ(omen::key::from_prefix(v), 0x0123456789ABCDEFu);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    unsigned char a[16], b[16];
    for (auto& c : a) c = static_cast<unsigned char>(rng());
    std::memcpy(b, a, sizeof b);
    // Differ at a random byte: in the prefix half the time, after it the other half.
    int at = static_cast<int>(rng() % 16);
    b[at] = static_cast<unsigned char>(b[at] ^ (1 + rng() % 255));
    int bytes = std::memcmp(a, b, sizeof a) < 0 ? -1 : 1;
    int keys = u64_cmp(omen::key::from_prefix(a), omen::key::from_prefix(b));
    ASSERT_EQ(keys, at < 8 ? bytes : 0) << "byte " << at;
  }
}

}  // namespace
