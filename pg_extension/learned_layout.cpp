// The leaf layout of a generation of a `learned` index (learned_layout.h): the TID widths, each
// build leaf's key widths, and leaf_cap, the most build positions per leaf such that every leaf, at
// its own widths, is filled to at most fillfactor percent. Chosen together with the model's
// training: in memory by random access to the keys, spilled in the one pass that also trains.
#include "learned_layout.h"
#include "learned_items.h"

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
leaf::Widths leaf_widths(uint64 low, uint64 top, bool first, bool last, const leaf::Widths& tids,
                         bool headroom) {
  leaf::Widths w = tids;
  if (headroom && first) low -= Min(low, top - low);
  if (headroom && last) top += Min(PG_UINT64_MAX - top, top - low);
  w.key_base = low;
  w.key_bits = leaf::bits_for(top - low);
  return w;
}

Size fill_of(uint16 capacity, int fillfactor) {
  return Max(static_cast<Size>(1), static_cast<Size>(capacity) * fillfactor / 100);
}

// True when `count` items from `low` to `top` (as in leaf_widths) fill a leaf to at most fillfactor.
bool leaf_fits(Size count, uint64 low, uint64 top, const leaf::Widths& tids, int fillfactor) {
  return count <=
         fill_of(learned_items_capacity(leaf_widths(low, top, false, false, tids, false)), fillfactor);
}

