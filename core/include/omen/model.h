// Learned models over a sorted array of uint64 keys: LinearModel, RmiModel (two levels) and
// PgmModel (optimal piecewise-linear segmentation with error bound epsilon, recursive levels).
//
// One contract for all three (see omen/search_bound.h): predict(key) returns {pos, lo, hi} with
// lower_bound(key) in [lo, hi] for EVERY uint64 key, present or absent, duplicates included.
// The guarantee does not rely on floating point being exact: each model is fitted on the
// "constraint points" of the data (every distinct key d with its lower_bound rank r, plus
// (d+1, r') after a duplicated key d, whose successor has rank r'), evaluated with the monotone
// function detail::eval_segment, and its error E is MEASURED at build time with that very function
// at every constraint point. Monotonicity then bounds every key between two points (docs/core.md).
//
// Models are immutable after construction; const members are safe to call from many threads.
// A model does not keep a pointer to the keys it was built from.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <vector>

#include "omen/search_bound.h"

namespace omen {

// Build options. Aggregate: members may be added at the end only.
struct ModelOptions {
  uint32_t epsilon = 64;  // requested error bound of the leaf level (PGM); RMI leaf-count hint
  uint32_t epsilon_internal =
      4;  // unused since PgmModel's upper levels are a key directory (kept for source compatibility)
  bool parallel = false;    // segment chunks of the input in parallel with oneTBB (PGM)
  uint32_t rmi_leaves = 0;  // RMI second-level size; 0 = automatic (about n / 2048)
  bool force_wide = false;  // PGM: use WidePgmSegment even when PgmSegment fits (tests)
};

// One linear piece: for keys k >= first_key up to the next segment's first_key,
//   predicted rank = clamp(round(intercept + slope * double(k - first_key)), first_rank, next_rank)
// where next_rank is the next segment's first_rank (or the key count for the last segment).
// slope >= 0 always. The line of LinearModel, RmiModel and their leaves.
struct Segment {
  uint64_t first_key;
  double slope;
  double intercept;
  uint64_t first_rank;
};

// One piece of a PgmModel level, 16 bytes: for keys k >= first_key up to the next piece's,
//   predicted rank = round(max(min(intercept + double(slope) * double(k - first_key), clamp), 0))
// where clamp is the next piece's intercept (the level's size for the last piece). The intercept
// is the line's value at first_key, an integer (negative near rank 0); slope >= 0 and finite;
// intercepts never decrease along a level. Used when every rank fits 31 bits (key count <
// kMaxCompactKeys); the index AM stores this layout in its pages.
struct PgmSegment {
  uint64_t first_key;
  float slope;
  int32_t intercept;
};
// The same piece for models over kMaxCompactKeys keys or more, 24 bytes (REQUIRES n < 2^53).
struct WidePgmSegment {
  uint64_t first_key;
  double slope;
  int64_t intercept;
};
static_assert(sizeof(PgmSegment) == 16 && sizeof(WidePgmSegment) == 24);
// A PgmModel over fewer keys than this uses PgmSegment (ranks 0..n fit int32).
inline constexpr uint64_t kMaxCompactKeys = uint64_t{1} << 31;

namespace detail {

// Keeps a product rounded on its own, so the compiler cannot fuse it with the following add into
// an FMA in one translation unit and not in another (clang contracts by default, GCC with
// -std=gnu++*, both only where FMA is enabled): the build measures the error with the very
// function `predict` runs, and that must hold bit for bit wherever the header is compiled.
inline double unfused(double product) noexcept {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __asm__("" : "+x"(product));
#elif defined(__GNUC__) && defined(__aarch64__)
  __asm__("" : "+w"(product));
#elif defined(__GNUC__)
  __asm__("" : "+m"(product));
#endif
  return product;
}

// The single evaluation of a PgmModel piece (build-time measurement uses it too). dx saturates at
// 2^63 - 1 as in eval_segment. Monotone non-decreasing in key: slope >= 0 and every step is a
// correctly rounded (monotone) operation. Result in [max(min(s.intercept, clamp), 0),
// max(clamp, 0)]. REQUIRES: |clamp| < 2^53.
template <class Seg>
inline size_t eval_pgm_segment(const Seg& s, int64_t clamp, uint64_t key) noexcept {
  constexpr uint64_t kMaxDx = (uint64_t{1} << 63) - 1;
  const uint64_t dx = std::min(key >= s.first_key ? key - s.first_key : 0, kMaxDx);
  double v = static_cast<double>(s.intercept) +
             unfused(static_cast<double>(s.slope) * static_cast<double>(static_cast<int64_t>(dx)));
  v = std::max(std::min(v, static_cast<double>(clamp)), 0.0);
  return static_cast<size_t>(static_cast<int64_t>(v + 0.5));
}

// The single evaluation function of every model (build-time verification uses it too).
// Keys below s.first_key evaluate as s.first_key; key - first_key saturates at 2^63 - 1 (only
// keys past a segment's last point get there; saturation keeps the function monotone, and
// lets both conversions be single signed instructions). Monotone non-decreasing in key
// (slope >= 0 and correctly rounded FP operations are monotone). Result in
// [s.first_rank, next_rank]. REQUIRES: s.first_rank <= next_rank < 2^53.
inline size_t eval_segment(const Segment& s, uint64_t next_rank, uint64_t key) noexcept {
  constexpr uint64_t kMaxDx = (uint64_t{1} << 63) - 1;
  const uint64_t dx = std::min(key >= s.first_key ? key - s.first_key : 0, kMaxDx);
  double v = s.intercept + unfused(s.slope * static_cast<double>(static_cast<int64_t>(dx)));
  v = std::max(v, static_cast<double>(static_cast<int64_t>(s.first_rank)));
  v = std::min(v, static_cast<double>(static_cast<int64_t>(next_rank)));
  return static_cast<size_t>(static_cast<int64_t>(v + 0.5));
}

// {pos, pos - err, pos + err + 1} clamped to [0, n].
inline SearchBound make_bound(size_t pos, uint64_t err, size_t n) noexcept {
  const size_t lo = pos > err ? pos - err : 0;
  const size_t hi = std::min<size_t>(n, pos + err + 1);
  return {std::min(pos, hi), std::min(lo, hi), hi};
}

}  // namespace detail

// A single line over all keys. Its error is whatever the data forces (measured, exact bound).
class LinearModel {
 public:
  // REQUIRES: sorted ascending (duplicates allowed). The model keeps no reference to `sorted`.
  static LinearModel build(std::span<const uint64_t> sorted, ModelOptions opts = {});
  // The SearchBound guarantee (omen/search_bound.h) for every key; hi - lo <= 2 * max_error() + 1.
  SearchBound predict(uint64_t key) const noexcept {
    if (n_ == 0 || key < seg_.first_key) return {0, 0, 0};
    return detail::make_bound(detail::eval_segment(seg_, n_, key), err_, n_);
  }
  size_t size_bytes() const noexcept { return sizeof(*this); }  // the model's own bytes
  // Largest measured |predicted - true rank| over the constraint points.
  uint64_t max_error() const noexcept { return err_; }

