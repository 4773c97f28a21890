// ambulkdelete / amvacuumcleanup of the `learned` index.
//
// Bulk delete walks every leaf (build and edge leaves) and its overflow chain, then the null chain, removing
// the items whose TID the callback reports dead (page compaction keeps leaves sorted). An overflow or null
// page that becomes empty is unlinked from its chain and handed to the FSM (kind kPageFree).
// Fences and the model are untouched: deletions never break invariants I1..I5. Cleanup frees a
// retired generation and re-trains when overflow chains got long (learned_retrain.cpp).
#include "learned_items.h"
#include "learned_sparse.h"

extern "C" {
#include "access/parallel.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
}

namespace {

// Removes dead items from one items page (already exclusively locked); returns how many.
int compact_page(Relation index, Buffer buf, IndexBulkDeleteCallback callback, void* state) {
  Page page = BufferGetPage(buf);
  LearnedItemsHeader* h = learned_items_header(page);
  int dead = 0;
  for (int i = 0; i < h->nitems; i++) {
    ItemPointerData tid = learned_item_tid(page, i);
    if (callback(&tid, state)) dead++;
  }
  if (dead == 0) return 0;
  GenericXLogState* xs = GenericXLogStart(index);
  Page p = GenericXLogRegisterBuffer(xs, buf, 0);
  LearnedItemsHeader* ph = learned_items_header(p);
  int kept = 0, kept_sorted = 0;  // compaction keeps order, so the sorted prefix stays sorted
  for (int i = 0; i < ph->nitems; i++) {
    ItemPointerData tid = learned_item_tid(p, i);
    if (callback(&tid, state)) continue;
    if (kept != i) learned_item_put(p, kept, learned_item_key(p, i), &tid);  // same widths: fits
    kept++;
    if (i < ph->nsorted) kept_sorted = kept;
  }
  learned_items_truncate(p, kept, kept_sorted);
  GenericXLogFinish(xs);
  return dead;
}

// Compacts the chain starting at `head` owned by the locked buffer `owner` (a leaf or the
// metapage); unlinks emptied pages. `get`/`set` read and write the owner's head/tail pointers.
struct ChainOwner {
  BlockNumber* (*head)(Page);
  BlockNumber* (*tail)(Page);
  void (*unlinked)(Page);  // bookkeeping on the owner when a page leaves its chain
};

BlockNumber* leaf_head(Page p) { return &learned_items_header(p)->next; }
BlockNumber* leaf_tail(Page p) { return &learned_items_header(p)->tail; }
BlockNumber* null_head(Page p) { return &learned_meta(p)->null_head; }
BlockNumber* null_tail(Page p) { return &learned_meta(p)->null_tail; }
void leaf_unlinked(Page p) { learned_items_header(p)->chain_pages--; }
void null_unlinked(Page) {}

void vacuum_chain(Relation index, Buffer owner, ChainOwner o, LearnedPageKind kind,
                  IndexBulkDeleteCallback callback, void* state, IndexBulkDeleteResult* stats) {
  Buffer prev = InvalidBuffer;  // previous chain page (locked), or the owner
  LearnedChain c = learned_chain_begin(index, *o.head(BufferGetPage(owner)), kind, BUFFER_LOCK_EXCLUSIVE);
  while (c.next != InvalidBlockNumber) {
    vacuum_delay_point();
    learned_chain_next(&c);
    stats->tuples_removed += compact_page(index, c.buf, callback, state);
    LearnedItemsHeader* h = learned_items_header(c.page);
    if (h->nitems == 0) {
      // Unlink: predecessor (or owner's head) skips it; the owner's tail moves back if needed.
      GenericXLogState* xs = GenericXLogStart(index);
      Page op = learned_meta_cover(GenericXLogRegisterBuffer(xs, owner, 0));
      if (prev == InvalidBuffer)
        *o.head(op) = c.next;
      else
        learned_items_header(GenericXLogRegisterBuffer(xs, prev, 0))->next = c.next;
      o.unlinked(op);
      if (*o.tail(op) == c.blkno)
        *o.tail(op) = prev == InvalidBuffer ? InvalidBlockNumber : BufferGetBlockNumber(prev);
      Page fp = GenericXLogRegisterBuffer(xs, c.buf, GENERIC_XLOG_FULL_IMAGE);
      learned_init_page(fp, kPageFree, 0);
      GenericXLogFinish(xs);
      learned_chain_release(&c);
      RecordFreeIndexPage(index, c.blkno);
      stats->pages_deleted++;
      stats->pages_free++;
    } else {
      stats->num_index_tuples += h->nitems;
      if (prev != InvalidBuffer) UnlockReleaseBuffer(prev);
      prev = learned_chain_keep(&c);
    }
  }
  if (prev != InvalidBuffer) UnlockReleaseBuffer(prev);
}

// Calls visit(index, leaf buffer, arg) for every leaf of the current generation (build leaves,
// then edge leaves), each read, locked in `lock_mode` (BUFFER_LOCK_SHARE / _EXCLUSIVE) and
// checked first, unlocked after. Edge leaves added after the metapage is read are not visited
// (during a bulk delete they hold only entries inserted after the heap scan). The one leaf walk of
// bulk delete and cleanup.
template <class Visit>
void walk_leaves(Relation index, int lock_mode, Visit visit) {
  LearnedMeta meta;
  learned_read_meta(index, &meta);
  uint32 nleaves;
  BlockNumber* leaves = learned_all_leaves(index, meta, &nleaves);
  for (uint32 i = 0; i < nleaves; i++) {
    vacuum_delay_point();
    Buffer buf = ReadBuffer(index, leaves[i]);
    LockBuffer(buf, lock_mode);
    learned_check_page(index, BufferGetPage(buf), leaves[i], kPageLeaf);
    visit(buf);
    UnlockReleaseBuffer(buf);
  }
  pfree(leaves);
}

// Says at DEBUG1 which process runs a VACUUM phase (a parallel VACUUM hands it to a worker).
void log_phase(Relation index, const char* phase) {
  ereport(DEBUG1, (errmsg_internal("learned index \"%s\": %s in %s", RelationGetRelationName(index), phase,
                                   IsParallelWorker() ? "a parallel worker" : "the leader")));
}

}  // namespace

