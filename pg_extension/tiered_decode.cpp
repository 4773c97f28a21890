// Batch payloads -> rows of a tiered table: decodes a batch with the core's codec, then forms one
// heap tuple per row asked for.
//
// Forming: a row is written straight from the decoded column arrays into its tuple by a plan made
// once per batch (per attribute: where its value comes from, its length and alignment), laid out
// as heap_form_tuple lays out the same values (short varlena headers where heap makes them, the
// same alignment and NULL bitmap), so a cold row's tuple has heap's bytes. No Datum arrays, no
// copy of by-reference values, no size walk over Datums: the generic path cost more than the
// decode itself. A batch older than an ADD COLUMN whose missing value is not NULL is formed the
// generic way (heap_form_tuple over the attribute's missing value).
#include "tiered.h"

#include <omen/batch_codec.h>

#include <string>
#include <vector>

extern "C" {
#include "access/htup_details.h"
#include "access/tupmacs.h"
#include "catalog/pg_type_d.h"
#include "utils/memutils.h"
}

namespace {

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
  std::vector<uint32_t> selected;  // columns decoded, when not all
  std::string error;
};

// Where one attribute's value comes from when a row is formed.
enum class Source : uint8 {
  kNull,     // dropped, or added after the batch with a NULL missing value
  kSkipped,  // not decoded: a column the scan does not read (NULL)
  kInt,      // Int64 column, stored in attlen bytes by value
  kFloat4,   // Float64 column narrowed to float4
  kFloat8,   // Float64 column
  kVarlena,  // Bytes column: a varlena's data (the header is made here)
  kCstring,  // Bytes column: a cstring with its zero
  kFixed,    // Bytes column: a fixed-length by-reference value
};

struct AttrPlan {
  Source src;
  char align;     // attalign
  bool packable;  // varlena that heap would give a 1-byte header when short enough
  int16 attlen;
  const omen::DecodedColumn* col;
};

}  // namespace

struct BatchDecoder {
  TupleDesc desc;  // the descriptor the loaded batch is bound to (nullptr: none)
  int cap;         // entries in values, nulls and plan
  Datum* values;   // the generic path's row
  bool* nulls;
  AttrPlan* plan;  // one per attribute of desc, for the loaded batch
  bool generic;    // the loaded batch needs heap_form_tuple (a missing value that is not NULL)
  // Fixed layout: every value the batch's rows carry is by value and never NULL, so every row's
  // tuple has the same length and offsets, and its header is `head` (hoff bytes).
  bool fixed;
  uint32 hoff, data_len;
  char* head;  // in parent, `head_cap` bytes
  uint32 head_cap;
  uint32* offsets;  // per attribute of desc: the value's offset in the data (fixed layout)
  MemoryContext parent, cxt;
  ReaderState* rd;
};

BatchDecoder* batch_decoder_create() {
  auto* d = static_cast<BatchDecoder*>(palloc0(sizeof(BatchDecoder)));
  d->parent = CurrentMemoryContext;
  d->cxt = AllocSetContextCreate(CurrentMemoryContext, "tiered batch row", ALLOCSET_SMALL_SIZES);
  d->rd = omen_pg::make_owned<ReaderState>(CurrentMemoryContext, "allocating a batch reader",
                                           [] { return new ReaderState(); });
  d->rd->reader = backend_reader();
  return d;
}

void batch_decoder_free(BatchDecoder* d) { MemoryContextDelete(d->cxt); }

