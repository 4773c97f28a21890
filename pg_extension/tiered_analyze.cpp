// ANALYZE of a tiered table: statistics from both tiers.
//
// PostgreSQL 15 samples a table by block number (acquire_sample_rows: up to statistics_target*300
// blocks of RelationGetNumberOfBlocks, then a reservoir of rows); it asks the table AM for the
// rows of each sampled block and cannot be given other blocks. The cold rows come along with them:
// the table's batches, in block order, are dealt out over the hot tier's blocks (batch k to block
// k mod the block count), and a sampled block yields its hot rows, then the rows of its batches.
// Every row of either tier is sampled with the same probability (its block's); the sample is
// clumpier (a batch holds up to 4656 rows) but unbiased, and ANALYZE's row estimate (live rows per
// sampled block times blocks) counts both tiers: pg_class.reltuples always does (tiered.h).
// Changes not folded yet count as dead rows, as heap's deleted tuples do.
//
// A table whose hot tier has no block at all (every row moved, then VACUUM truncated the heap)
// gives ANALYZE nothing to sample: it keeps the column statistics it had (docs/tiered.md).
#include "tiered.h"

#include <algorithm>

extern "C" {
#include "catalog/pg_type_d.h"
#include "commands/vacuum.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/snapmgr.h"
}

struct ColdSample {
  ColdReader* reader;
  Snapshot snapshot;
  BlockNumber* firsts;  // the table's batches in block order
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
  s->snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
  s->nblocks = RelationGetNumberOfBlocks(rel);
  Oid types[2] = {OIDOID, OIDOID};
  Datum args[2] = {ObjectIdGetDatum(rel->rd_node.relNode), ObjectIdGetDatum(RelationGetRelid(rel))};
  MemoryContext cxt = CurrentMemoryContext;
  tiered_catalog_spi(
      "SELECT first_block FROM omendb.tier_batch WHERE relnode = $1 AND relid = $2 ORDER BY first_block", 2,
      types, args, true);
  s->nbatches = static_cast<int64>(SPI_processed);
  s->firsts = static_cast<BlockNumber*>(MemoryContextAlloc(cxt, sizeof(BlockNumber) * (s->nbatches + 1)));
  for (int64 i = 0; i < s->nbatches; i++) {
    bool null;
    s->firsts[i] = static_cast<BlockNumber>(
        DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &null)));
  }
  SPI_finish();
  return s;
}

void cold_sample_end(ColdSample* s) { cold_close(s->reader); }

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
        if (s->batch.ngone > 0 &&
            std::binary_search(s->batch.gone, s->batch.gone + s->batch.ngone, static_cast<int32>(row)))
          *deadrows += 1;  // a change VACUUM has not folded yet
        continue;
      }
      cold_store_row(s->reader, &s->batch, row, slot);
      *liverows += 1;
      return true;
    }
    s->have = false;
  }
}
