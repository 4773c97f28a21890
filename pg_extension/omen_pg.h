// The Postgres/C++ boundary (DESIGN.md section 4).
//
// Include this, never postgres.h directly, from every pg_extension/*.cpp. It pulls in the server
// headers as C, holds the PG_VERSION_NUM shims, and provides omen_pg::call_core(), the one way glue
// code runs core code that may throw, and omen_pg::make_owned(), the one way a core object lives
// across calls (owned by a memory context).
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
#include "utils/memutils.h"
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

namespace detail {
template <typename T>
void delete_owned(void* object) {
  delete static_cast<T*>(object);
}
}  // namespace detail

// Runs make() (core code, through call_core(what, ...)), which returns a new T, and makes `cxt` own
// that object: a reset callback of `cxt` deletes it when the context is reset or deleted, also when
// an ERROR unwinds it, so no error path leaks it. The callback is allocated before the object
// exists, so nothing can fail between its creation and its owner taking it.
// REQUIRES: as for call_core; make() returns a T* from `new`.
template <typename T, typename Make>
T* make_owned(MemoryContext cxt, const char* what, Make&& make) {
  auto* cb = static_cast<MemoryContextCallback*>(MemoryContextAlloc(cxt, sizeof(MemoryContextCallback)));
  T* object = call_core(what, std::forward<Make>(make));
  cb->func = detail::delete_owned<T>;
  cb->arg = object;
  MemoryContextRegisterResetCallback(cxt, cb);
  return object;
}

}  // namespace omen_pg
