// Leaf codec (omen/leaf_codec.h): every width 0..64 round-trips values at the width's boundaries
// and random values, neighbours are never disturbed by a put, lower_bound equals std::lower_bound
// over the decoded keys, and capacity() never overruns the space it was given.
#include "omen/leaf_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace {

namespace leaf = omen::leaf;

TEST(LeafCodec, BitsFor) {
  EXPECT_EQ(leaf::bits_for(0), 0u);
  EXPECT_EQ(leaf::bits_for(1), 1u);
  EXPECT_EQ(leaf::bits_for(255), 8u);
  EXPECT_EQ(leaf::bits_for(256), 9u);
  EXPECT_EQ(leaf::bits_for(~uint64_t{0}), 64u);
  for (unsigned w = 0; w <= 64; w++) EXPECT_EQ(leaf::bits_for(leaf::max_value(w)), w);
}

// Every width, every bit alignment (n spans 8 alignments), boundary and random values, written
// in a scrambled order so each put lands between already written neighbours.
TEST(LeafCodec, RoundTripEveryWidth) {
  std::mt19937_64 rng(42);
  for (unsigned w = 0; w <= 64; w++) {
    const std::size_t n = 67;
    std::vector<uint8_t> a(leaf::packed_bytes(n, w), 0xA5);
    std::vector<uint64_t> want(n);
    for (std::size_t i = 0; i < n; i++) {
      uint64_t m = leaf::max_value(w);
      switch (i % 4) {
        case 0:
          want[i] = 0;
          break;
        case 1:
          want[i] = m;
          break;
        case 2:
          want[i] = m >> 1;
          break;
        default:
          want[i] = rng() & m;
          break;
      }
    }
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; i++) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t i : order) leaf::put(a.data(), i, w, want[i]);
    for (std::size_t i = 0; i < n; i++)
      ASSERT_EQ(leaf::get(a.data(), i, w), want[i]) << "w=" << w << " i=" << i;
    // Overwrite every value with its complement: neighbours must stay intact.
    for (std::size_t i = 0; i < n; i += 2) leaf::put(a.data(), i, w, ~want[i] & leaf::max_value(w));
    for (std::size_t i = 0; i < n; i++) {
      uint64_t expect = i % 2 == 0 ? (~want[i] & leaf::max_value(w)) : want[i];
      ASSERT_EQ(leaf::get(a.data(), i, w), expect) << "w=" << w << " i=" << i;
    }
  }
}

// A put never writes outside the array's packed_bytes (checked with guard bytes after it).
TEST(LeafCodec, PutStaysInsideItsArray) {
  for (unsigned w = 1; w <= 64; w++) {
    for (std::size_t n = 1; n <= 9; n++) {
      std::size_t bytes = leaf::packed_bytes(n, w);
      std::vector<uint8_t> a(bytes + 16, 0x5A);
      for (std::size_t i = 0; i < n; i++) leaf::put(a.data(), i, w, leaf::max_value(w));
      for (std::size_t b = bytes; b < a.size(); b++) ASSERT_EQ(a[b], 0x5A) << "w=" << w << " n=" << n;
    }
  }
}

// lower_bound equals std::lower_bound over the decoded keys, for sorted keys with duplicates,
// every width, bases at 0 and near 2^64, probes below/at/above every key and at the extremes.
TEST(LeafCodec, LowerBoundMatchesStd) {
  std::mt19937_64 rng(7);
  for (unsigned w = 0; w <= 64; w++) {
    for (uint64_t base : {uint64_t{0}, uint64_t{1} << 40, ~uint64_t{0} - leaf::max_value(w)}) {
      for (std::size_t n :
           {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{33}, std::size_t{700}}) {
        std::vector<uint64_t> offs(n);
        for (auto& v : offs) v = rng() & leaf::max_value(w);
        for (std::size_t i = 0; i + 1 < n; i += 5) offs[i + 1] = offs[i];  // duplicates
        std::sort(offs.begin(), offs.end());
        std::vector<uint8_t> a(leaf::packed_bytes(n, w));
        std::vector<uint64_t> keys(n);
        for (std::size_t i = 0; i < n; i++) {
          leaf::put(a.data(), i, w, offs[i]);
          keys[i] = base + offs[i];
        }
        std::vector<uint64_t> decoded(n);
        leaf::decode(a.data(), 0, n, w, base, decoded.data());
        ASSERT_EQ(decoded, keys);
        std::vector<uint64_t> probes = {0, 1, base, base - 1, base + 1, ~uint64_t{0}};
        for (uint64_t k : keys) {
          probes.push_back(k);
          probes.push_back(k - 1);
          probes.push_back(k + 1);
        }
        for (uint64_t p : probes) {
          std::size_t expect =
              static_cast<std::size_t>(std::lower_bound(keys.begin(), keys.end(), p) - keys.begin());
          ASSERT_EQ(leaf::lower_bound(a.data(), n, w, base, 1, p), expect)
              << "w=" << w << " n=" << n << " probe=" << p;
        }
      }
    }
  }
}

