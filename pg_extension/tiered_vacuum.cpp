// VACUUM of a tiered table: heap's VACUUM of the hot tier, with the cold tier's share around it.
//
// A deleted or updated cold row stays in its batch, hidden by its omendb.tier_delete row (the
// "change"), and keeps its index entries. Once its change is committed and older than every
// snapshot (its xmin precedes the removal horizon), VACUUM
//  1. removes the row's index entries from every index of the table (the *sweep*: one bulk delete
//     per index, as heap's VACUUM does for dead hot tuples), together with the entries of batches
//     an aborted move left behind;
//  2. runs heap's VACUUM (the hot tier; with pg_class.reltuples presented as the hot tier's share);
//  3. folds the swept changes into their batches (tiered_fold.cpp): a new version of each batch
//     with the rows set in its `deleted` bitmap, a batch whose rows are all deleted deleted, the
//     changes deleted. A lazy VACUUM never assigns a transaction id (other backends ignore its xid
//     while it runs as PROC_IN_VACUUM), so the fold runs in a short-lived background worker that
//     VACUUM starts and waits for;
//  4. sets pg_class.reltuples to both tiers' live rows (relpages stays the hot tier's pages).
// Invariant: a row set in a batch's deleted bitmap has no index entry (the fold comes after the
// sweep; omendb_tier_verify checks it).
//
// Standbys: an index entry removed on the primary is removed on every standby, whose queries may
// hold snapshots older than the primary's horizon. Heap's VACUUM protects them with the removal
// horizon of its prune records (a standby cancels the queries whose snapshot could still see what
// is removed). The sweep removes no heap tuple, so it logs that horizon itself before it removes
// anything: a btree "reuse page" record, whose redo does nothing but that (nbtxlog.h), carrying the
// newest xid among the swept changes.
#include "tiered.h"

#include <algorithm>

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/nbtxlog.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "catalog/pg_class.h"
#include "commands/vacuum.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "postmaster/autovacuum.h"
#include "storage/bufmgr.h"
#include "storage/procarray.h"
#include "utils/fmgroids.h"
#include "utils/syscache.h"
}

