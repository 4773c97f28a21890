// Forming rows of a decoded batch (tiered_rows.h): a row is written straight from the decoded
// column arrays into its tuple by the plan made once per batch (tiered_decode.cpp), laid out as
// heap_form_tuple lays out the same values (short varlena headers where heap makes them, the same
// alignment and NULL bitmap), so a cold row's tuple has heap's bytes. No Datum arrays, no copy of
// by-reference values, no size walk over Datums: the generic path cost more than the decode
// itself. A batch whose values are all by value and never NULL takes a fixed layout (one header,
// fixed offsets); a batch older than an ADD COLUMN whose missing value is not NULL is formed the
// generic way (heap_form_tuple over the attribute's missing value).
#include "tiered_rows.h"

extern "C" {
#include "access/htup_details.h"
#include "access/tupmacs.h"
}

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
    if (p->src <= Source::kSkipped) {  // NULL, or the missing value of a column added after the batch
      d->nulls[j] = true;
      d->values[j] = (Datum)0;
      if (p->src == Source::kNull && !TupleDescAttr(d->desc, j)->attisdropped)
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

// A tuple of data length `len` (header and data): `reuse` when it has room, else a new one.
static HeapTuple tuple_space(HeapTuple reuse, size_t len) {
  if (reuse != nullptr && reuse->t_len >= len) return reuse;
  return static_cast<HeapTuple>(palloc(HEAPTUPLESIZE + len));
}

// A row of a fixed-layout batch: the header copied, the values stored at their offsets.
static HeapTuple row_fixed(const BatchDecoder* d, uint32 row, HeapTuple reuse) {
  size_t len = d->hoff + d->data_len;
  HeapTuple tuple = tuple_space(reuse, len);
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

HeapTuple batch_decoder_row(BatchDecoder* d, uint32 row, HeapTuple reuse) {
  Assert(d->desc != nullptr && row < d->rd->batch.rows);
  if (d->fixed) return row_fixed(d, row, reuse);
  if (d->generic) return form_generic(d, row);
  bool hasnull = false, varwidth = false;
  size_t data_len = row_data_size(d, row, &hasnull, &varwidth);
  int natts = d->desc->natts;
  size_t hoff = MAXALIGN(SizeofHeapTupleHeader + (hasnull ? BITMAPLEN(natts) : 0));
  size_t len = hoff + data_len;
  HeapTuple tuple = tuple_space(reuse, len);
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
