// WAL of the `learned` index's hot insert path: appending one (key, TID) to a leaf or overflow page
// that has room (learned.h, learned_log_append).
//
// Every other page change of the index is a GenericXLog record. GenericXLog would pay for this
// one, the most frequent, with a copy of the page and a byte-by-byte diff of its used part (most of
// 8 kB) per insert. So when omendb is preloaded the append is an "omendb" record of kind
// kLearnedWalAppend (omen_wal.h): 16 bytes (key, TID) on the page's buffer (a full-page image after
// a checkpoint, as for any standard page), whose redo repeats the append. Without preloading, the
// append writes the RM_GENERIC_ID record itself from the byte ranges it changed
// (learned_items_append_ranges, omen_wal_log_generic_delta), so an index works on a server (and
// standby) that never loaded omendb at start, at about the custom record's cost; replay rebuilds
// the primary's page byte for byte (wal_consistency_checking = generic compares them; TAP 007, 008).
#include "learned_items.h"

extern "C" {
#include "access/xlogutils.h"
#include "miscadmin.h"
}

namespace {

// The record's data: the appended pair. Block 0 is the items page.
struct XlLearnedAppend {
  uint64 key;
  ItemPointerData tid;
};

// The largest delta of an append: the header range (18 bytes), a 64-bit key (9 bytes), a 48-bit
// TID (7 bytes), plus a fragment header (4 bytes) each.
static_assert(3 * 2 * sizeof(OffsetNumber) + 18 + 9 + 7 <= kOmenDeltaMax, "append delta");
static_assert(MAXALIGN(SizeOfPageHeaderData) + offsetof(LearnedItemsHeader, nsorted) + sizeof(uint16) -
                      offsetof(PageHeaderData, pd_lower) ==
                  18,
              "the header range of learned_items_append_ranges");

}  // namespace

void learned_wal_redo_append(XLogReaderState* record) {
  const auto* rec = reinterpret_cast<const XlLearnedAppend*>(XLogRecGetData(record));
  Buffer buf;
  if (XLogReadBufferForRedo(record, 0, &buf) == BLK_NEEDS_REDO) {
    Page page = BufferGetPage(buf);
    if (learned_items_header(page)->nitems >= learned_items_header(page)->capacity)
      elog(PANIC, "omendb redo: append to a full page");
    learned_items_append(page, rec->key, &rec->tid);
    PageSetLSN(page, record->EndRecPtr);
    MarkBufferDirty(buf);
  }
  if (BufferIsValid(buf)) UnlockReleaseBuffer(buf);
}

void learned_wal_desc_append(StringInfo buf, XLogReaderState* record) {
  const auto* rec = reinterpret_cast<const XlLearnedAppend*>(XLogRecGetData(record));
  appendStringInfo(buf, "key " UINT64_FORMAT " tid (%u,%u)", rec->key,
                   ItemPointerGetBlockNumberNoCheck(&rec->tid), ItemPointerGetOffsetNumberNoCheck(&rec->tid));
}

void learned_log_append(Relation index, Buffer buf, uint64 key, ItemPointer tid) {
  bool custom = omen_wal_registered();
  if (!custom && !kOmenDirectGeneric) {
    GenericXLogState* xs = GenericXLogStart(index);
    learned_items_append(GenericXLogRegisterBuffer(xs, buf, 0), key, tid);
    GenericXLogFinish(xs);
    return;
  }
  Page page = BufferGetPage(buf);
  XlLearnedAppend rec;
  memset(&rec, 0, sizeof rec);  // no uninitialized padding bytes in the WAL record
  rec.key = key;
  rec.tid = *tid;
  START_CRIT_SECTION();
  learned_items_append(page, key, tid);
  MarkBufferDirty(buf);
  if (custom) {
    omen_wal_log_custom(index, buf, kLearnedWalAppend, &rec, sizeof rec);
  } else {
    OmenByteRange ranges[3];
    int n = learned_items_append_ranges(page, ranges);
    omen_wal_log_generic_delta(index, buf, ranges, n);
  }
  END_CRIT_SECTION();
}
