// BatchReader and peek_batch: the header is checked on open (batch/format.cpp); a section's CRC
// is checked, and its zstd frame expanded into a buffer with kSectionSlack zero bytes behind it,
// only when that column is decoded.
#include <zstd.h>

#include <string>

#include "batch/columns.h"
#include "batch/format.h"
#include "util/crc32c.h"

namespace omen {

namespace {

struct FreeDctx {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

const char* kind_name(ColumnKind k) {
  switch (k) {
    case ColumnKind::kInt64:
      return "Int64";
    case ColumnKind::kFloat64:
      return "Float64";
    case ColumnKind::kBytes:
      return "Bytes";
  }
  return "unknown";
}

// The schema check of open(): the batch's kinds must be exactly `expected`.
Status check_schema(const BatchInfo& info, std::span<const ColumnKind> expected) {
  if (info.columns.size() != expected.size())
    return Status::Corruption("batch payload: " + std::to_string(info.columns.size()) +
                              " columns, the reader expects " + std::to_string(expected.size()));
  for (size_t c = 0; c < expected.size(); ++c)
    if (info.columns[c].kind != expected[c])
      return Status::Corruption("batch payload: column " + std::to_string(c) + " is " +
                                kind_name(info.columns[c].kind) + ", the reader expects " +
                                kind_name(expected[c]));
  return Status::OK();
}

void clear_arrays(DecodedColumn* col) {
  col->null_bits.clear(), col->ints.clear(), col->floats.clear(), col->refs.clear(), col->data.clear();
}

}  // namespace

Status peek_batch(std::span<const uint8_t> payload, BatchInfo* info) {
  std::vector<detail::SectionRef> sections;
  return detail::parse_batch_header(payload, payload.size(), info, &sections);
}

Status peek_batch_prefix(std::span<const uint8_t> prefix, size_t payload_bytes, BatchInfo* info) {
  std::vector<detail::SectionRef> sections;
  return detail::parse_batch_header(prefix, payload_bytes, info, &sections);
}

size_t batch_section_end(const BatchInfo& info, size_t column) {
  size_t end = detail::batch_header_bytes(info.columns.size());
  for (size_t c = 0; c <= column && c < info.columns.size(); ++c) end += info.columns[c].stored_bytes;
  return end;
}

struct BatchReader::Impl {
  std::unique_ptr<ZSTD_DCtx, FreeDctx> dctx{ZSTD_createDCtx()};
  std::span<const uint8_t> payload;
  BatchInfo info;
  std::vector<detail::SectionRef> sections;
  bool open = false;
  std::vector<uint8_t> raw;  // the section being decoded, then kSectionSlack zero bytes
  detail::ColumnScratch scratch;

  Status check_column(size_t c) const {
    if (!open) return Status::InvalidArgument("batch reader: no batch is open");
    if (c >= info.columns.size())
      return Status::InvalidArgument("batch reader: column " + std::to_string(c) + " out of range");
    return Status::OK();
  }

  // Puts the raw form of column c's section into `raw`.
  Status expand(size_t c) {
    const BatchColumnInfo& ci = info.columns[c];
    const uint8_t* stored = payload.data() + sections[c].offset;
    if (detail::crc32c(stored, ci.stored_bytes) != sections[c].crc)
      return detail::batch_corruption("column " + std::to_string(c) + ": section checksum mismatch");
    // The frame states its content size (the encoder always writes it): checked before the
    // buffer is sized, so a damaged raw size cannot make the reader allocate up to its bound.
    if (ci.compressed && ZSTD_getFrameContentSize(stored, ci.stored_bytes) != ci.raw_bytes)
      return detail::batch_corruption("column " + std::to_string(c) +
                                      ": zstd frame size differs from raw size");
    raw.resize(ci.raw_bytes + detail::kSectionSlack);
    std::memset(raw.data() + ci.raw_bytes, 0, detail::kSectionSlack);
    if (!ci.compressed) {
      if (ci.raw_bytes > 0) std::memcpy(raw.data(), stored, ci.raw_bytes);
      return Status::OK();
    }
    if (!dctx) return Status::Corruption("batch payload: no zstd context (out of memory)");
    size_t r = ZSTD_decompressDCtx(dctx.get(), raw.data(), ci.raw_bytes, stored, ci.stored_bytes);
    if (ZSTD_isError(r) || r != ci.raw_bytes)
      return detail::batch_corruption("column " + std::to_string(c) +
                                      ": zstd frame does not expand to its raw size");
    return Status::OK();
  }

