# OmenDB: PGXS build of the `omendb` PostgreSQL extension (C++ glue in pg_extension/, linked with
# the C++20 core library that CMake builds from core/).
#
#   make              build omendb.so (and the core library it links)
#   make install      install into the PostgreSQL that PG_CONFIG names
#   make test         every test (format, core, Release build, sanitizers, pg_regress, TAP); installs
#                     its deps when root, and a build with the tiered AM's crash points
#                     (OMEN_CRASH_POINTS=1; `make install` alone builds without them)
#   make demo         the demo; installs its deps when root
#   make format       clang-format -i over the C++ files git tracks (core, glue, tests, benches)
#
# `make test` and `make demo` work before PostgreSQL's development files are installed: they install
# them first. Every other target needs pg_config.

PG_CONFIG ?= $(shell command -v pg_config 2>/dev/null || echo /usr/lib/postgresql/15/bin/pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

MODULE_big = omendb
EXTVERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" pg_extension/omendb.control)
OBJS = $(patsubst %.cpp,%.o,$(sort $(wildcard pg_extension/*.cpp)))
DATA = pg_extension/omendb.control $(sort $(wildcard pg_extension/omendb--*.sql))
MODULEDIR = extension
REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --outputdir=$(or $(REGRESS_OUTDIR),.)

# The core library, built by CMake without tests or benchmarks.
CORE_BUILD = build/pgext
CORE_LIB = $(CORE_BUILD)/core/libomen_core.a

# Postgres headers are system headers (-isystem wins over PGXS's -I for the same directory), so
# -Werror applies to our code only.
PG_INCLUDEDIR_SERVER := $(shell $(PG_CONFIG) --includedir-server 2>/dev/null)
PG_CPPFLAGS = -isystem $(PG_INCLUDEDIR_SERVER) -Icore/include -Ipg_extension -DOMENDB_VERSION='"$(EXTVERSION)"'
# OMEN_CRASH_POINTS=1 (what `make test` builds): the tiered AM's crash points for the TAP tests
# (pg_extension/tiered.h). build/omen-crash-points holds the setting of the last make; it is
# rewritten (at parse time: PGXS's empty .SECONDARY would not remake a missing stamp) when the
# setting changes, which rebuilds the objects.
ifneq ($(filter-out 0 1,$(OMEN_CRASH_POINTS)),)
$(error OMEN_CRASH_POINTS must be 0 or 1, not '$(OMEN_CRASH_POINTS)')
endif
CRASH_SETTING := $(if $(filter 1,$(OMEN_CRASH_POINTS)),on,off)
$(shell mkdir -p build && { [ "$$(cat build/omen-crash-points 2>/dev/null)" = $(CRASH_SETTING) ] || echo $(CRASH_SETTING) >build/omen-crash-points; })
ifeq ($(OMEN_CRASH_POINTS),1)
PG_CPPFLAGS += -DOMEN_CRASH_POINTS
endif
# Frame pointers, as Debian builds Postgres' own C: `perf record -g` then shows the glue's callers.
PG_CXXFLAGS = -std=c++20 -Wall -Wextra -Werror -fno-omit-frame-pointer
SHLIB_LINK = $(CORE_LIB) -lrocksdb -lzstd -ltbb -lstdc++

# No LLVM bitcode for JIT inlining: our code is C++ and is not worth inlining into JITed expressions.
override with_llvm = no

.DEFAULT_GOAL := all

ifneq ($(PGXS),)
include $(PGXS)
else
all install installcheck:
	@echo "pg_config not found: run 'sudo make test' (installs the dependencies) or set PG_CONFIG" >&2; exit 1
endif

# -Wall -Wextra come from PGXS as C flags too; PGXS's C-only warning flags are dropped for C++.
override CXXFLAGS := $(filter-out -Wmissing-prototypes -Wdeclaration-after-statement -Wmissing-format-attribute,$(CXXFLAGS))

$(CORE_LIB): FORCE
	cmake -S . -B $(CORE_BUILD) -DCMAKE_BUILD_TYPE=Release -DOMEN_BUILD_TESTS=OFF -DOMEN_BUILD_BENCH=OFF >/dev/null
	cmake --build $(CORE_BUILD) -j2 --target omen_core

$(shlib): $(CORE_LIB)

$(OBJS): build/omen-crash-points

# PGXS tracks no header dependencies here: rebuild every object when a header changes (struct
# layouts are shared between the glue files).
$(OBJS): $(wildcard pg_extension/*.h) $(wildcard core/include/omen/*.h)
# OMENDB_VERSION (PG_CPPFLAGS) is read from the control file: a version bump must rebuild it.
pg_extension/omendb.o: pg_extension/omendb.control

.PHONY: FORCE test demo bench format
FORCE:

test:
	bash tests/run.sh

demo:
	bash bench/demo.sh

bench:
	bash bench/core_bench.sh

format:
	bash tests/format.sh
