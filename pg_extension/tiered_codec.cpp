// Rows of a tiered table -> payloads of the core's batch codec (omen/batch_codec.h); the way back
// is tiered_decode.cpp.
//
// Each attribute maps onto one codec column by its physical form, never by its name or default:
// float4/float8 -> Float64 (float4 widened, exact); other by-value types of at most 8 bytes (int2/4/8,
// bool, date, time, timestamp[tz], oid, ...) -> Int64; everything else -> Bytes: a varlena's data
// (detoasted, decompressed), a cstring with its terminating zero, a fixed-length by-reference value's
// attlen bytes. Dropped attributes are stored as NULL. A batch written before ADD COLUMN has fewer
// columns: the missing ones read as the attribute's missing value, as heap tuples do.
//
// The codec's objects (encoder, reader, decoded arrays) are C++ objects owned by a memory context
// (omen_pg::make_owned), never alive in a frame that can ereport.
#include "tiered.h"

#include <omen/batch_codec.h>

#include <string>
#include <vector>

extern "C" {
#include "access/detoast.h"
#include "access/heaptoast.h"
#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "utils/memutils.h"
}

omen::ColumnKind tiered_column_kind(Form_pg_attribute att) {
  if (!att->attisdropped && (att->atttypid == FLOAT8OID || att->atttypid == FLOAT4OID))
    return omen::ColumnKind::kFloat64;
  if (att->attisdropped || (att->attbyval && att->attlen > 0 && att->attlen <= 8))
    return omen::ColumnKind::kInt64;
  return omen::ColumnKind::kBytes;
}

namespace {

struct EncoderState {
  omen::BatchEncoder encoder;
  std::vector<uint8_t> out;
  std::string error;
};

}  // namespace

// One column's values for up to `capacity` rows (plain arrays in the builder's context).
struct BuilderColumn {
  omen::ColumnKind kind;
  int16 attlen;
  bool is_float4;
  bool* nulls;
  int64* ints;
  double* floats;
  std::string_view* bytes;  // trivially destructible views of values copied into rows_cxt
};

struct BatchBuilder {
  TupleDesc desc;
  uint32 capacity, rows;
  BuilderColumn* cols;
  MemoryContext rows_cxt;  // copies of by-reference values, reset by finish
  EncoderState* enc;
};

BatchBuilder* batch_builder_create(TupleDesc desc, uint32 capacity) {
  auto* b = static_cast<BatchBuilder*>(palloc0(sizeof(BatchBuilder)));
  b->desc = desc;
  b->capacity = capacity;
  b->cols = static_cast<BuilderColumn*>(palloc0(sizeof(BuilderColumn) * Max(desc->natts, 1)));
  for (int j = 0; j < desc->natts; j++) {
    Form_pg_attribute att = TupleDescAttr(desc, j);
    BuilderColumn* c = &b->cols[j];
    c->kind = tiered_column_kind(att);
    c->attlen = att->attlen;
    c->is_float4 = att->atttypid == FLOAT4OID;
    c->nulls = static_cast<bool*>(palloc(sizeof(bool) * capacity));
    if (c->kind == omen::ColumnKind::kInt64) c->ints = static_cast<int64*>(palloc(sizeof(int64) * capacity));
    if (c->kind == omen::ColumnKind::kFloat64)
      c->floats = static_cast<double*>(palloc(sizeof(double) * capacity));
    if (c->kind == omen::ColumnKind::kBytes)
      c->bytes = static_cast<std::string_view*>(palloc0(sizeof(std::string_view) * capacity));
  }
  b->rows_cxt = AllocSetContextCreate(CurrentMemoryContext, "tiered batch rows", ALLOCSET_DEFAULT_SIZES);
  b->enc = omen_pg::make_owned<EncoderState>(CurrentMemoryContext, "allocating a batch encoder",
                                             [] { return new EncoderState(); });
  return b;
}

uint32 batch_builder_rows(const BatchBuilder* b) { return b->rows; }

uint32 batch_builder_add(BatchBuilder* b, TupleTableSlot* slot) {
  Assert(b->rows < b->capacity);
  uint32 i = b->rows;
  slot_getallattrs(slot);
  MemoryContext old = MemoryContextSwitchTo(b->rows_cxt);
  for (int j = 0; j < b->desc->natts; j++) {
    BuilderColumn* c = &b->cols[j];
    Form_pg_attribute att = TupleDescAttr(b->desc, j);
    bool null = att->attisdropped || slot->tts_isnull[j];
    c->nulls[i] = null;
    Datum d = slot->tts_values[j];
    if (c->kind == omen::ColumnKind::kInt64) {
      c->ints[i] = null             ? 0
                   : c->attlen == 8 ? DatumGetInt64(d)
                   : c->attlen == 4 ? DatumGetInt32(d)
                   : c->attlen == 2 ? DatumGetInt16(d)
                                    : static_cast<int64>(DatumGetChar(d));
    } else if (c->kind == omen::ColumnKind::kFloat64) {
      c->floats[i] = null ? 0.0 : c->is_float4 ? static_cast<double>(DatumGetFloat4(d)) : DatumGetFloat8(d);
    } else if (null) {
      c->bytes[i] = std::string_view();
    } else if (c->attlen == -1) {
      // Copied: an inline value points into the slot's tuple, whose buffer the caller's scan
      // unpins (and a bulk-read ring reuses) long before the batch is encoded.
      auto* in = reinterpret_cast<struct varlena*>(DatumGetPointer(d));
      struct varlena* v = pg_detoast_datum_packed(in);
      size_t len = VARSIZE_ANY_EXHDR(v);
      char* copy = static_cast<char*>(palloc(Max(len, 1)));
      memcpy(copy, VARDATA_ANY(v), len);
      if (v != in) pfree(v);
      c->bytes[i] = std::string_view(copy, len);
    } else if (c->attlen == -2) {
      const char* s = DatumGetCString(d);
      c->bytes[i] = std::string_view(pstrdup(s), strlen(s) + 1);
    } else {
      char* copy = static_cast<char*>(palloc(c->attlen));
      memcpy(copy, DatumGetPointer(d), c->attlen);
      c->bytes[i] = std::string_view(copy, c->attlen);
    }
  }
  MemoryContextSwitchTo(old);
  return ++b->rows;
}

