// Edge leaves of a `learned` index: the insert path for keys appended at the right edge.
//
// A table that only grows at the right edge (timestamps, serial ids) sends every new key past the
// last build fence, i.e. to the last leaf. Instead of an ever longer unsorted overflow chain there,
// a key at or above the last leaf's largest key (and its overflow chain's) starts a new *edge
// leaf* once the last leaf is full (kLearnedEdgeSlack slots kept for keys that arrive slightly out
// of order; later ones go to the leaf's overflow chain). Edge leaves continue the leaf numbering of
// the generation (leaf nleaves + j is edge leaf j); an edge leaf's fence is the key that opened it,
// which is >= every key of the leaf before it, so invariants I1..I4 hold over build and edge leaves
// alike. The edge leaves can be any block (a page VACUUM freed, or a new one): the *edge
// directory*, a chain of kPageDir pages, lists (fence, block) per edge leaf, append-only within a
// generation; readers cache it (learned_cache.cpp). A re-train folds the edge leaves into the new
// generation's build leaves; nothing forces one (edge leaves are as dense as build leaves).
//
// Concurrency: an edge leaf is added only by a writer holding the exclusive lock of the current
// last leaf, so additions are serialized; it is one GenericXLog record over the old last leaf
// (its high fence), the new leaf, the directory tail and the metapage (edge_nleaves). A directory
// page is added by its own record first. Readers that loaded the cache before an addition see the
// old last leaf's new high fence and move right through the refreshed cache.
#include "learned_items.h"

namespace {

// pd_lower past the used entries: GenericXLog then diffs only what is used.
void dir_set_lower(Page page) {
  char* end = reinterpret_cast<char*>(learned_dir_entries(page) + learned_dir_header(page)->nentries);
  ((PageHeader)page)->pd_lower = static_cast<LocationIndex>(end - reinterpret_cast<char*>(page));
}

void init_dir_page(Page page, uint32 generation, uint32 first_leaf) {
  learned_init_page(page, kPageDir, generation);
  LearnedDirHeader* h = learned_dir_header(page);
  memset(h, 0, sizeof *h);
  h->first_leaf = first_leaf;
  h->next = InvalidBlockNumber;
  dir_set_lower(page);
}

uint64 largest_key(Page page) {
  LearnedItemsHeader* h = learned_items_header(page);
  if (h->nitems == 0) return 0;
  if (h->nsorted == h->nitems) return learned_item_key(page, h->nitems - 1);
  uint64 max = 0;
  for (int i = 0; i < h->nitems; i++) max = Max(max, learned_item_key(page, i));
  return max;
}

// Widths of a new edge leaf opened by (key, tid) after the last leaf `last`: keys from `key` over
// twice the key range the last leaf filled (at least 8 bits; the data arriving at the right edge
// is assumed to be as dense as the data before it), in the last leaf's key scale while the key is
// a whole number of its units from the last leaf's base (else scale 1, and so every later edge
// leaf), TIDs absolute (deletes and VACUUM let appends reuse old heap blocks), as wide as the
// last leaf's and as the new TID's block with one bit of headroom.
omen::leaf::Widths edge_widths(Page last, uint64 key, ItemPointer tid) {
  LearnedItemsHeader* h = learned_items_header(last);
  omen::leaf::Widths w = learned_widths(h);
  uint64 span = h->nitems > 0 ? largest_key(last) - h->key_base : 0;
  if (key < h->key_base || (key - h->key_base) % w.key_scale != 0) w.key_scale = 1;
  w.key_base = key;
  w.key_bits = Min(64u, Max(8u, omen::leaf::bits_for(span / w.key_scale) + 1));
  w.block_base = 0;
  w.block_bits = Min(32u, Max(w.block_bits, omen::leaf::bits_for(ItemPointerGetBlockNumberNoCheck(tid)) + 1));
  w.offset_bits = Max(w.offset_bits, omen::leaf::bits_for(ItemPointerGetOffsetNumberNoCheck(tid)));
  return w;
}

}  // namespace

bool learned_edge_wants_leaf(Relation index, Page page, uint64 key, ItemPointer tid) {
  LearnedItemsHeader* h = learned_items_header(page);
  if (!(h->flags & kLeafIsLast) || h->nitems == 0) return false;
  // Nearly full, or the item is past the leaf's packed widths (a new leaf gets its own). Tested
  // before the largest key, which is a pass over the leaf once concurrent appenders' keys arrived
  // out of order (nsorted < nitems): most appends return here at the cost of a comparison.
  if (h->nitems + kLearnedEdgeSlack < h->capacity && learned_item_fits(page, key, tid)) return false;
  if (key < largest_key(page)) return false;
  // Keys that arrived out of order beyond the slack sit in the overflow chain (short: they are
  // below the leaf's largest key); the new fence must not be below any of them.
  LearnedChain c = learned_chain_begin(index, h->next, kPageOverflow, BUFFER_LOCK_SHARE);
  while (learned_chain_next(&c)) {
    if (largest_key(c.page) > key) {
      learned_chain_release(&c);
      return false;
    }
  }
  return true;
}