// leaf_cap candidates: every cap <= lo fits whatever the keys (a leaf of 64 key bits holds that
// many); none above hi can (a leaf of 0 key bits holds no more).
void leaf_cap_range(const leaf::Widths& tids, int fillfactor, Size* lo, Size* hi) {
  leaf::Widths w = tids;
  w.key_bits = 0;
  *hi = fill_of(learned_items_capacity(w), fillfactor);
  w.key_bits = 64;
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

// Streaming: whether each candidate cap in (lo, hi] fits, decided in one pass over the sorted
// keys. Candidate c needs the keys at positions 0, c, 2c, ...: a calendar of hi + 1 slots
// (position mod hi + 1) lists the candidates due at each position; a due candidate checks the
// leaf it closes and is filed again c positions ahead, or dropped when that leaf does not fit.
// About n * ln(hi / lo) checks in all, each a few instructions.
struct CapCalendar {
  Size lo, hi, slots;
  uint64* start_key;  // per candidate (index c - lo - 1): first key of its open leaf
  Size* start_pos;    // ... and its position
  bool* fits;
  int32* next;  // per candidate: next in its slot's list
  int32* head;  // per slot: first candidate due there, -1 if none
  Size slot, pos;
  uint64 last_key;
  leaf::Widths tids;
  int fillfactor;
};

void calendar_init(CapCalendar* c, Size lo, Size hi, const leaf::Widths& tids, int fillfactor) {
  Size m = hi - lo;
  c->lo = lo;
  c->hi = hi;
  c->slots = hi + 1;
  c->start_key = static_cast<uint64*>(palloc(Max(m, 1) * sizeof(uint64)));
  c->start_pos = static_cast<Size*>(palloc(Max(m, 1) * sizeof(Size)));
  c->fits = static_cast<bool*>(palloc(Max(m, 1) * sizeof(bool)));
  c->next = static_cast<int32*>(palloc(Max(m, 1) * sizeof(int32)));
  c->head = static_cast<int32*>(palloc(c->slots * sizeof(int32)));
  for (Size s = 0; s < c->slots; s++) c->head[s] = -1;
  for (Size j = 0; j < m; j++) {  // all due at position 0
    c->fits[j] = true;
    c->next[j] = j + 1 < m ? static_cast<int32>(j + 1) : -1;
  }
  if (m > 0) c->head[0] = 0;
  c->slot = c->pos = 0;
  c->last_key = 0;
  c->tids = tids;
  c->fillfactor = fillfactor;
}

inline void calendar_add(CapCalendar* c, uint64 key) {
  int32 j = c->head[c->slot];
  if (j >= 0) {
    c->head[c->slot] = -1;
    while (j >= 0) {
      int32 after = c->next[j];
      Size cap = c->lo + 1 + j;
      if (c->pos > 0 && !leaf_fits(cap, c->start_key[j], key, c->tids, c->fillfactor)) {
        c->fits[j] = false;
      } else {
        c->start_key[j] = key;
        c->start_pos[j] = c->pos;
        Size s = (c->slot + cap) % c->slots;
        c->next[j] = c->head[s];
        c->head[s] = j;
      }
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
  pfree(c->fits);
  pfree(c->next);
  pfree(c->head);
}

// After the last key: checks each candidate's last leaf. REQUIRES: at least one key.
void calendar_finish(CapCalendar* c) {
  for (Size j = 0; j < c->hi - c->lo; j++)
    if (c->fits[j] &&
        !leaf_fits(c->pos - c->start_pos[j], c->start_key[j], c->last_key, c->tids, c->fillfactor))
      c->fits[j] = false;
}

// In memory: leaf_cap (in *cap; unchanged without keys) by random access to the keys, then the
// model over the whole key array.
LearnedTrained train_in_memory(LearnedPairs* pairs, uint32 epsilon, const leaf::Widths& tw, int fillfactor,
                               bool progress, Size* cap) {
  Size lo, hi;
  leaf_cap_range(tw, fillfactor, &lo, &hi);
  if (pairs->n > 0)
    *cap = search_leaf_cap(lo, hi,
                           [&](Size c) { return leaf_cap_fits(pairs->keys, pairs->n, c, tw, fillfactor); });
  if (progress) pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseModel);
  return learned_train(pairs->keys, pairs->n, epsilon);
}

// Spilled: one pass over the sorted stream decides leaf_cap (calendar) and trains the model
// (streaming builder, bounded by the same budget); then rewinds the pairs for the leaves' pass.
LearnedTrained train_streaming(LearnedPairs* pairs, uint32 epsilon, const leaf::Widths& tw, int fillfactor,
                               bool progress, Size* cap) {
  Size lo, hi;
  leaf_cap_range(tw, fillfactor, &lo, &hi);
  if (progress) pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseModel);
  CapCalendar cal;
  calendar_init(&cal, lo, hi, tw, fillfactor);
  Size chunk_points = Max(static_cast<Size>(pairs->work_mem_kb) * 1024 / (2 * 2 * sizeof(uint64)), kBatch);
  LearnedTrainer* trainer = learned_trainer_begin(pairs->n, epsilon, chunk_points);
  uint64 batch[kBatch];
  Size nb = 0;
  uint64 key;
  ItemPointerData tid;
  while (learned_pairs_next(pairs, &key, &tid)) {
    calendar_add(&cal, key);
    batch[nb++] = key;
    if (nb == kBatch) {
      learned_trainer_add(trainer, batch, nb);
      nb = 0;
      CHECK_FOR_INTERRUPTS();
    }
  }
  learned_trainer_add(trainer, batch, nb);
  if (pairs->n > 0) {
    calendar_finish(&cal);
    *cap = search_leaf_cap(lo, hi, [&](Size c) { return c <= cal.lo || cal.fits[c - cal.lo - 1]; });
  }
  LearnedTrained trained = learned_trainer_finish(trainer);
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

LearnedTrained learned_layout_train(LearnedPairs* pairs, uint32 epsilon, const leaf::Widths& tids,
                                    int fillfactor, bool progress, Size* leaf_cap) {
  *leaf_cap = fill_of(learned_items_capacity(leaf::wide_widths(0, true)), fillfactor);  // no keys
  return learned_pairs_spilled(pairs) ? train_streaming(pairs, epsilon, tids, fillfactor, progress, leaf_cap)
                                      : train_in_memory(pairs, epsilon, tids, fillfactor, progress, leaf_cap);
}

leaf::Widths learned_build_leaf_widths(Size count, uint64 low, uint64 top, bool first, bool last,
                                       const leaf::Widths& tids, int fillfactor) {
  // Headroom below leaf 0 and above the last leaf when it costs no capacity leaf_cap needs.
  leaf::Widths w = leaf_widths(low, top, first, last, tids, true);
  if (count > fill_of(learned_items_capacity(w), fillfactor))
    w = leaf_widths(low, top, first, last, tids, false);
  return w;
}
