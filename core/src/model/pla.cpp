#include "model/pla.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace omen::detail {

namespace {
constexpr uint64_t kMaxSpan = uint64_t{1} << 63;  // keeps relative x (and x differences) in int64
}

void OptimalPla::start(Point p) {
  first_x_ = p.x;
  first_y_ = p.y;
  last_y_ = 0;
  count_ = 1;
  rect_[0] = {0, eps_};
  rect_[1] = {0, -eps_};
  upper_.clear();
  lower_.clear();
  upper_.push_back(rect_[0]);
  lower_.push_back(rect_[1]);
  upper_start_ = lower_start_ = 0;
}

bool OptimalPla::add(Point p) {
  const uint64_t dx = p.x - first_x_;
  if (dx >= kMaxSpan) return false;
  const int64_t x = static_cast<int64_t>(dx);
  const int64_t y = static_cast<int64_t>(p.y - first_y_);
  const P p1{x, y + eps_};  // upper end of the point's tolerance
  const P p2{x, y - eps_};  // lower end
  if (count_ == 1) {
    rect_[2] = p2;
    rect_[3] = p1;
    upper_.push_back(p1);
    lower_.push_back(p2);
    ++count_;
    last_y_ = y;
    return true;
  }
  // Infeasible when p1 lies below the min-slope line or p2 above the max-slope line.
  if (cross(rect_[0], rect_[2], p1) < 0 || cross(rect_[1], rect_[3], p2) > 0) return false;

  if (cross(rect_[1], rect_[3], p1) < 0) {  // p1 tightens the max slope
    size_t i = lower_start_;
    while (i + 1 < lower_.size() && cross(lower_[i], p1, lower_[i + 1]) >= 0) ++i;
    rect_[1] = lower_[i];
    rect_[3] = p1;
    lower_start_ = i;
    size_t end = upper_.size();
    while (end >= upper_start_ + 2 && cross(upper_[end - 2], upper_[end - 1], p1) <= 0) --end;
    upper_.resize(end);
    upper_.push_back(p1);
  }
  if (cross(rect_[0], rect_[2], p2) > 0) {  // p2 tightens the min slope
    size_t i = upper_start_;
    while (i + 1 < upper_.size() && cross(upper_[i], p2, upper_[i + 1]) <= 0) ++i;
    rect_[0] = upper_[i];
    rect_[2] = p2;
    upper_start_ = i;
    size_t end = lower_.size();
    while (end >= lower_start_ + 2 && cross(lower_[end - 2], lower_[end - 1], p2) >= 0) --end;
    lower_.resize(end);
    lower_.push_back(p2);
  }
  ++count_;
  last_y_ = y;
  return true;
}

OptimalPla::Family OptimalPla::family() const {
  using LD = long double;
  const P a = rect_[0], b = rect_[2], c = rect_[1], d = rect_[3];
  const LD min_slope = LD(b.y - a.y) / LD(b.x - a.x);
  const LD max_slope = LD(d.y - c.y) / LD(d.x - c.x);
  if (!((min_slope + max_slope) / 2 >= 0)) {
    // Then all y lie within 2*eps of each other: the flat line in the middle fits.
    return {0, LD(last_y_) / 2, 0, 0};
  }
  const __int128 den =
      static_cast<__int128>(b.x - a.x) * (d.y - c.y) - static_cast<__int128>(b.y - a.y) * (d.x - c.x);
  if (den == 0) {  // parallel extreme lines: the middle one, through its point at x = 0
    const LD mid = ((LD(a.y) - min_slope * LD(a.x)) + (LD(c.y) - max_slope * LD(c.x))) / 2;
    return {0, mid, min_slope, min_slope};
  }
  // Both extreme lines pass through their intersection; so does every line between them.
  const __int128 num =
      static_cast<__int128>(c.x - a.x) * (d.y - c.y) - static_cast<__int128>(c.y - a.y) * (d.x - c.x);
  const LD t = LD(num) / LD(den);
  return {LD(a.x) + t * LD(b.x - a.x), LD(a.y) + t * LD(b.y - a.y), std::max<LD>(0, min_slope), max_slope};
}

