// Uniqueness of a `learned` UNIQUE index (amcanunique), with btree's semantics.
//
// Insert. Every insert of key k goes to k's target leaf (the last leaf whose fence <= k, I4) and
// holds that leaf's exclusive lock while it checks and appends, so two inserters of k take turns:
// the second sees the first's entry. Entries equal to k live in the leaves from k's scan start to
// its target (I4: equal keys may span leaves) and their overflow chains; the leaves below the
// target are share-locked one at a time while the target stays locked (always a lower leaf under
// a higher one: no cycle). The target moves only when the last leaf opens an edge leaf, which its
// opener does under the old last leaf's lock, after its own check. For each entry with key k the
// heap is asked under a dirty snapshot (table_index_fetch_tuple): a committed live version is a
// conflict; one a running transaction inserted or deletes makes the inserter release its locks,
// wait for that transaction (or its speculative insertion) and start over; a dead one is skipped.
// Keys of an inexact type (uuid: a prefix) compare the heap value with the opclass's comparison
// first. Before raising the violation the inserter checks its own row is still live (CREATE INDEX
// CONCURRENTLY inserts rows that may have died since). NULLs are distinct unless the index is
// NULLS NOT DISTINCT; then the null chain is checked the same way, under the metapage's lock that
// every NULL insert holds.
//
// Build. The sorted pairs are read once before the leaves are written: a run of equal keys with
// two rows still live (visible to SnapshotSelf: committed, or this transaction's own) fails the
// build, as btree's spool of live tuples does.
#include "learned_items.h"
#include "learned_pairs.h"

#include <algorithm>

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "storage/bufmgr.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

namespace {

// The heap side of a check: a fetch state and a slot, opened at the first entry asked about.
struct HeapProbe {
  Relation heap;
  Relation index;
  IndexFetchTableData* fetch;
  TupleTableSlot* slot;
  bool exact;  // equal keys are equal values (omen_key_type_exact)
};

HeapProbe probe_begin(Relation index, Relation heap) {
  return HeapProbe{heap, index, nullptr, nullptr, omen_key_type_exact(index->rd_opcintype[0])};
}

void probe_end(HeapProbe* p) {
  if (p->fetch == nullptr) return;
  ExecDropSingleTupleTableSlot(p->slot);
  table_index_fetch_end(p->fetch);
  p->fetch = nullptr;
}

// Whether the HOT chain at `tid` has a version visible to `snapshot` (left in p->slot).
bool probe_fetch(HeapProbe* p, const ItemPointerData* tid, Snapshot snapshot) {
  if (p->fetch == nullptr) {
    p->fetch = table_index_fetch_begin(p->heap);
    p->slot = table_slot_create(p->heap, nullptr);
  }
  ItemPointerData t = *tid;
  bool call_again = false, all_dead = false;
  return table_index_fetch_tuple(p->fetch, &t, snapshot, p->slot, &call_again, &all_dead);
}

// The indexed column of the version in p->slot (*null: it is NULL).
Datum probe_value(HeapProbe* p, bool* null) {
  return slot_getattr(p->slot, p->index->rd_index->indkey.values[0], null);
}

// Whether a and b are equal under the opclass's comparison (support function 1).
bool values_equal(Relation index, Datum a, Datum b) {
  FmgrInfo* cmp = index_getprocinfo(index, 1, 1);
  return DatumGetInt32(FunctionCall2Coll(cmp, index->rd_indcollation[0], a, b)) == 0;
}

// Calls visit(tid) for each item of an items page whose key is `key` (the sorted prefix by binary
// search, the appended tail one by one); false as soon as visit returns false.
template <typename F>
bool for_key(Page page, uint64 key, F& visit) {
  const LearnedItemsHeader* h = learned_items_header(page);
  for (int i = learned_sorted_lower_bound(page, key); i < h->nsorted && learned_item_key(page, i) == key;
       i++) {
    ItemPointerData tid = learned_item_tid(page, i);
    if (!visit(&tid)) return false;
  }
  for (int i = h->nsorted; i < h->nitems; i++)
    if (learned_item_key(page, i) == key) {
      ItemPointerData tid = learned_item_tid(page, i);
      if (!visit(&tid)) return false;
    }
  return true;
}

// The same over a locked leaf and its overflow chain (share-locked page by page). With `every`,
// each item of the chain, whatever its key (the null chain).
template <typename F>
bool for_key_in_chain(Relation index, BlockNumber head, LearnedPageKind kind, uint64 key, bool every,
                      F& visit) {
  LearnedChain c = learned_chain_begin(index, head, kind, BUFFER_LOCK_SHARE);
  while (learned_chain_next(&c)) {
    bool go = true;
    if (every) {
      int n = learned_items_header(c.page)->nitems;
      for (int i = 0; i < n && go; i++) {
        ItemPointerData tid = learned_item_tid(c.page, i);
        go = visit(&tid);
      }
    } else {
      go = for_key(c.page, key, visit);
    }
    if (!go) {
      learned_chain_release(&c);
      return false;
    }
  }
  return true;
}

// One check: what each entry with the key says (the visitor of for_key).
struct Checker {
  HeapProbe probe;
  ItemPointerData self;  // the row being inserted
  IndexUniqueCheck mode;
  bool null;    // checking NULLs (NULLS NOT DISTINCT)
  Datum value;  // else the value inserted
  SnapshotData dirty;
  LearnedUnique result;

