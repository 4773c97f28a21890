// Scans of the `learned` index: amgettuple (both directions, index-only), amgetbitmap.
//
// The scan keys reduce to a sorted list of disjoint inclusive key ranges (one range, or one point
// per `= ANY(array)` element) plus "want NULLs". The scan walks *units* in key order: for each
// range, the leaves from its start leaf (model + fences) while the next leaf's fence <= range end;
// then, if wanted, the NULL chain (NULLS LAST). Each unit is copied into a batch (leaf + overflow
// chain items within the range, sorted by key then TID) under a share lock, then released, so a
// scan never holds a buffer lock between calls.
//
// Mark/restore keeps the marked batch aside (two batches take turns); parallel scans hand units
// out one at a time through shared state (ParallelShared below). docs/index-am.md has both.
#include "learned_edge.h"

#include <algorithm>

#include <omen/key.h>

extern "C" {
#include "access/itup.h"
#include "access/relscan.h"
#include "access/tupmacs.h"
#include "access/xlog.h"
#include "nodes/tidbitmap.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/spin.h"
#include "utils/wait_event.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
}

namespace {

struct Range {
  uint64 lo, hi;  // inclusive
};

struct ScanItem {
  uint64 key;
  ItemPointerData tid;
};

enum UnitKind { kUnitValues = 0, kUnitNulls = 1 };

// A leaf (of the generation `map` describes) restricted to one range, or the null chain. A scan
// may see a re-train between units: each descent (start_leaf/end_leaf) uses the current
// generation, and walking to a neighbour leaf stays in the descent's generation.
struct Unit {
  int kind;
  int range;
  uint32 leaf;
  LearnedLeafMap map;  // every page the unit reads must carry map.generation
};

// A loaded unit and what is needed to find its neighbours (plain data: parallel scans share it).
struct UnitPos {
  Unit unit;
  uint64 high_fence;  // of the loaded leaf
  uint64 low_fence;
  bool is_last;
};

// One unit's items, copied out of its pages.
struct Batch {
  MemoryContext cxt;  // holds `items`; reset when another unit is loaded into this batch
  UnitPos at;
  ScanItem* items;
  int nitems;
};

// Where a mark (ammarkpos) is kept. The mark costs nothing while it stays in the current batch;
// when the scan loads another unit, the marked batch is kept whole by swapping it with `mark`
// (two contexts take turns), so restoring never re-reads a page, even after a re-train.
enum MarkState { kNoMark = 0, kMarkBeforeStart, kMarkInCur, kMarkSaved };

struct ScanOpaque {
  Batch cur;                // the unit being returned
  Batch mark;               // the marked unit when the scan has left it (kMarkSaved)
  MarkState mark_state;
  int mark_pos;
  MemoryContext tuple_cxt;  // the two index-only scan tuples below; lives as long as the scan
  IndexTuple value_itup;    // index-only scans: a tuple formed once, its datum overwritten per row
  IndexTuple null_itup;     // the same for NULL
  char* value_data;         // value_itup's datum
  int16 attlen;             // of the key column, for value_itup
  MemoryContext keys_cxt;   // ranges and decoded arrays; reset per rescan
  Oid type;
  // From the scan keys.
  Range* ranges;
  int nranges;
  bool want_nulls;
  // Iteration state.
  bool started;
  bool empty;  // no unit at all
  int pos;     // in cur.items
};

bool item_less(const ScanItem& a, const ScanItem& b) {
  if (a.key != b.key) return a.key < b.key;
  BlockNumber ab = ItemPointerGetBlockNumberNoCheck(&a.tid), bb = ItemPointerGetBlockNumberNoCheck(&b.tid);
  if (ab != bb) return ab < bb;
  return ItemPointerGetOffsetNumberNoCheck(&a.tid) < ItemPointerGetOffsetNumberNoCheck(&b.tid);
}

// ---- scan keys -> ranges ----------------------------------------------------------------------

// Narrows [*lo, *hi] by `key op v`; returns false when nothing can match.
bool apply_bound(StrategyNumber op, uint64 v, uint64* lo, uint64* hi) {
  switch (op) {
    case BTLessStrategyNumber:
      if (v == 0) return false;
      *hi = Min(*hi, v - 1);
      break;
    case BTLessEqualStrategyNumber: *hi = Min(*hi, v); break;
    case BTEqualStrategyNumber:
      *lo = Max(*lo, v);
      *hi = Min(*hi, v);
      break;
    case BTGreaterEqualStrategyNumber: *lo = Max(*lo, v); break;
    case BTGreaterStrategyNumber:
      if (v == PG_UINT64_MAX) return false;
      *lo = Max(*lo, v + 1);
      break;
    default:
      elog(ERROR, "learned index: unexpected strategy %d", op);
  }
  return *lo <= *hi;
}

// Encoded non-NULL elements of an array scan key, sorted and deduplicated.
uint64* array_keys(ScanKey sk, Oid elemtype, int* n) {
  ArrayType* arr = DatumGetArrayTypeP(sk->sk_argument);
  int16 typlen;
  bool byval;
  char align;
  get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &byval, &align);
  Datum* elems;
  bool* nulls;
  int nelems;
  deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, byval, align, &elems, &nulls, &nelems);
  uint64* out = static_cast<uint64*>(palloc(sizeof(uint64) * Max(nelems, 1)));
  int m = 0;
  for (int i = 0; i < nelems; i++)
    if (!nulls[i]) out[m++] = learned_encode(elems[i], elemtype);
  std::sort(out, out + m);
  *n = static_cast<int>(std::unique(out, out + m) - out);
  return out;
}

