// WAL of the `learned` index's hot insert path (learned_wal.h).
#include "learned_wal.h"

extern "C" {
#include "access/bufmask.h"
#include "access/xlog_internal.h"
#include "access/xloginsert.h"
#include "access/xlogutils.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
}

namespace {

inline constexpr RmgrId kLearnedRmgrId = RM_EXPERIMENTAL_ID;
inline constexpr uint8 kXlogLearnedAppend = 0x10;

// The record: block 0 is the items page; the data is the appended pair.
struct XlLearnedAppend {
  uint64 key;
  ItemPointerData tid;
};

// Set once in _PG_init (like the reloption kind): whether this server registered the resource
// manager. Postmaster children inherit it.
bool custom_wal_registered = false;

void learned_redo(XLogReaderState* record) {
  uint8 info = XLogRecGetInfo(record) & ~XLR_INFO_MASK;
  if (info != kXlogLearnedAppend) elog(PANIC, "omendb redo: unknown record type %u", info);
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

void learned_desc(StringInfo buf, XLogReaderState* record) {
  uint8 info = XLogRecGetInfo(record) & ~XLR_INFO_MASK;
  if (info == kXlogLearnedAppend) {
    const auto* rec = reinterpret_cast<const XlLearnedAppend*>(XLogRecGetData(record));
    appendStringInfo(buf, "key " UINT64_FORMAT " tid (%u,%u)", rec->key,
                     ItemPointerGetBlockNumberNoCheck(&rec->tid), ItemPointerGetOffsetNumberNoCheck(&rec->tid));
  }
}

const char* learned_identify(uint8 info) {
  return (info & ~XLR_INFO_MASK) == kXlogLearnedAppend ? "LEARNED_APPEND" : nullptr;
}

// wal_consistency_checking: the page after redo must equal the primary's image except for what
// redo never sets the same way (LSN, checksum) and the unused space between pd_lower and pd_upper
// (on items pages the hole between the used keys and the used TIDs, learned_items_set_bounds).
void learned_mask(char* page, BlockNumber) {
  mask_page_lsn_and_checksum(page);
  mask_unused_space(page);
}

const RmgrData kLearnedRmgr = {
    "omendb", learned_redo, learned_desc, learned_identify, nullptr, nullptr, learned_mask, nullptr,
};

}  // namespace

void learned_wal_init(void) {
  if (!process_shared_preload_libraries_in_progress) return;
  RegisterCustomRmgr(kLearnedRmgrId, const_cast<RmgrData*>(&kLearnedRmgr));
  custom_wal_registered = true;
}

bool learned_wal_custom(void) { return custom_wal_registered; }

void learned_log_append(Relation index, Buffer buf, uint64 key, ItemPointer tid) {
  if (!custom_wal_registered) {
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
  if (RelationNeedsWAL(index)) {
    XLogBeginInsert();
    XLogRegisterBuffer(0, buf, REGBUF_STANDARD);
    XLogRegisterData(reinterpret_cast<char*>(&rec), sizeof rec);
    XLogRecPtr lsn = XLogInsert(kLearnedRmgrId, kXlogLearnedAppend);
    PageSetLSN(page, lsn);
  }
  END_CRIT_SECTION();
}
