// Bit-packed arrays of keys and TIDs for the leaf pages of the `learned` index AM (format version
// 2, docs/format.md), kept free of Postgres headers so they are unit-tested here.
//
// Public core API for one reason: the Postgres glue (pg_extension/learned_page.h), a separate PGXS
// build that sees only core/include/, includes it. No core module uses it (core/README.md).
//
// A page stores n keys as offsets from a per-page base in `key_bits` bits each (0..64), and n
// TIDs as ((block - block_base) << offset_bits | offset) in `block_bits + offset_bits` bits each. Values are
// packed little-endian, LSB first: value i occupies bits [i*w, (i+1)*w) of its array.
//
// Contract of every accessor: the array was sized with packed_bytes(capacity, w), which includes
// kPackedSlack bytes past the last value, so an access reads/writes at most 9 bytes starting at
// byte (i*w)/8, all inside the array. Widths > 64 are not allowed (REQUIRES w <= 64).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace omen::leaf {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "packed leaf arrays assume little-endian");

// Bytes past the last packed value that every array reserves (an access touches up to 9 bytes).
inline constexpr std::size_t kPackedSlack = 8;

// Smallest w with v < 2^w (0 for v == 0, 64 for v >= 2^63).
inline unsigned bits_for(uint64_t v) { return v == 0 ? 0u : 64u - static_cast<unsigned>(__builtin_clzll(v)); }

// Largest value that fits in w bits.
inline uint64_t max_value(unsigned w) { return w >= 64 ? ~uint64_t{0} : (uint64_t{1} << w) - 1; }

// Bytes an array of `n` values of `w` bits occupies, slack included.
inline std::size_t packed_bytes(std::size_t n, unsigned w) { return (n * w + 7) / 8 + kPackedSlack; }

// Value i of a packed array of w-bit values.
inline uint64_t get(const uint8_t* a, std::size_t i, unsigned w) {
  if (w == 0) return 0;
  std::size_t bit = i * w;
  unsigned shift = static_cast<unsigned>(bit & 7);
  uint64_t lo;
  std::memcpy(&lo, a + bit / 8, sizeof lo);
  uint64_t v = lo >> shift;
  if (shift + w > 64) v |= static_cast<uint64_t>(a[bit / 8 + 8]) << (64 - shift);
  return v & max_value(w);
}

// Sets value i of a packed array of w-bit values to v. REQUIRES: v <= max_value(w).
inline void put(uint8_t* a, std::size_t i, unsigned w, uint64_t v) {
  if (w == 0) return;
  std::size_t bit = i * w;
  unsigned shift = static_cast<unsigned>(bit & 7);
  uint64_t lo;
  std::memcpy(&lo, a + bit / 8, sizeof lo);
  uint64_t mask = max_value(w);
  lo = (lo & ~(mask << shift)) | (v << shift);
  std::memcpy(a + bit / 8, &lo, sizeof lo);
  if (shift + w > 64) {  // the top (shift + w - 64) bits go into the ninth byte
    unsigned spill = shift + w - 64;
    uint8_t keep = static_cast<uint8_t>(a[bit / 8 + 8] & ~((1u << spill) - 1));
    a[bit / 8 + 8] = static_cast<uint8_t>(keep | (v >> (64 - shift)));
  }
}

// Decodes values [from, to) of a key array into out[0 .. to-from), adding `base` (scale 1: callers
// with a key scale use unpack_key).
inline void decode(const uint8_t* a, std::size_t from, std::size_t to, unsigned w, uint64_t base,
                   uint64_t* out) {
  for (std::size_t i = from; i < to; i++) *out++ = base + get(a, i, w);
}

// First position in [0, n) whose key (base + value * scale) is >= key, n if none. REQUIRES: the
// n keys are sorted, scale >= 1.
inline std::size_t lower_bound(const uint8_t* a, std::size_t n, unsigned w, uint64_t base, uint64_t scale,
                               uint64_t key) {
  if (key <= base) return 0;
  // compare values: base + v * scale >= key  <=>  v >= ceil((key - base) / scale)
  uint64_t d = key - base, target = d / scale + (d % scale != 0 ? 1 : 0);
  std::size_t lo = 0, len = n;
  while (len > 0) {  // branch-light halving search
    std::size_t half = len / 2;
    if (get(a, lo + half, w) < target) {
      lo += half + 1;
      len -= half + 1;
    } else {
      len = half;
    }
  }
  return lo;
}

