// Block ranges appended past a sparse learned index's build (docs/index-am.md, "Sparse layout"):
// the table grows at its end, and a row in a new heap block extends the ranges instead of becoming
// an exception, so appending rows writes nothing to the index but one small record per heap block.
//
// The newest ranges are *open* above (high = PG_UINT64_MAX): concurrent inserters each fill a heap
// block of their own, so several blocks receive rows of the same moment, and a block's range can
// be closed only once its rows stop coming. A row in an open range fits if its key is at or above
// the range's low (checked under a share lock on the metapage, so no close runs meanwhile). A row
// in a block past the last range (at most kSparseMaxAppend blocks past) appends, under the
// metapage's exclusive lock:
//  * a range per block up to the row's: low = the smallest key on its page, read now (an empty
//    block: its predecessor's low), open above; lows stay non-decreasing (each at least its
//    predecessor's: a row below its clamped low becomes an exception at its own insert);
//  * the close of the oldest open ranges, in block order, while a range is kSparseOpenWindow
//    blocks behind the new last one, or its heap page has no room left for a row as long as this
//    one (then the heap gives rows of that size other pages). Its high becomes the largest key on
//    its page, read now: every row found to fit it is on that page already (a heap tuple is stored
//    before its index insert), so each stays inside; a row stored there later is checked against
//    the closed range, and its check takes this same lock, so it sees the close. Closing in block
//    order keeps highs non-decreasing (the open ones are a suffix).
// So at most kSparseOpenWindow ranges are open, and a scan for keys above their lows reads them all.
// The close of the build's last range is a metapage field (the build's ranges are an encoded,
// immutable stream); the appended ranges are (low, high) pairs on a chain of tail pages (only the
// open ones change). Each append is one GenericXLog record of the metapage and at most three tail
// pages (the open ones span at most two). A re-train does not run meanwhile (both hold
// kLearnedWriterLock's conflicting modes).
#include "learned_sparse.h"

extern "C" {
#include "access/generic_xlog.h"
#include "access/htup_details.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/rel.h"
}

namespace {

struct TailHeader {
  uint32 nentries;
  BlockNumber next;  // the next tail page, or InvalidBlockNumber
};
struct TailEntry {
  uint64 low, high;
};
constexpr uint32 kTailPerPage =
    static_cast<uint32>((BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(LearnedSpecial)) -
                         MAXALIGN(sizeof(TailHeader))) /
                        sizeof(TailEntry));

TailHeader* tail_header(Page p) { return reinterpret_cast<TailHeader*>(PageGetContents(p)); }
TailEntry* tail_entries(Page p) {
  return reinterpret_cast<TailEntry*>(PageGetContents(p) + MAXALIGN(sizeof(TailHeader)));
}
// pd_lower after the used entries, so GenericXLog logs them (it skips the hole).
void set_lower(Page p) {
  char* end = reinterpret_cast<char*>(tail_entries(p) + tail_header(p)->nentries);
  reinterpret_cast<PageHeader>(p)->pd_lower = static_cast<LocationIndex>(end - reinterpret_cast<char*>(p));
}

[[noreturn]] void tail_corrupted(Relation index, BlockNumber blkno, const char* what) {
  ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                  errmsg("sparse learned index \"%s\": tail page %u %s", RelationGetRelationName(index),
                         blkno, what),
                  errhint("REINDEX the index.")));
  pg_unreachable();
}

// Heap block b's smallest and largest key (*any false: no key there) and whether a row of `need`
// bytes (its line pointer included) still fits on it.
struct PageState {
  bool any, room;
  uint64 lo, hi;
};
PageState page_state(Relation index, Relation heap, BlockNumber b, Size need) {
  OffsetNumber offs[MaxHeapTuplesPerPage];
  uint64 keys[MaxHeapTuplesPerPage];
  Size free;
  int n = sparse_page_keys(index, heap, b, offs, keys, &free);
  PageState st{n > 0, free >= need, n > 0 ? keys[0] : 0, n > 0 ? keys[0] : 0};
  for (int i = 1; i < n; i++) {
    st.lo = Min(st.lo, keys[i]);
    st.hi = Max(st.hi, keys[i]);
  }
  return st;
}

