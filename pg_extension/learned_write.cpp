// Writing a generation of a `learned` index (learned_write.h).
#include "learned_write.h"

extern "C" {
#include "access/xloginsert.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/backend_progress.h"
}

namespace leaf = omen::leaf;

void learned_extend_page(Relation index, ForkNumber fork, Page image, BlockNumber expect) {
  bool need_lock = !RELATION_IS_LOCAL(index);
  if (need_lock) LockRelationForExtension(index, ExclusiveLock);
  Buffer buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, nullptr);
  if (need_lock) UnlockRelationForExtension(index, ExclusiveLock);
  LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
  if (BufferGetBlockNumber(buf) != expect)
    elog(ERROR, "learned index \"%s\": new block %u, expected %u", RelationGetRelationName(index),
         BufferGetBlockNumber(buf), expect);
  memcpy(BufferGetPage(buf), image, BLCKSZ);
  MarkBufferDirty(buf);
  UnlockReleaseBuffer(buf);
}

void learned_overwrite_page(Relation index, BlockNumber blkno, Page image) {
  learned_put_page(index, MAIN_FORKNUM, image, blkno);
}

void learned_put_page(Relation index, ForkNumber fork, Page image, BlockNumber blkno) {
  if (blkno >= RelationGetNumberOfBlocksInFork(index, fork)) {
    learned_extend_page(index, fork, image, blkno);
    return;
  }
  Buffer buf = ReadBufferExtended(index, fork, blkno, RBM_NORMAL, nullptr);
  LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
  memcpy(BufferGetPage(buf), image, BLCKSZ);
  MarkBufferDirty(buf);
  UnlockReleaseBuffer(buf);
}

void learned_log_new_pages(Relation index, ForkNumber fork, BlockNumber start, BlockNumber end) {
  if (start < end && (fork == INIT_FORKNUM || RelationNeedsWAL(index)))
    log_newpage_range(index, fork, start, end, true);
}

uint32 learned_write_model_pages(Relation index, ForkNumber fork, const char* bytes, Size nbytes,
                                 BlockNumber start, uint32 generation, Page image) {
  uint32 pages = 0;
  for (Size done = 0; done < nbytes; done += kLearnedModelBytesPerPage, pages++) {
    Size chunk = Min(kLearnedModelBytesPerPage, nbytes - done);
    learned_init_page(image, kPageModel, generation);
    memcpy(learned_model_bytes(image), bytes + done, chunk);
    ((PageHeader)image)->pd_lower =
        static_cast<LocationIndex>(learned_model_bytes(image) + chunk - reinterpret_cast<char*>(image));
    learned_put_page(index, fork, image, start + pages);
  }
  return pages;
}

void learned_init_meta_page(Page image, const LearnedMeta& meta) {
  learned_init_page(image, kPageMeta, meta.generation);
  memcpy(learned_meta(image), &meta, sizeof meta);
  ((PageHeader)image)->pd_lower = static_cast<LocationIndex>(
      reinterpret_cast<char*>(learned_meta(image)) + sizeof meta - reinterpret_cast<char*>(image));
}

