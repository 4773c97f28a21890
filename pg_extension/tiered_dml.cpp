// DELETE, UPDATE and row locks on cold rows of a tiered table (hot rows: heap's callbacks).
//
// A cold row is never changed in its batch. Deleting it inserts a row into omendb.tier_delete
// stamped with the deleting transaction's xid, the way heap stamps xmax: snapshots that see that
// transaction see the row gone (tiered_cold.cpp, load_gone), others still see it. Updating it does
// the same with the new version's TID after inserting that version into the hot tier, so an
// EvalPlanQual recheck follows the row to it. Row locks (FOR UPDATE/SHARE, foreign-key checks) are
// heavyweight tuple locks on the cold TID held to the end of the transaction.
//
// Concurrency, as heap's: a change first takes the row's tuple lock in exclusive mode (waiting for
// row lockers and for other changers' check-and-insert), then looks for changes of other
// transactions: one in progress is waited for (then the check runs again), a committed one means
// the row was deleted or updated concurrently (TM_Deleted / TM_Updated: the executor raises a
// serialization failure under REPEATABLE READ, skips or re-evaluates the row under READ
// COMMITTED), one of our own means it was changed in this transaction (TM_SelfModified).
// docs/tiered.md has why not a bit in the batch row (DESIGN.md's first plan).
#include "tiered.h"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
}

namespace {

const TableAmRoutine* heap_am() { return GetHeapamTableAmRoutine(); }

// A change of the cold row at `tid` by another transaction, or our own.
struct Change {
  bool found;
  bool ours;
  bool in_progress;
  TransactionId xid;
  CommandId cmin;  // ours only
  bool updated;    // an UPDATE: new_tid is the row's next version
  ItemPointerData new_tid;
};

// The first change of the row that matters: ours, then in progress, then committed (aborted ones
// are ignored). Read with SnapshotAny: the changers' xids decide, not our snapshot.
Change find_change(Relation rel, ItemPointer tid) {
  Change c = {};
  Relation changes = table_open(tiered_catalog("tier_delete"), AccessShareLock);
  Relation key = index_open(tiered_catalog("tier_delete_key"), AccessShareLock);
  BlockNumber first = tiered_batch_first(ItemPointerGetBlockNumberNoCheck(tid));
  ScanKeyData keys[3];
  ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(rel->rd_node.relNode));
  ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(static_cast<int64>(first)));
  ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_INT4EQ,
              Int32GetDatum(static_cast<int32>(tiered_tid_row(tid))));
  IndexScanDesc scan = index_beginscan(changes, key, SnapshotAny, 3, 0);
  index_rescan(scan, keys, 3, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(changes, nullptr);
  while (index_getnext_slot(scan, ForwardScanDirection, slot)) {
    HeapTuple t = ExecFetchSlotHeapTuple(slot, false, nullptr);
    TransactionId xmin = HeapTupleHeaderGetXmin(t->t_data);
    Change seen = {};
    seen.found = true;
    seen.xid = xmin;
    if (TransactionIdIsCurrentTransactionId(xmin)) {
      seen.ours = true;
      seen.cmin = HeapTupleHeaderGetCmin(t->t_data);
    } else if (TransactionIdIsInProgress(xmin)) {
      seen.in_progress = true;
    } else if (!TransactionIdDidCommit(xmin)) {
      continue;
    }
    bool null;
    Datum next = slot_getattr(slot, kDeleteNewTid, &null);
    seen.updated = !null;
    if (!null) seen.new_tid = *reinterpret_cast<ItemPointer>(DatumGetPointer(next));
    // ours > in progress > committed: the strongest answer wins
    int rank = seen.ours ? 3 : seen.in_progress ? 2 : 1;
    int have = !c.found ? 0 : c.ours ? 3 : c.in_progress ? 2 : 1;
    if (rank > have) c = seen;
  }
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
  index_close(key, AccessShareLock);
  table_close(changes, AccessShareLock);
  return c;
}

