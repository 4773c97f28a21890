// LinearModel and RmiModel: endpoint-fitted lines over the constraint points, errors measured
// with eval_segment at every point.
#include <algorithm>

#include "model/pla.h"
#include "omen/model.h"

namespace omen {

namespace {

using detail::Point;
using detail::PointCursor;

// The line through a and b (a.x < b.x), or flat at a.y when a == b.
Segment endpoint_line(Point a, Point b, uint64_t first_rank) {
  Segment s{a.x, 0.0, static_cast<double>(a.y), first_rank};
  if (b.x > a.x) s.slope = static_cast<double>(b.y - a.y) / static_cast<double>(b.x - a.x);
  return s;
}

}  // namespace

LinearModel LinearModel::build(std::span<const uint64_t> sorted, ModelOptions) {
  LinearModel m;
  m.n_ = sorted.size();
  if (sorted.empty()) return m;
  const PointCursor start(sorted.data(), 0, m.n_, m.n_, true);
  PointCursor cur = start;
  Point first, last, p;
  cur.next(&first);
  last = first;
  size_t count = 1;
  while (cur.next(&p)) last = p, ++count;
  m.seg_ = endpoint_line(first, last, 0);
  m.err_ = detail::measure_error(start, count, m.seg_, m.n_);
  return m;
}

RmiModel RmiModel::build(std::span<const uint64_t> sorted, ModelOptions opts) {
  RmiModel m;
  const size_t n = sorted.size();
  m.n_ = n;
  if (n == 0) return m;
  const size_t leaves = opts.rmi_leaves ? opts.rmi_leaves : std::max<size_t>(1, n / 2048);
  // Root: a line from the first to the last key over [0, leaves), clamped to [0, leaves - 1].
  const uint64_t span = sorted.back() - sorted.front();
  m.root_ = {sorted.front(), 0.0, 0.0, 0};
  if (span > 0) m.root_.slope = static_cast<double>(leaves) / static_cast<double>(span);
  // A leaf no point reaches: every key routed there has lower_bound `rank`.
  auto empty_leaf = [](uint64_t rank) { return Leaf{{0, 0.0, double(rank), rank}, rank, 0}; };
  m.leaves_.resize(leaves);

  // Points arrive with non-decreasing leaf index (the root is monotone): close each leaf when the
  // index moves on. A key routed to leaf j has lower_bound in [first y of j, first y of the next
  // non-empty leaf], so leaves clamp to that range (empty leaves predict it exactly).
  PointCursor cur(sorted.data(), 0, n, n, true);
  PointCursor leaf_start = cur;
  Point first{}, last{}, p;
  size_t count = 0, j = 0, filled = 0;  // leaves [0, filled) are final
  auto close = [&](uint64_t next_rank) {
    for (; filled < j; ++filled) m.leaves_[filled] = empty_leaf(first.y);
    Leaf& l = m.leaves_[j];
    l.seg = endpoint_line(first, last, first.y);
    l.next_rank = next_rank;
    l.err = detail::measure_error(leaf_start, count, l.seg, next_rank);
    m.max_err_ = std::max(m.max_err_, l.err);
    filled = j + 1;
  };
  for (PointCursor before = cur; cur.next(&p); before = cur) {
    const size_t pj = detail::eval_segment(m.root_, leaves - 1, p.x);
    if (count > 0 && pj != j) {
      close(p.y);
      count = 0;
    }
    if (count == 0) first = p, j = pj, leaf_start = before;
    last = p;
    ++count;
  }
  close(n);
  for (; filled < leaves; ++filled) m.leaves_[filled] = empty_leaf(n);
  return m;
}

}  // namespace omen
