// The table access method `tiered`: the one header of its glue (DESIGN.md section 3).
//
// A tiered table is a heap table in every respect: its hot tier *is* heap, and every callback of
// the table AM routine is heap's own (GetHeapamTableAmRoutine()), never a copy of heap code. What
// tiered adds replaces a callback only where it must:
//  * heap code that insists on `rd_tableam == heap` (heap_getnext's "only heap AM is supported",
//    reached from heap's index build and validate scans) runs with heap's routine presented on the
//    relation for the duration of the call, restored in PG_FINALLY (tiered_as_heap);
//  * the TOAST table of a tiered table is a plain heap table (relation_toast_am);
//  * BRIN is refused: it summarises block ranges, which cold rows (virtual blocks) do not have.
// Cold rows (compressed batches in an auxiliary heap relation) come in later steps; until then
// every row is hot and a tiered table behaves exactly as heap.
#pragma once

#include "omen_pg.h"

extern "C" {
#include "access/tableam.h"
#include "utils/rel.h"
}

// The routine of `tiered` (built on first use from heap's; constant afterwards).
const TableAmRoutine* tiered_routine(void);

// True when `rel` is a tiered table (its table AM routine is tiered's).
static inline bool tiered_is_tiered(Relation rel) { return rel->rd_tableam == tiered_routine(); }

extern "C" {
Datum tiered_handler(PG_FUNCTION_ARGS);
}