// Fills *tmfd for a change found and returns its result for the executor.
TM_Result changed(const Change& c, ItemPointer tid, TM_FailureData* tmfd) {
  tmfd->ctid = c.updated ? c.new_tid : *tid;
  tmfd->xmax = c.xid;
  tmfd->cmax = c.ours ? c.cmin : InvalidCommandId;
  if (c.ours) return TM_SelfModified;
  return c.updated ? TM_Updated : TM_Deleted;
}

// Takes the row's tuple lock (`mode`) and waits out changes in progress; TM_Ok when no change of
// the row is committed or ours (the lock is then held), else why not (the lock is released).
TM_Result lock_unchanged(Relation rel, ItemPointer tid, LOCKMODE mode, LockWaitPolicy policy,
                         TM_FailureData* tmfd) {
  for (;;) {
    if (policy == LockWaitBlock) {
      LockTuple(rel, tid, mode);
    } else if (!ConditionalLockTuple(rel, tid, mode)) {
      if (policy == LockWaitSkip) return TM_WouldBlock;
      ereport(ERROR,
              (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
               errmsg("could not obtain lock on row in relation \"%s\"", RelationGetRelationName(rel))));
    }
    Change c = find_change(rel, tid);
    if (!c.found) return TM_Ok;
    if (!c.in_progress) {
      UnlockTuple(rel, tid, mode);
      return changed(c, tid, tmfd);
    }
    UnlockTuple(rel, tid, mode);
    if (policy == LockWaitSkip) return TM_WouldBlock;
    if (policy == LockWaitError && !ConditionalXactLockTableWait(c.xid))
      ereport(ERROR,
              (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
               errmsg("could not obtain lock on row in relation \"%s\"", RelationGetRelationName(rel))));
    XactLockTableWait(c.xid, rel, tid, XLTW_Delete);
  }
}

// Records the change of the cold row at `tid` (new_tid: its next version, or nullptr).
void record_change(Relation rel, ItemPointer tid, ItemPointer new_tid) {
  Relation changes = table_open(tiered_catalog("tier_delete"), RowExclusiveLock);
  Datum values[kDeleteNatts];
  bool nulls[kDeleteNatts] = {false};
  values[kDeleteRelid - 1] = ObjectIdGetDatum(RelationGetRelid(rel));
  values[kDeleteRelnode - 1] = ObjectIdGetDatum(rel->rd_node.relNode);
  values[kDeleteFirst - 1] =
      Int64GetDatum(static_cast<int64>(tiered_batch_first(ItemPointerGetBlockNumberNoCheck(tid))));
  values[kDeleteRow - 1] = Int32GetDatum(static_cast<int32>(tiered_tid_row(tid)));
  values[kDeleteNewTid - 1] = PointerGetDatum(new_tid);
  nulls[kDeleteNewTid - 1] = new_tid == nullptr;
  CatalogTupleInsert(changes, heap_form_tuple(RelationGetDescr(changes), values, nulls));
  table_close(changes, NoLock);
}

// The exclusive tuple lock a DELETE or UPDATE of the cold row at `tid` holds while it records the
// change, once no change of another transaction stands in the way. With a crosscheck snapshot
// (foreign-key actions under REPEATABLE READ) the row must be visible to it too, else TM_Updated.
TM_Result lock_for_change(Relation rel, ItemPointer tid, Snapshot crosscheck, bool wait,
                          TM_FailureData* tmfd) {
  TM_Result r = lock_unchanged(rel, tid, ExclusiveLock, wait ? LockWaitBlock : LockWaitSkip, tmfd);
  if (r != TM_Ok || crosscheck == InvalidSnapshot) return r;
  TupleTableSlot* probe = table_slot_create(rel, nullptr);
  bool visible = rel->rd_tableam->tuple_fetch_row_version(rel, tid, crosscheck, probe);
  ExecDropSingleTupleTableSlot(probe);
  if (visible) return TM_Ok;
  UnlockTuple(rel, tid, ExclusiveLock);
  tmfd->ctid = *tid;
  tmfd->xmax = InvalidTransactionId;
  tmfd->cmax = InvalidCommandId;
  return TM_Updated;
}

