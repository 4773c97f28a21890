// Reading a tiered table's cold tier: its batches in omendb.tier_batch, found through the key
// index (relnode, first_block) under the caller's snapshot, so Postgres MVCC decides which version
// of a batch (its delete bitmap) a scan sees; the last batch decoded is kept for the next row.
#include "tiered.h"

#include <algorithm>

extern "C" {
#include "access/detoast.h"
#include "access/genam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "storage/bufmgr.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
}

struct ColdReader {
  Relation rel;  // the tiered table
  Oid relnode;   // its current relfilenode
  // The relfilenode snapshot `as_of` (at that xmin and command) sees (tiered_relnode_as_of).
  Snapshot as_of;
  TransactionId as_of_xmin;
  CommandId as_of_cid;
  Oid as_of_relnode;
  MemoryContext cxt;              // where the reader lives (what it opens later goes there too)
  Relation batches, key;          // omendb.tier_batch and its (relnode, first_block) index
  Relation changes, changes_key;  // omendb.tier_delete and its (relnode, first_block, rowno) index,
                                  // opened on first use (open_changes)
  TupleTableSlot* change_slot;
  Snapshot iter_snapshot;
  TransactionId iter_horizon;  // SnapshotAny iterations: versions dead as of it are skipped
  TupleTableSlot* batch_slot;
  const ColdColumns* columns;  // the columns its rows carry (nullptr: all)
  BatchDecoder* dec;           // made on first use (decoder)
  // dec holds the payload of batch loaded_first. A batch's versions differ only in rows deleted for
  // every reader (the bitmap, and a compacted payload's NULLs there), so any version's decode
  // serves them all; slots are never reused.
  bool loaded;
  BlockNumber loaded_first;
  MemoryContext batch_cxt;  // the detoasted fields of the batch found last
  IndexScanDesc iter;       // cold_batches_*
  // cold_fetch's last lookup: under one MVCC snapshot (same command) a batch's visible version
  // cannot change, so consecutive fetches from one batch look it up once.
  bool last_valid, last_found;
  BlockNumber last_first;
  Snapshot last_snapshot;
  CommandId last_curcid;
  ColdBatch last;
};

Oid tiered_catalog(const char* name) {
  Oid nsp = get_namespace_oid("omendb", true);
  Oid rel = OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;
  if (!OidIsValid(rel))
    ereport(ERROR,
            (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("relation \"omendb.%s\" does not exist", name),
             errhint("Tiered tables need the omendb extension: CREATE EXTENSION omendb, or ALTER EXTENSION "
                     "omendb UPDATE.")));
  return rel;
}

// The batch table and its key are opened at once; what only a found batch needs (the changes
// table, the decoder) on first use: a scan of a table without cold rows opens no more.
ColdReader* cold_open(Relation rel) {
  auto* r = static_cast<ColdReader*>(palloc0(sizeof(ColdReader)));
  r->rel = rel;
  r->relnode = rel->rd_node.relNode;
  r->cxt = CurrentMemoryContext;
  r->batches = table_open(tiered_catalog("tier_batch"), AccessShareLock);
  r->key = index_open(tiered_catalog("tier_batch_key"), AccessShareLock);
  r->batch_slot = table_slot_create(r->batches, nullptr);
  r->batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "tiered cold batch", ALLOCSET_DEFAULT_SIZES);
  return r;
}

ColdColumns* cold_columns_copy(MemoryContext cxt, const ColdColumns* cols) {
  if (cols == nullptr) return nullptr;
  Size size = offsetof(ColdColumns, attrs) + sizeof(AttrNumber) * cols->n;
  auto* copy = static_cast<ColdColumns*>(MemoryContextAlloc(cxt, size));
  memcpy(copy, cols, size);
  return copy;
}

void cold_set_columns(ColdReader* r, const ColdColumns* cols) {
  if (r->columns != nullptr) pfree(const_cast<ColdColumns*>(r->columns));
  r->columns = cold_columns_copy(r->cxt, cols);
  r->loaded = false;  // a batch decoded for other columns is read and decoded again
  r->last_valid = false;
}

static void open_changes(ColdReader* r) {
  if (r->changes != nullptr) return;
  MemoryContext old = MemoryContextSwitchTo(r->cxt);
  r->changes = table_open(tiered_catalog("tier_delete"), AccessShareLock);
  r->changes_key = index_open(tiered_catalog("tier_delete_key"), AccessShareLock);
  r->change_slot = table_slot_create(r->changes, nullptr);
  MemoryContextSwitchTo(old);
}

