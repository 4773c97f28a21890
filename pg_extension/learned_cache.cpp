// The read side of a `learned` index: the per-index cache (rd_amcache) of the model, the leaf
// fences and the edge directory, and the lookups a probe makes with it (learned.h).
//
// The model maps an encoded key k to a window [lo, hi] of build positions that holds
// lower_bound(k) over the build keys (core contract, omen/search_bound.h). Build position p lives
// in leaf p / leaf_cap. The leaf fences (fence_i = build key at position i * leaf_cap, fence_0 = 0)
// turn that window into the exact leaf, so a probe reads no page to locate its leaf. Keys past the
// first edge fence skip the model: a binary search over the cached edge fences (edge leaves:
// learned_edge.cpp) names the leaf, and the directory, append-only within a generation, is loaded
// incrementally: only the entries added since the last look are read.
//
// The cache lives in rd_amcache, allocated in its own child context of rd_indexcxt, and is valid
// for one metapage generation (and relfilenode). The core model object it points to is owned by
// that context (omen_pg::make_owned), so deleting the context (stale cache, relcache entry
// dropped) frees it.
#include "learned.h"
#include "learned_sparse.h"

#include <omen/model.h>

#include <algorithm>
#include <vector>

extern "C" {
#include "access/xlog.h"
}

namespace {

static_assert(sizeof(omen::PgmSegment) == sizeof(LearnedSegment) &&
                  offsetof(omen::PgmSegment, slope) == offsetof(LearnedSegment, slope) &&
                  offsetof(omen::PgmSegment, intercept) == offsetof(LearnedSegment, intercept),
              "segment layout");
static_assert(sizeof(omen::WidePgmSegment) == sizeof(LearnedWideSegment) &&
                  offsetof(omen::WidePgmSegment, slope) == offsetof(LearnedWideSegment, slope) &&
                  offsetof(omen::WidePgmSegment, intercept) == offsetof(LearnedWideSegment, intercept),
              "wide segment layout");
static_assert(omen::kMaxCompactKeys == kLearnedCompactKeys, "compact layout limit");

// Name of the per-cache memory contexts (compared by address).
const char* const kCacheContextName = "learned index model cache";

// A new core model over the `meta.nsegments` stored segments (of type Stored) at `bytes`.
template <class Stored, class Core>
omen::PgmModel* load_model(const char* bytes, const LearnedMeta& meta, omen::ModelOptions opt) {
  std::vector<Core> leaf(meta.nsegments);
  for (uint32 i = 0; i < meta.nsegments; i++) {
    Stored st;
    memcpy(&st, bytes + i * sizeof(Stored), sizeof(Stored));
    leaf[i] = Core{st.first_key, st.slope, st.intercept};
  }
  return new omen::PgmModel(
      omen::PgmModel::from_segments(std::move(leaf), meta.build_keys, meta.model_epsilon, opt));
}

}  // namespace

void learned_read_flat_pages(Relation index, BlockNumber start, uint32 npages, LearnedPageKind kind,
                             char* bytes, Size total) {
  Size done = 0;
  for (uint32 p = 0; p < npages; p++) {
    BlockNumber blkno = start + p;
    Buffer buf = ReadBuffer(index, blkno);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    // On a standby the primary may have freed (and reused) a generation it retired meanwhile.
    if (RecoveryInProgress() &&
        (PageIsNew(page) || PageGetSpecialSize(page) != MAXALIGN(sizeof(LearnedSpecial)) ||
         learned_special(page)->kind != kind)) {
      UnlockReleaseBuffer(buf);
      learned_retrained_on_primary(index);
    }
    learned_check_page(index, page, blkno, kind);
    Size chunk = std::min(kLearnedModelBytesPerPage, total - done);
    memcpy(bytes + done, learned_model_bytes(page), chunk);
    done += chunk;
    UnlockReleaseBuffer(buf);
  }
  if (done != total)
    ereport(ERROR,
            (errcode(ERRCODE_INDEX_CORRUPTED),
             errmsg("index \"%s\" %s pages hold %zu bytes, expected %zu", RelationGetRelationName(index),
                    kind == kPageFence ? "fence" : "model", done, total),
             errhint("REINDEX the index.")));
}