uint64_t measure_error(PointCursor cur, size_t count, const Segment& s, uint64_t next_rank) {
  return max_point_error(cur, count, [&](uint64_t x) { return eval_segment(s, next_rank, x); });
}

namespace {

// The representable slope nearest to b, moved one step into [lo, hi] when rounding left it; >= 0.
template <class Slope>
Slope pick_slope(long double b, long double lo, long double hi) {
  Slope f = static_cast<Slope>(b);
  if (f < lo) {
    const Slope g = std::nextafter(f, std::numeric_limits<Slope>::infinity());
    if (g <= hi) f = g;
  } else if (f > hi) {
    const Slope g = std::nextafter(f, Slope{0});
    if (g >= lo) f = g;
  }
  return f > 0 ? f : Slope{0};
}

// Rounds the piece `pla` holds (its points replayed from `start`) to a Seg with error <= eps,
// measured at every point with eval_pgm_segment(.., n, ..). False when no candidate fits.
template <class Seg, class Cursor>
bool fit_piece(const OptimalPla& pla, const Cursor& start, uint64_t eps, uint64_t n, int64_t a_min, Seg* out,
               uint64_t* err) {
  using LD = long double;
  using Slope = decltype(Seg::slope);
  using Icpt = decltype(Seg::intercept);
  const uint64_t x0 = pla.first_x(), y0 = pla.first_y();
  const LD lowest = std::max<LD>(LD(a_min), LD(std::numeric_limits<Icpt>::min()));
  if (pla.points() == 1) {  // flat through the point, or as low as a_min allows: a_min <= y0 + eps
    const Icpt a = static_cast<Icpt>(std::max<LD>(LD(y0), lowest));
    *out = Seg{x0, Slope{0}, a};
    *err = measure_pgm_error(start, 1, *out, static_cast<int64_t>(n));
    return *err <= eps;
  }
  const OptimalPla::Family f = pla.family();
  const LD lo = f.min_slope, hi = std::max(f.min_slope, f.max_slope);
  const LD mid = (lo + hi) / 2;
  // The intercept (at the first point) must be an integer: try the two integers around the
  // middle line's, each with the slope of the line through (ix, iy) and it.
  const LD a_mid = f.iy - mid * f.ix;
  const LD a_near = std::nearbyint(a_mid);
  const LD cands[2] = {a_near, a_near + (a_mid >= a_near ? 1 : -1)};
  for (const LD a_rel : cands) {
    const LD a = std::clamp<LD>(LD(y0) + a_rel, lowest, LD(n));
    LD b = f.ix > 0 ? (f.iy - (a - LD(y0))) / f.ix : mid;
    b = std::clamp(b, lo, hi);
    const Seg s{x0, pick_slope<Slope>(b, lo, hi), static_cast<Icpt>(a)};
    const uint64_t e = measure_pgm_error(start, pla.points(), s, static_cast<int64_t>(n));
    if (e <= eps) {
      *out = s;
      *err = e;
      return true;
    }
  }
  // Near-degenerate pieces (the PLA stopped where the feasible lines shrink to almost one, common
  // at tiny eps): with an integer intercept a, rounding to nearest accepts any line within
  // eps + 1/2 of every point, so compute that exact slope range for each candidate a by a pass
  // over the points, and take its middle. Candidates: a_near, then outwards, within y0 +- eps
  // (at most 33 of them).
  const int64_t reach = static_cast<int64_t>(std::min<uint64_t>(eps, 16));
  for (int64_t k = 0; k <= 2 * reach; ++k) {
    const int64_t step = (k + 1) / 2;
    const LD a_rel =
        std::clamp<LD>(cands[0] + ((k % 2) == (cands[1] > cands[0]) ? -step : step), -LD(eps), LD(eps));
    if (k > 0 && std::fabs(a_rel - cands[0]) < step) continue;  // clamped onto a tried value
    const LD a = std::clamp<LD>(LD(y0) + a_rel, lowest, LD(n));
    LD blo = 0, bhi = std::numeric_limits<LD>::infinity();
    Cursor cur = start;
    Point p;
    constexpr LD kMargin = 1.0L / 64;  // stay clear of the round-half-up tie
    for (size_t k = 0; k < pla.points() && cur.next(&p); ++k) {
      const LD dy = LD(p.y) - a;
      if (p.x == x0) {
        if (dy > LD(eps) || -dy > LD(eps)) break;
        continue;
      }
      const LD dx = LD(p.x - x0);
      blo = std::max(blo, (dy - LD(eps) - 0.5L + kMargin) / dx);
      bhi = std::min(bhi, (dy + LD(eps) + 0.5L - kMargin) / dx);
    }
    if (!(blo <= bhi)) continue;
    const Seg s{x0, pick_slope<Slope>((blo + bhi) / 2, blo, bhi), static_cast<Icpt>(a)};
    const uint64_t e = measure_pgm_error(start, pla.points(), s, static_cast<int64_t>(n));
    if (e <= eps) {
      *out = s;
      *err = e;
      return true;
    }
  }
  return false;
}

// segment_range over the points `cur` replays.
template <class Seg, class Cursor>
uint64_t segment_cursor(Cursor cur, size_t n, uint64_t eps, std::vector<Seg>* out,
                        std::vector<uint64_t>* errs, std::vector<uint64_t>* ranks, int64_t a_min) {
  OptimalPla pla(eps);
  uint64_t max_err = 0;
  Point first;
  for (;;) {
    const Cursor start = cur;
    if (!cur.next(&first)) break;
    const Cursor after_first = cur;
    // The longest piece from `first` the PLA allows, at most `limit` points; halved while its
    // rounding to Seg breaks eps (rare: very long pieces, tiny eps).
    for (size_t limit = SIZE_MAX;;) {
      pla.start(first);
      Cursor c = after_first;
      for (Point p; pla.points() < limit;) {
        const Cursor before = c;
        if (!c.next(&p)) break;
        if (!pla.add(p)) {
          c = before;
          break;
        }
      }
      Seg s;
      uint64_t err;
      if (fit_piece(pla, start, eps, n, a_min, &s, &err)) {
        a_min = static_cast<int64_t>(s.intercept);  // intercepts never decrease (monotonicity)
        out->push_back(s);
        if (errs) errs->push_back(err);
        if (ranks) ranks->push_back(first.y);
        max_err = std::max(max_err, err);
        cur = c;
        break;
      }
      // One point always fits (a_min <= its rank + eps): failing there is a broken precondition.
      if (pla.points() == 1) throw std::logic_error("omen::detail::segment_range: a_min above rank + eps");
      limit = pla.points() / 2;
    }
  }
  return max_err;
}

}  // namespace