static BatchDecoder* decoder(ColdReader* r) {
  if (r->dec == nullptr) {
    MemoryContext old = MemoryContextSwitchTo(r->cxt);
    r->dec = batch_decoder_create();
    MemoryContextSwitchTo(old);
  }
  return r->dec;
}

void cold_close(ColdReader* r) {
  if (r->iter != nullptr) cold_batches_end(r);
  ExecDropSingleTupleTableSlot(r->batch_slot);
  if (r->changes != nullptr) {
    ExecDropSingleTupleTableSlot(r->change_slot);
    index_close(r->changes_key, AccessShareLock);
    table_close(r->changes, AccessShareLock);
  }
  index_close(r->key, AccessShareLock);
  table_close(r->batches, AccessShareLock);
  if (r->dec != nullptr) batch_decoder_free(r->dec);
  MemoryContextDelete(r->batch_cxt);
}

namespace {

// Copies the fields of the batch tuple in r->batch_slot into *out (detoasted into batch_cxt).
void read_batch(ColdReader* r, ColdBatch* out) {
  TupleTableSlot* s = r->batch_slot;
  bool null;
  int64 first = DatumGetInt64(slot_getattr(s, kBatchFirst, &null));
  out->ours = DatumGetObjectId(slot_getattr(s, kBatchRelid, &null)) == RelationGetRelid(r->rel);
  int32 nrows = DatumGetInt32(slot_getattr(s, kBatchRows, &null));
  if (first < kColdFirstBlock || first >= static_cast<int64>(InvalidBlockNumber) - kColdBlocksPerBatch ||
      (first - kColdFirstBlock) % kColdBlocksPerBatch != 0 || nrows < 0 ||
      static_cast<uint32>(nrows) > kColdMaxBatchRows)
    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                    errmsg("cold batch of tiered table \"%s\" has an invalid block range or row count",
                           RelationGetRelationName(r->rel))));
  MemoryContextReset(r->batch_cxt);
  bool decoded = r->loaded && r->loaded_first == static_cast<BlockNumber>(first);
  MemoryContext old = MemoryContextSwitchTo(r->batch_cxt);
  Datum del = slot_getattr(s, kBatchDeleted, &null);
  out->deleted = null ? nullptr
                      : reinterpret_cast<bytea*>(
                            pg_detoast_datum_copy(reinterpret_cast<struct varlena*>(DatumGetPointer(del))));
  // The payload is needed only to decode a batch not decoded yet.
  Datum payload = slot_getattr(s, kBatchPayload, &null);
  out->payload =
      decoded ? nullptr
              : batch_payload_fetch(reinterpret_cast<struct varlena*>(DatumGetPointer(payload)), r->columns);
  MemoryContextSwitchTo(old);
  out->first = static_cast<BlockNumber>(first);
  out->nrows = static_cast<uint32>(nrows);
  out->tid = s->tts_tid;
  out->never_committed = false;  // an MVCC snapshot sees committed (or its own) versions only
  out->gone = nullptr;
  out->ngone = 0;
}

// The relfilenode under which `snapshot` finds the table's batch and change rows.
Oid relnode_for(ColdReader* r, Snapshot snapshot) {
  if (!IsMVCCSnapshot(snapshot)) return r->relnode;
  if (r->as_of != snapshot || r->as_of_xmin != snapshot->xmin || r->as_of_cid != snapshot->curcid) {
    r->as_of_relnode = tiered_relnode_as_of(r->rel, snapshot);
    r->as_of = snapshot;
    r->as_of_xmin = snapshot->xmin;
    r->as_of_cid = snapshot->curcid;
  }
  return r->as_of_relnode;
}

