// ambuild / ambuildempty of the `learned` index.
//
// Build: scan the heap, writing NULLs to the null chain at once and putting (key, TID) pairs into a
// sort bounded by maintenance_work_mem (learned_pairs.cpp), then write the generation
// (learned_write.cpp: leaf pages in key order with fillfactor gaps, the model trained over the sorted
// keys, model pages with segments and leaf fences) and finally the metapage. The pages go through shared
// buffers unlogged and are WAL-logged at the end as full images in batches (log_newpage_range), as GIN and
// GiST builds do.
#include "learned_items.h"
#include "learned_sparse.h"

extern "C" {
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "commands/progress.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/backend_progress.h"
#include "utils/lsyscache.h"
#include "utils/relcache.h"
}

namespace {

struct BuildState {
  Oid type;
  LearnedPairs* pairs;
  Relation index;
  // The null chain, written while the heap is scanned: the open null page, and where it goes.
  Page nulls;
  BlockNumber null_block;
  Size nnulls;
  Size live_nulls;  // NULLs of rows still live (a NULLS NOT DISTINCT unique index allows one)
  LearnedMeta* meta;
};

// Writes the open null page as block null_block (linked to the next block when more follow).
void flush_null_page(BuildState* st, bool more) {
  learned_items_header(st->nulls)->next = more ? st->null_block + 1 : InvalidBlockNumber;
  if (st->meta->null_head == InvalidBlockNumber) st->meta->null_head = st->null_block;
  st->meta->null_tail = st->null_block;
  omen_extend_page(st->index, MAIN_FORKNUM, st->nulls, st->null_block);
  st->null_block++;
}

void start_null_page(BuildState* st) {
  // Wide TIDs: null pages take NULLs of any TID later (the null chain's tail gets inserts).
  learned_init_items_page(st->nulls, kPageNull, st->meta->generation, learned_wide_widths(0, false));
}

// NULLs go straight to null pages (blocks 1, 2, ...), so they take no memory.
void put_null(ItemPointer tid, void* arg) {
  auto* st = static_cast<BuildState*>(arg);
  if (st->nnulls > 0 && !learned_items_can_append(st->nulls, 0, tid)) {
    flush_null_page(st, true);
    start_null_page(st);
  }
  learned_items_append(st->nulls, 0, tid);
  st->nnulls++;
}

void build_callback(Relation, ItemPointer tid, Datum* values, bool* isnull, bool alive, void* arg) {
  auto* st = static_cast<BuildState*>(arg);
  if (isnull[0]) {
    put_null(tid, arg);
    if (alive) st->live_nulls++;
    return;
  }
  learned_pairs_put(st->pairs, omen_key_encode(values[0], st->type), tid);
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
  meta.tail_head = meta.tail_last = InvalidBlockNumber;  // sparse: no appended ranges yet
  meta.build_last_high = PG_UINT64_MAX;
  meta.key_type = index->rd_opcintype[0];
  if (learned_layout_option(index) == kLayoutSparse) {  // no fences yet: every row an exception
    meta.layout = kLayoutSparse;
    meta.version = kLearnedSparseVersion;
  }
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
  omen_extend_page(index, MAIN_FORKNUM, image, kLearnedMetaBlock);

  // 1. Heap scan: keys into the pair sort (in memory within maintenance_work_mem, a tuplesort
  // beyond), NULLs onto null pages right after the metapage.
  BuildState st;
  st.type = meta.key_type;
  st.pairs = learned_pairs_begin(maintenance_work_mem);
  st.index = index;
  st.nulls = image;
  st.null_block = kLearnedMetaBlock + 1;
  st.nnulls = 0;
  st.live_nulls = 0;
  st.meta = &meta;
  bool sparse = learned_layout_option(index) == kLayoutSparse;
  if (sparse && RelationGetIndexPredicate(index) != NIL)
    ereport(ERROR,
            (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
             errmsg("sparse learned index \"%s\" cannot be partial", RelationGetRelationName(index)),
             errhint("Its block ranges stand for every row of a heap block; use the dense layout for a "
                     "partial index.")));
  if (sparse && (index->rd_index->indisunique || info->ii_ExclusionOps != nullptr))
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("sparse learned index \"%s\" cannot be unique or back an exclusion constraint",
                           RelationGetRelationName(index)),
                    errhint("Its block ranges find rows without an entry per row; use the dense layout (the "
                            "default).")));
  if (sparse && heap->rd_rel->relam != HEAP_TABLE_AM_OID)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("sparse learned index \"%s\" needs a heap table", RelationGetRelationName(index)),
                    errhint("Its fences follow heap blocks; use the dense layout on tables of other access "
                            "methods.")));
  SparseBuild* ranges = sparse ? sparse_build_begin(st.pairs, RelationGetNumberOfBlocks(heap)) : nullptr;
  start_null_page(&st);
  pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseScan);
  // Sparse: the heap's pages in block order, read directly (learned_sparse_build.cpp).
  double heap_tuples =
      sparse ? sparse_build_scan(heap, index, ranges, put_null, &st)
             : table_index_build_scan(heap, index, info, true, true, build_callback, &st, nullptr);
  if (st.nnulls > 0) flush_null_page(&st, false);
  meta.build_nulls = st.nnulls;
  uint64* fences = nullptr;
  uint32 nfences = 0;
  uint64 exceptions = 0;
  if (sparse) fences = sparse_build_finish(ranges, &nfences, &exceptions);

  // 2. Sort; 3. leaves, model, model pages after the null pages.
  pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseSort);
  learned_pairs_sort(st.pairs, RelationGetRelationName(index));
  if (index->rd_index->indisunique) {
    if (index->rd_index->indnullsnotdistinct && st.live_nulls > 1) learned_unique_build_nulls(index, heap);
    learned_unique_check_build(index, heap, st.pairs);
  }
  Size n = learned_pairs_count(st.pairs);
  meta.leaf_start = st.null_block;
  learned_write_generation(index, &meta, st.pairs, learned_fillfactor(index), true);
  learned_pairs_end(st.pairs);
  if (sparse) {
    sparse_write_fences(index, &meta, fences, nfences, image);
    meta.fit_entries = exceptions + st.nnulls;  // VACUUM re-fits once the entries double
  }

  // 4. The real metapage; then every page is WAL-logged in batches.
  learned_init_meta_page(image, meta);
  omen_put_page(index, MAIN_FORKNUM, image, kLearnedMetaBlock);
  omen_log_new_pages(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index));
  pfree(image);

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
  omen_extend_page(index, INIT_FORKNUM, image, kLearnedMetaBlock);
  learned_init_items_page(image, kPageLeaf, meta.generation, learned_wide_widths(0, true));
  learned_items_header(image)->high_fence = PG_UINT64_MAX;
  learned_items_header(image)->flags |= kLeafIsLast;
  omen_extend_page(index, INIT_FORKNUM, image, meta.leaf_start);
  uint64 fence0 = 0;
  learned_write_model_pages(index, INIT_FORKNUM, reinterpret_cast<const char*>(&fence0), sizeof fence0,
                            meta.model_start, meta.generation, image);
  omen_log_new_pages(index, INIT_FORKNUM, 0, meta.model_start + meta.model_pages);
  pfree(image);
}
