// Batch codec: the column-wise encoding the `tiered` table AM stores its cold rows with (one bytea
// payload per batch of rows; the byte layout is in docs/format.md, "Cold batch payload").
//
// A batch is `rows` rows of a fixed list of columns. Each column has a kind (Int64, Float64,
// Bytes), a NULL bitmap when it has NULLs, and an encoding chosen by measuring (smallest wins:
// constant, frame of reference, delta, delta-of-delta or dictionary for Int64; raw, byte-shuffled
// (after XOR with the previous value) or decimal (scaled to integers) for Float64; plain or
// dictionary for Bytes), then its own zstd frame when that pays. Every column is its own section of the
// payload, so one column decodes without touching the others' bytes.
//
// Integrity: the header (with the column directory) and every section carry a CRC-32C; a reader
// checks the header's on open() and a section's before decoding it, and checks every size and
// offset against the buffer before use. Corrupt, truncated, extended, foreign or newer payloads
// and payloads of another column schema are refused with a Status (never an exception, never a
// read outside the buffer). The only exception either side throws is std::bad_alloc.
//
// Thread safety: BatchEncoder and BatchReader hold scratch buffers and a zstd context; one thread
// uses one at a time (a moved-from one may only be assigned or destroyed). DecodedBatch and
// DecodedColumn are plain values: any number of threads may read one that nobody writes. The codec
// keeps no global state: it can run on any thread, inside a Postgres backend included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "omen/status.h"

namespace omen {

// What a column holds; the values are stored in the payload. The glue maps every Postgres type onto
// one: Int64 (int2/int4/int8, bool, date, time, timestamp[tz], oid, ... as signed 64-bit), Float64
// (float8; float4 widened; the 64-bit pattern is kept exactly, NaN payloads and -0 included),
// Bytes (the value's bytes, opaque: text, bytea, numeric, uuid, ...).
enum class ColumnKind : uint8_t { kInt64 = 1, kFloat64 = 2, kBytes = 3 };

// Encodings per kind (stored values; see docs/format.md for each body). Float64 tries kDecimal and
// (with zstd) both byte-plane layouts, and keeps the smallest stored section; kRaw when none is smaller.
enum class Int64Encoding : uint8_t {
  kConstant = 0,          // one value for every row
  kFrameOfReference = 1,  // (v - min) bit-packed
  kDelta = 2,             // first value, then (v[i] - v[i-1]) frame-of-reference packed
  kDeltaOfDelta = 3,      // first value and delta, then the deltas' deltas packed
  kDictionary = 4,        // distinct values, then each row's index packed
};
enum class Float64Encoding : uint8_t {
  kRaw = 0,         // the 64-bit patterns, little-endian
  kShuffle = 1,     // byte planes: byte 0 of every value, then byte 1, ...
  kXorShuffle = 2,  // byte planes of (bits[i] XOR bits[i-1])
  kDecimal = 3,     // every value is exactly n / 10^e (e <= 18): the integers n as an Int64 body
};
enum class BytesEncoding : uint8_t {
  kPlain = 0,       // lengths packed, then the bytes concatenated
  kDictionary = 1,  // distinct values, then each row's index packed
};

// Limits. encode() refuses larger batches with kInvalidArgument.
inline constexpr uint32_t kBatchMaxRows = 65535;
inline constexpr uint32_t kBatchMaxColumns = 1600;  // Postgres' MaxHeapAttributeNumber
// Largest payload (and so largest Bytes value, and largest total of one Bytes column's values):
// what a bytea can hold (1 GB varlena limit minus its 4-byte header).
inline constexpr size_t kBatchMaxPayloadBytes = 0x3FFFFFFF - 4;

// One column to encode: views of the caller's arrays, read during encode() only (not retained).
// The span of the column's kind has exactly `rows` entries; the others are ignored.
struct ColumnInput {
  ColumnKind kind = ColumnKind::kInt64;
  std::span<const int64_t> ints;            // kInt64
  std::span<const double> floats;           // kFloat64 (bit patterns kept exactly)
  std::span<const std::string_view> bytes;  // kBytes: each at most kBatchMaxPayloadBytes
  // Empty: no NULLs. Else one per row, true = NULL; the value at a NULL row is never read.
  std::span<const bool> nulls;

