// omendb_tier_verify's checks: every cold batch visible now decodes (the codec checks its CRCs,
// sizes and offsets) to the row count its catalog row says, and every live cold row is in every
// index that can be read whole exactly once. Problems raise index_corrupted (XX002), as
// omendb_index_verify does.
#include "tiered.h"

#include <algorithm>

extern "C" {
#include "access/amapi.h"
#include "access/genam.h"
#include "miscadmin.h"
#include "access/relscan.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
}

namespace {

bool tid_less(const ItemPointerData& a, const ItemPointerData& b) {
  return ItemPointerCompare(const_cast<ItemPointer>(&a), const_cast<ItemPointer>(&b)) < 0;
}

[[noreturn]] void corrupted(Relation rel, const char* what) {
  ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                  errmsg("tiered table \"%s\": %s", RelationGetRelationName(rel), what)));
}

// The cold TIDs of `index`, sorted (read with a keyless scan).
ItemPointerData* index_cold_tids(Relation rel, Relation index, Snapshot snapshot, int64* n) {
  int64 cap = 1024;
  *n = 0;
  auto* tids = static_cast<ItemPointerData*>(palloc(sizeof(ItemPointerData) * cap));
  IndexScanDesc scan = index_beginscan(rel, index, snapshot, 0, 0);
  index_rescan(scan, nullptr, 0, nullptr, 0);
  for (ItemPointer tid; (tid = index_getnext_tid(scan, ForwardScanDirection)) != nullptr;) {
    if (!tiered_is_cold(tid)) continue;
    if (*n == cap)
      tids = static_cast<ItemPointerData*>(repalloc_huge(tids, sizeof(ItemPointerData) * (cap *= 2)));
    tids[(*n)++] = *tid;
  }
  index_endscan(scan);
  std::sort(tids, tids + *n, tid_less);
  return tids;
}

}  // namespace

int64 tiered_verify_cold(Relation rel) {
  Snapshot snapshot = GetActiveSnapshot();
  int64 cap = 1024, live = 0, fcap = 1024, nfolded = 0;
  auto* rows = static_cast<ItemPointerData*>(palloc(sizeof(ItemPointerData) * cap));
  // rows set in a deleted bitmap: VACUUM removed their index entries before it set them
  auto* folded = static_cast<ItemPointerData*>(palloc(sizeof(ItemPointerData) * fcap));
  int64 bcap = 64, nbatches = 0;
  auto* batches = static_cast<BlockNumber*>(palloc(sizeof(BlockNumber) * bcap));
  ColdReader* r = cold_open(rel);
  cold_batches_begin(r, snapshot);
  ColdBatch b;
  while (cold_batches_next(r, &b)) {
    CHECK_FOR_INTERRUPTS();
    const char* why = cold_check(r, &b, RelationGetDescr(rel));
    if (why != nullptr) corrupted(rel, psprintf("cold batch at block %u is corrupt: %s", b.first, why));
    if (nbatches == bcap)
      batches = static_cast<BlockNumber*>(repalloc(batches, sizeof(BlockNumber) * (bcap *= 2)));
    batches[nbatches++] = b.first;
    for (uint32 row = 0; row < b.nrows; row++) {
      if (cold_row_folded(&b, row)) {
        if (nfolded == fcap)
          folded =
              static_cast<ItemPointerData*>(repalloc_huge(folded, sizeof(ItemPointerData) * (fcap *= 2)));
        tiered_row_tid(b.first, row, &folded[nfolded++]);
        continue;
      }
      if (cold_row_deleted(&b, row)) continue;
      if (live == cap)
        rows = static_cast<ItemPointerData*>(repalloc_huge(rows, sizeof(ItemPointerData) * (cap *= 2)));
      tiered_row_tid(b.first, row, &rows[live++]);
    }
  }
  cold_batches_end(r);
  cold_close(r);

  List* ids = RelationGetIndexList(rel);
  ListCell* lc;
  foreach (lc, ids) {
    Relation index = index_open(lfirst_oid(lc), AccessShareLock);
    const IndexAmRoutine* am = index->rd_indam;
    if (!index->rd_index->indisvalid) {  // a failed CREATE INDEX CONCURRENTLY: not used by queries
      index_close(index, AccessShareLock);
      continue;
    }
    if (am->amgettuple == nullptr || !am->amoptionalkey || RelationGetIndexPredicate(index) != NIL) {
      ereport(NOTICE, (errmsg("index \"%s\" not checked: it cannot be read whole or is partial",
                              RelationGetRelationName(index))));
      index_close(index, AccessShareLock);
      continue;
    }
    int64 n;
    ItemPointerData* in_index = index_cold_tids(rel, index, snapshot, &n);
    for (int64 i = 0; i < live; i++) {
      auto range = std::equal_range(in_index, in_index + n, rows[i], tid_less);
      if (range.second - range.first != 1)
        corrupted(rel, psprintf("cold row (%u,%u) is in index \"%s\" %d times, not once",
                                ItemPointerGetBlockNumberNoCheck(&rows[i]),
                                ItemPointerGetOffsetNumberNoCheck(&rows[i]), RelationGetRelationName(index),
                                static_cast<int>(range.second - range.first)));
    }
    for (int64 i = 0; i < nfolded; i++)
      if (std::binary_search(in_index, in_index + n, folded[i], tid_less))
        corrupted(rel, psprintf("index \"%s\" still has an entry for cold row (%u,%u), which VACUUM folded",
                                RelationGetRelationName(index), ItemPointerGetBlockNumberNoCheck(&folded[i]),
                                ItemPointerGetOffsetNumberNoCheck(&folded[i])));
    // Entries of batches that do not exist: an aborted move's (or one in progress); harmless, as
    // scans skip them, and the next VACUUM removes them.
    int64 orphans = 0;
    for (int64 i = 0; i < n; i++)
      if (!std::binary_search(batches, batches + nbatches,
                              tiered_batch_first(ItemPointerGetBlockNumberNoCheck(&in_index[i]))))
        orphans++;
    if (orphans > 0)
      ereport(NOTICE,
              (errmsg("index \"%s\" has %lld entries of cold rows in no batch",
                      RelationGetRelationName(index), static_cast<long long>(orphans)),
               errdetail(
                   "A move that was rolled back or is in progress wrote them; VACUUM removes the former.")));
    pfree(in_index);
    index_close(index, AccessShareLock);
  }
  return live;
}
