// Index access method `learned`: the one header of its files (pg_extension/README.md maps them).
//
// It holds the options and entry points, the on-disk format (docs/format.md has the essay), the
// per-index model cache and leaf lookup, and what the build, insert, re-train and vacuum files
// share. It includes only the shared layer (omen_*.h).
//
// Boundary rules (DESIGN.md section 4): the entry points are called from Postgres; they hold no C++
// objects with non-trivial destructors, and run core code only through omen_pg::call_core().
//
// On-disk format. Every page is a standard Postgres page (PageHeaderData, pd_lower/pd_upper) with a
// LearnedSpecial in its special space naming the page kind. Block 0 is the metapage. A generation's
// build leaves are contiguous (leaf i < nleaves is block meta.leaf_start + i); its model pages are
// contiguous too. Edge leaves (i >= nleaves), appended by inserts at the right edge
// (learned_edge.cpp), are anywhere; the edge directory maps them to blocks.
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

#include "omen_key.h"
#include "omen_pages.h"
#include "omen_pg.h"
#include "omen_wal.h"

#include <omen/leaf_codec.h>

extern "C" {
#include "access/amapi.h"
#include "access/genam.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "nodes/pathnodes.h"
#include "storage/block.h"
#include "storage/itemptr.h"
#include "utils/rel.h"
}

// ---- options, entry points (learned.cpp) ----------------------------------------------------

// Layouts (WITH (layout = 'dense' | 'sparse'); the metapage's `layout` is the truth once built).
enum LearnedLayout : uint32 {
  kLayoutDense = 0,   // every row's (key, TID): index, index-only and bitmap scans
  kLayoutSparse = 1,  // a fence per heap block plus exact entries for the rows outside their
                      // block's fences (learned_sparse.cpp): bitmap scans only
};

// WITH (error_bound = N, fillfactor = N, layout = ...). Stored in rd_options.
struct LearnedOptions {
  int32 vl_len_;    // varlena header (do not touch directly)
  int error_bound;  // model error bound epsilon, 1..4096
  int fillfactor;   // percent of a leaf filled at build, 10..100
  int layout;       // LearnedLayout
};

inline constexpr int kLearnedDefaultErrorBound = 64;
inline constexpr int kLearnedDefaultFillfactor = 90;

// Registers the reloptions; called once from _PG_init.
void learned_init(void);
// The options of an index (defaults when none were given).
int learned_error_bound(Relation index);
int learned_fillfactor(Relation index);
LearnedLayout learned_layout_option(Relation index);
// Rejects indexes the AM cannot serve (multi-column, expressions, DESC/NULLS FIRST, key types the
// encoding lacks) with ERRCODE_FEATURE_NOT_SUPPORTED.
void learned_check_definition(Relation index);

// CREATE INDEX progress phases (pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, ...)).
enum LearnedBuildPhase : int64 {
  kPhaseScan = 2,  // PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE is 1
  kPhaseSort = 3,
  kPhaseLeaves = 4,
  kPhaseModel = 5,
};

extern "C" {
IndexBuildResult* learned_build(Relation heap, Relation index, IndexInfo* info);
void learned_buildempty(Relation index);
bool learned_insert(Relation index, Datum* values, bool* isnull, ItemPointer tid, Relation heap,
                    IndexUniqueCheck check_unique, bool index_unchanged, IndexInfo* info);
IndexBulkDeleteResult* learned_bulkdelete(IndexVacuumInfo* info, IndexBulkDeleteResult* stats,
                                          IndexBulkDeleteCallback callback, void* callback_state);
IndexBulkDeleteResult* learned_vacuumcleanup(IndexVacuumInfo* info, IndexBulkDeleteResult* stats);
bool learned_canreturn(Relation index, int attno);
void learned_costestimate(PlannerInfo* root, IndexPath* path, double loop_count, Cost* startup, Cost* total,
                          Selectivity* selectivity, double* correlation, double* pages);
bytea* learned_options(Datum reloptions, bool validate);
bool learned_validate(Oid opclass);
IndexScanDesc learned_beginscan(Relation index, int nkeys, int norderbys);
void learned_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
bool learned_gettuple(IndexScanDesc scan, ScanDirection dir);
int64 learned_getbitmap(IndexScanDesc scan, TIDBitmap* tbm);
void learned_markpos(IndexScanDesc scan);
void learned_restrpos(IndexScanDesc scan);
Size learned_estimateparallelscan(void);
void learned_initparallelscan(void* target);
void learned_parallelrescan(IndexScanDesc scan);
void learned_endscan(IndexScanDesc scan);
char* learned_buildphasename(int64 phase);
}

