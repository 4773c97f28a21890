// aminsert of the `learned` index.
//
// A key goes to its target leaf (the last leaf whose fence <= key, invariant I4): appended to the
// leaf's unsorted tail (its gap; a few bytes of WAL, no shifting), or, when the leaf is full or
// the item does not fit the leaf's packed widths, to the leaf's overflow chain (a new overflow page when the chain's tail is full). NULLs are
// appended to the null chain.
// Lock order: leaf -> overflow tail -> new page; metapage -> null tail -> new page. Every change
// is one GenericXLog record of at most 3 pages. Writers hold kLearnedWriterLock (learned.h) so a
// re-train never copies a leaf while it changes.
#include "learned_model.h"

extern "C" {
#include "storage/lmgr.h"
}

namespace {

// True when (key, tid) can be appended to `page`: room left, and the item fits the page's widths.
bool can_append(Page page, uint64 key, ItemPointer tid) {
  return learned_items_header(page)->nitems < learned_items_header(page)->capacity &&
         learned_item_fits(page, key, tid);
}

// Appends to the chain whose tail is `tail` (may be invalid). `owner` is the locked buffer that
// holds the chain's head/tail pointers (a leaf, or the metapage for NULLs); `owner_update` sets
// them. Releases nothing it did not lock itself.
// New pages get `widths`, which must take any item of the chain (so an append to a new page
// always succeeds).
template <typename UpdateOwner>
void append_to_chain(Relation index, Buffer owner, BlockNumber tail, LearnedPageKind kind,
                     uint32 generation, uint64 key, ItemPointer tid, const LearnedItemsHeader* proto,
                     const omen::leaf::Widths& widths, UpdateOwner owner_update) {
  Buffer tbuf = InvalidBuffer;
  if (tail != InvalidBlockNumber) {
    tbuf = ReadBuffer(index, tail);
    LockBuffer(tbuf, BUFFER_LOCK_EXCLUSIVE);
    learned_check_page(index, BufferGetPage(tbuf), tail, kind);
    if (can_append(BufferGetPage(tbuf), key, tid)) {
      GenericXLogState* xs = GenericXLogStart(index);
      learned_item_append(GenericXLogRegisterBuffer(xs, tbuf, 0), key, tid);
      GenericXLogFinish(xs);
      UnlockReleaseBuffer(tbuf);
      return;
    }
  }
  Buffer nbuf = learned_new_buffer(index);
  BlockNumber nblk = BufferGetBlockNumber(nbuf);
  GenericXLogState* xs = GenericXLogStart(index);
  Page opage = GenericXLogRegisterBuffer(xs, owner, 0);
  Page npage = GenericXLogRegisterBuffer(xs, nbuf, GENERIC_XLOG_FULL_IMAGE);
  learned_init_items_page(npage, kind, generation, widths);
  LearnedItemsHeader* nh = learned_items_header(npage);
  nh->low_fence = proto->low_fence;
  nh->high_fence = proto->high_fence;
  nh->leaf_no = proto->leaf_no;
  if (!learned_item_append(npage, key, tid))
    elog(ERROR, "learned index \"%s\": item does not fit a new chain page", RelationGetRelationName(index));
  if (tbuf != InvalidBuffer) {
    Page tpage = GenericXLogRegisterBuffer(xs, tbuf, 0);
    learned_items_header(tpage)->next = nblk;
  }
  owner_update(opage, nblk, tbuf == InvalidBuffer);
  GenericXLogFinish(xs);
  UnlockReleaseBuffer(nbuf);
  if (tbuf != InvalidBuffer) UnlockReleaseBuffer(tbuf);
}

void insert_null(Relation index, ItemPointer tid) {
  Buffer mbuf = ReadBuffer(index, kLearnedMetaBlock);
  LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
  Page mpage = BufferGetPage(mbuf);
  learned_check_page(index, mpage, kLearnedMetaBlock, kPageMeta);
  LearnedMeta* meta = learned_meta(mpage);
  LearnedItemsHeader proto;
  memset(&proto, 0, sizeof proto);
  append_to_chain(index, mbuf, meta->null_tail, kPageNull, meta->generation, 0, tid, &proto,
                  learned_wide_widths(0, false), [](Page owner, BlockNumber nblk, bool first) {
                    LearnedMeta* m = learned_meta(owner);
                    if (first) m->null_head = nblk;
                    m->null_tail = nblk;
                  });
  UnlockReleaseBuffer(mbuf);
}

}  // namespace

extern "C" bool learned_insert(Relation index, Datum* values, bool* isnull, ItemPointer tid,
                               Relation, IndexUniqueCheck, bool, IndexInfo*) {
  LockPage(index, kLearnedMetaBlock, kLearnedWriterLock);
  if (isnull[0]) {
    insert_null(index, tid);
    UnlockPage(index, kLearnedMetaBlock, kLearnedWriterLock);
    return false;
  }
  bool retrain = false;
  uint64 key = learned_encode(values[0], index->rd_opcintype[0]);
  LearnedCache* cache = learned_get_cache(index);
  uint32 leaf = learned_target_leaf(cache, key);
  BlockNumber blkno = cache->meta.leaf_start + leaf;

  Buffer buf = ReadBuffer(index, blkno);
  LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
  Page page = BufferGetPage(buf);
  learned_check_page(index, page, blkno, kPageLeaf);
  if (can_append(page, key, tid)) {
    GenericXLogState* xs = GenericXLogStart(index);
    learned_item_append(GenericXLogRegisterBuffer(xs, buf, 0), key, tid);  // into the unsorted tail
    GenericXLogFinish(xs);
  } else {
    // Full, or the key/TID is wider than the leaf's widths (below leaf 0's first key, beyond the
    // last leaf's range, a heap block past the build's TID width): the overflow chain.
    LearnedItemsHeader proto = *learned_items_header(page);
    append_to_chain(index, buf, proto.tail, kPageOverflow, learned_special(page)->generation, key, tid, &proto,
                    learned_overflow_widths(proto.low_fence, proto.high_fence), [](Page owner, BlockNumber nblk, bool first) {
                      LearnedItemsHeader* h = learned_items_header(owner);
                      if (first) h->next = nblk;
                      h->tail = nblk;
                      h->chain_pages++;
                    });
    retrain = learned_items_header(page)->chain_pages >= kLearnedRetrainChainPages &&
              cache->meta.build_keys <= kLearnedInsertRetrainMaxKeys;
  }
  UnlockReleaseBuffer(buf);
  UnlockPage(index, kLearnedMetaBlock, kLearnedWriterLock);
  // A long chain makes every probe of its leaf read it: re-train, unless another writer is busy
  // (then a later insert or VACUUM will).
  if (retrain) learned_retrain(index, false);
  return false;
}