  static ColumnInput int64(std::span<const int64_t> v, std::span<const bool> nulls = {}) {
    return {ColumnKind::kInt64, v, {}, {}, nulls};
  }
  static ColumnInput float64(std::span<const double> v, std::span<const bool> nulls = {}) {
    return {ColumnKind::kFloat64, {}, v, {}, nulls};
  }
  static ColumnInput bytes_of(std::span<const std::string_view> v, std::span<const bool> nulls = {}) {
    return {ColumnKind::kBytes, {}, {}, v, nulls};
  }
};

struct BatchEncodeOptions {
  // zstd level for the sections (1 = zstd's fast default; negative = faster levels; 0 = never
  // compress). A section is kept compressed only if that saves at least 1/16 of its size, or when
  // always_compress is set (tests).
  int zstd_level = 1;
  bool always_compress = false;
  // Forced encodings for the columns of that kind (tests, experiments); nullopt: the smallest.
  // Forcing Int64Encoding::kConstant on a column with two values, or Float64Encoding::kDecimal on
  // a column with a value that is no decimal (NaN, infinities, -0, too many digits), fails with
  // kInvalidArgument.
  std::optional<Int64Encoding> int64_encoding;
  std::optional<Float64Encoding> float64_encoding;
  std::optional<BytesEncoding> bytes_encoding;
};

// Encodes batches. Holds a zstd context and scratch space: reuse one per thread.
class BatchEncoder {
 public:
  explicit BatchEncoder(BatchEncodeOptions options = {});
  ~BatchEncoder();
  BatchEncoder(BatchEncoder&&) noexcept;
  BatchEncoder& operator=(BatchEncoder&&) noexcept;

  // Replaces *out with the payload of `rows` rows of `columns` (zero columns allowed).
  // kInvalidArgument, *out unspecified, when: rows > kBatchMaxRows, more than kBatchMaxColumns
  // columns, a column's value or nulls span has the wrong size, a Bytes value or column total or
  // the payload exceeds kBatchMaxPayloadBytes, or a forced encoding cannot hold the column.
  Status encode(std::span<const ColumnInput> columns, uint32_t rows, std::vector<uint8_t>* out);

  const BatchEncodeOptions& options() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What the header says about one column.
struct BatchColumnInfo {
  ColumnKind kind = ColumnKind::kInt64;
  uint8_t encoding = 0;  // an Int64Encoding, Float64Encoding or BytesEncoding value, by kind
  bool has_nulls = false;
  bool compressed = false;    // the section is a zstd frame
  uint32_t stored_bytes = 0;  // the section's size in the payload
  uint32_t raw_bytes = 0;     // its size before compression
};

struct BatchInfo {
  uint32_t rows = 0;
  std::vector<BatchColumnInfo> columns;
};

// Reads only the header: magic, version, the header's CRC, and every section size against the
// payload. kCorruption if any check fails, kNotSupported for another format version. Sections
// are not read (their CRCs are checked when they are decoded).
Status peek_batch(std::span<const uint8_t> payload, BatchInfo* info);

// peek_batch() from the first bytes of a payload of `payload_bytes` bytes (a slice of a stored
// value, read before deciding how much more to read). The same checks, the sizes held against
// payload_bytes; kInvalidArgument when the header does not fit in `prefix` (read more and retry).
Status peek_batch_prefix(std::span<const uint8_t> prefix, size_t payload_bytes, BatchInfo* info);

// Where column `column`'s section ends in the payload `info` describes (from a successful peek):
// the bytes a reader needs to decode every column up to that one.
// REQUIRES: column < info.columns.size().
size_t batch_section_end(const BatchInfo& info, size_t column);

// Where a Bytes value lies in DecodedColumn::data.
struct BytesRef {
  uint32_t offset = 0;
  uint32_t size = 0;
};

// One decoded column: flat arrays of `rows` entries. Filled by BatchReader; read-only to users.
// The value at a NULL row is unspecified (but a Bytes ref is always inside `data`).
struct DecodedColumn {
  ColumnKind kind = ColumnKind::kInt64;
  bool present = false;            // false: the decode did not select this column (arrays empty)
  std::vector<uint8_t> null_bits;  // empty: no NULLs; else bit (row % 8) of byte row / 8 set = NULL
  std::vector<int64_t> ints;       // kInt64
  std::vector<double> floats;      // kFloat64
  std::vector<BytesRef> refs;      // kBytes: each row's value in `data`
  std::vector<char> data;          // kBytes

