// The batch payload's header and frame-of-reference blocks: see batch/format.h.
#include "batch/format.h"

#include <string>

#include "omen/leaf_codec.h"
#include "util/crc32c.h"

namespace omen::detail {

namespace {

// Largest raw (uncompressed) section the encoder can write for a column of `rows` rows; a larger
// raw_size in a directory entry is corruption (and would otherwise size an allocation).
size_t max_raw_bytes(ColumnKind kind, size_t rows) {
  size_t nulls = null_bitmap_bytes(rows);
  switch (kind) {
    case ColumnKind::kInt64:
      return nulls + 16 * rows + 32;  // a dictionary of `rows` values is the largest
    case ColumnKind::kFloat64:
      return nulls + 16 * rows + 34;  // a decimal's integers: an Int64 body
    case ColumnKind::kBytes:
      return nulls + 4 + 2 * for_block_bytes(rows, 64) + kBatchMaxPayloadBytes;
  }
  return 0;
}

bool valid_encoding(ColumnKind kind, uint8_t e) {
  switch (kind) {
    case ColumnKind::kInt64:
      return e <= static_cast<uint8_t>(Int64Encoding::kDictionary);
    case ColumnKind::kFloat64:
      return e <= static_cast<uint8_t>(Float64Encoding::kDecimal);
    case ColumnKind::kBytes:
      return e <= static_cast<uint8_t>(BytesEncoding::kDictionary);
  }
  return false;
}

bool valid_kind(uint8_t k) { return k >= 1 && k <= 3; }

}  // namespace

Status batch_corruption(const std::string& what) { return Status::Corruption("batch payload: " + what); }

unsigned ValueRange::width() const {
  return empty() ? 0 : leaf::bits_for(static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo));
}

void append_for(std::vector<uint8_t>* out, const uint64_t* v, size_t count, uint64_t base, unsigned width) {
  put_le(out, base);
  put_le(out, static_cast<uint8_t>(width));
  size_t at = out->size(), bytes = (count * width + 7) / 8;
  out->resize(at + bytes + leaf::kPackedSlack, 0);  // leaf::put reads and writes 9 bytes at a time
  uint8_t* a = out->data() + at;
  for (size_t i = 0; i < count; ++i) leaf::put(a, i, width, v[i] - base);
  out->resize(at + bytes);
}

bool read_for(ByteCursor* c, size_t count, uint64_t* out) {
  uint64_t base;
  uint8_t width;
  if (!c->read(&base) || !c->read(&width) || width > 64) return false;
  const uint8_t* packed = c->take((count * width + 7) / 8);
  if (packed == nullptr) return false;
  for (size_t i = 0; i < count; ++i) out[i] = base + leaf::get(packed, i, width);
  return true;
}

namespace {
Status header_cut(size_t got) {
  return Status::InvalidArgument("batch payload: the header does not fit in the first " +
                                 std::to_string(got) + " bytes");
}
}  // namespace