// Whether the loaded batch's rows have a fixed layout (see BatchDecoder), and if so, its header
// and offsets: laid out as heap_form_tuple would (alignment, NULL bitmap), for row_fixed.
static void plan_fixed(BatchDecoder* d) {
  int natts = d->desc->natts;
  bool hasnull = false;
  d->fixed = !d->generic;
  for (int j = 0; j < natts && d->fixed; j++) {
    const AttrPlan* p = &d->plan[j];
    if (p->src == Source::kNull || p->src == Source::kSkipped)
      hasnull = true;
    else
      d->fixed = (p->src == Source::kInt || p->src == Source::kFloat4 || p->src == Source::kFloat8) &&
                 p->col->null_bits.empty();
  }
  if (!d->fixed) return;
  d->hoff = MAXALIGN(SizeofHeapTupleHeader + (hasnull ? BITMAPLEN(natts) : 0));
  if (d->head_cap < d->hoff) {
    d->head_cap = Max(d->hoff, 2 * d->head_cap);
    d->head = static_cast<char*>(MemoryContextAlloc(d->parent, d->head_cap));
  }
  uint32 off = 0;
  memset(d->head, 0, d->hoff);
  auto* td = reinterpret_cast<HeapTupleHeader>(d->head);
  for (int j = 0; j < natts; j++) {
    const AttrPlan* p = &d->plan[j];
    if (p->src == Source::kNull || p->src == Source::kSkipped) continue;
    if (hasnull) td->t_bits[j >> 3] |= static_cast<bits8>(1 << (j & 7));
    off = static_cast<uint32>(att_align_nominal(off, p->align));
    d->offsets[j] = off;
    off += p->attlen;
  }
  d->data_len = off;
  HeapTupleHeaderSetDatumLength(td, d->hoff + off);
  HeapTupleHeaderSetTypeId(td, d->desc->tdtypeid);
  HeapTupleHeaderSetTypMod(td, d->desc->tdtypmod);
  HeapTupleHeaderSetNatts(td, natts);
  td->t_hoff = static_cast<uint8>(d->hoff);
  td->t_infomask = hasnull ? HEAP_HASNULL : 0;
}

// The plan of the batch just decoded, for d->desc.
static void make_plan(BatchDecoder* d) {
  const omen::DecodedBatch& batch = d->rd->batch;
  int ncols = static_cast<int>(batch.columns.size());
  d->generic = false;
  for (int j = 0; j < d->desc->natts; j++) {
    Form_pg_attribute att = TupleDescAttr(d->desc, j);
    AttrPlan* p = &d->plan[j];
    p->align = att->attalign;
    p->attlen = att->attlen;
    p->packable = att->attlen == -1 && att->attstorage != TYPSTORAGE_PLAIN;
    p->col = j < ncols ? &batch.columns[j] : nullptr;
    if (!att->attisdropped && j < ncols && !p->col->present) {
      p->src = Source::kSkipped;
      continue;
    }
    if (att->attisdropped || j >= ncols) {
      p->src = Source::kNull;
      if (!att->attisdropped && att->atthasmissing) {
        bool null;
        (void)getmissingattr(d->desc, j + 1, &null);
        d->generic |= !null;
      }
      continue;
    }
    if (p->col->kind == omen::ColumnKind::kInt64)
      p->src = Source::kInt;
    else if (p->col->kind == omen::ColumnKind::kFloat64)
      p->src = att->atttypid == FLOAT4OID ? Source::kFloat4 : Source::kFloat8;
    else
      p->src = att->attlen == -1 ? Source::kVarlena : att->attlen == -2 ? Source::kCstring : Source::kFixed;
  }
  plan_fixed(d);
}

const char* batch_decoder_bind(BatchDecoder* d, TupleDesc desc) {
  ReaderState* r = d->rd;
  d->desc = nullptr;
  // The batch's columns (it may predate ADD COLUMN; dropped columns keep whatever they had) must
  // be of desc's kinds.
  if (r->kinds.size() > static_cast<size_t>(desc->natts)) return "it has more columns than the table";
  for (size_t j = 0; j < r->kinds.size(); j++) {
    Form_pg_attribute att = TupleDescAttr(desc, j);
    if (!att->attisdropped && r->kinds[j] != tiered_column_kind(att)) {
      r->error = "column " + std::to_string(j + 1) + " is of another kind than the table's";
      return r->error.c_str();
    }
  }
  if (desc->natts > d->cap) {
    d->cap = Max(desc->natts, 2 * d->cap);
    d->values = static_cast<Datum*>(MemoryContextAlloc(d->parent, sizeof(Datum) * d->cap));
    d->nulls = static_cast<bool*>(MemoryContextAlloc(d->parent, sizeof(bool) * d->cap));
    d->plan = static_cast<AttrPlan*>(MemoryContextAlloc(d->parent, sizeof(AttrPlan) * d->cap));
    d->offsets = static_cast<uint32*>(MemoryContextAlloc(d->parent, sizeof(uint32) * d->cap));
  }
  d->desc = desc;
  make_plan(d);
  return nullptr;
}

