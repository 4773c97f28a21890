#include "model/pla.h"

#include <algorithm>

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

Segment OptimalPla::segment() const {
  using LD = long double;
  Segment s{first_x_, 0.0, static_cast<double>(first_y_), first_y_};
  if (count_ < 2) return s;
  const P a = rect_[0], b = rect_[2], c = rect_[1], d = rect_[3];
  const LD min_slope = LD(b.y - a.y) / LD(b.x - a.x);
  const LD max_slope = LD(d.y - c.y) / LD(d.x - c.x);
  LD slope = (min_slope + max_slope) / 2;
  LD intercept;  // relative to (first_x_, first_y_)
  const __int128 den =
      static_cast<__int128>(b.x - a.x) * (d.y - c.y) - static_cast<__int128>(b.y - a.y) * (d.x - c.x);
  if (den == 0) {  // parallel extreme lines: take the middle one
    intercept = ((LD(a.y) - min_slope * LD(a.x)) + (LD(c.y) - max_slope * LD(c.x))) / 2;
  } else {  // through the intersection of the extreme lines
    const __int128 num =
        static_cast<__int128>(c.x - a.x) * (d.y - c.y) - static_cast<__int128>(c.y - a.y) * (d.x - c.x);
    const LD t = LD(num) / LD(den);
    const LD ix = LD(a.x) + t * LD(b.x - a.x);
    const LD iy = LD(a.y) + t * LD(b.y - a.y);
    intercept = iy - slope * ix;
  }
  if (!(slope >= 0)) {  // then all y lie within 2*eps: a flat line in the middle fits
    slope = 0;
    intercept = LD(last_y_) / 2;
  }
  s.slope = static_cast<double>(slope);
  s.intercept = static_cast<double>(intercept + LD(first_y_));
  return s;
}

uint64_t measure_error(PointCursor cur, size_t count, const Segment& s, uint64_t next_rank) {
  uint64_t err = 0;
  Point p;
  for (size_t k = 0; k < count && cur.next(&p); ++k) {
    const uint64_t pos = eval_segment(s, next_rank, p.x);
    err = std::max(err, pos > p.y ? pos - p.y : p.y - pos);
  }
  return err;
}

uint64_t segment_range(const uint64_t* keys, size_t b, size_t e, size_t n, bool terminal, uint64_t eps,
                       std::vector<Segment>* out, std::vector<uint64_t>* errs) {
  PointCursor cur(keys, b, e, n, terminal);
  PointCursor seg_start = cur;
  OptimalPla pla(eps);
  uint64_t max_err = 0;
  auto close = [&](uint64_t next_rank) {
    const Segment s = pla.segment();
    const uint64_t err = measure_error(seg_start, pla.points(), s, next_rank);
    max_err = std::max(max_err, err);
    out->push_back(s);
    if (errs) errs->push_back(err);
  };
  Point p;
  PointCursor before = cur;
  if (!cur.next(&p)) return 0;
  pla.start(p);
  for (;;) {
    before = cur;
    if (!cur.next(&p)) break;
    if (!pla.add(p)) {
      close(p.y);
      seg_start = before;
      pla.start(p);
    }
  }
  close(e);  // the next chunk's first point has rank e (with terminal, e == n)
  return max_err;
}

}  // namespace omen::detail