Status parse_batch_header(std::span<const uint8_t> prefix, size_t n, BatchInfo* info,
                          std::vector<SectionRef>* sections) {
  const uint8_t* p = prefix.data();
  if (n < batch_header_bytes(0)) return batch_corruption(std::to_string(n) + " bytes, shorter than a header");
  if (prefix.size() < batch_header_bytes(0)) return header_cut(prefix.size());
  if (std::memcmp(p, kBatchMagic, sizeof kBatchMagic) != 0)
    return batch_corruption("bad magic (not a batch)");
  if (p[4] != kBatchVersion)
    return Status::NotSupported("batch payload: format version " + std::to_string(p[4]) +
                                "; this build reads version " + std::to_string(kBatchVersion));
  if (p[5] != 0) return Status::NotSupported("batch payload: unknown header flags " + std::to_string(p[5]));
  const auto ncols = load_le<uint16_t>(p + 6);
  const auto rows = load_le<uint32_t>(p + 8);
  const auto size = load_le<uint32_t>(p + 12);
  if (ncols > kBatchMaxColumns) return batch_corruption(std::to_string(ncols) + " columns");
  if (rows > kBatchMaxRows) return batch_corruption(std::to_string(rows) + " rows");
  if (size != n)
    return batch_corruption(std::to_string(n) + " bytes, its header says " + std::to_string(size) +
                            " (truncated or extended)");
  const size_t header = batch_header_bytes(ncols);
  if (header > n) return batch_corruption("the column directory runs past the end");
  if (header > prefix.size()) return header_cut(prefix.size());
  if (crc32c(p, header - kBatchCrcBytes) != load_le<uint32_t>(p + header - kBatchCrcBytes))
    return batch_corruption("header checksum mismatch");
  info->rows = rows;
  info->columns.resize(ncols);
  sections->resize(ncols);
  size_t at = header;
  for (size_t c = 0; c < ncols; ++c) {
    const uint8_t* e = p + kBatchFixedHeader + c * kBatchEntryBytes;
    const std::string col = "column " + std::to_string(c) + ": ";
    if (!valid_kind(e[0])) return batch_corruption(col + "unknown kind " + std::to_string(e[0]));
    BatchColumnInfo& ci = info->columns[c];
    ci.kind = static_cast<ColumnKind>(e[0]);
    ci.encoding = e[1];
    ci.has_nulls = (e[2] & kSectionNulls) != 0;
    ci.compressed = (e[2] & kSectionZstd) != 0;
    ci.stored_bytes = load_le<uint32_t>(e + 4);
    ci.raw_bytes = load_le<uint32_t>(e + 8);
    if (!valid_encoding(ci.kind, ci.encoding))
      return batch_corruption(col + "unknown encoding " + std::to_string(e[1]));
    if ((e[2] & ~(kSectionNulls | kSectionZstd)) != 0 || e[3] != 0)
      return batch_corruption(col + "unknown flags");
    if (!ci.compressed && ci.raw_bytes != ci.stored_bytes)
      return batch_corruption(col + "raw and stored sizes differ");
    if (ci.raw_bytes > max_raw_bytes(ci.kind, rows)) return batch_corruption(col + "raw size too large");
    if (ci.stored_bytes > n - at) return batch_corruption(col + "section runs past the end");
    (*sections)[c] = {at, load_le<uint32_t>(e + 12)};
    at += ci.stored_bytes;
  }
  if (at != n)
    return batch_corruption("the sections end at " + std::to_string(at) + " of " + std::to_string(n) +
                            " bytes");
  return Status::OK();
}

void write_batch_header(const BatchInfo& info, std::span<const SectionRef> sections,
                        std::vector<uint8_t>* out) {
  uint8_t* p = out->data();
  std::memcpy(p, kBatchMagic, sizeof kBatchMagic);
  p[4] = kBatchVersion;
  p[5] = 0;
  store_le(p + 6, static_cast<uint16_t>(info.columns.size()));
  store_le(p + 8, info.rows);
  store_le(p + 12, static_cast<uint32_t>(out->size()));
  for (size_t c = 0; c < info.columns.size(); ++c) {
    const BatchColumnInfo& ci = info.columns[c];
    uint8_t* e = p + kBatchFixedHeader + c * kBatchEntryBytes;
    e[0] = static_cast<uint8_t>(ci.kind);
    e[1] = ci.encoding;
    e[2] = static_cast<uint8_t>((ci.has_nulls ? kSectionNulls : 0) | (ci.compressed ? kSectionZstd : 0));
    e[3] = 0;
    store_le(e + 4, ci.stored_bytes);
    store_le(e + 8, ci.raw_bytes);
    store_le(e + 12, sections[c].crc);
  }
  const size_t header = batch_header_bytes(info.columns.size());
  store_le(p + header - kBatchCrcBytes, crc32c(p, header - kBatchCrcBytes));
}

}  // namespace omen::detail