 private:
  Segment seg_{0, 0.0, 0.0, 0};
  uint64_t err_ = 0;
  size_t n_ = 0;
};

// Two-level recursive model index: a linear root routes a key to one of L linear leaves; each
// leaf has its own measured error and clamps to the rank range its keys can have.
class RmiModel {
 public:
  // REQUIRES: sorted ascending (duplicates allowed). L = opts.rmi_leaves (0 = automatic).
  static RmiModel build(std::span<const uint64_t> sorted, ModelOptions opts = {});
  // The SearchBound guarantee (omen/search_bound.h) for every key; hi - lo <= 2 * max_error() + 1.
  SearchBound predict(uint64_t key) const noexcept {
    if (n_ == 0 || key < root_.first_key) return {0, 0, 0};
    const size_t j = detail::eval_segment(root_, leaves_.size() - 1, key);
    const Leaf& l = leaves_[j];
    return detail::make_bound(detail::eval_segment(l.seg, l.next_rank, key), l.err, n_);
  }
  size_t size_bytes() const noexcept { return sizeof(*this) + leaves_.size() * sizeof(Leaf); }
  uint64_t max_error() const noexcept { return max_err_; }  // largest leaf error
  size_t leaf_count() const noexcept { return leaves_.size(); }

 private:
  struct Leaf {
    Segment seg;         // first_rank = smallest lower_bound a key routed here can have
    uint64_t next_rank;  // largest lower_bound a key routed here can have
    uint64_t err;        // measured error at this leaf's constraint points
  };
  Segment root_{0, 0.0, 0.0, 0};  // maps a key to a leaf index in [0, L-1]
  std::vector<Leaf> leaves_;
  uint64_t max_err_ = 0;
  size_t n_ = 0;
};

// Allocates on 64-byte (cache-line) boundaries: PgmModel's directory nodes are one line each.
template <class T>
struct LineAllocator {
  using value_type = T;
  LineAllocator() = default;
  template <class U>
  LineAllocator(const LineAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{64})); }
  void deallocate(T* p, size_t) noexcept { ::operator delete (p, std::align_val_t{64}); }
  friend bool operator==(const LineAllocator&, const LineAllocator&) noexcept { return true; }
};

