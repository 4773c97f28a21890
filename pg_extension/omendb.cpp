// omendb.so entry: module magic, library version, and (later) _PG_init for GUCs and resource managers.
#include "omen_pg.h"
#include "learned.h"
#include "learned_wal.h"
#include "tiered.h"

extern "C" {
PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(omendb_version);
void _PG_init(void);
}

// Module load: registers the `learned` reloptions, and the WAL resource manager when loaded from
// shared_preload_libraries (learned_wal.h).
extern "C" void _PG_init(void) {
  learned_init();
  learned_wal_init();
  tiered_init();
}

// omendb_version() -> text: the version of the loaded shared library.
extern "C" Datum omendb_version(PG_FUNCTION_ARGS) {
  (void)fcinfo;
  PG_RETURN_TEXT_P(cstring_to_text(OMENDB_VERSION));
}
