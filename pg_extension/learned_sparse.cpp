// The sparse layout of the `learned` index (docs/index-am.md, "Sparse layout"): a key range per
// heap block, and exact (key, TID) entries only for the rows outside their block's range.
//
// Block ranges. Heap block b < nfences has a range [low_b, high_b] of encoded keys; lows and highs
// are each non-decreasing in b (so the blocks whose ranges meet a key range are one contiguous
// run, found by two binary searches), and the last fenced block is open above. A row of block b
// *fits* when its key lies in b's range; a row that does not is an *exception*, kept as a (key,
// TID) entry of the dense structure (leaves, overflow chains, model, null chain: the whole dense
// machinery, over the exceptions only). NULLs are always exceptions (the null chain). So every row
// is found: a scan for [lo, hi] reads the run of blocks whose ranges meet [lo, hi] (lossy pages,
// rechecked) plus the exceptions in [lo, hi].
//
// Build: learned_sparse_build.cpp. The build puts the key of every version of a HOT chain under
// the chain's root, and a probe reads every version on the page, so a TID may stand for a version
// whose key is not the one visible: exceptions are always rechecked, probed TIDs when they are
// part of a HOT chain.
//
// Inserts: a row that fits writes nothing; any other row (an old block, a key out of range, a
// block past the fenced ones) is an exception insert. VACUUM removes dead exceptions like dense
// entries; a range stays a superset (lossy) bound, and only widens (a re-fit:
// learned_sparse_refit.cpp; appended ranges: learned_sparse_tail.cpp).
#include "learned_sparse.h"

#include <algorithm>

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "nodes/tidbitmap.h"
#include "storage/bufmgr.h"
}

void sparse_write_fences(Relation index, LearnedMeta* meta, const uint64* fences, uint32 nfences,
                         Page image) {
  meta->layout = kLayoutSparse;
  meta->version = kLearnedSparseVersion;
  meta->nfences = nfences;
  meta->open_n = nfences > 0 ? 1 : 0;  // the build's last range
  meta->fence_shift = sparse_range_shift(fences, fences + nfences, nfences);
  Size nbytes;
  char* bytes = sparse_encode_ranges(fences, fences + nfences, nfences, meta->fence_shift, &nbytes);
  meta->fence_bytes = static_cast<uint32>(nbytes);
  meta->fence_start = RelationGetNumberOfBlocks(index);
  meta->fence_pages = learned_write_model_pages(index, MAIN_FORKNUM, bytes, nbytes, meta->fence_start,
                                                meta->generation, image, kPageFence);
  pfree(bytes);
}

void sparse_read_build_ranges(Relation index, const LearnedMeta& meta, LearnedCache* cache) {
  char* bytes = static_cast<char*>(palloc_extended(Max(meta.fence_bytes, 1), MCXT_ALLOC_HUGE));
  learned_read_flat_pages(index, meta.fence_start, meta.fence_pages, kPageFence, bytes, meta.fence_bytes);
  sparse_reserve_ranges(cache, meta.nfences + meta.tail_n + 32);
  char why[160];
  const char* bad = sparse_decode_ranges(bytes, meta.fence_bytes, meta.nfences, meta.fence_shift, cache->lows,
                                         cache->highs, why, sizeof why);
  pfree(bytes);
  if (bad != nullptr)
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                    errmsg("index \"%s\" has corrupt block ranges: %s", RelationGetRelationName(index), bad),
                    errhint("REINDEX the index.")));
  cache->nranges = meta.nfences;
  cache->open_from = meta.nfences > 0 ? meta.nfences - 1 : 0;  // the build's last: see sparse_sync_tail
  cache->tail_gen = 0;
  sparse_check_ranges(index, cache, 1, cache->nranges);
}

void sparse_check_ranges(Relation index, const LearnedCache* cache, uint32 from, uint32 to) {
  for (uint32 b = Max(from, 1); b < to; b++)
    if (cache->lows[b] < cache->lows[b - 1] || cache->highs[b] < cache->highs[b - 1])
      ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                      errmsg("index \"%s\": the key ranges of heap blocks %u and %u decrease",
                             RelationGetRelationName(index), b - 1, b),
                      errhint("REINDEX the index.")));
}