TM_Result tuple_delete(Relation rel, ItemPointer tid, CommandId cid, Snapshot snapshot, Snapshot crosscheck,
                       bool wait, TM_FailureData* tmfd, bool changing_part) {
  if (!tiered_is_cold(tid))
    return heap_am()->tuple_delete(rel, tid, cid, snapshot, crosscheck, wait, tmfd, changing_part);
  tiered_check_unpublished(rel, kPublishedDeletes, "delete cold rows of",
                           "A cold row's delete is not in the WAL logical decoding reads.");
  TM_Result r = lock_for_change(rel, tid, crosscheck, wait, tmfd);
  if (r != TM_Ok) return r;
  ItemPointerData moved;
  ItemPointerSetMovedPartitions(&moved);
  record_change(rel, tid, changing_part ? &moved : nullptr);
  UnlockTuple(rel, tid, ExclusiveLock);
  pgstat_count_heap_delete(rel);  // n_tup_del, and n_dead_tup for autovacuum
  return TM_Ok;
}

TM_Result tuple_update(Relation rel, ItemPointer otid, TupleTableSlot* slot, CommandId cid, Snapshot snapshot,
                       Snapshot crosscheck, bool wait, TM_FailureData* tmfd, LockTupleMode* lockmode,
                       bool* update_indexes) {
  if (!tiered_is_cold(otid))
    return heap_am()->tuple_update(rel, otid, slot, cid, snapshot, crosscheck, wait, tmfd, lockmode,
                                   update_indexes);
  *lockmode = LockTupleExclusive;
  tiered_check_unpublished(
      rel, kPublishedInsertsOrUpdates, "update cold rows of",
      "Logical decoding would send a cold row's update as the insert of its new version.");
  TM_Result r = lock_for_change(rel, otid, crosscheck, wait, tmfd);
  if (r != TM_Ok) return r;
  // The new version is a hot row (every index gets its entries from the executor).
  heap_am()->tuple_insert(rel, slot, cid, 0, nullptr);
  record_change(rel, otid, &slot->tts_tid);
  UnlockTuple(rel, otid, ExclusiveLock);
  pgstat_count_heap_update(rel, false);
  *update_indexes = true;
  return TM_Ok;
}

TM_Result tuple_lock(Relation rel, ItemPointer tid, Snapshot snapshot, TupleTableSlot* slot, CommandId cid,
                     LockTupleMode mode, LockWaitPolicy wait_policy, uint8 flags, TM_FailureData* tmfd) {
  if (!tiered_is_cold(tid))
    return heap_am()->tuple_lock(rel, tid, snapshot, slot, cid, mode, wait_policy, flags, tmfd);
  tmfd->traversed = false;
  // FOR UPDATE / NO KEY UPDATE exclude each other and changes; FOR SHARE / KEY SHARE only changes.
  LOCKMODE lock = mode >= LockTupleNoKeyExclusive ? ExclusiveLock : ShareLock;
  TM_Result r = lock_unchanged(rel, tid, lock, wait_policy, tmfd);
  if (r == TM_Updated && (flags & TUPLE_LOCK_FLAG_FIND_LAST_VERSION) &&
      !ItemPointerIndicatesMovedPartitions(&tmfd->ctid) && TransactionIdIsValid(tmfd->xmax)) {
    // Updated by a committed transaction: lock its new (hot) version instead, as heap follows its
    // update chain, and tell the executor it moved.
    *tid = tmfd->ctid;
    r = heap_am()->tuple_lock(rel, tid, snapshot, slot, cid, mode, wait_policy, flags, tmfd);
    tmfd->traversed = true;
    return r;
  }
  if (r != TM_Ok) return r;
  // The lock stays to the end of the transaction; the row, as any fetch would see it.
  if (!rel->rd_tableam->tuple_fetch_row_version(rel, tid, SnapshotAny, slot)) {
    UnlockTuple(rel, tid, lock);
    tmfd->ctid = *tid;
    tmfd->xmax = InvalidTransactionId;
    tmfd->cmax = InvalidCommandId;
    return TM_Deleted;
  }
  (void)cid;
  return TM_Ok;
}

}  // namespace

void tiered_dml_callbacks(TableAmRoutine* r) {
  r->tuple_delete = tuple_delete;
  r->tuple_update = tuple_update;
  r->tuple_lock = tuple_lock;
}
