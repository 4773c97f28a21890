// Index access method `learned`: declarations shared by the learned_*.cpp files.
//
// One file per AM phase (STYLE.md habit 7):
//   learned.cpp           handler, reloptions, amcanreturn, cost estimate
//   learned_page.cpp      page format helpers, metapage checks (format in docs/format.md)
//   learned_model.cpp     the model cache (rd_amcache): core PgmModel + leaf fences
//   learned_build.cpp     ambuild, ambuildempty
//   learned_scan.cpp      ambeginscan .. amendscan, amgettuple, amgetbitmap, mark/restore, parallel scans
//   learned_insert.cpp    aminsert
//   learned_vacuum.cpp    ambulkdelete, amvacuumcleanup
//   learned_validate.cpp  amvalidate
//   learned_sql.cpp       omendb_index_stats(), omendb_index_verify()
//
// Boundary rules (DESIGN.md section 4): all of these are called from Postgres; they hold no C++
// objects with non-trivial destructors, and run core code only through omen_pg::call_core().
#pragma once

#include "omen_pg.h"

extern "C" {
#include "access/amapi.h"
#include "access/genam.h"
#include "access/reloptions.h"
#include "nodes/pathnodes.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"
}

// ---- reloptions -------------------------------------------------------------------------------

// WITH (error_bound = N, fillfactor = N). Stored in rd_options.
struct LearnedOptions {
  int32 vl_len_;     // varlena header (do not touch directly)
  int error_bound;   // model error bound epsilon, 1..4096
  int fillfactor;    // percent of a leaf filled at build, 10..100
};

inline constexpr int kLearnedDefaultErrorBound = 64;
inline constexpr int kLearnedDefaultFillfactor = 90;

// Registers the reloptions; called once from _PG_init.
void learned_init(void);

// The options of an index (defaults when none were given).
int learned_error_bound(Relation index);
int learned_fillfactor(Relation index);

// ---- key encoding -----------------------------------------------------------------------------

// Order-preserving uint64 encoding of a Datum of type `type` (omen/key.h). Supported types:
// int2, int4, int8, float4, float8, date, timestamp, timestamptz. Other types: elog(ERROR).
uint64 learned_encode(Datum value, Oid type);
// Inverse for the types whose encoding is lossless (not float4/float8: -0 and NaN payloads).
Datum learned_decode(uint64 key, Oid type);
// True when learned_decode is exact for `type` (index-only scans are offered only then).
bool learned_type_decodable(Oid type);
bool learned_type_supported(Oid type);

// ---- entry points -----------------------------------------------------------------------------

extern "C" {
IndexBuildResult* learned_build(Relation heap, Relation index, IndexInfo* info);
void learned_buildempty(Relation index);
bool learned_insert(Relation index, Datum* values, bool* isnull, ItemPointer tid, Relation heap,
                    IndexUniqueCheck check_unique, bool index_unchanged, IndexInfo* info);
IndexBulkDeleteResult* learned_bulkdelete(IndexVacuumInfo* info, IndexBulkDeleteResult* stats,
                                          IndexBulkDeleteCallback callback, void* callback_state);
IndexBulkDeleteResult* learned_vacuumcleanup(IndexVacuumInfo* info, IndexBulkDeleteResult* stats);
bool learned_canreturn(Relation index, int attno);
void learned_costestimate(PlannerInfo* root, IndexPath* path, double loop_count,
                          Cost* startup, Cost* total, Selectivity* selectivity,
                          double* correlation, double* pages);
bytea* learned_options(Datum reloptions, bool validate);
bool learned_validate(Oid opclass);
IndexScanDesc learned_beginscan(Relation index, int nkeys, int norderbys);
void learned_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
bool learned_gettuple(IndexScanDesc scan, ScanDirection dir);
int64 learned_getbitmap(IndexScanDesc scan, TIDBitmap* tbm);
void learned_markpos(IndexScanDesc scan);
void learned_restrpos(IndexScanDesc scan);
Size learned_estimateparallelscan(void);
void learned_initparallelscan(void* target);
void learned_parallelrescan(IndexScanDesc scan);
void learned_endscan(IndexScanDesc scan);
char* learned_buildphasename(int64 phase);
}

// ---- generations (learned_retrain.cpp) --------------------------------------------------------

// Writers (aminsert, ambulkdelete) hold this heavyweight lock in ShareLock mode; re-training and
// freeing a retired generation hold it in ExclusiveLock mode, so the leaves they copy or free
// cannot change underneath. Readers never take it: a re-train does not block scans.
inline constexpr LOCKMODE kLearnedWriterLock = ShareLock;
inline constexpr LOCKMODE kLearnedRetrainLock = ExclusiveLock;

// An overflow chain this long (pages) on one leaf makes an insert try a re-train, if the index
// holds at most kLearnedInsertRetrainMaxKeys keys: a re-train copies the whole index (16 bytes
// per key in memory) while writers wait, too much to do inside a user's INSERT for big indexes,
// which are re-trained by VACUUM or omendb_index_retrain() instead.
inline constexpr uint32 kLearnedRetrainChainPages = 16;
inline constexpr uint64 kLearnedInsertRetrainMaxKeys = 2000000;

// Re-trains `index` into a new generation (all live items, current options) and swaps it in at
// the metapage. With `wait` false, gives up (returns false) if another writer holds the lock.
// Also returns false when a retired generation still waits to be freed. Does not block readers.
bool learned_retrain(Relation index, bool wait);
// Frees the retired generation's pages once no snapshot can still read them. REQUIRES: caller
// holds kLearnedRetrainLock. Returns true if nothing retired is left.
bool learned_reclaim_retired(Relation index);
// Pages in all overflow chains (sum of the leaves' chain_pages).
uint64 learned_overflow_pages(Relation index);

// CREATE INDEX progress phases (pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, ...)).
enum LearnedBuildPhase : int64 {
  kPhaseScan = 2,   // PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE is 1
  kPhaseSort = 3,
  kPhaseLeaves = 4,
  kPhaseModel = 5,
};

// Rejects indexes the AM cannot serve (multi-column, expressions, DESC/NULLS FIRST) with
// ERRCODE_FEATURE_NOT_SUPPORTED.
void learned_check_definition(Relation index);