// ---- page format (learned_page.cpp) -----------------------------------------------------------

inline constexpr uint32 kLearnedMagic = 0x4F4D4C49;  // "OMLI"
// 2: bit-packed leaves (omen/leaf_codec.h), edge leaves and directory, 16-byte model segments
// 3: the same plus the sparse layout's fields and fence pages (sparse indexes only)
// 4 (dense) and 5 (sparse): 2 and 3 plus leaves whose TIDs are relative to a block base
//    (kLeafTidBase). Builds and re-trains write 4 or 5; all four are read (a 2 or 3 index has no
//    such leaf), and an omendb before 0.7.0 refuses 4 and 5 with the REINDEX hint.
inline constexpr uint32 kLearnedV2 = 2;
inline constexpr uint32 kLearnedSparseV3 = 3;
inline constexpr uint32 kLearnedVersion = 4;
inline constexpr uint32 kLearnedSparseVersion = 5;
inline constexpr BlockNumber kLearnedMetaBlock = 0;

enum LearnedPageKind : uint16 {
  kPageMeta = 1,
  kPageLeaf = 2,
  kPageOverflow = 3,
  kPageModel = 4,
  kPageNull = 5,
  kPageFree = 6,   // emptied overflow/null page awaiting reuse through the FSM
  kPageDir = 7,    // edge directory: (fence, block) of the edge leaves appended past the build
  kPageFence = 8,  // sparse layout: the build's block ranges, an encoded stream over pages
  kPageTail = 9,   // sparse layout: block ranges appended by inserts (learned_sparse_tail.cpp)
};

// Special space of every page.
struct LearnedSpecial {
  uint16 kind;        // LearnedPageKind
  uint16 page_id;     // kLearnedPageId, identifies our pages (like BLOOM_PAGE_ID)
  uint32 generation;  // generation that wrote the page
};
inline constexpr uint16 kLearnedPageId = 0xFF8A;

