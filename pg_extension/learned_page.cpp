// Page format of the `learned` index (learned.h, docs/format.md): initializing and checking pages,
// the items layout's writes, the metapage, and the walk over a chain of pages.
#include "learned_items.h"

void learned_init_page(Page page, LearnedPageKind kind, uint32 generation) {
  PageInit(page, BLCKSZ, sizeof(LearnedSpecial));
  LearnedSpecial* sp = learned_special(page);
  sp->kind = kind;
  sp->page_id = kLearnedPageId;
  sp->generation = generation;
}

void learned_init_items_page(Page page, LearnedPageKind kind, uint32 generation,
                             const omen::leaf::Widths& w) {
  learned_init_page(page, kind, generation);
  LearnedItemsHeader* h = learned_items_header(page);
  memset(h, 0, sizeof *h);
  h->key_base = w.key_base;
  h->key_bits = static_cast<uint8>(w.key_bits);
  h->block_bits = static_cast<uint8>(w.block_bits);
  h->offset_bits = static_cast<uint8>(w.offset_bits);
  if (w.key_scale > 1) {
    h->key_scale_code = omen::leaf::scale_code(w.key_scale);
    h->flags |= kLeafKeyScale;
  }
  if (w.block_base != 0) {
    h->block_base = w.block_base;
    h->flags |= kLeafTidBase;
  }
  h->capacity = learned_items_capacity(w);
  h->next = InvalidBlockNumber;
  h->tail = InvalidBlockNumber;
  // Zeroed arrays: packed writes read-modify-write their neighbours' bytes, and the bytes past
  // the last item (slack) must be deterministic for WAL and page comparison.
  Size bytes = omen::leaf::packed_bytes(h->capacity, h->key_bits) +
               omen::leaf::packed_bytes(h->capacity, w.tid_bits());
  memset(learned_key_array(page), 0, bytes);
  learned_items_set_bounds(page);
}

Page learned_meta_cover(Page page) {
  if (PageIsNew(page) || PageGetSpecialSize(page) != MAXALIGN(sizeof(LearnedSpecial)) ||
      learned_special(page)->kind != kPageMeta)
    return page;
  auto end = static_cast<LocationIndex>(reinterpret_cast<char*>(learned_meta(page)) + sizeof(LearnedMeta) -
                                        reinterpret_cast<char*>(page));
  if (((PageHeader)page)->pd_lower < end) ((PageHeader)page)->pd_lower = end;
  return page;
}

void learned_init_meta_page(Page image, const LearnedMeta& meta) {
  learned_init_page(image, kPageMeta, meta.generation);
  memcpy(learned_meta(image), &meta, sizeof meta);
  ((PageHeader)image)->pd_lower = static_cast<LocationIndex>(reinterpret_cast<char*>(learned_meta(image)) +
                                                             sizeof meta - reinterpret_cast<char*>(image));
}

omen::leaf::Widths learned_wide_widths(uint64 base, bool with_keys) {
  return omen::leaf::wide_widths(base, with_keys);
}

omen::leaf::Widths learned_overflow_widths(uint64 low_fence, uint64 high_fence) {
  omen::leaf::Widths w = omen::leaf::wide_widths(low_fence, true);
  w.key_bits = omen::leaf::bits_for(high_fence - low_fence);
  return w;
}

void learned_items_set_bounds(Page page) {
  const LearnedItemsHeader* h = learned_items_header(page);
  char* base = reinterpret_cast<char*>(page);
  Size n = h->nitems, free_slots = static_cast<Size>(h->capacity) - n;
  Size key_used = (n * h->key_bits + 7) / 8;                                           // bytes, rounded up
  Size tid_hole = free_slots * static_cast<Size>(h->block_bits + h->offset_bits) / 8;  // rounded down
  char* lower = reinterpret_cast<char*>(learned_key_array(page)) + key_used;
  char* upper = reinterpret_cast<char*>(learned_tid_array(page)) + tid_hole;
  Assert(lower <= upper && upper <= base + ((PageHeader)page)->pd_special);
  ((PageHeader)page)->pd_lower = static_cast<LocationIndex>(lower - base);
  ((PageHeader)page)->pd_upper = static_cast<LocationIndex>(upper - base);
}

