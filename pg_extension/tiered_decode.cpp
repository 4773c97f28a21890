// Batch payloads -> rows of a tiered table: decodes a batch with the core's codec (all columns, or
// those a scan reads), binds it to a tuple descriptor and plans its rows (per attribute: where its
// value comes from, its length and alignment); tiered_form.cpp forms each row by that plan.
#include "tiered_rows.h"

extern "C" {
#include "access/detoast.h"
#include "access/heaptoast.h"
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

}  // namespace

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
                 (p->col->null_bits.empty() || d->rd->nulls_dead_only[j]);
  }
  if (!d->fixed) return;
  d->hoff = MAXALIGN(SizeofHeapTupleHeader + (hasnull ? BITMAPLEN(natts) : 0));
  if (d->head_cap < d->hoff) {
    if (d->head != nullptr) pfree(d->head);
    d->head_cap = Max(d->hoff, 2 * d->head_cap);
    d->head = static_cast<char*>(MemoryContextAlloc(d->parent, d->head_cap));
  }
  uint32 off = 0;
  memset(d->head, 0, d->hoff);
  auto* td = reinterpret_cast<HeapTupleHeader>(d->head);
  for (int j = 0; j < natts; j++) {
    const AttrPlan* p = &d->plan[j];
    d->offsets[j] = 0;
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

const char* batch_decoder_load(BatchDecoder* d, const bytea* payload, TupleDesc desc, const ColdColumns* cols,
                               const bytea* deleted) {
  ReaderState* r = d->rd;
  d->desc = nullptr;
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(VARDATA_ANY(payload)),
                                 VARSIZE_ANY_EXHDR(payload));
  std::span<const uint8_t> dead;
  if (deleted != nullptr)
    dead = {reinterpret_cast<const uint8_t*>(VARDATA_ANY(deleted)), VARSIZE_ANY_EXHDR(deleted)};
  bool ok = omen_pg::call_core("decoding a batch", [r, bytes, cols, dead] {
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
    r->nulls_dead_only.assign(r->batch.columns.size(), 0);
    for (size_t j = 0; s.ok() && j < r->batch.columns.size(); j++) {
      const std::vector<uint8_t>& n = r->batch.columns[j].null_bits;
      bool only = !n.empty();
      for (size_t i = 0; only && i < n.size(); i++) only = (n[i] & ~(i < dead.size() ? dead[i] : 0)) == 0;
      r->nulls_dead_only[j] = only;
    }
    return s.ok();
  });
  if (!ok) return r->error.c_str();
  return batch_decoder_bind(d, desc);
}

uint32 batch_decoder_rows(const BatchDecoder* d) { return d->rd->batch.rows; }

// Where the sections of the columns in `cols` end in a payload of `total` bytes whose first `got`
// bytes are `p`: the end of the last one, or -1 when the header does not fit in those bytes or
// fails its checks (then the whole payload is read, and the codec reports what is wrong).
static int64 sections_end(const uint8* p, int64 got, int64 total, const ColdColumns* cols) {
  return omen_pg::call_core("reading a batch header", [=]() -> int64 {
    omen::BatchInfo info;
    if (!omen::peek_batch_prefix({p, static_cast<size_t>(got)}, static_cast<size_t>(total), &info).ok())
      return -1;
    // cols->attrs ascend: the last one the batch has (one older than ADD COLUMN has fewer) ends
    // the read; none: the header alone, within the prefix since the peek succeeded.
    for (int i = cols->n - 1; i >= 0; i--)
      if (cols->attrs[i] >= 1 && static_cast<size_t>(cols->attrs[i]) <= info.columns.size())
        return static_cast<int64>(omen::batch_section_end(info, cols->attrs[i] - 1));
    return int64{0};
  });
}

bytea* batch_payload_fetch(struct varlena* stored, const ColdColumns* cols) {
  if (cols == nullptr || !VARATT_IS_EXTERNAL_ONDISK(stored))
    return reinterpret_cast<bytea*>(pg_detoast_datum_copy(stored));
  struct varatt_external ext;
  VARATT_EXTERNAL_GET_POINTER(ext, stored);
  if (VARATT_EXTERNAL_IS_COMPRESSED(ext)) return reinterpret_cast<bytea*>(pg_detoast_datum_copy(stored));
  int32 total = VARATT_EXTERNAL_GET_EXTSIZE(ext);
  struct varlena* part = detoast_attr_slice(stored, 0, Min(total, static_cast<int32>(TOAST_MAX_CHUNK_SIZE)));
  int64 got = VARSIZE_ANY_EXHDR(part);
  int64 end = sections_end(reinterpret_cast<const uint8*>(VARDATA_ANY(part)), got, total, cols);
  if (end < 0) end = total;
  if (end > got) {
    pfree(part);
    part = detoast_attr_slice(stored, 0, static_cast<int32>(end));
    got = VARSIZE_ANY_EXHDR(part);
  }
  auto* out = static_cast<bytea*>(palloc(VARHDRSZ + total));
  SET_VARSIZE(out, VARHDRSZ + total);
  got = Min(got, static_cast<int64>(total));
  memcpy(VARDATA(out), VARDATA_ANY(part), got);
  memset(VARDATA(out) + got, 0, total - got);
  pfree(part);
  return out;
}
