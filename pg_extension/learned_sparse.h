// The sparse layout of the `learned` index: what its files (learned_sparse*.cpp) offer the build, insert,
// scan, cost and SQL files. Private to them.
#pragma once

#include "learned.h"
#include "omen_key.h"

#include <omen/key.h>

extern "C" {
#include "access/htup_details.h"
}

struct TIDBitmap;
struct HeapTupleData;
// A build's fences: rows are put in heap block order (sparse_build_scan); those outside their
// block's fences go to `pairs` (the exceptions). Lives in the current memory context.
struct SparseBuild;
SparseBuild* sparse_build_begin(LearnedPairs* pairs, BlockNumber nblocks);
// After the last put: the block ranges (*nfences lows, then as many highs) and the exception count.
uint64* sparse_build_finish(SparseBuild* s, uint32* nfences, uint64* exceptions);
// learned_sparse_build.cpp: reads the first nblocks of heap (sparse_build_begin's) in block order,
// under a share lock per page, and puts every row not dead to every snapshot into `s` under its HOT
// chain's root TID (NULLs: on_null(tid, arg)). Returns the rows counted as reltuples (live and
// in-progress ones).
using SparseNullFn = void (*)(ItemPointer tid, void* arg);
double sparse_build_scan(Relation heap, Relation index, SparseBuild* s, SparseNullFn on_null, void* arg);
// Writes the fences as fence pages at the end of the index (no WAL: omen_log_new_pages) and sets
// meta's sparse fields (layout, version 3).
void sparse_write_fences(Relation index, LearnedMeta* meta, const uint64* fences, uint32 nfences, Page image);
// learned_sparse_codec.cpp: the quantization shift for these ranges; the ranges as the stored
// stream (palloc'd, *nbytes long); the stream back into lows and highs (n each; returns nullptr,
// or why it is corrupt, written into `why`).
uint32 sparse_range_shift(const uint64* lows, const uint64* highs, uint32 n);
char* sparse_encode_ranges(const uint64* lows, const uint64* highs, uint32 n, uint32 shift, Size* nbytes);
const char* sparse_decode_ranges(const char* bytes, Size nbytes, uint32 n, uint32 shift, uint64* lows,
                                 uint64* highs, char* why, Size why_size);
// The cache's ranges: the build's read (and checked) into a new cache; room for n ranges; a check
// that ranges from..to-1 do not decrease (ERRCODE_INDEX_CORRUPTED).
void sparse_read_build_ranges(Relation index, const LearnedMeta& meta, LearnedCache* cache);
void sparse_reserve_ranges(LearnedCache* cache, uint32 n);
void sparse_check_ranges(Relation index, const LearnedCache* cache, uint32 from, uint32 to);
// The first open range of `meta`: the last open_n ranges are open (0 written before 0.5.0: the
// last one). Ranges below it never change within a generation.
inline uint32 sparse_open_from(const LearnedMeta& meta) {
  uint32 n = meta.nfences + meta.tail_n, open = meta.open_n > 0 ? meta.open_n : 1;
  return n > open ? n - open : 0;
}
// The tuple header at offset off of a locked heap page and its length (*len); nullptr when the
// line pointer holds none (unused, redirect, dead).
inline HeapTupleHeader sparse_page_item(Page page, OffsetNumber off, uint32* len) {
  ItemId lp = PageGetItemId(page, off);
  if (!ItemIdIsNormal(lp)) return nullptr;
  *len = ItemIdGetLength(lp);
  return reinterpret_cast<HeapTupleHeader>(PageGetItem(page, lp));
}
// The tuple at offset off of heap block b (its page locked) into *tuple; false when the line
// pointer holds none (unused, redirect, dead).
bool sparse_page_tuple(Relation heap, Page page, BlockNumber b, OffsetNumber off, HeapTupleData* tuple);
// Reads the index's key out of heap tuples of its table, set up once per page or pass. A tuple
// without NULLs is read at a fixed offset when every column before the key has a fixed length
// (what fastgetattr does with attcacheoff), and 8-byte integer-like keys (int8, timestamp,
// timestamptz) without a call; other tuples through heap_getattr. The probe reads every tuple
// of a page this way: it is most of a point lookup's cost.
struct SparseKeyReader {
  TupleDesc desc;
  Oid type;
  AttrNumber attnum;
  int16 attlen;
  bool byval;
  bool wide;        // read as an int64 and sign-flipped (omen::key::from_int64)
  int32 fixed_off;  // the key's offset from t_hoff in a tuple without NULLs; -1: none
};
void sparse_key_reader_init(SparseKeyReader* r, Relation index, Relation heap);
bool sparse_key_read_slow(const SparseKeyReader& r, HeapTupleHeader t, uint32 len, uint64* key);
// The encoded key of heap tuple t (len bytes; false: it is NULL).
inline bool sparse_key_read(const SparseKeyReader& r, HeapTupleHeader t, uint32 len, uint64* key) {
  if (r.fixed_off < 0 || (t->t_infomask & HEAP_HASNULL) != 0 || HeapTupleHeaderGetNatts(t) < r.attnum)
    return sparse_key_read_slow(r, t, len, key);
  const char* p = reinterpret_cast<const char*>(t) + t->t_hoff + r.fixed_off;
  if (r.wide) {
    int64 v;
    memcpy(&v, p, sizeof(v));
    *key = omen::key::from_int64(v);
  } else {
    *key = omen_key_encode(fetch_att(p, r.byval, r.attlen), r.type);
  }
  return true;
}
// The keys (encoded; NULLs left out) of the tuples on heap block b, with their offsets, read
// under a share lock: every tuple with storage, visible or not; with `free`, also the page's free
// space for a new tuple (PageGetHeapFreeSpace). Returns the count.
int sparse_page_keys(Relation index, Relation heap, BlockNumber b, OffsetNumber* offs, uint64* keys,
                     Size* free = nullptr);
