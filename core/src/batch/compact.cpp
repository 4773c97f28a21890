// Compaction of a decoded batch (omen/batch_codec.h): marked rows become NULL in each column where
// that makes the column smaller; every other value is encoded again as it was.
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
  const auto rows32 = static_cast<uint32_t>(n);
  // Per column: its NULL flags as they were and with the marked rows NULL, and the views of its
  // Bytes values (the arrays stay the batch's). Each column keeps the variant whose section is
  // smaller: a NULL row costs a Bytes column its value, but an Int64 or Float64 column stores a
  // slot for every row (filled from its neighbour), where a NULL can break a regular sequence.
  std::vector<std::unique_ptr<bool[]>> kept, nulled;
  std::vector<std::vector<std::string_view>> views;
  std::vector<ColumnInput> inputs;
  inputs.reserve(batch.columns.size());
  std::vector<uint8_t> probe;
  for (size_t c = 0; c < batch.columns.size(); ++c) {
    const DecodedColumn& col = batch.columns[c];
    if (!col.present) return Status::InvalidArgument("batch column " + std::to_string(c) + " is not decoded");
    auto& keep = kept.emplace_back(new bool[n > 0 ? n : 1]);
    auto& drop = nulled.emplace_back(new bool[n > 0 ? n : 1]);
    for (size_t row = 0; row < n; ++row) {
      keep[row] = col.is_null(row);
      drop[row] = keep[row] || marked(rows, row);
    }
    auto& v = views.emplace_back(col.kind == ColumnKind::kBytes ? n : 0);
    for (size_t row = 0; row < v.size(); ++row)
      if (!keep[row]) v[row] = col.bytes(row);
    auto input = [&](const bool* flags) {
      std::span<const bool> f(flags, n);
      switch (col.kind) {
        case ColumnKind::kInt64:
          return ColumnInput::int64(col.ints, f);
        case ColumnKind::kFloat64:
          return ColumnInput::float64(col.floats, f);
        case ColumnKind::kBytes:
          break;
      }
      return ColumnInput::bytes_of(v, f);
    };
    ColumnInput as_was = input(keep.get()), without = input(drop.get());
    Status s = encoder.encode(std::span<const ColumnInput>(&as_was, 1), rows32, &probe);
    if (!s.ok()) return s;
    size_t was = probe.size();
    s = encoder.encode(std::span<const ColumnInput>(&without, 1), rows32, &probe);
    if (!s.ok()) return s;
    inputs.push_back(probe.size() < was ? without : as_was);
  }
  return encoder.encode(inputs, rows32, out);
}

}  // namespace omen
