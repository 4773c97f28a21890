// Helpers shared by the batch codec tests: owned test columns, generators (time series, edge
// values, NULL patterns) and a value-by-value comparison of a decoded batch with its input.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "omen/batch_codec.h"

namespace omen::test {

// One column's values, owned (ColumnInput only views them).
struct TestColumn {
  ColumnKind kind = ColumnKind::kInt64;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
  std::vector<std::string_view> views;
  std::unique_ptr<bool[]> nulls;  // null: no NULL flags given
  size_t rows = 0;

  bool is_null(size_t i) const { return nulls && nulls[i]; }
  ColumnInput input() const {
    std::span<const bool> n = nulls ? std::span<const bool>(nulls.get(), rows) : std::span<const bool>();
    switch (kind) {
      case ColumnKind::kInt64:
        return ColumnInput::int64(ints, n);
      case ColumnKind::kFloat64:
        return ColumnInput::float64(floats, n);
      case ColumnKind::kBytes:
        return ColumnInput::bytes_of(views, n);
    }
    return {};
  }
  // Gives NULL flags: row i is NULL iff is_null(i, rows).
  template <class F>
  void set_nulls(F is_null) {
    nulls = std::make_unique<bool[]>(rows);
    for (size_t i = 0; i < rows; ++i) nulls[i] = is_null(i, rows);
  }
};

// A column of `kind` holding v (moved into `field`), without NULL flags.
template <class T>
TestColumn column_of(ColumnKind kind, std::vector<T> TestColumn::*field, std::vector<T> v) {
  TestColumn c;
  c.kind = kind;
  c.rows = v.size();
  c.*field = std::move(v);
  c.views.assign(c.strings.begin(), c.strings.end());  // Bytes: views of the strings
  return c;
}
inline TestColumn int_column(std::vector<int64_t> v) {
  return column_of(ColumnKind::kInt64, &TestColumn::ints, std::move(v));
}
inline TestColumn float_column(std::vector<double> v) {
  return column_of(ColumnKind::kFloat64, &TestColumn::floats, std::move(v));
}
inline TestColumn bytes_column(std::vector<std::string> v) {
  return column_of(ColumnKind::kBytes, &TestColumn::strings, std::move(v));
}

struct TestBatch {
  uint32_t rows = 0;
  std::vector<TestColumn> columns;

  std::vector<ColumnInput> inputs() const {
    std::vector<ColumnInput> in;
    for (const TestColumn& c : columns) in.push_back(c.input());
    return in;
  }
  std::vector<ColumnKind> kinds() const {
    std::vector<ColumnKind> k;
    for (const TestColumn& c : columns) k.push_back(c.kind);
    return k;
  }
  std::vector<uint8_t> encode(BatchEncodeOptions o = {}) const {
    std::vector<uint8_t> out;
    Status s = BatchEncoder(o).encode(inputs(), rows, &out);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return out;
  }
};

inline uint64_t bits_of(double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}
inline double double_of(uint64_t b) {
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

// Column c of `got` equals `want` row by row (NULL flags, then the value of every non-NULL row;
// floats compared as bit patterns).
inline ::testing::AssertionResult same_column(const TestColumn& want, const DecodedColumn& got, size_t c) {
  if (!got.present || got.kind != want.kind)
    return ::testing::AssertionFailure() << "column " << c << " missing";
  for (size_t i = 0; i < want.rows; ++i) {
    if (got.is_null(i) != want.is_null(i))
      return ::testing::AssertionFailure() << "column " << c << " row " << i << ": NULL flag differs";
    if (want.is_null(i)) continue;
    bool same = want.kind == ColumnKind::kInt64     ? got.int64(i) == want.ints[i]
                : want.kind == ColumnKind::kFloat64 ? got.float64_bits(i) == bits_of(want.floats[i])
                                                    : got.bytes(i) == want.views[i];
    if (!same) return ::testing::AssertionFailure() << "column " << c << " row " << i << ": value differs";
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult same_batch(const TestBatch& want, const DecodedBatch& got) {
  if (got.rows != want.rows || got.columns.size() != want.columns.size())
    return ::testing::AssertionFailure() << "shape differs: " << got.rows << "x" << got.columns.size();
  for (size_t c = 0; c < want.columns.size(); ++c) {
    auto r = same_column(want.columns[c], got.columns[c], c);
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

// Decodes `payload` with the kinds of `want` and compares.
inline ::testing::AssertionResult round_trips(const TestBatch& want, const std::vector<uint8_t>& payload) {
  DecodedBatch got;
  Status s = decode_batch(payload, want.kinds(), &got);
  if (!s.ok()) return ::testing::AssertionFailure() << s.to_string();
  return same_batch(want, got);
}

// The benchmark's shape of time-series rows: timestamptz at 1 s steps (microseconds), a device
// id, a temperature (2 decimals, drifting), a random-walk reading and a short status text.
inline TestBatch time_series(uint32_t rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> ts(rows), device(rows);
  std::vector<double> temp(rows), reading(rows);
  std::vector<std::string> status(rows);
  const char* states[] = {"ok", "ok", "ok", "warn", "error"};
  double walk = 100;
  for (uint32_t i = 0; i < rows; ++i) {
    ts[i] = 757382400000000 + int64_t{1000000} * i;
    device[i] = static_cast<int64_t>(rng() % 64);
    temp[i] = std::round((21.5 + 3 * std::sin(i / 50.0) + (rng() % 100) / 100.0) * 100) / 100;
    walk += static_cast<double>(rng() % 2001) / 1000.0 - 1.0;
    reading[i] = walk;
    status[i] = states[rng() % 5];
  }
  TestBatch b;
  b.rows = rows;
  b.columns.push_back(int_column(ts));
  b.columns.push_back(int_column(device));
  b.columns.push_back(float_column(temp));
  b.columns.push_back(float_column(reading));
  b.columns.push_back(bytes_column(status));
  return b;
}

// NULL patterns by name: none (flags given, all false), all, alternating, random, first, last.
inline bool null_pattern(int pattern, size_t i, size_t rows) {
  switch (pattern) {
    case 0:
      return false;
    case 1:
      return true;
    case 2:
      return i % 2 == 1;
    case 3:
      return (i * 2654435761u >> 7) % 3 == 0;
    case 4:
      return i == 0;
    default:
      return i + 1 == rows;
  }
}
inline constexpr int kNullPatterns = 6;

}  // namespace omen::test
