// The fold: VACUUM's third step (tiered_vacuum.cpp). Changes of cold rows (omendb.tier_delete)
// that VACUUM swept from the indexes become bits of their batch's `deleted` bitmap: a new version of
// the batch row (a batch whose rows are all deleted is deleted), and the changes are deleted. Plain
// MVCC writes: a snapshot older than the fold still reads the old batch version and the changes,
// and so the same rows; primaries and standbys alike. A batch with enough deleted rows that still
// hold values is compacted in the same new version (compact, below).
//
// The fold needs a transaction id, which a lazy VACUUM must not take, so it runs in a background
// worker that VACUUM starts and waits for. The worker takes no lock on the tiered table (VACUUM
// holds one that would block it): it changes only batch rows of the table's relfilenode and
// changes older than VACUUM's cutoff (of the batches VACUUM got to: its memory may stop it short).
// Those were committed before VACUUM began, and VACUUM swept their rows' index entries. A VACUUM
// cancelled while it waits leaves the worker running without its lock: still safe, as the worker
// folds only what was swept, and a racing writer of the same batch row makes it fail cleanly. A concurrent
// writer of the same batch row (a TRUNCATE, a rewrite, or another fold after a cancelled VACUUM) makes the
// worker fail with "tuple concurrently updated". Nothing is lost then: the changes stay, and the next VACUUM
// folds them.
#include "tiered.h"

extern "C" {
#include "access/detoast.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_bitutils.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

PGDLLEXPORT void omendb_tier_fold_main(Datum arg);
}

