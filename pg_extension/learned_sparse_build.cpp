// The build of a sparse `learned` index: block ranges and exceptions from one pass over the heap's
// pages in block order (learned_sparse.cpp has the layout).
//
// Ranges. A block's range is the smallest and largest of its keys within a robust window, median
// -/+ 2 x interquartile range. Late rows (older than their neighbours) and rows from the future
// fall outside it and become exceptions; rows a little late stay inside. One bound per block would
// not do: the next block's low end would have to be both above this block's in-order keys and
// below its own, and a few late rows put it below. The window also bounds how far an outlier can
// push a high up (highs only grow). An empty block takes an empty range between its neighbours'
// (low of the next, high of the previous).
//
// The pass (sparse_build_scan) reads each page once under a share lock, as sparse_page_keys does,
// not through table_index_build_scan, which locks the buffer and builds a slot and an index
// datum for every tuple (the whole cost of a sparse build past reading the pages). It keeps every
// tuple that is not dead to every snapshot (HeapTupleSatisfiesVacuum), under its HOT chain's root:
// a chain whose versions hold different keys (updated before the index existed) puts each key
// under the root, once. Heap's build puts only the chain's last version and hides the index from
// older snapshots (indcheckxmin); this one serves them too, and scans recheck the exceptions they
// return (an entry may stand for a version of its chain that is not the one visible). Rows of
// transactions still running are kept: only our own or prepared transactions can have any under
// CREATE INDEX's lock, and CREATE INDEX CONCURRENTLY checks its rows again (validate_index).
#include "learned_sparse.h"

#include <algorithm>

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/procarray.h"
#include "utils/backend_progress.h"
}

namespace {

struct BlockRows {
  BlockNumber block;
  int n, cap;
  uint64* keys;
  ItemPointerData* tids;
};

void rows_put(BlockRows* r, uint64 key, ItemPointer tid) {
  if (r->n == r->cap) {
    r->cap = r->cap == 0 ? 256 : r->cap * 2;
    r->keys = static_cast<uint64*>(r->keys ? repalloc(r->keys, sizeof(uint64) * r->cap)
                                           : palloc(sizeof(uint64) * r->cap));
    r->tids = static_cast<ItemPointerData*>(r->tids ? repalloc(r->tids, sizeof(ItemPointerData) * r->cap)
                                                    : palloc(sizeof(ItemPointerData) * r->cap));
  }
  r->keys[r->n] = key;
  r->tids[r->n++] = *tid;
}

}  // namespace

struct SparseBuild {
  LearnedPairs* pairs;  // the exceptions
  uint64* fences;       // lows [0, nblocks), then highs [nblocks, 2 nblocks)
  BlockNumber nblocks;  // heap blocks at the start
  BlockNumber nfences;  // last non-empty block + 1
  BlockRows cur;        // the block being collected
  BlockRows prev;       // the last finished non-empty block, classified when it is known not last
  bool have_prev;
  uint64 prev_low, prev_high;
  uint64 exceptions;
};

SparseBuild* sparse_build_begin(LearnedPairs* pairs, BlockNumber nblocks) {
  auto* s = static_cast<SparseBuild*>(palloc0(sizeof(SparseBuild)));
  s->pairs = pairs;
  s->nblocks = nblocks;
  s->fences = static_cast<uint64*>(palloc_extended(sizeof(uint64) * 2 * Max(nblocks, 1), MCXT_ALLOC_HUGE));
  s->cur.block = InvalidBlockNumber;
  return s;
}

// Puts the rows of `r` outside [lo, hi] into the exceptions.
static void classify(SparseBuild* s, const BlockRows& r, uint64 lo, uint64 hi) {
  for (int i = 0; i < r.n; i++)
    if (r.keys[i] < lo || r.keys[i] > hi) {
      learned_pairs_put(s->pairs, r.keys[i], &r.tids[i]);
      s->exceptions++;
    }
}

