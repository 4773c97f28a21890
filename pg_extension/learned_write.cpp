// Writing a generation of a `learned` index (learned_write.h).
#include "learned_write.h"

extern "C" {
#include "storage/lmgr.h"
}

void learned_append_page(Relation index, ForkNumber fork, Page image, BlockNumber expect) {
  bool need_lock = !RELATION_IS_LOCAL(index);
  if (need_lock) LockRelationForExtension(index, ExclusiveLock);
  Buffer buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, nullptr);
  if (need_lock) UnlockRelationForExtension(index, ExclusiveLock);
  LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
  if (BufferGetBlockNumber(buf) != expect)
    elog(ERROR, "learned index \"%s\": new block %u, expected %u", RelationGetRelationName(index),
         BufferGetBlockNumber(buf), expect);
  GenericXLogState* xs = GenericXLogStart(index);
  Page page = GenericXLogRegisterBuffer(xs, buf, GENERIC_XLOG_FULL_IMAGE);
  memcpy(page, image, BLCKSZ);
  GenericXLogFinish(xs);
  UnlockReleaseBuffer(buf);
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
    learned_append_page(index, fork, image, start + pages);
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

void start_leaf(LearnedWriter* w, uint64 low_fence) {
  learned_init_items_page(w->image, kPageLeaf, w->meta->generation);
  learned_items_header(w->image)->leaf_no = w->leaf;
  learned_items_header(w->image)->low_fence = low_fence;
}

}  // namespace

void learned_writer_begin(LearnedWriter* w, Relation index, LearnedMeta* meta) {
  w->index = index;
  w->meta = meta;
  w->image = static_cast<Page>(palloc(BLCKSZ));
  w->keys_cap = 1024;
  w->keys = static_cast<uint64*>(palloc(w->keys_cap * sizeof(uint64)));
  w->n = 0;
  w->leaf = 0;
  start_leaf(w, 0);  // fence_0 = 0
}

void learned_writer_add(LearnedWriter* w, uint64 key, const ItemPointerData* tid) {
  if (w->n > 0 && w->n % w->meta->leaf_cap == 0) {  // leaf full: flush it, start the next
    learned_items_header(w->image)->high_fence = key;
    learned_append_page(w->index, MAIN_FORKNUM, w->image, w->meta->leaf_start + w->leaf);
    w->leaf++;
    start_leaf(w, key);
  }
  LearnedItemsHeader* h = learned_items_header(w->image);
  learned_keys(w->image)[h->nitems] = key;
  learned_tids(w->image)[h->nitems] = *tid;
  h->nitems++;
  h->nsorted = h->nitems;
  if (w->n == w->keys_cap) {
    w->keys_cap *= 2;
    w->keys = static_cast<uint64*>(repalloc_huge(w->keys, w->keys_cap * sizeof(uint64)));
  }
  w->keys[w->n++] = key;
}

void learned_writer_finish(LearnedWriter* w) {
  LearnedMeta* meta = w->meta;
  learned_items_header(w->image)->high_fence = PG_UINT64_MAX;
  learned_items_header(w->image)->flags |= kLeafIsLast;
  learned_append_page(w->index, MAIN_FORKNUM, w->image, meta->leaf_start + w->leaf);
  meta->nleaves = w->leaf + 1;
  meta->build_keys = w->n;

  LearnedTrained trained = learned_train(w->keys, w->n, meta->error_bound);
  meta->nsegments = trained.nsegments;
  meta->mean_error = trained.mean_error;
  meta->max_error = trained.max_error;
  meta->model_epsilon = trained.model_epsilon;
  Size seg_bytes = static_cast<Size>(trained.nsegments) * learned_segment_size(w->n);
  Size model_bytes = seg_bytes + static_cast<Size>(meta->nleaves) * sizeof(uint64);
  char* bytes = static_cast<char*>(palloc_extended(model_bytes, MCXT_ALLOC_HUGE));
  if (seg_bytes > 0) memcpy(bytes, trained.segments, seg_bytes);
  auto* fences = reinterpret_cast<uint64*>(bytes + seg_bytes);
  for (uint32 i = 0; i < meta->nleaves; i++)
    fences[i] = i == 0 ? 0 : w->keys[static_cast<Size>(i) * meta->leaf_cap];
  meta->model_start = meta->leaf_start + meta->nleaves;
  meta->model_pages = learned_write_model_pages(w->index, MAIN_FORKNUM, bytes, model_bytes,
                                                meta->model_start, meta->generation, w->image);
  pfree(bytes);
  if (trained.segments) pfree(trained.segments);
  pfree(w->keys);
  w->keys = nullptr;
}
