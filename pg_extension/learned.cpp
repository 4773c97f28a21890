// Index access method `learned`: handler, reloptions, definition checks, amcanreturn, cost estimate.
#include "learned.h"
#include "learned_sparse.h"

#include <cmath>

extern "C" {
#include "access/htup_details.h"
#include "catalog/index.h"
#include "catalog/pg_statistic.h"
#include "catalog/pg_type_d.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "parser/parsetree.h"
#include "optimizer/optimizer.h"
#include "optimizer/plancat.h"
#include "utils/lsyscache.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(learned_handler);
Datum learned_handler(PG_FUNCTION_ARGS);
}

// ---- reloptions -------------------------------------------------------------------------------

namespace {
// Set once in _PG_init (like contrib/bloom): the relopt kind Postgres assigned to `learned`.
relopt_kind learned_relopt_kind;
// The values of WITH (layout = ...), in reloptions' static table form (read by Postgres).
relopt_enum_elt_def layout_values[] = {
    {"dense", kLayoutDense},
    {"sparse", kLayoutSparse},
    {nullptr, 0},
};
get_relation_info_hook_type prev_get_relation_info = nullptr;  // the hook chain, set once in _PG_init
void learned_relation_info(PlannerInfo* root, Oid relid, bool inhparent, RelOptInfo* rel);
}  // namespace

void learned_init(void) {
  learned_relopt_kind = add_reloption_kind();
  add_int_reloption(learned_relopt_kind, "error_bound",
                    "Error bound (epsilon) of the learned model, in positions", kLearnedDefaultErrorBound, 1,
                    4096, AccessExclusiveLock);
  add_int_reloption(learned_relopt_kind, "fillfactor",
                    "Packs learned index leaf pages only to this percentage", kLearnedDefaultFillfactor, 10,
                    100, ShareUpdateExclusiveLock);
  add_enum_reloption(learned_relopt_kind, "layout",
                     "Layout of a learned index: every row (dense), or a fence per heap block plus the rows "
                     "out of order (sparse)",
                     layout_values, kLayoutDense, "Valid values are \"dense\" and \"sparse\".",
                     AccessExclusiveLock);
  prev_get_relation_info = get_relation_info_hook;
  get_relation_info_hook = learned_relation_info;
  learned_unique_init();
}

extern "C" bytea* learned_options(Datum reloptions, bool validate) {
  static const relopt_parse_elt table[] = {
      {"error_bound", RELOPT_TYPE_INT, offsetof(LearnedOptions, error_bound)},
      {"fillfactor", RELOPT_TYPE_INT, offsetof(LearnedOptions, fillfactor)},
      {"layout", RELOPT_TYPE_ENUM, offsetof(LearnedOptions, layout)},
  };
  return static_cast<bytea*>(build_reloptions(reloptions, validate, learned_relopt_kind,
                                              sizeof(LearnedOptions), table, lengthof(table)));
}

int learned_error_bound(Relation index) {
  auto* opts = reinterpret_cast<LearnedOptions*>(index->rd_options);
  return opts ? opts->error_bound : kLearnedDefaultErrorBound;
}

int learned_fillfactor(Relation index) {
  auto* opts = reinterpret_cast<LearnedOptions*>(index->rd_options);
  return opts ? opts->fillfactor : kLearnedDefaultFillfactor;
}

LearnedLayout learned_layout_option(Relation index) {
  auto* opts = reinterpret_cast<LearnedOptions*>(index->rd_options);
  return opts ? static_cast<LearnedLayout>(opts->layout) : kLayoutDense;
}

// ---- definition checks, canreturn -------------------------------------------------------------

void learned_check_definition(Relation index) {
  const char* name = RelationGetRelationName(index);
  if (IndexRelationGetNumberOfKeyAttributes(index) != 1)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("learned index \"%s\" must have exactly one key column", name),
                    errhint("Create one learned index per column, or use btree.")));
  if (index->rd_index->indkey.values[0] == 0)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("learned index \"%s\" cannot index an expression", name),
                    errhint("Index a plain column, or use btree for expressions.")));
  if (index->rd_indoption[0] & (INDOPTION_DESC | INDOPTION_NULLS_FIRST))
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("learned index \"%s\" supports only ASC NULLS LAST", name),
                    errhint("Drop DESC / NULLS FIRST: the index scans backward as well.")));
  Oid type = index->rd_opcintype[0];
  if (!omen_key_type_supported(type))
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("learned index \"%s\" cannot index type %s", name, format_type_be(type)),
                    errhint("Supported: smallint, integer, bigint, real, double precision, date, "
                            "timestamp, timestamptz, uuid.")));
}

