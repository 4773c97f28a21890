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
  int64 cap = 1024, live = 0;
  auto* rows = static_cast<ItemPointerData*>(palloc(sizeof(ItemPointerData) * cap));
  ColdReader* r = cold_open(rel);
  cold_batches_begin(r, snapshot);
  ColdBatch b;
  while (cold_batches_next(r, &b)) {
    CHECK_FOR_INTERRUPTS();
    const char* why = cold_check(r, &b);
    if (why != nullptr) corrupted(rel, psprintf("cold batch at block %u is corrupt: %s", b.first, why));
    for (uint32 row = 0; row < b.nrows; row++) {
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
    pfree(in_index);
    index_close(index, AccessShareLock);
  }
  return live;
}
