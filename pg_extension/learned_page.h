// On-disk format of a `learned` index (see docs/format.md for the essay).
//
// Every page is a standard Postgres page (PageHeaderData, pd_lower/pd_upper) with a LearnedSpecial
// in its special space naming the page kind. Block 0 is the metapage. A generation's build leaves
// are contiguous (leaf i < nleaves is block meta.leaf_start + i); its model pages are contiguous
// too. Edge leaves (i >= nleaves), appended by inserts at the right edge, are anywhere; the edge
// directory maps them to blocks (learned_edge.h).
//
// Invariants (kept by build, insert and vacuum; checked by omendb_index_verify):
//  I1  leaf i holds keys in [fence_i, fence_{i+1}] (closed: equal keys may span leaves); its first
//      nsorted items are sorted by (key, TID), the rest (inserts) unsorted; fence_0 = 0.
//  I2  the items of leaf i's overflow chain obey the same range, in any order.
//  I3  fences are immutable within a generation and non-decreasing in i (over build and edge
//      leaves; an edge leaf's fence is >= every key of the leaf before it when it is added).
//  I4  a key k lives in some leaf i with i >= last leaf whose fence < k (the scan start) and
//      i <= last leaf whose fence <= k (the insert target).
//  I5  NULLs live only in the null chain (meta.null_head), never in leaves.
#pragma once

#include "learned.h"

#include <omen/leaf_codec.h>

extern "C" {
#include "access/generic_xlog.h"
#include "storage/block.h"
#include "storage/itemptr.h"
}

inline constexpr uint32 kLearnedMagic = 0x4F4D4C49;  // "OMLI"
inline constexpr uint32 kLearnedVersion = 2;  // 2: bit-packed leaves (omen/leaf_codec.h), edge leaves and directory, 16-byte model segments
inline constexpr BlockNumber kLearnedMetaBlock = 0;

enum LearnedPageKind : uint16 {
  kPageMeta = 1,
  kPageLeaf = 2,
  kPageOverflow = 3,
  kPageModel = 4,
  kPageNull = 5,
  kPageFree = 6,  // emptied overflow/null page awaiting reuse through the FSM
  kPageDir = 7,   // edge directory: (fence, block) of the edge leaves appended past the build
};

// Special space of every page.
struct LearnedSpecial {
  uint16 kind;       // LearnedPageKind
  uint16 page_id;    // kLearnedPageId, identifies our pages (like BLOOM_PAGE_ID)
  uint32 generation; // generation that wrote the page
};
inline constexpr uint16 kLearnedPageId = 0xFF8A;

// The metapage contents (at PageGetContents of block 0).
struct LearnedMeta {
  uint32 magic;
  uint32 version;
  uint32 generation;    // bumped whenever leaves/model are replaced (rebuild)
  uint32 error_bound;   // epsilon requested (reloption error_bound) at build
  uint64 build_keys;    // non-NULL keys the model was trained on (positions 0..build_keys-1)
  uint32 leaf_cap;      // build positions per leaf: build position p is in leaf p / leaf_cap
  uint32 nleaves;       // >= 1
  BlockNumber leaf_start;
  BlockNumber model_start;  // segments, then fences (uint64 per leaf)
  uint32 model_pages;
  uint32 nsegments;     // 0 when no core model (empty index)
  BlockNumber null_head;   // null chain, InvalidBlockNumber if none
  BlockNumber null_tail;
  uint64 build_nulls;
  double mean_error;    // |predicted - true position| over the build keys
  uint64 max_error;
  Oid key_type;         // opcintype of the column
  uint32 model_epsilon; // error bound the core model proved (PgmModel::epsilon()), for from_segments
  // The previous generation after a re-train: its pages stay readable (scans that started before
  // the swap still use them) until no snapshot older than retired_xid exists; then VACUUM or the
  // next re-train frees them. retired_nleaves == 0: nothing retired.
  uint64 retired_xid;   // FullTransactionId (U64) of the transaction that re-trained
  BlockNumber retired_leaf_start;
  uint32 retired_nleaves;
  BlockNumber retired_model_start;
  uint32 retired_model_pages;
  // Edge leaves (learned_edge.h): leaves nleaves .. nleaves + edge_nleaves - 1 of this generation,
  // appended one by one at the right edge by inserts; their (fence, block) pairs are in the
  // directory chain edge_dir_head .. edge_dir_tail. edge_nleaves == 0: none (heads invalid).
  uint32 edge_nleaves;
  BlockNumber edge_dir_head;
  BlockNumber edge_dir_tail;
  // The retired generation's edge leaves and directory, freed with it.
  uint32 retired_edge_nleaves;
  BlockNumber retired_edge_dir_head;
};