namespace {

// The model pages of `meta` (segments, then fences) in one palloc'd buffer of *total bytes.
char* read_model_pages(Relation index, const LearnedMeta& meta, Size seg_bytes, Size* total) {
  *total = seg_bytes + static_cast<Size>(meta.nleaves) * sizeof(uint64);
  char* bytes = static_cast<char*>(palloc_extended(std::max<Size>(*total, 1), MCXT_ALLOC_HUGE));
  learned_read_flat_pages(index, meta.model_start, meta.model_pages, kPageModel, bytes, *total);
  return bytes;
}

// Number of fences in fences[from..to] (inclusive) that are < key; fences are non-decreasing.
uint32 count_below(const uint64* fences, uint32 from, uint32 to, uint64 key) {
  uint32 lo = from, hi = to + 1;  // first index in [from, to+1) with fence >= key
  while (lo < hi) {
    uint32 mid = lo + (hi - lo) / 2;
    if (fences[mid] < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo - from;
}

[[noreturn]] void edge_dir_ends(Relation index, const LearnedCache* cache, uint32 want) {
  ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                  errmsg("learned index \"%s\": edge directory ends after %u of %u leaves",
                         RelationGetRelationName(index), cache->edge_n, want),
                  errhint("REINDEX the index.")));
  pg_unreachable();
}

void cache_grow(LearnedCache* cache, uint32 need) {
  if (need <= cache->edge_cap) return;
  uint32 cap = std::max<uint32>(need, std::max<uint32>(64, cache->edge_cap * 2));
  if (cache->edge_cap == 0) {
    cache->edge_fences = static_cast<uint64*>(MemoryContextAlloc(cache->cxt, cap * sizeof(uint64)));
    cache->edge_blocks = static_cast<BlockNumber*>(MemoryContextAlloc(cache->cxt, cap * sizeof(BlockNumber)));
  } else {
    cache->edge_fences = static_cast<uint64*>(repalloc(cache->edge_fences, cap * sizeof(uint64)));
    cache->edge_blocks = static_cast<BlockNumber*>(repalloc(cache->edge_blocks, cap * sizeof(BlockNumber)));
  }
  cache->edge_cap = cap;
}

// Loads the directory entries the cache lacks (up to cache->meta.edge_nleaves).
void edge_refresh(Relation index, LearnedCache* cache) {
  uint32 want = cache->meta.edge_nleaves;
  if (cache->edge_n >= want) return;
  cache_grow(cache, want);
  if (cache->edge_dir_blk == InvalidBlockNumber) cache->edge_dir_blk = cache->meta.edge_dir_head;
  while (cache->edge_n < want) {
    if (cache->edge_dir_blk == InvalidBlockNumber) edge_dir_ends(index, cache, want);
    LearnedChain c = learned_chain_begin(index, cache->edge_dir_blk, kPageDir, BUFFER_LOCK_SHARE);
    learned_chain_next(&c);  // this one page
    LearnedDirHeader* h = learned_dir_header(c.page);
    const LearnedDirEntry* e = learned_dir_entries(c.page);
    if (learned_special(c.page)->generation != cache->meta.generation || h->first_leaf > cache->edge_n)
      ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                      errmsg("learned index \"%s\": edge directory block %u does not continue leaf %u",
                             RelationGetRelationName(index), c.blkno, cache->edge_n),
                      errhint("REINDEX the index.")));
    while (cache->edge_n < want && cache->edge_n < h->first_leaf + h->nentries) {
      const LearnedDirEntry& x = e[cache->edge_n - h->first_leaf];
      cache->edge_fences[cache->edge_n] = x.fence;
      cache->edge_blocks[cache->edge_n] = x.blkno;
      cache->edge_n++;
    }
    // Move on only from an exhausted page that has a successor (then it is full); otherwise the
    // next entries will be appended to this page.
    bool exhausted = cache->edge_n == h->first_leaf + h->nentries;
    learned_chain_release(&c);
    if (exhausted && c.next != InvalidBlockNumber)
      cache->edge_dir_blk = c.next;
    else if (cache->edge_n < want)
      edge_dir_ends(index, cache, want);
  }
}

