// Bytes column bodies: plain (lengths, then the bytes) or dictionary (distinct values' lengths,
// each row's index, then the distinct values' bytes).
#include <algorithm>
#include <cstring>
#include <limits>

#include "batch/columns.h"
#include "omen/leaf_codec.h"

namespace omen::detail {

namespace {

constexpr size_t kNever = std::numeric_limits<size_t>::max();
constexpr const char* kKind = "Bytes";
// k:4 and two frame-of-reference block headers.
constexpr size_t kDictionaryFixed = 4 + 9 + 9;

// Numbers v's distinct values into s->strings and writes each row's index to s->work, unless the
// body would reach `beat` bytes: then gives up early and returns kNever. Else the body's size.
size_t try_dictionary(std::span<const std::string_view> v, size_t beat, ColumnScratch* s) {
  const size_t n = v.size();
  s->strings.reset(n);
  s->work.resize(n);
  size_t distinct_bytes = 0, distinct = 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t idx = s->strings.index_of(v[i], hash_bytes(v[i]));
    s->work[i] = static_cast<uint64_t>(idx);
    if (static_cast<size_t>(idx) < distinct) continue;
    distinct++;
    distinct_bytes += v[i].size();
    if (beat != kNever && kDictionaryFixed + distinct_bytes >= beat) return kNever;
  }
  ValueRange lengths;
  for (std::string_view d : s->strings.values()) lengths.add(d.size());
  size_t bytes = kDictionaryFixed + distinct_bytes + (distinct * lengths.width() + 7) / 8 +
                 (n * leaf::bits_for(distinct > 0 ? distinct - 1 : 0) + 7) / 8;
  return bytes < beat || beat == kNever ? bytes : kNever;
}

// Appends the bytes of v[0, count).
void append_bytes(std::vector<uint8_t>* out, const std::string_view* v, size_t count, size_t total) {
  size_t at = out->size();
  out->resize(at + total);
  for (size_t i = 0; i < count; ++i) {
    if (!v[i].empty()) std::memcpy(out->data() + at, v[i].data(), v[i].size());
    at += v[i].size();
  }
}

// Appends the frame-of-reference block of v[0, count)'s lengths; returns their total.
size_t append_lengths(std::vector<uint8_t>* out, const std::string_view* v, size_t count, ColumnScratch* s) {
  ValueRange range;
  size_t total = 0;
  s->values.resize(count);
  for (size_t i = 0; i < count; ++i) {
    s->values[i] = v[i].size();
    range.add(v[i].size());
    total += v[i].size();
  }
  append_for(out, s->values.data(), count, range.base(), range.width());
  return total;
}

// Lays values of lengths len[0, count) end to end from offset 0. False unless they fill exactly
// `total` bytes.
bool lay_out(const uint64_t* len, size_t count, size_t total, BytesRef* refs) {
  uint64_t at = 0;
  for (size_t i = 0; i < count; ++i) {
    if (len[i] > total - at) return false;
    refs[i] = {static_cast<uint32_t>(at), static_cast<uint32_t>(len[i])};
    at += len[i];
  }
  return at == total;
}

void take_data(ByteCursor* c, DecodedColumn* out) {
  size_t n = c->left();
  auto p = reinterpret_cast<const char*>(c->take(n));
  out->data.assign(p, p + n);
}

}  // namespace

void encode_bytes(std::span<const std::string_view> v, std::optional<BytesEncoding> forced, ColumnScratch* s,
                  std::vector<uint8_t>* out, uint8_t* encoding) {
  const size_t n = v.size();
  ValueRange lengths;
  size_t total = 0;
  for (std::string_view x : v) lengths.add(x.size()), total += x.size();
  const size_t plain = for_block_bytes(n, lengths.width()) + total;
  BytesEncoding e = forced.value_or(BytesEncoding::kPlain);
  if (e == BytesEncoding::kDictionary || !forced) {
    size_t beat = forced ? kNever : plain;
    if (try_dictionary(v, beat, s) != kNever) e = BytesEncoding::kDictionary;
  }
  *encoding = static_cast<uint8_t>(e);
  if (e == BytesEncoding::kPlain) {
    append_bytes(out, v.data(), n, append_lengths(out, v.data(), n, s));
    return;
  }
  const std::vector<std::string_view>& dict = s->strings.values();
  put_le(out, static_cast<uint32_t>(dict.size()));
  size_t dict_total = append_lengths(out, dict.data(), dict.size(), s);
  append_for(out, s->work.data(), n, 0, leaf::bits_for(dict.empty() ? 0 : dict.size() - 1));
  append_bytes(out, dict.data(), dict.size(), dict_total);
}

Status decode_bytes(ByteCursor c, uint8_t encoding, size_t rows, ColumnScratch* s, DecodedColumn* out) {
  const size_t n = rows;
  out->refs.resize(n);
  s->values.resize(n);
  const auto e = static_cast<BytesEncoding>(encoding);
  if (e == BytesEncoding::kPlain) {
    if (!read_for(&c, n, s->values.data())) return body_corruption(kKind, "truncated lengths");
    if (!lay_out(s->values.data(), n, c.left(), out->refs.data()))
      return body_corruption(kKind, "lengths do not match the data");
    take_data(&c, out);
    return Status::OK();
  }
  if (e != BytesEncoding::kDictionary) return body_corruption(kKind, "unknown encoding");
  uint32_t k = 0;
  if (!c.read(&k) || k > n || !read_for(&c, k, s->values.data()))
    return body_corruption(kKind, "truncated dictionary");
  s->work.resize(n);
  if (!read_for(&c, n, s->work.data())) return body_corruption(kKind, "truncated indices");
  s->refs.resize(k);
  if (!lay_out(s->values.data(), k, c.left(), s->refs.data()))
    return body_corruption(kKind, "dictionary lengths do not match the data");
  for (size_t i = 0; i < n; ++i) {
    if (s->work[i] >= k) return body_corruption(kKind, "dictionary index out of range");
    out->refs[i] = s->refs[s->work[i]];
  }
  take_data(&c, out);
  return Status::OK();
}

}  // namespace omen::detail
