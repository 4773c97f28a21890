// omendb.so entry: module magic, _PG_init for both access methods, the WAL record kinds of the
// resource manager they share, and the library version.
#include "learned.h"
#include "omen_pg.h"
#include "omen_wal.h"
#include "tiered.h"

extern "C" {
PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(omendb_version);
void _PG_init(void);
}

// Every record kind of the resource manager "omendb" (omen_wal.h), of every access method.
extern const OmenWalKind kOmenWalKinds[] = {
    {kLearnedWalAppend, "LEARNED_APPEND", learned_wal_redo_append, learned_wal_desc_append},
};
extern const int kOmenWalNKinds = lengthof(kOmenWalKinds);

// Module load: each access method's init (the `learned` reloptions, the `tiered` executor hook),
// then the WAL resource manager
// when loaded from shared_preload_libraries (omen_wal.h).
extern "C" void _PG_init(void) {
  learned_init();
  tiered_init();
  omen_wal_init();
}

// omendb_version() -> text: the version of the loaded shared library.
extern "C" Datum omendb_version(PG_FUNCTION_ARGS) {
  (void)fcinfo;
  PG_RETURN_TEXT_P(cstring_to_text(OMENDB_VERSION));
}
