// Scans of the `learned` index: what the scan files share, private to them (learned_scan.cpp
// entry points and stepping, learned_scankey.cpp, learned_scan_load.cpp, learned_scan_parallel.cpp).
//
// The scan keys reduce to a sorted list of disjoint inclusive key ranges (one range, or one point
// per `= ANY(array)` element) plus "want NULLs". The scan walks *units* in key order: for each
// range, the leaves from its start leaf (model + fences) while the next leaf's fence <= range end;
// then, if wanted, the NULL chain (NULLS LAST). Each unit is copied into a batch (leaf + overflow
// chain items within the range, sorted by key then TID) under a share lock, then released, so a
// scan never holds a buffer lock between calls.
//
// Mark/restore keeps the marked batch aside (two batches take turns); parallel scans hand units
// out one at a time through shared state (learned_scan_parallel.cpp). docs/index-am.md has both.
#pragma once

#include "learned.h"

extern "C" {
#include "access/itup.h"
#include "access/relscan.h"
}

namespace learned_scan {

struct Range {
  uint64 lo, hi;  // inclusive
};

struct ScanItem {
  uint64 key;
  ItemPointerData tid;
};

enum UnitKind { kUnitValues = 0, kUnitNulls = 1 };

// A leaf (of the generation `map` describes) restricted to one range, or the null chain. A scan
// may see a re-train between units: each descent (start_leaf/end_leaf) uses the current
// generation, and walking to a neighbour leaf stays in the descent's generation.
struct Unit {
  int kind;
  int range;
  uint32 leaf;
  LearnedLeafMap map;  // every page the unit reads must carry map.generation
};

// A loaded unit and what is needed to find its neighbours (plain data: parallel scans share it).
struct UnitPos {
  Unit unit;
  uint64 high_fence;  // of the loaded leaf
  uint64 low_fence;
  bool is_last;
};

// One unit's items, copied out of its pages.
struct Batch {
  MemoryContext cxt;  // holds `items`; reset when another unit is loaded into this batch
  UnitPos at;
  ScanItem* items;
  int nitems;
};

// Where a mark (ammarkpos) is kept. The mark costs nothing while it stays in the current batch;
// when the scan loads another unit, the marked batch is kept whole by swapping it with `mark`
// (two contexts take turns), so restoring never re-reads a page, even after a re-train.
enum MarkState { kNoMark = 0, kMarkBeforeStart, kMarkInCur, kMarkSaved };

struct ScanOpaque {
  Batch cur;   // the unit being returned
  Batch mark;  // the marked unit when the scan has left it (kMarkSaved)
  MarkState mark_state;
  int mark_pos;
  MemoryContext tuple_cxt;  // the two index-only scan tuples below; lives as long as the scan
  IndexTuple value_itup;    // index-only scans: a tuple formed once, its datum overwritten per row
  IndexTuple null_itup;     // the same for NULL
  char* value_data;         // value_itup's datum
  int16 attlen;             // of the key column, for value_itup
  MemoryContext keys_cxt;   // ranges and decoded arrays; reset per rescan
  Oid type;
  bool exact;  // equal keys are equal values (omen_key_type_exact); else every row is rechecked
  // From the scan keys.
  Range* ranges;
  int nranges;
  bool want_nulls;
  // Iteration state.
  bool started;
  bool empty;            // no unit at all
  int pos;               // in cur.items
  bool exceptions_only;  // a sparse index's own entries, for omendb_index_verify (learned.h)
};

// Fills so->ranges / so->want_nulls from the scan keys (allocated in the current context).
void setup_ranges(IndexScanDesc scan, ScanOpaque* so);

// The unit to load after `last` in `dir` (the first one when `last` is null); false at the end.
bool following_unit(IndexScanDesc scan, ScanOpaque* so, ScanDirection dir, const UnitPos* last, Unit* u);
// Loads unit `u` into so->cur. A mark in the current batch moves the batch to so->mark first.
void load_unit(IndexScanDesc scan, ScanOpaque* so, const Unit& u);

// Takes the next unit of a parallel scan into so->cur; false when the scan is done.
bool parallel_advance(IndexScanDesc scan, ScanOpaque* so, ScanDirection dir);

}  // namespace learned_scan
