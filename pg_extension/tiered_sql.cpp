// SQL functions of the table AM `tiered`: omendb_tier_set_policy, omendb_tier_stats,
// omendb_tier_verify, and the policy and SPI helpers the glue shares (omendb_tier_move is in
// tiered_move.cpp).
#include "tiered.h"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type_d.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "storage/bufmgr.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(omendb_tier_set_policy);
PG_FUNCTION_INFO_V1(omendb_tier_stats);
PG_FUNCTION_INFO_V1(omendb_tier_verify);
}

void tiered_check_permanent(Relation rel, const char* what) {
  char p = rel->rd_rel->relpersistence;
  if (p == RELPERSISTENCE_PERMANENT) return;
  ereport(ERROR,
          (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
           errmsg("cannot %s %s tiered table \"%s\"", what,
                  p == RELPERSISTENCE_TEMP ? "temporary" : "unlogged", RelationGetRelationName(rel)),
           errdetail("Cold rows are kept in a logged table: a crash would bring back rows an unlogged table "
                     "loses, and a temporary table's would outlive it."),
           p == RELPERSISTENCE_TEMP ? errhint("Move rows of permanent tables only.")
                                    : errhint("ALTER TABLE %s SET LOGGED makes it permanent.",
                                              quote_identifier(RelationGetRelationName(rel)))));
}

namespace {

Oid rel_owner(Oid relid) {
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for relation %u", relid);
  Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tup))->relowner;
  ReleaseSysCache(tup);
  return owner;
}

}  // namespace

uint64 tiered_catalog_spi(const char* sql, int nargs, Oid* types, Datum* values, bool keep,
                          const char* nulls) {
  Oid owner = rel_owner(tiered_catalog("tier_batch"));
  Oid save_user;
  int save_sec;
  GetUserIdAndSecContext(&save_user, &save_sec);
  SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
  // The statement's functions and operators resolve in pg_catalog only (the caller's search_path
  // could hold look-alikes the owner would run). It runs as an origin session: in a logical
  // replication worker the extension's tables' replica triggers would drop its writes.
  int nest = NewGUCNestLevel();
  (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                          true, 0, false);
  if (SessionReplicationRole != SESSION_REPLICATION_ROLE_ORIGIN)
    (void)set_config_option("session_replication_role", "origin", PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                            true, 0, false);
  SPI_connect();
  int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
  if (rc < 0) elog(ERROR, "omendb: internal statement failed (%d): %s", rc, sql);
  uint64 n = SPI_processed;
  if (!keep) SPI_finish();
  AtEOXact_GUC(true, nest);
  SetUserIdAndSecContext(save_user, save_sec);
  return n;
}

namespace {

// Opens a table by OID (AccessShareLock), checks that it is tiered and that the user owns it when
// `must_own` (else may read it).
Relation open_tiered(Oid relid, const char* what, bool must_own, LOCKMODE lock) {
  Relation rel = table_open(relid, lock);
  tiered_check_tiered(rel, what);
  if (must_own && !pg_class_ownercheck(relid, GetUserId()))
    aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, RelationGetRelationName(rel));
  if (!must_own && pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
    aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, RelationGetRelationName(rel));
  return rel;
}

// A tier column must age: timestamps and dates, or integers holding Unix epoch seconds.
bool tier_type_ok(Oid t) {
  return t == TIMESTAMPTZOID || t == TIMESTAMPOID || t == DATEOID || t == INT8OID || t == INT4OID ||
         t == INT2OID;
}

AttrNumber column_of(Relation rel, Name col, const char* role, bool need_tier_type) {
  AttrNumber att = get_attnum(RelationGetRelid(rel), NameStr(*col));
  if (att <= 0)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                    errmsg("column \"%s\" of relation \"%s\" does not exist", NameStr(*col),
                           RelationGetRelationName(rel)),
                    errdetail("The %s must be a column of the tiered table.", role)));
  Oid type = TupleDescAttr(RelationGetDescr(rel), att - 1)->atttypid;
  if (need_tier_type && !tier_type_ok(type))
    ereport(
        ERROR,
        (errcode(ERRCODE_DATATYPE_MISMATCH),
         errmsg("column \"%s\" of type %s cannot age rows", NameStr(*col), format_type_be(type)),
         errhint("The tier column must be timestamptz, timestamp or date, or an integer holding Unix epoch "
                 "seconds.")));
  return att;
}

}  // namespace