// The bytes a row like the one at `tid` needs on a page before the heap puts it elsewhere
// (RelationGetBufferForTuple: its length plus the fillfactor's reserve).
Size row_need(Relation heap, ItemPointer tid) {
  Buffer buf = ReadBuffer(heap, ItemPointerGetBlockNumber(tid));
  LockBuffer(buf, BUFFER_LOCK_SHARE);
  Page page = BufferGetPage(buf);
  Size len = 0;
  OffsetNumber off = ItemPointerGetOffsetNumber(tid);
  if (off <= PageGetMaxOffsetNumber(page)) len = ItemIdGetLength(PageGetItemId(page, off));
  UnlockReleaseBuffer(buf);
  return MAXALIGN(len) + RelationGetTargetPageFreeSpace(heap, HEAP_DEFAULT_FILLFACTOR);
}

// Tail page holding tail entry j (REQUIRES: the cache synced; j < tail_n).
BlockNumber tail_page_of(const LearnedCache* cache, uint32 j) { return cache->tail_pages[j / kTailPerPage]; }

void remember_tail_page(LearnedCache* cache, uint32 p, BlockNumber blkno) {
  if (p >= cache->tail_pages_cap) {
    uint32 cap = Max(16, 2 * (p + 1));
    Size bytes = sizeof(BlockNumber) * cap;
    cache->tail_pages =
        static_cast<BlockNumber*>(cache->tail_pages == nullptr ? MemoryContextAlloc(cache->cxt, bytes)
                                                               : repalloc(cache->tail_pages, bytes));
    cache->tail_pages_cap = cap;
  }
  cache->tail_pages[p] = blkno;
  cache->ntail_pages = Max(cache->ntail_pages, p + 1);
}

// Registers tail page `blkno` in the record (once; at most kMaxPages), locked exclusively.
struct TailPages {
  static constexpr int kMaxPages = 3;
  int n = 0;
  BlockNumber blk[kMaxPages];
  Buffer buf[kMaxPages];
  Page page[kMaxPages];
};
Page register_tail(Relation index, GenericXLogState* xs, TailPages* t, BlockNumber blkno) {
  for (int i = 0; i < t->n; i++)
    if (t->blk[i] == blkno) return t->page[i];
  if (t->n == TailPages::kMaxPages)
    elog(ERROR, "sparse learned index: an append touches too many tail pages");
  Buffer buf = ReadBuffer(index, blkno);
  LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
  learned_check_page(index, BufferGetPage(buf), blkno, kPageTail);
  Page p = GenericXLogRegisterBuffer(xs, buf, 0);
  if (tail_header(p)->nentries > kTailPerPage) tail_corrupted(index, blkno, "has a bad entry count");
  t->blk[t->n] = blkno;
  t->buf[t->n] = buf;
  t->page[t->n++] = p;
  return p;
}

