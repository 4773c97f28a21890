// Order-preserving 64-bit key encodings.
//
// Every SQL type the learned index serves is mapped to an unsigned 64-bit key such that
//     a < b  (Postgres comparison order)   <=>   encode(a) < encode(b)   (unsigned order)
//     a = b                                <=>   encode(a) == encode(b)
// so the core only ever works on sorted uint64_t arrays. One encoding is a prefix, not exact:
// uuid (from_prefix), where a < b gives only encode(a) <= encode(b) and a reader compares equal
// prefixes' full values (the index rechecks).
//
// Floating point follows Postgres, not IEEE: -Inf < ... < -0 = +0 < ... < +Inf < NaN, and all NaNs
// are equal (they sort above +Inf). float4 is widened to double first (exact and order-preserving),
// so float4 and float8 keys share one encoding.
//
// Encodings are total functions: no input value is rejected.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>

namespace omen::key {

inline constexpr uint64_t kSignBit = uint64_t{1} << 63;

// Signed integers: flip the sign bit so INT64_MIN -> 0 and INT64_MAX -> UINT64_MAX.
constexpr uint64_t from_int64(int64_t v) noexcept { return static_cast<uint64_t>(v) ^ kSignBit; }
constexpr uint64_t from_int32(int32_t v) noexcept { return from_int64(v); }
constexpr uint64_t from_int16(int16_t v) noexcept { return from_int64(v); }
constexpr int64_t to_int64(uint64_t k) noexcept { return static_cast<int64_t>(k ^ kSignBit); }

// Every NaN encodes to this value, the largest key: NaN sorts after +Inf, as in Postgres.
inline constexpr uint64_t kNaN = std::numeric_limits<uint64_t>::max();

// float8: -0 is folded into +0; negative values have all bits flipped, non-negative values the
// sign bit set. +Inf encodes to 0xFFF0000000000000, below kNaN.
inline uint64_t from_float8(double v) noexcept {
  if (v != v) return kNaN;
  if (v == 0.0) v = 0.0;  // -0 -> +0
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return (bits & kSignBit) ? ~bits : (bits | kSignBit);
}
inline uint64_t from_float4(float v) noexcept { return from_float8(static_cast<double>(v)); }

// Inverse of from_float8 for keys it produced. NaN comes back as the quiet NaN; -0 as +0.
inline double to_float8(uint64_t k) noexcept {
  if (k == kNaN) return std::numeric_limits<double>::quiet_NaN();
  uint64_t bits = (k & kSignBit) ? (k & ~kSignBit) : ~k;
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// date is a signed day count (int32) and timestamp/timestamptz a signed microsecond count (int64)
// since 2000-01-01; Postgres' -infinity/infinity are the type's minimum/maximum, so the integer
// encoding already orders them correctly.
constexpr uint64_t from_date(int32_t days) noexcept { return from_int64(days); }
constexpr uint64_t from_timestamp(int64_t usecs) noexcept { return from_int64(usecs); }

// A byte string's first 8 bytes as a big-endian integer (uuid's 16 bytes, compared as memcmp
// compares them): a < b gives from_prefix(a) <= from_prefix(b), and equal prefixes say nothing.
inline uint64_t from_prefix(const unsigned char* bytes) noexcept {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | bytes[i];
  return v;
}

}  // namespace omen::key