// The metapage contents (at PageGetContents of block 0).
struct LearnedMeta {
  uint32 magic;
  uint32 version;
  uint32 generation;   // bumped whenever leaves/model are replaced (rebuild)
  uint32 error_bound;  // epsilon requested (reloption error_bound) at build
  uint64 build_keys;   // non-NULL keys the model was trained on (positions 0..build_keys-1)
  uint32 leaf_cap;     // build positions per leaf: build position p is in leaf p / leaf_cap
  uint32 nleaves;      // >= 1
  BlockNumber leaf_start;
  BlockNumber model_start;  // segments, then fences (uint64 per leaf)
  uint32 model_pages;
  uint32 nsegments;       // 0 when no core model (empty index)
  BlockNumber null_head;  // null chain, InvalidBlockNumber if none
  BlockNumber null_tail;
  uint64 build_nulls;
  double mean_error;  // |predicted - true position| over the build keys
  uint64 max_error;
  Oid key_type;          // opcintype of the column
  uint32 model_epsilon;  // error bound the core model proved (PgmModel::epsilon()), for from_segments
  // The previous generation after a re-train: its pages stay readable (scans that started before
  // the swap still use them) until no snapshot older than retired_xid exists; then VACUUM or the
  // next re-train frees them. retired_nleaves == 0: nothing retired.
  uint64 retired_xid;  // FullTransactionId (U64) of the transaction that re-trained
  BlockNumber retired_leaf_start;
  uint32 retired_nleaves;
  BlockNumber retired_model_start;
  uint32 retired_model_pages;
  // Edge leaves: leaves nleaves .. nleaves + edge_nleaves - 1 of this generation, appended one by
  // one at the right edge by inserts; their (fence, block) pairs are in the directory chain
  // edge_dir_head .. edge_dir_tail. edge_nleaves == 0: none (heads invalid).
  uint32 edge_nleaves;
  BlockNumber edge_dir_head;
  BlockNumber edge_dir_tail;
  // The retired generation's edge leaves and directory, freed with it.
  uint32 retired_edge_nleaves;
  BlockNumber retired_edge_dir_head;
  // Version 3 (a version 2 metapage reads zeros here: dense). The sparse layout's block ranges:
  // heap blocks 0 .. nfences-1 each have a key range (lows and highs each non-decreasing),
  // stored quantized and encoded (learned_sparse_codec.cpp) on fence pages fence_start ..
  // fence_start + fence_pages - 1; the leaves, model and null chain above hold the exceptions.
  uint32 layout;  // LearnedLayout
  uint32 nfences;
  BlockNumber fence_start;
  uint32 fence_pages;
  uint32 fence_bytes;  // the encoded ranges' length (learned_sparse_codec.cpp)
  uint32 fence_shift;  // their quantization: lows rounded down, highs up, to multiples of 2^shift
  // Ranges appended by inserts past the build's blocks (learned_sparse_tail.cpp): tail_n entries
  // on the chain of tail pages tail_head .. tail_last (InvalidBlockNumber: none); tail_gen counts
  // changes to them. While tail_n > 0 the build's last range ends at build_last_high (else it is
  // open above); the tail's last range is the open one.
  uint64 build_last_high;
  BlockNumber tail_head;
  BlockNumber tail_last;
  uint32 tail_n;
  uint32 tail_gen;
  // Sparse, re-fit (learned_sparse_refit.cpp; zero in metapages written before: nothing retired,
  // no entry counted). The entries (exceptions and NULLs) left by the build or the last re-fit;
  // the retired generation's fence pages and tail chain, freed with its leaves.
  uint64 fit_entries;
  BlockNumber retired_fence_start;
  uint32 retired_fence_pages;
  BlockNumber retired_tail_head;  // InvalidBlockNumber or 0 (never a tail page): none
  uint32 refits;                  // re-fits since the build
  // How many of the last ranges are open (sparse_open_from; 0: written before 0.5.0, only the
  // last one).
  uint32 open_n;
};

// Leaf, overflow and null pages share one layout (format version 2): a header, then two
// bit-packed arrays of `capacity` entries (omen/leaf_codec.h): keys as (key - key_base) in
// key_bits bits each, then TIDs as (block << offset_bits | offset) in block_bits + offset_bits
// bits each. Item i's key is key slot i; its TID is TID slot capacity-1-i (learned_tid_slot), so
// the unused space is one hole. The widths are fixed when the page is initialized; `capacity`
// follows from them. Only the accessors below know this layout.
struct LearnedItemsHeader {
  uint16 nitems;
  uint16 capacity;  // entries that fit at this page's widths
  uint16 nsorted;   // leaf: items [0, nsorted) are sorted by (key, TID); the rest were
                    // appended by inserts in any order (a small WAL delta per insert)
  uint8 flags;
  uint8 key_bits;         // 0..64 (0: every key equals key_base; null pages store no keys)
  uint8 block_bits;       // 0..32
  uint8 offset_bits;      // 0..16
  uint16 key_scale_code;  // with kLeafKeyScale (format 4/5): keys are stored divided by the scale
                          // this codes (omen::leaf::scale_of_code); 0 in older pages
  uint32 leaf_no;         // leaf: i; overflow: the leaf it belongs to
  uint64 key_base;        // keys are stored as key - key_base
  uint64 low_fence;       // leaf: fence_i (I1); overflow: fence of its leaf
  uint64 high_fence;      // leaf: fence_{i+1}, or UINT64_MAX for the last leaf
  BlockNumber next;       // leaf: head of its overflow chain; overflow/null: next in the chain
  BlockNumber tail;       // leaf: last page of its overflow chain (appends go there)
  uint32 chain_pages;     // leaf: pages in its overflow chain (re-train trigger)
  // Format 4/5 (in what was the struct's tail padding): blocks are stored as block - block_base
  // when flags has kLeafTidBase (build leaves whose TIDs span a narrow block range); otherwise
  // absolute, whatever this field holds.
  uint32 block_base;
};
static_assert(sizeof(LearnedItemsHeader) == 56, "block_base takes the old header's tail padding");