// The rows of batch `first` that changes in omendb.tier_delete took away for `snapshot` (sorted,
// in batch_cxt). MVCC snapshots see the changes they see. SnapshotAny sees every row. Others (dirty,
// self: uniqueness checks, row locking) count a change gone if it is ours or committed; a change
// in progress leaves the row there, and a dirty snapshot learns the changer's xid (xmax) so a
// uniqueness check waits for it, as for a heap tuple being deleted.
void load_gone(ColdReader* r, BlockNumber first, Snapshot snapshot, ColdBatch* out) {
  out->gone = nullptr;
  out->ngone = 0;
  if (snapshot->snapshot_type == SNAPSHOT_ANY) return;
  open_changes(r);
  bool mvcc = IsMVCCSnapshot(snapshot);
  ScanKeyData keys[2];
  ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relnode_for(r, snapshot)));
  ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(static_cast<int64>(first)));
  IndexScanDesc scan = index_beginscan(r->changes, r->changes_key, mvcc ? snapshot : SnapshotAny, 2, 0);
  index_rescan(scan, keys, 2, nullptr, 0);
  int cap = 0;
  while (index_getnext_slot(scan, ForwardScanDirection, r->change_slot)) {
    if (!mvcc) {
      HeapTuple t = ExecFetchSlotHeapTuple(r->change_slot, false, nullptr);
      TransactionId xmin = HeapTupleHeaderGetXmin(t->t_data);
      if (!TransactionIdIsCurrentTransactionId(xmin)) {
        if (TransactionIdIsInProgress(xmin)) {
          if (snapshot->snapshot_type == SNAPSHOT_DIRTY) snapshot->xmax = xmin;
          continue;
        }
        if (!TransactionIdDidCommit(xmin)) continue;
      }
    }
    bool null;
    int32 row = DatumGetInt32(slot_getattr(r->change_slot, kDeleteRow, &null));
    if (out->ngone == cap) {
      cap = cap == 0 ? 16 : cap * 2;
      out->gone =
          static_cast<int32*>(out->gone == nullptr ? MemoryContextAlloc(r->batch_cxt, cap * sizeof(int32))
                                                   : repalloc(out->gone, cap * sizeof(int32)));
    }
    out->gone[out->ngone++] = row;
  }
  index_endscan(scan);
  std::sort(out->gone, out->gone + out->ngone);
}

}  // namespace

void cold_load_gone(ColdReader* r, ColdBatch* b, Snapshot snapshot) { load_gone(r, b->first, snapshot, b); }

bool cold_row_folded(const ColdBatch* b, uint32 row) {
  return b->deleted != nullptr && row / 8 < VARSIZE_ANY_EXHDR(b->deleted) &&
         ((reinterpret_cast<const uint8*>(VARDATA_ANY(b->deleted))[row / 8] >> (row % 8)) & 1);
}

bool cold_row_deleted(const ColdBatch* b, uint32 row) {
  if (cold_row_folded(b, row)) return true;
  return b->ngone > 0 && std::binary_search(b->gone, b->gone + b->ngone, static_cast<int32>(row));
}

// Whether the batch version in r->batch_slot (read under SnapshotAny) is dead to every snapshot:
// then its payload's TOAST chunks may be gone already (a compaction's new version has another
// payload), and a version no one can see is not read.
static bool version_removable(ColdReader* r, TransactionId horizon) {
  auto* bslot = reinterpret_cast<BufferHeapTupleTableSlot*>(r->batch_slot);
  Buffer buf = bslot->buffer;
  if (!BufferIsValid(buf)) return false;
  HeapTuple t = ExecFetchSlotHeapTuple(r->batch_slot, false, nullptr);
  LockBuffer(buf, BUFFER_LOCK_SHARE);
  HTSV_Result v = HeapTupleSatisfiesVacuum(t, horizon, buf);
  LockBuffer(buf, BUFFER_LOCK_UNLOCK);
  return v == HEAPTUPLE_DEAD;
}

// The next batch version of `scan` into r->batch_slot; under SnapshotAny (every version) not one
// dead as of `horizon`. False at the end.
static bool next_version(ColdReader* r, IndexScanDesc scan, ScanDirection dir, TransactionId horizon) {
  bool any = scan->xs_snapshot->snapshot_type == SNAPSHOT_ANY;
  while (index_getnext_slot(scan, dir, r->batch_slot))
    if (!any || !version_removable(r, horizon)) return true;
  return false;
}

bool cold_find(ColdReader* r, BlockNumber first, Snapshot snapshot, ColdBatch* out) {
  r->last_valid = false;  // read_batch replaces the fields the cached lookup points to
  ScanKeyData keys[2];
  ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relnode_for(r, snapshot)));
  ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(static_cast<int64>(first)));
  IndexScanDesc scan = index_beginscan(r->batches, r->key, snapshot, 2, 0);
  index_rescan(scan, keys, 2, nullptr, 0);
  // Under SnapshotAny (row locks, RETURNING, triggers re-fetch so) every version is returned: not
  // one dead to every snapshot, whose payload's TOAST chunks may be gone (a compaction's).
  TransactionId horizon = snapshot->snapshot_type == SNAPSHOT_ANY
                              ? GetOldestNonRemovableTransactionId(r->batches)
                              : InvalidTransactionId;
  bool found = next_version(r, scan, ForwardScanDirection, horizon);
  if (found) read_batch(r, out);
  found = found && out->ours;
  index_endscan(scan);
  if (found) load_gone(r, first, snapshot, out);
  return found;
}