// Leaf, overflow and null pages share one layout (format version 2): a header, then two
// bit-packed arrays of `capacity` entries (omen/leaf_codec.h): keys as (key - key_base) in
// key_bits bits each, then TIDs as (block << offset_bits | offset) in block_bits + offset_bits
// bits each. Item i's key is key slot i; its TID is TID slot capacity-1-i (learned_tid_slot), so
// the unused space is one hole. The widths are fixed when the page is initialized; `capacity`
// follows from them.
// Only the accessors below know this layout.
struct LearnedItemsHeader {
  uint16 nitems;
  uint16 capacity;         // entries that fit at this page's widths
  uint16 nsorted;          // leaf: items [0, nsorted) are sorted by (key, TID); the rest were
                           // appended by inserts in any order (a small WAL delta per insert)
  uint8 flags;
  uint8 key_bits;          // 0..64 (0: every key equals key_base; null pages store no keys)
  uint8 block_bits;        // 0..32
  uint8 offset_bits;       // 0..16
  uint16 reserved;
  uint32 leaf_no;          // leaf: i; overflow: the leaf it belongs to
  uint64 key_base;         // keys are stored as key - key_base
  uint64 low_fence;        // leaf: fence_i (I1); overflow: fence of its leaf
  uint64 high_fence;       // leaf: fence_{i+1}, or UINT64_MAX for the last leaf
  BlockNumber next;        // leaf: head of its overflow chain; overflow/null: next in the chain
  BlockNumber tail;        // leaf: last page of its overflow chain (appends go there)
  uint32 chain_pages;      // leaf: pages in its overflow chain (re-train trigger)
};

inline constexpr uint8 kLeafIsLast = 1;  // leaf: high_fence is +infinity

// Edge directory pages: a header, then `nentries` entries in leaf order; chained by `next`.
struct LearnedDirHeader {
  uint32 nentries;
  uint32 first_leaf;       // edge index (0-based, below edge_nleaves) of entry 0
  BlockNumber next;        // next directory page, or InvalidBlockNumber
  uint32 unused;
};
struct LearnedDirEntry {
  uint64 fence;            // the edge leaf's low fence
  BlockNumber blkno;       // the edge leaf's block
  uint32 unused;
};
inline constexpr uint32 kLearnedDirEntriesPerPage = static_cast<uint32>(
    (BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(LearnedSpecial)) -
     MAXALIGN(sizeof(LearnedDirHeader))) / sizeof(LearnedDirEntry));

// Bytes for the two packed arrays of a leaf/overflow/null page, derived from BLCKSZ.
inline constexpr Size kLearnedItemsSpace =
    BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(LearnedSpecial)) -
    MAXALIGN(sizeof(LearnedItemsHeader));
// Upper bound of `capacity` (narrow widths could otherwise exceed uint16 and make huge batches).
inline constexpr uint16 kLearnedMaxItems = 8192;

// Model pages: a flat byte stream of segments then fences, split over pages.
inline constexpr Size kLearnedModelBytesPerPage =
    BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(LearnedSpecial));

// Page accessors.
inline LearnedSpecial* learned_special(Page page) {
  return reinterpret_cast<LearnedSpecial*>(PageGetSpecialPointer(page));
}

// True when the page holds nothing and may be reused: freed (kind free) or never initialized.
inline bool learned_page_is_free(Page page) {
  return PageIsNew(page) ||
         (PageGetSpecialSize(page) == MAXALIGN(sizeof(LearnedSpecial)) && learned_special(page)->kind == kPageFree);
}
inline LearnedMeta* learned_meta(Page page) {
  return reinterpret_cast<LearnedMeta*>(PageGetContents(page));
}
inline LearnedItemsHeader* learned_items_header(Page page) {
  return reinterpret_cast<LearnedItemsHeader*>(PageGetContents(page));
}

