// The resource manager "omendb" and direct generic WAL records (omen_wal.h).
#include "omen_wal.h"

extern "C" {
#include "access/bufmask.h"
#include "access/xloginsert.h"
#include "access/xlogutils.h"
#include "miscadmin.h"
}

namespace {

// Set once in _PG_init (like a reloption kind): whether this server registered the resource
// manager. Postmaster children inherit it.
bool registered = false;

const OmenWalKind* find_kind(uint8 info) {
  for (int i = 0; i < kOmenWalNKinds; i++)
    if (kOmenWalKinds[i].info == info) return &kOmenWalKinds[i];
  return nullptr;
}

void omen_redo(XLogReaderState* record) {
  uint8 info = XLogRecGetInfo(record) & ~XLR_INFO_MASK;
  const OmenWalKind* kind = find_kind(info);
  if (kind == nullptr) elog(PANIC, "omendb redo: unknown record type %u", info);
  kind->redo(record);
}

void omen_desc(StringInfo buf, XLogReaderState* record) {
  const OmenWalKind* kind = find_kind(XLogRecGetInfo(record) & ~XLR_INFO_MASK);
  if (kind != nullptr) kind->desc(buf, record);
}

const char* omen_identify(uint8 info) {
  const OmenWalKind* kind = find_kind(info & ~XLR_INFO_MASK);
  return kind != nullptr ? kind->name : nullptr;
}

// wal_consistency_checking: the page after redo must equal the primary's image except for what
// redo never sets the same way (LSN, checksum) and the unused space between pd_lower and pd_upper.
void omen_mask(char* page, BlockNumber) {
  mask_page_lsn_and_checksum(page);
  mask_unused_space(page);
}

const RmgrData kOmenRmgr = {
    "omendb", omen_redo, omen_desc, omen_identify, nullptr, nullptr, omen_mask, nullptr,
};

}  // namespace

void omen_wal_init(void) {
  if (!process_shared_preload_libraries_in_progress) return;
  RegisterCustomRmgr(kOmenRmgrId, const_cast<RmgrData*>(&kOmenRmgr));
  registered = true;
}

bool omen_wal_registered(void) { return registered; }

void omen_wal_log_custom(Relation rel, Buffer buf, uint8 info, const void* data, uint32 len) {
  Assert(registered);
  if (!RelationNeedsWAL(rel)) return;
  XLogBeginInsert();
  XLogRegisterBuffer(0, buf, REGBUF_STANDARD);
  XLogRegisterData(static_cast<char*>(const_cast<void*>(data)), len);
  XLogRecPtr lsn = XLogInsert(kOmenRmgrId, info);
  PageSetLSN(BufferGetPage(buf), lsn);
}

// The payload of an RM_GENERIC_ID record is, per registered block, a sequence of fragments
// "uint16 offset, uint16 length, length bytes" that generic_redo copies into the page before it
// zeroes the hole between pd_lower and pd_upper and sets the LSN
// (src/backend/access/transam/generic_xlog.c, applyPageRedo). The format is the same from
// PostgreSQL 9.6 (where generic WAL appeared) through 17. After a checkpoint XLogRegisterBuffer
// takes a full-page image instead and the fragments are left out of the record, as for any
// standard page.
void omen_wal_log_generic_delta(Relation rel, Buffer buf, const OmenByteRange* ranges, int n) {
  if (!RelationNeedsWAL(rel)) return;
  Page page = BufferGetPage(buf);
  char delta[kOmenDeltaMax];
  Size len = 0;
  for (int i = 0; i < n; i++) {
    OffsetNumber off = ranges[i].off, length = ranges[i].len;
    Assert(len + 2 * sizeof(OffsetNumber) + length <= kOmenDeltaMax);
    memcpy(delta + len, &off, sizeof off);
    memcpy(delta + len + sizeof off, &length, sizeof length);
    memcpy(delta + len + 2 * sizeof(OffsetNumber), page + off, length);
    len += 2 * sizeof(OffsetNumber) + length;
  }
  XLogBeginInsert();
  XLogRegisterBuffer(0, buf, REGBUF_STANDARD);
  XLogRegisterBufData(0, delta, static_cast<uint32>(len));
  XLogRecPtr lsn = XLogInsert(RM_GENERIC_ID, 0);
  PageSetLSN(page, lsn);
}
