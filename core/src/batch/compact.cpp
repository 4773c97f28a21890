// Compaction of a decoded batch (omen/batch_codec.h): marked rows become NULL in every column, the
// others are encoded again as they were.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "omen/batch_codec.h"

namespace omen {

namespace {

bool marked(std::span<const uint8_t> rows, size_t row) {
  return (row >> 3) < rows.size() && ((rows[row >> 3] >> (row & 7)) & 1);
}

}  // namespace

uint32_t batch_rows_with_values(const DecodedBatch& batch, std::span<const uint8_t> rows) {
  uint32_t n = 0;
  for (size_t row = 0; row < batch.rows; ++row) {
    if (!marked(rows, row)) continue;
    for (const DecodedColumn& c : batch.columns) {
      if (!c.is_null(row)) {
        ++n;
        break;
      }
    }
  }
  return n;
}

Status encode_without_rows(BatchEncoder& encoder, const DecodedBatch& batch, std::span<const uint8_t> rows,
                           std::vector<uint8_t>* out) {
  const size_t n = batch.rows;
  std::vector<ColumnInput> inputs;
  inputs.reserve(batch.columns.size());
  // Per column: its NULL flags, and the views of its Bytes values (the arrays stay the batch's).
  std::vector<std::unique_ptr<bool[]>> nulls;
  std::vector<std::vector<std::string_view>> views;
  for (size_t c = 0; c < batch.columns.size(); ++c) {
    const DecodedColumn& col = batch.columns[c];
    if (!col.present) return Status::InvalidArgument("batch column " + std::to_string(c) + " is not decoded");
    auto& flags = nulls.emplace_back(new bool[n > 0 ? n : 1]);
    for (size_t row = 0; row < n; ++row) flags[row] = col.is_null(row) || marked(rows, row);
    std::span<const bool> f(flags.get(), n);
    switch (col.kind) {
      case ColumnKind::kInt64:
        inputs.push_back(ColumnInput::int64(col.ints, f));
        break;
      case ColumnKind::kFloat64:
        inputs.push_back(ColumnInput::float64(col.floats, f));
        break;
      case ColumnKind::kBytes: {
        auto& v = views.emplace_back(n);
        for (size_t row = 0; row < n; ++row)
          if (!flags[row]) v[row] = col.bytes(row);
        inputs.push_back(ColumnInput::bytes_of(v, f));
        break;
      }
    }
  }
  return encoder.encode(inputs, static_cast<uint32_t>(n), out);
}

}  // namespace omen
