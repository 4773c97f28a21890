// Table AM `tiered`: the handler and its routine, heap's with the few callbacks tiered must own
// (tiered.h says which and why), and the storage events that carry the cold batches along.
#include "tiered.h"

#include <csignal>

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/transam.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class.h"
#include "catalog/pg_publication.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/procarray.h"
#include "utils/lsyscache.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

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
  ereport(
      ERROR,
      (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
       errmsg("BRIN indexes are not supported on tiered table \"%s\"", RelationGetRelationName(table_rel)),
       errdetail("Cold rows of a tiered table are stored in compressed batches, not in the heap block "
                 "ranges a BRIN index summarizes."),
       errhint("Use a btree or a learned index (CREATE INDEX ... USING learned).")));
}

double index_build_range_scan(Relation table_rel, Relation index_rel, IndexInfo* index_info, bool allow_sync,
                              bool anyvisible, bool progress, BlockNumber start_blockno,
                              BlockNumber numblocks, IndexBuildCallback callback, void* callback_state,
                              TableScanDesc scan) {
  refuse_brin(table_rel, index_rel);
  TableScanDesc heap_scan = tiered_heap_scan(scan);  // heap's part of a parallel tiered scan
  volatile double tuples = 0;
  as_heap(table_rel, [&](const TableAmRoutine* heap) {
    tuples = heap->index_build_range_scan(table_rel, index_rel, index_info, allow_sync, anyvisible, progress,
                                          start_blockno, numblocks, callback, callback_state, heap_scan);
  });
  // Heap's build ended heap's scan; the cold rows follow (a whole-table build only: BRIN's
  // block-range builds are refused above).
  if (start_blockno == 0 && numblocks == InvalidBlockNumber)
    tuples =
        tuples + tiered_index_build_cold(table_rel, index_rel, index_info, callback, callback_state, scan);
  if (scan != nullptr && scan != heap_scan) tiered_scan_release(scan);
  return tuples;
}

void index_validate_scan(Relation table_rel, Relation index_rel, IndexInfo* index_info, Snapshot snapshot,
                         ValidateIndexState* state) {
  // Moves take ShareUpdateExclusiveLock, as CREATE INDEX CONCURRENTLY does: no cold row appears
  // between the build (which indexed every cold row) and this validation of the hot tier.
  as_heap(table_rel, [&](const TableAmRoutine* heap) {
    heap->index_validate_scan(table_rel, index_rel, index_info, snapshot, state);
  });
}

// Runs a statement on the extension's batch table with two oid parameters.
void batch_table_exec(const char* sql, Oid a, Oid b) {
  Oid types[2] = {OIDOID, OIDOID};
  Datum values[2] = {ObjectIdGetDatum(a), ObjectIdGetDatum(b)};
  tiered_catalog_spi(sql, 2, types, values, false);
}

// The batches of relfilenode `from` now belong to relfilenode `to` (an MVCC update: rolled back
// with the command that changed the relfilenode).
void move_batches(Oid from, Oid to) {
  if (from == to) return;
  batch_table_exec("UPDATE omendb.tier_batch SET relnode = $2 WHERE relnode = $1", from, to);
  // Changes of cold rows follow too; a new version's TID pointed into the old files: dropped (only
  // a recheck racing the UPDATE follows it, and no statement runs during the rewrite).
  batch_table_exec("UPDATE omendb.tier_delete SET relnode = $2, new_tid = NULL WHERE relnode = $1", from, to);
}

// VACUUM FULL and CLUSTER: heap's copy of the hot tier (sorted rather than read through the old
// index, whose cold TIDs heap cannot fetch), then the cold batches follow the new relfilenode.
void relation_copy_for_cluster(Relation old_rel, Relation new_rel, Relation old_index, bool use_sort,
                               TransactionId oldest_xmin, TransactionId* xid_cutoff,
                               MultiXactId* multi_cutoff, double* num_tuples, double* tups_vacuumed,
                               double* tups_recently_dead) {
  as_heap(old_rel, [&](const TableAmRoutine* heap) {
    heap->relation_copy_for_cluster(old_rel, new_rel, old_index, use_sort || old_index != nullptr,
                                    oldest_xmin, xid_cutoff, multi_cutoff, num_tuples, tups_vacuumed,
                                    tups_recently_dead);
  });
  move_batches(old_rel->rd_node.relNode, new_rel->rd_node.relNode);
}