// Drops the stale caches of `index` (Postgres may pfree rd_amcache on a relcache reload without
// telling us: their contexts are found by name and deleted, with their models) and makes a new one.
LearnedCache* new_cache(Relation index, const LearnedMeta& meta) {
  MemoryContext parent = index->rd_indexcxt;
  for (MemoryContext c = parent->firstchild; c != nullptr;) {
    MemoryContext next = c->nextchild;
    if (c->name == kCacheContextName) MemoryContextDelete(c);
    c = next;
  }
  index->rd_amcache = nullptr;
  MemoryContext cxt = AllocSetContextCreate(parent, kCacheContextName, ALLOCSET_SMALL_SIZES);
  auto* cache = static_cast<LearnedCache*>(MemoryContextAllocZero(cxt, sizeof(LearnedCache)));
  cache->meta = meta;
  cache->relfilenode = index->rd_node.relNode;
  cache->fences = static_cast<uint64*>(
      MemoryContextAllocExtended(cxt, std::max<Size>(meta.nleaves, 1) * sizeof(uint64), MCXT_ALLOC_HUGE));
  cache->model = nullptr;
  cache->cxt = cxt;
  cache->edge_dir_blk = InvalidBlockNumber;
  return cache;
}

// For a key above the first edge fence: the last edge leaf whose fence < key (as a leaf number);
// otherwise returns false.
bool edge_start_leaf(const LearnedCache* cache, uint64 key, uint32* leaf) {
  if (cache->edge_n == 0 || key <= cache->edge_fences[0]) return false;
  // Last edge fence < key: edge_fences[0] < key, so the answer is >= 0.
  uint32 below = static_cast<uint32>(
      std::lower_bound(cache->edge_fences, cache->edge_fences + cache->edge_n, key) - cache->edge_fences);
  *leaf = cache->meta.nleaves + below - 1;
  return true;
}

// Block of edge leaf j of the directory at `dir_head`, by walking the chain (old generations). On
// a hot standby the primary may have freed that generation.
BlockNumber walk_dir(Relation index, BlockNumber dir_head, uint32 generation, uint32 j) {
  LearnedChain c = learned_chain_begin(index, dir_head, kPageDir, BUFFER_LOCK_SHARE, false);
  while (learned_chain_next(&c)) {
    bool ours = !PageIsNew(c.page) && PageGetSpecialSize(c.page) == MAXALIGN(sizeof(LearnedSpecial)) &&
                learned_special(c.page)->page_id == kLearnedPageId &&
                learned_special(c.page)->kind == kPageDir &&
                learned_special(c.page)->generation == generation;
    if (!ours && RecoveryInProgress()) learned_retrained_on_primary(index);
    learned_check_dir_page(index, c.page, c.blkno);
    LearnedDirHeader* h = learned_dir_header(c.page);
    if (j >= h->first_leaf && j < h->first_leaf + h->nentries) {
      BlockNumber out = learned_dir_entries(c.page)[j - h->first_leaf].blkno;
      learned_chain_release(&c);
      return out;
    }
  }
  return InvalidBlockNumber;
}

}  // namespace