  Status decode_body(size_t c, DecodedColumn* out) {
    const BatchColumnInfo& ci = info.columns[c];
    const size_t rows = info.rows;
    detail::ByteCursor cur(raw.data(), ci.raw_bytes);
    clear_arrays(out);
    if (ci.has_nulls) {
      const uint8_t* bits = cur.take(detail::null_bitmap_bytes(rows));
      if (bits == nullptr)
        return detail::batch_corruption("column " + std::to_string(c) + ": truncated NULL bitmap");
      out->null_bits.assign(bits, bits + detail::null_bitmap_bytes(rows));
    }
    switch (ci.kind) {
      case ColumnKind::kInt64:
        out->ints.resize(rows);
        return detail::decode_int64(cur, ci.encoding, rows, reinterpret_cast<uint64_t*>(out->ints.data()));
      case ColumnKind::kFloat64:
        out->floats.resize(rows);
        return detail::decode_float64(cur, ci.encoding, rows, &scratch, out->floats.data());
      case ColumnKind::kBytes:
        return detail::decode_bytes(cur, ci.encoding, rows, &scratch, out);
    }
    return detail::batch_corruption("unknown kind");
  }
};

BatchReader::BatchReader() : impl_(std::make_unique<Impl>()) {}
BatchReader::~BatchReader() = default;
BatchReader::BatchReader(BatchReader&&) noexcept = default;
BatchReader& BatchReader::operator=(BatchReader&&) noexcept = default;

Status BatchReader::open(std::span<const uint8_t> payload, std::span<const ColumnKind> expected) {
  Impl& m = *impl_;
  m.open = false;
  Status s = detail::parse_batch_header(payload, payload.size(), &m.info, &m.sections);
  if (s.ok()) s = check_schema(m.info, expected);
  if (!s.ok()) {
    m.info.rows = 0;
    m.info.columns.clear();
    return s;
  }
  m.payload = payload;
  m.open = true;
  return Status::OK();
}

const BatchInfo& BatchReader::info() const noexcept { return impl_->info; }

Status BatchReader::decode_column(size_t column, DecodedColumn* out) {
  Impl& m = *impl_;
  OMEN_RETURN_IF_ERROR(m.check_column(column));
  out->kind = m.info.columns[column].kind;
  out->present = false;
  OMEN_RETURN_IF_ERROR(m.expand(column));
  OMEN_RETURN_IF_ERROR(m.decode_body(column, out));
  out->present = true;
  return Status::OK();
}

Status BatchReader::decode(DecodedBatch* out) {
  if (!impl_->open) return Status::InvalidArgument("batch reader: no batch is open");
  out->rows = rows();
  out->columns.resize(columns());
  for (size_t c = 0; c < columns(); ++c) OMEN_RETURN_IF_ERROR(decode_column(c, &out->columns[c]));
  return Status::OK();
}

Status BatchReader::decode(std::span<const uint32_t> selected, DecodedBatch* out) {
  if (!impl_->open) return Status::InvalidArgument("batch reader: no batch is open");
  out->rows = rows();
  out->columns.resize(columns());
  for (size_t c = 0; c < columns(); ++c) {
    DecodedColumn& col = out->columns[c];
    col.kind = info().columns[c].kind;
    col.present = false;
    clear_arrays(&col);
  }
  for (uint32_t c : selected) {
    OMEN_RETURN_IF_ERROR(impl_->check_column(c));
    if (!out->columns[c].present) OMEN_RETURN_IF_ERROR(decode_column(c, &out->columns[c]));
  }
  return Status::OK();
}

Status decode_batch(std::span<const uint8_t> payload, std::span<const ColumnKind> expected,
                    DecodedBatch* out) {
  BatchReader reader;
  OMEN_RETURN_IF_ERROR(reader.open(payload, expected));
  return reader.decode(out);
}

}  // namespace omen
