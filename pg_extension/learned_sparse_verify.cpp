// omendb_index_verify's check of a sparse learned index against its table: every heap row visible
// to a fresh snapshot is found, within its heap block's fences or as an exception entry (NULLs:
// an entry of the null chain). The exceptions are read first (an index scan over every entry),
// under a snapshot taken before, so a row the snapshot sees was indexed before they were read.
#include "learned_sparse.h"

#include <algorithm>

extern "C" {
#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "utils/snapmgr.h"
}

namespace {

struct Entry {
  bool null;
  uint64 key;
  ItemPointerData tid;
};

bool entry_less(const Entry& a, const Entry& b) {
  if (a.null != b.null) return a.null < b.null;
  if (a.key != b.key) return a.key < b.key;
  return ItemPointerCompare(const_cast<ItemPointer>(&a.tid), const_cast<ItemPointer>(&b.tid)) < 0;
}

struct VerifyState {
  Relation index;
  const LearnedCache* cache;
  Entry* entries;
  Size n;
  int64 rows;
};

void verify_row(Relation, ItemPointer tid, Datum* values, bool* isnull, bool, void* arg) {
  auto* st = static_cast<VerifyState*>(arg);
  st->rows++;
  Entry e{isnull[0], isnull[0] ? 0 : omen_key_encode(values[0], st->index->rd_opcintype[0]), *tid};
  if (!e.null && sparse_fits(st->cache, e.key, tid)) return;
  if (std::binary_search(st->entries, st->entries + st->n, e, entry_less)) return;
  ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                  errmsg("sparse learned index \"%s\" cannot find heap row (%u,%u): it lies outside its "
                         "block's fences and has no entry",
                         RelationGetRelationName(st->index), ItemPointerGetBlockNumber(tid),
                         ItemPointerGetOffsetNumber(tid)),
                  errhint("REINDEX the index.")));
}

}  // namespace

int64 sparse_verify_heap(Relation index) {
  Relation heap = table_open(index->rd_index->indrelid, AccessShareLock);
  Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
  VerifyState st{index, learned_get_cache(index), nullptr, 0, 0};
  // Every entry (NULLs included), in (null, key, TID) order.
  Size cap = 1024;
  st.entries = static_cast<Entry*>(palloc(sizeof(Entry) * cap));
  IndexScanDesc scan = index_beginscan(heap, index, snapshot, 0, 0);
  learned_scan_exceptions_only(scan);
  index_rescan(scan, nullptr, 0, nullptr, 0);
  for (;;) {
    ItemPointer tid = index_getnext_tid(scan, ForwardScanDirection);
    if (tid == nullptr) break;
    if (st.n == cap) st.entries = static_cast<Entry*>(repalloc_huge(st.entries, sizeof(Entry) * (cap *= 2)));
    bool null;
    uint64 key = learned_scan_current_key(scan, &null);
    st.entries[st.n++] = Entry{null, key, *tid};
  }
  index_endscan(scan);
  std::sort(st.entries, st.entries + st.n, entry_less);
  // The heap, as an index build sees it (HOT chains by their root TID).
  IndexInfo* info = BuildIndexInfo(index);
  TableScanDesc hscan = table_beginscan_strat(heap, snapshot, 0, nullptr, true, false);
  table_index_build_scan(heap, index, info, false, false, verify_row, &st, hscan);
  UnregisterSnapshot(snapshot);
  table_close(heap, AccessShareLock);
  pfree(st.entries);
  return st.rows;
}