namespace {

// What the sweep removes: cold rows as (first block, row) keys, and whole batches.
struct Sweep {
  uint64* rows;
  int64 nrows, rows_cap;
  BlockNumber* alive;       // first blocks of the batches that exist (a version not dead), sorted: an
  int64 nalive, alive_cap;  // entry of any other batch is an orphan
  bool orphans;             // a batch no transaction committed was seen (an aborted move's)
  TransactionId latest;     // the newest xid among the swept changes (standby conflict horizon)
  TransactionId cutoff;     // changes older than this are swept (passed on to the fold),
  BlockNumber max_first;    // of batches up to this one (InvalidBlockNumber: all)
};

uint64 row_key(BlockNumber first, uint32 row) { return (static_cast<uint64>(first) << 13) | row; }
static_assert(kColdMaxBatchRows < (1u << 13), "row_key packs a row number into 13 bits");

template <class T>
void push(T** items, int64* n, int64* cap, T item) {
  if (*n == *cap) {
    *cap = *cap == 0 ? 256 : *cap * 2;
    *items = static_cast<T*>(*items == nullptr ? palloc(sizeof(T) * *cap)
                                               : repalloc_huge(*items, sizeof(T) * *cap));
  }
  (*items)[(*n)++] = item;
}

// Visits rel's changes (omendb.tier_delete rows, every version: SnapshotAny) in (batch, row) order,
// each with its HeapTupleSatisfiesVacuum verdict against `cutoff` and its xmin, while `visit`
// returns true.
template <class Visit>
void scan_changes(Relation rel, TransactionId cutoff, Visit visit) {
  Relation t = table_open(tiered_catalog("tier_delete"), AccessShareLock);
  Relation i = index_open(tiered_catalog("tier_delete_key"), AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(rel->rd_node.relNode));
  IndexScanDesc scan = index_beginscan(t, i, SnapshotAny, 1, 0);
  index_rescan(scan, &key, 1, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(t, nullptr);
  while (index_getnext_slot(scan, ForwardScanDirection, slot)) {
    CHECK_FOR_INTERRUPTS();
    bool null;
    if (DatumGetObjectId(slot_getattr(slot, 1, &null)) != RelationGetRelid(rel)) continue;
    HeapTuple tuple = ExecFetchSlotHeapTuple(slot, false, nullptr);
    Buffer buf = reinterpret_cast<BufferHeapTupleTableSlot*>(slot)->buffer;
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    HTSV_Result verdict = HeapTupleSatisfiesVacuum(tuple, cutoff, buf);
    TransactionId xmin = HeapTupleHeaderGetXmin(tuple->t_data);
    LockBuffer(buf, BUFFER_LOCK_UNLOCK);
    if (!visit(slot, verdict, xmin)) break;
  }
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
  index_close(i, AccessShareLock);
  table_close(t, AccessShareLock);
}

// What VACUUM learns of one version of a batch.
enum class Version { kAlive, kDead, kNeverCommitted };

// Visits the entries of omendb.tier_batch's key index for rel's relfilenode, killed ones included:
// each batch version, and each entry whose tuple was pruned away (kNeverCommitted: it may have
// been an aborted insert), with the batch's first block read from the index entry itself.
template <class Visit>
void scan_batch_keys(Relation rel, TransactionId cutoff, Visit visit) {
  Relation t = table_open(tiered_catalog("tier_batch"), AccessShareLock);
  Relation i = index_open(tiered_catalog("tier_batch_key"), AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(rel->rd_node.relNode));
  IndexScanDesc scan = index_beginscan(t, i, SnapshotAny, 1, 0);
  scan->xs_want_itup = true;
  scan->ignore_killed_tuples = false;  // an aborted move's entries are killed by the first scan
  index_rescan(scan, &key, 1, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(t, nullptr);
  while (index_getnext_tid(scan, ForwardScanDirection) != nullptr) {
    CHECK_FOR_INTERRUPTS();
    bool null;
    auto first =
        static_cast<BlockNumber>(DatumGetInt64(index_getattr(scan->xs_itup, 2, scan->xs_itupdesc, &null)));
    bool any = false;
    do {  // every member of the HOT chain (a fold's new version may be a HOT update)
      if (!index_fetch_heap(scan, slot)) break;
      any = true;
      if (DatumGetObjectId(slot_getattr(slot, kBatchRelid, &null)) != RelationGetRelid(rel)) continue;
      HeapTuple tuple = ExecFetchSlotHeapTuple(slot, false, nullptr);
      Buffer buf = reinterpret_cast<BufferHeapTupleTableSlot*>(slot)->buffer;
      LockBuffer(buf, BUFFER_LOCK_SHARE);
      HTSV_Result v = HeapTupleSatisfiesVacuum(tuple, cutoff, buf);
      bool committed = HeapTupleHeaderXminCommitted(tuple->t_data);
      TransactionId xmin = HeapTupleHeaderGetXmin(tuple->t_data);
      LockBuffer(buf, BUFFER_LOCK_UNLOCK);
      visit(first, v != HEAPTUPLE_DEAD                         ? Version::kAlive
                   : committed || TransactionIdDidCommit(xmin) ? Version::kDead
                                                               : Version::kNeverCommitted);
    } while (scan->xs_heap_continue);
    if (!any) visit(first, Version::kNeverCommitted);
  }
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
  index_close(i, AccessShareLock);
  table_close(t, AccessShareLock);
}

// Collects what the sweep removes.
void collect(Relation rel, Sweep* s) {
  Relation changes = table_open(tiered_catalog("tier_delete"), AccessShareLock);
  s->cutoff = GetOldestNonRemovableTransactionId(changes);
  table_close(changes, AccessShareLock);
  // Changes committed before every snapshot, not folded yet (a folded one is deleted: not LIVE).
  // About maintenance_work_mem of row keys (autovacuum_work_mem in autovacuum), in whole batches:
  // the batch being read when the limit is reached is finished, and the batches after it wait for
  // the next VACUUM (the fold takes only the batches swept: up to max_first).
  int mem_kb =
      IsAutoVacuumWorkerProcess() && autovacuum_work_mem != -1 ? autovacuum_work_mem : maintenance_work_mem;
  int64 cap = Max(static_cast<int64>(mem_kb) * 1024 / static_cast<int64>(sizeof(uint64)), 1024);
  s->max_first = InvalidBlockNumber;
  BlockNumber last = InvalidBlockNumber;
  scan_changes(rel, s->cutoff, [&](TupleTableSlot* slot, HTSV_Result v, TransactionId xmin) {
    bool null;
    auto first = static_cast<BlockNumber>(DatumGetInt64(slot_getattr(slot, kDeleteFirst, &null)));
    if (s->nrows >= cap && first != last) {
      s->max_first = last;
      return false;
    }
    if (v != HEAPTUPLE_LIVE || !TransactionIdPrecedes(xmin, s->cutoff)) return true;
    auto row = static_cast<uint32>(DatumGetInt32(slot_getattr(slot, kDeleteRow, &null)));
    if (!tiered_is_cold_block(first) || row >= kColdMaxBatchRows) return true;
    push(&s->rows, &s->nrows, &s->rows_cap, row_key(first, row));
    last = first;
    if (!TransactionIdIsValid(s->latest) || TransactionIdFollows(xmin, s->latest)) s->latest = xmin;
    return true;
  });
  std::sort(s->rows, s->rows + s->nrows);
  // The batches that exist, and whether one that never did left entries (an aborted or crashed
  // move: every version a dead insert, or pruned away already; a batch a fold deleted after its
  // sweep may look the same once pruned, and is swept again, finding nothing). Versions of one
  // batch are adjacent in the key index. Entries of a batch pruned before VACUUM saw it are
  // removed by the next sweep that runs for a change (they are skipped by every scan meanwhile).
  BlockNumber cur = InvalidBlockNumber;
  bool cur_alive = false, cur_never = false;
  auto close = [&] {
    if (cur_alive) push(&s->alive, &s->nalive, &s->alive_cap, cur);
    if (!cur_alive && cur_never) s->orphans = true;
  };
  scan_batch_keys(rel, s->cutoff, [&](BlockNumber first, Version v) {
    if (first != cur) {
      close();
      cur = first;
      cur_alive = cur_never = false;
    }
    cur_alive = cur_alive || v == Version::kAlive;
    cur_never = cur_never || v == Version::kNeverCommitted;
  });
  close();
}

// ambulkdelete's callback: is this index entry's row swept?
bool swept(ItemPointer tid, void* state) {
  if (!tiered_is_cold(tid)) return false;
  const auto* s = static_cast<const Sweep*>(state);
  BlockNumber first = tiered_batch_first(ItemPointerGetBlockNumberNoCheck(tid));
  if (!std::binary_search(s->alive, s->alive + s->nalive, first)) return true;  // an orphan
  return s->nrows > 0 && std::binary_search(s->rows, s->rows + s->nrows, row_key(first, tiered_tid_row(tid)));
}

// The standby conflict horizon of the sweep (the file comment says why a btree record).
void log_conflict_horizon(Relation rel, TransactionId latest) {
  if (!TransactionIdIsValid(latest) || !RelationNeedsWAL(rel) || !XLogStandbyInfoActive()) return;
  FullTransactionId next = ReadNextFullTransactionId();
  uint32 epoch = EpochFromFullTransactionId(next);
  if (latest > XidFromFullTransactionId(next)) epoch--;  // from the previous epoch
  xl_btree_reuse_page rec = {};
  rec.node = rel->rd_node;
  rec.block = 0;
  rec.latestRemovedFullXid = FullTransactionIdFromEpochAndXid(epoch, latest);
  XLogBeginInsert();
  XLogRegisterData(reinterpret_cast<char*>(&rec), SizeOfBtreeReusePage);
  XLogInsert(RM_BTREE_ID, XLOG_BTREE_REUSE_PAGE);
}

void sweep_indexes(Relation rel, Sweep* s, VacuumParams* params, BufferAccessStrategy strategy) {
  int elevel = (params->options & VACOPT_VERBOSE) ? INFO : DEBUG2;
  log_conflict_horizon(rel, s->latest);
  int nindexes;
  Relation* indexes;
  vac_open_indexes(rel, RowExclusiveLock, &nindexes, &indexes);
  for (int i = 0; i < nindexes; i++) {
    IndexVacuumInfo info = {};
    info.index = indexes[i];
    info.estimated_count = true;
    info.message_level = elevel;
    info.num_heap_tuples = rel->rd_rel->reltuples;
    info.strategy = strategy;
    IndexBulkDeleteResult* stats = index_bulk_delete(&info, nullptr, swept, s);
    double removed = stats != nullptr ? stats->tuples_removed : 0;
    stats = index_vacuum_cleanup(&info, stats);
    ereport(elevel, (errmsg("removed %.0f index entries of deleted cold rows from index \"%s\"", removed,
                            RelationGetRelationName(indexes[i]))));
    if (stats != nullptr) pfree(stats);
    tiered_crash_point("vacuum-mid-sweep");  // some indexes swept, not all
  }
  vac_close_indexes(nindexes, indexes, NoLock);
}

// pg_class.reltuples of a tiered table counts both tiers (as ANALYZE's sample does): heap's VACUUM
// wrote the hot tier's live rows; the cold ones are added, relpages and the rest kept.
void add_cold_to_reltuples(Relation rel) {
  CommandCounterIncrement();  // see heap's in-place update of pg_class
  HeapTuple ct = SearchSysCacheCopy1(RELOID, ObjectIdGetDatum(RelationGetRelid(rel)));
  if (!HeapTupleIsValid(ct)) return;
  auto* c = reinterpret_cast<Form_pg_class>(GETSTRUCT(ct));
  double cold = tiered_cold_live_rows(rel, nullptr);
  if (c->reltuples >= 0 && cold > 0)
    vac_update_relstats(rel, c->relpages, c->reltuples + cold, c->relallvisible, c->relhasindex,
                        InvalidTransactionId, InvalidMultiXactId, nullptr, nullptr, false);
  heap_freetuple(ct);
}

void relation_vacuum(Relation rel, VacuumParams* params, BufferAccessStrategy strategy) {
  Sweep s = {};
  bool cold = tiered_has_cold(rel);
  if (cold && params->index_cleanup != VACOPTVALUE_DISABLED) {
    collect(rel, &s);
    if (s.nrows > 0 || s.orphans) sweep_indexes(rel, &s, params, strategy);
    tiered_crash_point("vacuum-after-sweep");
  }
  double cold_rows = cold ? Max(tiered_cold_live_rows(rel, nullptr), 0.0) : 0;
  tiered_as_hot_reltuples(rel, cold_rows,
                          [&] { GetHeapamTableAmRoutine()->relation_vacuum(rel, params, strategy); });
  if (s.nrows > 0) tiered_fold_start(rel, s.cutoff, s.max_first, params->is_wraparound);
  tiered_crash_point("vacuum-after-fold");
  if (cold) add_cold_to_reltuples(rel);
}

}  // namespace

void tiered_vacuum_callbacks(TableAmRoutine* r) { r->relation_vacuum = relation_vacuum; }
