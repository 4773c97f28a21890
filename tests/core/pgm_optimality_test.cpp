// PgmModel's leaf level is the OPTIMAL segmentation: every segment is as long as possible, i.e.
// adding the next point makes the points unfittable within epsilon. Checked against a brute-force
// exact feasibility test on small inputs (public API only: segments() and the keys).
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "omen/model.h"

namespace {

struct Pt {
  int64_t x, y;
};

// Exact: is there a line within eps of every point? If the feasible set of (intercept, slope) is
// non-empty it is a bounded polygon (distinct x) with a vertex where two constraints of two
// different points are tight; try every such vertex, in integer arithmetic.
bool fits(const std::vector<Pt>& p, int64_t eps) {
  if (p.size() <= 2) return true;
  for (size_t a = 0; a < p.size(); ++a) {
    for (size_t b = a + 1; b < p.size(); ++b) {
      for (int sa : {-1, 1}) {
        for (int sb : {-1, 1}) {
          const int64_t ya = p[a].y + sa * eps, yb = p[b].y + sb * eps;
          const int64_t d = p[b].x - p[a].x, num = yb - ya;  // slope = num / d, d > 0
          bool ok = true;
          for (const Pt& q : p) {  // |ya + slope (x - xa) - y| <= eps, times d
            const int64_t v = ya * d + num * (q.x - p[a].x) - q.y * d;
            if (v > eps * d || v < -eps * d) {
              ok = false;
              break;
            }
          }
          if (ok) return true;
        }
      }
    }
  }
  return false;
}

TEST(PgmOptimality, EverySegmentIsMaximal) {
  std::mt19937_64 rng(4);
  for (int trial = 0; trial < 30; ++trial) {
    std::set<uint64_t> s;
    const uint64_t range = trial % 2 ? 2000 : 100000;
    while (s.size() < 150) s.insert(rng() % range);
    const std::vector<uint64_t> keys(s.begin(), s.end());
    for (uint32_t eps : {1u, 2u, 4u}) {
      const omen::PgmModel m = omen::PgmModel::build(keys, {.epsilon = eps});
      const auto segs = m.segments();
      for (size_t i = 0; i + 1 < segs.size(); ++i) {
        std::vector<Pt> pts;  // distinct keys: the points are (key, index)
        const auto rank = [&](size_t j) {
          return static_cast<size_t>(std::lower_bound(keys.begin(), keys.end(), segs[j].first_key) -
                                     keys.begin());
        };
        for (size_t r = rank(i); r <= rank(i + 1); ++r)
          pts.push_back({static_cast<int64_t>(keys[r]), static_cast<int64_t>(r)});
        EXPECT_FALSE(fits(pts, eps)) << "trial " << trial << " eps " << eps << " segment " << i;
        pts.pop_back();
        EXPECT_TRUE(fits(pts, eps)) << "trial " << trial << " eps " << eps << " segment " << i;
      }
    }
  }
}

}  // namespace
