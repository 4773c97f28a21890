// Column projection for scans of tiered tables, set up by the executor start hook.
//
// A cold row is decoded from its batch column by column, and a row formed with every column costs
// more than heap's fetch of the same row: a batch's sections are checksummed, often zstd frames,
// and a range of 1000 rows decodes two batches. The table AM interface says nothing of the columns
// a scan needs, so once the executor has started, the hook walks the plan-state tree and, for each
// scan of a tiered table, works out which columns its plan node and (when the node hands its scan
// tuple up unprojected) its parent read. It gives them to the scan's descriptor, which it creates
// as the node would on its first row. Cold rows of that scan carry those columns; the others read
// as NULL. That is sound only if nothing else reads them, so any doubt means every column:
//  * the node's own expressions are read: its qual, its recheck quals (indexqualorig,
//    indexorderbyorig, bitmapqualorig), and its target list when it projects (then its parent
//    sees the projected tuple only);
//  * a node that does not project (its target list is the relation's columns in order) hands its
//    scan tuple up, so the parent's reads count too, through the scan's target list. Understood
//    parents: an Agg without grouping sets (its target list, qual and grouping columns); a nested
//    loop, merge or hash join (its target list, quals, and the nested loop's parameters, the merge
//    or hash clauses, the hash join's outer keys). Under any other parent every column is read;
//  * a whole-row Var reads every column; system columns come from the tuple header (a cold row's
//    is whole) and its TID;
//  * parallel-aware sequential and index scans make their descriptors elsewhere: every column;
//  * an index-only scan fetches a cold row only to learn that it is visible: no column.
// Rows fetched again by TID (UPDATE's old row, row locks, EvalPlanQual, triggers) go through
// readers of their own, which decode every column.
//
// The hook also keeps bitmap heap scans of tiered tables from prefetching: they prefetch by TID
// block number (PrefetchBuffer), which fails on a cold virtual block ("could not open file ...
// target block 2147483648"). The previous hook is set once, when the library loads.
#include "tiered.h"

extern "C" {
#include "access/genam.h"
#include "access/xact.h"
#include "access/tableam.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "lib/stringinfo.h"
#include "nodes/plannodes.h"
}

namespace {

ExecutorStart_hook_type prev_executor_start = nullptr;

// PG15's walkers take unprototyped callbacks (C's `bool (*)()`); through void (*)() as C's own
// callers convert them.
template <class F>
auto walker_cb(F* f) {
  return reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(f));
}

// What the scan's rows must carry: attrs[attno] for attno 1..natts, or all.
struct Needed {
  int natts;
  bool all;
  bool* attrs;
};

// Vars of the scan tuple in an expression: varno is the scan's (scanrelid), or OUTER_VAR or
// INNER_VAR for its parent's expressions (by the side the scan is on), whose column k is the
// expression of the scan's target list entry k.
struct VarWalk {
  Needed* need;
  int varno;
  Index scanrelid;
  List* scan_tlist;
};

bool vars_walker(Node* node, VarWalk* w);

void read_expr(Node* expr, Needed* need, int varno, Index scanrelid, List* scan_tlist) {
  VarWalk w{need, varno, scanrelid, scan_tlist};
  (void)vars_walker(expr, &w);
}

bool vars_walker(Node* node, VarWalk* w) {
  if (node == nullptr || w->need->all) return false;
  if (IsA(node, Var)) {
    auto* v = reinterpret_cast<Var*>(node);
    if (v->varlevelsup != 0 || v->varno != w->varno) return false;
    if (w->varno == OUTER_VAR || w->varno == INNER_VAR) {  // the parent's reference to output column varattno
      if (v->varattno <= 0 || v->varattno > list_length(w->scan_tlist)) {
        w->need->all = true;
        return false;
      }
      auto* te = static_cast<TargetEntry*>(list_nth(w->scan_tlist, v->varattno - 1));
      read_expr(reinterpret_cast<Node*>(te->expr), w->need, static_cast<int>(w->scanrelid), w->scanrelid,
                nullptr);
      return false;
    }
    if (v->varattno == 0 || v->varattno > w->need->natts)
      w->need->all = true;  // the whole row
    else if (v->varattno > 0)
      w->need->attrs[v->varattno] = true;
    return false;  // a system column: from the tuple header and its TID
  }
  return expression_tree_walker(node, walker_cb(vars_walker), w);
}