void sparse_reserve_ranges(LearnedCache* cache, uint32 n) {
  if (n <= cache->ranges_cap) return;
  uint32 cap = Max(n, 2 * cache->ranges_cap);
  Size bytes = sizeof(uint64) * cap;
  if (cache->lows == nullptr) {
    cache->lows = static_cast<uint64*>(MemoryContextAllocExtended(cache->cxt, bytes, MCXT_ALLOC_HUGE));
    cache->highs = static_cast<uint64*>(MemoryContextAllocExtended(cache->cxt, bytes, MCXT_ALLOC_HUGE));
  } else {
    cache->lows = static_cast<uint64*>(repalloc_huge(cache->lows, bytes));
    cache->highs = static_cast<uint64*>(repalloc_huge(cache->highs, bytes));
  }
  cache->ranges_cap = cap;
}

bool sparse_fits(const LearnedCache* cache, uint64 key, const ItemPointerData* tid) {
  BlockNumber b = ItemPointerGetBlockNumber(tid);
  return b < cache->nranges && key >= cache->lows[b] && key <= cache->highs[b];
}

bool sparse_block_run(const LearnedCache* cache, uint64 lo, uint64 hi, BlockNumber* first,
                      BlockNumber* last) {
  uint32 n = cache->nranges;
  const uint64* lows = cache->lows;
  const uint64* highs = cache->highs;
  // First block whose high >= lo, last block whose low <= hi (both arrays non-decreasing).
  uint32 from = static_cast<uint32>(std::lower_bound(highs, highs + n, lo) - highs);
  uint32 end = static_cast<uint32>(std::upper_bound(lows, lows + n, hi) - lows);
  if (from >= end) return false;
  *first = from;
  *last = end - 1;
  return true;
}

bool sparse_page_tuple(Relation heap, Page page, BlockNumber b, OffsetNumber off, HeapTupleData* tuple) {
  tuple->t_data = sparse_page_item(page, off, &tuple->t_len);
  if (tuple->t_data == nullptr) return false;
  tuple->t_tableOid = RelationGetRelid(heap);
  ItemPointerSet(&tuple->t_self, b, off);
  return true;
}

namespace {

// Heap block b, read and share-locked.
Page lock_heap_page(Relation heap, BlockNumber b, Buffer* buf) {
  *buf = ReadBufferExtended(heap, MAIN_FORKNUM, b, RBM_NORMAL, nullptr);
  LockBuffer(*buf, BUFFER_LOCK_SHARE);
  return BufferGetPage(*buf);
}

}  // namespace

void sparse_key_reader_init(SparseKeyReader* r, Relation index, Relation heap) {
  r->desc = RelationGetDescr(heap);
  r->type = index->rd_opcintype[0];
  r->attnum = index->rd_index->indkey.values[0];
  Form_pg_attribute key_att = TupleDescAttr(r->desc, r->attnum - 1);
  r->attlen = key_att->attlen;
  r->byval = key_att->attbyval;
  r->wide = r->type == INT8OID || r->type == TIMESTAMPOID || r->type == TIMESTAMPTZOID;
  // Columns laid out as heap_fill_tuple lays them out with no NULL: each fixed-length column at
  // its alignment after the one before.
  int32 off = 0;
  r->fixed_off = -1;
  for (AttrNumber i = 0; i < r->attnum; i++) {
    Form_pg_attribute att = TupleDescAttr(r->desc, i);
    if (att->attlen <= 0) return;
    off = static_cast<int32>(att_align_nominal(off, att->attalign));
    if (i + 1 == r->attnum) break;
    off += att->attlen;
  }
  r->fixed_off = off;
}

bool sparse_key_read_slow(const SparseKeyReader& r, HeapTupleHeader t, uint32 len, uint64* key) {
  HeapTupleData tuple;
  tuple.t_data = t;
  tuple.t_len = len;
  tuple.t_tableOid = InvalidOid;
  ItemPointerSetInvalid(&tuple.t_self);
  bool null;
  Datum d = heap_getattr(&tuple, r.attnum, r.desc, &null);
  if (!null) *key = omen_key_encode(d, r.type);
  return !null;
}