bool tiered_policy_get(Relation rel, TierPolicy* out) {
  Oid types[1] = {OIDOID};
  Datum values[1] = {ObjectIdGetDatum(RelationGetRelid(rel))};
  uint64 n = tiered_catalog_spi(
      "SELECT tier_column, cold_after, order_by, batch_rows FROM omendb.tier_policy "
      "WHERE relid = $1::regclass",
      1, types, values, true);
  bool found = n == 1;
  NameData tier, order;
  bool null_after = true, null_order = true;
  Datum after = 0;
  if (found) {
    HeapTuple t = SPI_tuptable->vals[0];
    TupleDesc d = SPI_tuptable->tupdesc;
    bool null;
    namestrcpy(&tier, NameStr(*DatumGetName(SPI_getbinval(t, d, 1, &null))));
    after = SPI_getbinval(t, d, 2, &null_after);
    Datum o = SPI_getbinval(t, d, 3, &null_order);
    if (!null_order) namestrcpy(&order, NameStr(*DatumGetName(o)));
    out->batch_rows = DatumGetInt32(SPI_getbinval(t, d, 4, &null));
    out->has_cold_after = !null_after;
    if (!null_after) out->cold_after = SPI_datumTransfer(after, false, sizeof(Interval));
  }
  SPI_finish();
  if (!found) return false;
  out->tier_attnum = column_of(rel, &tier, "tier column", true);
  out->tier_type = TupleDescAttr(RelationGetDescr(rel), out->tier_attnum - 1)->atttypid;
  out->order_attnum = null_order ? 0 : column_of(rel, &order, "order_by column", false);
  return true;
}

// omendb_tier_set_policy(rel, tier_column, cold_after, order_by, batch_rows)
extern "C" Datum omendb_tier_set_policy(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("rel and tier_column must not be NULL")));
  Relation rel = open_tiered(PG_GETARG_OID(0), "omendb_tier_set_policy()", true, ShareUpdateExclusiveLock);
  tiered_check_permanent(rel, "set a tier policy on");
  column_of(rel, PG_GETARG_NAME(1), "tier column", true);
  if (!PG_ARGISNULL(3)) column_of(rel, PG_GETARG_NAME(3), "order_by column", false);
  int32 batch_rows = PG_ARGISNULL(4) ? 1000 : PG_GETARG_INT32(4);
  if (batch_rows < 1 || static_cast<uint32>(batch_rows) > kColdMaxBatchRows)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("batch_rows must be between 1 and %u", kColdMaxBatchRows)));
  if (!PG_ARGISNULL(2)) {
    Interval* after = PG_GETARG_INTERVAL_P(2);
    if (after->month < 0 || after->day < 0 || after->time < 0)
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("cold_after must not be negative")));
  }
  Oid types[5] = {OIDOID, NAMEOID, INTERVALOID, NAMEOID, INT4OID};
  Datum values[5] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), PG_ARGISNULL(2) ? (Datum)0 : PG_GETARG_DATUM(2),
                     PG_ARGISNULL(3) ? (Datum)0 : PG_GETARG_DATUM(3), Int32GetDatum(batch_rows)};
  char nulls[5] = {' ', ' ', PG_ARGISNULL(2) ? 'n' : ' ', PG_ARGISNULL(3) ? 'n' : ' ', ' '};
  tiered_catalog_spi(
      "INSERT INTO omendb.tier_policy AS p (relid, tier_column, cold_after, order_by, batch_rows) "
      "VALUES ($1::regclass, $2, $3, $4, $5) ON CONFLICT (relid) DO UPDATE SET "
      "tier_column = $2, cold_after = $3, order_by = $4, batch_rows = $5",
      5, types, values, false, nulls);
  table_close(rel, NoLock);
  PG_RETURN_VOID();
}