// The columns the scan `ss` (of a tiered table) and, when it does not project, its parent read, in
// the executor's query context; nullptr for every column.
ColdColumns* scan_columns(ScanState* ss, PlanState* parent, MemoryContext cxt) {
  Plan* plan = ss->ps.plan;
  auto scanrelid = reinterpret_cast<Scan*>(plan)->scanrelid;
  int relno = static_cast<int>(scanrelid);
  Needed need{RelationGetDescr(ss->ss_currentRelation)->natts, false, nullptr};
  need.attrs = static_cast<bool*>(MemoryContextAllocZero(cxt, need.natts + 1));
  auto own = [&](void* expr) { read_expr(static_cast<Node*>(expr), &need, relno, scanrelid, nullptr); };
  // A parent's expression, whose Vars of `side` (OUTER_VAR or INNER_VAR) name the scan's output.
  auto upper = [&](void* expr, int side) {
    read_expr(static_cast<Node*>(expr), &need, side, scanrelid, plan->targetlist);
  };
  own(plan->qual);
  if (IsA(plan, IndexScan)) {
    own(reinterpret_cast<IndexScan*>(plan)->indexqualorig);
    own(reinterpret_cast<IndexScan*>(plan)->indexorderbyorig);
  } else if (IsA(plan, BitmapHeapScan)) {
    own(reinterpret_cast<BitmapHeapScan*>(plan)->bitmapqualorig);
  }
  if (ss->ps.ps_ProjInfo != nullptr) {
    own(plan->targetlist);
  } else if (parent != nullptr &&
             (IsA(parent, NestLoopState) || IsA(parent, MergeJoinState) || IsA(parent, HashJoinState)) &&
             (outerPlanState(parent) == &ss->ps || innerPlanState(parent) == &ss->ps)) {
    // A join reads the scan tuple of its side in its target list, join and other quals, and by
    // its method: a nested loop's parameters for its inner side, a merge join's clauses, a hash
    // join's clauses and outer keys (its inner side is a Hash node, a parent not understood).
    // The plan walk also names as a scan's parent the node its initPlan or SubPlan hangs on (a
    // CTE's plan hangs on the query's top node): that is neither side, and reads every column.
    int side = outerPlanState(parent) == &ss->ps ? OUTER_VAR : INNER_VAR;
    auto* join = reinterpret_cast<Join*>(parent->plan);
    upper(join->plan.targetlist, side);
    upper(join->plan.qual, side);
    upper(join->joinqual, side);
    if (IsA(join, NestLoop)) {
      ListCell* lc;
      foreach (lc, reinterpret_cast<NestLoop*>(join)->nestParams)
        upper(static_cast<NestLoopParam*>(lfirst(lc))->paramval, side);
    } else if (IsA(join, MergeJoin)) {
      upper(reinterpret_cast<MergeJoin*>(join)->mergeclauses, side);
    } else {
      upper(reinterpret_cast<HashJoin*>(join)->hashclauses, side);
      upper(reinterpret_cast<HashJoin*>(join)->hashkeys, side);
    }
  } else if (parent != nullptr && IsA(parent, AggState) && outerPlanState(parent) == &ss->ps &&
             reinterpret_cast<Agg*>(parent->plan)->groupingSets == NIL &&
             reinterpret_cast<Agg*>(parent->plan)->chain == NIL) {
    auto* agg = reinterpret_cast<Agg*>(parent->plan);
    upper(agg->plan.targetlist, OUTER_VAR);
    upper(agg->plan.qual, OUTER_VAR);
    for (int i = 0; i < agg->numCols && !need.all; i++) {
      AttrNumber k = agg->grpColIdx[i];
      if (k <= 0 || k > list_length(plan->targetlist)) {
        need.all = true;
        break;
      }
      own(static_cast<TargetEntry*>(list_nth(plan->targetlist, k - 1))->expr);
    }
  } else {
    need.all = true;  // the scan tuple goes up to a parent not understood here
  }
  if (need.all) {
    pfree(need.attrs);
    return nullptr;
  }
  // Deforming compiled by JIT (llvmjit_deform.c) takes a NOT NULL column for present without
  // looking at the NULL bitmap, and lays out the columns after it accordingly: every NOT NULL
  // column before the last one read is read too.
  TupleDesc desc = RelationGetDescr(ss->ss_currentRelation);
  int last = 0;
  for (int a = 1; a <= need.natts; a++)
    if (need.attrs[a]) last = a;
  for (int a = 1; a < last; a++)
    if (TupleDescAttr(desc, a - 1)->attnotnull && !TupleDescAttr(desc, a - 1)->attisdropped)
      need.attrs[a] = true;
  int n = 0, live = 0;
  for (int a = 1; a <= need.natts; a++) {
    n += need.attrs[a];
    live += !TupleDescAttr(desc, a - 1)->attisdropped;
  }
  if (n >= live) {  // every column: nothing to skip
    pfree(need.attrs);
    return nullptr;
  }
  auto* cols = static_cast<ColdColumns*>(
      MemoryContextAlloc(cxt, offsetof(ColdColumns, attrs) + sizeof(AttrNumber) * Max(n, 1)));
  cols->n = 0;
  for (int a = 1; a <= need.natts; a++)
    if (need.attrs[a]) cols->attrs[cols->n++] = static_cast<AttrNumber>(a);
  pfree(need.attrs);
  return cols;
}

