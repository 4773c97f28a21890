// Block ranges appended past a sparse learned index's build (docs/index-am.md, "Sparse layout"):
// the table grows at its end, and a row in a new heap block extends the ranges instead of becoming
// an exception, so appending rows writes nothing to the index but one small record per heap block.
//
// The last range is open above: a row there fits if its key is at or above the range's low (checked
// under a share lock on the metapage, so no close runs meanwhile). A row in a block past it (at
// most kSparseMaxAppend blocks past) appends, under the metapage's exclusive lock:
//  * the close of the open range: its high becomes the largest key on its heap page, read now.
//    Every row that was found to fit it is on that page already (a heap tuple is stored before its
//    index insert), so each stays inside; a row stored there later is checked against the closed
//    range, and its check takes this same lock, so it sees the close;
//  * a range per block up to the row's: [smallest, largest] key on its page (empty blocks: an
//    empty range), the new last one open above. Lows and highs stay non-decreasing (each at least
//    its predecessor's): a row outside its clamped range becomes an exception at its own insert.
// The close of the build's last range is a metapage field (the build's ranges are an encoded,
// immutable stream); the appended ranges are (low, high) pairs on a chain of tail pages. Each
// append is one GenericXLog record of the metapage and at most two tail pages. A re-train does
// not run meanwhile (both hold kLearnedWriterLock's conflicting modes).
#include "learned_sparse.h"

