// Rows of a tiered table <-> payloads of the core's batch codec (omen/batch_codec.h).
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

namespace {

omen::ColumnKind kind_of(Form_pg_attribute att) {
  if (!att->attisdropped && (att->atttypid == FLOAT8OID || att->atttypid == FLOAT4OID))
    return omen::ColumnKind::kFloat64;
  if (att->attisdropped || (att->attbyval && att->attlen > 0 && att->attlen <= 8))
    return omen::ColumnKind::kInt64;
  return omen::ColumnKind::kBytes;
}

struct EncoderState {
  omen::BatchEncoder encoder;
  std::vector<uint8_t> out;
  std::string error;
};

// The backend's one batch reader: its zstd context and scratch buffers are made once and reused
// by every decode (creating them per query cost more than a point lookup's decode). open() and
// decode() always run together, so decoders never see each other's state; each decoder keeps its
// own decoded arrays.
struct SharedReader {
  omen::BatchReader reader;
};

omen::BatchReader* backend_reader() {
  static SharedReader* shared = nullptr;  // per-backend cache (DESIGN.md section 3), never freed
  if (shared == nullptr)
    shared = omen_pg::make_owned<SharedReader>(TopMemoryContext, "allocating the batch reader",
                                               [] { return new SharedReader(); });
  return &shared->reader;
}

struct ReaderState {
  omen::BatchReader* reader;
  omen::DecodedBatch batch;
  std::vector<omen::ColumnKind> kinds;
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
    c->kind = kind_of(att);
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

struct BatchDecoder {
  TupleDesc desc;
  Datum* values;
  bool* nulls;
  MemoryContext cxt;
  char* scratch;  // by-reference values of the row being formed (heap_form_tuple copies them)
  size_t scratch_cap;
  ReaderState* rd;
};

BatchDecoder* batch_decoder_create(TupleDesc desc) {
  auto* d = static_cast<BatchDecoder*>(palloc0(sizeof(BatchDecoder)));
  d->desc = desc;
  d->values = static_cast<Datum*>(palloc(sizeof(Datum) * Max(desc->natts, 1)));
  d->nulls = static_cast<bool*>(palloc(sizeof(bool) * Max(desc->natts, 1)));
  d->cxt = AllocSetContextCreate(CurrentMemoryContext, "tiered batch row", ALLOCSET_SMALL_SIZES);
  d->rd = omen_pg::make_owned<ReaderState>(CurrentMemoryContext, "allocating a batch reader",
                                           [] { return new ReaderState(); });
  d->rd->reader = backend_reader();
  return d;
}

void batch_decoder_free(BatchDecoder* d) { MemoryContextDelete(d->cxt); }

const char* batch_decoder_load(BatchDecoder* d, const bytea* payload) {
  ReaderState* r = d->rd;
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(VARDATA_ANY(payload)),
                                 VARSIZE_ANY_EXHDR(payload));
  // The batch's own kinds (it may predate ADD COLUMN; dropped columns keep whatever they had),
  // then the live columns it has must be of this table's kinds.
  int natts = d->desc->natts;
  omen::ColumnKind want[MaxHeapAttributeNumber];
  bool dropped[MaxHeapAttributeNumber];
  for (int j = 0; j < natts; j++) {
    want[j] = kind_of(TupleDescAttr(d->desc, j));
    dropped[j] = TupleDescAttr(d->desc, j)->attisdropped;
  }
  bool ok = omen_pg::call_core("decoding a batch", [r, bytes, natts, &want, &dropped] {
    omen::BatchInfo info;
    omen::Status s = omen::peek_batch(bytes, &info);
    if (s.ok() && info.columns.size() > static_cast<size_t>(natts))
      s = omen::Status::Corruption("more columns than the table");
    if (s.ok()) {
      r->kinds.clear();
      for (size_t j = 0; j < info.columns.size(); j++) {
        r->kinds.push_back(info.columns[j].kind);
        if (!dropped[j] && info.columns[j].kind != want[j] && s.ok())
          s = omen::Status::Corruption("column " + std::to_string(j + 1) +
                                       " is of another kind than the table's");
      }
    }
    if (s.ok()) s = r->reader->open(bytes, r->kinds);
    if (s.ok()) s = r->reader->decode(&r->batch);
    if (!s.ok()) r->error = s.to_string();
    return s.ok();
  });
  return ok ? nullptr : r->error.c_str();
}

uint32 batch_decoder_rows(const BatchDecoder* d) { return d->rd->batch.rows; }

// The bytes of column j's by-reference value in `row` need in the scratch buffer (int-aligned), and
// checks a cstring or fixed-length value's length (a corrupt batch must not read past it).
static size_t scratch_size(Form_pg_attribute att, std::string_view v) {
  if (att->attlen == -1) return INTALIGN(VARHDRSZ + v.size());
  size_t need = att->attlen > 0 ? static_cast<size_t>(att->attlen) : v.size();
  if (v.size() != need || (att->attlen == -2 && (v.empty() || v.back() != '\0')))
    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                    errmsg("cold batch value of column \"%s\" has a wrong length", NameStr(att->attname))));
  return INTALIGN(need);
}

