// Samples of a tiered table's rows that include the cold tier: ANALYZE's, and TABLESAMPLE's.
//
// ANALYZE. PostgreSQL 15 samples a table by block number (acquire_sample_rows: up to
// statistics_target*300 blocks of RelationGetNumberOfBlocks, then a reservoir of rows); it asks the
// table AM for the rows of each sampled block and cannot be given other blocks. The cold rows come
// along with them: the table's batches, in block order, are dealt out over the hot tier's blocks
// (batch k to block k mod the block count), and a sampled block yields its hot rows, then the rows
// of its batches. Every row of either tier is sampled with the same probability (its block's); the
// sample is clumpier (a batch holds up to 4656 rows) but unbiased, and ANALYZE's row estimate (live
// rows per sampled block times blocks) counts both tiers: pg_class.reltuples always does
// (tiered.h). Changes not folded yet count as dead rows, as heap's deleted tuples do. A table whose
// hot tier has no block at all (every row moved, then VACUUM truncated the heap) gives ANALYZE
// nothing to sample: it keeps the column statistics it had (docs/tiered.md).
//
// TABLESAMPLE. After heap's sample of the hot tier, the cold tier's virtual blocks (each batch's
// blocks of 291 rows, numbered 0.. in block order) are sampled the same way: the sampling method
// picks block numbers among them (SYSTEM) or walks them all and picks rows (BERNOULLI), so a row of
// either tier is chosen with the requested probability, and REPEATABLE gives the same rows again.
#include "tiered.h"

#include <algorithm>

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "access/tsmapi.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/plannodes.h"
#include "storage/bufmgr.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
}

namespace {

// The batches of rel visible to `snapshot`, in block order: first blocks and row counts (read from
// the batch table's key index without touching the payloads).
int64 list_batches(Relation rel, Snapshot snapshot, BlockNumber** firsts, uint32** nrows) {
  Relation batches = table_open(tiered_catalog("tier_batch"), AccessShareLock);
  Relation key = index_open(tiered_catalog("tier_batch_key"), AccessShareLock);
  ScanKeyData k;
  ScanKeyInit(&k, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(tiered_relnode_as_of(rel, snapshot)));
  IndexScanDesc scan = index_beginscan(batches, key, snapshot, 1, 0);
  index_rescan(scan, &k, 1, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(batches, nullptr);
  int64 n = 0, cap = 64;
  *firsts = static_cast<BlockNumber*>(palloc(sizeof(BlockNumber) * cap));
  *nrows = static_cast<uint32*>(palloc(sizeof(uint32) * cap));
  while (index_getnext_slot(scan, ForwardScanDirection, slot)) {
    bool null;
    if (DatumGetObjectId(slot_getattr(slot, kBatchRelid, &null)) != RelationGetRelid(rel)) continue;
    if (n == cap) {
      cap *= 2;
      *firsts = static_cast<BlockNumber*>(repalloc(*firsts, sizeof(BlockNumber) * cap));
      *nrows = static_cast<uint32*>(repalloc(*nrows, sizeof(uint32) * cap));
    }
    (*firsts)[n] = static_cast<BlockNumber>(DatumGetInt64(slot_getattr(slot, kBatchFirst, &null)));
    (*nrows)[n] =
        Min(static_cast<uint32>(DatumGetInt32(slot_getattr(slot, kBatchRows, &null))), kColdMaxBatchRows);
    n++;
  }
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
  index_close(key, AccessShareLock);
  table_close(batches, AccessShareLock);
  return n;
}

bool in_gone(const ColdBatch* b, uint32 row) {
  return b->ngone > 0 && std::binary_search(b->gone, b->gone + b->ngone, static_cast<int32>(row));
}

}  // namespace

// ---- ANALYZE ----------------------------------------------------------------------------------

struct ColdSample {
  ColdReader* reader;
  Snapshot snapshot;
  BlockNumber* firsts;  // the table's batches in block order
  uint32* nrows;
  int64 nbatches;
  BlockNumber nblocks;  // hot blocks when ANALYZE began
  int64 next;           // the next batch (ordinal) dealt to the current block
  bool have;
  ColdBatch batch;
  uint32 row;
};

ColdSample* cold_sample_begin(Relation rel) {
  auto* s = static_cast<ColdSample*>(palloc0(sizeof(ColdSample)));
  s->reader = cold_open(rel);
  s->snapshot = RegisterSnapshot(ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot());
  s->nblocks = RelationGetNumberOfBlocks(rel);
  s->nbatches = list_batches(rel, s->snapshot, &s->firsts, &s->nrows);
  return s;
}

void cold_sample_end(ColdSample* s) {
  cold_close(s->reader);
  UnregisterSnapshot(s->snapshot);
}

void cold_sample_block(ColdSample* s, BlockNumber block) {
  s->next = block;
  s->have = false;
}

bool cold_sample_next(ColdSample* s, TupleTableSlot* slot, double* liverows, double* deadrows) {
  for (;;) {
    if (!s->have) {
      if (s->nblocks == 0 || s->next >= s->nbatches) {
        ExecClearTuple(slot);
        return false;
      }
      BlockNumber first = s->firsts[s->next];
      s->next += s->nblocks;
      vacuum_delay_point();
      s->have = cold_find(s->reader, first, s->snapshot, &s->batch);
      s->row = 0;
      continue;
    }
    while (s->row < s->batch.nrows) {
      uint32 row = s->row++;
      if (cold_row_deleted(&s->batch, row)) {
        if (in_gone(&s->batch, row)) *deadrows += 1;  // a change VACUUM has not folded yet
        continue;
      }
      cold_store_row(s->reader, &s->batch, row, slot);
      *liverows += 1;
      return true;
    }
    s->have = false;
  }
}

// ---- TABLESAMPLE ------------------------------------------------------------------------------

struct ColdTableSample {
  ColdReader* reader;
  Snapshot snapshot;
  BlockNumber* firsts;
  uint32* nrows;
  uint64* start;  // start[i]: number of the first virtual block of batch i; start[nbatches]: total
  int64 nbatches;
  int64 block;  // the current virtual block (-1: none yet)
  int64 batch;  // the batch holding it
  bool have;    // `b` is that batch, visible to the snapshot
  ColdBatch b;
};

ColdTableSample* cold_tablesample_begin(Relation rel, Snapshot snapshot, SampleScanState* st) {
  auto* s = static_cast<ColdTableSample*>(palloc0(sizeof(ColdTableSample)));
  s->reader = cold_open(rel);
  s->snapshot = snapshot;
  s->nbatches = list_batches(rel, snapshot, &s->firsts, &s->nrows);
  // SYSTEM and BERNOULLI keep no state across heap's block numbers and ours; other methods
  // (tsm_system_rows, tsm_system_time) count the blocks they were first told of and would stop
  // before the cold tier: refused rather than silently sampling the hot tier only.
  Oid handler = reinterpret_cast<SampleScan*>(st->ss.ps.plan)->tablesample->tsmhandler;
  if (s->nbatches > 0 && handler != F_BERNOULLI && handler != F_SYSTEM)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("TABLESAMPLE method %s is not supported on tiered table \"%s\" with cold rows",
                           get_func_name(handler), RelationGetRelationName(rel)),
                    errhint("Use TABLESAMPLE SYSTEM or BERNOULLI.")));
  s->start = static_cast<uint64*>(palloc(sizeof(uint64) * (s->nbatches + 1)));
  s->start[0] = 0;
  for (int64 i = 0; i < s->nbatches; i++)
    s->start[i + 1] = s->start[i] + (s->nrows[i] + kColdRowsPerBlock - 1) / kColdRowsPerBlock;
  s->block = -1;
  s->batch = -1;
  return s;
}

