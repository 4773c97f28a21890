// The items of leaf, overflow and null pages of the `learned` index: the only code that knows the
// packed layout (key and TID bit arrays, omen/leaf_codec.h; docs/format.md). A private header of
// the files that read or write items; everything else sees pages through learned.h.
#pragma once

#include "learned.h"

// The scale keys are stored divided by (1 unless kLeafKeyScale; a corrupt code reads as 1, and
// omendb_index_verify reports it).
inline uint64 learned_key_scale(const LearnedItemsHeader* h) {
  if ((h->flags & kLeafKeyScale) == 0) return 1;
  uint64 s = omen::leaf::scale_of_code(h->key_scale_code);
  return s == 0 ? 1 : s;
}
// The block base TIDs are stored relative to (0 unless kLeafTidBase).
inline BlockNumber learned_block_base(const LearnedItemsHeader* h) {
  return (h->flags & kLeafTidBase) != 0 ? h->block_base : 0;
}
// The widths of an items page.
inline omen::leaf::Widths learned_widths(const LearnedItemsHeader* h) {
  omen::leaf::Widths w;
  w.key_base = h->key_base;
  w.key_bits = h->key_bits;
  w.key_scale = learned_key_scale(h);
  w.block_base = learned_block_base(h);
  w.block_bits = h->block_bits;
  w.offset_bits = h->offset_bits;
  return w;
}
// Entries that fit in an items page at widths `w`.
inline uint16 learned_items_capacity(const omen::leaf::Widths& w) {
  return static_cast<uint16>(omen::leaf::capacity(kLearnedItemsSpace, w, kLearnedMaxItems));
}
inline uint8* learned_key_array(Page page) {
  return reinterpret_cast<uint8*>(PageGetContents(page)) + MAXALIGN(sizeof(LearnedItemsHeader));
}
inline uint8* learned_tid_array(Page page) {
  const LearnedItemsHeader* h = learned_items_header(page);
  return learned_key_array(page) + omen::leaf::packed_bytes(h->capacity, h->key_bits);
}
inline uint64 learned_item_key(Page page, int i) {
  const LearnedItemsHeader* h = learned_items_header(page);
  return h->key_base +
         omen::leaf::get(learned_key_array(page), static_cast<Size>(i), h->key_bits) * learned_key_scale(h);
}
// Slot of item i's TID in the TID array: items fill it from the end (item 0 in the last slot), so
// the used TID bits sit at the end of the item area and the unused space is one hole between the
// used keys and the used TIDs (pd_lower .. pd_upper, learned_items_set_bounds).
inline Size learned_tid_slot(const LearnedItemsHeader* h, int i) {
  return static_cast<Size>(h->capacity - 1 - i);
}
inline ItemPointerData learned_item_tid(Page page, int i) {
  const LearnedItemsHeader* h = learned_items_header(page);
  uint64 v = omen::leaf::get(learned_tid_array(page), learned_tid_slot(h, i), h->block_bits + h->offset_bits);
  ItemPointerData tid;
  ItemPointerSet(&tid, learned_block_base(h) + static_cast<BlockNumber>(v >> h->offset_bits),
                 static_cast<OffsetNumber>(v & omen::leaf::max_value(h->offset_bits)));
  return tid;
}
// True when (key, tid) can be stored in `page` at its widths (there may be no room left).
inline bool learned_item_fits(Page page, uint64 key, const ItemPointerData* tid) {
  return omen::leaf::fits(learned_widths(learned_items_header(page)), key,
                          ItemPointerGetBlockNumberNoCheck(tid), ItemPointerGetOffsetNumberNoCheck(tid));
}
// Stores (key, tid) as item i. REQUIRES: i < capacity and learned_item_fits(page, key, tid).
inline void learned_item_put(Page page, int i, uint64 key, const ItemPointerData* tid) {
  const LearnedItemsHeader* h = learned_items_header(page);
  Assert(learned_item_fits(page, key, tid) && i < h->capacity);
  const omen::leaf::Widths w = learned_widths(h);
  omen::leaf::put(learned_key_array(page), static_cast<Size>(i), h->key_bits, omen::leaf::pack_key(w, key));
  uint64 packed =
      omen::leaf::pack_tid(w, ItemPointerGetBlockNumberNoCheck(tid), ItemPointerGetOffsetNumberNoCheck(tid));
  omen::leaf::put(learned_tid_array(page), learned_tid_slot(h, i), h->block_bits + h->offset_bits, packed);
}
// True when (key, tid) can be appended to `page`: room left, and it fits the page's widths.
inline bool learned_items_can_append(Page page, uint64 key, const ItemPointerData* tid) {
  return learned_items_header(page)->nitems < learned_items_header(page)->capacity &&
         learned_item_fits(page, key, tid);
}
// Calls f(key, tid) for items [from, to), decoding with the widths read once (scan batches).
template <typename F>
inline void learned_items_for_each(Page page, int from, int to, F f) {
  const LearnedItemsHeader* h = learned_items_header(page);
  const uint8* keys = learned_key_array(page);
  const uint8* tids = learned_tid_array(page);
  unsigned kb = h->key_bits, tb = h->block_bits + h->offset_bits, ob = h->offset_bits;
  uint64 base = h->key_base, scale = learned_key_scale(h), omask = omen::leaf::max_value(ob);
  BlockNumber bbase = learned_block_base(h);
  for (int i = from; i < to; i++) {
    uint64 v = omen::leaf::get(tids, learned_tid_slot(h, i), tb);
    ItemPointerData tid;
    ItemPointerSet(&tid, bbase + static_cast<BlockNumber>(v >> ob), static_cast<OffsetNumber>(v & omask));
    f(base + omen::leaf::get(keys, static_cast<Size>(i), kb) * scale, tid);
  }
}
// First sorted item (among [0, nsorted)) whose key is >= key; nsorted if none.
inline int learned_sorted_lower_bound(Page page, uint64 key) {
  const LearnedItemsHeader* h = learned_items_header(page);
  return static_cast<int>(omen::leaf::lower_bound(learned_key_array(page), h->nsorted, h->key_bits,
                                                  h->key_base, learned_key_scale(h), key));
}