// Fills so->ranges / so->want_nulls from the scan keys (allocated in the current context).
void setup_ranges(IndexScanDesc scan, ScanOpaque* so) {
  uint64 lo = 0, hi = PG_UINT64_MAX;
  bool ok = true, null_only = false, not_null = false, any_value_key = false;
  uint64* points = nullptr;
  int npoints = -1;  // -1: no equality array
  for (int i = 0; i < scan->numberOfKeys && ok; i++) {
    ScanKey sk = &scan->keyData[i];
    if (sk->sk_flags & SK_ISNULL) {
      if (sk->sk_flags & SK_SEARCHNULL) null_only = true;
      else if (sk->sk_flags & SK_SEARCHNOTNULL) not_null = true;
      else ok = false;  // strict operator with a NULL argument
      continue;
    }
    any_value_key = true;
    Oid argtype = OidIsValid(sk->sk_subtype) ? sk->sk_subtype : so->type;
    if (sk->sk_flags & SK_SEARCHARRAY) {
      int n;
      uint64* vals = array_keys(sk, argtype, &n);
      if (n == 0) { ok = false; break; }
      if (sk->sk_strategy == BTEqualStrategyNumber) {
        if (npoints < 0) {
          points = vals;
          npoints = n;
        } else {  // intersect two sorted sets
          npoints = static_cast<int>(std::set_intersection(points, points + npoints, vals, vals + n, points) - points);
        }
      } else if (sk->sk_strategy == BTLessStrategyNumber || sk->sk_strategy == BTLessEqualStrategyNumber) {
        ok = apply_bound(sk->sk_strategy, vals[n - 1], &lo, &hi);  // x < ANY(a) <=> x < max(a)
      } else {
        ok = apply_bound(sk->sk_strategy, vals[0], &lo, &hi);  // x > ANY(a) <=> x > min(a)
      }
      continue;
    }
    ok = apply_bound(sk->sk_strategy, learned_encode(sk->sk_argument, argtype), &lo, &hi);
  }
  so->nranges = 0;
  so->want_nulls = false;
  if (!ok || (null_only && (not_null || any_value_key))) return;
  if (null_only) {
    so->want_nulls = true;
    return;
  }
  so->want_nulls = !not_null && !any_value_key;
  if (npoints >= 0) {
    so->ranges = static_cast<Range*>(palloc(sizeof(Range) * Max(npoints, 1)));
    for (int i = 0; i < npoints; i++)
      if (points[i] >= lo && points[i] <= hi) so->ranges[so->nranges++] = Range{points[i], points[i]};
  } else {
    so->ranges = static_cast<Range*>(palloc(sizeof(Range)));
    so->ranges[0] = Range{lo, hi};
    so->nranges = 1;
  }
}

// ---- units ------------------------------------------------------------------------------------

