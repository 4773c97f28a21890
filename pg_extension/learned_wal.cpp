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

namespace {

// The generic WAL record of an append, written directly (no GenericXLogState): the payload format
// of RM_GENERIC_ID records is, per registered block, a sequence of fragments "uint16 offset,
// uint16 length, length bytes" that generic_redo copies into the page before it zeroes the hole
// between pd_lower and pd_upper and sets the LSN (src/backend/access/transam/generic_xlog.c,
// applyPageRedo). The format is the same from PostgreSQL 9.6 (where generic WAL appeared) through
// 17; on other versions the append goes through GenericXLog, which writes the same record after a
// page copy and a byte-by-byte diff. learned_items_append_ranges names the bytes the append
// changed or took out of the hole, so replay rebuilds the primary's page byte for byte
// (wal_consistency_checking = generic compares them; TAP 007, 008), and a standby replays it with
// no omendb loaded. After a checkpoint XLogRegisterBuffer takes a full-page image instead and the
// fragments are left out of the record, as for any standard page.
#if PG_VERSION_NUM >= 90600 && PG_VERSION_NUM < 180000
constexpr bool kDirectGeneric = true;
#else
constexpr bool kDirectGeneric = false;
#endif

// Largest delta: the header range (18 bytes), a 64-bit key (9 bytes), a 48-bit TID (7 bytes),
// plus a 4-byte fragment header each.
constexpr Size kAppendDeltaMax = 3 * 2 * sizeof(OffsetNumber) + 18 + 9 + 7;
static_assert(MAXALIGN(SizeOfPageHeaderData) + offsetof(LearnedItemsHeader, nsorted) + sizeof(uint16) -
                  offsetof(PageHeaderData, pd_lower) == 18,
              "the header range of learned_items_append_ranges");

// Writes the generic delta of the append just made to `page` into `delta`; returns its length.
Size append_delta(Page page, char* delta) {
  LearnedByteRange ranges[3];
  int n = learned_items_append_ranges(page, ranges);
  Size len = 0;
  for (int i = 0; i < n; i++) {
    OffsetNumber off = ranges[i].off, length = ranges[i].len;
    Assert(len + 2 * sizeof(OffsetNumber) + length <= kAppendDeltaMax);
    memcpy(delta + len, &off, sizeof off);
    memcpy(delta + len + sizeof off, &length, sizeof length);
    memcpy(delta + len + 2 * sizeof(OffsetNumber), page + off, length);
    len += 2 * sizeof(OffsetNumber) + length;
  }
  return len;
}

void log_append_generic(Relation index, Buffer buf, uint64 key, ItemPointer tid) {
  Page page = BufferGetPage(buf);
  char delta[kAppendDeltaMax];
  START_CRIT_SECTION();
  learned_items_append(page, key, tid);
  MarkBufferDirty(buf);
  if (RelationNeedsWAL(index)) {
    Size len = append_delta(page, delta);
    XLogBeginInsert();
    XLogRegisterBuffer(0, buf, REGBUF_STANDARD);
    XLogRegisterBufData(0, delta, static_cast<uint32>(len));
    XLogRecPtr lsn = XLogInsert(RM_GENERIC_ID, 0);
    PageSetLSN(page, lsn);
  }
  END_CRIT_SECTION();
}

}  // namespace

void learned_log_append(Relation index, Buffer buf, uint64 key, ItemPointer tid) {
  if (!custom_wal_registered) {
    if (kDirectGeneric) {
      log_append_generic(index, buf, key, tid);
      return;
    }
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
