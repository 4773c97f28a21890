// Edge leaves and the edge directory of a `learned` index (learned_edge.h).
#include "learned_edge.h"

#include <algorithm>

extern "C" {
#include "access/xlog.h"
}

namespace {

void check_dir_page(Relation index, Page page, BlockNumber blkno) {
  learned_check_page(index, page, blkno, kPageDir);
  if (learned_dir_header(page)->nentries > kLearnedDirEntriesPerPage)
    ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                    errmsg("learned index \"%s\" directory block %u holds %u entries",
                           RelationGetRelationName(index), blkno, learned_dir_header(page)->nentries),
                    errhint("REINDEX the index.")));
}

// pd_lower past the used entries: GenericXLog then diffs only what is used.
void dir_set_lower(Page page) {
  char* end = reinterpret_cast<char*>(learned_dir_entries(page) + learned_dir_header(page)->nentries);
  ((PageHeader)page)->pd_lower = static_cast<LocationIndex>(end - reinterpret_cast<char*>(page));
}

void init_dir_page(Page page, uint32 generation, uint32 first_leaf) {
  learned_init_page(page, kPageDir, generation);
  LearnedDirHeader* h = learned_dir_header(page);
  memset(h, 0, sizeof *h);
  h->first_leaf = first_leaf;
  h->next = InvalidBlockNumber;
  dir_set_lower(page);
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

// A hot standby query read a generation the primary has freed since (see check_unit_page in
// learned_scan.cpp): a serialization failure, never an answer from a reused page.
[[noreturn]] void retrained_on_primary(Relation index) {
  ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                  errmsg("learned index \"%s\" was re-trained on the primary while this query read it",
                         RelationGetRelationName(index)),
                  errhint("Retry the query. hot_standby_feedback = on avoids this.")));
  pg_unreachable();
}

// Block of edge leaf j of the directory at `dir_head`, by walking the chain (old generations). On
// a hot standby the primary may have freed that generation.
BlockNumber walk_dir(Relation index, BlockNumber dir_head, uint32 generation, uint32 j) {
  for (BlockNumber blk = dir_head; blk != InvalidBlockNumber;) {
    Buffer buf = ReadBuffer(index, blk);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    bool ours = !PageIsNew(page) && PageGetSpecialSize(page) == MAXALIGN(sizeof(LearnedSpecial)) &&
                learned_special(page)->page_id == kLearnedPageId &&
                learned_special(page)->kind == kPageDir && learned_special(page)->generation == generation;
    if (!ours && RecoveryInProgress())
      retrained_on_primary(index);
    check_dir_page(index, page, blk);
    LearnedDirHeader* h = learned_dir_header(page);
    if (j >= h->first_leaf && j < h->first_leaf + h->nentries) {
      BlockNumber out = learned_dir_entries(page)[j - h->first_leaf].blkno;
      UnlockReleaseBuffer(buf);
      return out;
    }
    blk = h->next;
    UnlockReleaseBuffer(buf);
  }
  return InvalidBlockNumber;
}

}  // namespace

LearnedLeafMap learned_leaf_map(const LearnedMeta& meta) {
  return LearnedLeafMap{meta.leaf_start, meta.nleaves, meta.edge_dir_head, meta.generation};
}

uint32 learned_total_leaves(const LearnedCache* cache) { return cache->meta.nleaves + cache->edge_n; }

uint64 learned_leaf_fence(const LearnedCache* cache, uint32 leaf) {
  if (leaf < cache->meta.nleaves) return cache->fences[leaf];
  Assert(leaf - cache->meta.nleaves < cache->edge_n);
  return cache->edge_fences[leaf - cache->meta.nleaves];
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
      if (meta.retired_nleaves > 0 && meta.generation == map.generation + 1) head = meta.retired_edge_dir_head;
    }
    if (head != InvalidBlockNumber) blk = walk_dir(index, head, map.generation, j);
    else if (RecoveryInProgress())
      retrained_on_primary(index);
  }
  if (blk == InvalidBlockNumber)
    elog(ERROR, "learned index \"%s\": leaf %u of generation %u has no block",
         RelationGetRelationName(index), leaf, map.generation);
  return blk;
}