  bool operator()(const ItemPointerData* tid) {
    if (mode == UNIQUE_CHECK_EXISTING && ItemPointerEquals(const_cast<ItemPointer>(tid), &self)) return true;
    if (!probe_fetch(&probe, tid, &dirty)) return true;  // no version that can conflict
    if (!null && !probe.exact) {
      bool vnull;
      Datum v = probe_value(&probe, &vnull);
      if (vnull || !values_equal(probe.index, v, value)) return true;  // only the prefix is equal
    }
    result.is_unique = false;
    if (mode == UNIQUE_CHECK_PARTIAL) return false;  // a possible conflict: the executor rechecks
    TransactionId xwait = TransactionIdIsValid(dirty.xmin) ? dirty.xmin : dirty.xmax;
    if (TransactionIdIsValid(xwait)) {
      result.wait_xid = xwait;
      result.spec_token = dirty.speculativeToken;
      return false;
    }
    // A committed live duplicate, unless our own row died meanwhile (CREATE INDEX CONCURRENTLY).
    result.conflict = probe_fetch(&probe, &self, SnapshotSelf);
    if (!result.conflict) result.is_unique = true;
    return false;
  }
};

Checker checker_begin(Relation index, Relation heap, const ItemPointerData* self, IndexUniqueCheck mode,
                      bool null, Datum value) {
  Checker c{probe_begin(index, heap), *self, mode, null, value, {}, {true, false, InvalidTransactionId, 0}};
  InitDirtySnapshot(c.dirty);
  return c;
}

}  // namespace

LearnedUnique learned_unique_check(Relation index, Relation heap, const LearnedCache* cache, Buffer target,
                                   uint64 key, Datum value, ItemPointer tid, IndexUniqueCheck mode) {
  Checker c = checker_begin(index, heap, tid, mode, false, value);
  Page page = BufferGetPage(target);
  const LearnedItemsHeader* h = learned_items_header(page);
  uint32 target_leaf = h->leaf_no;
  bool go = for_key(page, key, c) && for_key_in_chain(index, h->next, kPageOverflow, key, false, c);
  // The leaves below the target that may hold the key, from the cache the target was found in (a
  // re-train swaps generations only after it has copied the locked target, and leaves below the
  // target never change fences).
  LearnedLeafMap map = learned_leaf_map(cache->meta);
  uint32 start = learned_start_leaf(cache, key);
  for (uint32 leaf = target_leaf; go && leaf > start;) {
    leaf--;
    BlockNumber blkno = learned_leaf_block(index, map, leaf);
    Buffer buf = ReadBuffer(index, blkno);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    learned_check_page(index, BufferGetPage(buf), blkno, kPageLeaf);
    go =
        for_key(BufferGetPage(buf), key, c) &&
        for_key_in_chain(index, learned_items_header(BufferGetPage(buf))->next, kPageOverflow, key, false, c);
    UnlockReleaseBuffer(buf);
  }
  probe_end(&c.probe);
  return c.result;
}