void cold_store_row(ColdReader* r, const ColdBatch* b, uint32 row, TupleTableSlot* slot) {
  if (!r->loaded || r->loaded_first != b->first ||
      batch_decoder_desc(decoder(r)) != slot->tts_tupleDescriptor) {
    const char* why = cold_check(r, b, slot->tts_tupleDescriptor);
    if (why != nullptr)
      ereport(
          ERROR,
          (errcode(ERRCODE_DATA_CORRUPTED),
           errmsg("cold batch of tiered table \"%s\" is corrupt: %s", RelationGetRelationName(r->rel), why),
           errhint("omendb_tier_verify('%s') checks every batch.", RelationGetRelationName(r->rel))));
  }
  // Formed in the slot's memory: the slot takes it as its own (no copy, as ExecForceStoreHeapTuple
  // would make). When the slot already owns a tuple of no buffer (the previous cold row, as a rule)
  // with room, the row is formed over it: one palloc and pfree less per row. That relies on the
  // rule the old way relied on too (a store freed the old tuple): nothing keeps a pointer into a
  // slot's tuple, or a by-reference value deformed from it, across the next store into the slot;
  // executor nodes that need a row longer copy it (ExecCopySlot, datumCopy, tuplestores). Every
  // allocator of such a tuple (heap_copytuple, heap_form_tuple, expand_tuple) gives it
  // HEAPTUPLESIZE + t_len bytes, so t_len bounds the room.
  auto* bslot = TTS_IS_BUFFERTUPLE(slot) ? reinterpret_cast<BufferHeapTupleTableSlot*>(slot) : nullptr;
  HeapTuple reuse = nullptr;
  if (bslot != nullptr && !TTS_EMPTY(slot) && TTS_SHOULDFREE(slot) && !BufferIsValid(bslot->buffer) &&
      bslot->base.tuple != nullptr &&
      bslot->base.tuple->t_data ==
          reinterpret_cast<HeapTupleHeader>(reinterpret_cast<char*>(bslot->base.tuple) + HEAPTUPLESIZE))
    reuse = bslot->base.tuple;
  MemoryContext old = MemoryContextSwitchTo(slot->tts_mcxt);
  HeapTuple tuple = batch_decoder_row(decoder(r), row, reuse);
  MemoryContextSwitchTo(old);
  // A cold row reads as a frozen tuple: its batch's visibility was checked by the caller.
  HeapTupleHeaderSetXmin(tuple->t_data, FrozenTransactionId);
  HeapTupleHeaderSetXmax(tuple->t_data, InvalidTransactionId);
  HeapTupleHeaderSetCmin(tuple->t_data, FirstCommandId);
  tuple->t_data->t_infomask |= HEAP_XMIN_FROZEN | HEAP_XMAX_INVALID;
  // The TID is written to each place, never copied from one: reading back the 16-bit halves just
  // stored stalls store forwarding (it was half this function's time in a 1000-row range).
  tiered_row_tid(b->first, row, &tuple->t_self);
  tiered_row_tid(b->first, row, &tuple->t_data->t_ctid);
  tuple->t_tableOid = RelationGetRelid(r->rel);
  if (tuple == reuse) {
    // The slot keeps its tuple (now this row): only what it derived from the old row is dropped.
    slot->tts_nvalid = 0;
    bslot->base.off = 0;
  } else if (bslot != nullptr) {
    // Heap's buffer slot, holding a tuple of no buffer that it frees: what ExecForceStoreHeapTuple
    // leaves, minus its copy.
    ExecClearTuple(slot);
    bslot->base.tuple = tuple;
    bslot->base.off = 0;
    slot->tts_nvalid = 0;
    slot->tts_flags = (slot->tts_flags & ~TTS_FLAG_EMPTY) | TTS_FLAG_SHOULDFREE;
  } else {
    ExecForceStoreHeapTuple(tuple, slot, true);
  }
  tiered_row_tid(b->first, row, &slot->tts_tid);
  slot->tts_tableOid = RelationGetRelid(r->rel);
}