template <class Seg>
uint64_t segment_range(const uint64_t* keys, size_t b, size_t e, size_t n, bool terminal, uint64_t eps,
                       std::vector<Seg>* out, std::vector<uint64_t>* errs, std::vector<uint64_t>* ranks,
                       int64_t a_min) {
  return segment_cursor(PointCursor(keys, b, e, n, terminal), n, eps, out, errs, ranks, a_min);
}

template <class Seg>
uint64_t segment_points(const Point* points, size_t count, size_t n, uint64_t eps, std::vector<Seg>* out,
                        int64_t a_min) {
  return segment_cursor(PointArrayCursor(points, count), n, eps, out, nullptr, nullptr, a_min);
}

template uint64_t segment_points<PgmSegment>(const Point*, size_t, size_t, uint64_t, std::vector<PgmSegment>*,
                                             int64_t);
template uint64_t segment_points<WidePgmSegment>(const Point*, size_t, size_t, uint64_t,
                                                 std::vector<WidePgmSegment>*, int64_t);
template uint64_t segment_range<PgmSegment>(const uint64_t*, size_t, size_t, size_t, bool, uint64_t,
                                            std::vector<PgmSegment>*, std::vector<uint64_t>*,
                                            std::vector<uint64_t>*, int64_t);
template uint64_t segment_range<WidePgmSegment>(const uint64_t*, size_t, size_t, size_t, bool, uint64_t,
                                                std::vector<WidePgmSegment>*, std::vector<uint64_t>*,
                                                std::vector<uint64_t>*, int64_t);

}  // namespace omen::detail