namespace {

// Pairs per batch handed to the core (training, training error).
constexpr Size kBatch = 1024;

// TID widths of a generation: enough bits for every TID written, plus one block bit so that
// inserts keep fitting until the heap doubles (a TID that does not fit goes to the overflow
// chain, whose pages are wide).
leaf::Widths tid_widths(const LearnedPairs* pairs) {
  leaf::Widths w = leaf::wide_widths(0, true);
  if (pairs->n == 0) return w;
  w.block_bits = Min(32u, leaf::bits_for(pairs->max_block) + 1);
  w.offset_bits = leaf::bits_for(pairs->max_offset);
  return w;
}

// Widths of a leaf whose keys run from `low` (its first key) to `top` (the next leaf's first key,
// or its own last key for the last leaf). Keys are stored relative to the low fence, in the bits
// the fence range needs, so every key an insert routes to the leaf fits. Exceptions: leaf 0
// (fence 0) is relative to its first key and the last leaf (fence +inf) covers its last key; with
// `headroom`, each of them also takes keys as far beyond as its own range spans (one more bit).
// Keys outside go to the overflow chain.
leaf::Widths leaf_widths(uint64 low, uint64 top, bool first, bool last, const leaf::Widths& tids, bool headroom) {
  leaf::Widths w = tids;
  if (headroom && first) low -= Min(low, top - low);
  if (headroom && last) top += Min(PG_UINT64_MAX - top, top - low);
  w.key_base = low;
  w.key_bits = leaf::bits_for(top - low);
  return w;
}

Size fill_of(uint16 capacity, int fillfactor) {
  return Max(static_cast<Size>(1), static_cast<Size>(capacity) * fillfactor / 100);
}

// True when `count` items from `low` to `top` (as in leaf_widths) fill a leaf to at most fillfactor.
bool leaf_fits(Size count, uint64 low, uint64 top, const leaf::Widths& tids, int fillfactor) {
  return count <= fill_of(learned_items_capacity(leaf_widths(low, top, false, false, tids, false)), fillfactor);
}

// leaf_cap candidates: every cap <= lo fits whatever the keys (a leaf of 64 key bits holds that
// many); none above hi can (a leaf of 0 key bits holds no more).
void leaf_cap_range(const leaf::Widths& tids, int fillfactor, Size* lo, Size* hi) {
  leaf::Widths w = tids;
  w.key_bits = 0;
  *hi = fill_of(learned_items_capacity(w), fillfactor);
  w.key_bits = 64;
  *lo = Min(*hi, fill_of(learned_items_capacity(w), fillfactor));
}

// The largest cap in [lo, hi] for which fits(cap) holds, by binary search (fits(lo) is true).
// Both paths use this same search, so they choose the same leaf_cap.
template <class Fits>
Size search_leaf_cap(Size lo, Size hi, Fits fits) {
  while (lo < hi) {
    Size mid = lo + (hi - lo + 1) / 2;
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// In memory: true when every leaf of `cap` positions over keys[0..n) fits.
bool leaf_cap_fits(const uint64* keys, Size n, Size cap, const leaf::Widths& tids, int fillfactor) {
  for (Size start = 0; start < n; start += cap) {
    Size end = Min(n, start + cap);
    if (!leaf_fits(end - start, keys[start], end == n ? keys[end - 1] : keys[end], tids, fillfactor)) return false;
  }
  return true;
}

// Streaming: whether each candidate cap in (lo, hi] fits, decided in one pass over the sorted
// keys. Candidate c needs the keys at positions 0, c, 2c, ...: a calendar of hi + 1 slots
// (position mod hi + 1) lists the candidates due at each position; a due candidate checks the
// leaf it closes and is filed again c positions ahead, or dropped when that leaf does not fit.
// About n * ln(hi / lo) checks in all, each a few instructions.
struct CapCalendar {
  Size lo, hi, slots;
  uint64* start_key;  // per candidate (index c - lo - 1): first key of its open leaf
  Size* start_pos;    // ... and its position
  bool* fits;
  int32* next;        // per candidate: next in its slot's list
  int32* head;        // per slot: first candidate due there, -1 if none
  Size slot, pos;
  uint64 last_key;
  leaf::Widths tids;
  int fillfactor;
};

void calendar_init(CapCalendar* c, Size lo, Size hi, const leaf::Widths& tids, int fillfactor) {
  Size m = hi - lo;
  c->lo = lo;
  c->hi = hi;
  c->slots = hi + 1;
  c->start_key = static_cast<uint64*>(palloc(Max(m, 1) * sizeof(uint64)));
  c->start_pos = static_cast<Size*>(palloc(Max(m, 1) * sizeof(Size)));
  c->fits = static_cast<bool*>(palloc(Max(m, 1) * sizeof(bool)));
  c->next = static_cast<int32*>(palloc(Max(m, 1) * sizeof(int32)));
  c->head = static_cast<int32*>(palloc(c->slots * sizeof(int32)));
  for (Size s = 0; s < c->slots; s++) c->head[s] = -1;
  for (Size j = 0; j < m; j++) {  // all due at position 0
    c->fits[j] = true;
    c->next[j] = j + 1 < m ? static_cast<int32>(j + 1) : -1;
  }
  if (m > 0) c->head[0] = 0;
  c->slot = c->pos = 0;
  c->last_key = 0;
  c->tids = tids;
  c->fillfactor = fillfactor;
}

inline void calendar_add(CapCalendar* c, uint64 key) {
  int32 j = c->head[c->slot];
  if (j >= 0) {
    c->head[c->slot] = -1;
    while (j >= 0) {
      int32 after = c->next[j];
      Size cap = c->lo + 1 + j;
      if (c->pos > 0 && !leaf_fits(cap, c->start_key[j], key, c->tids, c->fillfactor)) {
        c->fits[j] = false;
      } else {
        c->start_key[j] = key;
        c->start_pos[j] = c->pos;
        Size s = (c->slot + cap) % c->slots;
        c->next[j] = c->head[s];
        c->head[s] = j;
      }
      j = after;
    }
  }
  c->last_key = key;
  c->pos++;
  if (++c->slot == c->slots) c->slot = 0;
}

// After the last key: checks each candidate's last leaf. REQUIRES: at least one key.
void calendar_finish(CapCalendar* c) {
  for (Size j = 0; j < c->hi - c->lo; j++)
    if (c->fits[j] && !leaf_fits(c->pos - c->start_pos[j], c->start_key[j], c->last_key, c->tids, c->fillfactor))
      c->fits[j] = false;
}

// True when block `blkno` holds nothing: a page freed by VACUUM or by freeing a retired generation
// (kind free), or a never-initialized one.
bool page_is_free(Relation index, BlockNumber blkno, BufferAccessStrategy strategy) {
  Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
  LockBuffer(buf, BUFFER_LOCK_SHARE);
  bool free = learned_page_is_free(BufferGetPage(buf));
  UnlockReleaseBuffer(buf);
  return free;
}

// Where a re-train puts a generation of `n` contiguous pages: the first run of n free pages, else
// the run of free pages that ends the relation (extended), else the end. Claimed pages leave the
// FSM. REQUIRES: the re-train lock (no other backend frees or takes pages meanwhile). Free pages
// are safe to overwrite: a retired generation is freed only when no snapshot can read it any more
// (learned_reclaim_retired), and a chain page VACUUM frees is unlinked first.
BlockNumber claim_free_run(Relation index, Size n) {
  BlockNumber nblocks = RelationGetNumberOfBlocks(index);
  BufferAccessStrategy strategy = GetAccessStrategy(BAS_BULKREAD);
  BlockNumber run = InvalidBlockNumber, found = InvalidBlockNumber;
  Size len = 0;
  for (BlockNumber b = kLearnedMetaBlock + 1; b < nblocks && found == InvalidBlockNumber; b++) {
    CHECK_FOR_INTERRUPTS();
    if (!page_is_free(index, b, strategy)) {
      len = 0;
      continue;
    }
    if (len++ == 0) run = b;
    if (len == n) found = run;
  }
  FreeAccessStrategy(strategy);
  if (found == InvalidBlockNumber) found = len > 0 ? run : nblocks;  // a trailing run, or the end
  for (BlockNumber b = found; b < nblocks && b < found + n; b++) RecordUsedIndexPage(index, b);
  return found;
}

// Writes the leaves of a generation from its sorted pairs, one leaf at a time: a leaf is written
// once the first key of the next one (its high fence) is known.
struct LeafWriter {
  Relation index;
  const LearnedMeta* meta;
  leaf::Widths tids;
  Size cap;
  int fillfactor;
  Page image;
  uint64* keys;  // the open leaf's items, at most cap
  ItemPointerData* tidbuf;
  Size nbuf;
  uint32 leaf;   // the open leaf's number
  uint64* fences;
};

void writer_flush(LeafWriter* w, bool last, uint64 next_key) {
  uint32 i = w->leaf;
  leaf::Widths wd = leaf::wide_widths(0, true);  // no keys at all: one empty leaf
  if (w->nbuf > 0) {
    uint64 top = last ? w->keys[w->nbuf - 1] : next_key;
    // Headroom below leaf 0 and above the last leaf when it costs no capacity leaf_cap needs.
    wd = leaf_widths(w->keys[0], top, i == 0, last, w->tids, true);
    if (w->nbuf > fill_of(learned_items_capacity(wd), w->fillfactor))
      wd = leaf_widths(w->keys[0], top, i == 0, last, w->tids, false);
  }
  learned_init_items_page(w->image, kPageLeaf, w->meta->generation, wd);
  LearnedItemsHeader* h = learned_items_header(w->image);
  h->leaf_no = i;
  h->low_fence = i == 0 ? 0 : w->keys[0];
  h->high_fence = last ? PG_UINT64_MAX : next_key;
  if (last) h->flags |= kLeafIsLast;
  for (Size p = 0; p < w->nbuf; p++) {
    if (!learned_items_can_append(w->image, w->keys[p], &w->tidbuf[p]))
      elog(ERROR, "learned index \"%s\": leaf %u cannot hold its items", RelationGetRelationName(w->index), i);
    learned_items_append(w->image, w->keys[p], &w->tidbuf[p]);
  }
  h->nsorted = h->nitems;
  learned_put_page(w->index, MAIN_FORKNUM, w->image, w->meta->leaf_start + i);
  w->fences[i] = i == 0 ? 0 : w->keys[0];
  w->leaf++;
  w->nbuf = 0;
}

}  // namespace

void learned_write_generation(Relation index, LearnedMeta* meta, LearnedPairs* pairs, int fillfactor,
                              bool progress) {
  const Size n = pairs->n;
  leaf::Widths tw = tid_widths(pairs);
  Size lo, hi;
  leaf_cap_range(tw, fillfactor, &lo, &hi);
  Size cap = fill_of(learned_items_capacity(leaf::wide_widths(0, true)), fillfactor);  // no keys
  LearnedTrained trained;
  if (!learned_pairs_spilled(pairs)) {
    // In memory: leaf_cap by random access to the keys, the model over the whole key array.
    if (n > 0)
      cap = search_leaf_cap(lo, hi, [&](Size c) { return leaf_cap_fits(pairs->keys, n, c, tw, fillfactor); });
    if (progress) pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseModel);
    trained = learned_train(pairs->keys, n, meta->error_bound);
  } else {
    // Spilled: one pass over the sorted stream decides leaf_cap (calendar) and trains the model
    // (streaming builder, bounded by the same budget); the leaves need a second pass.
    if (progress) pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseModel);
    CapCalendar cal;
    calendar_init(&cal, lo, hi, tw, fillfactor);
    Size chunk_points = Max(static_cast<Size>(pairs->work_mem_kb) * 1024 / (2 * 2 * sizeof(uint64)), kBatch);
    LearnedTrainer* trainer = learned_trainer_begin(n, meta->error_bound, chunk_points);
    uint64 batch[kBatch];
    Size nb = 0;
    uint64 key;
    ItemPointerData tid;
    while (learned_pairs_next(pairs, &key, &tid)) {
      calendar_add(&cal, key);
      batch[nb++] = key;
      if (nb == kBatch) {
        learned_trainer_add(trainer, batch, nb);
        nb = 0;
        CHECK_FOR_INTERRUPTS();
      }
    }
    learned_trainer_add(trainer, batch, nb);
    if (n > 0) {
      calendar_finish(&cal);
      cap = search_leaf_cap(lo, hi, [&](Size c) { return c <= cal.lo || cal.fits[c - cal.lo - 1]; });
    }
    trained = learned_trainer_finish(trainer);
    pfree(cal.start_key);
    pfree(cal.start_pos);
    pfree(cal.fits);
    pfree(cal.next);
    pfree(cal.head);
    learned_pairs_rescan(pairs);
  }
  meta->leaf_cap = static_cast<uint32>(cap);
  meta->nleaves = n == 0 ? 1 : static_cast<uint32>((n + cap - 1) / cap);
  meta->build_keys = n;
  meta->nsegments = trained.nsegments;
  meta->model_epsilon = trained.model_epsilon;