// The collected block is complete: its range, the empty ranges of the empty blocks before it, and
// the previous block's rows classified (it is not the last one).
static void finish_block(SparseBuild* s) {
  BlockRows* c = &s->cur;
  if (c->n == 0) return;
  int n = c->n;
  uint64* keys = static_cast<uint64*>(palloc(sizeof(uint64) * n));
  memcpy(keys, c->keys, sizeof(uint64) * n);
  std::sort(keys, keys + n);
  uint64 median = keys[n / 2], iqr = keys[(3 * n) / 4] - keys[n / 4];
  uint64 wlo = median > 2 * iqr ? median - 2 * iqr : 0;
  uint64 whi = PG_UINT64_MAX - median > 2 * iqr ? median + 2 * iqr : PG_UINT64_MAX;
  uint64 low = *std::lower_bound(keys, keys + n, wlo);  // the median is in the window: both exist
  uint64 high = *(std::upper_bound(keys, keys + n, whi) - 1);
  pfree(keys);
  low = std::max(low, s->prev_low);
  high = std::max(high, s->prev_high);
  uint64* lows = s->fences;
  uint64* highs = s->fences + s->nblocks;
  BlockNumber from = s->have_prev ? s->prev.block + 1 : 0;
  for (BlockNumber b = from; b < c->block; b++) {
    lows[b] = low;
    highs[b] = s->prev_high;
  }
  lows[c->block] = low;
  highs[c->block] = high;
  if (s->have_prev) classify(s, s->prev, s->prev_low, s->prev_high);
  s->prev_low = low;
  s->prev_high = high;
  s->have_prev = true;
  s->nfences = c->block + 1;
  std::swap(s->prev, s->cur);
  s->cur.n = 0;
}

// A row of block b (b >= the last row's block, b < nblocks).
static void sparse_build_put(SparseBuild* s, uint64 key, ItemPointer tid) {
  BlockNumber b = ItemPointerGetBlockNumber(tid);
  if (b != s->cur.block) {
    finish_block(s);
    s->cur.block = b;
  }
  rows_put(&s->cur, key, tid);
}

uint64* sparse_build_finish(SparseBuild* s, uint32* nfences, uint64* exceptions) {
  finish_block(s);
  // The last fenced block is open above (rows appended to it later fit).
  if (s->have_prev) {
    s->fences[s->nblocks + s->prev.block] = PG_UINT64_MAX;
    classify(s, s->prev, s->prev_low, PG_UINT64_MAX);
  }
  // Lows then highs, each nfences long.
  memmove(s->fences + s->nfences, s->fences + s->nblocks, sizeof(uint64) * s->nfences);
  *nfences = s->nfences;
  *exceptions = s->exceptions;
  return s->fences;
}

double sparse_build_scan(Relation heap, Relation index, SparseBuild* s, SparseNullFn on_null, void* arg) {
  SparseKeyReader reader;
  sparse_key_reader_init(&reader, index, heap);
  TransactionId horizon = GetOldestNonRemovableTransactionId(heap);
  BufferAccessStrategy strategy = GetAccessStrategy(BAS_BULKREAD);
  pgstat_progress_update_param(PROGRESS_SCAN_BLOCKS_TOTAL, s->nblocks);
  double reltuples = 0;
  OffsetNumber roots[MaxHeapTuplesPerPage];
  // Per root offset - 1: whether a version was put under it, and that version's key.
  bool put[MaxHeapTuplesPerPage], put_null[MaxHeapTuplesPerPage];
  uint64 put_key[MaxHeapTuplesPerPage];
  for (BlockNumber b = 0; b < s->nblocks; b++) {
    CHECK_FOR_INTERRUPTS();
    Buffer buf = ReadBufferExtended(heap, MAIN_FORKNUM, b, RBM_NORMAL, strategy);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    heap_get_root_tuples(page, roots);
    OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
    memset(put, 0, sizeof(bool) * maxoff);
    for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++) {
      HeapTupleData tuple;
      if (!sparse_page_tuple(heap, page, b, off, &tuple)) continue;
      HTSV_Result state = HeapTupleSatisfiesVacuum(&tuple, horizon, buf);
      if (state == HEAPTUPLE_DEAD) continue;
      if (state != HEAPTUPLE_RECENTLY_DEAD) reltuples += 1;
      OffsetNumber root = roots[off - 1];
      if (root == InvalidOffsetNumber)
        ereport(ERROR,
                (errcode(ERRCODE_DATA_CORRUPTED),
                 errmsg_internal("failed to find parent tuple for heap-only tuple at (%u,%u) in table \"%s\"",
                                 b, off, RelationGetRelationName(heap))));
      uint64 key = 0;
      bool null = !sparse_key_read(reader, tuple.t_data, tuple.t_len, &key);
      int r = root - 1;
      if (put[r] && put_null[r] == null && put_key[r] == key) continue;  // the chain's key again
      put[r] = true;
      put_null[r] = null;
      put_key[r] = key;
      ItemPointerData tid;
      ItemPointerSet(&tid, b, root);
      if (null)
        on_null(&tid, arg);
      else
        sparse_build_put(s, key, &tid);
    }
    UnlockReleaseBuffer(buf);
    pgstat_progress_update_param(PROGRESS_SCAN_BLOCKS_DONE, b + 1);
  }
  FreeAccessStrategy(strategy);
  return reltuples;
}