TEST(LeafCodec, FitsAndTids) {
  leaf::Widths w;
  w.key_base = 1000;
  w.key_bits = 10;
  w.block_bits = 17;
  w.offset_bits = 9;
  EXPECT_TRUE(leaf::fits(w, 1000, 0, 1));
  EXPECT_TRUE(leaf::fits(w, 1000 + 1023, (1u << 17) - 1, 511));
  EXPECT_FALSE(leaf::fits(w, 999, 0, 1));          // below the base
  EXPECT_FALSE(leaf::fits(w, 1000 + 1024, 0, 1));  // offset needs 11 bits
  EXPECT_FALSE(leaf::fits(w, 1000, 1u << 17, 1));  // block needs 18 bits
  EXPECT_FALSE(leaf::fits(w, 1000, 0, 512));       // offset needs 10 bits
  for (uint32_t block : {0u, 1u, 77777u, (1u << 17) - 1}) {
    for (uint16_t off : {uint16_t{1}, uint16_t{291}, uint16_t{511}}) {
      uint32_t b;
      uint16_t o;
      leaf::unpack_tid(w, leaf::pack_tid(w, block, off), &b, &o);
      EXPECT_EQ(b, block);
      EXPECT_EQ(o, off);
      EXPECT_LE(leaf::pack_tid(w, block, off), leaf::max_value(w.tid_bits()));
    }
  }
  leaf::Widths wide = leaf::wide_widths(0, true);
  EXPECT_TRUE(leaf::fits(wide, ~uint64_t{0}, 0xFFFFFFFEu, 0xFFFF));
}

// A block base narrows TIDs to a block range: blocks below it or past its width do not fit.
TEST(LeafCodec, BlockBase) {
  leaf::Widths w;
  w.key_base = 0;
  w.key_bits = 8;
  w.block_base = 4000000000u;
  w.block_bits = 3;
  w.offset_bits = 8;
  EXPECT_TRUE(leaf::tid_fits(w, 4000000000u, 1));
  EXPECT_TRUE(leaf::tid_fits(w, 4000000007u, 255));
  EXPECT_FALSE(leaf::tid_fits(w, 3999999999u, 1));  // below the base
  EXPECT_FALSE(leaf::tid_fits(w, 4000000008u, 1));  // past the range
  EXPECT_FALSE(leaf::fits(w, 0, 0, 1));
  for (uint32_t block = 4000000000u; block < 4000000008u; block++) {
    uint32_t b;
    uint16_t o;
    leaf::unpack_tid(w, leaf::pack_tid(w, block, 200), &b, &o);
    EXPECT_EQ(b, block);
    EXPECT_EQ(o, 200);
    EXPECT_LE(leaf::pack_tid(w, block, 200), leaf::max_value(w.tid_bits()));
  }
}