  // Model pages hold the segments, then one fence per leaf (filled by the leaf writer).
  Size seg_bytes = static_cast<Size>(trained.nsegments) * learned_segment_size(n);
  Size model_bytes = seg_bytes + static_cast<Size>(meta->nleaves) * sizeof(uint64);
  if (meta->leaf_start == InvalidBlockNumber)
    meta->leaf_start = claim_free_run(index, meta->nleaves + (model_bytes + kLearnedModelBytesPerPage - 1) /
                                                                 kLearnedModelBytesPerPage);
  char* bytes = static_cast<char*>(palloc_extended(model_bytes, MCXT_ALLOC_HUGE));
  if (seg_bytes > 0) memcpy(bytes, trained.segments, seg_bytes);

  // The pass that writes the leaves (both paths) also measures the training error.
  if (progress) {
    pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseLeaves);
    pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, n);
  }
  LeafWriter w;
  w.index = index;
  w.meta = meta;
  w.tids = tw;
  w.cap = cap;
  w.fillfactor = fillfactor;
  w.image = static_cast<Page>(palloc(BLCKSZ));
  w.keys = static_cast<uint64*>(palloc(cap * sizeof(uint64)));
  w.tidbuf = static_cast<ItemPointerData*>(palloc(cap * sizeof(ItemPointerData)));
  w.nbuf = 0;
  w.leaf = 0;
  w.fences = reinterpret_cast<uint64*>(bytes + seg_bytes);
  LearnedErrorAcc acc{0, 0, 0, 0, 0};
  uint64 key;
  ItemPointerData tid;
  for (Size done = 0; learned_pairs_next(pairs, &key, &tid); done++) {
    if (w.nbuf == cap) {
      learned_trained_error(trained, w.keys, w.nbuf, &acc);
      writer_flush(&w, false, key);
      if (progress) pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, done);
      CHECK_FOR_INTERRUPTS();
    }
    w.keys[w.nbuf] = key;
    w.tidbuf[w.nbuf++] = tid;
  }
  learned_trained_error(trained, w.keys, w.nbuf, &acc);
  writer_flush(&w, true, 0);
  if (progress) pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, n);
  if (w.leaf != meta->nleaves)
    elog(ERROR, "learned index \"%s\": wrote %u leaves, expected %u", RelationGetRelationName(index), w.leaf,
         meta->nleaves);
  meta->mean_error = n == 0 ? 0.0 : acc.sum / static_cast<double>(n);
  meta->max_error = acc.max;

  meta->model_start = meta->leaf_start + meta->nleaves;
  meta->model_pages = learned_write_model_pages(index, MAIN_FORKNUM, bytes, model_bytes, meta->model_start,
                                                meta->generation, w.image);
  pfree(bytes);
  pfree(w.image);
  pfree(w.keys);
  pfree(w.tidbuf);
  learned_trained_free(&trained);
}
