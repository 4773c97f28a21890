// BatchEncoder: checks the input, fills NULL rows, encodes each column into its raw section (NULL
// bitmap, then the body), keeps the section's zstd frame when that pays, and writes the header last.
#include <zstd.h>

#include <algorithm>
#include <string>

#include "batch/columns.h"
#include "batch/format.h"
#include "util/crc32c.h"

namespace omen {

namespace {

struct FreeCctx {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

// Smaller sections are never compressed: a zstd frame costs about 10 bytes and a call.
constexpr size_t kMinCompressBytes = 64;

Status bad_column(size_t c, const std::string& what) {
  return Status::InvalidArgument("batch column " + std::to_string(c) + ": " + what);
}

size_t values_given(const ColumnInput& col) {
  switch (col.kind) {
    case ColumnKind::kInt64:
      return col.ints.size();
    case ColumnKind::kFloat64:
      return col.floats.size();
    case ColumnKind::kBytes:
      return col.bytes.size();
  }
  return 0;
}

Status check_column(const ColumnInput& col, size_t c, uint32_t rows) {
  if (col.kind != ColumnKind::kInt64 && col.kind != ColumnKind::kFloat64 && col.kind != ColumnKind::kBytes)
    return bad_column(c, "unknown kind");
  if (values_given(col) != rows)
    return bad_column(c, std::to_string(values_given(col)) + " values for " + std::to_string(rows) + " rows");
  if (!col.nulls.empty() && col.nulls.size() != rows)
    return bad_column(c,
                      std::to_string(col.nulls.size()) + " NULL flags for " + std::to_string(rows) + " rows");
  if (col.kind != ColumnKind::kBytes) return Status::OK();
  size_t total = 0;
  for (size_t i = 0; i < rows; ++i) {
    if (!col.nulls.empty() && col.nulls[i]) continue;
    total += std::min(col.bytes[i].size(), kBatchMaxPayloadBytes + 1);
    if (total > kBatchMaxPayloadBytes) return bad_column(c, "values exceed kBatchMaxPayloadBytes");
  }
  return Status::OK();
}

// The 64-bit patterns of n values of 8 bytes.
void copy_bits(const void* v, size_t n, std::vector<uint64_t>* bits) {
  bits->resize(n);
  if (n > 0) std::memcpy(bits->data(), v, 8 * n);
}

// Gives each NULL row the value of the row before it (leading NULLs: the first non-NULL value), so
// NULLs cost nothing in the delta encodings.
void fill_nulls(std::span<const bool> nulls, std::vector<uint64_t>* v) {
  auto first = std::find(nulls.begin(), nulls.end(), false);
  uint64_t prev = first == nulls.end() ? 0 : (*v)[first - nulls.begin()];
  for (size_t i = 0; i < v->size(); ++i) {
    if (nulls[i])
      (*v)[i] = prev;
    else
      prev = (*v)[i];
  }
}

}  // namespace

struct BatchEncoder::Impl {
  BatchEncodeOptions opt;
  std::unique_ptr<ZSTD_CCtx, FreeCctx> cctx{ZSTD_createCCtx()};
  detail::ColumnScratch scratch;
  std::vector<uint64_t> bits;
  std::vector<std::string_view> views;
  std::vector<uint8_t> raw, zbuf, best;
  BatchInfo info;
  std::vector<detail::SectionRef> sections;

  // The zstd frame of `src` in *dst and its size, or 0 if compression is off or does not pay.
  size_t compress(const std::vector<uint8_t>& src, std::vector<uint8_t>* dst) {
    if (opt.zstd_level == 0 || !cctx || (src.size() < kMinCompressBytes && !opt.always_compress)) return 0;
    dst->resize(ZSTD_compressBound(src.size()));
    size_t z =
        ZSTD_compressCCtx(cctx.get(), dst->data(), dst->size(), src.data(), src.size(), opt.zstd_level);
    if (ZSTD_isError(z) || (!opt.always_compress && z + src.size() / 16 > src.size())) return 0;
    dst->resize(z);
    return z;
  }

  // Appends the section whose raw form is `raw`: `frame` (z bytes) if z > 0, else raw itself.
  void append(const std::vector<uint8_t>& frame, size_t z, BatchColumnInfo* ci, std::vector<uint8_t>* out) {
    const std::vector<uint8_t>& stored = z > 0 ? frame : raw;
    ci->compressed = z > 0;
    ci->raw_bytes = static_cast<uint32_t>(raw.size());
    ci->stored_bytes = static_cast<uint32_t>(stored.size());
    out->insert(out->end(), stored.begin(), stored.end());
  }

  void store(BatchColumnInfo* ci, std::vector<uint8_t>* out) { append(zbuf, compress(raw, &zbuf), ci, out); }

