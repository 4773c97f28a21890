// The extension's one WAL resource manager, "omendb", shared by its access methods; and generic WAL
// records written directly from a list of changed byte ranges.
//
// Every page change of an access method may be a GenericXLog record (at most 4 pages each), which
// core PostgreSQL replays with no omendb loaded. A frequent, small change is worth a record of its
// own: when omendb is in shared_preload_libraries, _PG_init registers the resource manager "omendb"
// (RM_EXPERIMENTAL_ID while in development), whose records are dispatched by *kind* (the info byte)
// to the access method that wrote them. kOmenWalKinds (omendb.cpp) lists every kind of every access
// method; a kind, once written, keeps its info byte and its record format. A server that wrote
// "omendb" records (and every standby replaying them) must keep omendb in shared_preload_libraries:
// recovery refuses a record of an unregistered resource manager.
//
// Without preloading, a small change can still skip GenericXLog's page copy and diff by writing the
// RM_GENERIC_ID record itself (omen_wal_log_generic_delta): its payload is a plain, documented delta
// that generic_redo applies (docs/format.md).
#pragma once

#include "omen_pg.h"

extern "C" {
#include "access/xlog_internal.h"
#include "access/xlogreader.h"
#include "lib/stringinfo.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"
}

inline constexpr RmgrId kOmenRmgrId = RM_EXPERIMENTAL_ID;

// One kind of "omendb" record: its info byte (within XLR_RMGR_INFO_MASK), its name for pg_waldump,
// its redo and its description.
struct OmenWalKind {
  uint8 info;
  const char* name;
  void (*redo)(XLogReaderState* record);
  void (*desc)(StringInfo buf, XLogReaderState* record);
};

// Every kind of every access method (defined in omendb.cpp), kOmenWalNKinds of them.
extern const OmenWalKind kOmenWalKinds[];
extern const int kOmenWalNKinds;

// Registers the resource manager when called while shared_preload_libraries are loaded; otherwise
// does nothing. Called once from _PG_init.
void omen_wal_init(void);
// True when this server registered the resource manager (its access methods may log "omendb"
// records).
bool omen_wal_registered(void);

// WAL-logs the change just made to the standard page in `buf` as an "omendb" record of kind `info`
// carrying `len` bytes of `data`, and sets the page LSN; nothing when `rel` needs no WAL.
// REQUIRES: omen_wal_registered(); `buf` exclusively locked, changed and marked dirty inside the
// caller's critical section.
void omen_wal_log_custom(Relation rel, Buffer buf, uint8 info, const void* data, uint32 len);

// True where this PostgreSQL's generic WAL format is the one omen_wal_log_generic_delta writes
// (9.6 through 17); elsewhere callers go through GenericXLog.
#if PG_VERSION_NUM >= 90600 && PG_VERSION_NUM < 180000
inline constexpr bool kOmenDirectGeneric = true;
#else
inline constexpr bool kOmenDirectGeneric = false;
#endif

// A byte range of a page: [off, off + len).
struct OmenByteRange {
  uint16 off;
  uint16 len;
};
// Most bytes a delta may hold: per range a 4-byte fragment header plus its bytes.
inline constexpr Size kOmenDeltaMax = 128;

// WAL-logs the change just made to the standard page in `buf` as an RM_GENERIC_ID record whose delta
// holds the page's current bytes of `ranges[0..n)`, and sets the page LSN; nothing when `rel` needs
// no WAL. The ranges must cover every byte the change made, except those between pd_lower and
// pd_upper, which generic redo zeroes: so the hole must be zero on the page (replay then rebuilds it
// byte for byte). REQUIRES: kOmenDirectGeneric; the delta fits kOmenDeltaMax; `buf` as for
// omen_wal_log_custom.
void omen_wal_log_generic_delta(Relation rel, Buffer buf, const OmenByteRange* ranges, int n);
