// The table access method `tiered`: the one header of its glue (DESIGN.md section 3,
// docs/tiered.md).
//
// A tiered table is a heap table in every respect: its hot tier *is* heap, and every callback of
// the table AM routine is heap's own (GetHeapamTableAmRoutine()), never a copy of heap code. What
// tiered adds replaces a callback only where it must:
//  * cold rows: rows moved (omendb_tier_move) into *batches*, rows of the extension table
//    omendb.tier_batch, each a payload of the core's batch codec. A cold row's TID is virtual: block
//    kColdFirstBlock + 16 * slot + i / 291, offset i % 291 + 1 for row i of the batch in `slot`;
//    scans, index fetches and index builds route by that block number;
//  * heap code that insists on `rd_tableam == heap` (heap_getnext's "only heap AM is supported",
//    reached from heap's index build and validate scans) runs with heap's routine presented on the
//    relation for the duration of the call, restored in PG_FINALLY (tiered.cpp);
//  * the TOAST table of a tiered table is a plain heap table (relation_toast_am);
//  * BRIN is refused: it summarises block ranges, which cold rows do not have.
// Files: tiered.cpp (handler, routine), tiered_scan.cpp (sequential, bitmap and parallel scans),
// tiered_fetch.cpp (index fetches, row versions, DML routing), tiered_project.cpp (columns a plan reads),
// tiered_cold.cpp (reading batches), tiered_codec.cpp + tiered_decode.cpp + tiered_form.cpp (rows <-> core
// batch codec), tiered_move.cpp (moves), tiered_dml.cpp (cold DELETE/UPDATE/locks), tiered_vacuum.cpp +
// tiered_fold.cpp (VACUUM), tiered_sample.cpp (ANALYZE, TABLESAMPLE), tiered_sql.cpp (policy, stats, verify),
// tiered_worker.cpp (policy worker).
#pragma once

#include <cstdint>

#include "omen_pg.h"

namespace omen {
enum class ColumnKind : uint8_t;  // omen/batch_codec.h
}

extern "C" {
#include "access/relscan.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/rel.h"
}

// ---- cold TIDs -------------------------------------------------------------------------------
constexpr BlockNumber kColdFirstBlock = BlockNumber(1) << 31;
constexpr uint32 kColdRowsPerBlock = 291;  // MaxHeapTuplesPerPage: TID bitmaps accept the offsets
constexpr uint32 kColdBlocksPerBatch = 16;
constexpr uint32 kColdMaxBatchRows = kColdRowsPerBlock * kColdBlocksPerBatch;  // 4656

static inline bool tiered_is_cold_block(BlockNumber b) {
  return b >= kColdFirstBlock && b != InvalidBlockNumber;
}
static inline bool tiered_is_cold(ItemPointer tid) {
  return tiered_is_cold_block(ItemPointerGetBlockNumberNoCheck(tid));
}
// The first block of the batch that holds virtual block b.
static inline BlockNumber tiered_batch_first(BlockNumber b) {
  return b - (b - kColdFirstBlock) % kColdBlocksPerBatch;
}
// Row i of the batch starting at `first`, as a TID, and back.
static inline void tiered_row_tid(BlockNumber first, uint32 row, ItemPointer tid) {
  ItemPointerSet(tid, first + row / kColdRowsPerBlock, OffsetNumber(row % kColdRowsPerBlock + 1));
}
static inline uint32 tiered_tid_row(ItemPointer tid) {
  BlockNumber b = ItemPointerGetBlockNumberNoCheck(tid);
  return (b - tiered_batch_first(b)) * kColdRowsPerBlock + ItemPointerGetOffsetNumberNoCheck(tid) - 1;
}

// Module load (_PG_init): the executor hook (tiered_project.cpp) that keeps bitmap scans from
// prefetching cold blocks and tells scans which columns their plan reads.
void tiered_init(void);
// The policy worker (tiered_worker.cpp): omendb.tier_naptime, and with shared_preload_libraries
// the launcher background worker. Called by tiered_init.
void tiered_worker_init(void);

