// The column bodies of a batch payload, one kind each (docs/format.md, "Cold batch payload").
// An encoder appends one body to a raw section; a decoder reads one through a cursor over a raw
// section (with kSectionSlack readable bytes behind it) and refuses it unless it is consumed exactly.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "batch/dictionary.h"
#include "batch/format.h"

namespace omen::detail {

// Scratch arrays reused between columns by a BatchEncoder or a BatchReader.
struct ColumnScratch {
  std::vector<uint64_t> values, work, scaled;
  std::vector<BytesRef> refs;
  Dictionary<uint64_t> ints;
  Dictionary<std::string_view> strings;
};

// kCorruption "batch payload: <kind> body: <what>".
inline Status body_corruption(const char* kind, const char* what) {
  return batch_corruption(std::string(kind) + " body: " + what);
}

// Int64. `v` has its NULL rows filled. Appends the body of the smallest encoding (or of `forced`)
// and sets *encoding; kInvalidArgument if `forced` is kConstant and v holds two values.
Status encode_int64(std::span<const uint64_t> v, std::optional<Int64Encoding> forced, ColumnScratch* s,
                    std::vector<uint8_t>* out, uint8_t* encoding);
Status decode_int64(ByteCursor c, uint8_t encoding, size_t rows, uint64_t* out);

// Float64, as bit patterns. Appends the body of encoding e; false (nothing appended) when e is
// kDecimal and some value is not n / 10^e for any e <= 18. kRaw and the byte planes are 8 bytes a
// row and differ in what zstd makes of them.
bool encode_float64(std::span<const uint64_t> bits, Float64Encoding e, ColumnScratch* s,
                    std::vector<uint8_t>* out);
Status decode_float64(ByteCursor c, uint8_t encoding, size_t rows, ColumnScratch* s, double* out);

// Bytes. `v` has its NULL rows empty. Appends the body of the smaller encoding (or of `forced`).
void encode_bytes(std::span<const std::string_view> v, std::optional<BytesEncoding> forced, ColumnScratch* s,
                  std::vector<uint8_t>* out, uint8_t* encoding);
// Fills out->refs and out->data.
Status decode_bytes(ByteCursor c, uint8_t encoding, size_t rows, ColumnScratch* s, DecodedColumn* out);

}  // namespace omen::detail
