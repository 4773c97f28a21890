// The model of a `learned` index: training at build, the per-index cache used by every probe.
//
// The model maps an encoded key k to a window [lo, hi] of build positions that holds
// lower_bound(k) over the build keys (core contract, omen/search_bound.h). Build position p lives
// in leaf p / leaf_cap. The leaf fences (fence_i = build key at position i * leaf_cap, fence_0 = 0)
// turn that window into the exact leaf, so a probe reads no page to locate its leaf.
//
// The cache lives in rd_amcache, allocated in its own child context of rd_indexcxt, and is valid
// for one metapage generation (and relfilenode). The core model object it points to is owned by a
// reset callback of that context, so deleting the context (stale cache, relcache entry dropped)
// frees it.
#pragma once

#include "learned_page.h"

// A stored leaf-level model segment, 16 bytes on disk (same layout as omen::PgmSegment): used
// when build_keys < kLearnedCompactKeys. Larger indexes store LearnedWideSegment (24 bytes,
// omen::WidePgmSegment). docs/format.md.
struct LearnedSegment {
  uint64 first_key;
  float4 slope;
  int32 intercept;
};
struct LearnedWideSegment {
  uint64 first_key;
  float8 slope;
  int64 intercept;
};
inline constexpr uint64 kLearnedCompactKeys = uint64{1} << 31;

// Bytes of one stored segment of an index trained on build_keys keys.
inline Size learned_segment_size(uint64 build_keys) {
  return build_keys < kLearnedCompactKeys ? sizeof(LearnedSegment) : sizeof(LearnedWideSegment);
}

struct LearnedCache {
  LearnedMeta meta;     // copy of the metapage when the cache was last used
  Oid relfilenode;      // the storage the cache describes (TRUNCATE/REINDEX make new storage)
  uint64* fences;       // meta.nleaves entries
  void* model;          // core PgmModel, or NULL (no keys, or core model not available)
  MemoryContext cxt;    // owns the cache (and the model)
  // Edge directory (learned_edge.h), loaded incrementally: entries [0, edge_n) of the generation.
  uint32 edge_n;
  uint32 edge_cap;
  uint64* edge_fences;
  BlockNumber* edge_blocks;
  BlockNumber edge_dir_blk;  // directory page holding entry edge_n (or the last page read)
};

// The cache for `index`, (re)built when the metapage generation changed. Reads the metapage.
LearnedCache* learned_get_cache(Relation index);

// First leaf that can hold a key >= key (scan start, invariant I4). Leaves are numbered over
// the build leaves then the edge leaves (learned_edge.h).
uint32 learned_start_leaf(const LearnedCache* cache, uint64 key);
// Last leaf whose fence <= key: where an insert of `key` goes (invariant I4).
uint32 learned_target_leaf(const LearnedCache* cache, uint64 key);

// A trained model: its segments (palloc'd in the caller's context, nsegments entries of
// learned_segment_size(n) bytes) and the core model itself, owned by `cxt` (a child of the
// caller's context: deleting it, or an error unwinding it, deletes the model). n == 0 gives no
// segments and no model. Free with learned_trained_free.
struct LearnedTrained {
  char* segments;
  uint32 nsegments;
  uint32 model_epsilon;  // the bound predict() uses (PgmModel::epsilon())
  void* model;           // omen::PgmModel, or NULL
  MemoryContext cxt;
};

// Trains the core model over keys[0..n) (sorted, duplicates allowed) with error bound epsilon.
LearnedTrained learned_train(const uint64* keys, Size n, uint32 epsilon);

// Streaming training, for keys that are not in memory at once: learned_trainer_add receives the n
// keys in ascending order (in batches), learned_trainer_finish returns the model (and frees the
// trainer). The core builder holds at most chunk_points constraint points (16 B each) at a time;
// a model piece also ends at each chunk boundary (omen::PgmModel::Builder).
struct LearnedTrainer;
LearnedTrainer* learned_trainer_begin(Size n, uint32 epsilon, Size chunk_points);
void learned_trainer_add(LearnedTrainer* t, const uint64* keys, Size count);
LearnedTrained learned_trainer_finish(LearnedTrainer* t);

// Training error |predicted position - lower_bound| over the build keys, accumulated batch by
// batch: call with consecutive batches of the sorted keys, starting from a zeroed accumulator.
struct LearnedErrorAcc {
  double sum;
  uint64 max;
  Size pos;    // keys seen
  Size first;  // lower_bound of the last key seen
  uint64 prev;
};
void learned_trained_error(const LearnedTrained& t, const uint64* keys, Size count, LearnedErrorAcc* acc);
void learned_trained_free(LearnedTrained* t);

// True when the core model is compiled in (PgmModel available).
bool learned_have_core_model(void);
