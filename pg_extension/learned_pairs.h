// The (key, TID) pairs of a build or re-train, as the generation writer reads them: private to
// learned_pairs.cpp (which fills and sorts them) and learned_write.cpp (which reads them, twice when
// they spilled). Everyone else sees the opaque type of learned.h.
#pragma once

#include "learned.h"

extern "C" {
#include "storage/buffile.h"
#include "utils/tuplesort.h"
}

struct LearnedPairs {
  Size n;                 // pairs put
  BlockNumber max_block;  // over every TID put (the generation's TID widths)
  OffsetNumber max_offset;
  int work_mem_kb;  // the budget
  Size limit;       // pairs the in-memory path may hold
  uint64* array;    // in memory: 2 words per pair (TID, key) until sorted; NULL once spilled
  Size cap;
  Tuplesortstate* sort;  // spilled: the tuplesort (NULL while in memory)
  BufFile* file;         // spilled in order: 16-byte pairs in a temporary file (else NULL)
  bool in_order;         // every pair so far arrived in (key, TID) order
  uint64 last_key, last_tid;
  // After learned_pairs_sort, in memory: keys (over the array) and tids, n of each.
  uint64* keys;
  ItemPointerData* tids;
  Size read_pos;  // next pair learned_pairs_next returns
};

inline bool learned_pairs_spilled(const LearnedPairs* p) { return p->sort != nullptr || p->file != nullptr; }
// The next sorted pair; false after the last. Both paths.
bool learned_pairs_next(LearnedPairs* p, uint64* key, ItemPointerData* tid);
// Back to the first sorted pair.
void learned_pairs_rescan(LearnedPairs* p);