extern "C" bool learned_canreturn(Relation index, int attno) {
  return attno == 1 && omen_key_type_decodable(index->rd_opcintype[0]) && !learned_is_sparse(index);
}

// ---- the planner's view of a sparse index ---------------------------------------------------------

namespace {

// No ordered paths, no min/max probes, no merge joins on the index's order.
void drop_order(IndexOptInfo* info) {
  info->amcanorderbyop = false;
  info->sortopfamily = nullptr;
  info->reverse_sort = nullptr;
  info->nulls_first = nullptr;
}

// A sparse learned index serves bitmap scans only: the planner is told it has no amgettuple (no
// plain or index-only scan paths, parallel ones included) and no sort order. An index of an inexact key type
// (uuid, whose key is a prefix: equal prefixes come back in TID order) has no sort order either.
void learned_relation_info(PlannerInfo* root, Oid relid, bool inhparent, RelOptInfo* rel) {
  if (prev_get_relation_info != nullptr) prev_get_relation_info(root, relid, inhparent, rel);
  ListCell* lc;
  foreach (lc, rel->indexlist) {
    auto* info = static_cast<IndexOptInfo*>(lfirst(lc));
    if (info->amcostestimate != reinterpret_cast<void (*)()>(learned_costestimate)) continue;
    if (!omen_key_type_exact(info->opcintype[0])) drop_order(info);
    if (info->hypothetical) continue;
    Relation index = index_open(info->indexoid, NoLock);
    bool sparse = learned_is_sparse(index);
    index_close(index, NoLock);
    if (!sparse) continue;
    info->amhasgettuple = false;
    info->amcanparallel = false;  // create_index_paths adds parallel index scans without amhasgettuple
    drop_order(info);
    info->canreturn[0] = false;
  }
}

}  // namespace

// ---- cost estimate ----------------------------------------------------------------------------

namespace {

// Correlation of the indexed column with heap order, from pg_statistic (as btree uses it).
double column_correlation(PlannerInfo* root, IndexOptInfo* index) {
  if (index->indexkeys[0] == 0) return 0.0;
  RangeTblEntry* rte = planner_rt_fetch(index->rel->relid, root);
  if (rte->rtekind != RTE_RELATION) return 0.0;
  HeapTuple tup = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(rte->relid),
                                  Int16GetDatum(index->indexkeys[0]), BoolGetDatum(rte->inh));
  if (!HeapTupleIsValid(tup)) return 0.0;
  double corr = 0.0;
  AttStatsSlot sslot;
  if (get_attstatsslot(&sslot, tup, STATISTIC_KIND_CORRELATION, InvalidOid, ATTSTATSSLOT_NUMBERS)) {
    if (sslot.nnumbers > 0) corr = sslot.numbers[0];
    free_attstatsslot(&sslot);
  }
  ReleaseSysCache(tup);
  return corr;
}

}  // namespace

namespace {

// A sparse index's bitmap: the heap blocks of the fence runs (selectivity x heap blocks, plus one
// per run for its edges) and one block per exception in range (index->tuples counts the
// exceptions), every row of those blocks rechecked. The planner's bitmap heap scan derives the
// pages it reads from indexSelectivity x rows as if those rows were spread at random; so the
// selectivity handed back is that of as many rows as blocks are read (the Mackert-Lohman estimate
// of k rows over many pages is ~k pages), and the recheck of the blocks' rows is charged here.
void sparse_costs(IndexOptInfo* index, const GenericCosts& costs, Selectivity* selectivity, Cost* total) {
  RelOptInfo* rel = index->rel;
  double heap_pages = std::max<double>(rel->pages, 1.0), rows = std::max(rel->tuples, 1.0);
  double runs = std::max(costs.num_sa_scans, 1.0);
  double blocks = std::min(heap_pages, costs.indexSelectivity * (heap_pages + index->tuples) + runs);
  *selectivity = std::min(1.0, blocks / rows);
  *total += blocks * (rows / heap_pages) * cpu_operator_cost;
}

}  // namespace

// Items of a typical leaf, for the in-leaf search term of a probe (leaves hold ~600-2000 items
// depending on their key and TID widths; the log2 hardly differs).
constexpr double kLearnedCostLeafItems = 1024;