// ALTER TABLE ... SET TABLESPACE copies the files to a new relfilenode: the batches follow.
void relation_copy_data(Relation rel, const RelFileNode* newrnode) {
  GetHeapamTableAmRoutine()->relation_copy_data(rel, newrnode);
  move_batches(rel->rd_node.relNode, newrnode->relNode);
}

// A new relfilenode for an existing table (TRUNCATE): the old one's batches and changes are
// deleted with it (MVCC deletes: a rollback, which returns to the old relfilenode, keeps them).
// For a table being created the relfilenode does not change and there is nothing to delete.
void relation_set_new_filenode(Relation rel, const RelFileNode* newrnode, char persistence,
                               TransactionId* freeze_xid, MultiXactId* minmulti) {
  GetHeapamTableAmRoutine()->relation_set_new_filenode(rel, newrnode, persistence, freeze_xid, minmulti);
  Oid old = rel->rd_node.relNode;
  if (old == newrnode->relNode || !OidIsValid(get_namespace_oid("omendb", true))) return;
  batch_table_exec("DELETE FROM omendb.tier_batch WHERE relnode = $1 AND relid = $2", old,
                   RelationGetRelid(rel));
  batch_table_exec("DELETE FROM omendb.tier_delete WHERE relnode = $1 AND relid = $2", old,
                   RelationGetRelid(rel));
}

// TRUNCATE of a table created in this transaction empties its files in place: its batches go too.
// (Any other TRUNCATE gives the table a new relfilenode, which has no batches.)
void relation_nontransactional_truncate(Relation rel) {
  GetHeapamTableAmRoutine()->relation_nontransactional_truncate(rel);
  batch_table_exec("DELETE FROM omendb.tier_batch WHERE relnode = $1 AND relid = $2", rel->rd_node.relNode,
                   RelationGetRelid(rel));
  batch_table_exec("DELETE FROM omendb.tier_delete WHERE relnode = $1 AND relid = $2", rel->rd_node.relNode,
                   RelationGetRelid(rel));
}

// A tiered table's TOAST table is plain heap (heap's callback would answer "tiered").
Oid relation_toast_am(Relation) { return HEAP_TABLE_AM_OID; }

// The planner's size estimate: heap's for the hot tier (with reltuples presented as its share) plus
// the live cold rows, and the cold bytes as pages (a seq scan reads them), from a per-relation
// cache in rd_amcache that a move or a fold invalidates.
struct ColdSize {
  double rows, bytes;
};

void relation_estimate_size(Relation rel, int32* attr_widths, BlockNumber* pages, double* tuples,
                            double* allvisfrac) {
  if (rel->rd_amcache == nullptr) {
    ColdSize size;
    size.rows = tiered_cold_live_rows(rel, &size.bytes);
    auto* cached = static_cast<ColdSize*>(MemoryContextAlloc(CacheMemoryContext, sizeof(ColdSize)));
    *cached = size;
    rel->rd_amcache = cached;
  }
  const ColdSize cold = *static_cast<const ColdSize*>(rel->rd_amcache);
  tiered_as_hot_reltuples(rel, Max(cold.rows, 0.0), [&] {
    GetHeapamTableAmRoutine()->relation_estimate_size(rel, attr_widths, pages, tuples, allvisfrac);
  });
  if (cold.bytes <= 0) return;
  double hot_pages = *pages;
  *pages += static_cast<BlockNumber>(cold.bytes / BLCKSZ) + 1;
  *tuples += Max(cold.rows, 0.0);
  // Cold rows are never all-visible to an index-only scan (it fetches them).
  *allvisfrac = *allvisfrac * hot_pages / *pages;
}

TableAmRoutine make_routine() {
  TableAmRoutine r = *GetHeapamTableAmRoutine();
  r.index_build_range_scan = index_build_range_scan;
  r.index_validate_scan = index_validate_scan;
  r.relation_toast_am = relation_toast_am;
  r.relation_estimate_size = relation_estimate_size;
  r.relation_copy_for_cluster = relation_copy_for_cluster;
  r.relation_copy_data = relation_copy_data;
  r.relation_set_new_filenode = relation_set_new_filenode;
  r.relation_nontransactional_truncate = relation_nontransactional_truncate;
  tiered_scan_callbacks(&r);
  tiered_fetch_callbacks(&r);
  tiered_dml_callbacks(&r);
  tiered_vacuum_callbacks(&r);
  return r;
}