// Appends ranges up to heap block b for the row at `tid` in it, closing what can be closed
// (REQUIRES: cache synced to *m, nranges <= b < nranges + kSparseMaxAppend; the metapage in mbuf
// exclusively locked). Updates *m, then the cache (once the record is written).
void append_ranges(Relation index, Relation heap, Buffer mbuf, LearnedCache* cache, LearnedMeta* m,
                   ItemPointer tid) {
  BlockNumber b = ItemPointerGetBlockNumber(tid);
  uint32 n = cache->nranges, total = b + 1;
  // The ranges that change: the open ones (never below the build's last) and the new.
  uint32 first = Max(cache->open_from, m->nfences > 0 ? m->nfences - 1 : 0);
  uint32 k = total - first;
  auto* low = static_cast<uint64*>(palloc(sizeof(uint64) * k));
  auto* high = static_cast<uint64*>(palloc(sizeof(uint64) * k));
  for (uint32 c = first; c < total; c++) {
    if (c < n) {
      low[c - first] = cache->lows[c];
    } else {  // a new range, open
      PageState st = page_state(index, heap, c, 0);
      uint64 prev = c > 0 ? (c - 1 < n ? cache->lows[c - 1] : low[c - 1 - first]) : 0;
      low[c - first] = st.any ? Max(prev, st.lo) : prev;
    }
    high[c - first] = PG_UINT64_MAX;
  }
  // Close the oldest open ranges while out of the window or full (never the new last one).
  Size need = row_need(heap, tid);
  uint32 closed_end = first;
  for (uint32 c = first; c + 1 < total; c++) {
    PageState st = page_state(index, heap, c, need);
    if (c + kSparseOpenWindow >= total && st.room) break;
    uint64 h = Max(c == 0 ? 0 : c == first ? cache->highs[c - 1] : high[c - 1 - first], low[c - first]);
    high[c - first] = st.any ? Max(h, st.hi) : h;
    closed_end = c + 1;
  }
  GenericXLogState* xs = GenericXLogStart(index);
  LearnedMeta* mm = learned_meta(learned_meta_cover(GenericXLogRegisterBuffer(xs, mbuf, 0)));
  TailPages t;
  for (uint32 c = first; c < Min(closed_end, n); c++) {  // closes of existing ranges
    if (c + 1 == m->nfences) {
      mm->build_last_high = high[c - first];
    } else {
      uint32 j = c - m->nfences;
      tail_entries(register_tail(index, xs, &t, tail_page_of(cache, j)))[j % kTailPerPage].high =
          high[c - first];
    }
  }
  if (m->tail_n == 0 && m->nfences > 0 && closed_end < m->nfences) mm->build_last_high = PG_UINT64_MAX;
  Page tp = m->tail_last != InvalidBlockNumber ? register_tail(index, xs, &t, m->tail_last) : nullptr;
  if (tp != nullptr && tail_header(tp)->nentries == 0) tail_corrupted(index, m->tail_last, "is empty");
  Buffer nbuf = InvalidBuffer;
  for (uint32 c = n; c < total; c++) {
    if (tp == nullptr || tail_header(tp)->nentries == kTailPerPage) {
      nbuf = learned_new_buffer(index);  // at most once: fewer new ranges than a page holds
      Page np = GenericXLogRegisterBuffer(xs, nbuf, GENERIC_XLOG_FULL_IMAGE);
      learned_init_page(np, kPageTail, m->generation);
      *tail_header(np) = TailHeader{0, InvalidBlockNumber};
      BlockNumber blk = BufferGetBlockNumber(nbuf);
      if (tp != nullptr)
        tail_header(tp)->next = blk;
      else
        mm->tail_head = blk;
      mm->tail_last = blk;
      tp = np;
    }
    tail_entries(tp)[tail_header(tp)->nentries++] = TailEntry{low[c - first], high[c - first]};
    set_lower(tp);
  }
  mm->tail_n += total - n;
  mm->open_n = total - closed_end;
  mm->tail_gen++;
  *m = *mm;
  GenericXLogFinish(xs);
  if (BufferIsValid(nbuf)) {
    remember_tail_page(cache, cache->ntail_pages, BufferGetBlockNumber(nbuf));
    UnlockReleaseBuffer(nbuf);
  }
  for (int i = 0; i < t.n; i++) UnlockReleaseBuffer(t.buf[i]);
  sparse_reserve_ranges(cache, total + 32);
  for (uint32 c = first; c < total; c++) {
    cache->lows[c] = low[c - first];
    cache->highs[c] = high[c - first];
  }
  cache->nranges = total;
  cache->open_from = closed_end;
  cache->tail_gen = m->tail_gen;
  pfree(low);
  pfree(high);
}

}  // namespace

BlockNumber sparse_write_tail_page(Relation index, uint32 generation, const uint64* lows, const uint64* highs,
                                   uint32 n, Page image) {
  if (n > kTailPerPage) elog(ERROR, "sparse learned index: %u open ranges do not fit a tail page", n);
  learned_init_page(image, kPageTail, generation);
  *tail_header(image) = TailHeader{n, InvalidBlockNumber};
  for (uint32 i = 0; i < n; i++) tail_entries(image)[i] = TailEntry{lows[i], highs[i]};
  set_lower(image);
  BlockNumber blkno = RelationGetNumberOfBlocks(index);
  omen_extend_page(index, MAIN_FORKNUM, image, blkno);
  return blkno;
}

BlockNumber sparse_tail_next(Relation index, BlockNumber blkno) {
  Buffer buf = ReadBuffer(index, blkno);
  LockBuffer(buf, BUFFER_LOCK_SHARE);
  learned_check_page(index, BufferGetPage(buf), blkno, kPageTail);
  BlockNumber next = tail_header(BufferGetPage(buf))->next;
  UnlockReleaseBuffer(buf);
  return next;
}

