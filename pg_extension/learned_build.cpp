// ambuild / ambuildempty of the `learned` index.
//
// Build: scan the heap into an array of (key, packed TID) pairs, sort it, write leaf pages in key
// order with fillfactor gaps, train the core model over the sorted keys, write the model pages (segments, then leaf fences), the null chain, and
// finally the metapage. The pages go through shared buffers unlogged and are WAL-logged at the
// end as full images in batches (log_newpage_range), as GIN and GiST builds do.
#include "learned_write.h"

#include <algorithm>

extern "C" {
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "commands/progress.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/backend_progress.h"
#include "utils/lsyscache.h"
}

namespace {

// (key, packed TID) pairs, sorted as one 128-bit number: by key, then by TID.
struct BuildPair {
  uint64 tid;  // block << 16 | offset (low half)
  uint64 key;  // high half
  bool operator<(const BuildPair& o) const { return key != o.key ? key < o.key : tid < o.tid; }
};

struct BuildState {
  Oid type;
  BuildPair* pairs;
  Size npairs;
  Size pairs_cap;
  double heap_tuples;
  ItemPointerData* nulls;
  Size nnulls;
  Size nulls_cap;
};

uint64 pack_tid(ItemPointer tid) {
  return (static_cast<uint64>(ItemPointerGetBlockNumber(tid)) << 16) | ItemPointerGetOffsetNumber(tid);
}

void unpack_tid(uint64 v, ItemPointer tid) {
  ItemPointerSet(tid, static_cast<BlockNumber>(v >> 16), static_cast<OffsetNumber>(v & 0xFFFF));
}

void build_callback(Relation, ItemPointer tid, Datum* values, bool* isnull, bool, void* arg) {
  auto* st = static_cast<BuildState*>(arg);
  st->heap_tuples += 1;
  if (isnull[0]) {
    if (st->nnulls == st->nulls_cap) {
      st->nulls_cap *= 2;
      st->nulls = static_cast<ItemPointerData*>(
          repalloc_huge(st->nulls, st->nulls_cap * sizeof(ItemPointerData)));
    }
    st->nulls[st->nnulls++] = *tid;
    return;
  }
  if (st->npairs == st->pairs_cap) {
    st->pairs_cap *= 2;
    st->pairs = static_cast<BuildPair*>(repalloc_huge(st->pairs, st->pairs_cap * sizeof(BuildPair)));
  }
  st->pairs[st->npairs++] = BuildPair{pack_tid(tid), learned_encode(values[0], st->type)};
}

// Writes the null chain from `nulls`; fills meta->null_head/null_tail. Returns the next block.
BlockNumber write_null_pages(Relation index, const ItemPointerData* nulls, Size n, BlockNumber next,
                             uint32 generation, Page image, LearnedMeta* meta) {
  meta->null_head = meta->null_tail = InvalidBlockNumber;
  for (Size done = 0; done < n;) {
    // Wide TIDs: null pages take NULLs of any TID later (the null chain's tail gets inserts).
    learned_init_items_page(image, kPageNull, generation, learned_wide_widths(0, false));
    for (; done < n && learned_items_can_append(image, 0, &nulls[done]); done++)
      learned_items_append(image, 0, &nulls[done]);
    LearnedItemsHeader* h = learned_items_header(image);
    h->next = done < n ? next + 1 : InvalidBlockNumber;
    if (meta->null_head == InvalidBlockNumber) meta->null_head = next;
    meta->null_tail = next;
    learned_extend_page(index, MAIN_FORKNUM, image, next);
    next++;
  }
  return next;
}

LearnedMeta empty_meta(Relation index) {
  LearnedMeta meta;
  memset(&meta, 0, sizeof meta);
  meta.magic = kLearnedMagic;
  meta.version = kLearnedVersion;
  meta.generation = 1;
  meta.error_bound = static_cast<uint32>(learned_error_bound(index));
  meta.leaf_cap = 1;
  meta.nleaves = 1;
  meta.leaf_start = 1;
  meta.null_head = meta.null_tail = InvalidBlockNumber;
  meta.edge_dir_head = meta.edge_dir_tail = meta.retired_edge_dir_head = InvalidBlockNumber;
  meta.key_type = index->rd_opcintype[0];
  return meta;
}

}  // namespace