Unit start_unit(Relation index, int range, uint64 key) {
  LearnedCache* cache = learned_get_cache(index);
  return Unit{kUnitValues, range, learned_start_leaf(cache, key), learned_leaf_map(cache->meta)};
}

Unit end_unit(Relation index, int range, uint64 key) {
  LearnedCache* cache = learned_get_cache(index);
  return Unit{kUnitValues, range, learned_target_leaf(cache, key), learned_leaf_map(cache->meta)};
}

bool first_unit(IndexScanDesc scan, ScanOpaque* so, Unit* u) {
  if (so->nranges > 0) {
    *u = start_unit(scan->indexRelation, 0, so->ranges[0].lo);
    return true;
  }
  *u = Unit{kUnitNulls, 0, 0, LearnedLeafMap{InvalidBlockNumber, 0, InvalidBlockNumber, 0}};
  return so->want_nulls;
}

bool last_unit(IndexScanDesc scan, ScanOpaque* so, Unit* u) {
  if (so->want_nulls) {
    *u = Unit{kUnitNulls, 0, 0, LearnedLeafMap{InvalidBlockNumber, 0, InvalidBlockNumber, 0}};
    return true;
  }
  if (so->nranges == 0) return false;
  int r = so->nranges - 1;
  *u = end_unit(scan->indexRelation, r, so->ranges[r].hi);
  return true;
}

// The unit after `c` (the unit loaded last), using its leaf's fences.
bool next_unit(IndexScanDesc scan, ScanOpaque* so, const UnitPos& c, Unit* u) {
  if (c.unit.kind == kUnitNulls) return false;
  if (!c.is_last && c.high_fence <= so->ranges[c.unit.range].hi) {
    *u = Unit{kUnitValues, c.unit.range, c.unit.leaf + 1, c.unit.map};
    return true;
  }
  if (c.unit.range + 1 < so->nranges) {
    *u = start_unit(scan->indexRelation, c.unit.range + 1, so->ranges[c.unit.range + 1].lo);
    return true;
  }
  *u = Unit{kUnitNulls, 0, 0, LearnedLeafMap{InvalidBlockNumber, 0, InvalidBlockNumber, 0}};
  return so->want_nulls;
}

bool prev_unit(IndexScanDesc scan, ScanOpaque* so, const UnitPos& c, Unit* u) {
  if (c.unit.kind == kUnitNulls) {
    if (so->nranges == 0) return false;
    int r = so->nranges - 1;
    *u = end_unit(scan->indexRelation, r, so->ranges[r].hi);
    return true;
  }
  if (c.unit.leaf > 0 && c.low_fence >= so->ranges[c.unit.range].lo) {
    *u = Unit{kUnitValues, c.unit.range, c.unit.leaf - 1, c.unit.map};
    return true;
  }
  if (c.unit.range > 0) {
    *u = end_unit(scan->indexRelation, c.unit.range - 1, so->ranges[c.unit.range - 1].hi);
    return true;
  }
  return false;
}

// Makes room for `more` items in the batch (grown in b->cxt, the current context).
void reserve_items(Batch* b, int* cap, int more) {
  if (b->nitems + more <= *cap) return;
  while (*cap < b->nitems + more) *cap *= 2;
  b->items = static_cast<ScanItem*>(repalloc_huge(b->items, sizeof(ScanItem) * *cap));
}

// Appends the items of an items page within [lo, hi] to the batch: the sorted prefix's matches
// are found by two binary searches and decoded in one run (they end at *sorted_end), the
// unsorted rest is filtered.
void copy_items(Page page, uint64 lo, uint64 hi, Batch* b, int* cap, int* sorted_end) {
  LearnedItemsHeader* h = learned_items_header(page);
  int nsorted = h->nsorted, n = h->nitems;
  int from = learned_sorted_lower_bound(page, lo);
  int to = hi == PG_UINT64_MAX ? nsorted : learned_sorted_lower_bound(page, hi + 1);
  reserve_items(b, cap, Max(to - from, 0) + (n - nsorted));
  ScanItem* out = b->items + b->nitems;
  learned_items_for_each(page, from, to, [&out](uint64 key, const ItemPointerData& tid) {
    *out++ = ScanItem{key, tid};
  });
  *sorted_end = static_cast<int>(out - b->items);
  learned_items_for_each(page, nsorted, n, [&](uint64 key, const ItemPointerData& tid) {
    if (key >= lo && key <= hi) *out++ = ScanItem{key, tid};
  });
  b->nitems = static_cast<int>(out - b->items);
}

