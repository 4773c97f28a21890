// omendb_tier_move: hot rows older than a cutoff become cold batches, in one transaction.
//
// The protocol (DESIGN.md section 3, docs/tiered.md):
//  1. ShareUpdateExclusiveLock on the table: one move at a time, no DDL, no CREATE INDEX
//     CONCURRENTLY in between; reads and writes go on.
//  2. A row is taken only if it is visible to every snapshot (xmin before the oldest xmin anyone
//     holds) and nobody holds or changes it (no xmax): its cold copy, stamped with our xid, is then
//     seen by exactly the snapshots that no longer see the hot one.
//  3. The hot row is deleted through heap (heap_delete, no wait: a row locked meanwhile is skipped),
//     marked as moved like a row that left its partition, so a concurrent UPDATE or DELETE gets a
//     serialization failure instead of silently missing it.
//  4. Every batch_rows rows: the batch is encoded and inserted into omendb.tier_batch, then each
//     row's virtual TID into every index of the table.
// An aborted or crashed move leaves only invisible rows behind (VACUUM's business).
#include "tiered.h"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "storage/bufmgr.h"
#include "utils/guc.h"
#include "catalog/pg_type_d.h"
#include "commands/sequence.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "storage/procarray.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(omendb_tier_move);
}

namespace {

// The tier column's value below which a row is cold: now() - older_than in the column's type
// (integers hold Unix epoch seconds).
Datum cutoff_for(Oid type, Interval* older_than) {
  Datum now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
  Datum cut = DirectFunctionCall2(timestamptz_mi_interval, now, PointerGetDatum(older_than));
  switch (type) {
    case TIMESTAMPTZOID:
      return cut;
    case TIMESTAMPOID:
      return DirectFunctionCall1(timestamptz_timestamp, cut);
    case DATEOID:
      return DirectFunctionCall1(timestamptz_date, cut);
    default: {
      int64 secs =
          DatumGetTimestampTz(cut) / USECS_PER_SEC + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
      if (type == INT8OID) return Int64GetDatum(secs);
      if (type == INT4OID)
        return Int32GetDatum(static_cast<int32>(Max(Min(secs, PG_INT32_MAX), PG_INT32_MIN)));
      return Int16GetDatum(static_cast<int16>(Max(Min(secs, PG_INT16_MAX), PG_INT16_MIN)));
    }
  }
}

struct Mover {
  Relation rel, batches;
  CatalogIndexState batch_indexes;
  int nindexes;
  Relation* indexes;
  IndexInfo** infos;
  ExprState** predicates;
  EState* estate;
  TupleTableSlot* slot;  // one moved row at a time, for the index entries
  BatchBuilder* builder;
  HeapTuple* rows;  // the batch's rows (copies), for the index entries
  int64 hot_bytes;
  MemoryContext batch_cxt;
  Oid seq;
  int64 moved;
};

void open_indexes(Mover* m) {
  List* ids = RelationGetIndexList(m->rel);
  m->nindexes = list_length(ids);
  m->indexes = static_cast<Relation*>(palloc(sizeof(Relation) * Max(m->nindexes, 1)));
  m->infos = static_cast<IndexInfo**>(palloc(sizeof(IndexInfo*) * Max(m->nindexes, 1)));
  m->predicates = static_cast<ExprState**>(palloc0(sizeof(ExprState*) * Max(m->nindexes, 1)));
  int i = 0;
  ListCell* lc;
  foreach (lc, ids) {
    Relation index = index_open(lfirst_oid(lc), RowExclusiveLock);
    if (!index->rd_index->indisready) {  // being dropped, or built concurrently and not ready yet
      index_close(index, RowExclusiveLock);
      continue;
    }
    m->indexes[i] = index;
    m->infos[i] = BuildIndexInfo(m->indexes[i]);
    m->predicates[i] = ExecPrepareQual(m->infos[i]->ii_Predicate, m->estate);
    i++;
  }
  m->nindexes = i;
}

// Writes the rows collected so far as one batch, and their cold TIDs into every index.
void flush(Mover* m) {
  uint32 n = batch_builder_rows(m->builder);
  if (n == 0) return;
  int64 slot_no = nextval_internal(m->seq, false);
  BlockNumber first = kColdFirstBlock + static_cast<BlockNumber>(slot_no) * kColdBlocksPerBatch;
  Datum values[kBatchNatts];
  bool nulls[kBatchNatts] = {false};
  values[kBatchRelid - 1] = ObjectIdGetDatum(RelationGetRelid(m->rel));
  values[kBatchRelnode - 1] = ObjectIdGetDatum(m->rel->rd_node.relNode);
  values[kBatchFirst - 1] = Int64GetDatum(static_cast<int64>(first));
  values[kBatchRows - 1] = Int32GetDatum(static_cast<int32>(n));
  nulls[kBatchDeleted - 1] = true;
  values[kBatchDeleted - 1] = (Datum)0;
  values[kBatchMovedAt - 1] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
  values[kBatchPayload - 1] = PointerGetDatum(batch_builder_finish(m->builder));
  values[kBatchHotBytes - 1] = Int64GetDatum(m->hot_bytes);
  HeapTuple tup = heap_form_tuple(RelationGetDescr(m->batches), values, nulls);
  tiered_crash_point("move-before-batch");  // the batch's hot rows deleted (not committed)
  CatalogTupleInsertWithInfo(m->batches, tup, m->batch_indexes);
  tiered_crash_point("move-after-batch");

  ExprContext* econtext = GetPerTupleExprContext(m->estate);
  econtext->ecxt_scantuple = m->slot;
  Datum ivalues[INDEX_MAX_KEYS];
  bool inulls[INDEX_MAX_KEYS];
  for (uint32 row = 0; row < n; row++) {
    ItemPointerData tid;
    tiered_row_tid(first, row, &tid);
    ExecStoreHeapTuple(m->rows[row], m->slot, false);
    for (int i = 0; i < m->nindexes; i++) {
      MemoryContextReset(econtext->ecxt_per_tuple_memory);
      if (m->predicates[i] != nullptr && !ExecQual(m->predicates[i], econtext)) continue;
      FormIndexDatum(m->infos[i], m->slot, m->estate, ivalues, inulls);
      // The values are unchanged and the hot copy is deleted by this transaction: no uniqueness
      // question arises.
      index_insert(m->indexes[i], ivalues, inulls, &tid, m->rel, UNIQUE_CHECK_NO, false, m->infos[i]);
    }
    ExecClearTuple(m->slot);
    if (row == n / 2) tiered_crash_point("move-mid-index");
  }
  m->moved += n;
  m->hot_bytes = 0;
  MemoryContextReset(m->batch_cxt);
  tiered_crash_point("move-after-flush");
}

}  // namespace

