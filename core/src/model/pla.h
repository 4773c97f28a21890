// Optimal piecewise-linear approximation (PLA) with a maximum error, in one streaming pass.
#pragma once

#include <cstddef>
#include <algorithm>
#include <climits>
#include <cstdint>
#include <vector>

#include "model/points.h"
#include "omen/model.h"

namespace omen::detail {

// Streaming optimal PLA (O'Rourke 1981; the convex-hull formulation of the PGM-index):
// maintains the set of lines y = a + b*x passing within eps of every point of the current
// segment, as two convex hulls and the extreme-slope lines. Amortized O(1) per point.
// Exact integer arithmetic: x is relative to the segment's first key and kept < 2^63 (a point
// further away starts a new segment), y is an integer rank, cross products are __int128.
class OptimalPla {
 public:
  explicit OptimalPla(uint64_t eps) : eps_(static_cast<int64_t>(eps)) {}

  // Discards the current segment and starts a new one at p.
  void start(Point p);
  // Adds p when some line still passes within eps of every point of the segment and p; otherwise
  // returns false and leaves the segment unchanged. REQUIRES: p.x > the previous point's x,
  // p.y >= its y.
  bool add(Point p);
  // The lines through (ix, iy) with slope in [min_slope, max_slope] (coordinates relative to
  // the segment's first point; min_slope >= 0) pass within eps of every point of the segment, up
  // to the rounding of these long doubles. REQUIRES: points() >= 2.
  struct Family {
    long double ix, iy, min_slope, max_slope;
  };
  Family family() const;
  size_t points() const { return count_; }
  uint64_t first_x() const { return first_x_; }
  uint64_t first_y() const { return first_y_; }

 private:
  struct P {
    int64_t x, y;
  };
  static __int128 cross(const P& o, const P& a, const P& b) {
    return static_cast<__int128>(a.x - o.x) * (b.y - o.y) - static_cast<__int128>(a.y - o.y) * (b.x - o.x);
  }

  int64_t eps_;
  uint64_t first_x_ = 0, first_y_ = 0;
  int64_t last_y_ = 0;
  size_t count_ = 0;
  // rect_[0], rect_[2]: the min-slope line (upper point left, lower point right);
  // rect_[1], rect_[3]: the max-slope line (lower point left, upper point right).
  P rect_[4] = {};
  std::vector<P> upper_, lower_;  // lower hull of the upper points, upper hull of the lower ones
  size_t upper_start_ = 0, lower_start_ = 0;
};

// Largest |eval_segment(s, next_rank, x) - y| over the next `count` points replayed from cur.
uint64_t measure_error(PointCursor cur, size_t count, const Segment& s, uint64_t next_rank);

// Largest |eval(x) - y| over the next `count` points (x, y) replayed from cur (a PointCursor or
// a PointArrayCursor).
template <class Cursor, class Eval>
uint64_t max_point_error(Cursor cur, size_t count, Eval eval) {
  uint64_t err = 0;
  Point p;
  for (size_t k = 0; k < count && cur.next(&p); ++k) {
    const uint64_t pos = eval(p.x);
    err = std::max(err, pos > p.y ? pos - p.y : p.y - pos);
  }
  return err;
}

// Largest |eval_pgm_segment(s, clamp, x) - y| over the next `count` points replayed from cur.
template <class Cursor, class Seg>
uint64_t measure_pgm_error(Cursor cur, size_t count, const Seg& s, int64_t clamp) {
  return max_point_error(cur, count, [&](uint64_t x) { return eval_pgm_segment(s, clamp, x); });
}

// Segments the constraint points of keys[b, e) (a run-aligned piece of sorted keys[0, n), see
// PointCursor; `terminal` only when e == n) with OptimalPla(eps), rounding each piece to Seg
// (PgmSegment or WidePgmSegment). Appends the pieces to *out and, when not null, each piece's
// measured error to *errs and the rank of its first point to *ranks. Every error is measured
// with eval_pgm_segment(piece, n, x) at every point x of the piece and is <= eps: a piece whose
// rounding would exceed eps is shortened (down to one point, which always fits). Intercepts are
// non-decreasing and >= a_min. With the query-time clamp (the next piece's intercept) the error
// stays within the larger of the two pieces' measured errors (docs/core.md). Returns the maximum
// error (0 if there are no points).
// REQUIRES: n < kMaxCompactKeys when Seg is PgmSegment; a_min <= (rank of the first point) + eps.
template <class Seg>
uint64_t segment_range(const uint64_t* keys, size_t b, size_t e, size_t n, bool terminal, uint64_t eps,
                       std::vector<Seg>* out, std::vector<uint64_t>* errs, std::vector<uint64_t>* ranks,
                       int64_t a_min = INT64_MIN);

// The same over `count` constraint points already generated (x strictly increasing, y
// non-decreasing, ranks within a key array of n keys): the points of one chunk of a streaming
// build. Pieces end at the array's end.
template <class Seg>
uint64_t segment_points(const Point* points, size_t count, size_t n, uint64_t eps, std::vector<Seg>* out,
                        int64_t a_min);

}  // namespace omen::detail