extern "C" IndexBuildResult* learned_build(Relation heap, Relation index, IndexInfo* info) {
  learned_check_definition(index);
  if (RelationGetNumberOfBlocks(index) != 0)
    elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

  LearnedMeta meta = empty_meta(index);
  Page image = static_cast<Page>(palloc(BLCKSZ));
  learned_init_meta_page(image, meta);  // placeholder; rewritten last
  learned_extend_page(index, MAIN_FORKNUM, image, kLearnedMetaBlock);

  // 1. Heap scan into an array of (key, TID) pairs. The writer needs every key and TID in
  // memory anyway (page widths depend on all keys; training reads them all), so a tuplesort
  // bounded by maintenance_work_mem would bound nothing; sorting plain pairs is cheaper than
  // sorting two-column heap tuples through tuplesort's comparator.
  BuildState st;
  st.type = meta.key_type;
  st.npairs = 0;
  st.pairs_cap = 1024;
  st.pairs = static_cast<BuildPair*>(palloc(st.pairs_cap * sizeof(BuildPair)));
  st.heap_tuples = 0;
  st.nnulls = 0;
  st.nulls_cap = 1024;
  st.nulls = static_cast<ItemPointerData*>(palloc(st.nulls_cap * sizeof(ItemPointerData)));
  pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseScan);
  double heap_tuples = table_index_build_scan(heap, index, info, true, true, build_callback, &st, nullptr);

  // 2. Sort (a heap scan of a key-ordered table yields sorted pairs: checked first), then split
  // into keys (in place, over the pairs) and TIDs.
  pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseSort);
  Size n = st.npairs;
  if (!std::is_sorted(st.pairs, st.pairs + n)) std::sort(st.pairs, st.pairs + n);
  auto* tids = static_cast<ItemPointerData*>(palloc_extended(Max(n, 1) * sizeof(ItemPointerData), MCXT_ALLOC_HUGE));
  auto* keys = reinterpret_cast<uint64*>(st.pairs);
  for (Size i = 0; i < n; i++) {
    BuildPair p = st.pairs[i];  // read before keys[i] overwrites pairs[i / 2]'s bytes
    unpack_tid(p.tid, &tids[i]);
    keys[i] = p.key;
  }

  // 3. Leaves, model, model pages.
  pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseLeaves);
  learned_write_generation(index, &meta, keys, tids, n, learned_fillfactor(index));
  pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, n);
  pfree(st.pairs);
  pfree(tids);

  // 4. NULLs, then the real metapage; then every page is WAL-logged in batches.
  meta.build_nulls = st.nnulls;
  write_null_pages(index, st.nulls, st.nnulls, meta.model_start + meta.model_pages,
                   meta.generation, image, &meta);
  learned_init_meta_page(image, meta);
  learned_overwrite_page(index, kLearnedMetaBlock, image);
  learned_log_new_pages(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index));

  IndexBuildResult* result = static_cast<IndexBuildResult*>(palloc0(sizeof(IndexBuildResult)));
  result->heap_tuples = heap_tuples;
  result->index_tuples = static_cast<double>(n + st.nnulls);
  return result;
}

// The init fork of an unlogged index: metapage, one empty leaf, its model page (one fence).
extern "C" void learned_buildempty(Relation index) {
  LearnedMeta meta = empty_meta(index);
  meta.model_start = meta.leaf_start + 1;
  meta.model_pages = 1;
  Page image = static_cast<Page>(palloc(BLCKSZ));
  learned_init_meta_page(image, meta);
  learned_extend_page(index, INIT_FORKNUM, image, kLearnedMetaBlock);
  learned_init_items_page(image, kPageLeaf, meta.generation, learned_wide_widths(0, true));
  learned_items_header(image)->high_fence = PG_UINT64_MAX;
  learned_items_header(image)->flags |= kLeafIsLast;
  learned_extend_page(index, INIT_FORKNUM, image, meta.leaf_start);
  uint64 fence0 = 0;
  learned_write_model_pages(index, INIT_FORKNUM, reinterpret_cast<const char*>(&fence0), sizeof fence0,
                    meta.model_start, meta.generation, image);
  learned_log_new_pages(index, INIT_FORKNUM, 0, meta.model_start + meta.model_pages);
  pfree(image);
}
