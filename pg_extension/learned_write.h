// Writing a generation of a `learned` index: leaves from sorted (key, TID) pairs, the model
// trained over their keys, the model pages. Used by ambuild and by re-training.
#pragma once

#include "learned_model.h"

// State of one generation being written. Plain struct (no destructors): lives in Postgres frames.
struct LearnedWriter {
  Relation index;
  LearnedMeta* meta;  // caller sets generation, leaf_start, leaf_cap, error_bound; we fill the rest
  Page image;         // page being filled (palloc'd)
  uint64* keys;       // every key written, for training (palloc'd, grows)
  Size n;
  Size keys_cap;
  uint32 leaf;        // index of the leaf in `image`
};

// Starts writing leaves at meta->leaf_start (which must be the relation's next new block).
void learned_writer_begin(LearnedWriter* w, Relation index, LearnedMeta* meta);
// Adds the next pair. REQUIRES: (key, tid) >= every pair added before.
void learned_writer_add(LearnedWriter* w, uint64 key, const ItemPointerData* tid);
// Writes the last leaf, trains the model, writes the model pages right after the leaves and fills
// meta->nleaves, build_keys, nsegments, model_*, mean/max_error. Frees the key array.
void learned_writer_finish(LearnedWriter* w);

// Appends `image` as block `expect` of `fork` (extension-locked, WAL-logged full image);
// elog(ERROR) if the relation's next block is not `expect`.
void learned_append_page(Relation index, ForkNumber fork, Page image, BlockNumber expect);
// Writes `nbytes` as model pages from block `start`; returns the page count.
uint32 learned_write_model_pages(Relation index, ForkNumber fork, const char* bytes, Size nbytes,
                                 BlockNumber start, uint32 generation, Page image);
// Formats `image` as a metapage holding `meta`.
void learned_init_meta_page(Page image, const LearnedMeta& meta);