double learned_count_chain(Relation index, BlockNumber head, LearnedPageKind kind) {
  double n = 0;
  LearnedChain c = learned_chain_begin(index, head, kind, BUFFER_LOCK_SHARE);
  while (learned_chain_next(&c)) n += learned_items_header(c.page)->nitems;
  return n;
}

extern "C" IndexBulkDeleteResult* learned_bulkdelete(IndexVacuumInfo* info, IndexBulkDeleteResult* stats,
                                                     IndexBulkDeleteCallback callback, void* state) {
  Relation index = info->index;
  log_phase(index, "bulk delete");
  if (stats == nullptr) stats = static_cast<IndexBulkDeleteResult*>(palloc0(sizeof(IndexBulkDeleteResult)));
  stats->num_index_tuples = 0;
  LockPage(index, kLearnedMetaBlock, kLearnedWriterLock);
  walk_leaves(index, BUFFER_LOCK_EXCLUSIVE, [&](Buffer buf) {
    stats->tuples_removed += compact_page(index, buf, callback, state);
    stats->num_index_tuples += learned_items_header(BufferGetPage(buf))->nitems;
    vacuum_chain(index, buf, ChainOwner{leaf_head, leaf_tail, leaf_unlinked}, kPageOverflow, callback, state,
                 stats);
  });
  Buffer mbuf = ReadBuffer(index, kLearnedMetaBlock);
  LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
  learned_check_page(index, BufferGetPage(mbuf), kLearnedMetaBlock, kPageMeta);
  vacuum_chain(index, mbuf, ChainOwner{null_head, null_tail, null_unlinked}, kPageNull, callback, state,
               stats);
  UnlockReleaseBuffer(mbuf);
  UnlockPage(index, kLearnedMetaBlock, kLearnedWriterLock);
  stats->num_pages = RelationGetNumberOfBlocks(index);
  return stats;
}

extern "C" IndexBulkDeleteResult* learned_vacuumcleanup(IndexVacuumInfo* info, IndexBulkDeleteResult* stats) {
  if (info->analyze_only) return stats;
  Relation index = info->index;
  log_phase(index, "cleanup");
  if (stats == nullptr) {
    // No bulk delete ran: count the items so pg_class.reltuples stays right.
    stats = static_cast<IndexBulkDeleteResult*>(palloc0(sizeof(IndexBulkDeleteResult)));
    walk_leaves(index, BUFFER_LOCK_SHARE, [&](Buffer buf) {
      LearnedItemsHeader* h = learned_items_header(BufferGetPage(buf));
      stats->num_index_tuples += h->nitems + learned_count_chain(index, h->next, kPageOverflow);
    });
    LearnedMeta meta;
    learned_read_meta(index, &meta);
    stats->num_index_tuples += learned_count_chain(index, meta.null_head, kPageNull);
  }
  // Free a retired generation no snapshot can read any more; re-train when overflow chains hold
  // more than a quarter as many pages as the leaves (probes would read them).
  LockPage(index, kLearnedMetaBlock, kLearnedRetrainLock);
  learned_reclaim_retired(index);
  UnlockPage(index, kLearnedMetaBlock, kLearnedRetrainLock);
  LearnedMeta meta;
  learned_read_meta(index, &meta);
  uint64 overflow = learned_overflow_pages(index);
  if (overflow >= 8 && overflow * 4 >= static_cast<uint64>(meta.nleaves) + meta.edge_nleaves)
    learned_retrain(index, true);
  else if (meta.layout == kLayoutSparse && sparse_wants_refit(meta, stats->num_index_tuples))
    learned_retrain(index, true);  // a re-fit of the ranges (learned_sparse_refit.cpp)
  IndexFreeSpaceMapVacuum(index);
  stats->num_pages = RelationGetNumberOfBlocks(index);
  return stats;
}