// Orders the batch when items after its sorted run [0, run) exist (the leaf's unsorted tail and
// every overflow item: an overflow page's own sorted prefix is not ordered against the leaf):
// sorts the rest, usually small, and merges the two runs into a new array (in b->cxt).
void order_batch(Batch* b, int run) {
  int n = b->nitems;
  if (run >= n) return;
  std::sort(b->items + run, b->items + n, item_less);
  if (run == 0 || !item_less(b->items[run], b->items[run - 1])) return;  // already in order
  auto* merged = static_cast<ScanItem*>(MemoryContextAlloc(b->cxt, sizeof(ScanItem) * n));
  std::merge(b->items, b->items + run, b->items + run, b->items + n, merged, item_less);
  b->items = merged;
}

// Checks that a leaf/overflow page still belongs to the unit's generation and leaf. On a primary
// a retired generation stays intact while any snapshot could read it; a hot standby's queries are
// invisible to the primary, which may free and reuse those pages: that is reported as a
// serialization failure (retry), never answered from a reused page.
void check_unit_page(Relation index, Page page, BlockNumber blkno, LearnedPageKind kind, const Unit& u) {
  bool ok = !PageIsNew(page) && PageGetSpecialSize(page) == MAXALIGN(sizeof(LearnedSpecial)) &&
            learned_special(page)->page_id == kLearnedPageId && learned_special(page)->kind == kind &&
            learned_special(page)->generation == u.map.generation &&
            learned_items_header(page)->leaf_no == u.leaf;
  if (ok) return;
  if (RecoveryInProgress())
    ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                    errmsg("learned index \"%s\" was re-trained on the primary while this query read it",
                           RelationGetRelationName(index)),
                    errhint("Retry the query. hot_standby_feedback = on avoids this.")));
  learned_check_page(index, page, blkno, kind);
  ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                  errmsg("learned index \"%s\" block %u belongs to generation %u leaf %u, expected %u leaf %u",
                         RelationGetRelationName(index), blkno, learned_special(page)->generation,
                         learned_items_header(page)->leaf_no, u.map.generation, u.leaf),
                  errhint("REINDEX the index.")));
}

void load_leaf(Relation index, const Range& r, Batch* b) {
  const Unit& u = b->at.unit;
  int cap = 32;  // grows; point lookups copy few items
  b->items = static_cast<ScanItem*>(MemoryContextAlloc(b->cxt, sizeof(ScanItem) * cap));
  BlockNumber blkno = learned_leaf_block(index, u.map, u.leaf);
  Buffer buf = ReadBuffer(index, blkno);
  LockBuffer(buf, BUFFER_LOCK_SHARE);
  Page page = BufferGetPage(buf);
  check_unit_page(index, page, blkno, kPageLeaf, u);
  LearnedItemsHeader* h = learned_items_header(page);
  b->at.low_fence = h->low_fence;
  b->at.high_fence = h->high_fence;
  b->at.is_last = (h->flags & kLeafIsLast) != 0;
  MemoryContext old = MemoryContextSwitchTo(b->cxt);
  int run, ignored;
  copy_items(page, r.lo, r.hi, b, &cap, &run);
  for (BlockNumber next = h->next; next != InvalidBlockNumber;) {
    Buffer obuf = ReadBuffer(index, next);
    LockBuffer(obuf, BUFFER_LOCK_SHARE);
    Page opage = BufferGetPage(obuf);
    check_unit_page(index, opage, next, kPageOverflow, u);
    copy_items(opage, r.lo, r.hi, b, &cap, &ignored);
    next = learned_items_header(opage)->next;
    UnlockReleaseBuffer(obuf);
  }
  MemoryContextSwitchTo(old);
  UnlockReleaseBuffer(buf);
  order_batch(b, run);
}

