// The Postgres/C++ boundary (DESIGN.md section 4).
//
// Include this, never postgres.h directly, from every pg_extension/*.cpp. It pulls in the server
// headers as C, holds the PG_VERSION_NUM shims, and provides omen_pg::call_core(), the one way glue
// code runs core code that may throw.
//
// Rules it serves:
//  * No C++ exception crosses into Postgres: call_core() catches everything and raises ereport(ERROR)
//    only after the try block, when no C++ object of its own is alive.
//  * ereport never unwinds through C++ frames with live non-trivial objects: callers of call_core()
//    keep no such objects in their own frames.
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "utils/builtins.h"
}

#include <cstdio>
#include <exception>
#include <new>
#include <utility>

#if PG_VERSION_NUM < 150000
#error "omendb needs PostgreSQL 15 or later"
#endif

namespace omen_pg {

// Runs fn() (core code) and returns its result. Any exception becomes
// ereport(ERROR, ERRCODE_INTERNAL_ERROR) (ERRCODE_OUT_OF_MEMORY for std::bad_alloc) naming `what`.
// REQUIRES: fn does not call Postgres functions that can raise errors.
template <typename Fn>
auto call_core(const char* what, Fn&& fn) -> decltype(fn()) {
  char message[256];
  int sqlstate = ERRCODE_INTERNAL_ERROR;
  try {
    return std::forward<Fn>(fn)();
  } catch (const std::bad_alloc&) {
    sqlstate = ERRCODE_OUT_OF_MEMORY;
    std::snprintf(message, sizeof message, "out of memory");
  } catch (const std::exception& e) {
    std::snprintf(message, sizeof message, "%s", e.what());
  } catch (...) {
    std::snprintf(message, sizeof message, "unknown C++ exception");
  }
  ereport(ERROR, (errcode(sqlstate), errmsg("omendb: %s failed: %s", what, message)));
  pg_unreachable();
}

}  // namespace omen_pg
