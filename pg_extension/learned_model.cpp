// The model of a `learned` index: core training and the rd_amcache cache (learned_model.h).
#include "learned_edge.h"

#if __has_include(<omen/model.h>)
#include <omen/model.h>
#define OMEN_HAVE_PGM 1
#else
#define OMEN_HAVE_PGM 0
#endif

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <span>
#include <vector>

extern "C" {
#include "utils/memutils.h"
}

bool learned_have_core_model(void) { return OMEN_HAVE_PGM != 0; }

namespace {

#if OMEN_HAVE_PGM
static_assert(sizeof(omen::PgmSegment) == sizeof(LearnedSegment) &&
                  offsetof(omen::PgmSegment, slope) == offsetof(LearnedSegment, slope) &&
                  offsetof(omen::PgmSegment, intercept) == offsetof(LearnedSegment, intercept),
              "segment layout");
static_assert(sizeof(omen::WidePgmSegment) == sizeof(LearnedWideSegment) &&
                  offsetof(omen::WidePgmSegment, slope) == offsetof(LearnedWideSegment, slope) &&
                  offsetof(omen::WidePgmSegment, intercept) == offsetof(LearnedWideSegment, intercept),
              "wide segment layout");
static_assert(omen::kMaxCompactKeys == kLearnedCompactKeys, "compact layout limit");

void delete_model(void* arg) {
  delete static_cast<omen::PgmModel*>(arg);
}

// A new core model over the `meta.nsegments` stored segments (of type Stored) at `bytes`.
template <class Stored, class Core>
omen::PgmModel* load_model(const char* bytes, const LearnedMeta& meta, omen::ModelOptions opt) {
  std::vector<Core> leaf(meta.nsegments);
  for (uint32 i = 0; i < meta.nsegments; i++) {
    Stored st;
    memcpy(&st, bytes + i * sizeof(Stored), sizeof(Stored));
    leaf[i] = Core{st.first_key, st.slope, st.intercept};
  }
  return new omen::PgmModel(omen::PgmModel::from_segments(std::move(leaf), meta.build_keys, meta.model_epsilon, opt));
}

// Makes `cxt` own `model`: deleted when the context is reset or deleted (also on error paths).
void own_model(MemoryContext cxt, void* model) {
  auto* cb = static_cast<MemoryContextCallback*>(MemoryContextAlloc(cxt, sizeof(MemoryContextCallback)));
  cb->func = delete_model;
  cb->arg = model;
  MemoryContextRegisterResetCallback(cxt, cb);
}
#endif

// Name of the per-cache memory contexts (compared by address).
const char* const kCacheContextName = "learned index model cache";

// Number of fences in fences[from..to] (inclusive) that are < key; fences are non-decreasing.
uint32 count_below(const uint64* fences, uint32 from, uint32 to, uint64 key) {
  uint32 lo = from, hi = to + 1;  // first index in [from, to+1) with fence >= key
  while (lo < hi) {
    uint32 mid = lo + (hi - lo) / 2;
    if (fences[mid] < key) lo = mid + 1; else hi = mid;
  }
  return lo - from;
}

}  // namespace

#if OMEN_HAVE_PGM
namespace {

void delete_builder(void* arg) {
  delete static_cast<omen::PgmModel::Builder*>(arg);
}

// Fills out->segments / nsegments / model_epsilon from the core model out->model, trained over
// n keys.
void read_segments(LearnedTrained* out, Size n) {
  auto* m = static_cast<const omen::PgmModel*>(out->model);
  Size nseg = omen_pg::call_core("reading the model", [&] { return m->segment_count(); });
  out->model_epsilon = omen_pg::call_core("reading the model", [&] { return m->epsilon(); });
  const Size seg_size = learned_segment_size(n);
  out->segments = static_cast<char*>(palloc_extended(std::max<Size>(nseg, 1) * seg_size, MCXT_ALLOC_HUGE));
  out->nsegments = static_cast<uint32>(nseg);
  omen_pg::call_core("reading the model", [&] {
    if (m->is_wide() != (seg_size == sizeof(LearnedWideSegment)))
      throw std::logic_error("core model layout differs from the page layout");
    for (Size i = 0; i < nseg; i++) {
      if (m->is_wide()) {
        const omen::WidePgmSegment& g = m->wide_segments()[i];
        const LearnedWideSegment w{g.first_key, g.slope, g.intercept};
        memcpy(out->segments + i * seg_size, &w, seg_size);
      } else {
        const omen::PgmSegment& g = m->segments()[i];
        const LearnedSegment c{g.first_key, g.slope, g.intercept};
        memcpy(out->segments + i * seg_size, &c, seg_size);
      }
    }
  });
}

}  // namespace
#endif