void load_nulls(Relation index, Batch* b) {
  LearnedMeta meta;
  learned_read_meta(index, &meta);
  int cap = 32;  // grows; point lookups copy few items
  b->items = static_cast<ScanItem*>(MemoryContextAlloc(b->cxt, sizeof(ScanItem) * cap));
  MemoryContext old = MemoryContextSwitchTo(b->cxt);
  for (BlockNumber next = meta.null_head; next != InvalidBlockNumber;) {
    Buffer buf = ReadBuffer(index, next);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    learned_check_page(index, page, next, kPageNull);
    LearnedItemsHeader* h = learned_items_header(page);
    reserve_items(b, &cap, h->nitems);
    for (int i = 0; i < h->nitems; i++) b->items[b->nitems++] = ScanItem{0, learned_item_tid(page, i)};
    next = h->next;
    UnlockReleaseBuffer(buf);
  }
  MemoryContextSwitchTo(old);
}

// Loads unit `u` into so->cur. A mark in the current batch moves the batch to so->mark first.
void load_unit(IndexScanDesc scan, ScanOpaque* so, const Unit& u) {
  if (so->mark_state == kMarkInCur) {
    std::swap(so->cur, so->mark);
    so->mark_state = kMarkSaved;
  }
  Batch* b = &so->cur;
  MemoryContextReset(b->cxt);
  b->items = nullptr;
  b->nitems = 0;
  b->at.unit = u;
  if (u.kind == kUnitNulls) load_nulls(scan->indexRelation, b);
  else load_leaf(scan->indexRelation, so->ranges[u.range], b);
}

// The unit to load after `last` in `dir` (the first one when `last` is null); false at the end.
bool following_unit(IndexScanDesc scan, ScanOpaque* so, ScanDirection dir, const UnitPos* last, Unit* u) {
  if (ScanDirectionIsBackward(dir)) return last ? prev_unit(scan, so, *last, u) : last_unit(scan, so, u);
  return last ? next_unit(scan, so, *last, u) : first_unit(scan, so, u);
}

// A parallel scan's shared state: the participants take units in key order, one at a time. The
// one whose turn it is (kParBusy) finds the unit after `last`, copies it into its own batch and
// publishes it as `last`; the others wait on `cv`. Each participant thus returns an ordered
// subsequence (Gather Merge keeps ORDER BY). Every participant derives the same ranges from the
// same scan keys. A descent's generation (in `last.unit.map`) is shared, so all participants
// read one generation per range, which a re-train leaves intact while the query's snapshot lives.
enum ParState { kParNotStarted = 0, kParIdle, kParBusy, kParDone };

struct ParallelShared {
  slock_t mutex;
  ConditionVariable cv;
  ParState state;
  UnitPos last;  // the unit taken last (valid in kParIdle)
};

ParallelShared* parallel_shared(IndexScanDesc scan) {
  return reinterpret_cast<ParallelShared*>(OffsetToPointer(scan->parallel_scan, scan->parallel_scan->ps_offset));
}

// Takes the next unit of a parallel scan into so->cur; false when the scan is done.
bool parallel_advance(IndexScanDesc scan, ScanOpaque* so, ScanDirection dir) {
  ParallelShared* ps = parallel_shared(scan);
  ParState was;
  UnitPos last;
  for (;;) {
    SpinLockAcquire(&ps->mutex);
    was = ps->state;
    if (was != kParBusy) {
      if (was != kParDone) ps->state = kParBusy;
      last = ps->last;
      SpinLockRelease(&ps->mutex);
      break;
    }
    SpinLockRelease(&ps->mutex);
    ConditionVariableSleep(&ps->cv, PG_WAIT_EXTENSION);
  }
  ConditionVariableCancelSleep();
  if (was == kParDone) return false;
  Unit u;
  bool any = following_unit(scan, so, dir, was == kParNotStarted ? nullptr : &last, &u);
  if (any) load_unit(scan, so, u);
  SpinLockAcquire(&ps->mutex);
  ps->state = any ? kParIdle : kParDone;
  if (any) ps->last = so->cur.at;
  SpinLockRelease(&ps->mutex);
  ConditionVariableBroadcast(&ps->cv);
  return any;
}

