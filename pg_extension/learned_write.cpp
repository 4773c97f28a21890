// Writing a generation of a `learned` index from its sorted (key, TID) pairs (learned.h): where it
// goes, its leaves (layout and model from learned_layout.h), its model pages; and installing a
// generation at the metapage.
//
// Pages of a new generation are written through shared buffers without WAL, then WAL-logged in
// batches of full images (omen_log_new_pages) before anything points at them: a build logs its
// whole relation at the end; a re-train logs its new pages before the metapage swap.
#include "learned_layout.h"
#include "learned_items.h"

#include <type_traits>

extern "C" {
#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/indexfsm.h"
#include "utils/backend_progress.h"
}

namespace leaf = omen::leaf;

uint32 learned_write_model_pages(Relation index, ForkNumber fork, const char* bytes, Size nbytes,
                                 BlockNumber start, uint32 generation, Page image, LearnedPageKind kind) {
  uint32 pages = 0;
  for (Size done = 0; done < nbytes; done += kLearnedModelBytesPerPage, pages++) {
    Size chunk = Min(kLearnedModelBytesPerPage, nbytes - done);
    learned_init_page(image, kind, generation);
    memcpy(learned_model_bytes(image), bytes + done, chunk);
    ((PageHeader)image)->pd_lower =
        static_cast<LocationIndex>(learned_model_bytes(image) + chunk - reinterpret_cast<char*>(image));
    omen_put_page(index, fork, image, start + pages);
  }
  return pages;
}

namespace {

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
  uint32 leaf;  // the open leaf's number
  uint64* fences;
};

void writer_flush(LeafWriter* w, bool last, uint64 next_key) {
  uint32 i = w->leaf;
  leaf::Widths wd = leaf::wide_widths(0, true);  // no keys at all: one empty leaf
  if (w->nbuf > 0) {
    BlockNumber lo = InvalidBlockNumber, hi = 0;
    for (Size p = 0; p < w->nbuf; p++) {
      lo = Min(lo, ItemPointerGetBlockNumberNoCheck(&w->tidbuf[p]));
      hi = Max(hi, ItemPointerGetBlockNumberNoCheck(&w->tidbuf[p]));
    }
    wd = learned_build_leaf_widths(w->nbuf, w->keys[0], last ? w->keys[w->nbuf - 1] : next_key, i == 0, last,
                                   w->tids, lo, hi, w->fillfactor);
  }
  learned_init_items_page(w->image, kPageLeaf, w->meta->generation, wd);
  LearnedItemsHeader* h = learned_items_header(w->image);
  h->leaf_no = i;
  h->low_fence = i == 0 ? 0 : w->keys[0];
  h->high_fence = last ? PG_UINT64_MAX : next_key;
  if (last) h->flags |= kLeafIsLast;
  for (Size p = 0; p < w->nbuf; p++) {
    if (!learned_items_can_append(w->image, w->keys[p], &w->tidbuf[p]))
      elog(ERROR, "learned index \"%s\": leaf %u cannot hold its items", RelationGetRelationName(w->index),
           i);
    learned_items_append(w->image, w->keys[p], &w->tidbuf[p]);
  }
  h->nsorted = h->nitems;
  omen_put_page(w->index, MAIN_FORKNUM, w->image, w->meta->leaf_start + i);
  w->fences[i] = i == 0 ? 0 : w->keys[0];
  w->leaf++;
  w->nbuf = 0;
}

// The pass that writes the leaves of `meta` (leaf_cap, nleaves, leaf_start set) from the sorted
// pairs, filling fences[] and measuring the training error (both paths).
LearnedErrorAcc write_leaves(Relation index, const LearnedMeta* meta, LearnedPairs* pairs,
                             const leaf::Widths& tw, int fillfactor, const LearnedTrained& trained,
                             uint64* fences, Page image, bool progress) {
  const Size n = pairs->n, cap = meta->leaf_cap;
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
  w.image = image;
  w.keys = static_cast<uint64*>(palloc(cap * sizeof(uint64)));
  w.tidbuf = static_cast<ItemPointerData*>(palloc(cap * sizeof(ItemPointerData)));
  w.nbuf = 0;
  w.leaf = 0;
  w.fences = fences;
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
  pfree(w.keys);
  pfree(w.tidbuf);
  return acc;
}

}  // namespace