TupleDesc batch_decoder_desc(const BatchDecoder* d) { return d->desc; }

const char* batch_decoder_load(BatchDecoder* d, const bytea* payload, TupleDesc desc,
                               const ColdColumns* cols) {
  ReaderState* r = d->rd;
  d->desc = nullptr;
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(VARDATA_ANY(payload)),
                                 VARSIZE_ANY_EXHDR(payload));
  bool ok = omen_pg::call_core("decoding a batch", [r, bytes, cols] {
    omen::BatchInfo info;
    omen::Status s = omen::peek_batch(bytes, &info);
    r->kinds.clear();
    for (size_t j = 0; s.ok() && j < info.columns.size(); j++) r->kinds.push_back(info.columns[j].kind);
    if (s.ok()) s = r->reader->open(bytes, r->kinds);
    if (s.ok() && cols != nullptr) {
      // The batch's own columns among those read (a batch older than ADD COLUMN has fewer).
      r->selected.clear();
      for (int i = 0; i < cols->n; i++)
        if (cols->attrs[i] >= 1 && static_cast<size_t>(cols->attrs[i]) <= r->kinds.size())
          r->selected.push_back(static_cast<uint32_t>(cols->attrs[i] - 1));
      s = r->reader->decode(r->selected, &r->batch);
    } else if (s.ok()) {
      s = r->reader->decode(&r->batch);
    }
    if (!s.ok()) r->error = s.to_string();
    return s.ok();
  });
  if (!ok) return r->error.c_str();
  return batch_decoder_bind(d, desc);
}

uint32 batch_decoder_rows(const BatchDecoder* d) { return d->rd->batch.rows; }

static void wrong_length(const BatchDecoder* d, int j) {
  ereport(ERROR,
          (errcode(ERRCODE_DATA_CORRUPTED), errmsg("cold batch value of column \"%s\" has a wrong length",
                                                   NameStr(TupleDescAttr(d->desc, j)->attname))));
}

// A row's tuple the generic way: Datums (by-reference values pointing into the decoded arrays,
// varlenas given a header in d->cxt), then heap_form_tuple. Batches with a non-NULL missing value.
static HeapTuple form_generic(BatchDecoder* d, uint32 row) {
  MemoryContextReset(d->cxt);
  for (int j = 0; j < d->desc->natts; j++) {
    const AttrPlan* p = &d->plan[j];
    if (p->src == Source::kSkipped) {
      d->nulls[j] = true;
      d->values[j] = (Datum)0;
      continue;
    }
    if (p->src == Source::kNull) {
      d->nulls[j] = true;
      d->values[j] = (Datum)0;
      if (!TupleDescAttr(d->desc, j)->attisdropped)
        d->values[j] = getmissingattr(d->desc, j + 1, &d->nulls[j]);
      continue;
    }
    d->nulls[j] = p->col->is_null(row);
    if (d->nulls[j]) continue;
    if (p->src == Source::kInt) {
      int64 v = p->col->int64(row);
      d->values[j] = p->attlen == 8   ? Int64GetDatum(v)
                     : p->attlen == 4 ? Int32GetDatum(static_cast<int32>(v))
                     : p->attlen == 2 ? Int16GetDatum(static_cast<int16>(v))
                                      : CharGetDatum(static_cast<char>(v));
    } else if (p->src == Source::kFloat4) {
      d->values[j] = Float4GetDatum(static_cast<float4>(p->col->float64(row)));
    } else if (p->src == Source::kFloat8) {
      d->values[j] = Float8GetDatum(p->col->float64(row));
    } else {
      std::string_view v = p->col->bytes(row);
      if (p->src == Source::kVarlena) {
        char* x = static_cast<char*>(MemoryContextAlloc(d->cxt, VARHDRSZ + v.size()));
        SET_VARSIZE(x, VARHDRSZ + v.size());
        memcpy(VARDATA(x), v.data(), v.size());
        d->values[j] = PointerGetDatum(x);
      } else {
        if ((p->src == Source::kFixed && v.size() != static_cast<size_t>(p->attlen)) ||
            (p->src == Source::kCstring && (v.empty() || v.back() != '\0')))
          wrong_length(d, j);
        d->values[j] = PointerGetDatum(v.data());
      }
    }
  }
  return heap_form_tuple(d->desc, d->values, d->nulls);
}