bool cold_fetch(ColdReader* r, ItemPointer tid, Snapshot snapshot, TupleTableSlot* slot) {
  BlockNumber first = tiered_batch_first(ItemPointerGetBlockNumberNoCheck(tid));
  if (!(r->last_valid && r->last_first == first && IsMVCCSnapshot(snapshot) && r->last_snapshot == snapshot &&
        r->last_curcid == snapshot->curcid)) {
    bool found = cold_find(r, first, snapshot, &r->last);
    r->last_valid = true;
    r->last_found = found;
    r->last_first = first;
    r->last_snapshot = snapshot;
    r->last_curcid = snapshot->curcid;
  }
  if (!r->last_found) return false;
  uint32 row = tiered_tid_row(tid);
  if (row >= r->last.nrows || cold_row_deleted(&r->last, row)) return false;
  cold_store_row(r, &r->last, row, slot);
  return true;
}

uint8* cold_folded_any(ColdReader* r, BlockNumber first, uint32 nrows) {
  uint8* bits = nullptr;
  ScanKeyData keys[2];
  ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(r->relnode));
  ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(static_cast<int64>(first)));
  IndexScanDesc scan = index_beginscan(r->batches, r->key, SnapshotAny, 2, 0);
  index_rescan(scan, keys, 2, nullptr, 0);
  uint32 len = (nrows + 7) / 8;
  TupleTableSlot* slot = table_slot_create(r->batches, nullptr);
  while (index_getnext_slot(scan, ForwardScanDirection, slot)) {
    bool null;
    Datum d = slot_getattr(slot, kBatchDeleted, &null);
    if (null) continue;
    bytea* have = DatumGetByteaPP(d);
    if (bits == nullptr) bits = static_cast<uint8*>(palloc0(len + 1));
    const auto* src = reinterpret_cast<const uint8*>(VARDATA_ANY(have));
    for (uint32 i = 0; i < Min(len, VARSIZE_ANY_EXHDR(have)); i++) bits[i] |= src[i];
  }
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
  return bits;
}

void cold_batches_begin(ColdReader* r, Snapshot snapshot) {
  ScanKeyData key;
  ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relnode_for(r, snapshot)));
  r->iter = index_beginscan(r->batches, r->key, snapshot, 1, 0);
  r->iter_snapshot = snapshot;
  // One horizon for the whole iteration: the versions it skips are dead to every snapshot.
  r->iter_horizon = snapshot->snapshot_type == SNAPSHOT_ANY ? GetOldestNonRemovableTransactionId(r->batches)
                                                            : InvalidTransactionId;
  index_rescan(r->iter, &key, 1, nullptr, 0);
}

// The next batch of this table in `dir`, with its changes for the iteration's snapshot.
static bool cold_batches_step(ColdReader* r, ScanDirection dir, ColdBatch* out) {
  r->last_valid = false;
  do {
    if (!next_version(r, r->iter, dir, r->iter_horizon)) return false;
    read_batch(r, out);
  } while (!out->ours);
  if (r->iter_snapshot->snapshot_type == SNAPSHOT_ANY) {  // every version: was this one committed?
    HeapTupleHeader h = ExecFetchSlotHeapTuple(r->batch_slot, false, nullptr)->t_data;
    TransactionId xmin = HeapTupleHeaderGetXmin(h);
    out->never_committed = !HeapTupleHeaderXminCommitted(h) && !TransactionIdIsCurrentTransactionId(xmin) &&
                           !TransactionIdIsInProgress(xmin) && !TransactionIdDidCommit(xmin);
  }
  load_gone(r, out->first, r->iter_snapshot, out);
  return true;
}

bool cold_batches_next(ColdReader* r, ColdBatch* out) {
  return cold_batches_step(r, ForwardScanDirection, out);
}
bool cold_batches_prev(ColdReader* r, ColdBatch* out) {
  return cold_batches_step(r, BackwardScanDirection, out);
}

void cold_batches_end(ColdReader* r) {
  index_endscan(r->iter);
  r->iter = nullptr;
}

const char* cold_check(ColdReader* r, const ColdBatch* b, TupleDesc desc) {
  if (b->payload == nullptr) {  // decoded already by this reader (read_batch kept no copy)
    Assert(r->loaded && r->loaded_first == b->first);
    return batch_decoder_desc(r->dec) == desc ? nullptr : batch_decoder_bind(r->dec, desc);
  }
  r->loaded = false;
  const char* why = batch_decoder_load(decoder(r), b->payload, desc, r->columns, b->deleted);
  if (why != nullptr) return why;
  if (batch_decoder_rows(r->dec) != b->nrows)
    return "its payload holds another row count than its catalog row";
  r->loaded = true;
  r->loaded_first = b->first;
  return nullptr;
}