LearnedCache* learned_get_cache(Relation index) {
  bool primary = !RecoveryInProgress();  // before the read: then it holds every replayed change
  LearnedMeta meta;
  learned_read_meta(index, &meta);
  auto* cache = static_cast<LearnedCache*>(index->rd_amcache);
  if (cache != nullptr && cache->meta.generation == meta.generation &&
      cache->relfilenode == index->rd_node.relNode) {
    cache->routes_inserts = primary;
    cache->meta = meta;          // counters such as null_tail move within a generation
    edge_refresh(index, cache);  // edge leaves added since the last look
    if (meta.layout == kLayoutSparse) sparse_sync_tail(index, cache, meta);  // ranges appended since
    return cache;
  }
  const Size seg_size = learned_segment_size(meta.build_keys);
  Size seg_bytes = static_cast<Size>(meta.nsegments) * seg_size, total;
  char* bytes = read_model_pages(index, meta, seg_bytes, &total);
  cache = new_cache(index, meta);
  memcpy(cache->fences, bytes + seg_bytes, meta.nleaves * sizeof(uint64));
  if (meta.nsegments > 0) {
    cache->model = omen_pg::make_owned<omen::PgmModel>(cache->cxt, "loading the learned model", [&] {
      omen::ModelOptions opt;
      opt.epsilon = meta.error_bound;
      if (seg_size == sizeof(LearnedWideSegment))
        return load_model<LearnedWideSegment, omen::WidePgmSegment>(bytes, meta, opt);
      return load_model<LearnedSegment, omen::PgmSegment>(bytes, meta, opt);
    });
  }
  pfree(bytes);
  if (meta.layout == kLayoutSparse) sparse_read_build_ranges(index, meta, cache);
  index->rd_amcache = cache;
  cache->routes_inserts = primary;
  edge_refresh(index, cache);
  if (meta.layout == kLayoutSparse) sparse_sync_tail(index, cache, meta);
  return cache;
}

uint32 learned_start_leaf(const LearnedCache* cache, uint64 key) {
  uint32 edge;
  if (edge_start_leaf(cache, key, &edge)) return edge;
  const LearnedMeta& m = cache->meta;
  uint32 last = m.nleaves - 1;
  uint32 from = 0, to = last;
  if (cache->model != nullptr) {
    auto* model = static_cast<const omen::PgmModel*>(cache->model);
    // predict() is noexcept in practice; call_core keeps the boundary rule anyway.
    auto b = omen_pg::call_core("model lookup", [&] { return model->predict(key); });
    uint64 lo = b.lo, hi = b.hi;
    from = static_cast<uint32>(std::min<uint64>((std::max<uint64>(lo, 1) - 1) / m.leaf_cap, last));
    to = static_cast<uint32>(std::min<uint64>((std::max<uint64>(hi, 1) - 1) / m.leaf_cap, last));
  }
  // The start is the last leaf in [from, to] with fence < key, or `from` if there is none.
  uint32 below = count_below(cache->fences, from, to, key);
  return below == 0 ? from : from + below - 1;
}

uint32 learned_target_leaf(const LearnedCache* cache, uint64 key) {
  if (key == PG_UINT64_MAX) return learned_total_leaves(cache) - 1;
  return learned_start_leaf(cache, key + 1);
}

uint32 learned_total_leaves(const LearnedCache* cache) { return cache->meta.nleaves + cache->edge_n; }

uint64 learned_leaf_fence(const LearnedCache* cache, uint32 leaf) {
  if (leaf < cache->meta.nleaves) return cache->fences[leaf];
  Assert(leaf - cache->meta.nleaves < cache->edge_n);
  return cache->edge_fences[leaf - cache->meta.nleaves];
}

LearnedLeafMap learned_leaf_map(const LearnedMeta& meta) {
  return LearnedLeafMap{meta.leaf_start, meta.nleaves, meta.edge_dir_head, meta.generation};
}

