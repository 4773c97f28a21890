// SQL functions over a `learned` index: omendb_index_stats(regclass), omendb_index_verify(regclass).
#include "learned_items.h"
#include "learned_sparse.h"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(omendb_index_stats);
PG_FUNCTION_INFO_V1(omendb_index_verify);
PG_FUNCTION_INFO_V1(omendb_index_retrain);
Datum omendb_index_retrain(PG_FUNCTION_ARGS);
Datum omendb_index_stats(PG_FUNCTION_ARGS);
Datum omendb_index_verify(PG_FUNCTION_ARGS);
}

namespace {

// Opens `oid` as a learned index (AccessShareLock) or raises a clear error.
Relation open_learned(Oid oid) {
  Relation rel = relation_open(oid, AccessShareLock);
  if (rel->rd_rel->relkind != RELKIND_INDEX || rel->rd_indam == nullptr ||
      rel->rd_indam->ambuild != learned_build) {
    const char* name = pstrdup(RelationGetRelationName(rel));
    relation_close(rel, AccessShareLock);
    ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("\"%s\" is not a learned index", name),
                    errhint("Pass an index created with USING learned.")));
  }
  if (pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
      !pg_class_ownercheck(RelationGetRelid(rel), GetUserId()))
    aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_INDEX, RelationGetRelationName(rel));
  return rel;
}

[[noreturn]] void corrupted(Relation index, BlockNumber blkno, const char* what) {
  ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                  errmsg("learned index \"%s\" is corrupted at block %u: %s", RelationGetRelationName(index),
                         blkno, what),
                  errhint("REINDEX the index.")));
  pg_unreachable();
}

bool tid_ok(const ItemPointerData* tid) {
  return ItemPointerIsValid(tid) && ItemPointerGetOffsetNumberNoCheck(tid) >= FirstOffsetNumber &&
         ItemPointerGetOffsetNumberNoCheck(tid) <= MaxHeapTuplesPerPage;
}

// Checks the packed layout of an items page: widths in range, capacity the one the widths give,
// item counts within it (format version 2, learned.h).
void verify_layout(Relation index, Page page, BlockNumber blkno) {
  LearnedItemsHeader* h = learned_items_header(page);
  if (h->key_bits > 64 || h->block_bits > 32 || h->offset_bits > 16)
    corrupted(index, blkno, "bad key or TID width");
  if ((h->flags & kLeafKeyScale) != 0) {
    uint64 scale = omen::leaf::scale_of_code(h->key_scale_code);
    if (scale == 0) corrupted(index, blkno, "bad key scale");
  }
  if (uint64{learned_block_base(h)} + omen::leaf::max_value(h->block_bits) > PG_UINT32_MAX)
    corrupted(index, blkno, "TID block range past the last block number");
  if (h->capacity != learned_items_capacity(learned_widths(h)) || h->nitems > h->capacity ||
      h->nsorted > h->nitems)
    corrupted(index, blkno, "bad item count");
}