// omendb_tier_stats(rel) -> hot_rows, hot_bytes, cold_rows, cold_bytes, cold_batches,
// compression_ratio, last_move. Rows visible to the current snapshot (hot rows counted by a scan of
// the hot tier); hot bytes are the hot tier's pages; cold bytes the batches' stored sizes; the
// ratio is what the cold rows took in heap pages when they were moved over their cold bytes.
extern "C" Datum omendb_tier_stats(PG_FUNCTION_ARGS) {
  Relation rel = open_tiered(PG_GETARG_OID(0), "omendb_tier_stats()", false, AccessShareLock);
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    elog(ERROR, "return type must be a row type");
  int64 hot_rows = 0;
  TableScanDesc scan =
      heap_beginscan(rel, GetActiveSnapshot(), 0, nullptr, nullptr, SO_TYPE_SEQSCAN | SO_ALLOW_PAGEMODE);
  TupleTableSlot* slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsBufferHeapTuple);
  while (heap_getnextslot(scan, ForwardScanDirection, slot))
    hot_rows++;  // (heap_getnext wants heap's routine)
  ExecDropSingleTupleTableSlot(slot);
  heap_endscan(scan);
  Oid types[2] = {OIDOID, OIDOID};
  Datum args[2] = {ObjectIdGetDatum(rel->rd_node.relNode), ObjectIdGetDatum(RelationGetRelid(rel))};
  tiered_catalog_spi(
      "SELECT coalesce(sum(nrows - coalesce(bit_count(deleted), 0)), 0)::int8 "
      "  - (SELECT count(*) FROM omendb.tier_delete WHERE relnode = $1), "
      "  coalesce(sum(pg_column_size(payload) + coalesce(pg_column_size(deleted), 0)), 0)::int8, "
      "  count(*), coalesce(sum(hot_bytes), 0)::int8, "
      "  (SELECT last_move FROM omendb.tier_policy WHERE relid = $2::regclass) "
      "FROM omendb.tier_batch WHERE relnode = $1",
      2, types, args, true);
  bool null;
  HeapTuple t = SPI_tuptable->vals[0];
  TupleDesc d = SPI_tuptable->tupdesc;
  int64 cold_rows = DatumGetInt64(SPI_getbinval(t, d, 1, &null));
  int64 cold_bytes = DatumGetInt64(SPI_getbinval(t, d, 2, &null));
  int64 batches = DatumGetInt64(SPI_getbinval(t, d, 3, &null));
  int64 moved_hot_bytes = DatumGetInt64(SPI_getbinval(t, d, 4, &null));
  bool no_move;
  Datum last = SPI_getbinval(t, d, 5, &no_move);
  SPI_finish();
  Datum values[7] = {Int64GetDatum(hot_rows),
                     Int64GetDatum(static_cast<int64>(RelationGetNumberOfBlocks(rel)) * BLCKSZ),
                     Int64GetDatum(cold_rows),
                     Int64GetDatum(cold_bytes),
                     Int64GetDatum(batches),
                     Float8GetDatum(cold_bytes > 0 ? static_cast<double>(moved_hot_bytes) / cold_bytes : 0),
                     last};
  bool nulls[7] = {false, false, false, false, false, cold_bytes == 0, no_move};
  table_close(rel, AccessShareLock);
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

// omendb_tier_verify(rel) -> bigint: checks every cold batch visible now (payload checksums and
// structure, row counts) and that every live cold row is reached exactly once by every index that
// can be read whole (amgettuple and keyless scans: btree, learned, GiST, SP-GiST); NOTICE for the
// others. Returns the cold rows checked; raises index_corrupted (XX002) at the first problem.
extern "C" Datum omendb_tier_verify(PG_FUNCTION_ARGS) {
  Relation rel = open_tiered(PG_GETARG_OID(0), "omendb_tier_verify()", false, AccessShareLock);
  int64 live = tiered_verify_cold(rel);
  table_close(rel, AccessShareLock);
  PG_RETURN_INT64(live);
}