// Gives the scan's descriptor its columns, creating it first as the node would on its first row
// (SeqNext, IndexNext in PG15; a bitmap heap scan makes its own at init).
// DEBUG1: which columns the scan's cold rows carry (tests and DBAs see projection at work).
void report_columns(ScanState* ss, const ColdColumns* cols) {
  if (!message_level_is_interesting(DEBUG1)) return;
  StringInfoData names;
  initStringInfo(&names);
  for (int i = 0; i < cols->n; i++)
    appendStringInfo(
        &names, "%s%s", i > 0 ? ", " : "",
        NameStr(TupleDescAttr(RelationGetDescr(ss->ss_currentRelation), cols->attrs[i] - 1)->attname));
  elog(DEBUG1, "%s of tiered table \"%s\" reads cold columns (%s)",
       IsA(ss, SeqScanState)         ? "sequential scan"
       : IsA(ss, IndexScanState)     ? "index scan"
       : IsA(ss, IndexOnlyScanState) ? "index-only scan"
                                     : "bitmap heap scan",
       RelationGetRelationName(ss->ss_currentRelation), names.data);
  pfree(names.data);
}

void set_columns(ScanState* ss, EState* estate, const ColdColumns* cols) {
  if (IsA(ss, SeqScanState)) {
    // Not under SERIALIZABLE: heap's scan begin takes a predicate lock on the whole relation,
    // which a node that never runs (a nested loop's inner side, a SubPlan never evaluated) would
    // not have taken.
    if (ss->ps.plan->parallel_aware || IsolationIsSerializable()) return;
    if (ss->ss_currentScanDesc == nullptr)
      ss->ss_currentScanDesc = table_beginscan(ss->ss_currentRelation, estate->es_snapshot, 0, nullptr);
    tiered_scan_set_columns(ss->ss_currentScanDesc, cols);
    report_columns(ss, cols);
  } else if (IsA(ss, BitmapHeapScanState)) {
    if (ss->ss_currentScanDesc == nullptr) return;
    tiered_scan_set_columns(ss->ss_currentScanDesc, cols);
    report_columns(ss, cols);
  } else if (IsA(ss, IndexScanState)) {
    auto* is = reinterpret_cast<IndexScanState*>(ss);
    if (ss->ps.plan->parallel_aware || is->iss_RelationDesc == nullptr) return;
    if (is->iss_ScanDesc == nullptr) {
      is->iss_ScanDesc = index_beginscan(ss->ss_currentRelation, is->iss_RelationDesc, estate->es_snapshot,
                                         is->iss_NumScanKeys, is->iss_NumOrderByKeys);
      // Without run-time keys the keys are set now, as IndexNext would; with them, the first
      // ExecIndexScan rescans (ExecIndexReScan), which sets them on this descriptor.
      if (is->iss_NumRuntimeKeys == 0 || is->iss_RuntimeKeysReady)
        index_rescan(is->iss_ScanDesc, is->iss_ScanKeys, is->iss_NumScanKeys, is->iss_OrderByKeys,
                     is->iss_NumOrderByKeys);
    }
    tiered_fetch_set_columns(is->iss_ScanDesc->xs_heapfetch, cols);
    report_columns(ss, cols);
  } else if (IsA(ss, IndexOnlyScanState)) {
    auto* ios = reinterpret_cast<IndexOnlyScanState*>(ss);
    if (ss->ps.plan->parallel_aware || ios->ioss_RelationDesc == nullptr) return;
    if (ios->ioss_ScanDesc == nullptr) {  // as IndexOnlyNext
      ios->ioss_ScanDesc =
          index_beginscan(ss->ss_currentRelation, ios->ioss_RelationDesc, estate->es_snapshot,
                          ios->ioss_NumScanKeys, ios->ioss_NumOrderByKeys);
      ios->ioss_ScanDesc->xs_want_itup = true;
      ios->ioss_VMBuffer = InvalidBuffer;
      if (ios->ioss_NumRuntimeKeys == 0 || ios->ioss_RuntimeKeysReady)
        index_rescan(ios->ioss_ScanDesc, ios->ioss_ScanKeys, ios->ioss_NumScanKeys, ios->ioss_OrderByKeys,
                     ios->ioss_NumOrderByKeys);
    }
    tiered_fetch_set_columns(ios->ioss_ScanDesc->xs_heapfetch, cols);
    report_columns(ss, cols);
  }
}