int sparse_page_keys(Relation index, Relation heap, BlockNumber b, OffsetNumber* offs, uint64* keys,
                     Size* free) {
  SparseKeyReader reader;
  sparse_key_reader_init(&reader, index, heap);
  Buffer buf;
  Page page = lock_heap_page(heap, b, &buf);
  if (free != nullptr) *free = PageGetHeapFreeSpace(page);
  int n = 0;
  OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
  for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++) {
    uint32 len;
    HeapTupleHeader t = sparse_page_item(page, off, &len);
    if (t != nullptr && sparse_key_read(reader, t, len, &keys[n])) offs[n++] = off;
  }
  UnlockReleaseBuffer(buf);
  return n;
}

// Probes heap block b for the rows with keys in [lo, hi]: their root TIDs go into tids[] (*n of
// them). A matching heap-only tuple stands for its chain's root (heap_get_root_tuples, read only
// then); *recheck when a match is heap-only or HOT-updated: a chain updated before the index
// existed may hold other keys than the version a TID leads to, while a tuple outside any chain is
// the one version of its TID, whose key the probe read. False, and nothing to rely on, when a
// matching tuple's root is not found: the caller adds the block whole. Rows inserted after the
// probe belong to transactions that had not committed when it ran, so no snapshot taken before
// the scan can see them.
static bool probe_block(const SparseKeyReader& reader, Relation heap, BlockNumber b, uint64 lo, uint64 hi,
                        ItemPointerData* tids, int* n, bool* recheck) {
  Buffer buf;
  Page page = lock_heap_page(heap, b, &buf);
  OffsetNumber roots[MaxHeapTuplesPerPage];
  bool have_roots = false, found = true;
  *n = 0;
  *recheck = false;
  OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
  for (OffsetNumber off = FirstOffsetNumber; off <= maxoff && found; off++) {
    uint32 len;
    HeapTupleHeader t = sparse_page_item(page, off, &len);
    uint64 key;
    if (t == nullptr || !sparse_key_read(reader, t, len, &key) || key < lo || key > hi) continue;
    OffsetNumber root = off;
    if (HeapTupleHeaderIsHeapOnly(t)) {
      if (!have_roots) heap_get_root_tuples(page, roots);
      have_roots = true;
      root = roots[off - 1];
      found = root != InvalidOffsetNumber;
      *recheck = true;
    } else if (HeapTupleHeaderIsHotUpdated(t)) {
      *recheck = true;
    }
    ItemPointerSet(&tids[*n], b, root);  // a macro: its argument is evaluated more than once
    (*n)++;
  }
  UnlockReleaseBuffer(buf);
  return found;
}

int64 sparse_add_blocks(Relation index, Relation heap, BlockNumber nblocks, const LearnedCache* cache,
                        uint64 lo, uint64 hi, TIDBitmap* tbm) {
  BlockNumber first, last;
  if (!sparse_block_run(cache, lo, hi, &first, &last)) return 0;
  // Ranges outlive a VACUUM that truncated the heap: blocks past its end hold nothing this scan's
  // snapshot can see (a block added since holds rows of later transactions), and reading one fails.
  if (first >= nblocks) return 0;
  last = Min(last, nblocks - 1);
  // A short run (a point lookup, a short range at a block's edge) is probed: its matching rows
  // go into the bitmap as exact TIDs, so the heap scan checks one tuple's visibility, not the
  // block's hundred. Longer runs go in as whole (lossy) blocks, rechecked.
  if (last - first < kSparseProbeBlocks) {
    ItemPointerData tids[MaxHeapTuplesPerPage];
    int64 count = 0;
    bool exact = omen_key_type_exact(index->rd_opcintype[0]);  // else keys are prefixes (uuid)
    SparseKeyReader reader;
    sparse_key_reader_init(&reader, index, heap);
    for (BlockNumber b = first; b <= last; b++) {
      int n;
      bool recheck;
      if (probe_block(reader, heap, b, lo, hi, tids, &n, &recheck)) {
        tbm_add_tuples(tbm, tids, n, recheck || !exact);
        count += n;
      } else {
        tbm_add_page(tbm, b);
        count++;
      }
    }
    return count;
  }
  for (BlockNumber b = first; b <= last; b++) tbm_add_page(tbm, b);
  return static_cast<int64>(last - first + 1);
}