// A key scale stores keys divided by it: only keys a multiple of it away from the base fit, and
// lower_bound rounds a key between two stored ones up.
TEST(LeafCodec, KeyScale) {
  leaf::Widths w;
  w.key_base = 5000000;
  w.key_scale = 1000000;
  w.key_bits = 4;
  EXPECT_TRUE(leaf::key_fits(w, 5000000));
  EXPECT_TRUE(leaf::key_fits(w, 5000000 + 15 * 1000000));
  EXPECT_FALSE(leaf::key_fits(w, 5000000 + 16 * 1000000));  // 16 needs 5 bits
  EXPECT_FALSE(leaf::key_fits(w, 5000001));                 // not a multiple
  EXPECT_FALSE(leaf::key_fits(w, 4000000));                 // below the base
  std::vector<uint8_t> a(leaf::packed_bytes(16, w.key_bits), 0);
  for (unsigned i = 0; i < 16; i++) {
    uint64_t key = w.key_base + i * w.key_scale;
    leaf::put(a.data(), i, w.key_bits, leaf::pack_key(w, key));
    EXPECT_EQ(leaf::unpack_key(w, leaf::get(a.data(), i, w.key_bits)), key);
  }
  EXPECT_EQ(leaf::lower_bound(a.data(), 16, w.key_bits, w.key_base, w.key_scale, 0), 0u);
  EXPECT_EQ(leaf::lower_bound(a.data(), 16, w.key_bits, w.key_base, w.key_scale, 7000000), 2u);
  EXPECT_EQ(leaf::lower_bound(a.data(), 16, w.key_bits, w.key_base, w.key_scale, 7000001), 3u);
  EXPECT_EQ(leaf::lower_bound(a.data(), 16, w.key_bits, w.key_base, w.key_scale, 20000001), 16u);
}

// The storable scale: the largest 10^e * 2^f dividing g, and its 11-bit code.
TEST(LeafCodec, DecimalBinaryScale) {
  EXPECT_EQ(leaf::decimal_binary_scale(0), 1u);
  EXPECT_EQ(leaf::decimal_binary_scale(1), 1u);
  EXPECT_EQ(leaf::decimal_binary_scale(7), 1u);
  EXPECT_EQ(leaf::decimal_binary_scale(1000000), 1000000u);
  EXPECT_EQ(leaf::decimal_binary_scale(86400000000ull), 86400000000ull / 27);  // 10^8 * 2^5
  EXPECT_EQ(leaf::decimal_binary_scale(uint64_t{1} << 63), uint64_t{1} << 63);
  EXPECT_EQ(leaf::decimal_binary_scale(10000000000000000000ull), 10000000000000000000ull);
  for (uint64_t g : {1ull, 2ull, 40ull, 1000ull, 3600000000ull, 86400000000ull, 1ull << 40,
                     10000000000000000000ull, 1ull << 63}) {
    uint64_t s = leaf::decimal_binary_scale(g);
    EXPECT_EQ(g % s, 0u);
    EXPECT_EQ(leaf::scale_of_code(leaf::scale_code(s)), s) << g;
  }
  EXPECT_EQ(leaf::scale_of_code(20), 0u);                                     // e = 20
  EXPECT_EQ(leaf::scale_of_code(uint16_t{1} << 11), 0u);                      // bits past the code
  EXPECT_EQ(leaf::scale_of_code(static_cast<uint16_t>(19 | (63 << 5))), 0u);  // past 2^64
}

// capacity() is the largest n whose two arrays fit in the space, for every width pair.
TEST(LeafCodec, CapacityIsTight) {
  for (unsigned kb = 0; kb <= 64; kb += 3) {
    for (unsigned tb : {1u, 17u, 25u, 48u}) {
      leaf::Widths w;
      w.key_bits = kb;
      w.block_bits = tb > 16 ? tb - 16 : 0;
      w.offset_bits = tb - w.block_bits;
      for (std::size_t space : {std::size_t{40}, std::size_t{8096}}) {
        std::size_t n = leaf::capacity(space, w, 60000);
        ASSERT_LE(leaf::packed_bytes(n, kb) + leaf::packed_bytes(n, w.tid_bits()), space);
        if (n < 60000) {
          ASSERT_GT(leaf::packed_bytes(n + 1, kb) + leaf::packed_bytes(n + 1, w.tid_bits()), space)
              << "kb=" << kb << " tb=" << tb;
        }
      }
    }
  }
}

}  // namespace