// True when the batch row in `slot` was carried by committed updates to a version under the
// table's current relfilenode `now`: rewrites moved it there (compactions, which update batch rows
// under the same relfilenode, may lie on the way). A delete (TRUNCATE), an update that aborted or
// is not over, a chain that ends under another relfilenode (a later TRUNCATE or a rewrite that
// made every row new), or a version pruned meanwhile (its line pointer maybe reused: the next
// version's xmin must be the update's xid) says no.
bool batch_row_moved(Relation batches, TupleTableSlot* slot, TupleTableSlot* next, Oid now) {
  HeapTuple t = ExecFetchSlotHeapTuple(slot, false, nullptr);
  ItemPointerData self = t->t_self;
  HeapTupleHeader h = t->t_data;
  for (int hop = 0; hop < 1000; hop++) {
    if ((h->t_infomask & HEAP_XMAX_INVALID) || HEAP_XMAX_IS_LOCKED_ONLY(h->t_infomask) ||
        HeapTupleHeaderIndicatesMovedPartitions(h) || ItemPointerEquals(&self, &h->t_ctid))
      return false;
    TransactionId xid = HeapTupleHeaderGetUpdateXid(h);
    if (!TransactionIdIsNormal(xid) || TransactionIdIsInProgress(xid) || !TransactionIdDidCommit(xid))
      return false;
    ItemPointerData to = h->t_ctid;
    if (!table_tuple_fetch_row_version(batches, &to, SnapshotAny, next)) return false;
    HeapTuple nt = ExecFetchSlotHeapTuple(next, false, nullptr);
    if (!TransactionIdEquals(HeapTupleHeaderGetRawXmin(nt->t_data), xid)) return false;
    bool isnull;
    Datum d = slot_getattr(next, kBatchRelnode, &isnull);
    if (!isnull && DatumGetObjectId(d) == now) return true;
    self = nt->t_self;
    h = nt->t_data;
  }
  return false;
}

}  // namespace

Oid tiered_relnode_as_of(Relation rel, Snapshot snapshot) {
  Oid now = rel->rd_node.relNode;
  if (!IsMVCCSnapshot(snapshot)) return now;
  // pg_class's current row: if it is older than the snapshot, the snapshot sees it.
  HeapTuple t = SearchSysCache1(RELOID, ObjectIdGetDatum(RelationGetRelid(rel)));
  if (!HeapTupleIsValid(t)) return now;
  TransactionId xmin = HeapTupleHeaderGetXmin(t->t_data);
  bool seen = HeapTupleHeaderXminFrozen(t->t_data) || !TransactionIdIsNormal(xmin) ||
              TransactionIdPrecedes(xmin, snapshot->xmin);
  ReleaseSysCache(t);
  if (seen) return now;
  // Else the version the snapshot sees, and the transaction that replaced it (the first change of
  // the table's pg_class row after the snapshot: a rewrite, or other DDL).
  Relation classes = table_open(RelationRelationId, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, Anum_pg_class_oid, BTEqualStrategyNumber, F_OIDEQ,
              ObjectIdGetDatum(RelationGetRelid(rel)));
  SysScanDesc scan = systable_beginscan(classes, ClassOidIndexId, true, snapshot, 1, &key);
  HeapTuple old = systable_getnext(scan);
  Oid then = now;
  TransactionId replaced = InvalidTransactionId;
  if (HeapTupleIsValid(old) && OidIsValid(reinterpret_cast<Form_pg_class>(GETSTRUCT(old))->relfilenode)) {
    then = reinterpret_cast<Form_pg_class>(GETSTRUCT(old))->relfilenode;
    replaced = HeapTupleHeaderGetUpdateXid(old->t_data);
  }
  systable_endscan(scan);
  table_close(classes, AccessShareLock);
  if (then == now || !TransactionIdIsValid(replaced) || !OidIsValid(get_namespace_oid("omendb", true)))
    return now;
  // Only rewrites that kept the rows moved the batches: their UPDATEs carried the batch rows of
  // `then` to versions under the current relfilenode, and the old ones stay visible to the
  // snapshot. After a TRUNCATE (or a rewrite that makes every row new) at any point since, the
  // chains end elsewhere, and a snapshot older than it finds the table empty, as heap's.
  Relation batches = table_open(tiered_catalog("tier_batch"), AccessShareLock);
  Relation index = index_open(tiered_catalog("tier_batch_key"), AccessShareLock);
  ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(then));
  IndexScanDesc bscan = index_beginscan(batches, index, SnapshotAny, 1, 0);
  index_rescan(bscan, &key, 1, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(batches, nullptr);
  TupleTableSlot* next = table_slot_create(batches, nullptr);
  bool moved = false;
  while (!moved && index_getnext_slot(bscan, ForwardScanDirection, slot))
    moved = batch_row_moved(batches, slot, next, now);
  ExecDropSingleTupleTableSlot(next);
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(bscan);
  index_close(index, AccessShareLock);
  table_close(batches, AccessShareLock);
  return moved ? then : now;
}

