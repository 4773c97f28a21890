// Batch codec (omen/batch_codec.h) on time-series batches: encode, full decode, one-column decode
// (projection) and decode plus a read of every value (what a sequential scan of cold rows does).
//
//   build/codec/bench/batch_bench [--benchmark_filter=Decode]
//
// Rows: timestamptz at 1 s steps (microseconds), a device id (0..63), a temperature with two
// decimals, a full-precision random-walk reading, and a short text ("sensor-<id>"). Arguments:
// rows per batch, zstd level (0: off). Reported: values/s (items_per_second: rows x 5 columns),
// payload bytes a row, raw bytes a row (8 per number, the text's bytes) and their ratio.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "omen/batch_codec.h"

namespace {

constexpr int kColumns = 5;

struct Rows {
  std::vector<int64_t> ts, device;
  std::vector<double> temp, reading;
  std::vector<std::string> host;
  std::vector<std::string_view> host_views;
  size_t raw_bytes = 0;

  explicit Rows(size_t n) : ts(n), device(n), temp(n), reading(n), host(n), host_views(n) {
    std::mt19937_64 rng(2024);
    double walk = 500;
    for (size_t i = 0; i < n; ++i) {
      ts[i] = 757382400000000 + static_cast<int64_t>(i) * 1000000;
      device[i] = static_cast<int64_t>(rng() % 64);
      temp[i] =
          std::round((20 + 4 * std::sin(static_cast<double>(i) / 300) + (rng() % 50) / 100.0) * 100) / 100;
      walk += (static_cast<double>(rng() % 20001) - 10000) / 7777.0;
      reading[i] = walk;
      host[i] = "sensor-" + std::to_string(device[i]);
      raw_bytes += 4 * 8 + host[i].size();
    }
    host_views.assign(host.begin(), host.end());
  }
  std::vector<omen::ColumnInput> inputs() const {
    return {omen::ColumnInput::int64(ts), omen::ColumnInput::int64(device), omen::ColumnInput::float64(temp),
            omen::ColumnInput::float64(reading), omen::ColumnInput::bytes_of(host_views)};
  }
};

const std::vector<omen::ColumnKind> kKinds = {omen::ColumnKind::kInt64, omen::ColumnKind::kInt64,
                                              omen::ColumnKind::kFloat64, omen::ColumnKind::kFloat64,
                                              omen::ColumnKind::kBytes};

omen::BatchEncodeOptions options(const benchmark::State& state) {
  omen::BatchEncodeOptions o;
  o.zstd_level = static_cast<int>(state.range(1));
  return o;
}

// Items are values: rows x the columns read.
void report(benchmark::State& state, const Rows& rows, size_t payload, int columns = kColumns) {
  const auto n = static_cast<double>(state.range(0));
  state.SetItemsProcessed(state.iterations() * state.range(0) * columns);
  state.counters["bytes/row"] = static_cast<double>(payload) / n;
  state.counters["raw bytes/row"] = static_cast<double>(rows.raw_bytes) / n;
  state.counters["ratio"] = static_cast<double>(rows.raw_bytes) / static_cast<double>(payload);
}

// A payload of the benchmark's rows, encoded once.
std::vector<uint8_t> payload_of(const Rows& rows, const benchmark::State& state) {
  std::vector<uint8_t> p;
  if (!omen::BatchEncoder(options(state))
           .encode(rows.inputs(), static_cast<uint32_t>(rows.ts.size()), &p)
           .ok())
    std::abort();
  return p;
}

void BM_Encode(benchmark::State& state) {
  Rows rows(static_cast<size_t>(state.range(0)));
  omen::BatchEncoder enc(options(state));
  std::vector<uint8_t> out;
  auto in = rows.inputs();
  for (auto _ : state) {
    if (!enc.encode(in, static_cast<uint32_t>(rows.ts.size()), &out).ok())
      state.SkipWithError("encode failed");
    benchmark::DoNotOptimize(out.data());
  }
  report(state, rows, out.size());
}

// Opens and decodes the benchmark's payload once an iteration (every column, or `selected`), then
// hands the batch to `use`.
template <class Use>
void decode_loop(benchmark::State& state, std::span<const uint32_t> selected, Use use) {
  Rows rows(static_cast<size_t>(state.range(0)));
  std::vector<uint8_t> p = payload_of(rows, state);
  omen::BatchReader reader;
  omen::DecodedBatch d;
  for (auto _ : state) {
    omen::Status s = reader.open(p, kKinds);
    if (s.ok()) s = selected.empty() ? reader.decode(&d) : reader.decode(selected, &d);
    if (!s.ok()) state.SkipWithError("decode failed");
    use(d);
  }
  report(state, rows, p.size(), selected.empty() ? kColumns : static_cast<int>(selected.size()));
}

void BM_Decode(benchmark::State& state) {
  decode_loop(state, {}, [](const omen::DecodedBatch& d) { benchmark::DoNotOptimize(d.columns.data()); });
}

// Decode, then read every value through the row accessors, as a scan producing tuples would.
void BM_DecodeAndScan(benchmark::State& state) {
  decode_loop(state, {}, [](const omen::DecodedBatch& d) {
    int64_t sum = 0;
    for (size_t r = 0; r < d.rows; ++r) {
      sum += d.int64(r, 0) + d.int64(r, 1) + static_cast<int64_t>(d.float64(r, 2) + d.float64(r, 3));
      sum += static_cast<int64_t>(d.bytes(r, 4).size()) + d.is_null(r, 4);
    }
    benchmark::DoNotOptimize(sum);
  });
}

// Projection: the timestamp column alone.
void BM_DecodeOneColumn(benchmark::State& state) {
  static const uint32_t kTsOnly[] = {0};
  decode_loop(state, kTsOnly,
              [](const omen::DecodedBatch& d) { benchmark::DoNotOptimize(d.columns.data()); });
}

void Args(benchmark::internal::Benchmark* b) {
  for (int64_t rows : {1000, 10000})
    for (int64_t level : {1, 0, -5}) b->Args({rows, level});
  b->ArgNames({"rows", "zstd"});
}

BENCHMARK(BM_Encode)->Apply(Args);
BENCHMARK(BM_Decode)->Apply(Args);
BENCHMARK(BM_DecodeAndScan)->Apply(Args);
BENCHMARK(BM_DecodeOneColumn)->Apply(Args);

}  // namespace

BENCHMARK_MAIN();