extern "C" {
#include "access/generic_xlog.h"
#include "access/htup_details.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
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

// The smallest and largest key on heap block b (false: no key there).
bool page_span(Relation index, Relation heap, BlockNumber b, uint64* lo, uint64* hi) {
  OffsetNumber offs[MaxHeapTuplesPerPage];
  uint64 keys[MaxHeapTuplesPerPage];
  int n = sparse_page_keys(index, heap, b, offs, keys, nullptr);
  if (n == 0) return false;
  *lo = *hi = keys[0];
  for (int i = 1; i < n; i++) {
    *lo = Min(*lo, keys[i]);
    *hi = Max(*hi, keys[i]);
  }
  return true;
}

// Appends ranges up to heap block b (REQUIRES: cache synced to *m, nranges <= b < nranges +
// kSparseMaxAppend; the metapage in mbuf exclusively locked). Updates *m and the cache.
void append_ranges(Relation index, Relation heap, Buffer mbuf, LearnedCache* cache, LearnedMeta* m,
                   BlockNumber b) {
  uint32 n = cache->nranges, nadd = b - n + 1;
  TailEntry add[kSparseMaxAppend + 1];
  uint64 lo, hi, prev_low = n > 0 ? cache->lows[n - 1] : 0, prev_high = n > 1 ? cache->highs[n - 2] : 0;
  uint64 close_high = 0;
  if (n > 0) {
    close_high = Max(prev_high, cache->lows[n - 1]);
    if (page_span(index, heap, n - 1, &lo, &hi)) close_high = Max(close_high, hi);
    prev_high = close_high;
  }
  for (uint32 i = 0; i < nadd; i++) {
    bool any = page_span(index, heap, n + i, &lo, &hi);
    TailEntry e{any ? Max(prev_low, lo) : prev_low, any ? Max(prev_high, hi) : prev_high};
    if (i + 1 == nadd) e.high = PG_UINT64_MAX;  // the new open range
    add[i] = e;
    prev_low = e.low;
    prev_high = e.high;
  }
  GenericXLogState* xs = GenericXLogStart(index);
  LearnedMeta* mm = learned_meta(GenericXLogRegisterBuffer(xs, mbuf, 0));
  Buffer tbuf = InvalidBuffer, nbuf = InvalidBuffer;
  Page tp = nullptr;
  if (m->tail_last != InvalidBlockNumber) {
    tbuf = ReadBuffer(index, m->tail_last);
    LockBuffer(tbuf, BUFFER_LOCK_EXCLUSIVE);
    learned_check_page(index, BufferGetPage(tbuf), m->tail_last, kPageTail);
    tp = GenericXLogRegisterBuffer(xs, tbuf, 0);
    if (tail_header(tp)->nentries == 0 || tail_header(tp)->nentries > kTailPerPage)
      tail_corrupted(index, m->tail_last, "has a bad entry count");
  }
  if (n > 0) {  // close the open range: the build's last, or the tail's last entry
    if (m->tail_n == 0)
      mm->build_last_high = close_high;
    else
      tail_entries(tp)[tail_header(tp)->nentries - 1].high = close_high;
  }
  for (uint32 i = 0; i < nadd; i++) {
    if (tp == nullptr || tail_header(tp)->nentries == kTailPerPage) {
      nbuf = learned_new_buffer(index);  // at most once: nadd < kTailPerPage
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
    tail_entries(tp)[tail_header(tp)->nentries++] = add[i];
    set_lower(tp);
  }
  mm->tail_n += nadd;
  mm->tail_gen++;
  *m = *mm;
  GenericXLogFinish(xs);
  if (BufferIsValid(nbuf)) UnlockReleaseBuffer(nbuf);
  if (BufferIsValid(tbuf)) UnlockReleaseBuffer(tbuf);
  sparse_reserve_ranges(cache, n + nadd + 32);
  if (n > 0) cache->highs[n - 1] = close_high;
  for (uint32 i = 0; i < nadd; i++) {
    cache->lows[n + i] = add[i].low;
    cache->highs[n + i] = add[i].high;
  }
  cache->nranges = n + nadd;
  cache->tail_gen = m->tail_gen;
}

}  // namespace

void sparse_sync_tail(Relation index, LearnedCache* cache, const LearnedMeta& meta) {
  if (meta.nfences > 0)  // the build's last range: open until the tail began
    cache->highs[meta.nfences - 1] = meta.tail_n > 0 ? meta.build_last_high : PG_UINT64_MAX;
  uint32 want = meta.nfences + meta.tail_n;
  if (cache->tail_gen == meta.tail_gen && cache->nranges == want) return;
  sparse_reserve_ranges(cache, want + 32);
  uint32 i = meta.nfences;
  BlockNumber blkno = meta.tail_head;
  for (uint32 pages = 0; i < want; pages++) {
    if (blkno == InvalidBlockNumber || pages > meta.tail_n) tail_corrupted(index, blkno, "chain ends early");
    Buffer buf = ReadBuffer(index, blkno);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    learned_check_page(index, page, blkno, kPageTail);
    uint32 k = Min(tail_header(page)->nentries, want - i);  // entries appended since: not ours yet
    if (tail_header(page)->nentries > kTailPerPage) tail_corrupted(index, blkno, "has a bad entry count");
    for (uint32 j = 0; j < k; j++, i++) {
      cache->lows[i] = tail_entries(page)[j].low;
      cache->highs[i] = tail_entries(page)[j].high;
    }
    BlockNumber next = tail_header(page)->next;
    UnlockReleaseBuffer(buf);
    blkno = next;
  }
  cache->nranges = want;
  cache->tail_gen = meta.tail_gen;
  sparse_check_ranges(index, cache, meta.nfences);
}

bool sparse_insert_fits(Relation index, Relation heap, uint64 key, ItemPointer tid) {
  auto* cache = const_cast<LearnedCache*>(learned_layout_cache(index));  // before the metapage lock
  BlockNumber b = ItemPointerGetBlockNumber(tid);
  if (b + 1 < cache->nranges) return sparse_fits(cache, key, tid);  // a closed range: never changes
  // The open range (an append in order, the common case): decided under a share lock on the
  // metapage, if the cache is still current. A close needs the exclusive lock, so it waits, and
  // then reads the page, where this row already is.
  Buffer mbuf = ReadBuffer(index, kLearnedMetaBlock);
  LockBuffer(mbuf, BUFFER_LOCK_SHARE);
  const LearnedMeta* now = learned_meta(BufferGetPage(mbuf));
  if (b + 1 == cache->nranges && now->tail_gen == cache->tail_gen &&
      now->nfences + now->tail_n == cache->nranges) {
    bool fits = key >= cache->lows[b];
    UnlockReleaseBuffer(mbuf);
    return fits;
  }
  LockBuffer(mbuf, BUFFER_LOCK_UNLOCK);
  LockPage(index, kLearnedMetaBlock, kLearnedWriterLock);
  LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
  LearnedMeta m;
  memcpy(&m, learned_meta(BufferGetPage(mbuf)), sizeof m);
  sparse_sync_tail(index, cache, m);
  if (b >= cache->nranges && b - cache->nranges < kSparseMaxAppend && heap != nullptr)
    append_ranges(index, heap, mbuf, cache, &m, b);
  bool fits = sparse_fits(cache, key, tid);
  UnlockReleaseBuffer(mbuf);
  UnlockPage(index, kLearnedMetaBlock, kLearnedWriterLock);
  return fits;
}