HeapTuple batch_decoder_row(BatchDecoder* d, uint32 row) {
  const omen::DecodedBatch& batch = d->rd->batch;
  Assert(row < batch.rows);
  int natts = d->desc->natts;
  int ncols = Min(natts, static_cast<int>(batch.columns.size()));
  // By-reference values go to one scratch buffer, sized first (no allocation per value).
  size_t need = 0;
  for (int j = 0; j < ncols; j++) {
    const omen::DecodedColumn& c = batch.columns[j];
    Form_pg_attribute att = TupleDescAttr(d->desc, j);
    if (c.kind == omen::ColumnKind::kBytes && !att->attisdropped && !c.is_null(row))
      need += scratch_size(att, c.bytes(row));
  }
  if (need > d->scratch_cap) {
    d->scratch_cap = Max(need, 2 * d->scratch_cap);
    d->scratch = static_cast<char*>(d->scratch == nullptr ? MemoryContextAlloc(d->cxt, d->scratch_cap)
                                                          : repalloc(d->scratch, d->scratch_cap));
  }
  char* next = d->scratch;
  for (int j = 0; j < natts; j++) {
    Form_pg_attribute att = TupleDescAttr(d->desc, j);
    if (att->attisdropped) {
      d->nulls[j] = true;
      d->values[j] = (Datum)0;
      continue;
    }
    if (j >= ncols) {  // added after this batch was written
      d->values[j] = getmissingattr(d->desc, j + 1, &d->nulls[j]);
      continue;
    }
    const omen::DecodedColumn& c = batch.columns[j];
    d->nulls[j] = c.is_null(row);
    if (d->nulls[j]) {
      d->values[j] = (Datum)0;
    } else if (c.kind == omen::ColumnKind::kInt64) {
      int64 v = c.int64(row);
      d->values[j] = att->attlen == 8   ? Int64GetDatum(v)
                     : att->attlen == 4 ? Int32GetDatum(static_cast<int32>(v))
                     : att->attlen == 2 ? Int16GetDatum(static_cast<int16>(v))
                                        : CharGetDatum(static_cast<char>(v));
    } else if (c.kind == omen::ColumnKind::kFloat64) {
      d->values[j] = att->atttypid == FLOAT4OID ? Float4GetDatum(static_cast<float4>(c.float64(row)))
                                                : Float8GetDatum(c.float64(row));
    } else {
      std::string_view v = c.bytes(row);
      if (att->attlen == -1) {
        SET_VARSIZE(next, VARHDRSZ + v.size());
        memcpy(VARDATA(next), v.data(), v.size());
      } else {
        memcpy(next, v.data(), v.size());  // cstring (with its zero) or fixed length: checked above
      }
      d->values[j] = PointerGetDatum(next);
      next += scratch_size(att, v);
    }
  }
  return heap_form_tuple(d->desc, d->values, d->nulls);
}
