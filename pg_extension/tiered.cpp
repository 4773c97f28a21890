// Table AM `tiered`: the handler and its routine, heap's with the few callbacks tiered must own
// (tiered.h says which and why).
#include "tiered.h"

extern "C" {
#include "access/heapam.h"
#include "catalog/pg_am_d.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(tiered_handler);
}

namespace {

// Runs heap's callback `call` on `rel` with heap's routine presented as the relation's table AM,
// so heap code that checks `rd_tableam == heap` (heap_getnext) accepts it; the tiered routine is
// put back in PG_FINALLY, so an ERROR inside never leaves the relcache entry claiming to be heap.
// (A relcache rebuild during the call re-reads pg_am and sets tiered's routine again; restoring
// it is then a no-op.) Must not be called with C++ objects alive in `call` (PG_TRY is longjmp).
template <class Call>
void as_heap(Relation rel, Call call) {
  const TableAmRoutine* own = rel->rd_tableam;
  rel->rd_tableam = GetHeapamTableAmRoutine();
  PG_TRY();
  { call(GetHeapamTableAmRoutine()); }
  PG_FINALLY();
  { rel->rd_tableam = own; }
  PG_END_TRY();
}

// BRIN summarises ranges of heap blocks; a tiered table's cold rows live in compressed batches
// with virtual block numbers that no range would cover, so its answers would silently miss them.
void refuse_brin(Relation table_rel, Relation index_rel) {
  if (index_rel->rd_rel->relam != BRIN_AM_OID) return;
  ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                  errmsg("BRIN indexes are not supported on tiered table \"%s\"", RelationGetRelationName(table_rel)),
                  errdetail("Cold rows of a tiered table are stored in compressed batches, not in the heap block "
                            "ranges a BRIN index summarizes."),
                  errhint("Use a btree or a learned index (CREATE INDEX ... USING learned).")));
}

double index_build_range_scan(Relation table_rel, Relation index_rel, IndexInfo* index_info, bool allow_sync,
                              bool anyvisible, bool progress, BlockNumber start_blockno, BlockNumber numblocks,
                              IndexBuildCallback callback, void* callback_state, TableScanDesc scan) {
  refuse_brin(table_rel, index_rel);
  volatile double tuples = 0;
  as_heap(table_rel, [&](const TableAmRoutine* heap) {
    tuples = heap->index_build_range_scan(table_rel, index_rel, index_info, allow_sync, anyvisible, progress,
                                          start_blockno, numblocks, callback, callback_state, scan);
  });
  return tuples;
}

void index_validate_scan(Relation table_rel, Relation index_rel, IndexInfo* index_info, Snapshot snapshot,
                         ValidateIndexState* state) {
  as_heap(table_rel, [&](const TableAmRoutine* heap) {
    heap->index_validate_scan(table_rel, index_rel, index_info, snapshot, state);
  });
}

// A tiered table's TOAST table is plain heap (heap's callback would answer "tiered").
Oid relation_toast_am(Relation) { return HEAP_TABLE_AM_OID; }

TableAmRoutine make_routine() {
  TableAmRoutine r = *GetHeapamTableAmRoutine();
  r.index_build_range_scan = index_build_range_scan;
  r.index_validate_scan = index_validate_scan;
  r.relation_toast_am = relation_toast_am;
  return r;
}

}  // namespace

const TableAmRoutine* tiered_routine(void) {
  static const TableAmRoutine routine = make_routine();  // built once per backend, never changed
  return &routine;
}

// tiered_handler(internal) -> table_am_handler: the routine of `CREATE ACCESS METHOD tiered`.
extern "C" Datum tiered_handler(PG_FUNCTION_ARGS) {
  (void)fcinfo;
  PG_RETURN_POINTER(tiered_routine());
}