LearnedUnique learned_unique_check_nulls(Relation index, Relation heap, BlockNumber null_head,
                                         ItemPointer tid, IndexUniqueCheck mode) {
  Checker c = checker_begin(index, heap, tid, mode, true, 0);
  for_key_in_chain(index, null_head, kPageNull, 0, true, c);
  probe_end(&c.probe);
  return c.result;
}

void learned_unique_violation(Relation index, Relation heap, Datum value, bool null) {
  Datum values[1] = {value};
  bool isnull[1] = {null};
  char* desc = BuildIndexValueDescription(index, values, isnull);
  ereport(ERROR,
          (errcode(ERRCODE_UNIQUE_VIOLATION),
           errmsg("duplicate key value violates unique constraint \"%s\"", RelationGetRelationName(index)),
           desc ? errdetail("Key %s already exists.", desc) : 0,
           errtableconstraint(heap, RelationGetRelationName(index))));
}

namespace {

[[noreturn]] void build_duplicate(Relation index, Relation heap, Datum value, bool null) {
  bool isnull[1] = {null};
  char* desc = BuildIndexValueDescription(index, &value, isnull);
  ereport(ERROR, (errcode(ERRCODE_UNIQUE_VIOLATION),
                  errmsg("could not create unique index \"%s\"", RelationGetRelationName(index)),
                  desc ? errdetail("Key %s is duplicated.", desc) : errdetail("Duplicate keys exist."),
                  errtableconstraint(heap, RelationGetRelationName(index))));
}

// A run of pairs with one key: fails the build when two of its rows are live (of an inexact
// type: two live rows with equal values).
void check_run(HeapProbe* p, const ItemPointerData* tids, int n) {
  Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * n));
  int live = 0;
  Form_pg_attribute att = TupleDescAttr(RelationGetDescr(p->index), 0);
  for (int i = 0; i < n; i++) {
    if (!probe_fetch(p, &tids[i], SnapshotSelf)) continue;
    bool null;
    Datum v = probe_value(p, &null);
    values[live++] = datumCopy(v, att->attbyval, att->attlen);
  }
  int dup = -1;
  if (p->exact) {
    if (live >= 2) dup = 0;
  } else {
    FmgrInfo* cmp = index_getprocinfo(p->index, 1, 1);
    Oid coll = p->index->rd_indcollation[0];
    std::sort(values, values + live,
              [&](Datum a, Datum b) { return DatumGetInt32(FunctionCall2Coll(cmp, coll, a, b)) < 0; });
    for (int i = 1; i < live && dup < 0; i++)
      if (values_equal(p->index, values[i - 1], values[i])) dup = i;
  }
  if (dup < 0) {
    pfree(values);
    return;
  }
  probe_end(p);
  build_duplicate(p->index, p->heap, values[dup], false);
}

}  // namespace

void learned_unique_build_nulls(Relation index, Relation heap) { build_duplicate(index, heap, 0, true); }

void learned_unique_check_build(Relation index, Relation heap, LearnedPairs* pairs) {
  HeapProbe p = probe_begin(index, heap);
  int cap = 16, n = 0;
  auto* run = static_cast<ItemPointerData*>(palloc(sizeof(ItemPointerData) * cap));
  uint64 run_key = 0, key;
  ItemPointerData tid;
  for (;;) {
    bool more = learned_pairs_next(pairs, &key, &tid);
    if (!more || n == 0 || key != run_key) {
      if (n >= 2) check_run(&p, run, n);
      if (!more) break;
      n = 0;
      run_key = key;
    }
    if (n == cap) {
      cap *= 2;
      run = static_cast<ItemPointerData*>(repalloc(run, sizeof(ItemPointerData) * cap));
    }
    run[n++] = tid;
  }
  probe_end(&p);
  pfree(run);
  learned_pairs_rescan(pairs);
}