void learned_edge_refresh(Relation index, LearnedCache* cache) {
  uint32 want = cache->meta.edge_nleaves;
  if (cache->edge_n >= want) return;
  cache_grow(cache, want);
  if (cache->edge_dir_blk == InvalidBlockNumber) cache->edge_dir_blk = cache->meta.edge_dir_head;
  while (cache->edge_n < want) {
    BlockNumber blk = cache->edge_dir_blk;
    if (blk == InvalidBlockNumber)
      ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                      errmsg("learned index \"%s\": edge directory ends after %u of %u leaves",
                             RelationGetRelationName(index), cache->edge_n, want),
                      errhint("REINDEX the index.")));
    Buffer buf = ReadBuffer(index, blk);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    check_dir_page(index, page, blk);
    LearnedDirHeader* h = learned_dir_header(page);
    const LearnedDirEntry* e = learned_dir_entries(page);
    if (learned_special(page)->generation != cache->meta.generation || h->first_leaf > cache->edge_n)
      ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                      errmsg("learned index \"%s\": edge directory block %u does not continue leaf %u",
                             RelationGetRelationName(index), blk, cache->edge_n),
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
    BlockNumber next = h->next;
    UnlockReleaseBuffer(buf);
    if (exhausted && next != InvalidBlockNumber) {
      cache->edge_dir_blk = next;
    } else if (cache->edge_n < want) {
      ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                      errmsg("learned index \"%s\": edge directory ends after %u of %u leaves",
                             RelationGetRelationName(index), cache->edge_n, want),
                      errhint("REINDEX the index.")));
    }
  }
}

bool learned_edge_start_leaf(const LearnedCache* cache, uint64 key, uint32* leaf) {
  if (cache->edge_n == 0 || key <= cache->edge_fences[0]) return false;
  // Last edge fence < key: edge_fences[0] < key, so the answer is >= 0.
  uint32 below = static_cast<uint32>(
      std::lower_bound(cache->edge_fences, cache->edge_fences + cache->edge_n, key) - cache->edge_fences);
  *leaf = cache->meta.nleaves + below - 1;
  return true;
}

void learned_edge_list(Relation index, BlockNumber dir_head, uint32 n, BlockNumber** blocks,
                       uint64** fences, BlockNumber** dir_pages, uint32* ndir) {
  *blocks = static_cast<BlockNumber*>(palloc(sizeof(BlockNumber) * Max(n, 1)));
  if (fences) *fences = static_cast<uint64*>(palloc(sizeof(uint64) * Max(n, 1)));
  uint32 dir_cap = 8, nd = 0;
  BlockNumber* dirs = static_cast<BlockNumber*>(palloc(sizeof(BlockNumber) * dir_cap));
  uint32 got = 0;
  // The whole chain (a crash may have left an empty page after the last entry).
  for (BlockNumber blk = dir_head; blk != InvalidBlockNumber;) {
    if (nd > RelationGetNumberOfBlocks(index))
      ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
                      errmsg("learned index \"%s\": edge directory chain loops", RelationGetRelationName(index)),
                      errhint("REINDEX the index.")));
    if (nd == dir_cap) {
      dir_cap *= 2;
      dirs = static_cast<BlockNumber*>(repalloc(dirs, sizeof(BlockNumber) * dir_cap));
    }
    dirs[nd++] = blk;
    Buffer buf = ReadBuffer(index, blk);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(buf);
    check_dir_page(index, page, blk);
    LearnedDirHeader* h = learned_dir_header(page);
    for (uint32 i = 0; i < h->nentries && got < n; i++, got++) {
      (*blocks)[got] = learned_dir_entries(page)[i].blkno;
      if (fences) (*fences)[got] = learned_dir_entries(page)[i].fence;
    }
    blk = h->next;
    UnlockReleaseBuffer(buf);
  }
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

namespace {

uint64 largest_key(Page page) {
  LearnedItemsHeader* h = learned_items_header(page);
  if (h->nitems == 0) return 0;
  if (h->nsorted == h->nitems) return learned_item_key(page, h->nitems - 1);
  uint64 max = 0;
  for (int i = 0; i < h->nitems; i++) max = Max(max, learned_item_key(page, i));
  return max;
}

// Widths of a new edge leaf opened by (key, tid) after the last leaf `last`: keys from `key` over
// twice the key range the last leaf filled (at least 8 bits; the data arriving at the right edge
// is assumed to be as dense as the data before it), TIDs as wide as the last leaf's and as the
// new TID's block with one bit of headroom.
omen::leaf::Widths edge_widths(Page last, uint64 key, ItemPointer tid) {
  LearnedItemsHeader* h = learned_items_header(last);
  omen::leaf::Widths w = learned_widths(h);
  uint64 span = h->nitems > 0 ? largest_key(last) - h->key_base : 0;
  w.key_base = key;
  w.key_bits = Min(64u, Max(8u, omen::leaf::bits_for(span) + 1));
  w.block_bits = Min(32u, Max(w.block_bits, omen::leaf::bits_for(ItemPointerGetBlockNumberNoCheck(tid)) + 1));
  w.offset_bits = Max(w.offset_bits, omen::leaf::bits_for(ItemPointerGetOffsetNumberNoCheck(tid)));
  return w;
}

}  // namespace