// ---- items of leaf/overflow/null pages: the only code that knows the packed layout ----------

// The widths of an items page.
inline omen::leaf::Widths learned_widths(const LearnedItemsHeader* h) {
  omen::leaf::Widths w;
  w.key_base = h->key_base;
  w.key_bits = h->key_bits;
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
  return h->key_base + omen::leaf::get(learned_key_array(page), static_cast<Size>(i), h->key_bits);
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
  ItemPointerSet(&tid, static_cast<BlockNumber>(v >> h->offset_bits),
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
  omen::leaf::put(learned_key_array(page), static_cast<Size>(i), h->key_bits, key - h->key_base);
  uint64 packed = (static_cast<uint64>(ItemPointerGetBlockNumberNoCheck(tid)) << h->offset_bits) |
                  ItemPointerGetOffsetNumberNoCheck(tid);
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
  uint64 base = h->key_base, omask = omen::leaf::max_value(ob);
  for (int i = from; i < to; i++) {
    uint64 v = omen::leaf::get(tids, learned_tid_slot(h, i), tb);
    ItemPointerData tid;
    ItemPointerSet(&tid, static_cast<BlockNumber>(v >> ob), static_cast<OffsetNumber>(v & omask));
    f(base + omen::leaf::get(keys, static_cast<Size>(i), kb), tid);
  }
}

// First sorted item (among [0, nsorted)) whose key is >= key; nsorted if none.
inline int learned_sorted_lower_bound(Page page, uint64 key) {
  const LearnedItemsHeader* h = learned_items_header(page);
  return static_cast<int>(omen::leaf::lower_bound(learned_key_array(page), h->nsorted, h->key_bits,
                                                  h->key_base, key));
}

inline char* learned_model_bytes(Page page) { return PageGetContents(page); }
inline LearnedDirHeader* learned_dir_header(Page page) {
  return reinterpret_cast<LearnedDirHeader*>(PageGetContents(page));
}
inline LearnedDirEntry* learned_dir_entries(Page page) {
  return reinterpret_cast<LearnedDirEntry*>(PageGetContents(page) + MAXALIGN(sizeof(LearnedDirHeader)));
}

// Initializes `page` as an empty page of `kind`.
void learned_init_page(Page page, LearnedPageKind kind, uint32 generation);
// Initializes an empty leaf/overflow/null page whose items are stored at widths `w`.
void learned_init_items_page(Page page, LearnedPageKind kind, uint32 generation,
                             const omen::leaf::Widths& w);
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

// Appends (key, tid) to an items page. REQUIRES: learned_items_can_append. The sorted prefix grows with
// it while every item is in it and (key, tid) is not below the last one, so keys appended in order
// stay binary searchable. Used by inserts and by WAL redo (learned_wal.cpp).
void learned_items_append(Page page, uint64 key, const ItemPointerData* tid);

// A byte range of a page: [off, off + len).
struct LearnedByteRange {
  uint16 off;
  uint16 len;
};
// The byte ranges that learned_items_append changed when it appended the page's last item (call
// right after it): pd_lower and pd_upper through the item counts of the items header, the bytes
// holding the new key's bits and the bytes holding its TID's bits. Together with the hole between
// pd_lower and pd_upper (zero, learned_items_set_bounds) they are every byte the append changed
// or took out of the hole, so a generic WAL delta of these ranges rebuilds the page (learned_wal.cpp).
// Returns how many ranges it wrote to out[0..3) (an empty key range is left out: key_bits 0).
int learned_items_append_ranges(Page page, LearnedByteRange out[3]);

// Checks a page read from disk is ours and of `kind`; ereport(ERROR, ERRCODE_INDEX_CORRUPTED)
// otherwise.
void learned_check_page(Relation index, Page page, BlockNumber blkno, LearnedPageKind kind);

// Reads the metapage into *meta (share lock held only for the copy). Checks magic and version.
void learned_read_meta(Relation index, LearnedMeta* meta);

// Returns a new, exclusively locked buffer: a page freed by VACUUM (FSM) or a new block.
Buffer learned_new_buffer(Relation index);