// The data length of `row` from offset 0 (heap_compute_data_size's rules), and whether it has a NULL
// or a variable-width value. Checks every by-reference value's length.
static size_t row_data_size(const BatchDecoder* d, uint32 row, bool* hasnull, bool* varwidth) {
  size_t off = 0;
  for (int j = 0; j < d->desc->natts; j++) {
    const AttrPlan* p = &d->plan[j];
    if (p->src <= Source::kSkipped || p->col->is_null(row)) {
      *hasnull = true;
      continue;
    }
    switch (p->src) {
      case Source::kVarlena: {
        size_t n = p->col->refs[row].size;
        *varwidth = true;
        if (p->packable && n + VARHDRSZ_SHORT <= VARATT_SHORT_MAX)
          off += VARHDRSZ_SHORT + n;
        else
          off = att_align_nominal(off, p->align) + VARHDRSZ + n;
        break;
      }
      case Source::kCstring: {
        std::string_view v = p->col->bytes(row);
        if (v.empty() || v.back() != '\0') wrong_length(d, j);
        *varwidth = true;
        off = att_align_nominal(off, p->align) + v.size();
        break;
      }
      case Source::kFixed:
        if (p->col->refs[row].size != static_cast<uint32>(p->attlen)) wrong_length(d, j);
        off = att_align_nominal(off, p->align) + p->attlen;
        break;
      default:  // by value
        off = att_align_nominal(off, p->align) + p->attlen;
        break;
    }
  }
  return off;
}

// Writes `row`'s values at `data` (MAXALIGNed) and its NULL bitmap at `bits` (if not nullptr).
static void fill_row(const BatchDecoder* d, uint32 row, char* data, bits8* bits) {
  size_t off = 0;
  for (int j = 0; j < d->desc->natts; j++) {
    const AttrPlan* p = &d->plan[j];
    if (p->src <= Source::kSkipped || p->col->is_null(row)) continue;  // its bit stays 0
    if (bits != nullptr) bits[j >> 3] |= static_cast<bits8>(1 << (j & 7));
    switch (p->src) {
      case Source::kInt: {
        off = att_align_nominal(off, p->align);
        int64 v = p->col->ints[row];
        if (p->attlen == 8) {
          memcpy(data + off, &v, 8);
        } else if (p->attlen == 4) {
          int32 x = static_cast<int32>(v);
          memcpy(data + off, &x, 4);
        } else if (p->attlen == 2) {
          int16 x = static_cast<int16>(v);
          memcpy(data + off, &x, 2);
        } else {
          data[off] = static_cast<char>(v);
        }
        off += p->attlen;
        break;
      }
      case Source::kFloat4: {
        off = att_align_nominal(off, p->align);
        float4 x = static_cast<float4>(p->col->floats[row]);
        memcpy(data + off, &x, 4);
        off += 4;
        break;
      }
      case Source::kFloat8:
        off = att_align_nominal(off, p->align);
        memcpy(data + off, &p->col->floats[row], 8);
        off += 8;
        break;
      case Source::kVarlena: {
        std::string_view v = p->col->bytes(row);
        if (p->packable && v.size() + VARHDRSZ_SHORT <= VARATT_SHORT_MAX) {
          SET_VARSIZE_SHORT(data + off, VARHDRSZ_SHORT + v.size());
          memcpy(data + off + VARHDRSZ_SHORT, v.data(), v.size());
          off += VARHDRSZ_SHORT + v.size();
        } else {
          off = att_align_nominal(off, p->align);
          SET_VARSIZE(data + off, VARHDRSZ + v.size());
          memcpy(data + off + VARHDRSZ, v.data(), v.size());
          off += VARHDRSZ + v.size();
        }
        break;
      }
      default: {  // cstring, fixed length: lengths checked by row_data_size
        std::string_view v = p->col->bytes(row);
        off = att_align_nominal(off, p->align);
        memcpy(data + off, v.data(), v.size());
        off += v.size();
        break;
      }
    }
  }
}