// omendb_tier_move(rel regclass, older_than interval DEFAULT NULL) -> bigint: rows moved.
extern "C" Datum omendb_tier_move(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("rel must not be NULL")));
  PreventCommandIfReadOnly("omendb_tier_move()");
  PreventCommandDuringRecovery("omendb_tier_move()");
  Oid relid = PG_GETARG_OID(0);
  Relation rel = table_open(relid, ShareUpdateExclusiveLock);
  tiered_check_tiered(rel, "omendb_tier_move()");
  if (!pg_class_ownercheck(relid, GetUserId()))
    aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, RelationGetRelationName(rel));
  tiered_check_unpublished(rel, kPublishedDeletes, "move rows of",
                           "A move deletes the rows from the hot tier; subscribers would delete them too.");
  tiered_check_permanent(rel, "move rows of");
  TierPolicy policy;
  if (!tiered_policy_get(rel, &policy))
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("tiered table \"%s\" has no tier policy", RelationGetRelationName(rel)),
             errhint("Name the column that ages its rows: SELECT omendb_tier_set_policy('%s', 'created_at');",
                     RelationGetRelationName(rel))));
  if (PG_ARGISNULL(1) && !policy.has_cold_after)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("no age given and the policy has no cold_after"),
                    errhint("Pass older_than, or set cold_after with omendb_tier_set_policy.")));
  Interval* older_than = PG_ARGISNULL(1) ? DatumGetIntervalP(policy.cold_after) : PG_GETARG_INTERVAL_P(1);
  Datum cutoff = cutoff_for(policy.tier_type, older_than);
  TypeCacheEntry* tce = lookup_type_cache(policy.tier_type, TYPECACHE_CMP_PROC_FINFO);

  // The move evaluates index expressions and predicates: as the table's owner, in a restricted
  // context, as VACUUM and REINDEX do (a superuser's move must not run the owner's functions with
  // the superuser's rights).
  Oid save_user;
  int save_sec;
  GetUserIdAndSecContext(&save_user, &save_sec);
  SetUserIdAndSecContext(rel->rd_rel->relowner, save_sec | SECURITY_RESTRICTED_OPERATION);
  int guc_nest = NewGUCNestLevel();

  Mover m = {};
  m.rel = rel;
  m.batches = table_open(tiered_catalog("tier_batch"), RowExclusiveLock);
  m.batch_indexes = CatalogOpenIndexes(m.batches);
  m.estate = CreateExecutorState();
  m.slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsHeapTuple);
  m.seq = tiered_catalog("tier_slot");
  m.batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "tiered move batch", ALLOCSET_DEFAULT_SIZES);
  m.builder = batch_builder_create(RelationGetDescr(rel), policy.batch_rows);
  m.rows = static_cast<HeapTuple*>(palloc(sizeof(HeapTuple) * policy.batch_rows));
  open_indexes(&m);

  TransactionId oldest = GetOldestNonRemovableTransactionId(rel);
  Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
  CommandId cid = GetCurrentCommandId(true);
  TableScanDesc scan = heap_beginscan(rel, snapshot, 0, nullptr, nullptr,
                                      SO_TYPE_SEQSCAN | SO_ALLOW_STRAT | SO_ALLOW_PAGEMODE);
  TupleTableSlot* hot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsBufferHeapTuple);
  while (heap_getnextslot(scan, ForwardScanDirection, hot)) {
    CHECK_FOR_INTERRUPTS();
    bool null;
    Datum v = slot_getattr(hot, policy.tier_attnum, &null);
    if (null || DatumGetInt32(FunctionCall2Coll(&tce->cmp_proc_finfo, InvalidOid, v, cutoff)) >= 0) continue;
    HeapTuple t = reinterpret_cast<BufferHeapTupleTableSlot*>(hot)->base.tuple;
    HeapTupleHeader h = t->t_data;
    if (!HeapTupleHeaderXminFrozen(h) && !TransactionIdPrecedes(HeapTupleHeaderGetXmin(h), oldest)) continue;
    // Live for everyone: no xmax but a finished locker's (a row lock, as a logical replication
    // apply worker takes before it changes a row, leaves one behind with no hint bit set). A
    // running locker makes heap_delete below fail instead.
    Buffer buf = reinterpret_cast<BufferHeapTupleTableSlot*>(hot)->buffer;
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    HTSV_Result state = HeapTupleSatisfiesVacuum(t, oldest, buf);
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
    if (state != HEAPTUPLE_LIVE) continue;
    TM_FailureData tmfd;
    ItemPointerData tid = t->t_self;
    if (heap_delete(rel, &tid, cid, InvalidSnapshot, false, &tmfd, true) != TM_Ok) continue;
    MemoryContext old = MemoryContextSwitchTo(m.batch_cxt);
    m.rows[batch_builder_rows(m.builder)] = ExecCopySlotHeapTuple(hot);
    MemoryContextSwitchTo(old);
    m.hot_bytes += MAXALIGN(t->t_len) + sizeof(ItemIdData);
    if (batch_builder_add(m.builder, hot) == static_cast<uint32>(policy.batch_rows)) flush(&m);
  }
  flush(&m);
  ExecDropSingleTupleTableSlot(hot);
  heap_endscan(scan);
  UnregisterSnapshot(snapshot);

  for (int i = 0; i < m.nindexes; i++) index_close(m.indexes[i], NoLock);
  CatalogCloseIndexes(m.batch_indexes);
  ExecDropSingleTupleTableSlot(m.slot);
  FreeExecutorState(m.estate);
  batch_builder_free(m.builder);
  MemoryContextDelete(m.batch_cxt);
  table_close(m.batches, NoLock);

  Oid types[1] = {OIDOID};
  Datum args[1] = {ObjectIdGetDatum(relid)};
  tiered_catalog_spi("UPDATE omendb.tier_policy SET last_move = now() WHERE relid = $1::regclass", 1, types,
                     args, false);
  AtEOXact_GUC(false, guc_nest);
  SetUserIdAndSecContext(save_user, save_sec);
  // Plans see the new cold row count (tiered.cpp caches it in rd_amcache).
  if (m.moved > 0) CacheInvalidateRelcache(rel);
  tiered_crash_point("move-end");  // all written, not committed
  table_close(rel, NoLock);
  PG_RETURN_INT64(m.moved);
}