// Loads the next unit in `dir` into so->cur (the first one when `first`); false at the end.
bool advance(IndexScanDesc scan, ScanOpaque* so, ScanDirection dir, bool first) {
  if (scan->parallel_scan != nullptr) return parallel_advance(scan, so, dir);
  Unit u;
  if (!following_unit(scan, so, dir, first ? nullptr : &so->cur.at, &u)) return false;
  load_unit(scan, so, u);
  return true;
}

// Moves to the next item in `dir`; false at the end.
bool step(IndexScanDesc scan, ScanOpaque* so, ScanDirection dir) {
  if (!so->started) {
    so->started = true;
    // One index scan for pg_stat_*_indexes.idx_scan per start (rescan), in every participant of
    // a parallel scan, for index, index-only and bitmap scans alike, as btree's _bt_first counts.
    pgstat_count_index_scan(scan->indexRelation);
    if (!advance(scan, so, dir, true)) {
      so->empty = true;
      return false;
    }
    so->pos = ScanDirectionIsBackward(dir) ? so->cur.nitems : -1;
  }
  if (so->empty) return false;
  if (ScanDirectionIsBackward(dir)) {
    so->pos--;
    while (so->pos < 0) {
      if (!advance(scan, so, dir, false)) {
        so->pos = -1;
        return false;
      }
      so->pos = so->cur.nitems - 1;
    }
  } else {
    so->pos++;
    while (so->pos >= so->cur.nitems) {
      if (!advance(scan, so, dir, false)) {
        so->pos = so->cur.nitems;
        return false;
      }
      so->pos = 0;
    }
  }
  return true;
}

// Forms the index-only scan tuples (a value, and NULL) once per scan, in tuple_cxt.
void form_itups(ScanOpaque* so, TupleDesc desc) {
  Assert(TupleDescAttr(desc, 0)->attbyval && TupleDescAttr(desc, 0)->attlen > 0);
  MemoryContext old = MemoryContextSwitchTo(so->tuple_cxt);
  Datum value = (Datum)0;
  bool isnull = true;
  so->null_itup = index_form_tuple(desc, &value, &isnull);
  isnull = false;
  so->value_itup = index_form_tuple(desc, &value, &isnull);
  so->value_data = reinterpret_cast<char*>(so->value_itup) + IndexInfoFindDataOffset(so->value_itup->t_info);
  MemoryContextSwitchTo(old);
}

}  // namespace

extern "C" IndexScanDesc learned_beginscan(Relation index, int nkeys, int norderbys) {
  IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
  auto* so = static_cast<ScanOpaque*>(palloc0(sizeof(ScanOpaque)));
  so->cur.cxt = AllocSetContextCreate(CurrentMemoryContext, "learned scan batch", ALLOCSET_SMALL_SIZES);
  so->mark.cxt = AllocSetContextCreate(CurrentMemoryContext, "learned scan batch", ALLOCSET_SMALL_SIZES);
  so->tuple_cxt = AllocSetContextCreate(CurrentMemoryContext, "learned scan tuple", ALLOCSET_SMALL_SIZES);
  so->keys_cxt = AllocSetContextCreate(CurrentMemoryContext, "learned scan keys", ALLOCSET_SMALL_SIZES);
  so->type = index->rd_opcintype[0];
  so->attlen = TupleDescAttr(RelationGetDescr(index), 0)->attlen;
  scan->opaque = so;
  return scan;
}

extern "C" void learned_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey, int) {
  auto* so = static_cast<ScanOpaque*>(scan->opaque);
  if (keys && scan->numberOfKeys > 0)
    memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
  (void)nkeys;
  for (Batch* b : {&so->cur, &so->mark}) {
    MemoryContextReset(b->cxt);
    b->items = nullptr;
    b->nitems = 0;
  }
  so->mark_state = kNoMark;
  so->started = false;
  so->empty = false;
  MemoryContextReset(so->keys_cxt);
  so->ranges = nullptr;
  MemoryContext old = MemoryContextSwitchTo(so->keys_cxt);
  setup_ranges(scan, so);
  MemoryContextSwitchTo(old);
}