// Crash points for tests (tiered.cpp), compiled in only by `make OMEN_CRASH_POINTS=1` (as `make
// test` builds): omendb.debug_crash_point, a superuser setting hidden from SHOW ALL and the sample
// file, names one point; a process that reaches it kills itself with SIGKILL, as `kill -9` would,
// so TAP tests crash a move or a VACUUM at each of its steps. Other builds have neither the
// setting nor the checks.
#ifdef OMEN_CRASH_POINTS
void tiered_crash_points_init(void);
void tiered_crash_point(const char* name);
#else
inline void tiered_crash_points_init(void) {}
inline void tiered_crash_point(const char*) {}
#endif

// ---- the routine (tiered.cpp) ----------------------------------------------------------------
// The routine of `tiered` (built on first use from heap's; constant afterwards).
const TableAmRoutine* tiered_routine(void);
static inline bool tiered_is_tiered(Relation rel) { return rel->rd_tableam == tiered_routine(); }
// ERROR (42809) unless rel is a tiered table; `what` names the operation.
void tiered_check_tiered(Relation rel, const char* what);
// ERROR (0A000) unless rel is permanent: cold rows live in a logged table (`what`: "move rows of").
void tiered_check_permanent(Relation rel, const char* what);

// ERROR (0A000) when rel's publications (its own, its schema's, FOR ALL TABLES, its ancestors') send
// changes of a kind in `kinds` to subscribers: `what` ("move rows of") cannot be replicated, as
// `why` says. Logical decoding sees heap's WAL only: a move's deletes of hot rows, a cold UPDATE's
// new version (an INSERT); never a cold row's change.
enum : int { kPublishedDeletes = 1, kPublishedInsertsOrUpdates = 2 };
void tiered_check_unpublished(Relation rel, int kinds, const char* what, const char* why);

// ---- column projection (tiered_project.cpp) ----------------------------------------------------
// The columns a scan's plan node and its parent read from its rows: attribute numbers, ascending.
// A cold row read for such a scan carries only these (the codec decodes only their sections); its
// other columns read as NULL, attrs in ascending order. No set (nullptr): every column. Set right after the
// executor starts, before the first row is read.
struct ColdColumns {
  int n;
  AttrNumber attrs[FLEXIBLE_ARRAY_MEMBER];
};
void tiered_scan_set_columns(TableScanDesc scan, const ColdColumns* cols);           // tiered_scan.cpp
void tiered_fetch_set_columns(IndexFetchTableData* fetch, const ColdColumns* cols);  // tiered_fetch.cpp
// A copy of cols in `cxt` (nullptr stays nullptr).
ColdColumns* cold_columns_copy(MemoryContext cxt, const ColdColumns* cols);

// ---- the extension's tables (tiered_cold.cpp) --------------------------------------------------
// Columns of omendb.tier_batch.
// Columns of omendb.tier_delete.
enum TierDeleteAttr { kDeleteRelid = 1, kDeleteRelnode, kDeleteFirst, kDeleteRow, kDeleteNewTid };
constexpr int kDeleteNatts = 5;
enum TierBatchAttr {
  kBatchRelid = 1,
  kBatchRelnode,
  kBatchFirst,
  kBatchRows,
  kBatchDeleted,
  kBatchMovedAt,
  kBatchPayload,
  kBatchHotBytes
};
constexpr int kBatchNatts = 8;
// OID of omendb.<name> (ERROR if the extension's schema is missing).
Oid tiered_catalog(const char* name);
// Runs `sql` through SPI as the owner of the extension's tables (they are internal storage: the
// caller needs no privilege on them), in a security-restricted context, with search_path
// pg_catalog and session_replication_role origin. Returns SPI_processed;
// with `keep`, the caller reads SPI_tuptable and calls SPI_finish itself. `nulls`: as SPI's ('n'
// marks a NULL argument), or nullptr for none. A failing statement raises an error.
uint64 tiered_catalog_spi(const char* sql, int nargs, Oid* types, Datum* values, bool keep,
                          const char* nulls = nullptr);

