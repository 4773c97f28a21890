// Scans of the `learned` index: the entry points (ambeginscan .. amendscan, amgettuple in both
// directions and index-only, amgetbitmap, mark/restore) and stepping through the units' batches
// (learned_scan.h has the design).
#include "learned_scan.h"
#include "learned_sparse.h"

#include <omen/key.h>

extern "C" {
#include "access/itup.h"
#include "access/relscan.h"
#include "access/table.h"
#include "storage/bufmgr.h"
#include "access/tupmacs.h"
#include "nodes/tidbitmap.h"
#include "pgstat.h"
#include "utils/memutils.h"
}

using namespace learned_scan;

namespace {

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
  so->exact = omen_key_type_exact(so->type);
  so->attlen = TupleDescAttr(RelationGetDescr(index), 0)->attlen;
  scan->opaque = so;
  return scan;
}

extern "C" void learned_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey, int) {
  auto* so = static_cast<ScanOpaque*>(scan->opaque);
  if (keys && scan->numberOfKeys > 0) memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
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
  } else {
    if (!so->started && !so->exceptions_only && learned_is_sparse(scan->indexRelation))
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("sparse learned index \"%s\" serves bitmap scans only",
                             RelationGetRelationName(scan->indexRelation)),
                      errhint("Its fences name heap blocks, not rows in key order: use a bitmap scan, or a "
                              "dense learned index (or btree) for ordered and index-only scans.")));
    if (!step(scan, so, dir)) return false;
  }
  const ScanItem& it = so->cur.items[so->pos];
  scan->xs_heaptid = it.tid;
  scan->xs_recheck = !so->exact;
  if (scan->xs_want_itup) {
    if (so->value_itup == nullptr) {
      form_itups(so, RelationGetDescr(scan->indexRelation));
      scan->xs_itupdesc = RelationGetDescr(scan->indexRelation);
    }
    if (so->cur.at.unit.kind == kUnitNulls) {
      scan->xs_itup = so->null_itup;
    } else {
      // The one column is a fixed-length by-value type (omen_key_type_decodable), whose value is
      // the key's int64 narrowed to attlen: overwrite it in place instead of forming a tuple.
      Datum value = Int64GetDatum(omen::key::to_int64(it.key));
      Assert(so->attlen == 8 ? value == omen_key_decode(it.key, so->type)
                             : DatumGetInt32(value) == DatumGetInt32(omen_key_decode(it.key, so->type)));
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
  // Sparse: every exception is rechecked (learned_sparse_build.cpp: an entry may hold the key of a
  // HOT chain's version that is not the visible one); so is every TID of an inexact key type.
  bool sparse = learned_is_sparse(scan->indexRelation), recheck = sparse || !so->exact;
  // Whole batches at a time: step() to the first item of each unit, add the unit's TIDs in
  // arrays (one tbm_add_tuples call per 256).
  while (step(scan, so, ForwardScanDirection)) {
    const Batch& b = so->cur;
    for (int i = so->pos; i < b.nitems;) {
      int n = Min(b.nitems - i, static_cast<int>(lengthof(tids)));
      for (int j = 0; j < n; j++) tids[j] = b.items[i + j].tid;
      tbm_add_tuples(tbm, tids, n, recheck);
      i += n;
    }
    count += b.nitems - so->pos;
    so->pos = b.nitems - 1;
  }
  // Sparse layout: the rows above are the exceptions; the rows within their blocks' ranges are in
  // the blocks whose ranges meet each key range.
  Relation index = scan->indexRelation;
  if (so->nranges == 0 || !sparse) return count;
  // The cache step() read for this scan (first_unit read the metapage, after the scan's snapshot
  // was taken: the ranges of every row that snapshot sees are in it), not read again.
  const LearnedCache* cache = learned_layout_cache(index);
  Relation heap = table_open(index->rd_index->indrelid, NoLock);  // the scan holds its lock
  BlockNumber nblocks = RelationGetNumberOfBlocks(heap);
  for (int r = 0; r < so->nranges; r++)
    count += sparse_add_blocks(index, heap, nblocks, cache, so->ranges[r].lo, so->ranges[r].hi, tbm);
  table_close(heap, NoLock);
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

void learned_scan_exceptions_only(IndexScanDesc scan) {
  static_cast<ScanOpaque*>(scan->opaque)->exceptions_only = true;
}

uint64 learned_scan_current_key(IndexScanDesc scan, bool* null) {
  auto* so = static_cast<ScanOpaque*>(scan->opaque);
  *null = so->cur.at.unit.kind == kUnitNulls;
  return so->cur.items[so->pos].key;
}

extern "C" void learned_endscan(IndexScanDesc scan) {
  auto* so = static_cast<ScanOpaque*>(scan->opaque);
  MemoryContextDelete(so->cur.cxt);
  MemoryContextDelete(so->mark.cxt);
  MemoryContextDelete(so->tuple_cxt);
  MemoryContextDelete(so->keys_cxt);
  pfree(so);
}
