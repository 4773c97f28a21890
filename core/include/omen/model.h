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
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "omen/search_bound.h"

namespace omen {

// Build options. Aggregate: members may be added at the end only.
struct ModelOptions {
  uint32_t epsilon = 64;          // requested error bound of the leaf level (PGM); RMI leaf-count hint
  uint32_t epsilon_internal = 4;  // requested error bound of PGM upper levels
  bool parallel = false;          // segment chunks of the input in parallel with oneTBB (PGM)
  uint32_t rmi_leaves = 0;        // RMI second-level size; 0 = automatic (about n / 2048)
};

// One linear piece: for keys k >= first_key up to the next segment's first_key,
//   predicted rank = clamp(round(intercept + slope * double(k - first_key)), first_rank, next_rank)
// where next_rank is the next segment's first_rank (or the key count for the last segment).
// slope >= 0 always. This is the unit the index AM stores in pages.
struct Segment {
  uint64_t first_key;
  double slope;
  double intercept;
  uint64_t first_rank;
};

namespace detail {

// The single evaluation function of every model (build-time verification uses it too).
// Keys below s.first_key evaluate as s.first_key; key - first_key saturates at 2^63 - 1 (only
// keys past a segment's last point get there; saturation keeps the function monotone, and
// lets both conversions be single signed instructions). Monotone non-decreasing in key
// (slope >= 0 and correctly rounded FP operations are monotone). Result in
// [s.first_rank, next_rank]. REQUIRES: s.first_rank <= next_rank < 2^53.
inline size_t eval_segment(const Segment& s, uint64_t next_rank, uint64_t key) noexcept {
  constexpr uint64_t kMaxDx = (uint64_t{1} << 63) - 1;
  const uint64_t dx = std::min(key >= s.first_key ? key - s.first_key : 0, kMaxDx);
  double v = s.intercept + s.slope * static_cast<double>(static_cast<int64_t>(dx));
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

// PGM-style index: the leaf level is the optimal (fewest segments) piecewise-linear fit with
// error <= epsilon of the constraint points, computed in one streaming O(n) pass (convex hulls);
// each upper level is the same fit, with epsilon_internal, over the first keys of the level below.
class PgmModel {
 public:
  // REQUIRES: sorted ascending (duplicates allowed). Parallel when opts.parallel.
  static PgmModel build(std::span<const uint64_t> sorted, ModelOptions opts = {});
  // Rebuilds the upper levels over a stored leaf level (e.g. read back from pages).
  // REQUIRES: `leaf` is the segments() of a model built over key_count keys and `epsilon` its
  // epsilon(); then the rebuilt model predicts exactly as the original. Throws
  // std::invalid_argument when the leaf level is not ordered by first_key and first_rank, does
  // not start at rank 0, has a rank above key_count or a negative/NaN slope.
  static PgmModel from_segments(std::vector<Segment> leaf, size_t key_count, uint32_t epsilon,
                                ModelOptions opts = {});

  // The SearchBound guarantee (omen/search_bound.h) for every key; hi - lo <= 2 * epsilon() + 1.
  SearchBound predict(uint64_t key) const noexcept {
    if (n_ == 0 || key < levels_[0][0].first_key) return {0, 0, 0};
    const size_t s = find_segment(key);
    const std::vector<Segment>& leaf = levels_[0];
    const uint64_t next = s + 1 < leaf.size() ? leaf[s + 1].first_rank : n_;
    return detail::make_bound(detail::eval_segment(leaf[s], next, key), eps_[0], n_);
  }
  // Index of the last leaf segment whose first_key <= key.
  // REQUIRES: segment_count() > 0 and key >= segments()[0].first_key.
  size_t find_segment(uint64_t key) const noexcept;

  size_t size_bytes() const noexcept;                                         // all levels and bookkeeping
  uint64_t max_error() const noexcept { return eps_.empty() ? 0 : eps_[0]; }  // == epsilon()
  uint32_t epsilon() const noexcept { return eps_.empty() ? 0 : eps_[0]; }    // bound used by predict
  size_t segment_count() const noexcept { return levels_.empty() ? 0 : levels_[0].size(); }
  std::span<const Segment> segments() const noexcept {
    return levels_.empty() ? std::span<const Segment>() : std::span<const Segment>(levels_[0]);
  }
  size_t key_count() const noexcept { return n_; }
  size_t height() const noexcept { return levels_.size(); }  // number of levels, leaf included

 private:
  void build_upper_levels(uint32_t epsilon_internal);

  std::vector<std::vector<Segment>> levels_;  // levels_[0] = leaf level; back() = root level
  std::vector<uint32_t> eps_;                 // measured error bound of each level
  size_t n_ = 0;
};

}  // namespace omen