// PGM-style index: the leaf level is the optimal (fewest segments) piecewise-linear fit with
// error <= epsilon of the constraint points, computed in one streaming O(n) pass (convex hulls),
// then each piece rounded to a PgmSegment (float slope, integer intercept) whose error is
// measured; a piece the rounding would push past epsilon is shortened (docs/core.md). Above the
// leaf level sits a directory of the segments' first keys with fanout kDirFanout (one cache line
// per node, a count of 8 keys per level instead of PGM's dependent evaluate-then-scan; why:
// docs/design.md). Models of kMinBucketSegments segments or more also keep a bucket table that
// finds most keys' segment without the directory: the key's bit length picks an octave, the
// next bits a bucket, the bucket names the first of the at most kBucketSpan segments its keys
// fall in (docs/design.md). Models over kMaxCompactKeys keys or more (or with opts.force_wide)
// use WidePgmSegment.
class PgmModel {
 public:
  // REQUIRES: sorted ascending (duplicates allowed). Parallel when opts.parallel.
  static PgmModel build(std::span<const uint64_t> sorted, ModelOptions opts = {});
  class Builder;
  // Rebuild the upper levels over a stored leaf level (e.g. read back from pages).
  // REQUIRES: `leaf` is the segments() (or wide_segments()) of a model built over key_count keys
  // and `epsilon` its epsilon(); then the rebuilt model predicts exactly as the original. Throws
  // std::invalid_argument when the leaf level is empty iff key_count is not 0, is not strictly
  // ordered by first_key, has decreasing intercepts or one above key_count, a negative or
  // non-finite slope, or
  // (compact form) key_count >= kMaxCompactKeys.
  static PgmModel from_segments(std::vector<PgmSegment> leaf, size_t key_count, uint32_t epsilon,
                                ModelOptions opts = {});
  static PgmModel from_segments(std::vector<WidePgmSegment> leaf, size_t key_count, uint32_t epsilon,
                                ModelOptions opts = {});

  // The SearchBound guarantee (omen/search_bound.h) for every key; hi - lo <= 2 * epsilon() + 1.
  SearchBound predict(uint64_t key) const noexcept {
    return wide_ ? predict_in(wide_levels_, key) : predict_in(levels_, key);
  }
  // Index of the last leaf segment whose first_key <= key.
  // REQUIRES: segment_count() > 0 and key >= the first segment's first_key.
  size_t find_segment(uint64_t key) const noexcept {
    return wide_ ? find_in(wide_levels_, key) : find_in(levels_, key);
  }

  size_t size_bytes() const noexcept;                                         // all levels and bookkeeping
  uint64_t max_error() const noexcept { return eps_.empty() ? 0 : eps_[0]; }  // == epsilon()
  uint32_t epsilon() const noexcept { return eps_.empty() ? 0 : eps_[0]; }    // bound used by predict
  size_t segment_count() const noexcept { return wide_ ? leaf_size(wide_levels_) : leaf_size(levels_); }
  bool is_wide() const noexcept { return wide_; }  // leaf level in wide_segments()
  // The leaf level in its layout: segments() when !is_wide(), wide_segments() otherwise (the
  // other one is empty).
  std::span<const PgmSegment> segments() const noexcept { return leaf_span(levels_); }
  std::span<const WidePgmSegment> wide_segments() const noexcept { return leaf_span(wide_levels_); }
  size_t key_count() const noexcept { return n_; }
  size_t height() const noexcept { return dir_.size() + (n_ != 0); }  // levels, leaf and directory

