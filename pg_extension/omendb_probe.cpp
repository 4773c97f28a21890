// omendb_probe_cost(): the cost of one equality probe through the generic index AM interface.
//
// The benchmark (bench/pg_compare.sh, docs/bench-pg.md) needs the per-probe cost of an index with
// the executor, the planner and the heap taken out, measured by the same code for every index AM so
// that btree and learned are comparable: for each key it runs index_rescan() with one scan key
// `col = key` and drains index_getnext_tid(); the heap is never visited. The keys come from the
// caller in the order they should be probed. With per_scan, every probe also pays
// index_beginscan()/index_endscan(), as one executor Index Scan of one query does.
//
// Boundary rules (DESIGN.md section 4): an extern "C" entry point whose locals are all trivially
// destructible; no core code runs here.
#include "omen_pg.h"

#include <ctime>

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class_d.h"
#include "catalog/pg_type_d.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(omendb_probe_cost);
Datum omendb_probe_cost(PG_FUNCTION_ARGS);
}

namespace {

// Monotonic clock in nanoseconds.
int64 now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The scan key `first index column = (int8 placeholder)` for `index`: the operator "=" between the
// column's opclass input type and int8 that belongs to the index's operator family, at whatever
// strategy number that family gives it (3 for btree-like AMs, 1 for hash). Raises a user error when
// the family has no such operator.
void equality_key(Relation index, ScanKey key) {
  Oid opfamily = index->rd_opfamily[0];
  Oid lefttype = index->rd_opcintype[0];
  Oid opno = OpernameGetOprid(list_make1(makeString(const_cast<char*>("="))), lefttype, INT8OID);
  int strategy = OidIsValid(opno) ? get_op_opfamily_strategy(opno, opfamily) : 0;
  if (strategy == 0)
    ereport(ERROR,
            (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
             errmsg("index \"%s\" has no operator %s = bigint in its operator family",
                    RelationGetRelationName(index), format_type_be(lefttype)),
             errhint("omendb_probe_cost() probes the first column of an index on an integer column.")));
  ScanKeyEntryInitialize(key, 0, 1, static_cast<StrategyNumber>(strategy), INT8OID, index->rd_indcollation[0],
                         get_opcode(opno), Int64GetDatum(0));
}

// One pass over keys[0..n): a rescan per key, all matching TIDs drained. Returns the TIDs seen.
int64 probe_pass(IndexScanDesc scan, ScanKey key, const int64* keys, int n) {
  int64 tids = 0;
  for (int i = 0; i < n; i++) {
    if ((i & 1023) == 0) CHECK_FOR_INTERRUPTS();
    key->sk_argument = Int64GetDatum(keys[i]);
    index_rescan(scan, key, 1, nullptr, 0);
    while (index_getnext_tid(scan, ForwardScanDirection) != nullptr) tids++;
  }
  return tids;
}

// Like probe_pass, but each key gets its own scan (index_beginscan .. index_endscan). Scan memory
// lives in `cxt`, reset every 1024 probes so AMs that leave allocations behind stay bounded.
int64 scan_pass(Relation heap, Relation index, ScanKey key, const int64* keys, int n, MemoryContext cxt) {
  int64 tids = 0;
  MemoryContext old = MemoryContextSwitchTo(cxt);
  for (int i = 0; i < n; i++) {
    if ((i & 1023) == 0) {
      CHECK_FOR_INTERRUPTS();
      MemoryContextReset(cxt);
    }
    key->sk_argument = Int64GetDatum(keys[i]);
    IndexScanDesc scan = index_beginscan(heap, index, GetActiveSnapshot(), 1, 0);
    index_rescan(scan, key, 1, nullptr, 0);
    while (index_getnext_tid(scan, ForwardScanDirection) != nullptr) tids++;
    index_endscan(scan);
  }
  MemoryContextSwitchTo(old);
  MemoryContextReset(cxt);
  return tids;
}

}  // namespace

// omendb_probe_cost(index regclass, keys int8[], warmup bool DEFAULT true, per_scan bool DEFAULT false,
//                   OUT ns_per_probe float8, OUT probes bigint, OUT tids bigint)
//
// Probes the first column of `index` (any AM whose operator family has `= bigint`) once per
// element of `keys`, in order, through one index scan (index_beginscan once, index_rescan and
// index_getnext_tid per key; the heap is not read), and returns the wall-clock nanoseconds per
// probe, the number of probes and the TIDs returned in total. With warmup, one untimed pass runs
// first (buffers, the AM's cached metadata). With per_scan, each probe is its own index scan
// (beginscan, rescan, drain, endscan). REQUIRES: SELECT on the table; keys without NULLs.
extern "C" Datum omendb_probe_cost(PG_FUNCTION_ARGS) {
  Oid indexoid = PG_GETARG_OID(0);
  ArrayType* arr = PG_GETARG_ARRAYTYPE_P(1);
  bool warmup = PG_GETARG_BOOL(2);
  bool per_scan = PG_GETARG_BOOL(3);

  if (ARR_ELEMTYPE(arr) != INT8OID || ARR_NDIM(arr) > 1 || array_contains_nulls(arr))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("keys must be a one-dimensional bigint array without NULLs")));
  int n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
  const int64* keys = reinterpret_cast<const int64*>(ARR_DATA_PTR(arr));

  if (get_rel_relkind(indexoid) != RELKIND_INDEX)
    ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                    errmsg("\"%s\" is not an index", get_rel_name(indexoid) ? get_rel_name(indexoid) : "?")));
  // Lock the table before the index, as the executor does.
  Oid heapoid = IndexGetRelation(indexoid, false);
  if (pg_class_aclcheck(heapoid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
    aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(heapoid));
  Relation heap = table_open(heapoid, AccessShareLock);
  Relation index = index_open(indexoid, AccessShareLock);

  ScanKeyData key;
  equality_key(index, &key);
  int64 tids, start, elapsed;
  if (per_scan) {
    MemoryContext cxt =
        AllocSetContextCreate(CurrentMemoryContext, "omendb_probe_cost scans", ALLOCSET_DEFAULT_SIZES);
    if (warmup) scan_pass(heap, index, &key, keys, n, cxt);
    start = now_ns();
    tids = scan_pass(heap, index, &key, keys, n, cxt);
    elapsed = now_ns() - start;
    MemoryContextDelete(cxt);
  } else {
    IndexScanDesc scan = index_beginscan(heap, index, GetActiveSnapshot(), 1, 0);
    if (warmup) probe_pass(scan, &key, keys, n);
    start = now_ns();
    tids = probe_pass(scan, &key, keys, n);
    elapsed = now_ns() - start;
    index_endscan(scan);
  }
  index_close(index, AccessShareLock);
  table_close(heap, AccessShareLock);

  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    elog(ERROR, "omendb_probe_cost: return type must be a row type");
  Datum values[3] = {Float8GetDatum(n > 0 ? static_cast<double>(elapsed) / n : 0.0), Int64GetDatum(n),
                     Int64GetDatum(tids)};
  bool nulls[3] = {false, false, false};
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