inline constexpr uint8 kLeafIsLast = 1;  // leaf: high_fence is +infinity
// Leaf: a re-train has copied or is copying this leaf (learned_retrain.cpp). Writers that find it
// set without kLearnedWriterLock take that lock (waiting for the re-train) and look again; one
// that holds the lock finds it only left by a re-train that failed, and clears it. Set and
// cleared as a hint (MarkBufferDirtyHint, no WAL): after a crash no re-train runs and no cache
// of an older generation is left, and a standby never inserts.
inline constexpr uint8 kLeafFrozen = 2;
// Leaf: TIDs are stored relative to block_base (format 4/5; docs/format.md).
inline constexpr uint8 kLeafTidBase = 4;
// Leaf: keys are stored as (key - key_base) / scale, scale coded in key_scale_code (format 4/5).
inline constexpr uint8 kLeafKeyScale = 8;

// Edge directory pages: a header, then `nentries` entries in leaf order; chained by `next`.
struct LearnedDirHeader {
  uint32 nentries;
  uint32 first_leaf;  // edge index (0-based, below edge_nleaves) of entry 0
  BlockNumber next;   // next directory page, or InvalidBlockNumber
  uint32 unused;
};
struct LearnedDirEntry {
  uint64 fence;       // the edge leaf's low fence
  BlockNumber blkno;  // the edge leaf's block
  uint32 unused;
};
inline constexpr uint32 kLearnedDirEntriesPerPage =
    static_cast<uint32>((BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(LearnedSpecial)) -
                         MAXALIGN(sizeof(LearnedDirHeader))) /
                        sizeof(LearnedDirEntry));

// Bytes for the two packed arrays of a leaf/overflow/null page, derived from BLCKSZ.
inline constexpr Size kLearnedItemsSpace = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) -
                                           MAXALIGN(sizeof(LearnedSpecial)) -
                                           MAXALIGN(sizeof(LearnedItemsHeader));
// Upper bound of `capacity` (narrow widths could otherwise exceed uint16 and make huge batches).
inline constexpr uint16 kLearnedMaxItems = 8192;

// Model pages: a flat byte stream of segments then fences, split over pages.
inline constexpr Size kLearnedModelBytesPerPage =
    BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(LearnedSpecial));

// A stored leaf-level model segment, 16 bytes on disk (same layout as omen::PgmSegment): used when
// build_keys < kLearnedCompactKeys. Larger indexes store LearnedWideSegment (24 bytes,
// omen::WidePgmSegment). docs/format.md.
struct LearnedSegment {
  uint64 first_key;
  float4 slope;
  int32 intercept;
};
struct LearnedWideSegment {
  uint64 first_key;
  float8 slope;
  int64 intercept;
};
inline constexpr uint64 kLearnedCompactKeys = uint64{1} << 31;

// Bytes of one stored segment of an index trained on build_keys keys.
inline Size learned_segment_size(uint64 build_keys) {
  return build_keys < kLearnedCompactKeys ? sizeof(LearnedSegment) : sizeof(LearnedWideSegment);
}

