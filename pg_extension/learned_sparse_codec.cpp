// The stored form of a sparse learned index's block ranges (docs/format.md, "Sparse layout"):
// quantized, then encoded by the core's batch codec (omen/batch_codec.h), whose delta-of-delta
// and frame-of-reference encodings make a regular series of ranges cost a few bits per block.
//
// Quantizing: every low is rounded down and every high up to a multiple of 2^shift, so a stored
// range holds the true one (scans stay supersets). shift is chosen from the median range width so
// that rounding widens a typical range by at most 1/16 of it: a lookup rarely reads one block more.
//
// Stream on the fence pages: chunks of up to 65535 blocks (the codec's batch limit), each a
// uint32 payload length and a payload of two Int64 columns (low >> shift, high >> shift, mapped to
// signed order-preserving values).
#include "learned_sparse.h"

#include <omen/batch_codec.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace {

constexpr uint32 kChunkBlocks = 65535;
constexpr uint64 kSignBit = uint64{1} << 63;

int64 to_signed(uint64 v) { return static_cast<int64>(v ^ kSignBit); }
uint64 to_unsigned(int64 v) { return static_cast<uint64>(v) ^ kSignBit; }

struct EncoderState {
  omen::BatchEncoder encoder;
  std::vector<uint8_t> stream;
  std::vector<int64_t> lows, highs;
  std::vector<uint8_t> payload;
  char error[160];
};

}  // namespace

uint32 sparse_range_shift(const uint64* lows, const uint64* highs, uint32 n) {
  if (n < 2) return 0;
  uint64* spans = static_cast<uint64*>(palloc(sizeof(uint64) * (n - 1)));
  uint32 m = 0;
  for (uint32 b = 0; b + 1 < n; b++)  // the last block is open above
    if (highs[b] >= lows[b]) spans[m++] = highs[b] - lows[b];
  uint32 shift = 0;
  if (m > 0) {
    std::nth_element(spans, spans + m / 2, spans + m);
    uint64 median = spans[m / 2] / 16;
    while (shift < 62 && (uint64{2} << shift) <= median) shift++;
  }
  pfree(spans);
  return shift;
}

char* sparse_encode_ranges(const uint64* lows, const uint64* highs, uint32 n, uint32 shift, Size* nbytes) {
  auto* st = omen_pg::make_owned<EncoderState>(CurrentMemoryContext, "allocating the fence encoder",
                                               [] { return new EncoderState(); });
  bool ok = omen_pg::call_core("encoding block ranges", [st, lows, highs, n, shift] {
    for (uint32 from = 0; from < n; from += kChunkBlocks) {
      uint32 rows = std::min(kChunkBlocks, n - from);
      st->lows.resize(rows);
      st->highs.resize(rows);
      for (uint32 i = 0; i < rows; i++) {
        st->lows[i] = to_signed(lows[from + i] >> shift);
        st->highs[i] = to_signed(highs[from + i] >> shift);
      }
      omen::ColumnInput cols[2] = {omen::ColumnInput::int64(st->lows), omen::ColumnInput::int64(st->highs)};
      omen::Status s = st->encoder.encode(cols, rows, &st->payload);
      if (!s.ok()) {
        std::snprintf(st->error, sizeof st->error, "%s", s.to_string().c_str());
        return false;
      }
      uint32 len = static_cast<uint32>(st->payload.size());
      const auto* l = reinterpret_cast<const uint8_t*>(&len);
      st->stream.insert(st->stream.end(), l, l + sizeof len);
      st->stream.insert(st->stream.end(), st->payload.begin(), st->payload.end());
    }
    return true;
  });
  if (!ok) elog(ERROR, "could not encode the block ranges of a sparse learned index: %s", st->error);
  *nbytes = st->stream.size();
  char* out = static_cast<char*>(palloc_extended(Max(*nbytes, 1), MCXT_ALLOC_HUGE));
  memcpy(out, st->stream.data(), *nbytes);
  return out;
}

const char* sparse_decode_ranges(const char* bytes, Size nbytes, uint32 n, uint32 shift, uint64* lows,
                                 uint64* highs, char* why, Size why_size) {
  if (shift > 62) return "its quantization shift is out of range";
  bool ok = omen_pg::call_core("decoding block ranges", [=] {
    const omen::ColumnKind kinds[2] = {omen::ColumnKind::kInt64, omen::ColumnKind::kInt64};
    omen::DecodedBatch batch;
    Size at = 0;
    uint64 mask = (uint64{1} << shift) - 1;
    for (uint32 from = 0; from < n; from += kChunkBlocks) {
      uint32 rows = std::min(kChunkBlocks, n - from), len;
      if (nbytes - at < sizeof len) {
        std::snprintf(why, why_size, "the stream ends before block %u", from);
        return false;
      }
      memcpy(&len, bytes + at, sizeof len);
      at += sizeof len;
      if (nbytes - at < len) {
        std::snprintf(why, why_size, "a chunk runs past the stream's end");
        return false;
      }
      std::span<const uint8_t> payload(reinterpret_cast<const uint8_t*>(bytes + at), len);
      omen::Status s = omen::decode_batch(payload, kinds, &batch);
      if (s.ok() && batch.rows != rows) s = omen::Status::Corruption("a chunk holds another block count");
      if (!s.ok()) {
        std::snprintf(why, why_size, "%s", s.to_string().c_str());
        return false;
      }
      for (uint32 i = 0; i < rows; i++) {
        lows[from + i] = to_unsigned(batch.int64(i, 0)) << shift;
        highs[from + i] = (to_unsigned(batch.int64(i, 1)) << shift) | mask;
      }
      at += len;
    }
    if (at != nbytes) {
      std::snprintf(why, why_size, "the stream has bytes after its last chunk");
      return false;
    }
    return true;
  });
  return ok ? nullptr : why;
}