void learned_edge_add_leaf(Relation index, Buffer last, uint64 key, ItemPointer tid) {
  // Edge fields of the metapage change only here, under the last leaf's lock, which we hold.
  LearnedMeta meta;
  learned_read_meta(index, &meta);
  Page lpage = BufferGetPage(last);
  omen::leaf::Widths widths = edge_widths(lpage, key, tid);
  uint32 generation = learned_special(lpage)->generation;
  uint32 leaf_no = learned_items_header(lpage)->leaf_no;
  if (generation != meta.generation || leaf_no + 1 != meta.nleaves + meta.edge_nleaves)
    elog(ERROR, "learned index \"%s\": leaf %u of generation %u is not the last leaf",
         RelationGetRelationName(index), leaf_no, generation);

  Buffer nbuf = learned_new_buffer(index);
  BlockNumber nblk = BufferGetBlockNumber(nbuf);
  Buffer dbuf = InvalidBuffer;
  if (meta.edge_dir_tail != InvalidBlockNumber) {
    dbuf = ReadBuffer(index, meta.edge_dir_tail);
    LockBuffer(dbuf, BUFFER_LOCK_EXCLUSIVE);
    learned_check_dir_page(index, BufferGetPage(dbuf), meta.edge_dir_tail);
  }
  Buffer mbuf = InvalidBuffer;
  if (dbuf == InvalidBuffer ||
      learned_dir_header(BufferGetPage(dbuf))->nentries == kLearnedDirEntriesPerPage) {
    // A new directory page first (its own record: a crash after it leaves an empty page linked).
    Buffer ndbuf = learned_new_buffer(index);
    BlockNumber ndblk = BufferGetBlockNumber(ndbuf);
    mbuf = ReadBuffer(index, kLearnedMetaBlock);
    LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
    GenericXLogState* xs = GenericXLogStart(index);
    init_dir_page(GenericXLogRegisterBuffer(xs, ndbuf, GENERIC_XLOG_FULL_IMAGE), generation,
                  meta.edge_nleaves);
    if (dbuf != InvalidBuffer) learned_dir_header(GenericXLogRegisterBuffer(xs, dbuf, 0))->next = ndblk;
    LearnedMeta* m = learned_meta(learned_meta_cover(GenericXLogRegisterBuffer(xs, mbuf, 0)));
    if (m->edge_dir_head == InvalidBlockNumber) m->edge_dir_head = ndblk;
    m->edge_dir_tail = ndblk;
    GenericXLogFinish(xs);
    if (dbuf != InvalidBuffer) UnlockReleaseBuffer(dbuf);
    dbuf = ndbuf;
  } else {
    mbuf = ReadBuffer(index, kLearnedMetaBlock);
    LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
  }

  GenericXLogState* xs = GenericXLogStart(index);
  LearnedItemsHeader* lh = learned_items_header(GenericXLogRegisterBuffer(xs, last, 0));
  lh->high_fence = key;
  lh->flags &= ~kLeafIsLast;
  Page npage = GenericXLogRegisterBuffer(xs, nbuf, GENERIC_XLOG_FULL_IMAGE);
  learned_init_items_page(npage, kPageLeaf, generation, widths);
  LearnedItemsHeader* nh = learned_items_header(npage);
  nh->low_fence = key;
  nh->high_fence = PG_UINT64_MAX;
  nh->flags |= kLeafIsLast;  // beside the widths' flags (kLeafKeyScale)
  nh->leaf_no = leaf_no + 1;
  learned_items_append(npage, key, tid);
  Page dpage = GenericXLogRegisterBuffer(xs, dbuf, 0);
  LearnedDirHeader* dh = learned_dir_header(dpage);
  learned_dir_entries(dpage)[dh->nentries] = LearnedDirEntry{key, nblk, 0};
  dh->nentries++;
  dir_set_lower(dpage);
  learned_meta(learned_meta_cover(GenericXLogRegisterBuffer(xs, mbuf, 0)))->edge_nleaves++;
  GenericXLogFinish(xs);
  UnlockReleaseBuffer(mbuf);
  UnlockReleaseBuffer(dbuf);
  UnlockReleaseBuffer(nbuf);
}
