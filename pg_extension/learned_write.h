// Writing a generation of a `learned` index: leaves from sorted (key, TID) pairs, the model
// trained over their keys, the model pages. Used by ambuild and by re-training.
//
// Pages of a new generation are written through shared buffers without WAL, then WAL-logged in
// batches of full images (log_newpage_range, as GIN and GiST builds do) before anything points at
// them: a build logs its whole relation at the end; a re-train logs its new pages before the
// metapage swap.
#pragma once

#include "learned_model.h"
#include "learned_pairs.h"

// Writes the leaves for the sorted `pairs` (learned_pairs_sort done) from block meta->leaf_start
// (the relation's next new block; InvalidBlockNumber: the first run of free pages long enough for
// the leaves and model pages, else the end — a re-train, holding the re-train lock), trains the
// model, writes the model pages right after the leaves. Chooses the page widths and leaf_cap (the most build positions per leaf such
// that every leaf, at its own widths, is filled to at most `fillfactor` percent); in memory and
// spilled pairs give the same leaves. The caller sets meta->generation, leaf_start, error_bound;
// this fills leaf_cap, nleaves, build_keys, nsegments, model_start, model_pages, model_epsilon,
// mean/max_error. With `progress`, reports CREATE INDEX subphases and tuples. The pages are not
// WAL-logged (learned_log_new_pages).
void learned_write_generation(Relation index, LearnedMeta* meta, LearnedPairs* pairs, int fillfactor,
                              bool progress);

// WAL-logs blocks [start, end) of `fork` as full page images, in batches (no-op when the index
// needs no WAL, except for the init fork, which is always logged).
void learned_log_new_pages(Relation index, ForkNumber fork, BlockNumber start, BlockNumber end);

// Appends `image` as block `expect` of `fork` through a buffer, without WAL (the caller logs it
// with learned_log_new_pages); elog(ERROR) if the relation's next block is not `expect`.
void learned_extend_page(Relation index, ForkNumber fork, Page image, BlockNumber expect);
// Overwrites existing block `blkno` of the main fork with `image`, without WAL (same contract).
void learned_overwrite_page(Relation index, BlockNumber blkno, Page image);
// Writes `image` as block `blkno` of `fork`: overwrites it when it exists, else extends the
// relation by exactly that block (learned_extend_page). Without WAL (same contract).
void learned_put_page(Relation index, ForkNumber fork, Page image, BlockNumber blkno);
// Writes `nbytes` as model pages from block `start` (learned_extend_page); returns the page count.
uint32 learned_write_model_pages(Relation index, ForkNumber fork, const char* bytes, Size nbytes,
                                 BlockNumber start, uint32 generation, Page image);
// Formats `image` as a metapage holding `meta`.
void learned_init_meta_page(Page image, const LearnedMeta& meta);