// A row of a fixed-layout batch: the header copied, the values stored at their offsets.
static HeapTuple row_fixed(const BatchDecoder* d, uint32 row) {
  size_t len = d->hoff + d->data_len;
  auto* tuple = static_cast<HeapTuple>(palloc(HEAPTUPLESIZE + len));
  auto* td = reinterpret_cast<HeapTupleHeader>(reinterpret_cast<char*>(tuple) + HEAPTUPLESIZE);
  memcpy(td, d->head, d->hoff);
  char* data = reinterpret_cast<char*>(td) + d->hoff;
  memset(data, 0, d->data_len);  // alignment padding
  for (int j = 0; j < d->desc->natts; j++) {
    const AttrPlan* p = &d->plan[j];
    char* at = data + d->offsets[j];
    if (p->src == Source::kFloat8) {
      memcpy(at, &p->col->floats[row], 8);
    } else if (p->src == Source::kInt) {
      int64 v = p->col->ints[row];
      if (p->attlen == 8) {
        memcpy(at, &v, 8);
      } else if (p->attlen == 4) {
        int32 x = static_cast<int32>(v);
        memcpy(at, &x, 4);
      } else if (p->attlen == 2) {
        int16 x = static_cast<int16>(v);
        memcpy(at, &x, 2);
      } else {
        *at = static_cast<char>(v);
      }
    } else if (p->src == Source::kFloat4) {
      float4 x = static_cast<float4>(p->col->floats[row]);
      memcpy(at, &x, 4);
    }
  }
  tuple->t_len = static_cast<uint32>(len);
  ItemPointerSetInvalid(&tuple->t_self);
  tuple->t_tableOid = InvalidOid;
  tuple->t_data = td;
  return tuple;
}

HeapTuple batch_decoder_row(BatchDecoder* d, uint32 row) {
  Assert(d->desc != nullptr && row < d->rd->batch.rows);
  if (d->fixed) return row_fixed(d, row);
  if (d->generic) return form_generic(d, row);
  bool hasnull = false, varwidth = false;
  size_t data_len = row_data_size(d, row, &hasnull, &varwidth);
  int natts = d->desc->natts;
  size_t hoff = MAXALIGN(SizeofHeapTupleHeader + (hasnull ? BITMAPLEN(natts) : 0));
  size_t len = hoff + data_len;
  auto* tuple = static_cast<HeapTuple>(palloc(HEAPTUPLESIZE + len));
  auto* td = reinterpret_cast<HeapTupleHeader>(reinterpret_cast<char*>(tuple) + HEAPTUPLESIZE);
  memset(td, 0, len);  // padding bytes are zero, as heap_form_tuple leaves them
  tuple->t_len = static_cast<uint32>(len);
  ItemPointerSetInvalid(&tuple->t_self);
  tuple->t_tableOid = InvalidOid;
  tuple->t_data = td;
  HeapTupleHeaderSetDatumLength(td, len);
  HeapTupleHeaderSetTypeId(td, d->desc->tdtypeid);
  HeapTupleHeaderSetTypMod(td, d->desc->tdtypmod);
  HeapTupleHeaderSetNatts(td, natts);
  td->t_hoff = static_cast<uint8>(hoff);
  td->t_infomask = (hasnull ? HEAP_HASNULL : 0) | (varwidth ? HEAP_HASVARWIDTH : 0);
  fill_row(d, row, reinterpret_cast<char*>(td) + hoff, hasnull ? td->t_bits : nullptr);
  return tuple;
}