// Probe cost: the model is cached in memory, so a probe costs a few comparisons (no inner pages,
// unlike btree's descent) plus the leaf pages it reads; genericcostestimate charges those pages
// from the index's real size. See docs/index-am.md.
extern "C" void learned_costestimate(PlannerInfo* root, IndexPath* path, double loop_count, Cost* startup,
                                     Cost* total, Selectivity* selectivity, double* correlation,
                                     double* pages) {
  IndexOptInfo* index = path->indexinfo;
  GenericCosts costs;
  memset(&costs, 0, sizeof costs);
  genericcostestimate(root, path, loop_count, &costs);

  // Locating the leaf: model lookup (~log2 of the segments) and one leaf page's search.
  double ntuples = std::max(index->tuples, 2.0);
  double segments = std::max(ntuples / (2.0 * kLearnedDefaultErrorBound), 2.0);
  Cost probe =
      (std::ceil(std::log2(segments)) + std::ceil(std::log2(kLearnedCostLeafItems))) * cpu_operator_cost +
      50.0 * cpu_operator_cost;
  costs.indexStartupCost += probe;
  costs.indexTotalCost += probe;

  *startup = costs.indexStartupCost;
  *total = costs.indexTotalCost;
  *selectivity = costs.indexSelectivity;
  *correlation = column_correlation(root, index);
  *pages = costs.numIndexPages;
  // learned_relation_info took amgettuple away from sparse indexes (not from an index adviser's
  // hypothetical ones, which have no storage to read the layout from).
  if (!index->hypothetical && !index->amhasgettuple) sparse_costs(index, costs, selectivity, total);
}

// ---- handler ----------------------------------------------------------------------------------

extern "C" char* learned_buildphasename(int64 phase) {
  switch (phase) {
    case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
      return const_cast<char*>("initializing");
    case kPhaseScan:
      return const_cast<char*>("scanning table");
    case kPhaseSort:
      return const_cast<char*>("sorting keys");
    case kPhaseLeaves:
      return const_cast<char*>("writing leaf pages");
    case kPhaseModel:
      return const_cast<char*>("training model");
    default:
      return nullptr;
  }
}

extern "C" Datum learned_handler(PG_FUNCTION_ARGS) {
  (void)fcinfo;
  IndexAmRoutine* am = makeNode(IndexAmRoutine);
  am->amstrategies = BTMaxStrategyNumber;
  am->amsupport = 1;
  am->amoptsprocnum = 0;
  am->amcanorder = true;
  am->amcanorderbyop = false;
  am->amcanbackward = true;
  am->amcanunique = true;
  am->amcanmulticol = false;
  am->amoptionalkey = true;
  am->amsearcharray = true;
  am->amsearchnulls = true;
  am->amstorage = false;
  am->amclusterable = false;
  am->ampredlocks = false;
  am->amcanparallel = true;
  am->amcaninclude = false;
  am->amusemaintenanceworkmem = true;
  // Parallel VACUUM may hand both phases to a worker: a bulk delete is one leaf walk like
  // btree's, and the cleanup walks the leaves again (overflow count) and may re-train, work worth
  // a worker of its own even after a bulk delete (so not VACUUM_OPTION_PARALLEL_COND_CLEANUP).
  // Neither needs an xid (learned_retrain.cpp, retire_mark).
  am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL | VACUUM_OPTION_PARALLEL_CLEANUP;
  am->amkeytype = InvalidOid;

  am->ambuild = learned_build;
  am->ambuildempty = learned_buildempty;
  am->aminsert = learned_insert;
  am->ambulkdelete = learned_bulkdelete;
  am->amvacuumcleanup = learned_vacuumcleanup;
  am->amcanreturn = learned_canreturn;
  am->amcostestimate = learned_costestimate;
  am->amoptions = learned_options;
  am->amproperty = nullptr;
  am->ambuildphasename = learned_buildphasename;
  am->amvalidate = learned_validate;
  am->amadjustmembers = nullptr;
  am->ambeginscan = learned_beginscan;
  am->amrescan = learned_rescan;
  am->amgettuple = learned_gettuple;
  am->amgetbitmap = learned_getbitmap;
  am->amendscan = learned_endscan;
  am->ammarkpos = learned_markpos;
  am->amrestrpos = learned_restrpos;
  am->amestimateparallelscan = learned_estimateparallelscan;
  am->aminitparallelscan = learned_initparallelscan;
  am->amparallelrescan = learned_parallelrescan;
  PG_RETURN_POINTER(am);
}