// Checks the items of one leaf or overflow page of leaf `leaf_no` (I1, I2, I4, TIDs).
int64 verify_items(Relation index, const LearnedCache* cache, Page page, BlockNumber blkno, uint32 leaf_no,
                   bool sorted) {
  LearnedItemsHeader* h = learned_items_header(page);
  verify_layout(index, page, blkno);
  if (h->leaf_no != leaf_no) corrupted(index, blkno, "page belongs to another leaf");
  uint64 low = learned_leaf_fence(cache, leaf_no);
  bool last = leaf_no + 1 == learned_total_leaves(cache);
  uint64 high = last ? PG_UINT64_MAX : learned_leaf_fence(cache, leaf_no + 1);
  // An overflow page keeps the fences its leaf had when the page was added; only a leaf's high
  // fence moves (when an edge leaf is added after it).
  if (h->low_fence != low || (sorted && h->high_fence != high))
    corrupted(index, blkno, "fences differ from the model pages");
  uint64 prev_key = 0;
  ItemPointerData prev_tid;
  ItemPointerSetInvalid(&prev_tid);
  for (int i = 0; i < h->nitems; i++) {
    CHECK_FOR_INTERRUPTS();
    uint64 key = learned_item_key(page, i);  // decoded: base + offset, so within [base, base + 2^bits)
    ItemPointerData tid = learned_item_tid(page, i);
    if (!tid_ok(&tid)) corrupted(index, blkno, "invalid heap TID");
    bool scaled_past = (h->flags & kLeafKeyScale) != 0 &&
                       static_cast<__uint128_t>(omen::leaf::get(learned_key_array(page), i, h->key_bits)) *
                               learned_key_scale(h) >
                           PG_UINT64_MAX - h->key_base;
    if (key < h->key_base || scaled_past) corrupted(index, blkno, "decoded key wrapped around");
    if (key > high || (leaf_no > 0 && key < low)) corrupted(index, blkno, "key outside the leaf's fences");
    if (sorted && i > 0 && i < h->nsorted &&
        (key < prev_key || (key == prev_key && ItemPointerCompare(&prev_tid, &tid) > 0)))
      corrupted(index, blkno, "leaf items out of order");
    if (learned_start_leaf(cache, key) > leaf_no || learned_target_leaf(cache, key) < leaf_no)
      corrupted(index, blkno, "model and fences do not lead to the leaf holding a key");
    prev_key = key;
    prev_tid = tid;
  }
  return h->nitems;
}

}  // namespace

// omendb_index_stats(regclass) -> one row (see the install script for the columns).
extern "C" Datum omendb_index_stats(PG_FUNCTION_ARGS) {
  Relation index = open_learned(PG_GETARG_OID(0));
  LearnedCache* cache = learned_get_cache(index);
  LearnedMeta meta = cache->meta;
  BlockNumber nblocks = RelationGetNumberOfBlocks(index);
  int64 keys = 0, nulls = 0, pages[10] = {}, retired = 0;
  for (BlockNumber b = 0; b < nblocks; b++) {
    CHECK_FOR_INTERRUPTS();
    Buffer buf = ReadBuffer(index, b);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    int kind = PageIsNew(page) ? static_cast<int>(kPageFree) : learned_special(page)->kind;
    if (kind < kPageMeta || kind > kPageTail) kind = 0;
    // Fence and tail pages outlived a dense re-train before 0.5.0 (an older generation, live): a
    // retired fence page is told by the metapage's retired range, a retired tail page by its
    // generation while a re-fit's retired chain waits (every live tail page is then of this one).
    bool sparse_layout = meta.layout == kLayoutSparse;
    bool old_generation =
        ((kind == kPageLeaf || kind == kPageOverflow || kind == kPageModel || kind == kPageDir) &&
         learned_special(page)->generation != meta.generation) ||
        (kind == kPageFence && sparse_layout && b >= meta.retired_fence_start &&
         b - meta.retired_fence_start < meta.retired_fence_pages) ||
        (kind == kPageTail && sparse_layout && learned_special(page)->generation != meta.generation &&
         meta.retired_tail_head != InvalidBlockNumber && meta.retired_tail_head != kLearnedMetaBlock);
    if (old_generation) {
      retired++;  // a retired generation's page, freed by a later VACUUM
    } else {
      pages[kind]++;
      if (kind == kPageLeaf || kind == kPageOverflow) keys += learned_items_header(page)->nitems;
      if (kind == kPageNull) nulls += learned_items_header(page)->nitems;
    }
    UnlockReleaseBuffer(buf);
  }
  relation_close(index, AccessShareLock);

  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
    elog(ERROR, "omendb_index_stats must return a record");
  desc = BlessTupleDesc(desc);
  Datum v[24];
  bool isnull[24] = {};
  v[0] = Int64GetDatum(keys);
  v[1] = Int64GetDatum(nulls);
  v[2] = Int64GetDatum(static_cast<int64>(meta.build_keys));
  v[3] = Int32GetDatum(static_cast<int32>(meta.nsegments));
  v[4] = Int32GetDatum(static_cast<int32>(meta.error_bound));
  v[5] = Int32GetDatum(static_cast<int32>(meta.model_epsilon));
  v[6] = Float8GetDatum(meta.mean_error);
  v[7] = Int64GetDatum(static_cast<int64>(meta.max_error));
  v[8] = Int32GetDatum(static_cast<int32>(pages[kPageLeaf]));
  v[9] = Int32GetDatum(static_cast<int32>(pages[kPageOverflow]));
  v[10] = Int32GetDatum(static_cast<int32>(pages[kPageModel]));
  v[11] = Int32GetDatum(static_cast<int32>(pages[kPageNull]));
  v[12] = Int32GetDatum(static_cast<int32>(pages[kPageFree]));
  v[13] = Int64GetDatum(static_cast<int64>(nblocks) * BLCKSZ);
  v[14] = Int32GetDatum(static_cast<int32>(retired));
  v[15] = Int64GetDatum(static_cast<int64>(meta.generation));
  v[16] = Int32GetDatum(static_cast<int32>(meta.edge_nleaves));
  v[17] = Int32GetDatum(static_cast<int32>(pages[kPageDir]));
  // 0.4.0: the layout, and a sparse index's block ranges (built, appended) and their pages. A
  // database still at 0.3.0 declares 18 columns: the tuple takes those.
  bool sparse = meta.layout == kLayoutSparse;
  v[18] = CStringGetTextDatum(sparse ? "sparse" : "dense");
  v[19] = Int64GetDatum(sparse ? static_cast<int64>(meta.nfences) : 0);
  v[20] = Int64GetDatum(sparse ? static_cast<int64>(meta.tail_n) : 0);
  v[21] = Int32GetDatum(static_cast<int32>(pages[kPageFence] + pages[kPageTail]));
  // 0.5.0: a sparse index's re-fits, and the entries (exceptions, NULLs) the build or the last
  // re-fit left (VACUUM re-fits once they doubled: learned_sparse.h).
  v[22] = Int64GetDatum(sparse ? static_cast<int64>(meta.refits) : 0);
  v[23] = Int64GetDatum(sparse ? static_cast<int64>(meta.fit_entries) : 0);
  if (desc->natts > 24)
    elog(ERROR, "omendb_index_stats declares %d columns, the library knows 24", desc->natts);
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, v, isnull)));
}