void sparse_sync_tail(Relation index, LearnedCache* cache, const LearnedMeta& meta) {
  uint32 want = meta.nfences + meta.tail_n, open_from = sparse_open_from(meta);
  if (meta.nfences > 0)  // the build's last range: open, or closed at build_last_high
    cache->highs[meta.nfences - 1] = meta.nfences - 1 >= open_from ? PG_UINT64_MAX : meta.build_last_high;
  if (cache->tail_gen == meta.tail_gen && cache->nranges == want && cache->open_from == open_from) return;
  sparse_reserve_ranges(cache, want + 32);
  // Closed ranges never change within a generation: read again from the first one the cache had
  // open (or lacks). Entries open as of `meta` are taken as open whatever their page says now (an
  // append may close some between our reads of two pages: mixing would break the order). Until
  // the check passes the cache holds only the ranges it had closed.
  uint32 from = Max(Min(cache->open_from, cache->nranges), meta.nfences);
  cache->nranges = from;
  cache->open_from = Min(cache->open_from, from);
  uint32 p = (from - meta.nfences) / kTailPerPage;
  if (p > cache->ntail_pages) p = cache->ntail_pages;
  if (p == cache->ntail_pages && p > 0) p--;  // its page is not known yet: start at the one before
  uint32 i = meta.nfences + p * kTailPerPage;
  BlockNumber blkno = p < cache->ntail_pages ? cache->tail_pages[p] : meta.tail_head;
  for (uint32 pages = 0; i < want; pages++, p++) {
    if (blkno == InvalidBlockNumber || pages > meta.tail_n) tail_corrupted(index, blkno, "chain ends early");
    Buffer buf = ReadBuffer(index, blkno);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    // On a standby the primary may have freed (and reused) the tail of a generation it retired.
    if (RecoveryInProgress() && (PageIsNew(page) || learned_special(page)->kind != kPageTail ||
                                 learned_special(page)->generation > meta.generation)) {
      UnlockReleaseBuffer(buf);
      learned_retrained_on_primary(index);
    }
    learned_check_page(index, page, blkno, kPageTail);
    uint32 k = Min(tail_header(page)->nentries, want - i);  // entries appended since: not ours yet
    if (tail_header(page)->nentries > kTailPerPage) tail_corrupted(index, blkno, "has a bad entry count");
    for (uint32 j = 0; j < k; j++, i++) {
      cache->lows[i] = tail_entries(page)[j].low;
      cache->highs[i] = i >= open_from ? PG_UINT64_MAX : tail_entries(page)[j].high;
    }
    BlockNumber next = tail_header(page)->next;
    UnlockReleaseBuffer(buf);
    remember_tail_page(cache, p, blkno);
    blkno = next;
  }
  sparse_check_ranges(index, cache, Max(from, 1) - 1, want);
  cache->nranges = want;
  cache->open_from = open_from;
  cache->tail_gen = meta.tail_gen;
}

bool sparse_insert_fits(Relation index, Relation heap, uint64 key, ItemPointer tid) {
  const LearnedCache* cache = learned_layout_cache(index);  // before the metapage lock
  BlockNumber b = ItemPointerGetBlockNumber(tid);
  // A closed range never narrows (a re-fit widens it): no lock needed.
  if (b < cache->open_from) return sparse_fits(cache, key, tid);
  // An open range (an append in order, the common case): decided under a share lock on the
  // metapage, if the cache is still current. A close needs the exclusive lock, so it waits, and
  // then reads the page, where this row already is.
  if (b < cache->nranges) {
    Buffer mbuf = ReadBuffer(index, kLearnedMetaBlock);
    LockBuffer(mbuf, BUFFER_LOCK_SHARE);
    const LearnedMeta* now = learned_meta(BufferGetPage(mbuf));
    bool current = now->generation == cache->meta.generation && now->tail_gen == cache->tail_gen &&
                   now->nfences + now->tail_n == cache->nranges;
    bool fits = key >= cache->lows[b];
    UnlockReleaseBuffer(mbuf);
    if (current) return fits;
  }
  // Under the writer lock no re-train runs: bring the cache to the generation, then decide (and
  // append) under the metapage's exclusive lock.
  LockPage(index, kLearnedMetaBlock, kLearnedWriterLock);
  LearnedCache* c = learned_get_cache(index);
  Buffer mbuf = ReadBuffer(index, kLearnedMetaBlock);
  LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
  LearnedMeta m;
  memcpy(&m, learned_meta(BufferGetPage(mbuf)), sizeof m);
  sparse_sync_tail(index, c, m);
  if (b >= c->nranges && b - c->nranges < kSparseMaxAppend && heap != nullptr)
    append_ranges(index, heap, mbuf, c, &m, tid);
  bool fits = sparse_fits(c, key, tid);
  UnlockReleaseBuffer(mbuf);
  UnlockPage(index, kLearnedMetaBlock, kLearnedWriterLock);
  return fits;
}