// learned_sparse_tail.cpp. Brings the cache's ranges to `meta` (the tail pages read again when
// tail_gen moved; the build's last range closed when the tail began). REQUIRES: no lock on a tail
// page held.
void sparse_sync_tail(Relation index, LearnedCache* cache, const LearnedMeta& meta);
// A fresh tail page holding n ranges, written at the end of the index unlogged (the caller logs
// it: omen_log_new_pages); returns its block. The next page of tail page blkno.
BlockNumber sparse_write_tail_page(Relation index, uint32 generation, const uint64* lows, const uint64* highs,
                                   uint32 n, Page image);
BlockNumber sparse_tail_next(Relation index, BlockNumber blkno);
// learned_sparse_refit.cpp: a re-train's re-fit of the ranges. Begin copies the current ranges;
// note is called for every exception (entry) of the old generation, finish widens the ranges;
// fits says whether an entry is no longer needed; write puts the ranges in new fence pages and
// a tail page (WAL-logged) and sets gen's sparse fields; install copies them into the metapage
// (retiring the old ones); free_retired frees a retired generation's fence and tail pages.
struct SparseRefit;
// Whether VACUUM re-fits: the entries (exceptions and NULLs) at least kSparseRefitEntries and
// twice those the build or last re-fit left (a re-fit that absorbed nothing is not repeated until
// they double again), or the tail of appended ranges as long as the build's ranges and at least
// kSparseRefitTail (the re-fit encodes them compactly).
inline constexpr double kSparseRefitEntries = 1000;
inline constexpr uint32 kSparseRefitTail = 1024;
inline bool sparse_wants_refit(const LearnedMeta& meta, double entries) {
  return (entries >= kSparseRefitEntries && entries > 2.0 * static_cast<double>(meta.fit_entries)) ||
         (meta.tail_n >= kSparseRefitTail && meta.tail_n >= meta.nfences);
}
SparseRefit* sparse_refit_begin(Relation index);
void sparse_refit_note(SparseRefit* r, uint64 key, const ItemPointerData* tid);
void sparse_refit_finish(SparseRefit* r);
bool sparse_refit_fits(const SparseRefit* r, uint64 key, const ItemPointerData* tid);
void sparse_refit_write(Relation index, const SparseRefit* r, LearnedMeta* gen);
void sparse_refit_install(LearnedMeta* m, const LearnedMeta& gen, const LearnedMeta& old);
void sparse_free_retired(Relation index, const LearnedMeta& meta, void (*free_page)(Relation, BlockNumber));
// aminsert of a sparse index: whether (key, tid) needs no entry. Rows in closed ranges are
// checked on the cached ranges; a row in an open block or past the last is decided under the
// metapage's lock, and a row in a new block first appends ranges up to its block (when the gap is
// at most kSparseMaxAppend blocks; else the row is an exception). At most kSparseOpenWindow
// ranges stay open (concurrent inserters fill a block each).
// The heap extends by up to 512 blocks at once under contention (RelationAddExtraBlocks) and hands
// them out through the free space map, about in order.
inline constexpr BlockNumber kSparseMaxAppend = 64;
inline constexpr uint32 kSparseOpenWindow = 64;
bool sparse_insert_fits(Relation index, Relation heap, uint64 key, ItemPointer tid);
// Whether (key, tid) lies within its heap block's range (then it needs no entry).
bool sparse_fits(const LearnedCache* cache, uint64 key, const ItemPointerData* tid);
// The heap blocks whose ranges meet [lo, hi]: false when none.
bool sparse_block_run(const LearnedCache* cache, uint64 lo, uint64 hi, BlockNumber* first, BlockNumber* last);
// Adds those blocks' rows to `tbm`: a run of at most kSparseProbeBlocks blocks is read here and
// its rows in [lo, hi] added as exact TIDs; a longer run as lossy pages (rechecked). Returns the
// TIDs and pages added.
inline constexpr BlockNumber kSparseProbeBlocks = 2;
// heap: the index's table, nblocks its size when the scan began adding blocks (runs are clamped to it).
int64 sparse_add_blocks(Relation index, Relation heap, BlockNumber nblocks, const LearnedCache* cache,
                        uint64 lo, uint64 hi, TIDBitmap* tbm);
// Lets an index scan of a sparse index return its entries (the exceptions) through amgettuple,
// which refuses otherwise (omendb_index_verify).
void learned_scan_exceptions_only(IndexScanDesc scan);
// The encoded key of the entry amgettuple returned last (*null: it is a NULL's).
uint64 learned_scan_current_key(IndexScanDesc scan, bool* null);
// Checks every heap row visible now is found (learned_sparse_verify.cpp); returns the rows checked.
// ERRCODE_INDEX_CORRUPTED otherwise.
int64 sparse_verify_heap(Relation index);
// Whether the index was built sparse (reads the metapage through the cache).
inline bool learned_is_sparse(Relation index) {
  return learned_layout_cache(index)->meta.layout == kLayoutSparse;
}