// The policy of a tiered table (omendb.tier_policy), read by tiered_policy_get.
struct TierPolicy {
  AttrNumber tier_attnum;
  Oid tier_type;
  bool has_cold_after;
  Datum cold_after;         // an Interval*, palloc'd
  AttrNumber order_attnum;  // 0: none
  int32 batch_rows;
};
bool tiered_policy_get(Relation rel, TierPolicy* out);

// One batch version visible to a snapshot, as read from omendb.tier_batch.
struct ColdBatch {
  BlockNumber first;  // first virtual block
  uint32 nrows;
  ItemPointerData tid;  // of the batch tuple in omendb.tier_batch
  bytea* deleted;       // detoasted, or nullptr: no row deleted
  bytea* payload;       // detoasted
  int32* gone;          // rows deleted or updated since (omendb.tier_delete) for the snapshot, sorted
  int ngone;
  bool ours;             // written for this table (relid): a relfilenode number reused by another table after
                         // its own was dropped never brings that table's batches back
  bool never_committed;  // the batch row's inserter aborted or crashed (seen under SnapshotAny)
};
// Row gone for the batch's reader: set in the deleted bitmap (folded), or taken by a change.
bool cold_row_deleted(const ColdBatch* b, uint32 row);
bool cold_row_folded(const ColdBatch* b, uint32 row);

// Reader of one tiered table's cold tier: the extension's batch table and its key index, opened
// for the reader's life, and the last batch decoded (reused while the same version is asked for).
// Lives in the memory context current at cold_open; cold_close releases it.
struct ColdReader;
ColdReader* cold_open(Relation rel);
void cold_close(ColdReader* r);
// The columns the reader's rows carry from now on (see ColdColumns; copied).
void cold_set_columns(ColdReader* r, const ColdColumns* cols);
// Reloads b->gone: the rows changes took away for `snapshot` (ColdReader r read b last).
void cold_load_gone(ColdReader* r, ColdBatch* b, Snapshot snapshot);
// The version of batch `first` visible to `snapshot`; false if none.
bool cold_find(ColdReader* r, BlockNumber first, Snapshot snapshot, ColdBatch* out);
// Stores row `row` of `b` (decoded, or reused) in `slot` as a heap tuple with t_self = its TID.
void cold_store_row(ColdReader* r, const ColdBatch* b, uint32 row, TupleTableSlot* slot);
// Cold point fetch: the row at `tid` if its batch version visible to `snapshot` has it undeleted.
bool cold_fetch(ColdReader* r, ItemPointer tid, Snapshot snapshot, TupleTableSlot* slot);
// The union of the deleted bitmaps of every version of batch `first` (any transaction's: a folded
// row is deleted for every snapshot), palloc'd; nullptr when none has one.
uint8* cold_folded_any(ColdReader* r, BlockNumber first, uint32 nrows);
// Batches of the table in block order, visible to `snapshot`: begin, next (false at the end), end.
void cold_batches_begin(ColdReader* r, Snapshot snapshot);
bool cold_batches_next(ColdReader* r, ColdBatch* out);
bool cold_batches_prev(ColdReader* r, ColdBatch* out);
// Decodes batch `b` (just read) to check it, for rows of `desc`; returns why it is corrupt, or
// nullptr.
const char* cold_check(ColdReader* r, const ColdBatch* b, TupleDesc desc);
void cold_batches_end(ColdReader* r);

// ---- rows <-> batch payloads (tiered_codec.cpp) ------------------------------------------------
// Accumulates rows of one table and encodes them into a payload. Lives in the current context.
struct BatchBuilder;
BatchBuilder* batch_builder_create(TupleDesc desc, uint32 capacity);
// Adds the slot's row (values copied, TOASTed values fetched); returns the row count.
uint32 batch_builder_add(BatchBuilder* b, TupleTableSlot* slot);
uint32 batch_builder_rows(const BatchBuilder* b);
// The payload of the rows added since the last reset (palloc'd bytea), then resets.
bytea* batch_builder_finish(BatchBuilder* b);
void batch_builder_free(BatchBuilder* b);