void learned_items_truncate(Page page, int n, int nsorted) {
  LearnedItemsHeader* h = learned_items_header(page);
  Assert(n <= h->nitems && nsorted <= n);
  unsigned tb = h->block_bits + h->offset_bits;
  for (int i = n; i < h->nitems; i++) {
    omen::leaf::put(learned_key_array(page), static_cast<Size>(i), h->key_bits, 0);
    omen::leaf::put(learned_tid_array(page), learned_tid_slot(h, i), tb, 0);
  }
  h->nitems = static_cast<uint16>(n);
  h->nsorted = static_cast<uint16>(nsorted);
  learned_items_set_bounds(page);
}

void learned_items_append(Page page, uint64 key, const ItemPointerData* tid) {
  LearnedItemsHeader* h = learned_items_header(page);
  int n = h->nitems;
  bool in_order = h->nsorted == n;
  if (in_order && n > 0) {
    uint64 last = learned_item_key(page, n - 1);
    ItemPointerData last_tid = learned_item_tid(page, n - 1);
    in_order =
        last < key || (last == key && ItemPointerCompare(&last_tid, const_cast<ItemPointer>(tid)) <= 0);
  }
  learned_item_put(page, n, key, tid);
  h->nitems++;
  if (in_order) h->nsorted++;
  learned_items_set_bounds(page);
}

int learned_items_append_ranges(Page page, OmenByteRange out[3]) {
  const LearnedItemsHeader* h = learned_items_header(page);
  Assert(h->nitems > 0);
  const char* base = reinterpret_cast<const char*>(page);
  auto range = [base](const void* from, const void* to) {
    OmenByteRange r;
    r.off = static_cast<uint16>(static_cast<const char*>(from) - base);
    r.len = static_cast<uint16>(static_cast<const char*>(to) - static_cast<const char*>(from));
    return r;
  };
  // pd_lower and pd_upper are adjacent in the page header; nitems, capacity and nsorted lead the
  // items header (capacity never changes: rewriting it keeps the range one piece).
  static_assert(offsetof(PageHeaderData, pd_upper) ==
                offsetof(PageHeaderData, pd_lower) + sizeof(LocationIndex));
  static_assert(offsetof(LearnedItemsHeader, nitems) == 0 && offsetof(LearnedItemsHeader, nsorted) == 4);
  int n = 0;
  out[n++] =
      range(base + offsetof(PageHeaderData, pd_lower),
            reinterpret_cast<const char*>(h) + offsetof(LearnedItemsHeader, nsorted) + sizeof h->nsorted);
  // The bits of a w-bit value at slot s lie in bytes [s*w / 8, ceil((s+1)*w / 8)).
  Size i = h->nitems - 1;
  const uint8* keys = learned_key_array(page);
  if (h->key_bits > 0) out[n++] = range(keys + i * h->key_bits / 8, keys + ((i + 1) * h->key_bits + 7) / 8);
  Size tb = h->block_bits + h->offset_bits, slot = learned_tid_slot(h, static_cast<int>(i));
  const uint8* tids = learned_tid_array(page);
  if (tb > 0) out[n++] = range(tids + slot * tb / 8, tids + ((slot + 1) * tb + 7) / 8);
  return n;
}

void learned_check_page(Relation index, Page page, BlockNumber blkno, LearnedPageKind kind) {
  if (PageIsNew(page))
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                    errmsg("index \"%s\" block %u is uninitialized", RelationGetRelationName(index), blkno),
                    errhint("REINDEX the index.")));
  LearnedSpecial* sp = learned_special(page);
  if (PageGetSpecialSize(page) != MAXALIGN(sizeof(LearnedSpecial)) || sp->page_id != kLearnedPageId ||
      sp->kind != kind)
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                    errmsg("index \"%s\" block %u is not a learned index page of kind %d",
                           RelationGetRelationName(index), blkno, static_cast<int>(kind)),
                    errhint("REINDEX the index.")));
}

