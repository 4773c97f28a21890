// Pages of an access method's relation, through shared buffers: writing new pages without WAL and
// logging them afterwards in batches, and taking a page for a new use. Shared by the access methods.
//
// A build (or a re-train) writes its pages through buffers without WAL and WAL-logs them as full
// images in batches (omen_log_new_pages: log_newpage_range, as GIN and GiST builds do) before
// anything points at them.
#pragma once

#include "omen_pg.h"

extern "C" {
#include "storage/bufmgr.h"
#include "utils/rel.h"
}

// Appends `image` as block `expect` of `fork` through a buffer, without WAL (log it with
// omen_log_new_pages); elog(ERROR) if the relation's next block is not `expect`.
void omen_extend_page(Relation rel, ForkNumber fork, Page image, BlockNumber expect);
// Writes `image` as block `blkno` of `fork`: overwrites it when it exists, else extends the relation
// by exactly that block (omen_extend_page). Without WAL (same contract).
void omen_put_page(Relation rel, ForkNumber fork, Page image, BlockNumber blkno);
// WAL-logs blocks [start, end) of `fork` as full page images, in batches (no-op when the relation
// needs no WAL, except for the init fork, which is always logged).
void omen_log_new_pages(Relation rel, ForkNumber fork, BlockNumber start, BlockNumber end);

// Returns a new, exclusively locked buffer of the main fork: a page the index free space map hands
// out (GetFreeIndexPage) that `is_free` still accepts under the lock (it may have been reused
// concurrently), else a new block at the end of the relation.
Buffer omen_new_buffer(Relation rel, bool (*is_free)(Page page));
