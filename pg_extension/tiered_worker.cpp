// The policy worker of the table AM `tiered` (only with shared_preload_libraries = 'omendb').
//
// A launcher background worker wakes every omendb.tier_naptime seconds, lists the databases that
// accept connections, and starts one short-lived worker per database. That worker, if the omendb
// extension is installed there, calls omendb_tier_move(relid) for every policy with a cold_after,
// each in its own transaction, and exits; an error moving one table is logged and the others go on.
// Without preloading nothing runs: moves are on demand only (README).
#include "tiered.h"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

PGDLLEXPORT void omendb_tier_launcher_main(Datum arg);
PGDLLEXPORT void omendb_tier_database_main(Datum arg);
}

namespace {

// Seconds between rounds (omendb.tier_naptime). A GUC variable: written only by the GUC machinery.
int tier_naptime = 60;

void start_database_worker(Oid dboid) {
  BackgroundWorker w = {};
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w.bgw_start_time = BgWorkerStart_RecoveryFinished;
  w.bgw_restart_time = BGW_NEVER_RESTART;
  snprintf(w.bgw_library_name, BGW_MAXLEN, "omendb");
  snprintf(w.bgw_function_name, BGW_MAXLEN, "omendb_tier_database_main");
  snprintf(w.bgw_name, BGW_MAXLEN, "omendb tier worker for database %u", dboid);
  snprintf(w.bgw_type, BGW_MAXLEN, "omendb tier worker");
  w.bgw_main_arg = ObjectIdGetDatum(dboid);
  w.bgw_notify_pid = MyProcPid;
  BackgroundWorkerHandle* handle;
  if (!RegisterDynamicBackgroundWorker(&w, &handle)) {
    ereport(LOG, (errmsg("omendb: no background worker slot for the tier worker of database %u", dboid),
                  errhint("Raise max_worker_processes.")));
    return;
  }
  pid_t pid;
  if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_STARTED) WaitForBackgroundWorkerShutdown(handle);
}

// The OIDs of the databases that accept connections (shared catalog pg_database).
List* connectable_databases() {
  List* dbs = NIL;
  MemoryContext outer = CurrentMemoryContext;  // the list outlives the transaction
  StartTransactionCommand();
  Relation rel = table_open(DatabaseRelationId, AccessShareLock);
  TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
  for (HeapTuple t; (t = heap_getnext(scan, ForwardScanDirection)) != nullptr;) {
    auto* db = reinterpret_cast<Form_pg_database>(GETSTRUCT(t));
    if (!db->datallowconn || db->datistemplate) continue;
    MemoryContext old = MemoryContextSwitchTo(outer);
    dbs = lappend_oid(dbs, db->oid);
    MemoryContextSwitchTo(old);
  }
  table_endscan(scan);
  table_close(rel, AccessShareLock);
  CommitTransactionCommand();
  return dbs;
}

// Moves the cold rows of one table by its policy, in a transaction of its own.
void move_one(Oid relid) {
  MemoryContext cxt = CurrentMemoryContext;
  StartTransactionCommand();
  PushActiveSnapshot(GetTransactionSnapshot());
  PG_TRY();
  {
    // omendb_tier_move(relid, NULL) called directly: no SQL name to resolve (the worker is a
    // superuser; a look-alike function in its search_path must not run instead).
    LOCAL_FCINFO(call, 2);
    InitFunctionCallInfoData(*call, nullptr, 2, InvalidOid, nullptr, nullptr);
    call->args[0].value = ObjectIdGetDatum(relid);
    call->args[0].isnull = false;
    call->args[1].value = (Datum)0;
    call->args[1].isnull = true;
    (void)omendb_tier_move(call);
    PopActiveSnapshot();
    CommitTransactionCommand();
  }
  PG_CATCH();
  {
    MemoryContextSwitchTo(cxt);
    ErrorData* e = CopyErrorData();
    FlushErrorState();
    AbortCurrentTransaction();
    ereport(LOG, (errmsg("omendb tier worker: moving rows of relation %u failed: %s", relid, e->message)));
    FreeErrorData(e);
  }
  PG_END_TRY();
}

}  // namespace

extern "C" void omendb_tier_launcher_main(Datum) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
  for (;;) {
    CHECK_FOR_INTERRUPTS();
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    List* dbs = connectable_databases();
    ListCell* lc;
    foreach (lc, dbs) {
      CHECK_FOR_INTERRUPTS();
      start_database_worker(lfirst_oid(lc));
    }
    list_free(dbs);
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, tier_naptime * 1000L,
                    PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
  }
}

extern "C" void omendb_tier_database_main(Datum arg) {
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), InvalidOid, 0);
  pgstat_report_appname("omendb tier worker");
  // The policies to apply, read in one transaction.
  StartTransactionCommand();
  PushActiveSnapshot(GetTransactionSnapshot());
  List* rels = NIL;
  bool installed = OidIsValid(get_extension_oid("omendb", true));
  if (installed) {
    SPI_connect();
    SPI_execute("SELECT relid::oid FROM omendb.tier_policy WHERE cold_after IS NOT NULL ORDER BY relid", true,
                0);
    MemoryContext outer = TopMemoryContext;
    for (uint64 i = 0; i < SPI_processed; i++) {
      bool null;
      Oid relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &null));
      MemoryContext old = MemoryContextSwitchTo(outer);
      rels = lappend_oid(rels, relid);
      MemoryContextSwitchTo(old);
    }
    SPI_finish();
  }
  PopActiveSnapshot();
  CommitTransactionCommand();
  // One transaction per table: an error (a dropped table, a lock timeout) is logged, the rest go on.
  ListCell* lc;
  foreach (lc, rels) move_one(lfirst_oid(lc));
  proc_exit(0);
}

void tiered_worker_init(void) {
  DefineCustomIntVariable("omendb.tier_naptime", "Seconds between the tier worker's rounds of policy moves.",
                          "Only with shared_preload_libraries = 'omendb'.", &tier_naptime, 60, 1, 86400,
                          PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
  if (!process_shared_preload_libraries_in_progress) return;
  BackgroundWorker w = {};
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w.bgw_start_time = BgWorkerStart_RecoveryFinished;
  w.bgw_restart_time = 10;
  snprintf(w.bgw_library_name, BGW_MAXLEN, "omendb");
  snprintf(w.bgw_function_name, BGW_MAXLEN, "omendb_tier_launcher_main");
  snprintf(w.bgw_name, BGW_MAXLEN, "omendb tier launcher");
  snprintf(w.bgw_type, BGW_MAXLEN, "omendb tier launcher");
  RegisterBackgroundWorker(&w);
}