// Compaction (VACUUM's fold, tiered_fold.cpp): rows deleted for every snapshot are stored again as
// NULL where that makes a column smaller (core encode_without_rows), keeping their row numbers (so
// their TIDs: no index changes). A compactor holds a reader and an encoder (current context).
struct BatchCompactor;
BatchCompactor* batch_compactor_create();
// The payload with the rows set in `marked` (len bytes, bit row % 8 of byte row / 8) dropped so
// (palloc'd); nullptr when fewer than min_rows of them still hold a value (*with_values: how many
// do), when that saves less than 1/16 of the payload, or when the payload is corrupt (*why says
// how; else nullptr).
bytea* batch_compact(BatchCompactor* c, const bytea* payload, const uint8* marked, uint32 len,
                     uint32 min_rows, uint32* with_values, const char** why);

// The codec column kind an attribute is stored as (by its physical form; see tiered_codec.cpp).
omen::ColumnKind tiered_column_kind(Form_pg_attribute att);

// Decodes payloads of one table's batches; forms heap tuples of their rows (tiered_decode.cpp,
// tiered_form.cpp).
struct BatchDecoder;
BatchDecoder* batch_decoder_create();
void batch_decoder_free(BatchDecoder* d);
// The payload of a batch row (its stored datum) as a palloc'd bytea. With `cols`, of an uncompressed
// TOASTed payload only the bytes up to the end of the last of cols' sections are read (the header's
// TOAST chunk first, then the rest of that prefix): the bytes after are zero, and only those
// columns may be decoded from it.
bytea* batch_payload_fetch(struct varlena* stored, const ColdColumns* cols);
// Decodes `payload` (only the columns in `cols`, unless nullptr) and binds it to `desc`
// (batch_decoder_bind); returns why it was refused (corrupt, or not of desc's columns; valid until
// the next load), or nullptr. Rows formed from a batch decoded in part have NULL in the other columns.
// `deleted`: the batch version's deleted bitmap (or nullptr), whose rows are never formed.
const char* batch_decoder_load(BatchDecoder* d, const bytea* payload, TupleDesc desc,
                               const ColdColumns* cols = nullptr, const bytea* deleted = nullptr);
// Forms the loaded batch's rows for `desc` from now on: the descriptor of the slot they go to,
// which is not always the relation's (a table rewrite reads old rows with the old descriptor,
// while the relation already has the new one). Returns why the batch does not fit it, or nullptr.
const char* batch_decoder_bind(BatchDecoder* d, TupleDesc desc);
TupleDesc batch_decoder_desc(const BatchDecoder* d);
uint32 batch_decoder_rows(const BatchDecoder* d);
// Row `row` of the loaded batch as a heap tuple of the bound descriptor, in the current memory
// context; or formed over `reuse` (a tuple whose data follows its HeapTupleData, as palloc'd by
// heap_form_tuple or heap_copytuple), when its t_len leaves room: the caller compares the result.
HeapTuple batch_decoder_row(BatchDecoder* d, uint32 row, HeapTuple reuse = nullptr);

// ---- the cold tier's size, VACUUM (tiered.cpp, tiered_vacuum.cpp, tiered_fold.cpp) ----------------
// Whether any batch row (any version) of rel's relfilenode exists.
bool tiered_has_cold(Relation rel);
// Live cold rows of rel now (batch rows not in a deleted bitmap, less the changes visible now);
// `bytes` (if not nullptr): the batches' payload bytes.
double tiered_cold_live_rows(Relation rel, double* bytes);
// pg_class.reltuples of a tiered table counts both tiers; relpages the hot tier's pages. Runs `call`
// (heap code that relates reltuples to the heap's pages: its size estimate, VACUUM's
// extrapolation) with reltuples presented as the hot tier's share, `cold` rows less; restored in
// PG_FINALLY. No C++ objects may live in `call` (PG_TRY is longjmp).
template <class Call>
void tiered_as_hot_reltuples(Relation rel, double cold, Call call) {
  float4 all = rel->rd_rel->reltuples;
  float4 hot = all < 0 ? all : static_cast<float4>(Max(0.0, all - cold));
  rel->rd_rel->reltuples = hot;
  PG_TRY();
  { call(); }
  PG_FINALLY();
  {
    if (rel->rd_rel->reltuples == hot) rel->rd_rel->reltuples = all;  // unless the entry was rebuilt
  }
  PG_END_TRY();
}
void tiered_vacuum_callbacks(TableAmRoutine* r);
// The relfilenode whose batch and change rows `snapshot` sees: rel's current one, unless an MVCC
// snapshot predates the rewrite that set it (VACUUM FULL, CLUSTER, SET TABLESPACE move the rows
// to the new relfilenode with MVCC updates, so such a snapshot sees their old versions, under the
// relfilenode pg_class had for it: as heap keeps its rows visible to such snapshots). Not after a
// TRUNCATE or a rewrite that deleted the batches (the table reads empty to such snapshots, as heap).
Oid tiered_relnode_as_of(Relation rel, Snapshot snapshot);
// VACUUM's fold of swept changes older than `cutoff`, of batches up to `max_first`
// (InvalidBlockNumber: all) (tiered_fold.cpp): in a background worker it starts and waits for;
// skipped (the changes stay) against wraparound or without a worker slot.
void tiered_fold_start(Relation rel, TransactionId cutoff, BlockNumber max_first, bool wraparound);