  static constexpr size_t kDirFanout = 8;           // first keys per directory node: one 64-byte line
  static constexpr size_t kDirTop = 16;             // the directory's top level has at most this many keys
  static constexpr size_t kBucketSpan = 8;          // segments one bucket may span (else: directory)
  static constexpr size_t kMinBucketSegments = 64;  // smaller models have no bucket table
  // Buckets of the bucket table (0 if the model has none), and how many of them span more than
  // kBucketSpan segments (their keys go through the directory).
  size_t bucket_count() const noexcept { return buckets_.size(); }
  size_t wide_bucket_count() const noexcept;

 private:
  template <class Seg>
  using Levels = std::vector<std::vector<Seg>>;  // [0] = leaf level, the only one
  // One directory level: keys[i] = first key of the level below's entry kDirFanout * i (the leaf
  // level's segment for dir_[0]); `size` real keys, padded with UINT64_MAX to whole nodes.
  struct DirLevel {
    std::vector<uint64_t, LineAllocator<uint64_t>> keys;
    size_t size = 0;
  };

  template <class Seg>
  static PgmModel build_as(std::span<const uint64_t> sorted, ModelOptions opts, bool wide);
  template <class Seg>
  static PgmModel from_leaf(std::vector<Seg> leaf, size_t key_count, uint32_t epsilon, ModelOptions opts);
  template <class Seg>
  void build_directory(const std::vector<Seg>& leaf);
  template <class Seg>
  void build_buckets(const std::vector<Seg>& leaf);

  template <class Seg>
  static size_t leaf_size(const Levels<Seg>& l) noexcept {
    return l.empty() ? 0 : l[0].size();
  }
  template <class Seg>
  static std::span<const Seg> leaf_span(const Levels<Seg>& l) noexcept {
    return l.empty() ? std::span<const Seg>() : std::span<const Seg>(l[0]);
  }
  template <class Seg>
  SearchBound predict_in(const Levels<Seg>& levels, uint64_t key) const noexcept {
    if (n_ == 0 || key < levels[0][0].first_key) return {0, 0, 0};
    const size_t s = find_in(levels, key);
    const std::vector<Seg>& leaf = levels[0];
    const int64_t clamp = s + 1 < leaf.size() ? int64_t{leaf[s + 1].intercept} : static_cast<int64_t>(n_);
    return detail::make_bound(detail::eval_pgm_segment(leaf[s], clamp, key), eps_[0], n_);
  }
  // The bucket table first (exact whenever the key's bucket spans at most kBucketSpan segments:
  // the answer is then among the bucket's first segment and the 7 after it), then the directory.
  template <class Seg>
  size_t find_in(const Levels<Seg>& levels, uint64_t key) const noexcept {
    const std::vector<Seg>& leaf = levels[0];
    if (!octaves_.empty()) {
      // Octaves below the first key's are never needed (key >= that key); max() keeps a call that
      // breaks the precondition inside the table.
      const unsigned o = std::max<unsigned>(static_cast<unsigned>(std::bit_width(key | 1)) - 1, low_octave_);
      const Octave oc = octaves_[o - low_octave_];
      const uint16_t e = buckets_[(oc.where >> 6) + ((key & ~(uint64_t{1} << o)) >> (oc.where & 63))];
      if (e != kWideBucket) return last_of_eight(leaf, oc.base + e, key);
    }
    return find_in_directory(leaf, key);
  }
  // The last segment whose first key is <= key among leaf[first] and the 7 after it (those that
  // exist). REQUIRES leaf[first].first_key <= key. The last step of both ways down. A fixed count
  // of 7 compares (no loop bound to test: 4 ns less per lookup at 100M keys): indices past the
  // last segment read the last one again, which can only over-count when it is the answer, so
  // the result is clamped to it.
  template <class Seg>
  static size_t last_of_eight(const std::vector<Seg>& leaf, size_t first, uint64_t key) noexcept {
    static_assert(kBucketSpan == kDirFanout);
    const size_t last = leaf.size() - 1;
    size_t below = 0;
    for (size_t j = 1; j < kDirFanout; ++j) below += leaf[std::min(first + j, last)].first_key <= key;
    return std::min(first + below, last);
  }
  // The directory descent. Invariant per level: t is the last entry whose key is <= key (the
  // first entry's is, as key >= the leaf's first first_key); its children are the next level's
  // node t, whose first key is that same key, so the count of the node's other keys <= key
  // extends the invariant down. Padding (UINT64_MAX) counts only for key == UINT64_MAX: clamped.
  template <class Seg>
  size_t find_in_directory(const std::vector<Seg>& leaf, uint64_t key) const noexcept {
    const DirLevel& top = dir_.back();
    size_t t = 0;
    for (size_t j = 1; j < top.size; ++j) t += top.keys[j] <= key;
    for (size_t l = dir_.size() - 1; l-- > 0;) {
      const uint64_t* node = dir_[l].keys.data() + t * kDirFanout;
      size_t below = 0;
      for (size_t j = 1; j < kDirFanout; ++j) below += node[j] <= key;
      t = std::min(t * kDirFanout + below, dir_[l].size - 1);
    }
    return last_of_eight(leaf, t * kDirFanout, key);
  }