struct LearnedTrainer {
  MemoryContext cxt;  // owns the core builder, then the model
  void* builder;      // omen::PgmModel::Builder
  Size n;
};

LearnedTrained learned_train(const uint64* keys, Size n, uint32 epsilon) {
  LearnedTrained out{nullptr, 0, 0, nullptr, nullptr};
  if (n == 0) return out;
#if OMEN_HAVE_PGM
  // A context of its own owns the core model from the moment it exists (reset callback), so an
  // error cannot leak it; learned_trained_free deletes it.
  out.cxt = AllocSetContextCreate(CurrentMemoryContext, "learned training", ALLOCSET_SMALL_SIZES);
  out.model = omen_pg::call_core("training the learned model", [&]() -> void* {
    omen::ModelOptions opt;
    opt.epsilon = epsilon;
    return new omen::PgmModel(omen::PgmModel::build(std::span<const uint64_t>(keys, n), opt));
  });
  own_model(out.cxt, out.model);
  read_segments(&out, n);
#else
  (void)keys;
  (void)epsilon;
#endif
  return out;
}

LearnedTrainer* learned_trainer_begin(Size n, uint32 epsilon, Size chunk_points) {
  auto* t = static_cast<LearnedTrainer*>(palloc0(sizeof(LearnedTrainer)));
  t->n = n;
#if OMEN_HAVE_PGM
  t->cxt = AllocSetContextCreate(CurrentMemoryContext, "learned training", ALLOCSET_SMALL_SIZES);
  auto* cb = static_cast<MemoryContextCallback*>(MemoryContextAlloc(t->cxt, sizeof(MemoryContextCallback)));
  t->builder = omen_pg::call_core("training the learned model", [&]() -> void* {
    omen::ModelOptions opt;
    opt.epsilon = epsilon;
    return new omen::PgmModel::Builder(n, opt, std::max<Size>(chunk_points, 2));
  });
  cb->func = delete_builder;
  cb->arg = t->builder;
  MemoryContextRegisterResetCallback(t->cxt, cb);
#else
  (void)epsilon;
  (void)chunk_points;
#endif
  return t;
}

void learned_trainer_add(LearnedTrainer* t, const uint64* keys, Size count) {
#if OMEN_HAVE_PGM
  auto* b = static_cast<omen::PgmModel::Builder*>(t->builder);
  omen_pg::call_core("training the learned model", [&] { b->add(std::span<const uint64_t>(keys, count)); });
#else
  (void)t;
  (void)keys;
  (void)count;
#endif
}

LearnedTrained learned_trainer_finish(LearnedTrainer* t) {
  LearnedTrained out{nullptr, 0, 0, nullptr, t->cxt};
#if OMEN_HAVE_PGM
  if (t->n > 0) {
    auto* b = static_cast<omen::PgmModel::Builder*>(t->builder);
    out.model = omen_pg::call_core("training the learned model",
                                   [&]() -> void* { return new omen::PgmModel(b->finish()); });
    own_model(t->cxt, out.model);
    read_segments(&out, t->n);
  }
#endif
  pfree(t);
  return out;
}

void learned_trained_error(const LearnedTrained& t, const uint64* keys, Size count, LearnedErrorAcc* acc) {
#if OMEN_HAVE_PGM
  if (t.model == nullptr) return;
  auto* m = static_cast<const omen::PgmModel*>(t.model);
  omen_pg::call_core("measuring the model", [&] {
    for (Size i = 0; i < count; i++, acc->pos++) {
      if (acc->pos == 0 || keys[i] != acc->prev) acc->first = acc->pos;
      acc->prev = keys[i];
      auto b = m->predict(keys[i]);
      uint64 err = b.pos > acc->first ? b.pos - acc->first : acc->first - b.pos;
      acc->sum += static_cast<double>(err);
      acc->max = std::max<uint64>(acc->max, err);
    }
  });
#else
  (void)t;
  (void)keys;
  (void)count;
  (void)acc;
#endif
}

void learned_trained_free(LearnedTrained* t) {
  if (t->segments != nullptr) pfree(t->segments);
  if (t->cxt != nullptr) MemoryContextDelete(t->cxt);
  t->segments = nullptr;
  t->model = nullptr;
  t->cxt = nullptr;
}