namespace {

// What VACUUM hands the worker (in bgw_extra).
struct FoldArgs {
  Oid dboid, relid, relnode;
  TransactionId cutoff;
  BlockNumber max_first;  // changes of batches after this one were not swept
};
static_assert(sizeof(FoldArgs) <= BGW_EXTRALEN, "FoldArgs fits in bgw_extra");

// One change to fold: its batch, row, and the TID of its omendb.tier_delete row.
struct Change {
  BlockNumber first;
  uint32 row;
  ItemPointerData tid;
};

// The changes of the table older than the cutoff and visible now, in (batch, row) order.
Change* changes_to_fold(Relation changes, const FoldArgs& a, int64* n) {
  Relation key = index_open(tiered_catalog("tier_delete_key"), AccessShareLock);
  ScanKeyData k;
  ScanKeyInit(&k, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(a.relnode));
  IndexScanDesc scan = index_beginscan(changes, key, GetActiveSnapshot(), 1, 0);
  index_rescan(scan, &k, 1, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(changes, nullptr);
  int64 cap = 256;
  auto* out = static_cast<Change*>(palloc(sizeof(Change) * cap));
  *n = 0;
  while (index_getnext_slot(scan, ForwardScanDirection, slot)) {
    bool null;
    if (DatumGetObjectId(slot_getattr(slot, kDeleteRelid, &null)) != a.relid) continue;
    HeapTuple t = ExecFetchSlotHeapTuple(slot, false, nullptr);
    if (!TransactionIdPrecedes(HeapTupleHeaderGetXmin(t->t_data), a.cutoff)) continue;
    auto first = static_cast<BlockNumber>(DatumGetInt64(slot_getattr(slot, kDeleteFirst, &null)));
    if (a.max_first != InvalidBlockNumber && first > a.max_first) break;  // index order: the rest too
    if (*n == cap) out = static_cast<Change*>(repalloc_huge(out, sizeof(Change) * (cap *= 2)));
    Change& c = out[(*n)++];
    c.first = first;
    c.row = static_cast<uint32>(DatumGetInt32(slot_getattr(slot, kDeleteRow, &null)));
    c.tid = slot->tts_tid;
  }
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
  index_close(key, AccessShareLock);
  return out;
}

// Compaction: a batch is stored again, its deleted rows NULL in every column (batch_compact), when
// at least 1/kCompactShare of its rows are deleted and still hold values. Those rows are deleted
// for every snapshot (their changes are older than VACUUM's cutoff; a standby's older queries were
// resolved by the sweep's conflict record), so each version of the batch gives its readers the
// same rows. A rewrite costs a batch's encoding; the share bounds what deleted rows keep.
constexpr uint32 kCompactShare = 8;

// Puts the compacted payload of the batch in `slot` (rows set in `set` deleted) into
// values/replace; or nothing, when too few deleted rows hold values, it would save too little, or
// the payload is corrupt (then a WARNING: the fold goes on, and omendb_tier_verify reports it).
void compact(TupleTableSlot* slot, BatchCompactor* compactor, const uint8* set, uint32 len, Datum* values,
             bool* replace) {
  bool null;
  auto nrows = static_cast<uint32>(DatumGetInt32(slot_getattr(slot, kBatchRows, &null)));
  bytea* payload = DatumGetByteaPP(slot_getattr(slot, kBatchPayload, &null));
  uint32 with_values;
  const char* why;
  bytea* compacted = batch_compact(compactor, payload, set, len, nrows / kCompactShare, &with_values, &why);
  if (why != nullptr)
    ereport(WARNING, (errcode(ERRCODE_DATA_CORRUPTED),
                      errmsg("omendb: cold batch %lld of relation %u not compacted: %s",
                             static_cast<long long>(DatumGetInt64(slot_getattr(slot, kBatchFirst, &null))),
                             DatumGetObjectId(slot_getattr(slot, kBatchRelid, &null)), why)));
  if (compacted == nullptr) return;
  values[kBatchPayload - 1] = PointerGetDatum(compacted);
  replace[kBatchPayload - 1] = true;
}

// Sets the rows of changes [from, to) (one batch) in the batch's bitmap: a new batch version, or
// the batch deleted when no row is left.
void fold_batch(Relation batches, Relation key, BatchCompactor* compactor, const FoldArgs& a,
                const Change* from, const Change* to) {
  ScanKeyData k[2];
  ScanKeyInit(&k[0], 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(a.relnode));
  ScanKeyInit(&k[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(static_cast<int64>(from->first)));
  IndexScanDesc scan = index_beginscan(batches, key, GetActiveSnapshot(), 2, 0);
  index_rescan(scan, k, 2, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(batches, nullptr);
  bool null;
  if (index_getnext_slot(scan, ForwardScanDirection, slot) &&
      DatumGetObjectId(slot_getattr(slot, kBatchRelid, &null)) == a.relid) {
    auto nrows = static_cast<uint32>(DatumGetInt32(slot_getattr(slot, kBatchRows, &null)));
    Datum old = slot_getattr(slot, kBatchDeleted, &null);
    uint32 len = (nrows + 7) / 8;
    auto* bits = static_cast<bytea*>(palloc0(VARHDRSZ + len));
    SET_VARSIZE(bits, VARHDRSZ + len);
    auto* set = reinterpret_cast<uint8*>(VARDATA(bits));
    if (!null) {
      bytea* have = DatumGetByteaPP(old);
      memcpy(set, VARDATA_ANY(have), Min(len, VARSIZE_ANY_EXHDR(have)));
    }
    uint64 before = pg_popcount(reinterpret_cast<const char*>(set), len);
    for (const Change* c = from; c != to; c++)
      if (c->row < nrows) set[c->row / 8] |= static_cast<uint8>(1u << (c->row % 8));
    uint64 deleted = Min(pg_popcount(reinterpret_cast<const char*>(set), len), static_cast<uint64>(nrows));
    before = Min(before, deleted);
    if (nrows > 0 && deleted == nrows) {
      CatalogTupleDelete(batches, &slot->tts_tid);
    } else {
      Datum values[kBatchNatts] = {};
      bool nulls[kBatchNatts] = {};
      bool replace[kBatchNatts] = {};
      values[kBatchDeleted - 1] = PointerGetDatum(bits);
      replace[kBatchDeleted - 1] = true;
      // hot_bytes stands for the live rows (what heap keeps of them after VACUUM), so
      // compression_ratio counts against a batch the bytes its deleted rows still hold.
      int64 hot = DatumGetInt64(slot_getattr(slot, kBatchHotBytes, &null));
      values[kBatchHotBytes - 1] =
          Int64GetDatum(static_cast<int64>(static_cast<double>(hot) * static_cast<double>(nrows - deleted) /
                                           static_cast<double>(Max(nrows - before, 1))));
      replace[kBatchHotBytes - 1] = true;
      if (deleted > before && deleted >= nrows / kCompactShare)
        compact(slot, compactor, set, len, values, replace);
      HeapTuple t = ExecFetchSlotHeapTuple(slot, false, nullptr);
      HeapTuple nt = heap_modify_tuple(t, RelationGetDescr(batches), values, nulls, replace);
      CatalogTupleUpdate(batches, &slot->tts_tid, nt);
    }
  }
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
}

void fold(const FoldArgs& a) {
  Relation changes = table_open(tiered_catalog("tier_delete"), RowExclusiveLock);
  Relation batches = table_open(tiered_catalog("tier_batch"), RowExclusiveLock);
  Relation key = index_open(tiered_catalog("tier_batch_key"), AccessShareLock);
  int64 n;
  Change* all = changes_to_fold(changes, a, &n);
  BatchCompactor* compactor = batch_compactor_create();
  // A batch's detoasted and compacted payloads live only while it is folded.
  MemoryContext per_batch =
      AllocSetContextCreate(CurrentMemoryContext, "omendb fold batch", ALLOCSET_DEFAULT_SIZES);
  for (int64 i = 0; i < n;) {
    int64 j = i;
    while (j < n && all[j].first == all[i].first) j++;
    MemoryContext old = MemoryContextSwitchTo(per_batch);
    fold_batch(batches, key, compactor, a, all + i, all + j);
    MemoryContextSwitchTo(old);
    MemoryContextReset(per_batch);
    i = j;
  }
  MemoryContextDelete(per_batch);
  for (int64 i = 0; i < n; i++) {
    CatalogTupleDelete(changes, &all[i].tid);
    if (i == n / 2) tiered_crash_point("fold-mid");  // in the worker: a crash of the fold's transaction
  }
  if (n > 0) CacheInvalidateRelcacheByRelid(a.relid);  // the planner's cold size
  index_close(key, AccessShareLock);
  table_close(batches, RowExclusiveLock);
  table_close(changes, RowExclusiveLock);
  ereport(DEBUG1, (errmsg("omendb: folded %lld cold row changes of relation %u", static_cast<long long>(n),
                          a.relid)));
}

}  // namespace

void tiered_fold_start(Relation rel, TransactionId cutoff, BlockNumber max_first, bool wraparound) {
  // A VACUUM against wraparound must not depend on taking a transaction id.
  TransactionId next = ReadNextTransactionId();
  if (wraparound || !IsUnderPostmaster ||
      TransactionIdFollowsOrEquals(next, ShmemVariableCache->xidWarnLimit)) {
    ereport(DEBUG1,
            (errmsg("omendb: cold row changes of \"%s\" left unfolded", RelationGetRelationName(rel))));
    return;
  }
  FoldArgs a = {MyDatabaseId, RelationGetRelid(rel), rel->rd_node.relNode, cutoff, max_first};
  BackgroundWorker w = {};
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w.bgw_start_time = BgWorkerStart_RecoveryFinished;
  w.bgw_restart_time = BGW_NEVER_RESTART;
  snprintf(w.bgw_library_name, BGW_MAXLEN, "omendb");
  snprintf(w.bgw_function_name, BGW_MAXLEN, "omendb_tier_fold_main");
  snprintf(w.bgw_name, BGW_MAXLEN, "omendb tier fold for relation %u", a.relid);
  snprintf(w.bgw_type, BGW_MAXLEN, "omendb tier fold");
  memcpy(w.bgw_extra, &a, sizeof(a));
  w.bgw_notify_pid = MyProcPid;
  BackgroundWorkerHandle* handle;
  if (!RegisterDynamicBackgroundWorker(&w, &handle)) {
    ereport(LOG, (errmsg("omendb: no background worker slot to fold the cold row changes of \"%s\"",
                         RelationGetRelationName(rel)),
                  errdetail("The changes stay; the next VACUUM folds them."),
                  errhint("Raise max_worker_processes.")));
    return;
  }
  pid_t pid;
  if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_STARTED) WaitForBackgroundWorkerShutdown(handle);
  pfree(handle);
}

extern "C" void omendb_tier_fold_main(Datum) {
  FoldArgs a;
  memcpy(&a, MyBgworkerEntry->bgw_extra, sizeof(a));
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnectionByOid(a.dboid, InvalidOid, 0);
  pgstat_report_appname("omendb tier fold");
  StartTransactionCommand();
  PushActiveSnapshot(GetTransactionSnapshot());
  fold(a);
  PopActiveSnapshot();
  CommitTransactionCommand();
  proc_exit(0);
}