bytea* batch_builder_finish(BatchBuilder* b) {
  EncoderState* e = b->enc;
  const BatchBuilder* cb = b;
  bool ok = omen_pg::call_core("encoding a batch", [e, cb] {
    std::vector<omen::ColumnInput> cols;
    cols.reserve(cb->desc->natts);
    for (int j = 0; j < cb->desc->natts; j++) {
      const BuilderColumn& c = cb->cols[j];
      std::span<const bool> nulls(c.nulls, cb->rows);
      if (c.kind == omen::ColumnKind::kInt64)
        cols.push_back(omen::ColumnInput::int64({c.ints, cb->rows}, nulls));
      else if (c.kind == omen::ColumnKind::kFloat64)
        cols.push_back(omen::ColumnInput::float64({c.floats, cb->rows}, nulls));
      else
        cols.push_back(omen::ColumnInput::bytes_of({c.bytes, cb->rows}, nulls));
    }
    omen::Status s = e->encoder.encode(cols, cb->rows, &e->out);
    if (!s.ok()) e->error = s.to_string();
    return s.ok();
  });
  if (!ok)
    ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                    errmsg("could not encode a cold batch: %s", e->error.c_str())));
  bytea* payload = static_cast<bytea*>(palloc(VARHDRSZ + e->out.size()));
  SET_VARSIZE(payload, VARHDRSZ + e->out.size());
  memcpy(VARDATA(payload), e->out.data(), e->out.size());
  b->rows = 0;
  MemoryContextReset(b->rows_cxt);
  return payload;
}

void batch_builder_free(BatchBuilder* b) { MemoryContextDelete(b->rows_cxt); }

struct BatchCompactor {
  omen::BatchReader reader;
  omen::BatchEncoder encoder;
  omen::DecodedBatch batch;
  std::vector<omen::ColumnKind> kinds;
  std::vector<uint8_t> out;
  std::string error;
  uint32 with_values = 0;
};

BatchCompactor* batch_compactor_create() {
  return omen_pg::make_owned<BatchCompactor>(CurrentMemoryContext, "allocating a batch compactor",
                                             [] { return new BatchCompactor(); });
}

bytea* batch_compact(BatchCompactor* c, const bytea* payload, const uint8* marked, uint32 len,
                     uint32 min_rows, uint32* with_values, const char** why) {
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(VARDATA_ANY(payload)),
                                 VARSIZE_ANY_EXHDR(payload));
  std::span<const uint8_t> rows(marked, len);
  // 1: compacted into c->out; 0: not worth it; -1: corrupt (c->error).
  int done = omen_pg::call_core("compacting a batch", [c, bytes, rows, min_rows] {
    omen::BatchInfo info;
    omen::Status s = omen::peek_batch(bytes, &info);
    c->kinds.clear();
    for (size_t j = 0; s.ok() && j < info.columns.size(); j++) c->kinds.push_back(info.columns[j].kind);
    if (s.ok()) s = c->reader.open(bytes, c->kinds);
    if (s.ok()) s = c->reader.decode(&c->batch);
    if (s.ok()) {
      c->with_values = omen::batch_rows_with_values(c->batch, rows);
      if (c->with_values < (min_rows > 0 ? min_rows : 1)) return 0;
      s = omen::encode_without_rows(c->encoder, c->batch, rows, &c->out);
      // Stored again only when that saves at least 1/16 of the payload.
      if (s.ok() && c->out.size() + bytes.size() / 16 > bytes.size()) return 0;
    }
    if (!s.ok()) c->error = s.to_string();
    return s.ok() ? 1 : -1;
  });
  *why = done < 0 ? c->error.c_str() : nullptr;
  *with_values = done < 0 ? 0 : c->with_values;
  if (done <= 0) return nullptr;
  auto* out = static_cast<bytea*>(palloc(VARHDRSZ + c->out.size()));
  SET_VARSIZE(out, VARHDRSZ + c->out.size());
  memcpy(VARDATA(out), c->out.data(), c->out.size());
  return out;
}
