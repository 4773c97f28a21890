// The leaf layout of a generation of a `learned` index (learned_layout.h): the TID widths, each
// build leaf's key widths, and leaf_cap, the most build positions per leaf such that every leaf, at
// its own widths, is filled to at most fillfactor percent. Chosen together with the model's
// training: in memory by random access to the keys, spilled in the one pass that also trains.
#include "learned_layout.h"
#include "learned_items.h"

#include <numeric>

extern "C" {
#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/backend_progress.h"
}

namespace leaf = omen::leaf;

namespace {

// Pairs per batch handed to the core (training, training error).
constexpr Size kBatch = 1024;

// Widths of a leaf whose keys run from `low` (its first key) to `top` (the next leaf's first key,
// or its own last key for the last leaf). Keys are stored relative to the low fence, in the bits
// the fence range needs, so every key an insert routes to the leaf fits. Exceptions: leaf 0
// (fence 0) is relative to its first key and the last leaf (fence +inf) covers its last key; with
// `headroom`, each of them also takes keys as far beyond as its own range spans (one more bit).
// Keys outside go to the overflow chain.
// Keys are stored divided by tids.key_scale (the generation's; headroom in whole multiples of it).
leaf::Widths leaf_widths(uint64 low, uint64 top, bool first, bool last, const leaf::Widths& tids,
                         bool headroom) {
  leaf::Widths w = tids;
  uint64 g = w.key_scale;
  if (headroom && first) {
    uint64 h = Min(low, top - low);
    low -= h - h % g;
  }
  if (headroom && last) {
    uint64 h = Min(PG_UINT64_MAX - top, top - low);
    top += h - h % g;
  }
  w.key_base = low;
  w.key_bits = leaf::bits_for((top - low) / g);
  return w;
}

// The key scale of a generation: the largest 10^e * 2^f dividing every difference between its
// keys (1 when there are none), kept up to date one sorted key at a time.
struct KeyGcd {
  uint64 first = 0, g = 0;
  bool any = false;
  void add(uint64 key) {
    if (!any) {
      first = key;
      any = true;
    } else if (g != 1) {
      g = std::gcd(g, key - first);
    }
  }
  // Tiny indexes keep scale 1: a unit read off a few keys (two keys: their whole difference) would
  // send most later inserts to overflow pages, for no size worth having.
  uint64 scale(Size n) const { return n < kMinKeys ? 1 : leaf::decimal_binary_scale(g); }
  static constexpr Size kMinKeys = 1024;
};

Size fill_of(uint16 capacity, int fillfactor) {
  return Max(static_cast<Size>(1), static_cast<Size>(capacity) * fillfactor / 100);
}

// The block range (smallest and largest block) of the TIDs of each chunk of `chunk` consecutive
// sorted pairs. A leaf of cap pairs starting at a multiple of cap lies within the chunks its first
// and last pair fall in, so their range bounds its span (exactly, but for the partial chunks at its
// two ends). A leaf whose TIDs span few blocks (data in heap order) stores them relative to its
// first block in as few bits (learned_build_leaf_widths), and then holds more items. Chunks of at
// least 64 pairs, at most kMaxChunks of them (8 MB), whatever the build's size.
struct TidSpans {
  static constexpr Size kMaxChunks = Size{1} << 20;
  Size chunk, nchunks, pos;
  BlockNumber* lo;
  BlockNumber* hi;
};

void spans_init(TidSpans* t, Size n) {
  t->chunk = Max(Size{64}, (n + TidSpans::kMaxChunks - 1) / TidSpans::kMaxChunks);
  t->nchunks = Max(Size{1}, (n + t->chunk - 1) / t->chunk);
  t->lo = static_cast<BlockNumber*>(palloc(t->nchunks * sizeof(BlockNumber)));
  t->hi = static_cast<BlockNumber*>(palloc0(t->nchunks * sizeof(BlockNumber)));
  for (Size c = 0; c < t->nchunks; c++) t->lo[c] = InvalidBlockNumber;
  t->pos = 0;
}
inline void spans_add(TidSpans* t, BlockNumber block) {
  Size c = Min(t->pos / t->chunk, t->nchunks - 1);
  t->lo[c] = Min(t->lo[c], block);
  t->hi[c] = Max(t->hi[c], block);
  t->pos++;
}
void spans_free(TidSpans* t) {
  pfree(t->lo);
  pfree(t->hi);
}
// The largest block span, bounded as above, of the leaves of `cap` pairs over the pairs added.
BlockNumber spans_bound(const TidSpans& t, Size cap) {
  BlockNumber bound = 0;
  for (Size start = 0; start < t.pos; start += cap) {
    Size first = start / t.chunk, last = Min((Min(start + cap, t.pos) - 1) / t.chunk, t.nchunks - 1);
    BlockNumber lo = InvalidBlockNumber, hi = 0;
    for (Size c = first; c <= last; c++) {
      lo = Min(lo, t.lo[c]);
      hi = Max(hi, t.hi[c]);
    }
    if (hi >= lo) bound = Max(bound, hi - lo);
  }
  return bound;
}

// The TID widths a leaf of `cap` items needs at most: the generation's absolute ones, or fewer
// block bits (relative to the leaf's first block) when every run of cap pairs spans less.
leaf::Widths tids_for(const leaf::Widths& tids, const TidSpans& spans, Size cap) {
  leaf::Widths w = tids;
  // Narrower only when that saves more than the absolute widths' headroom bit (which lets inserts
  // bring TIDs up to twice the heap's size): data in random heap order spans the whole heap.
  unsigned rel = leaf::bits_for(spans_bound(spans, cap));
  if (rel + 1 < w.block_bits) w.block_bits = rel;
  return w;
}

// True when `count` items from `low` to `top` (as in leaf_widths) fill a leaf to at most fillfactor.
bool leaf_fits(Size count, uint64 low, uint64 top, const leaf::Widths& tids, int fillfactor) {
  return count <=
         fill_of(learned_items_capacity(leaf_widths(low, top, false, false, tids, false)), fillfactor);
}

// leaf_cap candidates: every cap <= lo fits whatever the keys and TIDs (a leaf of 64 key bits and
// absolute TIDs holds that many); none above hi can (a leaf of 0 key and 0 block bits holds no more).
void leaf_cap_range(const leaf::Widths& tids, int fillfactor, Size* lo, Size* hi) {
  leaf::Widths w = tids;
  w.key_bits = 0;
  w.block_bits = 0;
  *hi = fill_of(learned_items_capacity(w), fillfactor);
  w.key_bits = 64;
  w.block_bits = tids.block_bits;
  *lo = Min(*hi, fill_of(learned_items_capacity(w), fillfactor));
}

// The largest cap in [lo, hi] for which fits(cap) holds, by binary search (fits(lo) is true).
// Both paths use this same search, so they choose the same leaf_cap.
template <class Fits>
Size search_leaf_cap(Size lo, Size hi, Fits fits) {
  while (lo < hi) {
    Size mid = lo + (hi - lo + 1) / 2;
    if (fits(mid))
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// In memory: true when every leaf of `cap` positions over keys[0..n) fits.
bool leaf_cap_fits(const uint64* keys, Size n, Size cap, const leaf::Widths& tids, int fillfactor) {
  for (Size start = 0; start < n; start += cap) {
    Size end = Min(n, start + cap);
    if (!leaf_fits(end - start, keys[start], end == n ? keys[end - 1] : keys[end], tids, fillfactor))
      return false;
  }
  return true;
}

// Streaming: whether each candidate cap in (lo, hi] fits, decided after one pass over the sorted
// keys. Candidate c needs the keys at positions 0, c, 2c, ...: a calendar of hi + 1 slots
// (position mod hi + 1) lists the candidates due at each position; a due candidate notes the key
// range of the leaf it closes and is filed again c positions ahead. About n * ln(hi / lo) steps in
// all, each a few instructions. Whether c fits needs its TID widths and the key scale, known only
// after the pass (spans and scale are gathered in the same pass): so the pass keeps the widest key
// range of a full leaf per candidate, and calendar_fits decides (a full leaf fits iff the widest
// one does, every full leaf holding c items).
struct CapCalendar {
  Size lo, hi, slots;
  uint64* start_key;  // per candidate (index c - lo - 1): first key of its open leaf
  Size* start_pos;    // ... and its position
  uint64* max_diff;   // ... and the widest key range of its full leaves
  int32* next;        // per candidate: next in its slot's list
  int32* head;        // per slot: first candidate due there, -1 if none
  Size slot, pos;
  uint64 last_key;
};

void calendar_init(CapCalendar* c, Size lo, Size hi) {
  Size m = hi - lo;
  c->lo = lo;
  c->hi = hi;
  c->slots = hi + 1;
  c->start_key = static_cast<uint64*>(palloc(Max(m, 1) * sizeof(uint64)));
  c->start_pos = static_cast<Size*>(palloc(Max(m, 1) * sizeof(Size)));
  c->max_diff = static_cast<uint64*>(palloc0(Max(m, 1) * sizeof(uint64)));
  c->next = static_cast<int32*>(palloc(Max(m, 1) * sizeof(int32)));
  c->head = static_cast<int32*>(palloc(c->slots * sizeof(int32)));
  for (Size s = 0; s < c->slots; s++) c->head[s] = -1;
  for (Size j = 0; j < m; j++) c->next[j] = j + 1 < m ? static_cast<int32>(j + 1) : -1;  // all due at 0
  if (m > 0) c->head[0] = 0;
  c->slot = c->pos = 0;
  c->last_key = 0;
}

inline void calendar_add(CapCalendar* c, uint64 key) {
  int32 j = c->head[c->slot];
  if (j >= 0) {
    c->head[c->slot] = -1;
    while (j >= 0) {
      int32 after = c->next[j];
      Size cap = c->lo + 1 + j;
      if (c->pos > 0) c->max_diff[j] = Max(c->max_diff[j], key - c->start_key[j]);
      c->start_key[j] = key;
      c->start_pos[j] = c->pos;
      Size s = (c->slot + cap) % c->slots;
      c->next[j] = c->head[s];
      c->head[s] = j;
      j = after;
    }
  }
  c->last_key = key;
  c->pos++;
  if (++c->slot == c->slots) c->slot = 0;
}

void calendar_free(CapCalendar* c) {
  pfree(c->start_key);
  pfree(c->start_pos);
  pfree(c->max_diff);
  pfree(c->next);
  pfree(c->head);
}

// After the last key: whether candidate cap (in (lo, hi]) fits at TID widths and key scale `tids`:
// its full leaves (at its widest) and its last leaf. REQUIRES: at least one key.
bool calendar_fits(const CapCalendar* c, Size cap, const leaf::Widths& tids, int fillfactor) {
  Size j = cap - c->lo - 1;
  leaf::Widths w = tids;
  w.key_bits = leaf::bits_for(c->max_diff[j] / w.key_scale);
  if (c->pos > cap && cap > fill_of(learned_items_capacity(w), fillfactor)) return false;
  return leaf_fits(c->pos - c->start_pos[j], c->start_key[j], c->last_key, tids, fillfactor);
}

// In memory: the TID spans, the key unit and leaf_cap (in *cap; unchanged without keys) by random
// access to the pairs, then the model over the whole key array.
LearnedTrained train_in_memory(LearnedPairs* pairs, uint32 epsilon, leaf::Widths* tids, int fillfactor,
                               bool progress, Size* cap) {
  TidSpans spans;
  spans_init(&spans, pairs->n);
  KeyGcd gcd;
  for (Size i = 0; i < pairs->n; i++) {
    spans_add(&spans, ItemPointerGetBlockNumberNoCheck(&pairs->tids[i]));
    gcd.add(pairs->keys[i]);
  }
  tids->key_scale = gcd.scale(pairs->n);
  const leaf::Widths& tw = *tids;
  Size lo, hi;
  leaf_cap_range(tw, fillfactor, &lo, &hi);
  if (pairs->n > 0)
    *cap = search_leaf_cap(lo, hi, [&](Size c) {
      return leaf_cap_fits(pairs->keys, pairs->n, c, tids_for(tw, spans, c), fillfactor);
    });
  spans_free(&spans);
  if (progress) pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseModel);
  return learned_train(pairs->keys, pairs->n, epsilon);
}

// Spilled: one pass over the sorted stream gathers the TID spans and each candidate's widest leaf
// (calendar), and trains the model (streaming builder, bounded by the same budget); leaf_cap is
// decided after it. Then rewinds the pairs for the leaves' pass.
LearnedTrained train_streaming(LearnedPairs* pairs, uint32 epsilon, leaf::Widths* tids, int fillfactor,
                               bool progress, Size* cap) {
  const leaf::Widths& tw = *tids;
  Size lo, hi;
  leaf_cap_range(tw, fillfactor, &lo, &hi);
  if (progress) pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseModel);
  CapCalendar cal;
  calendar_init(&cal, lo, hi);
  TidSpans spans;
  spans_init(&spans, pairs->n);
  KeyGcd gcd;
  Size chunk_points = Max(static_cast<Size>(pairs->work_mem_kb) * 1024 / (2 * 2 * sizeof(uint64)), kBatch);
  LearnedTrainer* trainer = learned_trainer_begin(pairs->n, epsilon, chunk_points);
  uint64 batch[kBatch];
  Size nb = 0;
  uint64 key;
  ItemPointerData tid;
  while (learned_pairs_next(pairs, &key, &tid)) {
    calendar_add(&cal, key);
    spans_add(&spans, ItemPointerGetBlockNumberNoCheck(&tid));
    gcd.add(key);
    batch[nb++] = key;
    if (nb == kBatch) {
      learned_trainer_add(trainer, batch, nb);
      nb = 0;
      CHECK_FOR_INTERRUPTS();
    }
  }
  learned_trainer_add(trainer, batch, nb);
  tids->key_scale = gcd.scale(pairs->n);
  if (pairs->n > 0)
    *cap = search_leaf_cap(lo, hi, [&](Size c) {
      return c <= cal.lo || calendar_fits(&cal, c, tids_for(tw, spans, c), fillfactor);
    });
  LearnedTrained trained = learned_trainer_finish(trainer);
  spans_free(&spans);
  calendar_free(&cal);
  learned_pairs_rescan(pairs);
  return trained;
}

}  // namespace

