// The (key, TID) pairs a build or a re-train writes, sorted by (key, TID) within a memory budget.
//
// Pairs are kept in one palloc'd array while the array (16 B per pair) and the TID array the
// writer splits off it (6 B per pair) fit in the budget (maintenance_work_mem): then
// learned_pairs_sort sorts them with std::sort and the writer reads keys[] and tids[] directly
// (the fast path). A pair beyond the budget moves everything into a tuplesort, which spills to
// temporary files as btree's build does; the writer then reads the sorted pairs as a stream,
// twice (learned_pairs_rescan). The tuplesort sorts each pair as one 16-byte uuid datum, key then
// block then offset, big-endian, whose bytewise order (uuid's btree order) is the (key, TID) order.
// Pairs that arrive already in (key, TID) order (a table loaded in key order: serial ids,
// timestamps) need no sort: beyond the budget they go to a plain temporary file, read back the
// same way, until one arrives out of order, which moves the file into a tuplesort.
#pragma once

#include "learned.h"

extern "C" {
#include "storage/buffile.h"
#include "utils/tuplesort.h"
}

struct LearnedPairs {
  Size n;                   // pairs put
  BlockNumber max_block;    // over every TID put (the generation's TID widths)
  OffsetNumber max_offset;
  int work_mem_kb;          // the budget
  Size limit;               // pairs the in-memory path may hold
  uint64* array;            // in memory: 2 words per pair (TID, key) until sorted; NULL once spilled
  Size cap;
  Tuplesortstate* sort;     // spilled: the tuplesort (NULL while in memory)
  BufFile* file;            // spilled in order: 16-byte pairs in a temporary file (else NULL)
  bool in_order;            // every pair so far arrived in (key, TID) order
  uint64 last_key, last_tid;
  // After learned_pairs_sort, in memory: keys (over the array) and tids, n of each.
  uint64* keys;
  ItemPointerData* tids;
  Size read_pos;            // next pair learned_pairs_next returns
};

// A new, empty pair set with a budget of work_mem_kb kilobytes, in the current memory context.
LearnedPairs* learned_pairs_begin(int work_mem_kb);
void learned_pairs_put(LearnedPairs* p, uint64 key, const ItemPointerData* tid);
// Sorts the pairs (after the last put) and positions the reader at the first pair. Reports the
// path taken at DEBUG1 ("... sorted in memory" / "... sorted externally") under `what`.
void learned_pairs_sort(LearnedPairs* p, const char* what);
inline bool learned_pairs_spilled(const LearnedPairs* p) { return p->sort != nullptr || p->file != nullptr; }
// The next sorted pair; false after the last. Both paths.
bool learned_pairs_next(LearnedPairs* p, uint64* key, ItemPointerData* tid);
// Back to the first sorted pair.
void learned_pairs_rescan(LearnedPairs* p);
// Frees the pairs (and ends the tuplesort, removing its temporary files).
void learned_pairs_end(LearnedPairs* p);