BlockNumber learned_leaf_block(Relation index, const LearnedLeafMap& map, uint32 leaf) {
  if (leaf < map.nleaves) return map.leaf_start + leaf;
  uint32 j = leaf - map.nleaves;
  auto* cache = static_cast<LearnedCache*>(index->rd_amcache);
  bool current = cache != nullptr && cache->meta.generation == map.generation &&
                 cache->relfilenode == index->rd_node.relNode;
  if (!current || j >= cache->edge_n) {
    cache = learned_get_cache(index);
    current = cache->meta.generation == map.generation;
  }
  BlockNumber blk = InvalidBlockNumber;
  if (current && j < cache->edge_n) {
    blk = cache->edge_blocks[j];
  } else {
    // An older generation (the scan outlived a re-train). Its directory may have been started
    // after the scan's descent (map.dir_head invalid then): the metapage keeps the retired
    // generation's head.
    BlockNumber head = map.dir_head;
    if (head == InvalidBlockNumber) {
      LearnedMeta meta;
      learned_read_meta(index, &meta);
      if (meta.retired_nleaves > 0 && meta.generation == map.generation + 1)
        head = meta.retired_edge_dir_head;
    }
    if (head != InvalidBlockNumber)
      blk = walk_dir(index, head, map.generation, j);
    else if (RecoveryInProgress())
      learned_retrained_on_primary(index);
  }
  if (blk == InvalidBlockNumber)
    elog(ERROR, "learned index \"%s\": leaf %u of generation %u has no block", RelationGetRelationName(index),
         leaf, map.generation);
  return blk;
}

void learned_edge_list(Relation index, BlockNumber dir_head, uint32 n, BlockNumber** blocks, uint64** fences,
                       BlockNumber** dir_pages, uint32* ndir) {
  *blocks = static_cast<BlockNumber*>(palloc(sizeof(BlockNumber) * Max(n, 1)));
  if (fences) *fences = static_cast<uint64*>(palloc(sizeof(uint64) * Max(n, 1)));
  uint32 dir_cap = 8, nd = 0;
  BlockNumber* dirs = static_cast<BlockNumber*>(palloc(sizeof(BlockNumber) * dir_cap));
  uint32 got = 0;
  // The whole chain (a crash may have left an empty page after the last entry).
  LearnedChain c = learned_chain_begin(index, dir_head, kPageDir, BUFFER_LOCK_SHARE);
  while (c.next != InvalidBlockNumber) {
    if (nd > RelationGetNumberOfBlocks(index))
      ereport(ERROR,
              (errcode(ERRCODE_INDEX_CORRUPTED),
               errmsg("learned index \"%s\": edge directory chain loops", RelationGetRelationName(index)),
               errhint("REINDEX the index.")));
    if (nd == dir_cap) {
      dir_cap *= 2;
      dirs = static_cast<BlockNumber*>(repalloc(dirs, sizeof(BlockNumber) * dir_cap));
    }
    dirs[nd++] = c.next;
    learned_chain_next(&c);
    LearnedDirHeader* h = learned_dir_header(c.page);
    for (uint32 i = 0; i < h->nentries && got < n; i++, got++) {
      (*blocks)[got] = learned_dir_entries(c.page)[i].blkno;
      if (fences) (*fences)[got] = learned_dir_entries(c.page)[i].fence;
    }
  }
  learned_chain_release(&c);
  if (got != n)
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                    errmsg("learned index \"%s\": edge directory lists %u of %u leaves",
                           RelationGetRelationName(index), got, n),
                    errhint("REINDEX the index.")));
  if (dir_pages) {
    *dir_pages = dirs;
    *ndir = nd;
  } else {
    pfree(dirs);
  }
}

BlockNumber* learned_all_leaves(Relation index, const LearnedMeta& meta, uint32* n) {
  BlockNumber* edge;
  learned_edge_list(index, meta.edge_dir_head, meta.edge_nleaves, &edge, nullptr, nullptr, nullptr);
  *n = meta.nleaves + meta.edge_nleaves;
  auto* out = static_cast<BlockNumber*>(palloc(sizeof(BlockNumber) * *n));
  for (uint32 i = 0; i < meta.nleaves; i++) out[i] = meta.leaf_start + i;
  for (uint32 j = 0; j < meta.edge_nleaves; j++) out[meta.nleaves + j] = edge[j];
  pfree(edge);
  return out;
}
