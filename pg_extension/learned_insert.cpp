// aminsert of the `learned` index.
//
// A key goes to its target leaf (the last leaf whose fence <= key, invariant I4): appended to the
// leaf's tail (its gap; a few bytes of WAL, no shifting; the sorted prefix grows while keys arrive
// in order), or, when the leaf is full or the item does not fit the leaf's packed widths, to the
// leaf's overflow chain (a new overflow page when the chain's tail is full). A key at the right
// edge of a full last leaf (or one past its packed key range) opens a new edge leaf instead
// (learned_edge.cpp). NULLs are appended to the null chain.
// Lock order: leaf -> overflow tail -> new page; last leaf -> new page -> edge directory ->
// metapage; metapage -> null tail -> new page. Every change is one WAL record of at most 4 pages:
// the append to a page with room through learned_log_append (learned_wal.cpp), the rest GenericXLog.
// A re-train never copies a leaf while it changes: it freezes each leaf under the leaf's lock
// first (kLeafFrozen); an insert that finds its leaf frozen, or of another generation than its
// cache, takes kLearnedWriterLock, which waits for the re-train, and looks again (learned.h).
#include "learned_items.h"
#include "learned_sparse.h"

extern "C" {
#include "storage/lmgr.h"
}

namespace {

// Whether the locked `page` is a leaf of generation `generation` that no re-train has frozen. A
// page reached through a cache read before a re-train's swap is frozen, or was freed and reused
// since (another kind or generation).
bool leaf_is_current(Page page, uint32 generation) {
  if (PageIsNew(page) || PageGetSpecialSize(page) != MAXALIGN(sizeof(LearnedSpecial))) return false;
  const LearnedSpecial* s = learned_special(page);
  return s->page_id == kLearnedPageId && s->kind == kPageLeaf && s->generation == generation &&
         (learned_items_header(page)->flags & kLeafFrozen) == 0;
}

// Reads and exclusively locks the target leaf of `key`; *cache is the cache it was found in (every
// leaf up to it): first the cache as it is (learned_insert_cache), then read anew. An edge leaf
// added after the cache was read can make the cached target stale (the key is past its new high
// fence): then look again. Without kLearnedWriterLock
// (`writer_lock` false), InvalidBuffer when the leaf is not current (leaf_is_current): the
// caller takes the lock and calls again. With it no re-train runs: a frozen leaf was left so by
// one that failed, and is thawed.
Buffer lock_target_leaf(Relation index, uint64 key, const LearnedCache** cache_out, bool writer_lock) {
  for (bool first = true;; first = false) {
    const LearnedCache* cache =
        first && !writer_lock ? learned_insert_cache(index) : learned_get_cache(index);
    *cache_out = cache;
    uint32 leaf = learned_target_leaf(cache, key);
    BlockNumber blkno = learned_leaf_block(index, learned_leaf_map(cache->meta), leaf);
    Buffer buf = ReadBuffer(index, blkno);
    LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
    Page page = BufferGetPage(buf);
    if (!writer_lock && !leaf_is_current(page, cache->meta.generation)) {
      UnlockReleaseBuffer(buf);
      return InvalidBuffer;
    }
    learned_check_page(index, page, blkno, kPageLeaf);
    LearnedItemsHeader* h = learned_items_header(page);
    if (h->flags & kLeafFrozen) {
      h->flags &= ~kLeafFrozen;
      MarkBufferDirtyHint(buf, true);
    }
    // A key equal to the high fence belongs to the next leaf, which a cache read now shows
    // (one read just before may have missed the leaf, which is fine: scans start below it).
    if ((h->flags & kLeafIsLast) || key < h->high_fence || (key == h->high_fence && !first)) {
      return buf;
    }
    UnlockReleaseBuffer(buf);
  }
}

// Appends to the chain whose tail is `tail` (may be invalid). `owner` is the locked buffer that
// holds the chain's head/tail pointers (a leaf, or the metapage for NULLs); `owner_update` sets
// them. Releases nothing it did not lock itself.
// New pages get `widths`, which must take any item of the chain (so an append to a new page
// always succeeds).
template <typename UpdateOwner>
void append_to_chain(Relation index, Buffer owner, BlockNumber tail, LearnedPageKind kind, uint32 generation,
                     uint64 key, ItemPointer tid, const LearnedItemsHeader* proto,
                     const omen::leaf::Widths& widths, UpdateOwner owner_update) {
  Buffer tbuf = InvalidBuffer;
  if (tail != InvalidBlockNumber) {
    tbuf = ReadBuffer(index, tail);
    LockBuffer(tbuf, BUFFER_LOCK_EXCLUSIVE);
    learned_check_page(index, BufferGetPage(tbuf), tail, kind);
    if (learned_items_can_append(BufferGetPage(tbuf), key, tid)) {
      learned_log_append(index, tbuf, key, tid);
      UnlockReleaseBuffer(tbuf);
      return;
    }
  }
  Buffer nbuf = learned_new_buffer(index);
  BlockNumber nblk = BufferGetBlockNumber(nbuf);
  GenericXLogState* xs = GenericXLogStart(index);
  Page opage = learned_meta_cover(GenericXLogRegisterBuffer(xs, owner, 0));
  Page npage = GenericXLogRegisterBuffer(xs, nbuf, GENERIC_XLOG_FULL_IMAGE);
  learned_init_items_page(npage, kind, generation, widths);
  LearnedItemsHeader* nh = learned_items_header(npage);
  nh->low_fence = proto->low_fence;
  nh->high_fence = proto->high_fence;
  nh->leaf_no = proto->leaf_no;
  learned_items_append(npage, key, tid);  // `widths` take any item of the chain
  if (tbuf != InvalidBuffer) {
    Page tpage = GenericXLogRegisterBuffer(xs, tbuf, 0);
    learned_items_header(tpage)->next = nblk;
  }
  owner_update(opage, nblk, tbuf == InvalidBuffer);
  GenericXLogFinish(xs);
  UnlockReleaseBuffer(nbuf);
  if (tbuf != InvalidBuffer) UnlockReleaseBuffer(tbuf);
}

// Inserts a NULL. A NULLS NOT DISTINCT unique index checks the null chain first, under the
// metapage's lock (held by every NULL insert); then the result says whether to wait or fail
// (nothing inserted) or, UNIQUE_CHECK_EXISTING, only what the check found.
LearnedUnique insert_null(Relation index, Relation heap, ItemPointer tid, IndexUniqueCheck mode) {
  LearnedUnique u{true, false, InvalidTransactionId, 0};
  Buffer mbuf = ReadBuffer(index, kLearnedMetaBlock);
  LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
  Page mpage = BufferGetPage(mbuf);
  learned_check_page(index, mpage, kLearnedMetaBlock, kPageMeta);
  LearnedMeta* meta = learned_meta(mpage);
  if (mode != UNIQUE_CHECK_NO && index->rd_index->indnullsnotdistinct) {
    u = learned_unique_check_nulls(index, heap, meta->null_head, tid, mode);
    if (u.conflict || TransactionIdIsValid(u.wait_xid) || mode == UNIQUE_CHECK_EXISTING) {
      UnlockReleaseBuffer(mbuf);
      return u;
    }
  }
  LearnedItemsHeader proto;
  memset(&proto, 0, sizeof proto);
  append_to_chain(index, mbuf, meta->null_tail, kPageNull, meta->generation, 0, tid, &proto,
                  learned_wide_widths(0, false), [](Page owner, BlockNumber nblk, bool first) {
                    LearnedMeta* m = learned_meta(owner);
                    if (first) m->null_head = nblk;
                    m->null_tail = nblk;
                  });
  UnlockReleaseBuffer(mbuf);
  return u;
}

// After a check that found a running transaction's row: wait for it (its speculative insertion,
// if it is one) before checking again, as btree does.
void wait_for(const LearnedUnique& u, Relation heap, ItemPointer tid) {
  if (u.spec_token != 0)
    SpeculativeInsertionWait(u.wait_xid, u.spec_token);
  else
    XactLockTableWait(u.wait_xid, heap, tid, XLTW_InsertIndex);
}

}  // namespace