extern "C" bool learned_gettuple(IndexScanDesc scan, ScanDirection dir) {
  auto* so = static_cast<ScanOpaque*>(scan->opaque);
  // The common case, the next item of the loaded batch, without step()'s unit logic.
  if (likely(so->started && ScanDirectionIsForward(dir) && so->pos + 1 < so->cur.nitems)) {
    so->pos++;
  } else if (!step(scan, so, dir)) {
    return false;
  }
  const ScanItem& it = so->cur.items[so->pos];
  scan->xs_heaptid = it.tid;
  scan->xs_recheck = false;
  if (scan->xs_want_itup) {
    if (so->value_itup == nullptr) {
      form_itups(so, RelationGetDescr(scan->indexRelation));
      scan->xs_itupdesc = RelationGetDescr(scan->indexRelation);
    }
    if (so->cur.at.unit.kind == kUnitNulls) {
      scan->xs_itup = so->null_itup;
    } else {
      // The one column is a fixed-length by-value type (learned_type_decodable), whose value is
      // the key's int64 narrowed to attlen: overwrite it in place instead of forming a tuple.
      Datum value = Int64GetDatum(omen::key::to_int64(it.key));
      Assert(so->attlen == 8 ? value == learned_decode(it.key, so->type)
                             : DatumGetInt32(value) == DatumGetInt32(learned_decode(it.key, so->type)));
      store_att_byval(so->value_data, value, so->attlen);
      scan->xs_itup = so->value_itup;
    }
  }
  return true;
}

extern "C" int64 learned_getbitmap(IndexScanDesc scan, TIDBitmap* tbm) {
  auto* so = static_cast<ScanOpaque*>(scan->opaque);
  int64 count = 0;
  ItemPointerData tids[256];
  // Whole batches at a time: step() to the first item of each unit, add the unit's TIDs in
  // arrays (one tbm_add_tuples call per 256).
  while (step(scan, so, ForwardScanDirection)) {
    const Batch& b = so->cur;
    for (int i = so->pos; i < b.nitems;) {
      int n = Min(b.nitems - i, static_cast<int>(lengthof(tids)));
      for (int j = 0; j < n; j++) tids[j] = b.items[i + j].tid;
      tbm_add_tuples(tbm, tids, n, false);
      i += n;
    }
    count += b.nitems - so->pos;
    so->pos = b.nitems - 1;
  }
  return count;
}

// ammarkpos: remembers the current item. Free while the scan stays in this batch (load_unit
// moves a marked batch aside before it loads another).
extern "C" void learned_markpos(IndexScanDesc scan) {
  auto* so = static_cast<ScanOpaque*>(scan->opaque);
  if (!so->started) {
    so->mark_state = kMarkBeforeStart;
    return;
  }
  so->mark_state = kMarkInCur;
  so->mark_pos = so->pos;
}

// amrestrpos: back to the marked item; the mark stays valid for another restore.
extern "C" void learned_restrpos(IndexScanDesc scan) {
  auto* so = static_cast<ScanOpaque*>(scan->opaque);
  switch (so->mark_state) {
    case kNoMark:
      elog(ERROR, "learned index: restore without a mark");
      break;
    case kMarkBeforeStart:
      so->started = false;
      so->empty = false;
      break;
    case kMarkSaved:
      std::swap(so->cur, so->mark);
      so->mark_state = kMarkInCur;
      so->pos = so->mark_pos;
      break;
    case kMarkInCur:
      so->pos = so->mark_pos;
      break;
  }
}

extern "C" Size learned_estimateparallelscan(void) { return sizeof(ParallelShared); }

extern "C" void learned_initparallelscan(void* target) {
  auto* ps = static_cast<ParallelShared*>(target);
  SpinLockInit(&ps->mutex);
  ConditionVariableInit(&ps->cv);
  ps->state = kParNotStarted;
}

// Called by the leader alone, with no worker running.
extern "C" void learned_parallelrescan(IndexScanDesc scan) {
  ParallelShared* ps = parallel_shared(scan);
  SpinLockAcquire(&ps->mutex);
  ps->state = kParNotStarted;
  SpinLockRelease(&ps->mutex);
}

extern "C" void learned_endscan(IndexScanDesc scan) {
  auto* so = static_cast<ScanOpaque*>(scan->opaque);
  MemoryContextDelete(so->cur.cxt);
  MemoryContextDelete(so->mark.cxt);
  MemoryContextDelete(so->tuple_cxt);
  MemoryContextDelete(so->keys_cxt);
  pfree(so);
}