inline LearnedSpecial* learned_special(Page page) {
  return reinterpret_cast<LearnedSpecial*>(PageGetSpecialPointer(page));
}
// True when the page holds nothing and may be reused: freed (kind free) or never initialized.
inline bool learned_page_is_free(Page page) {
  return PageIsNew(page) || (PageGetSpecialSize(page) == MAXALIGN(sizeof(LearnedSpecial)) &&
                             learned_special(page)->kind == kPageFree);
}
inline LearnedMeta* learned_meta(Page page) { return reinterpret_cast<LearnedMeta*>(PageGetContents(page)); }
// The metapage registered for a GenericXLog change: its pd_lower made to cover the whole
// LearnedMeta (a metapage written by an older release ends at its shorter struct, and GenericXLog
// zeroes the hole past pd_lower). Any other page is returned as it is (a chain's owner may be the
// metapage or a leaf).
Page learned_meta_cover(Page page);
inline LearnedItemsHeader* learned_items_header(Page page) {
  return reinterpret_cast<LearnedItemsHeader*>(PageGetContents(page));
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
void learned_init_items_page(Page page, LearnedPageKind kind, uint32 generation, const omen::leaf::Widths& w);
// Formats `image` as a metapage holding `meta`.
void learned_init_meta_page(Page image, const LearnedMeta& meta);

// Checks a page read from disk is ours and of `kind`; ereport(ERROR, ERRCODE_INDEX_CORRUPTED)
// otherwise. learned_check_dir_page also checks a directory page's entry count.
void learned_check_page(Relation index, Page page, BlockNumber blkno, LearnedPageKind kind);
void learned_check_dir_page(Relation index, Page page, BlockNumber blkno);
// A hot standby query met a page of a generation the primary freed and reused since (the
// primary's horizon ignores standby snapshots): a serialization failure, never an answer from it.
[[noreturn]] void learned_retrained_on_primary(Relation index);
// Reads the metapage into *meta (share lock held only for the copy). Checks magic and version.
void learned_read_meta(Relation index, LearnedMeta* meta);
// Returns a new, exclusively locked buffer: a page freed by VACUUM (FSM) or a new block.
inline Buffer learned_new_buffer(Relation index) { return omen_new_buffer(index, learned_page_is_free); }

// A walk over a chain of pages linked by `next` (an overflow chain from its leaf, the null chain
// from the metapage, an edge directory): learned_chain_next releases the page held, reads the next
// one, locks it in `lock` (BUFFER_LOCK_SHARE / _EXCLUSIVE), checks its kind (learned_check_page,
// unless `check` is false: the caller checks) and reads its successor, so the caller may change,
// keep or free the page it holds without losing the chain.
struct LearnedChain {
  Relation index;
  LearnedPageKind kind;
  int lock;
  bool check;
  Buffer buf;         // the page held (locked), or InvalidBuffer
  BlockNumber blkno;  // its block
  BlockNumber next;   // the page after it, InvalidBlockNumber at the end
  Page page;
};
LearnedChain learned_chain_begin(Relation index, BlockNumber head, LearnedPageKind kind, int lock,
                                 bool check = true);
// Moves to the next page; false (nothing held) after the last.
bool learned_chain_next(LearnedChain* c);
// Unlocks and releases the page held now (nothing if none).
void learned_chain_release(LearnedChain* c);
// Counts the items of a chain (read-only, share locks; learned_vacuum.cpp).
double learned_count_chain(Relation index, BlockNumber head, LearnedPageKind kind);
// Hands the page held to the caller (still locked), who releases it.
Buffer learned_chain_keep(LearnedChain* c);

// ---- the model cache and leaf lookup (learned_cache.cpp) ---------------------------------------

// The per-index cache (rd_amcache), valid for one metapage generation and relfilenode.
struct LearnedCache {
  LearnedMeta meta;   // copy of the metapage when the cache was last used
  Oid relfilenode;    // the storage the cache describes (TRUNCATE/REINDEX make new storage)
  uint64* fences;     // meta.nleaves entries
  void* model;        // core PgmModel, or NULL (no keys)
  MemoryContext cxt;  // owns the cache (and the model)
  // Edge directory, loaded incrementally: entries [0, edge_n) of the generation.
  uint32 edge_n;
  uint32 edge_cap;
  uint64* edge_fences;
  BlockNumber* edge_blocks;
  BlockNumber edge_dir_blk;  // directory page holding entry edge_n (or the last page read)
  // Sparse layout: the ranges of heap blocks 0 .. nranges-1 (the build's, then the tail's as of
  // tail_gen); else nullptr.
  uint64* lows;
  uint64* highs;
  uint32 nranges;
  uint32 ranges_cap;
  uint32 tail_gen;
  uint32 open_from;  // ranges [open_from, nranges) are open (their highs cached as PG_UINT64_MAX)
  // The tail pages read so far, in chain order (tail entry j is on tail_pages[j / entries per page]).
  BlockNumber* tail_pages;
  uint32 ntail_pages;
  uint32 tail_pages_cap;
  // The cache may route an insert without a metapage read (learned_insert_cache): it was last
  // read after recovery had ended, and this backend has not re-trained the index since.
  bool routes_inserts;
};

// Reads `total` bytes of a flat byte stream (model or fence pages of `kind`) from `npages` pages
// at `start` into `bytes`; ERRCODE_INDEX_CORRUPTED if a page is not of `kind` or the pages hold
// another size.
void learned_read_flat_pages(Relation index, BlockNumber start, uint32 npages, LearnedPageKind kind,
                             char* bytes, Size total);
// The cache for `index`, (re)built when the metapage generation changed, with the edge leaves
// added since the last look. Reads the metapage.
LearnedCache* learned_get_cache(Relation index);
// The cache when only the layout and the heap fences are needed (fixed for a relfilenode: no
// metapage read when the cache is of this storage, whatever its generation).
inline const LearnedCache* learned_layout_cache(Relation index) {
  auto* cache = static_cast<const LearnedCache*>(index->rd_amcache);
  return cache != nullptr && cache->relfilenode == index->rd_node.relNode ? cache : learned_get_cache(index);
}
// The cache an insert routes its key with, without a metapage read (learned_insert.cpp): a stale
// one leads to a leaf the insert then finds frozen, of another generation, or no longer the last
// (learned.h, kLeafFrozen), and it reads the metapage after all. A re-train freezes leaves as
// hints, which exist only in this server's buffers: a cache read during recovery (the standby
// replayed re-trains it froze nothing for) or in the backend whose re-train may have skipped
// the hint (a relation created in its transaction under wal_level = minimal) is read anew.
inline const LearnedCache* learned_insert_cache(Relation index) {
  auto* cache = static_cast<const LearnedCache*>(index->rd_amcache);
  return cache != nullptr && cache->relfilenode == index->rd_node.relNode && cache->routes_inserts
             ? cache
             : learned_get_cache(index);
}
// First leaf that can hold a key >= key (scan start, invariant I4). Leaves are numbered over the
// build leaves then the edge leaves.
uint32 learned_start_leaf(const LearnedCache* cache, uint64 key);
// Last leaf whose fence <= key: where an insert of `key` goes (invariant I4).
uint32 learned_target_leaf(const LearnedCache* cache, uint64 key);
// Leaves of the cached generation (build + edge), and the fence of one of them.
uint32 learned_total_leaves(const LearnedCache* cache);
uint64 learned_leaf_fence(const LearnedCache* cache, uint32 leaf);

// Where the leaves of one generation are.
struct LearnedLeafMap {
  BlockNumber leaf_start;  // build leaf i < nleaves is block leaf_start + i
  uint32 nleaves;          // build leaves
  BlockNumber dir_head;    // edge directory of the generation
  uint32 generation;
};
LearnedLeafMap learned_leaf_map(const LearnedMeta& meta);
// Block of leaf `leaf` of the generation `map` describes: arithmetic for build leaves, the cached
// directory for the current generation's edge leaves, a walk of the directory chain for an older
// generation (a scan that outlived a re-train). elog(ERROR) if the leaf does not exist.
BlockNumber learned_leaf_block(Relation index, const LearnedLeafMap& map, uint32 leaf);
// The `n` edge leaves of the directory at `dir_head`: blocks (and fences, if `fences` is not
// NULL) in leaf order, palloc'd. Also returns the directory's pages in *dir_pages (palloc'd,
// *ndir entries) when dir_pages is not NULL.
void learned_edge_list(Relation index, BlockNumber dir_head, uint32 n, BlockNumber** blocks, uint64** fences,
                       BlockNumber** dir_pages, uint32* ndir);
// Blocks of every leaf of the generation `meta` describes (build then edge leaves), palloc'd;
// *n = their count.
BlockNumber* learned_all_leaves(Relation index, const LearnedMeta& meta, uint32* n);

// ---- insert (learned_insert.cpp, learned_edge.cpp, learned_wal.cpp) ---------------------------

struct LearnedPairs;
// learned_unique.cpp: what a uniqueness check (UNIQUE index, aminsert's checkUnique) found.
struct LearnedUnique {
  bool is_unique;          // no live duplicate (UNIQUE_CHECK_PARTIAL: not even a possible one)
  bool conflict;           // a committed live duplicate: learned_unique_violation
  TransactionId wait_xid;  // valid: a running transaction's row; wait for it, then check again
  uint32 spec_token;       // its speculative insertion's token (0: none)
};
// Checks `key` (of `value`) before (key, tid) goes into the exclusively locked target leaf in
// `target`, found in `cache` (a current, unfrozen leaf: learned_insert.cpp): the entries with the key in the
// leaves from the key's scan start to the target and their overflow chains, asked of the heap.
LearnedUnique learned_unique_check(Relation index, Relation heap, const LearnedCache* cache, Buffer target,
                                   uint64 key, Datum value, ItemPointer tid, IndexUniqueCheck mode);
// The same for a NULL of a NULLS NOT DISTINCT index: the null chain at null_head (the caller holds
// the metapage's exclusive lock).
LearnedUnique learned_unique_check_nulls(Relation index, Relation heap, BlockNumber null_head,
                                         ItemPointer tid, IndexUniqueCheck mode);
// ERRCODE_UNIQUE_VIOLATION for `value` (the caller released its buffers).
[[noreturn]] void learned_unique_violation(Relation index, Relation heap, Datum value, bool null);
// The build's check over its sorted pairs (read once, then rescanned for the writer); its error
// when a NULLS NOT DISTINCT index found two live NULLs.
void learned_unique_check_build(Relation index, Relation heap, LearnedPairs* pairs);
[[noreturn]] void learned_unique_build_nulls(Relation index, Relation heap);
// Installs the executor-start hook that refuses INSERT ... ON CONFLICT on a table with a learned
// unique index, with a hint (_PG_init, through learned_init).
void learned_unique_init(void);

// Keys below the last leaf's largest key still fit into its last kLearnedEdgeSlack slots before
// it spills into an overflow chain (out-of-order arrivals from concurrent inserters).
inline constexpr uint16 kLearnedEdgeSlack = 16;
// True when (key, tid) should open a new edge leaf after `page`, the last leaf (exclusively
// locked): key >= its largest key and every key of its overflow chain (read here), and the leaf
// is nearly full or the item does not fit its packed widths.
bool learned_edge_wants_leaf(Relation index, Page page, uint64 key, ItemPointer tid);
// Opens a new edge leaf holding (key, tid) after the last leaf `last` (exclusively locked, of the
// current generation and not frozen; the caller releases it).
void learned_edge_add_leaf(Relation index, Buffer last, uint64 key, ItemPointer tid);

// Appends (key, tid) to the exclusively locked items page in `buf` (REQUIRES: it has room) and
// WAL-logs it: an "omendb" record of kind kLearnedWalAppend when the resource manager is
// registered, a directly written generic record otherwise.
void learned_log_append(Relation index, Buffer buf, uint64 key, ItemPointer tid);
// The record kind of that append (its data: the pair), its redo and description (kOmenWalKinds).
inline constexpr uint8 kLearnedWalAppend = 0x10;
void learned_wal_redo_append(XLogReaderState* record);
void learned_wal_desc_append(StringInfo buf, XLogReaderState* record);

// ---- (key, TID) pairs of a build or re-train (learned_pairs.cpp) ------------------------------

// The pairs, sorted by (key, TID) within a memory budget (maintenance_work_mem). The writer reads
// them through learned_pairs.h.
struct LearnedPairs;
// A new, empty pair set with a budget of work_mem_kb kilobytes, in the current memory context.
LearnedPairs* learned_pairs_begin(int work_mem_kb);
void learned_pairs_put(LearnedPairs* p, uint64 key, const ItemPointerData* tid);
// Sorts the pairs (after the last put) and positions the reader at the first pair. Reports the
// path taken at DEBUG1 ("... sorted in memory" / "... sorted externally") under `what`.
void learned_pairs_sort(LearnedPairs* p, const char* what);
// Pairs put so far.
Size learned_pairs_count(const LearnedPairs* p);
// Frees the pairs (and ends the tuplesort, removing its temporary files).
void learned_pairs_end(LearnedPairs* p);

// ---- writing a generation (learned_write.cpp) -------------------------------------------------

// Writes the leaves for the sorted `pairs` (learned_pairs_sort done) from block meta->leaf_start
// (the relation's next new block; InvalidBlockNumber: the first run of free pages long enough for
// the leaves and model pages, else the end; a re-train, holding the re-train lock), trains the
// model, writes the model pages right after the leaves. Chooses the page widths and leaf_cap (the
// most build positions per leaf such that every leaf, at its own widths, is filled to at most
// `fillfactor` percent); in memory and spilled pairs give the same leaves. The caller sets
// meta->generation, leaf_start, error_bound; this fills leaf_cap, nleaves, build_keys, nsegments,
// model_start, model_pages, model_epsilon, mean/max_error. With `progress`, reports CREATE INDEX
// subphases and tuples. The pages are not WAL-logged (omen_log_new_pages).
void learned_write_generation(Relation index, LearnedMeta* meta, LearnedPairs* pairs, int fillfactor,
                              bool progress);
// Makes the generation `gen` (learned_write_generation wrote it) the current one of the metapage
// contents `m`: its model and leaves, no edge leaves yet. Leaves the identity, the null chain and
// the retired generation's fields as they are.
void learned_install_generation(LearnedMeta* m, const LearnedMeta& gen);
// Writes `nbytes` as model pages (or another flat byte stream: fence pages) of `fork` from block
// `start` (omen_put_page, no WAL) using the page `image`; returns the page count.
uint32 learned_write_model_pages(Relation index, ForkNumber fork, const char* bytes, Size nbytes,
                                 BlockNumber start, uint32 generation, Page image,
                                 LearnedPageKind kind = kPageModel);

// ---- generations (learned_retrain.cpp) --------------------------------------------------------

// ambulkdelete, NULL inserts, sparse range appends, and inserts that found a frozen leaf
// (kLeafFrozen) hold this heavyweight lock in ShareLock mode; re-training and freeing a retired
// generation hold it in ExclusiveLock mode. Other inserts do not take it: a re-train freezes
// every leaf under the leaf's exclusive lock before it copies it, and an insert checks, under
// that lock, that its leaf is of its cache's generation and not frozen. Readers never take it:
// a re-train does not block scans.
inline constexpr LOCKMODE kLearnedWriterLock = ShareLock;
inline constexpr LOCKMODE kLearnedRetrainLock = ExclusiveLock;

// An overflow chain this long (pages) on one leaf makes an insert try a re-train, if the index
// holds at most kLearnedInsertRetrainMaxKeys keys: a re-train copies the whole index (16 bytes
// per key in memory) while writers wait, too much to do inside a user's INSERT for big indexes,
// which are re-trained by VACUUM or omendb_index_retrain() instead.
inline constexpr uint32 kLearnedRetrainChainPages = 16;
inline constexpr uint64 kLearnedInsertRetrainMaxKeys = 2000000;

// Re-trains `index` into a new generation (all live items, current options) and swaps it in at
// the metapage. With `wait` false, gives up (returns false) if another writer holds the lock.
// Also returns false when a retired generation still waits to be freed. Does not block readers.
bool learned_retrain(Relation index, bool wait);
// Frees the retired generation's pages once no snapshot can still read them. REQUIRES: caller
// holds kLearnedRetrainLock. Returns true if nothing retired is left.
bool learned_reclaim_retired(Relation index);
// Pages in all overflow chains (sum of the leaves' chain_pages).
uint64 learned_overflow_pages(Relation index);