  // REQUIRES (all accessors): present, row < rows of the batch, and the accessor of the kind.
  bool is_null(size_t row) const { return !null_bits.empty() && ((null_bits[row >> 3] >> (row & 7)) & 1); }
  int64_t int64(size_t row) const { return ints[row]; }
  double float64(size_t row) const { return floats[row]; }
  uint64_t float64_bits(size_t row) const {
    uint64_t b;
    std::memcpy(&b, &floats[row], sizeof b);
    return b;
  }
  std::string_view bytes(size_t row) const { return {data.data() + refs[row].offset, refs[row].size}; }
};

// A decoded batch: row accessors over its columns' arrays, without materialising rows.
struct DecodedBatch {
  uint32_t rows = 0;
  std::vector<DecodedColumn> columns;  // one per column of the batch

  // REQUIRES: column < columns.size(), then as DecodedColumn's accessors.
  bool is_null(size_t row, size_t column) const { return columns[column].is_null(row); }
  int64_t int64(size_t row, size_t column) const { return columns[column].int64(row); }
  double float64(size_t row, size_t column) const { return columns[column].float64(row); }
  std::string_view bytes(size_t row, size_t column) const { return columns[column].bytes(row); }
};

// Validates and decodes payloads. Holds a zstd context and scratch space: reuse one per thread.
class BatchReader {
 public:
  BatchReader();
  ~BatchReader();
  BatchReader(BatchReader&&) noexcept;
  BatchReader& operator=(BatchReader&&) noexcept;

  // Checks what peek_batch() checks, and that the batch's column kinds are exactly `expected`
  // (else kCorruption naming the first difference). On success the reader keeps a view of
  // `payload`, which the caller keeps alive and unchanged until the next open() or the reader's end.
  // On failure the reader is closed.
  Status open(std::span<const uint8_t> payload, std::span<const ColumnKind> expected);

  // REQUIRES: the last open() succeeded (else these are empty).
  const BatchInfo& info() const noexcept;
  uint32_t rows() const noexcept { return info().rows; }
  size_t columns() const noexcept { return info().columns.size(); }

  // Checks the section's CRC, decompresses it and decodes it into *out (its arrays are reused).
  // kCorruption if the section fails a check; kInvalidArgument if no batch is open or column is out
  // of range. *out is unspecified after an error.
  Status decode_column(size_t column, DecodedColumn* out);
  // Every column / only `selected` (any order, repeats allowed; the others are left not present).
  Status decode(DecodedBatch* out);
  Status decode(std::span<const uint32_t> selected, DecodedBatch* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Compaction. Rows of a batch that no reader needs any more (the glue: rows deleted for every
// snapshot) are stored again as NULL: they keep their row numbers (a reader's addresses stay
// valid), and a Bytes column no longer stores their values. `rows` marks them: bit (row % 8) of
// byte row / 8 set; rows past the span's end are not marked.
// How many marked rows still hold a value in some column of `batch` (every column decoded).
uint32_t batch_rows_with_values(const DecodedBatch& batch, std::span<const uint8_t> rows);
// Replaces *out with `batch` (every column decoded) encoded by `encoder`, the marked rows NULL in
// each column whose section that makes smaller (an Int64 or Float64 column stores a slot for every
// row, and NULLs filled from their neighbours can break a regular sequence: such a column keeps
// its values), every other value as it was; so *out is never larger than the batch encoded as it
// was. kInvalidArgument when a column is not decoded; else what encode() returns.
Status encode_without_rows(BatchEncoder& encoder, const DecodedBatch& batch, std::span<const uint8_t> rows,
                           std::vector<uint8_t>* out);

// One-shot open() + decode() with a temporary reader (allocates a zstd context per call: a scan
// keeps a BatchReader instead).
Status decode_batch(std::span<const uint8_t> payload, std::span<const ColumnKind> expected,
                    DecodedBatch* out);

}  // namespace omen