bool learned_edge_wants_leaf(Relation index, Page page, uint64 key, ItemPointer tid) {
  LearnedItemsHeader* h = learned_items_header(page);
  if (!(h->flags & kLeafIsLast) || h->nitems == 0) return false;
  if (key < largest_key(page)) return false;
  // Nearly full, or the item is past the leaf's packed widths (a new leaf gets its own).
  if (h->nitems + kLearnedEdgeSlack < h->capacity && learned_item_fits(page, key, tid)) return false;
  // Keys that arrived out of order beyond the slack sit in the overflow chain (short: they are
  // below the leaf's largest key); the new fence must not be below any of them.
  for (BlockNumber next = h->next; next != InvalidBlockNumber;) {
    Buffer buf = ReadBuffer(index, next);
    LockBuffer(buf, BUFFER_LOCK_SHARE);
    Page opage = BufferGetPage(buf);
    learned_check_page(index, opage, next, kPageOverflow);
    bool above = largest_key(opage) > key;
    next = learned_items_header(opage)->next;
    UnlockReleaseBuffer(buf);
    if (above) return false;
  }
  return true;
}

void learned_edge_add_leaf(Relation index, Buffer last, uint64 key, ItemPointer tid) {
  // Edge fields of the metapage change only here, under the last leaf's lock, which we hold.
  LearnedMeta meta;
  learned_read_meta(index, &meta);
  Page lpage = BufferGetPage(last);
  omen::leaf::Widths widths = edge_widths(lpage, key, tid);
  uint32 generation = learned_special(lpage)->generation;
  uint32 leaf_no = learned_items_header(lpage)->leaf_no;
  if (generation != meta.generation || leaf_no + 1 != meta.nleaves + meta.edge_nleaves)
    elog(ERROR, "learned index \"%s\": leaf %u of generation %u is not the last leaf",
         RelationGetRelationName(index), leaf_no, generation);

  Buffer nbuf = learned_new_buffer(index);
  BlockNumber nblk = BufferGetBlockNumber(nbuf);
  Buffer dbuf = InvalidBuffer;
  if (meta.edge_dir_tail != InvalidBlockNumber) {
    dbuf = ReadBuffer(index, meta.edge_dir_tail);
    LockBuffer(dbuf, BUFFER_LOCK_EXCLUSIVE);
    check_dir_page(index, BufferGetPage(dbuf), meta.edge_dir_tail);
  }
  Buffer mbuf = InvalidBuffer;
  if (dbuf == InvalidBuffer || learned_dir_header(BufferGetPage(dbuf))->nentries == kLearnedDirEntriesPerPage) {
    // A new directory page first (its own record: a crash after it leaves an empty page linked).
    Buffer ndbuf = learned_new_buffer(index);
    BlockNumber ndblk = BufferGetBlockNumber(ndbuf);
    mbuf = ReadBuffer(index, kLearnedMetaBlock);
    LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
    GenericXLogState* xs = GenericXLogStart(index);
    init_dir_page(GenericXLogRegisterBuffer(xs, ndbuf, GENERIC_XLOG_FULL_IMAGE), generation, meta.edge_nleaves);
    if (dbuf != InvalidBuffer) learned_dir_header(GenericXLogRegisterBuffer(xs, dbuf, 0))->next = ndblk;
    LearnedMeta* m = learned_meta(GenericXLogRegisterBuffer(xs, mbuf, 0));
    if (m->edge_dir_head == InvalidBlockNumber) m->edge_dir_head = ndblk;
    m->edge_dir_tail = ndblk;
    GenericXLogFinish(xs);
    if (dbuf != InvalidBuffer) UnlockReleaseBuffer(dbuf);
    dbuf = ndbuf;
  } else {
    mbuf = ReadBuffer(index, kLearnedMetaBlock);
    LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
  }

  GenericXLogState* xs = GenericXLogStart(index);
  LearnedItemsHeader* lh = learned_items_header(GenericXLogRegisterBuffer(xs, last, 0));
  lh->high_fence = key;
  lh->flags &= ~kLeafIsLast;
  Page npage = GenericXLogRegisterBuffer(xs, nbuf, GENERIC_XLOG_FULL_IMAGE);
  learned_init_items_page(npage, kPageLeaf, generation, widths);
  LearnedItemsHeader* nh = learned_items_header(npage);
  nh->low_fence = key;
  nh->high_fence = PG_UINT64_MAX;
  nh->flags = kLeafIsLast;
  nh->leaf_no = leaf_no + 1;
  learned_items_append(npage, key, tid);
  Page dpage = GenericXLogRegisterBuffer(xs, dbuf, 0);
  LearnedDirHeader* dh = learned_dir_header(dpage);
  learned_dir_entries(dpage)[dh->nentries] = LearnedDirEntry{key, nblk, 0};
  dh->nentries++;
  dir_set_lower(dpage);
  learned_meta(GenericXLogRegisterBuffer(xs, mbuf, 0))->edge_nleaves++;
  GenericXLogFinish(xs);
  UnlockReleaseBuffer(mbuf);
  UnlockReleaseBuffer(dbuf);
  UnlockReleaseBuffer(nbuf);
}