leaf::Widths learned_tid_widths(const LearnedPairs* pairs) {
  leaf::Widths w = leaf::wide_widths(0, true);
  if (pairs->n == 0) return w;
  w.block_bits = Min(32u, leaf::bits_for(pairs->max_block) + 1);
  w.offset_bits = leaf::bits_for(pairs->max_offset);
  return w;
}

LearnedTrained learned_layout_train(LearnedPairs* pairs, uint32 epsilon, leaf::Widths* tids, int fillfactor,
                                    bool progress, Size* leaf_cap) {
  *leaf_cap = fill_of(learned_items_capacity(leaf::wide_widths(0, true)), fillfactor);  // no keys
  return learned_pairs_spilled(pairs) ? train_streaming(pairs, epsilon, tids, fillfactor, progress, leaf_cap)
                                      : train_in_memory(pairs, epsilon, tids, fillfactor, progress, leaf_cap);
}

leaf::Widths learned_build_leaf_widths(Size count, uint64 low, uint64 top, bool first, bool last,
                                       const leaf::Widths& tids, BlockNumber min_block, BlockNumber max_block,
                                       int fillfactor) {
  auto holds = [&](const leaf::Widths& w) { return count <= fill_of(learned_items_capacity(w), fillfactor); };
  // Absolute TIDs when leaf_cap allows (inserts bring TIDs of any block), with headroom below leaf 0
  // and above the last leaf when that costs no capacity leaf_cap needs.
  leaf::Widths w = leaf_widths(low, top, first, last, tids, true);
  if (holds(w)) return w;
  w = leaf_widths(low, top, first, last, tids, false);
  if (holds(w) || count == 0) return w;
  // Else TIDs relative to the leaf's first block, in the most bits that still hold leaf_cap (at
  // least the leaf's own span: leaf_cap was chosen so that it holds then).
  w.block_base = min_block;
  unsigned need = leaf::bits_for(max_block - min_block);
  for (w.block_bits = Min(tids.block_bits, 31u); w.block_bits > need; w.block_bits--)
    if (uint64{min_block} + leaf::max_value(w.block_bits) <= PG_UINT32_MAX && holds(w)) return w;
  w.block_bits = need;
  w.block_base = Min(min_block, static_cast<BlockNumber>(PG_UINT32_MAX - leaf::max_value(need)));
  return w;
}
