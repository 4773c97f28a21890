// Re-fitting a sparse learned index's block ranges (docs/index-am.md, "Sparse layout"), as part of
// a re-train (learned_retrain.cpp: VACUUM when the entries doubled since the last fit, or the tail
// of appended ranges grew long; omendb_index_retrain). The re-train holds kLearnedRetrainLock, so
// no exception insert or append runs; rows that fit need no lock and may be inserted meanwhile.
//
// Ranges only widen. A range absorbs its block's exceptions that lie within its slack (its own
// width, at least the median width of the closed ranges) below its low or above its high; farther
// ones (a row from another era in an old block's free space) stay exceptions, since a range that
// wide would make every lookup between read that block. Widening keeps every row that fitted the
// old ranges fitting, which is what makes the swap safe with no lock on the inserts that check a
// closed range (or an open one, under the metapage's share lock) against the old ranges: what they
// found fitting still fits. Lows and highs stay non-decreasing (a forward pass raises highs, a
// backward pass lowers lows: both widen). The new generation stores the closed ranges as the
// build's encoded stream and the open ones (a suffix, at most kSparseOpenWindow) on one tail page,
// so a long tail of appended (low, high) pairs is compacted too.
#include "learned_items.h"
#include "learned_sparse.h"

#include <algorithm>

extern "C" {
#include "storage/bufmgr.h"
}

struct SparseRefit {
  uint32 n;                 // ranges: heap blocks 0 .. n-1
  uint32 open_from;         // [open_from, n) are open, and stay open
  uint64 *lows, *highs;     // the old ranges, widened by sparse_refit_finish
  uint64 *ext_lo, *ext_hi;  // per block: the farthest exceptions within its slack
  uint64 median;            // median width of the closed ranges
};

namespace {

uint64* alloc_keys(uint32 n, uint64 fill) {
  auto* a = static_cast<uint64*>(palloc_extended(sizeof(uint64) * Max(n, 1), MCXT_ALLOC_HUGE));
  for (uint32 i = 0; i < n; i++) a[i] = fill;
  return a;
}

uint64 slack(const SparseRefit* r, uint32 b) {
  // An open range has no width; an empty block's range may be inverted ([next low, previous high]).
  uint64 width = b < r->open_from && r->highs[b] > r->lows[b] ? r->highs[b] - r->lows[b] : 0;
  return Max(Max(width, r->median), 1);
}

}  // namespace

SparseRefit* sparse_refit_begin(Relation index) {
  const LearnedCache* cache = learned_get_cache(index);
  auto* r = static_cast<SparseRefit*>(palloc0(sizeof(SparseRefit)));
  r->n = cache->nranges;
  r->open_from = cache->open_from;
  r->lows = alloc_keys(r->n, 0);
  r->highs = alloc_keys(r->n, 0);
  memcpy(r->lows, cache->lows, sizeof(uint64) * r->n);
  memcpy(r->highs, cache->highs, sizeof(uint64) * r->n);
  r->ext_lo = alloc_keys(r->n, PG_UINT64_MAX);
  r->ext_hi = alloc_keys(r->n, 0);
  uint64* widths = alloc_keys(r->n, 0);
  uint32 nw = 0;
  for (uint32 b = 0; b < r->n; b++)
    if (b < r->open_from && r->highs[b] > r->lows[b]) widths[nw++] = r->highs[b] - r->lows[b];
  if (nw > 0) {
    std::nth_element(widths, widths + nw / 2, widths + nw);
    r->median = widths[nw / 2];
  }
  pfree(widths);
  return r;
}

void sparse_refit_note(SparseRefit* r, uint64 key, const ItemPointerData* tid) {
  BlockNumber b = ItemPointerGetBlockNumber(tid);
  if (b >= r->n) return;
  uint64 s = slack(r, b);
  if (key < r->lows[b] && r->lows[b] - key <= s) r->ext_lo[b] = Min(r->ext_lo[b], key);
  if (key > r->highs[b] && key - r->highs[b] <= s) r->ext_hi[b] = Max(r->ext_hi[b], key);
}

void sparse_refit_finish(SparseRefit* r) {
  for (uint32 b = 0; b < r->n; b++) {
    r->lows[b] = Min(r->lows[b], r->ext_lo[b]);
    r->highs[b] = Max(r->highs[b], r->ext_hi[b]);
    if (b > 0) r->highs[b] = Max(r->highs[b], r->highs[b - 1]);
  }
  for (uint32 b = r->n; b-- > 1;) r->lows[b - 1] = Min(r->lows[b - 1], r->lows[b]);
}

bool sparse_refit_fits(const SparseRefit* r, uint64 key, const ItemPointerData* tid) {
  BlockNumber b = ItemPointerGetBlockNumber(tid);
  return b < r->n && key >= r->lows[b] && key <= r->highs[b];
}

void sparse_refit_write(Relation index, const SparseRefit* r, LearnedMeta* gen) {
  uint32 nclosed = r->open_from;
  uint64* fences = alloc_keys(2 * nclosed, 0);
  memcpy(fences, r->lows, sizeof(uint64) * nclosed);
  memcpy(fences + nclosed, r->highs, sizeof(uint64) * nclosed);
  Page image = static_cast<Page>(palloc(BLCKSZ));
  sparse_write_fences(index, gen, fences, nclosed, image);
  pfree(fences);
  gen->tail_n = r->n - nclosed;
  gen->open_n = gen->tail_n;
  gen->tail_head = gen->tail_last = InvalidBlockNumber;
  // The build's last range is closed at its high rounded up as the stream stores it (the one
  // before it reads back rounded up: an exact high here could be below it).
  uint64 round_up = (uint64{1} << gen->fence_shift) - 1;  // fence_shift <= 62
  gen->build_last_high = nclosed > 0 && gen->tail_n > 0 ? r->highs[nclosed - 1] | round_up : PG_UINT64_MAX;
  if (gen->tail_n > 0)
    gen->tail_head = gen->tail_last = sparse_write_tail_page(index, gen->generation, r->lows + nclosed,
                                                             r->highs + nclosed, gen->tail_n, image);
  pfree(image);
  omen_log_new_pages(index, MAIN_FORKNUM, gen->fence_start, RelationGetNumberOfBlocks(index));
}

void sparse_refit_install(LearnedMeta* m, const LearnedMeta& gen, const LearnedMeta& old) {
  m->nfences = gen.nfences;
  m->fence_start = gen.fence_start;
  m->fence_pages = gen.fence_pages;
  m->fence_bytes = gen.fence_bytes;
  m->fence_shift = gen.fence_shift;
  m->build_last_high = gen.build_last_high;
  m->tail_head = gen.tail_head;
  m->tail_last = gen.tail_last;
  m->tail_n = gen.tail_n;
  m->open_n = gen.open_n;
  m->tail_gen = old.tail_gen + 1;
  m->fit_entries = gen.fit_entries;
  m->refits = old.refits + 1;
  m->retired_fence_start = old.fence_start;
  m->retired_fence_pages = old.fence_pages;
  m->retired_tail_head = old.tail_head;
}

void sparse_free_retired(Relation index, const LearnedMeta& meta, void (*free_page)(Relation, BlockNumber)) {
  for (uint32 p = 0; p < meta.retired_fence_pages; p++) free_page(index, meta.retired_fence_start + p);
  BlockNumber blkno = meta.retired_tail_head;
  while (blkno != InvalidBlockNumber && blkno != kLearnedMetaBlock) {
    BlockNumber next = sparse_tail_next(index, blkno);
    free_page(index, blkno);
    blkno = next;
  }
}