const TableAmRoutine* tiered_routine(void) {
  static const TableAmRoutine routine = make_routine();  // built once per backend, never changed
  return &routine;
}

void tiered_check_unpublished(Relation rel, int kinds, const char* what, const char* why) {
  PublicationDesc pub;
  RelationBuildPublicationDesc(rel, &pub);  // cached in the relcache entry
  bool refused =
      ((kinds & kPublishedDeletes) && pub.pubactions.pubdelete) ||
      ((kinds & kPublishedInsertsOrUpdates) && (pub.pubactions.pubinsert || pub.pubactions.pubupdate));
  if (!refused) return;
  ereport(ERROR,
          (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
           errmsg("cannot %s tiered table \"%s\": it is published for logical replication", what,
                  RelationGetRelationName(rel)),
           errdetail("%s", why),
           errhint("Remove the table from its publications, or ALTER TABLE ... SET ACCESS METHOD heap to "
                   "bring its cold rows back to the hot tier.")));
}

#ifdef OMEN_CRASH_POINTS
namespace {
char* crash_point = nullptr;  // omendb.debug_crash_point (written by the GUC machinery only)
}  // namespace

void tiered_crash_points_init(void) {
  DefineCustomStringVariable(
      "omendb.debug_crash_point", "Test only: a step of a move or VACUUM that kills its process.",
      "The process kills itself with SIGKILL on reaching the named step.", &crash_point, "", PGC_SUSET,
      GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL, nullptr, nullptr, nullptr);
}

void tiered_crash_point(const char* name) {
  if (crash_point == nullptr || strcmp(crash_point, name) != 0) return;
  ereport(LOG, (errmsg("omendb: crash point \"%s\" reached: killing this process", name)));
  kill(MyProcPid, SIGKILL);
  pg_usleep(10000000L);  // SIGKILL is not deliverable late; never returns in practice
}
#endif

bool tiered_has_cold(Relation rel) {
  Relation batches = table_open(tiered_catalog("tier_batch"), AccessShareLock);
  Relation key = index_open(tiered_catalog("tier_batch_key"), AccessShareLock);
  ScanKeyData k;
  ScanKeyInit(&k, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(rel->rd_node.relNode));
  IndexScanDesc scan = index_beginscan(batches, key, SnapshotAny, 1, 0);
  scan->ignore_killed_tuples = false;  // an aborted move's batch counts: VACUUM sweeps its entries
  index_rescan(scan, &k, 1, nullptr, 0);
  bool any = index_getnext_tid(scan, ForwardScanDirection) != nullptr;
  index_endscan(scan);
  index_close(key, AccessShareLock);
  table_close(batches, AccessShareLock);
  return any;
}

double tiered_cold_live_rows(Relation rel, double* bytes) {
  Oid types[2] = {OIDOID, OIDOID};
  Datum args[2] = {ObjectIdGetDatum(rel->rd_node.relNode), ObjectIdGetDatum(RelationGetRelid(rel))};
  tiered_catalog_spi(
      "SELECT coalesce(sum(nrows - coalesce(bit_count(deleted), 0)), 0)::float8 - "
      "  (SELECT count(*) FROM omendb.tier_delete WHERE relnode = $1 AND relid = $2)::float8, "
      "  coalesce(sum(pg_column_size(payload)), 0)::float8 "
      "FROM omendb.tier_batch WHERE relnode = $1 AND relid = $2",
      2, types, args, true);
  bool null;
  double rows = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &null));
  if (bytes != nullptr)
    *bytes = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &null));
  SPI_finish();
  return rows;
}

void tiered_check_tiered(Relation rel, const char* what) {
  if (rel->rd_rel->relkind == RELKIND_RELATION && tiered_is_tiered(rel)) return;
  ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                  errmsg("\"%s\" is not a tiered table", RelationGetRelationName(rel)),
                  errdetail("%s works on tables created USING tiered.", what),
                  errhint("ALTER TABLE %s SET ACCESS METHOD tiered converts a heap table.",
                          quote_identifier(RelationGetRelationName(rel)))));
}

// tiered_handler(internal) -> table_am_handler: the routine of `CREATE ACCESS METHOD tiered`.
extern "C" Datum tiered_handler(PG_FUNCTION_ARGS) {
  (void)fcinfo;
  PG_RETURN_POINTER(tiered_routine());
}