// Widths that take any key >= base (key_bits 0 for null pages: no keys) and any TID.
omen::leaf::Widths learned_wide_widths(uint64 base, bool with_keys);
// Widths of a new overflow page of a leaf with fences [low, high]: every key the leaf may
// receive fits (keys relative to low), TIDs at full width (inserts bring TIDs of any block).
omen::leaf::Widths learned_overflow_widths(uint64 low_fence, uint64 high_fence);
// Sets pd_lower just past the last used key byte and pd_upper at the first byte holding a used TID
// bit, so GenericXLog diffs, full-page images and wal_consistency_checking skip the hole. Every
// unused slot's bits are zero (init zeroes, learned_items_truncate clears), so the partial bytes at
// the hole's edges are deterministic.
void learned_items_set_bounds(Page page);
// Drops items [n, nitems) (clearing their slots) and sets nsorted; then learned_items_set_bounds.
// REQUIRES: n <= nitems, nsorted <= n.
void learned_items_truncate(Page page, int n, int nsorted);
// Appends (key, tid) to an items page. REQUIRES: learned_items_can_append. The sorted prefix grows
// with it while every item is in it and (key, tid) is not below the last one, so keys appended in
// order stay binary searchable. Used by inserts and by WAL redo (learned_wal.cpp).
void learned_items_append(Page page, uint64 key, const ItemPointerData* tid);
// The byte ranges that learned_items_append changed when it appended the page's last item (call
// right after it): pd_lower and pd_upper through the item counts of the items header, the bytes
// holding the new key's bits and the bytes holding its TID's bits. With the zero hole between
// pd_lower and pd_upper they are every byte the append changed or took out of the hole, so a
// generic WAL delta of these ranges rebuilds the page (omen_wal_log_generic_delta). Returns how
// many ranges it wrote to out[0..3) (an empty key range is left out: key_bits 0).
int learned_items_append_ranges(Page page, OmenByteRange out[3]);