// ---- INSERT ... ON CONFLICT on a table with a learned UNIQUE index ------------------------------
//
// PostgreSQL 15 prepares every unique index of an INSERT ... ON CONFLICT's table for speculative
// insertion (ExecOpenIndices -> BuildSpeculativeIndexInfo), which accepts btree only and fails with
// an internal error otherwise, whichever index arbitrates. The executor-start hook refuses such a
// statement first with an error that says why and what works (an exclusion constraint EXCLUDE
// USING learned (k WITH =) arbitrates ON CONFLICT DO NOTHING). It reads the table's own indexes:
// a learned unique index on a partitioned table is on each partition too; one created on a
// partition alone, or a statement run before the library was loaded in the session (the first use
// of omendb in a backend without shared_preload_libraries), still gets Postgres' own error.

namespace {

ExecutorStart_hook_type prev_executor_start = nullptr;

void refuse_on_conflict(Oid relid, Oid learned_am) {
  Relation rel = RelationIdGetRelation(relid);
  if (rel == nullptr) return;
  List* indexes = RelationGetIndexList(rel);
  ListCell* lc;
  foreach (lc, indexes) {
    Oid indexoid = lfirst_oid(lc);
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(indexoid));
    if (!HeapTupleIsValid(tup)) continue;
    bool learned = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relam == learned_am;
    ReleaseSysCache(tup);
    if (!learned) continue;
    tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
    if (!HeapTupleIsValid(tup)) continue;
    bool unique = reinterpret_cast<Form_pg_index>(GETSTRUCT(tup))->indisunique;
    ReleaseSysCache(tup);
    if (!unique) continue;
    const char* relname = pstrdup(RelationGetRelationName(rel));
    RelationClose(rel);
    ereport(ERROR,
            (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
             errmsg("INSERT ... ON CONFLICT is not supported on table \"%s\": its unique index \"%s\" is a "
                    "learned index",
                    relname, get_rel_name(indexoid)),
             errdetail("PostgreSQL prepares every unique index of the table for ON CONFLICT, and only btree "
                       "ones can be."),
             errhint("For ON CONFLICT DO NOTHING use an exclusion constraint, EXCLUDE USING learned (column "
                     "WITH =), instead of the unique index; or make the unique index a btree.")));
  }
  list_free(indexes);
  RelationClose(rel);
}

void check_plan(const PlannedStmt* stmt, const Plan* plan) {
  if (plan == nullptr || !IsA(plan, ModifyTable)) return;
  const auto* mt = reinterpret_cast<const ModifyTable*>(plan);
  if (mt->onConflictAction == ONCONFLICT_NONE) return;
  Oid learned_am = get_am_oid("learned", true);
  if (!OidIsValid(learned_am)) return;
  ListCell* lc;
  foreach (lc, mt->resultRelations)
    refuse_on_conflict(rt_fetch(lfirst_int(lc), stmt->rtable)->relid, learned_am);
}

void executor_start(QueryDesc* qd, int eflags) {
  const PlannedStmt* stmt = qd->plannedstmt;
  if (stmt->commandType == CMD_INSERT || stmt->hasModifyingCTE) {
    check_plan(stmt, stmt->planTree);
    ListCell* lc;
    foreach (lc, stmt->subplans) check_plan(stmt, static_cast<const Plan*>(lfirst(lc)));
  }
  if (prev_executor_start != nullptr)
    prev_executor_start(qd, eflags);
  else
    standard_ExecutorStart(qd, eflags);
}

}  // namespace

void learned_unique_init(void) {
  prev_executor_start = ExecutorStart_hook;
  ExecutorStart_hook = executor_start;
}