  Levels<PgmSegment> levels_;           // the compact layout, or empty
  Levels<WidePgmSegment> wide_levels_;  // the wide layout, or empty
  std::vector<DirLevel> dir_;           // [0] over the leaf level ... back() = top; empty iff n_ == 0
  // The bucket table. Octave o holds the keys of bit length o + 1 ([2^o, 2^(o+1)); octave 0 also
  // holds key 0); with the top bit cleared, a key's bits above `shift` are its bucket in the
  // octave. A bucket's entry is the leaf segment holding its lowest key (or the first segment),
  // minus the octave's `base`; kWideBucket when its keys span more than kBucketSpan segments.
  struct Octave {
    uint32_t base = 0;   // a segment index (the table needs < kMaxBucketSegments segments)
    uint32_t where = 0;  // the octave's first bucket in buckets_ << 6 | shift (< 64)
  };
  static constexpr uint16_t kWideBucket = UINT16_MAX;
  static constexpr size_t kMaxBucketSegments = size_t{1} << 24;  // so that bucket offsets fit 26 bits
  std::vector<Octave> octaves_;  // octaves low_octave_ .. 63, or empty (no bucket table)
  std::vector<uint16_t> buckets_;
  unsigned low_octave_ = 0;    // the first leaf key's octave
  std::vector<uint32_t> eps_;  // [0]: measured error bound of the leaf level
  size_t n_ = 0;
  bool wide_ = false;
};

// Builds a PgmModel from keys that arrive in ascending order without holding them: for callers
// whose keys do not fit in memory (the index AM's external-sort build). It buffers at most
// `chunk_points` constraint points (16 bytes each) and segments the buffer whenever it is full, so
// a piece also ends at every chunk boundary: at most one segment more per chunk than build() over
// the same keys, otherwise the same fit (PGM-index's parallel build splits the same way). The
// guarantee of predict() is the same as build()'s: every piece is measured at every point, and
// intercepts never decrease across chunks. opts.parallel is ignored. Not thread-safe; the
// finished model does not depend on the builder.
class PgmModel::Builder {
 public:
  // key_count: exactly how many keys add() will receive (it fixes the segment layout and the
  // clamp of the last piece). Throws std::invalid_argument when chunk_points < 2.
  Builder(size_t key_count, ModelOptions opts, size_t chunk_points);
  ~Builder();
  Builder(const Builder&) = delete;
  Builder& operator=(const Builder&) = delete;
  // Adds the next keys. Throws std::invalid_argument when a key is below the previous one or more
  // than key_count keys arrive in all.
  void add(std::span<const uint64_t> keys);
  // The model over all keys added. Throws std::invalid_argument unless exactly key_count keys
  // were added. The builder must not be used afterwards.
  PgmModel finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace omen