struct Walk {
  EState* estate;
  PlanState* parent;
  bool project;  // not EXPLAIN only
};

bool visit(PlanState* ps, Walk* w) {
  if (ps == nullptr) return false;
  if (IsA(ps, SeqScanState) || IsA(ps, IndexScanState) || IsA(ps, BitmapHeapScanState) ||
      IsA(ps, IndexOnlyScanState)) {
    auto* ss = reinterpret_cast<ScanState*>(ps);
    if (ss->ss_currentRelation != nullptr && tiered_is_tiered(ss->ss_currentRelation)) {
      if (IsA(ps, BitmapHeapScanState)) reinterpret_cast<BitmapHeapScanState*>(ps)->prefetch_maximum = 0;
      if (w->project) {
        // An index-only scan reads a row only to learn that it is visible (IndexOnlyNext clears
        // its table slot at once): no column.
        ColdColumns* cols =
            IsA(ps, IndexOnlyScanState)
                ? static_cast<ColdColumns*>(MemoryContextAllocZero(
                      w->estate->es_query_cxt, offsetof(ColdColumns, attrs) + sizeof(AttrNumber)))
                : scan_columns(ss, w->parent, w->estate->es_query_cxt);
        if (cols != nullptr) set_columns(ss, w->estate, cols);
      }
    }
  }
  Walk child{w->estate, ps, w->project};
  return planstate_tree_walker(ps, walker_cb(visit), &child);
}

void executor_start(QueryDesc* qd, int eflags) {
  if (prev_executor_start != nullptr)
    prev_executor_start(qd, eflags);
  else
    standard_ExecutorStart(qd, eflags);
  Walk w{qd->estate, nullptr, (eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0};
  MemoryContext old = MemoryContextSwitchTo(qd->estate->es_query_cxt);
  (void)visit(qd->planstate, &w);
  MemoryContextSwitchTo(old);
}

}  // namespace

void tiered_init(void) {
  tiered_worker_init();
  tiered_crash_points_init();
  prev_executor_start = ExecutorStart_hook;
  ExecutorStart_hook = executor_start;
}