// The widths and bases of one page.
struct Widths {
  uint64_t key_base = 0;      // keys are stored as (key - key_base) / key_scale
  unsigned key_bits = 64;     // 0..64; 0: every key equals key_base (or: no keys, null pages)
  uint64_t key_scale = 1;     // >= 1; every key - key_base is a multiple of it
  uint32_t block_base = 0;    // blocks are stored as block - block_base (0: absolute)
  unsigned block_bits = 32;   // 0..32
  unsigned offset_bits = 16;  // 0..16
  unsigned tid_bits() const { return block_bits + offset_bits; }
};

// Widths wide enough for any key >= base and any TID (block < 2^32, offset < 2^16).
inline Widths wide_widths(uint64_t base, bool with_keys) {
  Widths w;
  w.key_base = base;
  w.key_bits = with_keys ? 64 : 0;
  return w;
}

inline bool tid_fits(const Widths& w, uint32_t block, uint16_t offset) {
  return block >= w.block_base && block - w.block_base <= max_value(w.block_bits) &&
         offset <= max_value(w.offset_bits);
}
inline bool key_fits(const Widths& w, uint64_t key) {
  if (key < w.key_base) return false;
  uint64_t d = key - w.key_base;
  return d % w.key_scale == 0 && d / w.key_scale <= max_value(w.key_bits);
}
// True when key and TID (block, offset) can be stored under `w`.
inline bool fits(const Widths& w, uint64_t key, uint32_t block, uint16_t offset) {
  return key_fits(w, key) && tid_fits(w, block, offset);
}
// The stored value of a key. REQUIRES: key_fits(w, key).
inline uint64_t pack_key(const Widths& w, uint64_t key) { return (key - w.key_base) / w.key_scale; }
inline uint64_t unpack_key(const Widths& w, uint64_t v) { return w.key_base + v * w.key_scale; }

// Largest 10^e * 2^f that divides g (g > 0; 1 when g is 0): the key scale of keys whose
// differences share g (whole seconds or days of timestamps in microseconds, amounts in cents), in
// a form a page header stores in 11 bits (scale_code / scale_of_code).
inline uint64_t decimal_binary_scale(uint64_t g, unsigned* e_out = nullptr, unsigned* f_out = nullptr) {
  unsigned e = 0, f = 0;
  uint64_t s = 1;
  if (g != 0) {
    while (e < 19 && (g / s) % 10 == 0) {
      s *= 10;
      e++;
    }
    uint64_t rest = g / s;
    f = static_cast<unsigned>(__builtin_ctzll(rest));
    s <<= f;
  }
  if (e_out != nullptr) *e_out = e;
  if (f_out != nullptr) *f_out = f;
  return s;
}
inline uint16_t scale_code(uint64_t scale) {
  unsigned e, f;
  decimal_binary_scale(scale, &e, &f);
  return static_cast<uint16_t>(e | (f << 5));
}
// The scale of a stored code; 0 for a code no scale has (e > 19, f > 63, or a product past 2^64).
inline uint64_t scale_of_code(uint16_t code) {
  static constexpr uint64_t kPow10[20] = {1,
                                          10,
                                          100,
                                          1000,
                                          10000,
                                          100000,
                                          1000000,
                                          10000000,
                                          100000000,
                                          1000000000,
                                          10000000000,
                                          100000000000,
                                          1000000000000,
                                          10000000000000,
                                          100000000000000,
                                          1000000000000000,
                                          10000000000000000,
                                          100000000000000000,
                                          1000000000000000000,
                                          10000000000000000000u};
  unsigned e = code & 31, f = (code >> 5) & 63;
  if (e > 19 || (code >> 11) != 0) return 0;
  uint64_t s = kPow10[e];
  if (f > 0 && s > (~uint64_t{0} >> f)) return 0;
  return s << f;
}

// REQUIRES: tid_fits(w, block, offset).
inline uint64_t pack_tid(const Widths& w, uint32_t block, uint16_t offset) {
  return (static_cast<uint64_t>(block - w.block_base) << w.offset_bits) | offset;
}
inline void unpack_tid(const Widths& w, uint64_t v, uint32_t* block, uint16_t* offset) {
  *block = w.block_base + static_cast<uint32_t>(v >> w.offset_bits);
  *offset = static_cast<uint16_t>(v & max_value(w.offset_bits));
}

// Most items (n) whose key and TID arrays, each packed_bytes(n, ...), fit in `space` bytes;
// at most max_items.
inline std::size_t capacity(std::size_t space, const Widths& w, std::size_t max_items) {
  unsigned per = w.key_bits + w.tid_bits();
  std::size_t n = per == 0 ? max_items : space * 8 / per;  // an upper bound; exact below
  if (n > max_items) n = max_items;
  while (n > 0 && packed_bytes(n, w.key_bits) + packed_bytes(n, w.tid_bits()) > space) n--;
  return n;
}

}  // namespace omen::leaf
