// Re-training a `learned` index into a new generation, and freeing the retired one.
//
// A re-train copies every live (key, TID) — each leaf (build and edge leaves) with its overflow
// chain, merged in order — into new leaves appended at the end of the relation, trains a new model over them,
// writes its model pages, and swaps the metapage to the new generation in one WAL record. Scans that started
// on the old generation keep reading its pages (they are left untouched); the old pages are freed
// only when no snapshot that could have seen the old generation exists (GlobalVisCheckRemovableFullXid
// on the re-training transaction's xid, in the spirit of nbtree's page recycling). Writers are excluded for
// the duration: those that take kLearnedWriterLock by kLearnedRetrainLock, inserts by the frozen
// leaves (freeze_leaves, learned.h); readers are not. The null chain is shared by all generations.
#include "learned_items.h"
#include "learned_sparse.h"

extern "C" {
#include "access/transam.h"
#include "miscadmin.h"
#include "access/xact.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/snapmgr.h"
}

namespace {

template <class Visit>
void visit_page_items(Page page, Visit visit) {
  LearnedItemsHeader* h = learned_items_header(page);
  for (int i = 0; i < h->nitems; i++) {
    ItemPointerData tid = learned_item_tid(page, i);
    visit(learned_item_key(page, i), &tid);
  }
}

// Calls visit(key, tid) for the items of leaf `blkno` and its overflow chain.
template <class Visit>
void visit_leaf(Relation index, BlockNumber blkno, Visit visit) {
  Buffer buf = ReadBuffer(index, blkno);
  LockBuffer(buf, BUFFER_LOCK_SHARE);
  Page page = BufferGetPage(buf);
  learned_check_page(index, page, blkno, kPageLeaf);
  visit_page_items(page, visit);
  LearnedChain c =
      learned_chain_begin(index, learned_items_header(page)->next, kPageOverflow, BUFFER_LOCK_SHARE);
  while (learned_chain_next(&c)) visit_page_items(c.page, visit);
  UnlockReleaseBuffer(buf);
}

// Freezes leaf `blkno` (kLeafFrozen, a hint) under its exclusive lock: an insert holding it now
// finishes first; a later one waits for this re-train (learned_insert.cpp).
void freeze_leaf(Relation index, BlockNumber blkno) {
  Buffer buf = ReadBuffer(index, blkno);
  LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
  Page page = BufferGetPage(buf);
  learned_check_page(index, page, blkno, kPageLeaf);
  learned_items_header(page)->flags |= kLeafFrozen;
  MarkBufferDirtyHint(buf, true);
  UnlockReleaseBuffer(buf);
}

// The leaves of the current generation (*n of them, its metapage in *meta), every one frozen.
// Edge leaves added while the last one was not yet frozen are frozen too: once the last leaf is,
// no leaf can be added (only the writer holding the last leaf adds one, and it finishes before
// the freeze takes the lock).
BlockNumber* freeze_leaves(Relation index, LearnedMeta* meta, uint32* n) {
  uint32 done = 0;
  for (;;) {
    learned_read_meta(index, meta);
    BlockNumber* leaves = learned_all_leaves(index, *meta, n);
    for (uint32 i = done; i < *n; i++) {
      freeze_leaf(index, leaves[i]);
      CHECK_FOR_INTERRUPTS();
    }
    LearnedMeta now;
    learned_read_meta(index, &now);
    if (now.edge_nleaves == meta->edge_nleaves) return leaves;
    done = *n;
    pfree(leaves);
  }
}

// Marks a page free (WAL-logged) and records it in the FSM.
void free_page(Relation index, BlockNumber blkno) {
  Buffer buf = ReadBuffer(index, blkno);
  LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
  GenericXLogState* xs = GenericXLogStart(index);
  Page page = GenericXLogRegisterBuffer(xs, buf, GENERIC_XLOG_FULL_IMAGE);
  learned_init_page(page, kPageFree, 0);
  GenericXLogFinish(xs);
  UnlockReleaseBuffer(buf);
  RecordFreeIndexPage(index, blkno);
}

// The mark of the generation a re-train retires: no snapshot that could still read that
// generation has an xmin above it, so once GlobalVisCheckRemovableFullXid says the mark is older
// than every snapshot's xmin, no such scan is left. Our own xid when the transaction has one (a
// snapshot taken before the swap has xmin <= our xid: we were running or not yet started); else
// the next xid to be assigned, read now (a snapshot taken before the swap has xmin <= its xmax <=
// this), as nbtree marks deleted pages. The fallback is what VACUUM uses: it never assigns an xid,
// and cannot in parallel mode (a parallel VACUUM's leader and workers). Its pages are freed once
// any later transaction with an xid has ended, instead of as soon as this one has.
FullTransactionId retire_mark() {
  FullTransactionId own = GetTopFullTransactionIdIfAny();
  return FullTransactionIdIsValid(own) ? own : ReadNextFullTransactionId();
}

}  // namespace

