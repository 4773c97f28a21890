// Fetches by TID on a tiered table: index scans, row versions, visibility checks and index entry
// deletion route by the TID's block number (heap below kColdFirstBlock, a cold batch above).
#include "tiered.h"

extern "C" {
#include "access/heapam.h"
#include "utils/memutils.h"
}

namespace {

const TableAmRoutine* heap_am() { return GetHeapamTableAmRoutine(); }

struct TieredFetch {
  IndexFetchTableData base;
  IndexFetchTableData* heap;
  MemoryContext parent;
  MemoryContext cxt;  // created on the first cold TID: the cold reader
  ColdReader* cold;
  ColdColumns* columns;  // in `parent`: the columns cold rows carry (nullptr: all)
};

IndexFetchTableData* index_fetch_begin(Relation rel) {
  auto* f = static_cast<TieredFetch*>(palloc0(sizeof(TieredFetch)));
  f->heap = heap_am()->index_fetch_begin(rel);
  f->base.rel = rel;
  f->parent = CurrentMemoryContext;
  return &f->base;
}

void index_fetch_reset(IndexFetchTableData* scan) {
  heap_am()->index_fetch_reset(reinterpret_cast<TieredFetch*>(scan)->heap);
}

void index_fetch_end(IndexFetchTableData* scan) {
  auto* f = reinterpret_cast<TieredFetch*>(scan);
  heap_am()->index_fetch_end(f->heap);
  if (f->cold != nullptr) {
    cold_close(f->cold);
    MemoryContextDelete(f->cxt);
  }
  if (f->columns != nullptr) pfree(f->columns);
  pfree(f);
}

bool index_fetch_tuple(IndexFetchTableData* scan, ItemPointer tid, Snapshot snapshot, TupleTableSlot* slot,
                       bool* call_again, bool* all_dead) {
  auto* f = reinterpret_cast<TieredFetch*>(scan);
  if (!tiered_is_cold(tid))
    return heap_am()->index_fetch_tuple(f->heap, tid, snapshot, slot, call_again, all_dead);
  *call_again = false;
  if (all_dead != nullptr) *all_dead = false;
  if (f->cold == nullptr) {
    f->cxt = AllocSetContextCreate(f->parent, "tiered index fetch", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(f->cxt);
    f->cold = cold_open(scan->rel);
    cold_set_columns(f->cold, f->columns);
    MemoryContextSwitchTo(old);
  }
  return cold_fetch(f->cold, tid, snapshot, slot);
}

}  // namespace

void tiered_fetch_set_columns(IndexFetchTableData* fetch, const ColdColumns* cols) {
  auto* f = reinterpret_cast<TieredFetch*>(fetch);
  Assert(f->cold == nullptr);  // before the first row (a batch read for other columns would stay)
  if (f->columns != nullptr) pfree(f->columns);
  f->columns = cold_columns_copy(f->parent, cols);
}

namespace {

// One cold row by TID with a reader of its own (row versions: triggers, EvalPlanQual, RI checks).
bool fetch_cold_once(Relation rel, ItemPointer tid, Snapshot snapshot, TupleTableSlot* slot) {
  ColdReader* r = cold_open(rel);
  bool found = cold_fetch(r, tid, snapshot, slot);
  cold_close(r);
  return found;
}

bool tuple_fetch_row_version(Relation rel, ItemPointer tid, Snapshot snapshot, TupleTableSlot* slot) {
  if (!tiered_is_cold(tid)) return heap_am()->tuple_fetch_row_version(rel, tid, snapshot, slot);
  return fetch_cold_once(rel, tid, snapshot, slot);
}

bool tuple_satisfies_snapshot(Relation rel, TupleTableSlot* slot, Snapshot snapshot) {
  if (!tiered_is_cold(&slot->tts_tid)) return heap_am()->tuple_satisfies_snapshot(rel, slot, snapshot);
  TupleTableSlot* probe = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsBufferHeapTuple);
  bool visible = fetch_cold_once(rel, &slot->tts_tid, snapshot, probe);
  ExecDropSingleTupleTableSlot(probe);
  return visible;
}

// Index entry deletion (btree's simple and bottom-up deletion) asks which entries point to dead
// rows: heap answers for hot TIDs; cold entries are never reported deletable here (a cold row's
// death is a bit in its batch, which VACUUM handles), so they are left out of heap's question.
TransactionId index_delete_tuples(Relation rel, TM_IndexDeleteOp* delstate) {
  int hot = 0;
  for (int i = 0; i < delstate->ndeltids; i++) {
    if (tiered_is_cold(&delstate->deltids[i].tid)) continue;
    TM_IndexDelete d = delstate->deltids[i];
    delstate->deltids[i] = delstate->deltids[hot];
    delstate->deltids[hot++] = d;
  }
  delstate->ndeltids = hot;
  if (hot == 0) return InvalidTransactionId;
  return heap_am()->index_delete_tuples(rel, delstate);
}

}  // namespace

void tiered_fetch_callbacks(TableAmRoutine* r) {
  r->index_fetch_begin = index_fetch_begin;
  r->index_fetch_reset = index_fetch_reset;
  r->index_fetch_end = index_fetch_end;
  r->index_fetch_tuple = index_fetch_tuple;
  r->tuple_fetch_row_version = tuple_fetch_row_version;
  r->tuple_satisfies_snapshot = tuple_satisfies_snapshot;
  r->index_delete_tuples = index_delete_tuples;
}