  // Float64 without a forced encoding: decimal (if the values are) and, with zstd, the XOR and
  // plain byte planes are each encoded and compressed; the smallest stored section wins, raw
  // patterns (uncompressed: zstd seldom gains on them) when none is smaller.
  void store_float64(BatchColumnInfo* ci, std::vector<uint8_t>* out) {
    const size_t prefix = raw.size();
    size_t best_size = prefix + 8 * bits.size(), best_z = 0;
    auto winner = Float64Encoding::kRaw, last = Float64Encoding::kRaw;
    for (auto e : {Float64Encoding::kDecimal, Float64Encoding::kXorShuffle, Float64Encoding::kShuffle}) {
      if (e != Float64Encoding::kDecimal && opt.zstd_level == 0) break;  // byte planes pay only through zstd
      raw.resize(prefix);
      if (!detail::encode_float64(bits, e, &scratch, &raw)) continue;
      last = e;
      size_t z = compress(raw, &zbuf), size = z > 0 ? z : raw.size();
      if (size >= best_size) continue;
      best_size = size, best_z = z, winner = e;
      if (z > 0) best.swap(zbuf);
    }
    if (winner != last || winner == Float64Encoding::kRaw) {  // `raw` holds another body (or none)
      raw.resize(prefix);
      detail::encode_float64(bits, winner, &scratch, &raw);
    }
    ci->encoding = static_cast<uint8_t>(winner);
    append(best, best_z, ci, out);
  }

  Status encode_column(const ColumnInput& col, uint32_t rows, BatchColumnInfo* ci,
                       std::vector<uint8_t>* out) {
    ci->kind = col.kind;
    ci->has_nulls = std::find(col.nulls.begin(), col.nulls.end(), true) != col.nulls.end();
    raw.assign(ci->has_nulls ? detail::null_bitmap_bytes(rows) : 0, 0);
    for (size_t i = 0; ci->has_nulls && i < rows; ++i)
      raw[i >> 3] = static_cast<uint8_t>(raw[i >> 3] | (col.nulls[i] << (i & 7)));
    switch (col.kind) {
      case ColumnKind::kInt64:
        copy_bits(col.ints.data(), rows, &bits);
        if (ci->has_nulls) fill_nulls(col.nulls, &bits);
        OMEN_RETURN_IF_ERROR(detail::encode_int64(bits, opt.int64_encoding, &scratch, &raw, &ci->encoding));
        store(ci, out);
        break;
      case ColumnKind::kFloat64:
        copy_bits(col.floats.data(), rows, &bits);
        if (ci->has_nulls) fill_nulls(col.nulls, &bits);
        if (!opt.float64_encoding) {
          store_float64(ci, out);
          break;
        }
        if (!detail::encode_float64(bits, *opt.float64_encoding, &scratch, &raw))
          return Status::InvalidArgument("batch: kDecimal forced on a Float64 column of non-decimal values");
        ci->encoding = static_cast<uint8_t>(*opt.float64_encoding);
        store(ci, out);
        break;
      case ColumnKind::kBytes: {
        std::span<const std::string_view> v = col.bytes;
        if (ci->has_nulls) {
          views.assign(v.begin(), v.end());
          for (size_t i = 0; i < rows; ++i)
            if (col.nulls[i]) views[i] = {};
          v = views;
        }
        detail::encode_bytes(v, opt.bytes_encoding, &scratch, &raw, &ci->encoding);
        store(ci, out);
        break;
      }
    }
    return Status::OK();
  }
};

BatchEncoder::BatchEncoder(BatchEncodeOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = options;
}
BatchEncoder::~BatchEncoder() = default;
BatchEncoder::BatchEncoder(BatchEncoder&&) noexcept = default;
BatchEncoder& BatchEncoder::operator=(BatchEncoder&&) noexcept = default;

const BatchEncodeOptions& BatchEncoder::options() const noexcept { return impl_->opt; }

Status BatchEncoder::encode(std::span<const ColumnInput> columns, uint32_t rows, std::vector<uint8_t>* out) {
  if (rows > kBatchMaxRows)
    return Status::InvalidArgument("batch of " + std::to_string(rows) + " rows exceeds kBatchMaxRows");
  if (columns.size() > kBatchMaxColumns)
    return Status::InvalidArgument("batch of " + std::to_string(columns.size()) +
                                   " columns exceeds kBatchMaxColumns");
  for (size_t c = 0; c < columns.size(); ++c) OMEN_RETURN_IF_ERROR(check_column(columns[c], c, rows));
  Impl& m = *impl_;
  m.info.rows = rows;
  m.info.columns.resize(columns.size());
  m.sections.resize(columns.size());
  out->assign(detail::batch_header_bytes(columns.size()), 0);
  for (size_t c = 0; c < columns.size(); ++c) {
    const size_t at = out->size();
    OMEN_RETURN_IF_ERROR(m.encode_column(columns[c], rows, &m.info.columns[c], out));
    m.sections[c] = {at, detail::crc32c(out->data() + at, out->size() - at)};
    if (out->size() > kBatchMaxPayloadBytes)
      return Status::InvalidArgument("batch payload exceeds kBatchMaxPayloadBytes at column " +
                                     std::to_string(c));
  }
  detail::write_batch_header(m.info, m.sections, out);
  return Status::OK();
}

}  // namespace omen
