// Writing a generation of a `learned` index (learned_write.h).
#include "learned_write.h"

extern "C" {
#include "access/xloginsert.h"
#include "storage/lmgr.h"
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
  Buffer buf = ReadBuffer(index, blkno);
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
    learned_extend_page(index, fork, image, start + pages);
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

// TID widths of a generation: enough bits for every TID written, plus one block bit so that
// inserts keep fitting until the heap doubles (a TID that does not fit goes to the overflow
// chain, whose pages are wide).
leaf::Widths tid_widths(const ItemPointerData* tids, Size n) {
  leaf::Widths w = leaf::wide_widths(0, true);
  if (n == 0) return w;
  BlockNumber max_block = 0;
  OffsetNumber max_offset = 0;
  for (Size i = 0; i < n; i++) {
    max_block = Max(max_block, ItemPointerGetBlockNumberNoCheck(&tids[i]));
    max_offset = Max(max_offset, ItemPointerGetOffsetNumberNoCheck(&tids[i]));
  }
  w.block_bits = Min(32u, leaf::bits_for(max_block) + 1);
  w.offset_bits = leaf::bits_for(max_offset);
  return w;
}

// Widths of the leaf holding build positions [start, end). Keys are stored relative to the low
// fence, in the bits the fence range needs, so every key an insert routes to the leaf fits.
// Exceptions: leaf 0 (fence 0) is relative to its first key and the last leaf (fence +inf) covers
// its last key; with `headroom`, each of them also takes keys as far beyond as its own range
// spans (one more bit). Keys outside go to the overflow chain.
leaf::Widths leaf_widths(const uint64* keys, Size n, Size start, Size end, bool last,
                         const leaf::Widths& tids, bool headroom) {
  if (n == 0) return leaf::wide_widths(0, true);
  leaf::Widths w = tids;
  uint64 low = keys[start], top = last ? keys[end - 1] : keys[end];
  if (headroom && start == 0) low -= Min(low, top - low);
  if (headroom && last) top += Min(PG_UINT64_MAX - top, top - low);
  w.key_base = low;
  w.key_bits = leaf::bits_for(top - low);
  return w;
}

Size fill_of(uint16 capacity, int fillfactor) {
  return Max(static_cast<Size>(1), static_cast<Size>(capacity) * fillfactor / 100);
}

// True when every leaf of `cap` positions is filled to at most fillfactor at its own widths.
bool leaf_cap_fits(const uint64* keys, Size n, Size cap, const leaf::Widths& tids, int fillfactor) {
  for (Size start = 0; start < n; start += cap) {
    Size end = Min(n, start + cap);
    leaf::Widths w = leaf_widths(keys, n, start, end, end == n, tids, false);
    if (end - start > fill_of(learned_items_capacity(w), fillfactor)) return false;
  }
  return true;
}

// The largest leaf_cap for which leaf_cap_fits holds (binary search; 1 always fits).
Size choose_leaf_cap(const uint64* keys, Size n, const leaf::Widths& tids, int fillfactor) {
  leaf::Widths narrowest = tids;
  narrowest.key_bits = 0;
  Size lo = 1, hi = fill_of(learned_items_capacity(narrowest), fillfactor);
  if (n == 0) return fill_of(learned_items_capacity(leaf::wide_widths(0, true)), fillfactor);
  while (lo < hi) {
    Size mid = lo + (hi - lo + 1) / 2;
    if (leaf_cap_fits(keys, n, mid, tids, fillfactor)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

}  // namespace

void learned_write_generation(Relation index, LearnedMeta* meta, const uint64* keys,
                              const ItemPointerData* tids, Size n, int fillfactor) {
  leaf::Widths tw = tid_widths(tids, n);
  Size cap = choose_leaf_cap(keys, n, tw, fillfactor);
  meta->leaf_cap = static_cast<uint32>(cap);
  meta->nleaves = n == 0 ? 1 : static_cast<uint32>((n + cap - 1) / cap);
  meta->build_keys = n;
  Page image = static_cast<Page>(palloc(BLCKSZ));
  for (uint32 i = 0; i < meta->nleaves; i++) {
    Size start = static_cast<Size>(i) * cap, end = Min(n, start + cap);
    bool last = i + 1 == meta->nleaves;
    // Headroom below leaf 0 and above the last leaf when it costs no capacity leaf_cap needs.
    leaf::Widths w = leaf_widths(keys, n, start, end, last, tw, true);
    if (end - start > fill_of(learned_items_capacity(w), fillfactor))
      w = leaf_widths(keys, n, start, end, last, tw, false);
    learned_init_items_page(image, kPageLeaf, meta->generation, w);
    LearnedItemsHeader* h = learned_items_header(image);
    h->leaf_no = i;
    h->low_fence = i == 0 ? 0 : keys[start];
    h->high_fence = last ? PG_UINT64_MAX : keys[end];
    if (last) h->flags |= kLeafIsLast;
    for (Size p = start; p < end; p++) {
      if (!learned_items_can_append(image, keys[p], &tids[p]))
        elog(ERROR, "learned index \"%s\": leaf %u cannot hold its items", RelationGetRelationName(index), i);
      learned_items_append(image, keys[p], &tids[p]);
    }
    h->nsorted = h->nitems;
    learned_extend_page(index, MAIN_FORKNUM, image, meta->leaf_start + i);
  }

  LearnedTrained trained = learned_train(keys, n, meta->error_bound);
  meta->nsegments = trained.nsegments;
  meta->mean_error = trained.mean_error;
  meta->max_error = trained.max_error;
  meta->model_epsilon = trained.model_epsilon;
  Size seg_bytes = static_cast<Size>(trained.nsegments) * learned_segment_size(n);
  Size model_bytes = seg_bytes + static_cast<Size>(meta->nleaves) * sizeof(uint64);
  char* bytes = static_cast<char*>(palloc_extended(model_bytes, MCXT_ALLOC_HUGE));
  if (seg_bytes > 0) memcpy(bytes, trained.segments, seg_bytes);
  auto* fences = reinterpret_cast<uint64*>(bytes + seg_bytes);
  for (uint32 i = 0; i < meta->nleaves; i++) fences[i] = i == 0 ? 0 : keys[static_cast<Size>(i) * cap];
  meta->model_start = meta->leaf_start + meta->nleaves;
  meta->model_pages = learned_write_model_pages(index, MAIN_FORKNUM, bytes, model_bytes,
                                                meta->model_start, meta->generation, image);
  pfree(bytes);
  if (trained.segments) pfree(trained.segments);
  pfree(image);
}
