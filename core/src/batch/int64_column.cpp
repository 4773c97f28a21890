// Int64 column bodies: constant, frame of reference, delta, delta-of-delta, dictionary. Every
// difference is taken mod 2^64, so any signed 64-bit values round-trip (INT64_MIN/MAX included).
#include <algorithm>
#include <limits>

#include "batch/columns.h"
#include "omen/leaf_codec.h"

namespace omen::detail {

namespace {

constexpr size_t kNever = std::numeric_limits<size_t>::max();
constexpr const char* kKind = "Int64";

size_t dictionary_bytes(size_t rows, size_t k) {
  return 4 + 8 * k + for_block_bytes(rows, leaf::bits_for(k > 0 ? k - 1 : 0));
}

// Numbers v's distinct values into s->ints and writes each row's index to s->work, unless the body
// would reach `beat` bytes: then gives up early and returns kNever. Else the body's size.
size_t try_dictionary(std::span<const uint64_t> v, size_t beat, ColumnScratch* s) {
  const size_t n = v.size();
  // k values cost at least 8k + 13 bytes.
  const size_t limit = beat == kNever ? n : std::min(n, beat > 13 ? (beat - 13) / 8 : 0);
  s->ints.reset(limit);
  s->work.resize(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t idx = s->ints.index_of(v[i], hash_u64(v[i]));
    if (idx < 0) return kNever;
    s->work[i] = static_cast<uint64_t>(idx);
  }
  size_t bytes = dictionary_bytes(n, s->ints.values().size());
  return bytes < beat || beat == kNever ? bytes : kNever;
}

size_t tail(size_t n, size_t skip) { return n > skip ? n - skip : 0; }

}  // namespace

Status encode_int64(std::span<const uint64_t> v, std::optional<Int64Encoding> forced, ColumnScratch* s,
                    std::vector<uint8_t>* out, uint8_t* encoding) {
  const size_t n = v.size();
  ValueRange values, deltas, dods;
  for (size_t i = 0; i < n; ++i) values.add(v[i]);
  for (size_t i = 1; i < n; ++i) deltas.add(v[i] - v[i - 1]);
  for (size_t i = 2; i < n; ++i) dods.add((v[i] - v[i - 1]) - (v[i - 1] - v[i - 2]));
  const bool constant = values.lo >= values.hi;  // also when empty
  const size_t bytes[] = {constant ? 8 : kNever, for_block_bytes(n, values.width()),
                          8 + for_block_bytes(tail(n, 1), deltas.width()),
                          16 + for_block_bytes(tail(n, 2), dods.width())};
  Int64Encoding e;
  if (forced) {
    e = *forced;
    if (e == Int64Encoding::kConstant && !constant)
      return Status::InvalidArgument("batch: kConstant forced on an Int64 column with several values");
    if (e == Int64Encoding::kDictionary) try_dictionary(v, kNever, s);
  } else {
    e = static_cast<Int64Encoding>(std::min_element(std::begin(bytes), std::end(bytes)) - std::begin(bytes));
    if (try_dictionary(v, bytes[static_cast<size_t>(e)], s) != kNever) e = Int64Encoding::kDictionary;
  }
  *encoding = static_cast<uint8_t>(e);
  const uint64_t first = n > 0 ? v[0] : 0;
  std::vector<uint64_t>& w = s->work;
  switch (e) {
    case Int64Encoding::kConstant:
      put_le(out, first);
      break;
    case Int64Encoding::kFrameOfReference:
      append_for(out, v.data(), n, values.base(), values.width());
      break;
    case Int64Encoding::kDelta:
      w.resize(n);
      for (size_t i = 1; i < n; ++i) w[i - 1] = v[i] - v[i - 1];
      put_le(out, first);
      append_for(out, w.data(), tail(n, 1), deltas.base(), deltas.width());
      break;
    case Int64Encoding::kDeltaOfDelta:
      w.resize(n);
      for (size_t i = 2; i < n; ++i) w[i - 2] = (v[i] - v[i - 1]) - (v[i - 1] - v[i - 2]);
      put_le(out, first);
      put_le(out, n > 1 ? v[1] - v[0] : uint64_t{0});
      append_for(out, w.data(), tail(n, 2), dods.base(), dods.width());
      break;
    case Int64Encoding::kDictionary: {
      const std::vector<uint64_t>& dict = s->ints.values();
      put_le(out, static_cast<uint32_t>(dict.size()));
      for (uint64_t d : dict) put_le(out, d);
      append_for(out, w.data(), n, 0, leaf::bits_for(dict.empty() ? 0 : dict.size() - 1));
      break;
    }
  }
  return Status::OK();
}

Status decode_int64(ByteCursor c, uint8_t encoding, size_t rows, uint64_t* out) {
  const size_t n = rows;
  uint64_t first = 0, delta = 0;
  switch (static_cast<Int64Encoding>(encoding)) {
    case Int64Encoding::kConstant:
      if (!c.read(&first)) return body_corruption(kKind, "truncated constant");
      std::fill(out, out + n, first);
      break;
    case Int64Encoding::kFrameOfReference:
      if (!read_for(&c, n, out)) return body_corruption(kKind, "truncated values");
      break;
    case Int64Encoding::kDelta:
      if (!c.read(&first) || !read_for(&c, tail(n, 1), out + std::min<size_t>(n, 1)))
        return body_corruption(kKind, "truncated deltas");
      if (n > 0) out[0] = first;
      for (size_t i = 1; i < n; ++i) out[i] += out[i - 1];
      break;
    case Int64Encoding::kDeltaOfDelta:
      if (!c.read(&first) || !c.read(&delta) || !read_for(&c, tail(n, 2), out + std::min<size_t>(n, 2)))
        return body_corruption(kKind, "truncated deltas of deltas");
      if (n > 0) out[0] = first;
      if (n > 1) out[1] = first + delta;
      for (size_t i = 2; i < n; ++i) {
        delta += out[i];
        out[i] = out[i - 1] + delta;
      }
      break;
    case Int64Encoding::kDictionary: {
      uint32_t k = 0;
      const uint8_t* dict = nullptr;
      if (!c.read(&k) || k > n || (dict = c.take(size_t{8} * k)) == nullptr || !read_for(&c, n, out))
        return body_corruption(kKind, "truncated dictionary");
      for (size_t i = 0; i < n; ++i) {
        if (out[i] >= k) return body_corruption(kKind, "dictionary index out of range");
        out[i] = load_le<uint64_t>(dict + 8 * out[i]);
      }
      break;
    }
    default:
      return body_corruption(kKind, "unknown encoding");
  }
  if (c.left() != 0) return body_corruption(kKind, "trailing bytes");
  return Status::OK();
}

}  // namespace omen::detail
