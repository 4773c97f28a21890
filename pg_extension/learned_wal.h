// WAL of the `learned` index's hot insert path: a custom resource manager when omendb is in
// shared_preload_libraries, a directly written generic WAL record otherwise.
//
// Every page change of the index is a GenericXLog record, except the most frequent one: appending
// one (key, TID) to a leaf or overflow page that has room. GenericXLog would pay for it with a
// copy of the page and a byte-by-byte diff of its used part (most of 8 kB) per insert. When the
// library is preloaded, _PG_init registers the resource manager "omendb" (RM_EXPERIMENTAL_ID while
// in development) and that append is logged as a 16-byte record (key, TID) on the page's buffer
// (full-page image after a checkpoint, as for any standard page); its redo repeats the append.
// Without preloading, the append writes an RM_GENERIC_ID record itself: the few byte ranges it
// changed, in generic WAL's delta format (learned_wal.cpp, docs/format.md), so an index works on
// a server (and standby) that never loaded omendb at start, at about the custom record's cost. A server that wrote "omendb" records (and every standby
// replaying them) must keep omendb in shared_preload_libraries: recovery refuses a record of an
// unregistered resource manager.
#pragma once

#include "learned_page.h"

// Registers the resource manager when called while shared_preload_libraries are loaded; otherwise
// does nothing. Called once from _PG_init.
void learned_wal_init(void);

// True when this server logs appends with the custom resource manager.
bool learned_wal_custom(void);

// Appends (key, tid) to the exclusively locked items page in `buf` (REQUIRES: it has room) and
// WAL-logs it: a custom record when registered, GenericXLog otherwise.
void learned_log_append(Relation index, Buffer buf, uint64 key, ItemPointer tid);