uint64 learned_overflow_pages(Relation index) {
  LearnedMeta meta;
  learned_read_meta(index, &meta);
  uint32 n;
  BlockNumber* leaves = learned_all_leaves(index, meta, &n);
  uint64 total = 0;
  for (uint32 i = 0; i < n; i++) {
    Buffer buf = ReadBuffer(index, leaves[i]);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    learned_check_page(index, BufferGetPage(buf), leaves[i], kPageLeaf);
    total += learned_items_header(BufferGetPage(buf))->chain_pages;
    UnlockReleaseBuffer(buf);
  }
  pfree(leaves);
  return total;
}

bool learned_reclaim_retired(Relation index) {
  LearnedMeta meta;
  learned_read_meta(index, &meta);
  if (meta.retired_nleaves == 0) return true;
  if (!GlobalVisCheckRemovableFullXid(nullptr, FullTransactionIdFromU64(meta.retired_xid))) return false;
  BlockNumber *edge, *dirs;
  uint32 ndir;
  learned_edge_list(index, meta.retired_edge_dir_head, meta.retired_edge_nleaves, &edge, nullptr, &dirs,
                    &ndir);
  uint32 total = meta.retired_nleaves + meta.retired_edge_nleaves;
  for (uint32 i = 0; i < total; i++) {
    BlockNumber blkno =
        i < meta.retired_nleaves ? meta.retired_leaf_start + i : edge[i - meta.retired_nleaves];
    Buffer buf = ReadBuffer(index, blkno);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    learned_check_page(index, BufferGetPage(buf), blkno, kPageLeaf);
    LearnedChain c = learned_chain_begin(index, learned_items_header(BufferGetPage(buf))->next, kPageOverflow,
                                         BUFFER_LOCK_SHARE);
    UnlockReleaseBuffer(buf);
    while (learned_chain_next(&c)) {
      learned_chain_release(&c);
      free_page(index, c.blkno);
    }
    free_page(index, blkno);
  }
  for (uint32 p = 0; p < meta.retired_model_pages; p++) free_page(index, meta.retired_model_start + p);
  for (uint32 p = 0; p < ndir; p++) free_page(index, dirs[p]);
  if (meta.layout == kLayoutSparse) sparse_free_retired(index, meta, free_page);
  pfree(edge);
  pfree(dirs);

  Buffer mbuf = ReadBuffer(index, kLearnedMetaBlock);
  LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
  GenericXLogState* xs = GenericXLogStart(index);
  LearnedMeta* m = learned_meta(learned_meta_cover(GenericXLogRegisterBuffer(xs, mbuf, 0)));
  m->retired_xid = 0;
  m->retired_nleaves = 0;
  m->retired_model_pages = 0;
  m->retired_leaf_start = m->retired_model_start = InvalidBlockNumber;
  m->retired_edge_nleaves = 0;
  m->retired_edge_dir_head = InvalidBlockNumber;
  if (meta.layout == kLayoutSparse) {
    m->retired_fence_pages = 0;
    m->retired_fence_start = m->retired_tail_head = InvalidBlockNumber;
  }
  GenericXLogFinish(xs);
  UnlockReleaseBuffer(mbuf);
  IndexFreeSpaceMapVacuum(index);
  return true;
}