LearnedCache* learned_get_cache(Relation index) {
  LearnedMeta meta;
  learned_read_meta(index, &meta);
  auto* cache = static_cast<LearnedCache*>(index->rd_amcache);
  if (cache != nullptr && cache->meta.generation == meta.generation &&
      cache->relfilenode == index->rd_node.relNode) {
    cache->meta = meta;  // counters such as null_tail move within a generation
    learned_edge_refresh(index, cache);  // edge leaves added since the last look
    return cache;
  }
  // Read the model pages (segments then fences) into one temporary buffer.
  const Size seg_size = learned_segment_size(meta.build_keys);
  Size seg_bytes = static_cast<Size>(meta.nsegments) * seg_size;
  Size total = seg_bytes + static_cast<Size>(meta.nleaves) * sizeof(uint64);
  char* bytes = static_cast<char*>(palloc_extended(std::max<Size>(total, 1), MCXT_ALLOC_HUGE));
  Size done = 0;
  for (uint32 p = 0; p < meta.model_pages; p++) {
    BlockNumber blkno = meta.model_start + p;
    Buffer buf = ReadBuffer(index, blkno);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    learned_check_page(index, page, blkno, kPageModel);
    Size chunk = std::min(kLearnedModelBytesPerPage, total - done);
    memcpy(bytes + done, learned_model_bytes(page), chunk);
    done += chunk;
    UnlockReleaseBuffer(buf);
  }
  if (done != total)
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                    errmsg("index \"%s\" model pages hold %zu bytes, expected %zu",
                           RelationGetRelationName(index), done, total),
                    errhint("REINDEX the index.")));

  // Each cache lives in its own child context of rd_indexcxt, which also owns the core model.
  // Postgres may pfree rd_amcache on a relcache reload without telling us: the stale context is
  // found here, by its name, and deleted (with its model) before a new one is made.
  MemoryContext parent = index->rd_indexcxt;
  for (MemoryContext c = parent->firstchild; c != nullptr;) {
    MemoryContext next = c->nextchild;
    if (c->name == kCacheContextName) MemoryContextDelete(c);
    c = next;
  }
  index->rd_amcache = nullptr;
  MemoryContext cxt = AllocSetContextCreate(parent, kCacheContextName, ALLOCSET_SMALL_SIZES);
  cache = static_cast<LearnedCache*>(MemoryContextAllocZero(cxt, sizeof(LearnedCache)));
  cache->meta = meta;
  cache->relfilenode = index->rd_node.relNode;
  cache->fences = static_cast<uint64*>(MemoryContextAllocExtended(
      cxt, std::max<Size>(meta.nleaves, 1) * sizeof(uint64), MCXT_ALLOC_HUGE));
  memcpy(cache->fences, bytes + seg_bytes, meta.nleaves * sizeof(uint64));
  cache->model = nullptr;
  cache->cxt = cxt;
  cache->edge_dir_blk = InvalidBlockNumber;
#if OMEN_HAVE_PGM
  if (meta.nsegments > 0) {
    void* model = omen_pg::call_core("loading the learned model", [&]() -> void* {
      omen::ModelOptions opt;
      opt.epsilon = meta.error_bound;
      if (seg_size == sizeof(LearnedWideSegment))
        return load_model<LearnedWideSegment, omen::WidePgmSegment>(bytes, meta, opt);
      return load_model<LearnedSegment, omen::PgmSegment>(bytes, meta, opt);
    });
    own_model(cxt, model);
    cache->model = model;
  }
#endif
  pfree(bytes);
  index->rd_amcache = cache;
  learned_edge_refresh(index, cache);
  return cache;
}

uint32 learned_start_leaf(const LearnedCache* cache, uint64 key) {
  uint32 edge;
  if (learned_edge_start_leaf(cache, key, &edge)) return edge;
  const LearnedMeta& m = cache->meta;
  uint32 last = m.nleaves - 1;
  uint32 from = 0, to = last;
#if OMEN_HAVE_PGM
  if (cache->model != nullptr) {
    auto* model = static_cast<const omen::PgmModel*>(cache->model);
    // predict() is noexcept in practice; call_core keeps the boundary rule anyway.
    auto b = omen_pg::call_core("model lookup", [&] { return model->predict(key); });
    uint64 lo = b.lo, hi = b.hi;
    from = static_cast<uint32>(std::min<uint64>((std::max<uint64>(lo, 1) - 1) / m.leaf_cap, last));
    to = static_cast<uint32>(std::min<uint64>((std::max<uint64>(hi, 1) - 1) / m.leaf_cap, last));
  }
#endif
  // The start is the last leaf in [from, to] with fence < key, or `from` if there is none.
  uint32 below = count_below(cache->fences, from, to, key);
  return below == 0 ? from : from + below - 1;
}

uint32 learned_target_leaf(const LearnedCache* cache, uint64 key) {
  if (key == PG_UINT64_MAX) return learned_total_leaves(cache) - 1;
  return learned_start_leaf(cache, key + 1);
}
