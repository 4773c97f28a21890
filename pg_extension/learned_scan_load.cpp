// Units of a `learned` index scan (learned_scan.h): which unit comes next in either direction, and
// loading one into a batch (its leaf's and overflow chain's items within the range, in (key, TID)
// order; or the null chain).
#include "learned_scan.h"
#include "learned_items.h"

#include <algorithm>

extern "C" {
#include "access/xlog.h"
#include "utils/memutils.h"
}

namespace learned_scan {

namespace {

bool item_less(const ScanItem& a, const ScanItem& b) {
  if (a.key != b.key) return a.key < b.key;
  BlockNumber ab = ItemPointerGetBlockNumberNoCheck(&a.tid), bb = ItemPointerGetBlockNumberNoCheck(&b.tid);
  if (ab != bb) return ab < bb;
  return ItemPointerGetOffsetNumberNoCheck(&a.tid) < ItemPointerGetOffsetNumberNoCheck(&b.tid);
}

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
  if (RecoveryInProgress()) learned_retrained_on_primary(index);
  learned_check_page(index, page, blkno, kind);
  ereport(ERROR,
          (errcode(ERRCODE_INDEX_CORRUPTED),
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
  LearnedChain c = learned_chain_begin(index, h->next, kPageOverflow, BUFFER_LOCK_SHARE, false);
  while (learned_chain_next(&c)) {
    check_unit_page(index, c.page, c.blkno, kPageOverflow, u);
    copy_items(c.page, r.lo, r.hi, b, &cap, &ignored);
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
  LearnedChain c = learned_chain_begin(index, meta.null_head, kPageNull, BUFFER_LOCK_SHARE);
  while (learned_chain_next(&c)) {
    LearnedItemsHeader* h = learned_items_header(c.page);
    reserve_items(b, &cap, h->nitems);
    for (int i = 0; i < h->nitems; i++) b->items[b->nitems++] = ScanItem{0, learned_item_tid(c.page, i)};
  }
  MemoryContextSwitchTo(old);
}

}  // namespace

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
  if (u.kind == kUnitNulls)
    load_nulls(scan->indexRelation, b);
  else
    load_leaf(scan->indexRelation, so->ranges[u.range], b);
}

bool following_unit(IndexScanDesc scan, ScanOpaque* so, ScanDirection dir, const UnitPos* last, Unit* u) {
  if (ScanDirectionIsBackward(dir)) return last ? prev_unit(scan, so, *last, u) : last_unit(scan, so, u);
  return last ? next_unit(scan, so, *last, u) : first_unit(scan, so, u);
}

}  // namespace learned_scan