bool learned_retrain(Relation index, bool wait) {
  if (wait)
    LockPage(index, kLearnedMetaBlock, kLearnedRetrainLock);
  else if (!ConditionalLockPage(index, kLearnedMetaBlock, kLearnedRetrainLock))
    return false;
  if (!learned_reclaim_retired(index)) {
    UnlockPage(index, kLearnedMetaBlock, kLearnedRetrainLock);
    return false;
  }
  // 0. Every leaf frozen: inserts that reach one from now on wait for the swap.
  LearnedMeta old;
  uint32 nold;
  BlockNumber* old_leaves = freeze_leaves(index, &old, &nold);

  // Sparse layout: the ranges re-fit first (learned_sparse_refit.cpp), over every exception.
  SparseRefit* refit = nullptr;
  if (old.layout == kLayoutSparse) {
    refit = sparse_refit_begin(index);
    for (uint32 i = 0; i < nold; i++) {
      visit_leaf(index, old_leaves[i],
                 [&](uint64 key, ItemPointer tid) { sparse_refit_note(refit, key, tid); });
      CHECK_FOR_INTERRUPTS();
    }
    sparse_refit_finish(refit);
  }

  // 1. Every live pair (sparse: those the new ranges do not hold), sorted within
  // maintenance_work_mem (learned_pairs.cpp). Leaves are in key order, but equal keys spanning
  // leaves are not in TID order (heap TIDs are not assigned in insertion order), and chains are
  // unsorted: sort by (key, TID) as the new leaves require.
  LearnedPairs* pairs = learned_pairs_begin(maintenance_work_mem);
  for (uint32 i = 0; i < nold; i++) {
    visit_leaf(index, old_leaves[i], [&](uint64 key, ItemPointer tid) {
      if (refit == nullptr || !sparse_refit_fits(refit, key, tid)) learned_pairs_put(pairs, key, tid);
    });
    CHECK_FOR_INTERRUPTS();
  }
  pfree(old_leaves);
  learned_pairs_sort(pairs, RelationGetRelationName(index));

  // 2. The new generation in the first run of free pages long enough (pages of generations no
  // snapshot can read any more), else after the last block.
  LearnedMeta meta = old;
  meta.generation = old.generation + 1;
  meta.error_bound = static_cast<uint32>(learned_error_bound(index));
  meta.leaf_start = InvalidBlockNumber;
  meta.edge_nleaves = 0;
  meta.edge_dir_head = meta.edge_dir_tail = InvalidBlockNumber;
  learned_write_generation(index, &meta, pairs, learned_fillfactor(index), false);
  // The new pages are WAL-logged before the metapage record that makes them reachable.
  omen_log_new_pages(index, MAIN_FORKNUM, meta.leaf_start, meta.model_start + meta.model_pages);
  if (refit != nullptr) {
    meta.fit_entries = learned_pairs_count(pairs) +
                       static_cast<uint64>(learned_count_chain(index, old.null_head, kPageNull));
    sparse_refit_write(index, refit, &meta);  // fence and tail pages, logged
  }
  learned_pairs_end(pairs);

  // 3. Swap at the metapage (null chain fields are left as they are: NULL inserts may run).
  Buffer mbuf = ReadBuffer(index, kLearnedMetaBlock);
  LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
  GenericXLogState* xs = GenericXLogStart(index);
  LearnedMeta* m = learned_meta(learned_meta_cover(GenericXLogRegisterBuffer(xs, mbuf, 0)));
  learned_install_generation(m, meta);
  if (refit != nullptr) sparse_refit_install(m, meta, old);
  // Read now, under the lock: a snapshot taken before the swap has xmin <= its xmax <= this.
  m->retired_xid = U64FromFullTransactionId(retire_mark());
  m->retired_leaf_start = old.leaf_start;
  m->retired_nleaves = old.nleaves;
  m->retired_model_start = old.model_start;
  m->retired_model_pages = old.model_pages;
  m->retired_edge_nleaves = old.edge_nleaves;
  m->retired_edge_dir_head = old.edge_dir_head;
  GenericXLogFinish(xs);
  UnlockReleaseBuffer(mbuf);
  // This backend's next insert reads the metapage (learned_insert_cache): the freeze is a hint,
  // which a buffer MarkBufferDirtyHint left clean loses when it is evicted.
  if (auto* cache = static_cast<LearnedCache*>(index->rd_amcache)) cache->routes_inserts = false;
  UnlockPage(index, kLearnedMetaBlock, kLearnedRetrainLock);
  return true;
}