// omendb_index_verify(regclass) -> bigint: checks invariants I1..I5 of learned.h, the model
// pages against the leaves, and every TID; returns the number of items checked, or raises
// ERRCODE_INDEX_CORRUPTED at the first violation.
extern "C" Datum omendb_index_verify(PG_FUNCTION_ARGS) {
  Relation index = open_learned(PG_GETARG_OID(0));
  LearnedCache* cache = learned_get_cache(index);
  LearnedMeta meta = cache->meta;
  BlockNumber nblocks = RelationGetNumberOfBlocks(index);
  // Inserts (on a standby: replay) extend the index while we run, so a block past the size read
  // at the start is looked up again before it is called out of range.
  auto beyond_end = [&](BlockNumber b) {
    if (b < nblocks) return false;
    nblocks = RelationGetNumberOfBlocks(index);
    return b >= nblocks;
  };
  int64 checked = 0;
  if (meta.nleaves == 0 || beyond_end(meta.leaf_start + meta.nleaves - 1))
    corrupted(index, 0, "bad leaf range");
  // Inserts may add edge leaves while we run: check the leaves this cache knows; a leaf that was
  // the last one may have got a successor (its high fence then differs): refresh and re-check.
  uint32 nleaves;
  BlockNumber* leaves = learned_all_leaves(index, meta, &nleaves);
  if (nleaves != learned_total_leaves(cache))
    corrupted(index, 0, "edge directory differs from the cached one");
  for (uint32 i = 1; i < nleaves; i++)
    if (learned_leaf_fence(cache, i) < learned_leaf_fence(cache, i - 1))
      corrupted(index, i < meta.nleaves ? meta.model_start : leaves[i], "fences decrease");
  for (uint32 i = 0; i < nleaves; i++) {
    BlockNumber blkno = leaves[i];
    if (beyond_end(blkno)) corrupted(index, blkno, "leaf beyond the end of the index");
    Buffer buf = ReadBuffer(index, blkno);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    learned_check_page(index, page, blkno, kPageLeaf);
    if (learned_special(page)->generation != meta.generation)
      corrupted(index, blkno, "leaf of another generation");
    bool last = (learned_items_header(page)->flags & kLeafIsLast) != 0;
    if (!last && i + 1 == learned_total_leaves(cache)) cache = learned_get_cache(index);  // a leaf was added
    if (last != (i + 1 == learned_total_leaves(cache))) corrupted(index, blkno, "last-leaf flag wrong");
    checked += verify_items(index, cache, page, blkno, i, true);
    BlockNumber tail = learned_items_header(page)->tail, seen_last = InvalidBlockNumber;
    BlockNumber steps = 0;
    uint32 chain_pages = learned_items_header(page)->chain_pages;
    LearnedChain c =
        learned_chain_begin(index, learned_items_header(page)->next, kPageOverflow, BUFFER_LOCK_SHARE);
    for (; c.next != InvalidBlockNumber; steps++) {
      if (beyond_end(c.next) || steps > nblocks) corrupted(index, blkno, "broken overflow chain");
      learned_chain_next(&c);
      if (learned_special(c.page)->generation != meta.generation)
        corrupted(index, c.blkno, "overflow page of another generation");
      checked += verify_items(index, cache, c.page, c.blkno, i, false);
      seen_last = c.blkno;
    }
    learned_chain_release(&c);
    if (seen_last != tail) corrupted(index, blkno, "overflow tail pointer wrong");
    if (steps != chain_pages) corrupted(index, blkno, "overflow chain length differs from chain_pages");
    UnlockReleaseBuffer(buf);
  }
  pfree(leaves);
  // The null chain.
  LearnedMeta now;
  learned_read_meta(index, &now);
  BlockNumber seen_last = InvalidBlockNumber, steps = 0;
  LearnedChain c = learned_chain_begin(index, now.null_head, kPageNull, BUFFER_LOCK_SHARE);
  for (; c.next != InvalidBlockNumber; steps++) {
    if (beyond_end(c.next) || steps > nblocks + 1) corrupted(index, 0, "broken null chain");
    learned_chain_next(&c);
    LearnedItemsHeader* h = learned_items_header(c.page);
    verify_layout(index, c.page, c.blkno);
    for (int i = 0; i < h->nitems; i++) {
      ItemPointerData tid = learned_item_tid(c.page, i);
      if (!tid_ok(&tid)) corrupted(index, c.blkno, "invalid heap TID");
    }
    checked += h->nitems;
    seen_last = c.blkno;
  }
  learned_chain_release(&c);
  if (seen_last != now.null_tail && now.null_head != InvalidBlockNumber)
    corrupted(index, 0, "null tail pointer wrong");
  // Sparse: the fences (read and checked with the cache) and every heap row found.
  if (meta.layout == kLayoutSparse) checked += sparse_verify_heap(index);
  relation_close(index, AccessShareLock);
  PG_RETURN_INT64(checked);
}

// omendb_index_retrain(regclass) -> bool: re-trains the index into a new generation now (waits
// for writers, never for readers). False when the previous retired generation is still readable
// by some snapshot (run it again after those transactions end, or VACUUM).
extern "C" Datum omendb_index_retrain(PG_FUNCTION_ARGS) {
  // A write: refused on a hot standby and in a read-only transaction, as DDL is.
  PreventCommandDuringRecovery("omendb_index_retrain()");
  PreventCommandIfReadOnly("omendb_index_retrain()");
  Relation index = open_learned(PG_GETARG_OID(0));
  // A write like DDL: with an xid of its own, the generation it retires is freed as soon as the
  // snapshots of its time are gone (learned_retrain.cpp, retire_mark).
  (void)GetTopFullTransactionId();
  bool done = learned_retrain(index, true);
  relation_close(index, AccessShareLock);
  PG_RETURN_BOOL(done);
}