// ---- samples: ANALYZE, TABLESAMPLE (tiered_sample.cpp) -----------------------------------------
// The cold rows ANALYZE samples: the table's batches dealt out over the hot tier's blocks (batch k
// to block k mod the hot block count), so a sampled block brings its batches' rows, and every row
// of either tier has the same chance to be sampled.
struct ColdSample;
ColdSample* cold_sample_begin(Relation rel);
void cold_sample_end(ColdSample* s);
// Starts the cold rows of hot block `block` (the block ANALYZE sampled).
void cold_sample_block(ColdSample* s, BlockNumber block);
// The next cold row of the block into `slot` (false at the end); counts live and dead rows.
bool cold_sample_next(ColdSample* s, TupleTableSlot* slot, double* liverows, double* deadrows);
// TABLESAMPLE over the cold tier, after heap's sample of the hot one: the sampling method picks
// among the cold tier's virtual blocks and their rows.
struct ColdTableSample;
// ERROR (0A000) for sampling methods other than SYSTEM and BERNOULLI when cold rows exist.
ColdTableSample* cold_tablesample_begin(Relation rel, Snapshot snapshot, SampleScanState* st);
void cold_tablesample_end(ColdTableSample* s);
bool cold_tablesample_next_block(ColdTableSample* s, SampleScanState* st);
bool cold_tablesample_next_tuple(ColdTableSample* s, SampleScanState* st, TupleTableSlot* slot);

// ---- checks (tiered_verify.cpp) -----------------------------------------------------------------
// omendb_tier_verify's work: returns the live cold rows checked.
int64 tiered_verify_cold(Relation rel);

// ---- scans (tiered_scan.cpp), fetches (tiered_fetch.cpp) -----------------------------------------
void tiered_scan_callbacks(TableAmRoutine* r);
void tiered_fetch_callbacks(TableAmRoutine* r);
void tiered_dml_callbacks(TableAmRoutine* r);
// Feeds every cold row (of the batches not yet claimed by another participant when `scan` is a
// parallel tiered scan) to an index build callback; returns the row count.
double tiered_index_build_cold(Relation table_rel, Relation index_rel, IndexInfo* index_info,
                               IndexBuildCallback callback, void* callback_state, TableScanDesc scan);
// The heap scan inside a tiered scan (or `scan` itself when it is not one); call before presenting
// heap's routine on the relation.
TableScanDesc tiered_heap_scan(TableScanDesc scan);
// Frees a tiered scan whose heap scan was ended by heap code (heap's index build ends its scan).
void tiered_scan_release(TableScanDesc scan);

extern "C" {
Datum tiered_handler(PG_FUNCTION_ARGS);
Datum omendb_tier_set_policy(PG_FUNCTION_ARGS);
Datum omendb_tier_move(PG_FUNCTION_ARGS);
Datum omendb_tier_stats(PG_FUNCTION_ARGS);
Datum omendb_tier_verify(PG_FUNCTION_ARGS);
}