void learned_read_meta(Relation index, LearnedMeta* meta) {
  Buffer buf = ReadBuffer(index, kLearnedMetaBlock);
  LockBuffer(buf, BUFFER_LOCK_SHARE);
  Page page = BufferGetPage(buf);
  LearnedSpecial* sp = learned_special(page);
  bool ok = !PageIsNew(page) && PageGetSpecialSize(page) == MAXALIGN(sizeof(LearnedSpecial)) &&
            sp->page_id == kLearnedPageId && sp->kind == kPageMeta;
  if (ok) memcpy(meta, learned_meta(page), sizeof *meta);
  UnlockReleaseBuffer(buf);
  if (!ok)
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                    errmsg("index \"%s\" has no valid learned metapage", RelationGetRelationName(index)),
                    errhint("REINDEX the index.")));
  if (meta->magic != kLearnedMagic)
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                    errmsg("index \"%s\" is not a learned index (magic %08x, expected %08x)",
                           RelationGetRelationName(index), meta->magic, kLearnedMagic),
                    errhint("REINDEX the index.")));
  uint32 v = meta->version;
  if (v != kLearnedV2 && v != kLearnedSparseV3 && v != kLearnedVersion && v != kLearnedSparseVersion)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("index \"%s\" has learned format version %u, this omendb reads %u to %u",
                           RelationGetRelationName(index), v, kLearnedV2, kLearnedSparseVersion),
                    errhint("REINDEX the index.")));
  // A version 2 metapage predates the layout field (its place may hold the old struct's padding):
  // dense, whatever it says.
  if (v == kLearnedV2) meta->layout = kLayoutDense;
  bool sparse = v == kLearnedSparseV3 || v == kLearnedSparseVersion;
  if (v != kLearnedV2 && meta->layout != (sparse ? kLayoutSparse : kLayoutDense))
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                    errmsg("index \"%s\" has learned format version %u with layout %u",
                           RelationGetRelationName(index), v, meta->layout),
                    errhint("REINDEX the index.")));
}

void learned_check_dir_page(Relation index, Page page, BlockNumber blkno) {
  learned_check_page(index, page, blkno, kPageDir);
  if (learned_dir_header(page)->nentries > kLearnedDirEntriesPerPage)
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                    errmsg("learned index \"%s\" directory block %u holds %u entries",
                           RelationGetRelationName(index), blkno, learned_dir_header(page)->nentries),
                    errhint("REINDEX the index.")));
}

void learned_retrained_on_primary(Relation index) {
  ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                  errmsg("learned index \"%s\" was re-trained on the primary while this query read it",
                         RelationGetRelationName(index)),
                  errhint("Retry the query. hot_standby_feedback = on avoids this.")));
  pg_unreachable();
}

// ---- chains -----------------------------------------------------------------------------------

LearnedChain learned_chain_begin(Relation index, BlockNumber head, LearnedPageKind kind, int lock,
                                 bool check) {
  return LearnedChain{index, kind, lock, check, InvalidBuffer, InvalidBlockNumber, head, nullptr};
}

bool learned_chain_next(LearnedChain* c) {
  learned_chain_release(c);
  if (c->next == InvalidBlockNumber) return false;
  c->blkno = c->next;
  c->buf = ReadBuffer(c->index, c->blkno);
  LockBuffer(c->buf, c->lock);
  c->page = BufferGetPage(c->buf);
  if (c->check) {
    if (c->kind == kPageDir)
      learned_check_dir_page(c->index, c->page, c->blkno);
    else
      learned_check_page(c->index, c->page, c->blkno, c->kind);
  }
  c->next = c->kind == kPageDir ? learned_dir_header(c->page)->next : learned_items_header(c->page)->next;
  return true;
}

void learned_chain_release(LearnedChain* c) {
  if (c->buf != InvalidBuffer) UnlockReleaseBuffer(c->buf);
  c->buf = InvalidBuffer;
}

Buffer learned_chain_keep(LearnedChain* c) {
  Buffer buf = c->buf;
  c->buf = InvalidBuffer;
  return buf;
}
