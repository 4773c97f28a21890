// Scans of a tiered table. A TieredScan wraps heap's scan descriptor: heap's callbacks get heap's
// own descriptor (its base fields kept in step with ours: the executor may swap the snapshot, as a
// parallel bitmap scan does). Sequential scans read the hot tier, then the cold batches in block
// order (parallel ones claim batches one at a time through a shared high-water mark after heap's
// shared state); bitmap scans read virtual blocks from their batch; ANALYZE's block sample brings the
// cold rows dealt to each block, and TABLESAMPLE samples the cold tier after the hot one
// (tiered_sample.cpp); TID range scans read heap's range, then the cold rows in it.
#include "tiered.h"

extern "C" {
#include "access/heapam.h"
#include "access/valid.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "utils/snapmgr.h"
#include "port/atomics.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
}

namespace {

struct TieredParallel {
  // Every batch whose first virtual block is below this is claimed. Participants walk the batches
  // in block order and claim one by raising the mark past it (claim_batch). Not an ordinal: a
  // batch whose every version is dead can be pruned while the participants walk, so they may not
  // count the same batches.
  pg_atomic_uint64 next_first;
};

struct TieredScan {
  TableScanDescData base;
  TableScanDesc heap;
  MemoryContext cxt;
  ColdReader* cold;
  ColdColumns* columns;  // beside the scan (not in cxt, which a rescan resets): cold rows' columns
  // sequential scans: 0 = hot tier, 1 = cold batches, 2 = done (forward)
  int phase;
  bool fresh;  // nothing read since (re)start: a backward scan then starts at the cold tier's end
  ColdBatch batch;
  bool have_batch;
  int64 row;       // current row of `batch` (-1: before the first)
  uint64 ordinal;  // ordinal of `batch` among the table's batches
  TieredParallel* par;
  // bitmap scans: the rows of one cold virtual block
  bool bm_cold;
  uint32 bm_rows[kColdRowsPerBlock];
  int bm_n, bm_next;
  // ANALYZE: the cold rows dealt to the sampled block follow its hot rows
  ColdSample* sample;
  bool sample_hot_done;
  // TID range scans: the range (cold rows are checked against it)
  ItemPointerData tr_min, tr_max;
  // TABLESAMPLE: the cold tier's sample follows heap's of the hot tier (in its own context: a
  // rescan drops it whole)
  ColdTableSample* tablesample;
  MemoryContext tablesample_cxt;
  bool tablesample_cold;
};

const TableAmRoutine* heap_am() { return GetHeapamTableAmRoutine(); }

Size heap_pscan_size(Relation rel) { return MAXALIGN(heap_am()->parallelscan_estimate(rel)); }

TieredParallel* parallel_state(Relation rel, ParallelTableScanDesc pscan) {
  return reinterpret_cast<TieredParallel*>(reinterpret_cast<char*>(pscan) + heap_pscan_size(rel));
}

TieredScan* ts(TableScanDesc scan) { return reinterpret_cast<TieredScan*>(scan); }

// Claims the batch at `first` for this participant: true when no participant has claimed it or a
// later batch. Each batch is claimed at most once (the mark only rises past it); a batch is passed
// by all only when the first participant to pass it did not see it, i.e. found it dead to every
// snapshot, which neither a scan nor a build returns.
bool claim_batch(TieredParallel* par, BlockNumber first) {
  uint64 cur = pg_atomic_read_u64(&par->next_first);
  while (cur <= first)
    if (pg_atomic_compare_exchange_u64(&par->next_first, &cur, uint64{first} + 1)) return true;
  return false;
}

// Our base fields -> heap's (the executor writes ours), and back after heap changed its own.
void sync_down(TieredScan* s) {
  s->heap->rs_snapshot = s->base.rs_snapshot;
  s->heap->rs_flags = s->base.rs_flags;
}
void sync_up(TieredScan* s) { s->base = *s->heap; }

ColdReader* cold_of(TieredScan* s) {
  if (s->cold == nullptr) {
    MemoryContext old = MemoryContextSwitchTo(s->cxt);
    s->cold = cold_open(s->base.rs_rd);
    cold_set_columns(s->cold, s->columns);
    MemoryContextSwitchTo(old);
  }
  return s->cold;
}

void reset_cold(TieredScan* s) {
  if (s->cold != nullptr) {
    cold_close(s->cold);
    s->cold = nullptr;
    MemoryContextReset(s->cxt);
  }
  s->phase = 0;
  s->fresh = true;
  s->have_batch = false;
  s->ordinal = 0;
  s->bm_cold = false;
}

// The next batch in `dir` that this participant may read; false at the end.
bool next_batch(TieredScan* s, ScanDirection dir) {
  ColdReader* r = cold_of(s);
  if (!s->have_batch && s->phase == 1 && s->ordinal == 0) {
    // In the scan's context: callers may run the scan in a per-tuple context (ALTER TABLE's rewrite).
    MemoryContext old = MemoryContextSwitchTo(s->cxt);
    cold_batches_begin(r, s->base.rs_snapshot);
    MemoryContextSwitchTo(old);
  }
  for (;;) {
    bool got =
        ScanDirectionIsForward(dir) ? cold_batches_next(r, &s->batch) : cold_batches_prev(r, &s->batch);
    if (!got) return s->have_batch = false;
    s->ordinal++;
    if (s->par == nullptr || claim_batch(s->par, s->batch.first)) break;  // parallel: forward only
  }
  s->have_batch = true;
  s->row = ScanDirectionIsForward(dir) ? -1 : static_cast<int64>(s->batch.nrows);
  return true;
}

// The next undeleted cold row in `dir`, stored in `slot`; false when the cold tier is done.
bool next_cold(TieredScan* s, ScanDirection dir, TupleTableSlot* slot) {
  int step = ScanDirectionIsForward(dir) ? 1 : -1;
  for (;;) {
    if (!s->have_batch && !next_batch(s, dir)) return false;
    for (s->row += step; s->row >= 0 && s->row < s->batch.nrows; s->row += step) {
      CHECK_FOR_INTERRUPTS();
      if (cold_row_deleted(&s->batch, static_cast<uint32>(s->row))) continue;
      cold_store_row(s->cold, &s->batch, static_cast<uint32>(s->row), slot);
      if (s->base.rs_nkeys > 0) {
        HeapTuple t = ExecFetchSlotHeapTuple(slot, false, nullptr);
        bool match;
        HeapKeyTest(t, RelationGetDescr(s->base.rs_rd), s->base.rs_nkeys, s->base.rs_key, match);
        if (!match) continue;
      }
      return true;
    }
    s->have_batch = false;
  }
}

void end_tablesample(TieredScan* s) {
  if (s->tablesample == nullptr) return;
  cold_tablesample_end(s->tablesample);
  MemoryContextDelete(s->tablesample_cxt);
  s->tablesample = nullptr;
}

TableScanDesc scan_begin(Relation rel, Snapshot snapshot, int nkeys, ScanKeyData* key,
                         ParallelTableScanDesc pscan, uint32 flags) {
  auto* s = static_cast<TieredScan*>(palloc0(sizeof(TieredScan)));
  s->heap = heap_am()->scan_begin(rel, snapshot, nkeys, key, pscan, flags);
  sync_up(s);
  s->cxt = AllocSetContextCreate(CurrentMemoryContext, "tiered scan", ALLOCSET_DEFAULT_SIZES);
  s->par = pscan != nullptr ? parallel_state(rel, pscan) : nullptr;
  s->fresh = true;
  return &s->base;
}

void scan_end(TableScanDesc scan) {
  TieredScan* s = ts(scan);
  sync_down(s);
  heap_am()->scan_end(s->heap);
  if (s->sample != nullptr) cold_sample_end(s->sample);
  end_tablesample(s);
  reset_cold(s);
  MemoryContextDelete(s->cxt);
  if (s->columns != nullptr) pfree(s->columns);
  pfree(s);
}

void scan_rescan(TableScanDesc scan, ScanKeyData* key, bool set_params, bool allow_strat, bool allow_sync,
                 bool allow_pagemode) {
  TieredScan* s = ts(scan);
  sync_down(s);
  heap_am()->scan_rescan(s->heap, key, set_params, allow_strat, allow_sync, allow_pagemode);
  sync_up(s);
  end_tablesample(s);
  s->tablesample_cold = false;
  reset_cold(s);
}

// The phases of sequential and TID range scans: the hot tier through heap's callback `hot`, then
// the cold rows `keep` accepts (when `cold_wanted`); backward from past the end, the other way
// round, and a scan started backward (FETCH LAST) begins at the cold tier's end.
template <class Hot, class Keep>
bool next_in_tiers(TieredScan* s, ScanDirection dir, TupleTableSlot* slot, bool cold_wanted, Hot hot,
                   Keep keep) {
  if (s->fresh) {
    s->fresh = false;
    if (ScanDirectionIsBackward(dir) && cold_wanted) s->phase = 2;
  }
  for (;;) {
    if (s->phase == 0) {
      sync_down(s);
      if (hot()) return true;
      if (ScanDirectionIsBackward(dir) || !cold_wanted) return false;
      s->phase = 1;
    } else if (s->phase == 2) {
      if (ScanDirectionIsForward(dir)) return false;
      s->phase = 1;  // backward from past the end: the cold tier from its end
    }
    while (next_cold(s, dir, slot))
      if (keep()) return true;
    if (ScanDirectionIsForward(dir)) {
      s->phase = 2;
      ExecClearTuple(slot);
      return false;
    }
    // backward past the first cold row: the hot tier from its end
    s->phase = 0;
    if (s->cold != nullptr) cold_batches_end(s->cold);
    s->ordinal = 0;
  }
}

bool scan_getnextslot(TableScanDesc scan, ScanDirection dir, TupleTableSlot* slot) {
  TieredScan* s = ts(scan);
  return next_in_tiers(
      s, dir, slot, true, [&] { return heap_am()->scan_getnextslot(s->heap, dir, slot); },
      [] { return true; });
}

bool bitmap_next_block(TableScanDesc scan, TBMIterateResult* tbmres) {
  TieredScan* s = ts(scan);
  BlockNumber b = tbmres->blockno;
  s->bm_cold = tiered_is_cold_block(b);
  if (!s->bm_cold) {
    sync_down(s);
    return heap_am()->scan_bitmap_next_block(s->heap, tbmres);
  }
  BlockNumber first = tiered_batch_first(b);
  if (!s->have_batch || s->batch.first != first) {
    s->have_batch = cold_find(cold_of(s), first, s->base.rs_snapshot, &s->batch);
    if (!s->have_batch) return false;
  }
  uint32 base_row = (b - first) * kColdRowsPerBlock;
  s->bm_n = s->bm_next = 0;
  if (tbmres->ntuples >= 0) {
    for (int i = 0; i < tbmres->ntuples; i++) s->bm_rows[s->bm_n++] = base_row + tbmres->offsets[i] - 1;
  } else {
    for (uint32 i = 0; i < kColdRowsPerBlock; i++) s->bm_rows[s->bm_n++] = base_row + i;
  }
  return true;
}

bool bitmap_next_tuple(TableScanDesc scan, TBMIterateResult* tbmres, TupleTableSlot* slot) {
  TieredScan* s = ts(scan);
  if (!s->bm_cold) return heap_am()->scan_bitmap_next_tuple(s->heap, tbmres, slot);
  while (s->bm_next < s->bm_n) {
    uint32 row = s->bm_rows[s->bm_next++];
    if (row >= s->batch.nrows || cold_row_deleted(&s->batch, row)) continue;
    cold_store_row(s->cold, &s->batch, row, slot);
    return true;
  }
  return false;
}

// TABLESAMPLE: heap's sample of the hot tier, then the cold tier's (tiered_sample.cpp).
bool sample_next_block(TableScanDesc scan, SampleScanState* st) {
  TieredScan* s = ts(scan);
  if (!s->tablesample_cold) {
    sync_down(s);
    if (heap_am()->scan_sample_next_block(s->heap, st)) return true;
    s->tablesample_cold = true;
  }
  if (s->tablesample == nullptr) {
    s->tablesample_cxt = AllocSetContextCreate(s->cxt, "tiered tablesample", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(s->tablesample_cxt);
    s->tablesample = cold_tablesample_begin(s->base.rs_rd, s->base.rs_snapshot, st);
    MemoryContextSwitchTo(old);
  }
  return cold_tablesample_next_block(s->tablesample, st);
}
bool sample_next_tuple(TableScanDesc scan, SampleScanState* st, TupleTableSlot* slot) {
  TieredScan* s = ts(scan);
  if (!s->tablesample_cold) return heap_am()->scan_sample_next_tuple(s->heap, st, slot);
  return cold_tablesample_next_tuple(s->tablesample, st, slot);
}
bool analyze_next_block(TableScanDesc scan, BlockNumber blockno, BufferAccessStrategy bstrategy) {
  TieredScan* s = ts(scan);
  if (s->sample == nullptr) {
    MemoryContext old = MemoryContextSwitchTo(s->cxt);
    s->sample = cold_sample_begin(s->base.rs_rd);
    MemoryContextSwitchTo(old);
  }
  cold_sample_block(s->sample, blockno);
  s->sample_hot_done = false;
  return heap_am()->scan_analyze_next_block(s->heap, blockno, bstrategy);
}
bool analyze_next_tuple(TableScanDesc scan, TransactionId oldest_xmin, double* liverows, double* deadrows,
                        TupleTableSlot* slot) {
  TieredScan* s = ts(scan);
  if (!s->sample_hot_done) {
    if (heap_am()->scan_analyze_next_tuple(s->heap, oldest_xmin, liverows, deadrows, slot)) return true;
    s->sample_hot_done = true;
  }
  return cold_sample_next(s->sample, slot, liverows, deadrows);
}
// TID range scans (WHERE ctid BETWEEN ...): heap's over the hot tier, then, when the range reaches
// the virtual blocks, the cold rows whose TIDs lie in it (the batches read in block order, as a
// sequential scan reads them, each row checked against the range).
void set_tidrange(TableScanDesc scan, ItemPointer mintid, ItemPointer maxtid) {
  TieredScan* s = ts(scan);
  heap_am()->scan_set_tidrange(s->heap, mintid, maxtid);
  sync_up(s);
  s->tr_min = *mintid;
  s->tr_max = *maxtid;
  reset_cold(s);
}
bool getnextslot_tidrange(TableScanDesc scan, ScanDirection dir, TupleTableSlot* slot) {
  TieredScan* s = ts(scan);
  bool cold_in_range = ItemPointerGetBlockNumberNoCheck(&s->tr_max) >= kColdFirstBlock;
  return next_in_tiers(
      s, dir, slot, cold_in_range, [&] { return heap_am()->scan_getnextslot_tidrange(s->heap, dir, slot); },
      [&] {
        return ItemPointerCompare(&slot->tts_tid, &s->tr_min) >= 0 &&
               ItemPointerCompare(&slot->tts_tid, &s->tr_max) <= 0;
      });
}

Size parallelscan_estimate(Relation rel) { return heap_pscan_size(rel) + sizeof(TieredParallel); }

Size parallelscan_initialize(Relation rel, ParallelTableScanDesc pscan) {
  heap_am()->parallelscan_initialize(rel, pscan);
  pg_atomic_init_u64(&parallel_state(rel, pscan)->next_first, 0);
  return parallelscan_estimate(rel);
}

void parallelscan_reinitialize(Relation rel, ParallelTableScanDesc pscan) {
  heap_am()->parallelscan_reinitialize(rel, pscan);
  pg_atomic_write_u64(&parallel_state(rel, pscan)->next_first, 0);
}

bool tuple_tid_valid(TableScanDesc scan, ItemPointer tid) {
  // A cold TID is checked when its row is fetched (a TID scan then finds it or not).
  if (tiered_is_cold(tid)) return ItemPointerIsValid(tid);
  return heap_am()->tuple_tid_valid(ts(scan)->heap, tid);
}

void tuple_get_latest_tid(TableScanDesc scan, ItemPointer tid) {
  if (tiered_is_cold(tid)) return;  // cold rows are never updated in place
  sync_down(ts(scan));
  heap_am()->tuple_get_latest_tid(ts(scan)->heap, tid);
}

}  // namespace

double tiered_index_build_cold(Relation table_rel, Relation index_rel, IndexInfo* index_info,
                               IndexBuildCallback callback, void* callback_state, TableScanDesc scan) {
  // Every version of every batch (SnapshotAny, as heap's build reads dead tuples too; but not
  // versions dead to every snapshot), each batch once: versions of one batch differ only in rows
  // deleted for every snapshot (bitmaps, a compaction's NULLs), and an index entry for a
  // deleted or never committed cold row finds nothing when fetched. A row deleted or updated as
  // of the statement's snapshot is passed as not alive, as heap passes a recently dead tuple, so a
  // unique index does not count it against its new version. A parallel build's participants
  // claim batches in turn, as a parallel scan's do.
  TieredParallel* par = scan != nullptr ? ts(scan)->par : nullptr;
  EState* estate = CreateExecutorState();
  ExprContext* econtext = GetPerTupleExprContext(estate);
  TupleTableSlot* slot = table_slot_create(table_rel, nullptr);
  econtext->ecxt_scantuple = slot;
  ExprState* predicate = ExecPrepareQual(index_info->ii_Predicate, estate);
  ColdReader* r = cold_open(table_rel);
  cold_batches_begin(r, SnapshotAny);
  // The statement's snapshot: the build's lock (ShareLock, or ShareUpdateExclusiveLock with
  // validation after) keeps changes of cold rows from committing meanwhile. Not a new snapshot:
  // participants of a parallel build may not take one.
  Snapshot latest = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
  Datum values[INDEX_MAX_KEYS];
  bool isnull[INDEX_MAX_KEYS];
  double rows = 0;
  BlockNumber last = InvalidBlockNumber;
  ColdBatch b;
  while (cold_batches_next(r, &b)) {
    // An aborted move's batch holds rows still live in the hot tier: indexing them would count
    // them twice (a unique build would fail).
    if (b.first == last || b.never_committed) continue;
    last = b.first;
    if (par != nullptr && !claim_batch(par, b.first)) continue;
    cold_load_gone(r, &b, latest);
    // Folded rows get no entry: VACUUM removed their entries for good (tiered_vacuum.cpp).
    uint8* folded = cold_folded_any(r, b.first, b.nrows);
    for (uint32 row = 0; row < b.nrows; row++) {
      CHECK_FOR_INTERRUPTS();
      if (folded != nullptr && ((folded[row / 8] >> (row % 8)) & 1)) continue;
      MemoryContextReset(econtext->ecxt_per_tuple_memory);
      cold_store_row(r, &b, row, slot);
      if (predicate != nullptr && !ExecQual(predicate, econtext)) continue;
      FormIndexDatum(index_info, slot, estate, values, isnull);
      ItemPointerData tid;
      tiered_row_tid(b.first, row, &tid);
      callback(index_rel, &tid, values, isnull, !cold_row_deleted(&b, row), callback_state);
      rows++;
    }
    if (folded != nullptr) pfree(folded);
  }
  cold_batches_end(r);
  cold_close(r);
  ExecDropSingleTupleTableSlot(slot);
  FreeExecutorState(estate);
  return rows;
}

void tiered_scan_release(TableScanDesc scan) {
  TieredScan* s = ts(scan);
  reset_cold(s);
  MemoryContextDelete(s->cxt);
  if (s->columns != nullptr) pfree(s->columns);
  pfree(s);
}

void tiered_scan_set_columns(TableScanDesc scan, const ColdColumns* cols) {
  TieredScan* s = ts(scan);
  Assert(s->cold == nullptr);  // before the first row (a batch read for other columns would stay)
  if (s->columns != nullptr) pfree(s->columns);
  s->columns = cold_columns_copy(GetMemoryChunkContext(s), cols);
}

TableScanDesc tiered_heap_scan(TableScanDesc scan) {
  return scan != nullptr && tiered_is_tiered(scan->rs_rd) ? ts(scan)->heap : scan;
}

void tiered_scan_callbacks(TableAmRoutine* r) {
  r->scan_begin = scan_begin;
  r->scan_end = scan_end;
  r->scan_rescan = scan_rescan;
  r->scan_getnextslot = scan_getnextslot;
  r->scan_set_tidrange = set_tidrange;
  r->scan_getnextslot_tidrange = getnextslot_tidrange;
  r->parallelscan_estimate = parallelscan_estimate;
  r->parallelscan_initialize = parallelscan_initialize;
  r->parallelscan_reinitialize = parallelscan_reinitialize;
  r->tuple_tid_valid = tuple_tid_valid;
  r->tuple_get_latest_tid = tuple_get_latest_tid;
  r->scan_bitmap_next_block = bitmap_next_block;
  r->scan_bitmap_next_tuple = bitmap_next_tuple;
  r->scan_sample_next_block = sample_next_block;
  r->scan_sample_next_tuple = sample_next_tuple;
  r->scan_analyze_next_block = analyze_next_block;
  r->scan_analyze_next_tuple = analyze_next_tuple;
}
