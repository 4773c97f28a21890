// Edge leaves of a `learned` index: the insert path for keys appended at the right edge.
//
// A table that only grows at the right edge (timestamps, serial ids) sends every new key past the
// last build fence, i.e. to the last leaf. Instead of an ever longer unsorted overflow chain there,
// a key at or above the last leaf's largest key (and its overflow chain's) starts a new *edge
// leaf* once the last leaf is full (kLearnedEdgeSlack slots kept for keys that arrive slightly out
// of order; later ones go to the leaf's overflow chain). Edge leaves
// continue the leaf numbering of the generation (leaf nleaves + j is edge leaf j); an edge leaf's
// fence is the key that opened it, which is >= every key of the leaf before it, so invariants
// I1..I4 hold over build and edge leaves alike. The edge leaves can be any block (a page VACUUM
// freed, or a new one): the *edge directory*, a chain of kPageDir pages, lists (fence, block) per
// edge leaf, append-only within a generation. Each backend caches it (LearnedCache) and loads only
// the entries added since it last looked, so a probe of a recent key reads the metapage and one
// leaf: binary search over the cached edge fences, no model. A re-train folds the edge leaves into
// the new generation's build leaves; nothing forces one (edge leaves are as dense as build leaves).
//
// Concurrency: an edge leaf is added only by a writer holding the exclusive lock of the current
// last leaf, so additions are serialized; it is one GenericXLog record over the old last leaf
// (its high fence), the new leaf, the directory tail and the metapage (edge_nleaves). A directory
// page is added by its own record first. Readers that loaded the cache before an addition see the
// old last leaf's new high fence and move right through the refreshed cache.
#pragma once

#include "learned_model.h"

// Keys below the last leaf's largest key still fit into its last kLearnedEdgeSlack slots before
// it spills into an overflow chain (out-of-order arrivals from concurrent inserters).
inline constexpr uint16 kLearnedEdgeSlack = 16;

// Where the leaves of one generation are.
struct LearnedLeafMap {
  BlockNumber leaf_start;  // build leaf i < nleaves is block leaf_start + i
  uint32 nleaves;          // build leaves
  BlockNumber dir_head;    // edge directory of the generation
  uint32 generation;
};

LearnedLeafMap learned_leaf_map(const LearnedMeta& meta);
// Leaves of the cached generation (build + edge).
uint32 learned_total_leaves(const LearnedCache* cache);
// Fence of leaf `leaf` of the cached generation.
uint64 learned_leaf_fence(const LearnedCache* cache, uint32 leaf);
// Block of leaf `leaf` of the generation `map` describes: arithmetic for build leaves, the cached
// directory for the current generation's edge leaves, a walk of the directory chain for an older
// generation (a scan that outlived a re-train). elog(ERROR) if the leaf does not exist.
BlockNumber learned_leaf_block(Relation index, const LearnedLeafMap& map, uint32 leaf);

// Loads the directory entries the cache lacks (up to cache->meta.edge_nleaves). Called by
// learned_get_cache.
void learned_edge_refresh(Relation index, LearnedCache* cache);
// For a key above the first edge fence: the last edge leaf whose fence < key (as a leaf number);
// otherwise returns false.
bool learned_edge_start_leaf(const LearnedCache* cache, uint64 key, uint32* leaf);

// The `n` edge leaves of the directory at `dir_head`: blocks (and fences, if `fences` is not
// NULL) in leaf order, palloc'd. Also returns the directory's pages in *dir_pages (palloc'd,
// *ndir entries) when dir_pages is not NULL.
void learned_edge_list(Relation index, BlockNumber dir_head, uint32 n, BlockNumber** blocks,
                       uint64** fences, BlockNumber** dir_pages, uint32* ndir);

// Blocks of every leaf of the generation `meta` describes (build then edge leaves), palloc'd;
// *n = their count.
BlockNumber* learned_all_leaves(Relation index, const LearnedMeta& meta, uint32* n);

// True when (key, tid) should open a new edge leaf after `page`, the last leaf (exclusively
// locked): key >= its largest key and every key of its overflow chain (read here), and the leaf
// is nearly full or the item does not fit its packed widths.
bool learned_edge_wants_leaf(Relation index, Page page, uint64 key, ItemPointer tid);
// Opens a new edge leaf holding (key, tid) after the last leaf `last` (exclusively locked; the
// caller holds kLearnedWriterLock and releases `last`).
void learned_edge_add_leaf(Relation index, Buffer last, uint64 key, ItemPointer tid);
