// The leaf layout of a generation: private to learned_layout.cpp and the generation writer
// (learned_write.cpp), its one user.
#pragma once

#include "learned_pairs.h"
#include "learned_train.h"

// TID widths of a generation: enough bits for every TID of `pairs`, plus one block bit so that
// inserts keep fitting until the heap doubles (a TID that does not fit goes to the overflow chain,
// whose pages are wide).
omen::leaf::Widths learned_tid_widths(const LearnedPairs* pairs);

// Sets tids->key_scale to the generation's key scale (the largest 10^e * 2^f dividing every
// difference between its keys: build leaves store keys divided by it) and chooses leaf_cap
// (*leaf_cap) for the sorted `pairs` (learned_pairs_sort done) at TID widths `tids`, or fewer
// block bits where every run of leaf_cap pairs spans fewer blocks, and trains the model over
// their keys with error bound `epsilon`. In memory and spilled pairs give the same leaf_cap; spilled pairs
// are read once and rewound. With `progress`, reports the CREATE INDEX subphase of training.
LearnedTrained learned_layout_train(LearnedPairs* pairs, uint32 epsilon, omen::leaf::Widths* tids,
                                    int fillfactor, bool progress, Size* leaf_cap);

// Widths of a build leaf holding `count` items from `low` (its first key) to `top` (the next leaf's
// first key, or its own last key for the last leaf), whose TIDs' blocks run from min_block to
// max_block: keys relative to the low fence in the bits the fence range needs, so every key an
// insert routes to the leaf fits; leaf 0 (`first`) and the last leaf also take keys as far beyond
// as their own range spans when that costs no capacity leaf_cap needs. TIDs at the generation's
// absolute widths `tids` when leaf_cap allows, else relative to min_block in the most bits that
// hold leaf_cap (a TID an insert brings from outside goes to the overflow chain).
omen::leaf::Widths learned_build_leaf_widths(Size count, uint64 low, uint64 top, bool first, bool last,
                                             const omen::leaf::Widths& tids, BlockNumber min_block,
                                             BlockNumber max_block, int fillfactor);