extern "C" bool learned_insert(Relation index, Datum* values, bool* isnull, ItemPointer tid, Relation heap,
                               IndexUniqueCheck mode, bool, IndexInfo*) {
  // Sparse layout: a row within its heap block's range needs no entry (learned_sparse_tail.cpp:
  // a row in a new block extends the ranges); any other row is an exception, inserted as below.
  if (!isnull[0] && learned_layout_cache(index)->meta.layout == kLayoutSparse &&
      sparse_insert_fits(index, heap, omen_key_encode(values[0], index->rd_opcintype[0]), tid))
    return false;
  // A unique index checks first, holding the locks it inserts under; a running transaction's
  // duplicate is waited for with no lock held, then everything again (learned_unique.cpp).
  uint64 key = isnull[0] ? 0 : omen_key_encode(values[0], index->rd_opcintype[0]);
  uint64 build_keys = 0;
  Buffer buf = InvalidBuffer;
  LearnedUnique u{true, false, InvalidTransactionId, 0};
  bool writer_lock = false;  // held: kLearnedWriterLock
  for (;;) {
    if (isnull[0]) {
      LockPage(index, kLearnedMetaBlock, kLearnedWriterLock);
      u = insert_null(index, heap, tid, mode);
      UnlockPage(index, kLearnedMetaBlock, kLearnedWriterLock);
      if (!TransactionIdIsValid(u.wait_xid)) break;
      wait_for(u, heap, tid);
      continue;
    }
    const LearnedCache* cache;
    buf = lock_target_leaf(index, key, &cache, writer_lock);
    if (!BufferIsValid(buf)) {  // a re-train runs, or swapped generations since the cache was read
      LockPage(index, kLearnedMetaBlock, kLearnedWriterLock);
      writer_lock = true;
      continue;
    }
    build_keys = cache->meta.build_keys;
    if (mode == UNIQUE_CHECK_NO) break;
    u = learned_unique_check(index, heap, cache, buf, key, values[0], tid, mode);
    if (!u.conflict && !TransactionIdIsValid(u.wait_xid) && mode != UNIQUE_CHECK_EXISTING) break;
    UnlockReleaseBuffer(buf);
    if (writer_lock) UnlockPage(index, kLearnedMetaBlock, kLearnedWriterLock);
    writer_lock = false;
    if (!TransactionIdIsValid(u.wait_xid)) break;
    wait_for(u, heap, tid);
  }
  if (u.conflict) learned_unique_violation(index, heap, values[0], isnull[0]);
  if (isnull[0] || mode == UNIQUE_CHECK_EXISTING) return mode != UNIQUE_CHECK_NO && u.is_unique;
  bool retrain = false;
  Page page = BufferGetPage(buf);
  if (learned_edge_wants_leaf(index, page, key, tid)) {
    learned_edge_add_leaf(index, buf, key, tid);
  } else if (learned_items_can_append(page, key, tid)) {
    learned_log_append(index, buf, key, tid);  // into the gap
  } else {
    // Full, or the key/TID is wider than the leaf's widths (below leaf 0's first key, beyond the
    // last leaf's range, a heap block past the build's TID width): the overflow chain.
    LearnedItemsHeader proto = *learned_items_header(page);
    append_to_chain(index, buf, proto.tail, kPageOverflow, learned_special(page)->generation, key, tid,
                    &proto, learned_overflow_widths(proto.low_fence, proto.high_fence),
                    [](Page owner, BlockNumber nblk, bool first) {
                      LearnedItemsHeader* h = learned_items_header(owner);
                      if (first) h->next = nblk;
                      h->tail = nblk;
                      h->chain_pages++;
                    });
    retrain = learned_items_header(page)->chain_pages >= kLearnedRetrainChainPages &&
              build_keys <= kLearnedInsertRetrainMaxKeys;
  }
  UnlockReleaseBuffer(buf);
  if (writer_lock) UnlockPage(index, kLearnedMetaBlock, kLearnedWriterLock);
  // A long chain makes every probe of its leaf read it: re-train, unless another writer is busy
  // (then a later insert or VACUUM will).
  if (retrain) learned_retrain(index, false);
  return mode != UNIQUE_CHECK_NO && u.is_unique;
}