void cold_tablesample_end(ColdTableSample* s) { cold_close(s->reader); }

bool cold_tablesample_next_block(ColdTableSample* s, SampleScanState* st) {
  uint64 total = s->start[s->nbatches];
  TsmRoutine* tsm = st->tsmroutine;
  if (total == 0 || total >= InvalidBlockNumber) return false;
  BlockNumber next;
  if (tsm->NextSampleBlock != nullptr) {
    next = tsm->NextSampleBlock(st, static_cast<BlockNumber>(total));
    if (next == InvalidBlockNumber) return false;
  } else {
    next = static_cast<BlockNumber>(s->block + 1);
    if (next >= total) return false;
  }
  CHECK_FOR_INTERRUPTS();
  s->block = next;
  int64 batch =
      std::upper_bound(s->start, s->start + s->nbatches + 1, static_cast<uint64>(next)) - s->start - 1;
  if (batch != s->batch) {
    s->batch = batch;
    s->have = cold_find(s->reader, s->firsts[batch], s->snapshot, &s->b);
  }
  return true;
}

bool cold_tablesample_next_tuple(ColdTableSample* s, SampleScanState* st, TupleTableSlot* slot) {
  // The method sees a block of 291 row slots (its number is the virtual block's, unique per table).
  uint32 sub = static_cast<uint32>(s->block - s->start[s->batch]);
  BlockNumber vblock = s->firsts[s->batch] + sub;
  for (;;) {
    OffsetNumber off = st->tsmroutine->NextSampleTuple(st, vblock, kColdRowsPerBlock);
    if (!OffsetNumberIsValid(off)) break;
    uint32 row = sub * kColdRowsPerBlock + off - 1;
    if (!s->have || row >= s->b.nrows || cold_row_deleted(&s->b, row)) continue;
    cold_store_row(s->reader, &s->b, row, slot);
    return true;
  }
  ExecClearTuple(slot);
  return false;
}