void learned_write_generation(Relation index, LearnedMeta* meta, LearnedPairs* pairs, int fillfactor,
                              bool progress) {
  const Size n = pairs->n;
  leaf::Widths tw = learned_tid_widths(pairs);
  Size cap;
  LearnedTrained trained = learned_layout_train(pairs, meta->error_bound, &tw, fillfactor, progress, &cap);
  meta->leaf_cap = static_cast<uint32>(cap);
  meta->nleaves = n == 0 ? 1 : static_cast<uint32>((n + cap - 1) / cap);
  meta->build_keys = n;
  meta->nsegments = trained.nsegments;
  meta->model_epsilon = trained.model_epsilon;

  // Model pages hold the segments, then one fence per leaf (filled by the leaf writer).
  Size seg_bytes = static_cast<Size>(trained.nsegments) * learned_segment_size(n);
  Size model_bytes = seg_bytes + static_cast<Size>(meta->nleaves) * sizeof(uint64);
  if (meta->leaf_start == InvalidBlockNumber)
    meta->leaf_start = claim_free_run(
        index, meta->nleaves + (model_bytes + kLearnedModelBytesPerPage - 1) / kLearnedModelBytesPerPage);
  char* bytes = static_cast<char*>(palloc_extended(model_bytes, MCXT_ALLOC_HUGE));
  if (seg_bytes > 0) memcpy(bytes, trained.segments, seg_bytes);
  Page image = static_cast<Page>(palloc(BLCKSZ));
  LearnedErrorAcc acc = write_leaves(index, meta, pairs, tw, fillfactor, trained,
                                     reinterpret_cast<uint64*>(bytes + seg_bytes), image, progress);
  meta->mean_error = n == 0 ? 0.0 : acc.sum / static_cast<double>(n);
  meta->max_error = acc.max;

  meta->model_start = meta->leaf_start + meta->nleaves;
  meta->model_pages = learned_write_model_pages(index, MAIN_FORKNUM, bytes, model_bytes, meta->model_start,
                                                meta->generation, image);
  pfree(bytes);
  pfree(image);
  learned_trained_free(&trained);
}

void learned_install_generation(LearnedMeta* m, const LearnedMeta& gen) {
  // The 32-bit fields a generation owns (BlockNumber is uint32), then the others.
  static constexpr uint32 LearnedMeta::*kFields[] = {
      &LearnedMeta::generation,  &LearnedMeta::error_bound, &LearnedMeta::leaf_cap,
      &LearnedMeta::nleaves,     &LearnedMeta::leaf_start,  &LearnedMeta::model_start,
      &LearnedMeta::model_pages, &LearnedMeta::nsegments,   &LearnedMeta::model_epsilon,
  };
  static_assert(std::is_same_v<BlockNumber, uint32>);
  for (uint32 LearnedMeta::*f : kFields) m->*f = gen.*f;
  // The new generation's leaves may store TIDs relative to a block base (format 4/5).
  if (m->version == kLearnedV2) {
    m->version = kLearnedVersion;
    m->layout = kLayoutDense;  // version 2's bytes here may be the old struct's padding
  }
  if (m->version == kLearnedSparseV3) m->version = kLearnedSparseVersion;
  m->build_keys = gen.build_keys;
  m->mean_error = gen.mean_error;
  m->max_error = gen.max_error;
  m->edge_nleaves = 0;  // no edge leaves yet
  m->edge_dir_head = m->edge_dir_tail = InvalidBlockNumber;
}
