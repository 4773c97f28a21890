// The batch payload's building blocks (docs/format.md, "Cold batch payload"): layout constants,
// little-endian appends, a bounds-checked cursor, frame-of-reference blocks and the header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "omen/batch_codec.h"

namespace omen::detail {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the batch payload is little-endian");

inline constexpr uint8_t kBatchMagic[4] = {'O', 'M', 'C', 'B'};
inline constexpr uint8_t kBatchVersion = 1;
// magic:4 version:1 flags:1 ncols:2 nrows:4 payload_size:4, then ncols entries, then the CRC.
inline constexpr size_t kBatchFixedHeader = 16, kBatchEntryBytes = 16, kBatchCrcBytes = 4;
inline constexpr uint8_t kSectionNulls = 1, kSectionZstd = 2;  // entry flags
// Zeroed bytes a reader keeps behind every section it decodes: frame-of-reference values are read
// 9 bytes at a time (omen/leaf_codec.h), so a value near the end may read up to 8 bytes past it.
inline constexpr size_t kSectionSlack = 16;

inline size_t batch_header_bytes(size_t ncols) {
  return kBatchFixedHeader + ncols * kBatchEntryBytes + kBatchCrcBytes;
}
inline size_t null_bitmap_bytes(size_t rows) { return (rows + 7) / 8; }

template <class T>
void put_le(std::vector<uint8_t>* out, T v) {
  size_t at = out->size();
  out->resize(at + sizeof v);
  std::memcpy(out->data() + at, &v, sizeof v);
}
template <class T>
void store_le(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}
template <class T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// A read position over [p, p + n). Every read checks the bytes left first; a failed read returns
// false (or nullptr) and leaves the cursor where it was.
class ByteCursor {
 public:
  ByteCursor(const uint8_t* p, size_t n) : p_(p), left_(n) {}
  // The next n bytes, or nullptr if fewer are left.
  const uint8_t* take(size_t n) {
    if (n > left_) return nullptr;
    const uint8_t* at = p_;
    p_ += n, left_ -= n;
    return at;
  }
  template <class T>
  bool read(T* v) {
    const uint8_t* at = take(sizeof(T));
    if (at) *v = load_le<T>(at);
    return at != nullptr;
  }
  size_t left() const { return left_; }

 private:
  const uint8_t* p_;
  size_t left_;
};

// Signed min/max of a run of 64-bit values (empty: lo > hi); a frame of reference over them.
struct ValueRange {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  void add(uint64_t v) {
    auto s = static_cast<int64_t>(v);
    lo = s < lo ? s : lo;
    hi = s > hi ? s : hi;
  }
  bool empty() const { return lo > hi; }
  uint64_t base() const { return empty() ? 0 : static_cast<uint64_t>(lo); }
  // Bits of (v - base) for every v added (0..64).
  unsigned width() const;
};

// A frame-of-reference block: base:8 width:1 then count values (v - base) of `width` bits packed
// LSB first. Its size in bytes:
inline size_t for_block_bytes(size_t count, unsigned width) { return 9 + (count * width + 7) / 8; }
// Appends the block of v[0, count); REQUIRES every v - base < 2^width (mod 2^64).
void append_for(std::vector<uint8_t>* out, const uint64_t* v, size_t count, uint64_t base, unsigned width);
// Reads a block of `count` values into out[0, count). False if the cursor holds too few bytes or the
// width is over 64. REQUIRES: kSectionSlack readable bytes behind the cursor's end.
bool read_for(ByteCursor* c, size_t count, uint64_t* out);

// kCorruption "batch payload: <what>".
Status batch_corruption(const std::string& what);

// Where one column's section lies and its CRC-32C (filled by parse_batch_header).
struct SectionRef {
  size_t offset = 0;
  uint32_t crc = 0;
};

// Checks the header of a payload of `payload_bytes` bytes whose first bytes are `prefix` (magic,
// version, flags, limits, payload size, header CRC, every directory entry and the sections tiling
// the rest exactly) and fills *info and *sections. kInvalidArgument when the header runs past the
// prefix (the prefix is the whole payload on every path but peek_batch_prefix()).
Status parse_batch_header(std::span<const uint8_t> prefix, size_t payload_bytes, BatchInfo* info,
                          std::vector<SectionRef>* sections);

// Writes the header and directory over out[0, batch_header_bytes(columns.size())).
void write_batch_header(const BatchInfo& info, std::span<const SectionRef> sections,
                        std::vector<uint8_t>* out);

}  // namespace omen::detail
