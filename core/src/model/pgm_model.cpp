// PgmModel: leaf level by segment_range (optionally in parallel chunks), upper levels over the
// first keys of the level below.
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "model/pla.h"
#include "omen/model.h"

namespace omen {

namespace {

constexpr size_t kMinChunk = size_t{1} << 20;  // keys per parallel chunk, at least

// Chunk boundaries over keys[0, n): run-aligned (a boundary never splits equal keys).
std::vector<size_t> chunk_bounds(std::span<const uint64_t> keys, size_t chunks) {
  std::vector<size_t> bounds{0};
  const size_t n = keys.size();
  for (size_t c = 1; c < chunks; ++c) {
    size_t i = std::max(bounds.back() + 1, n / chunks * c);
    while (i < n && keys[i] == keys[i - 1]) ++i;
    if (i >= n) break;
    bounds.push_back(i);
  }
  bounds.push_back(n);
  return bounds;
}

uint32_t to_u32(uint64_t v) {
  if (v > UINT32_MAX) throw std::overflow_error("omen::PgmModel: error bound exceeds 2^32");
  return static_cast<uint32_t>(v);
}

}  // namespace

template <class Seg>
PgmModel PgmModel::build_as(std::span<const uint64_t> sorted, ModelOptions opts, bool wide) {
  PgmModel m;
  m.n_ = sorted.size();
  m.wide_ = wide;
  if (sorted.empty()) return m;
  const size_t n = sorted.size();
  const size_t threads = static_cast<size_t>(std::max(1, tbb::this_task_arena::max_concurrency()));
  const size_t chunks = opts.parallel ? std::min(4 * threads, std::max<size_t>(1, n / kMinChunk)) : 1;
  std::vector<Seg> leaf;
  uint64_t err = 0;
  if (chunks <= 1) {
    err = detail::segment_range(sorted.data(), 0, n, n, true, opts.epsilon, &leaf, nullptr, nullptr);
  } else {
    const std::vector<size_t> b = chunk_bounds(sorted, chunks);
    const size_t parts = b.size() - 1;
    std::vector<std::vector<Seg>> segs(parts);
    std::vector<uint64_t> errs(parts);
    tbb::parallel_for(size_t{0}, parts, [&](size_t c) {
      errs[c] = detail::segment_range(sorted.data(), b[c], b[c + 1], n, c + 1 == parts, opts.epsilon,
                                      &segs[c], nullptr, nullptr);
    });
    // Intercepts must not decrease across a chunk boundary either: a chunk that starts below its
    // predecessor's last intercept is segmented again from that bound (rare).
    for (size_t c = 1; c < parts; ++c) {
      if (segs[c].empty() || segs[c - 1].empty() || segs[c][0].intercept >= segs[c - 1].back().intercept)
        continue;
      segs[c].clear();
      errs[c] =
          detail::segment_range(sorted.data(), b[c], b[c + 1], n, c + 1 == parts, opts.epsilon, &segs[c],
                                nullptr, nullptr, static_cast<int64_t>(segs[c - 1].back().intercept));
    }
    size_t total = 0;
    for (const auto& s : segs) total += s.size();
    leaf.reserve(total);
    for (size_t c = 0; c < parts; ++c) {
      leaf.insert(leaf.end(), segs[c].begin(), segs[c].end());
      err = std::max(err, errs[c]);
    }
  }
  m.eps_.push_back(to_u32(err));
  Levels<Seg>* levels = nullptr;
  if constexpr (std::is_same_v<Seg, PgmSegment>)
    levels = &m.levels_;
  else
    levels = &m.wide_levels_;
  levels->push_back(std::move(leaf));
  m.build_directory(levels->front());
  return m;
}

PgmModel PgmModel::build(std::span<const uint64_t> sorted, ModelOptions opts) {
  if (opts.force_wide || sorted.size() >= kMaxCompactKeys)
    return build_as<WidePgmSegment>(sorted, opts, true);
  return build_as<PgmSegment>(sorted, opts, false);
}

template <class Seg>
PgmModel PgmModel::from_leaf(std::vector<Seg> leaf, size_t key_count, uint32_t epsilon,
                             ModelOptions /*opts*/) {
  for (size_t i = 0; i < leaf.size(); ++i) {
    const bool ordered =
        i == 0 || (leaf[i - 1].first_key < leaf[i].first_key && leaf[i - 1].intercept <= leaf[i].intercept);
    if (!ordered || leaf[i].intercept > static_cast<int64_t>(key_count) || !(leaf[i].slope >= 0) ||
        !std::isfinite(leaf[i].slope))
      throw std::invalid_argument("omen::PgmModel::from_segments: malformed leaf level");
  }
  if (leaf.empty() != (key_count == 0))
    throw std::invalid_argument("omen::PgmModel::from_segments: empty leaf level");
  PgmModel m;
  m.n_ = key_count;
  m.wide_ = std::is_same_v<Seg, WidePgmSegment>;
  if (key_count == 0) return m;
  m.eps_.push_back(epsilon);
  Levels<Seg>* levels = nullptr;
  if constexpr (std::is_same_v<Seg, PgmSegment>)
    levels = &m.levels_;
  else
    levels = &m.wide_levels_;
  levels->push_back(std::move(leaf));
  m.build_directory(levels->front());
  return m;
}

PgmModel PgmModel::from_segments(std::vector<PgmSegment> leaf, size_t key_count, uint32_t epsilon,
                                 ModelOptions opts) {
  if (key_count >= kMaxCompactKeys)
    throw std::invalid_argument("omen::PgmModel::from_segments: too many keys for PgmSegment");
  return from_leaf(std::move(leaf), key_count, epsilon, opts);
}

PgmModel PgmModel::from_segments(std::vector<WidePgmSegment> leaf, size_t key_count, uint32_t epsilon,
                                 ModelOptions opts) {
  return from_leaf(std::move(leaf), key_count, epsilon, opts);
}

template <class Seg>
void PgmModel::build_directory(const std::vector<Seg>& leaf) {
  auto level_over = [](size_t size, auto&& key_at) {
    DirLevel d;
    d.size = (size + kDirFanout - 1) / kDirFanout;
    d.keys.assign((d.size + kDirFanout - 1) / kDirFanout * kDirFanout, UINT64_MAX);
    for (size_t i = 0; i < d.size; ++i) d.keys[i] = key_at(i * kDirFanout);
    return d;
  };
  dir_.push_back(level_over(leaf.size(), [&](size_t i) { return leaf[i].first_key; }));
  while (dir_.back().size > kDirTop) {
    const DirLevel& below = dir_.back();
    DirLevel up = level_over(below.size, [&](size_t i) { return below.keys[i]; });
    dir_.push_back(std::move(up));
  }
  build_buckets(leaf);
}

// Each octave gets the smallest power of two of buckets that is at least the number of segments
// its keys meet (so on a smooth distribution a bucket meets one or two segments), at most one
// per key of the octave: buckets < 2 * (segments + 64), each placed by two binary searches.
template <class Seg>
void PgmModel::build_buckets(const std::vector<Seg>& leaf) {
  octaves_.clear();
  buckets_.clear();
  const size_t n = leaf.size();
  if (n < kMinBucketSegments || n >= kMaxBucketSegments) return;
  const uint64_t k0 = leaf[0].first_key;
  low_octave_ = static_cast<unsigned>(std::bit_width(k0 | 1)) - 1;
  auto segment_of = [&](uint64_t k) {  // last segment whose first key is <= k (k >= k0)
    return static_cast<size_t>(std::upper_bound(leaf.begin(), leaf.end(), k,
                                                [](uint64_t v, const Seg& s) { return v < s.first_key; }) -
                               leaf.begin() - 1);
  };
  octaves_.resize(64 - low_octave_);
  for (unsigned o = low_octave_; o < 64; ++o) {
    const uint64_t lo = o == 0 ? 0 : uint64_t{1} << o;
    const uint64_t hi = o == 63 ? UINT64_MAX : (uint64_t{2} << o) - 1;
    Octave& oc = octaves_[o - low_octave_];
    const size_t base = segment_of(std::max(lo, k0));
    const size_t meets = segment_of(hi) - base + 1;
    unsigned r = 0;  // log2 of the octave's bucket count; the octave's keys have o bits below the top one
    while ((size_t{1} << r) < meets && r < o) ++r;
    const unsigned shift = o - r;
    oc.base = static_cast<uint32_t>(base);
    oc.where = static_cast<uint32_t>(buckets_.size() << 6 | shift);
    const size_t buckets = size_t{1} << r;
    for (size_t j = 0; j < buckets; ++j) {
      const uint64_t first = lo + (uint64_t{j} << shift);
      const uint64_t last = j + 1 < buckets ? first + (uint64_t{1} << shift) - 1 : hi;
      if (last < k0) {
        buckets_.push_back(0);  // below every segment: never read
        continue;
      }
      const size_t a = segment_of(std::max(first, k0)), b = segment_of(last);
      const bool fits = b - a < kBucketSpan && a - base < kWideBucket;
      buckets_.push_back(fits ? static_cast<uint16_t>(a - base) : kWideBucket);
    }
  }
}

size_t PgmModel::wide_bucket_count() const noexcept {
  return static_cast<size_t>(std::count(buckets_.begin(), buckets_.end(), kWideBucket));
}

// The streaming build: constraint points generated key by key (the rules of PointCursor),
// segmented a chunk at a time.
struct PgmModel::Builder::Impl {
  size_t n;
  ModelOptions opts;
  size_t chunk;
  bool wide;
  std::vector<detail::Point> points;
  std::vector<PgmSegment> leaf;
  std::vector<WidePgmSegment> wide_leaf;
  uint64_t err = 0;
  int64_t a_min = std::numeric_limits<int64_t>::min();  // last intercept: never decrease
  size_t seen = 0;                                      // keys added so far (the next key's rank)
  uint64_t prev = 0;                                    // the last key added
  size_t run = 0;                                       // copies of prev seen so far

  void push(detail::Point p) {
    points.push_back(p);
    if (points.size() == chunk) flush();
  }
  template <class Seg>
  void segment(std::vector<Seg>* out) {
    err = std::max(err, detail::segment_points(points.data(), points.size(), n, opts.epsilon, out, a_min));
    a_min = static_cast<int64_t>(out->back().intercept);
  }
  void flush() {
    if (points.empty()) return;
    if (wide)
      segment(&wide_leaf);
    else
      segment(&leaf);
    points.clear();
  }
};

PgmModel::Builder::Builder(size_t key_count, ModelOptions opts, size_t chunk_points) {
  if (chunk_points < 2) throw std::invalid_argument("omen::PgmModel::Builder: chunk_points < 2");
  impl_ = std::make_unique<Impl>();
  impl_->n = key_count;
  impl_->opts = opts;
  impl_->chunk = chunk_points;
  impl_->wide = opts.force_wide || key_count >= kMaxCompactKeys;
  impl_->points.reserve(chunk_points);
}

PgmModel::Builder::~Builder() = default;

void PgmModel::Builder::add(std::span<const uint64_t> keys) {
  Impl& b = *impl_;
  if (keys.size() > b.n - b.seen)
    throw std::invalid_argument("omen::PgmModel::Builder: more keys than key_count");
  for (const uint64_t k : keys) {
    if (b.seen == 0) {
      b.push({k, 0});
      b.run = 1;
    } else if (k == b.prev) {
      ++b.run;
    } else {
      if (k < b.prev) throw std::invalid_argument("omen::PgmModel::Builder: keys out of order");
      // After a duplicated key d, the point (d + 1, rank) makes the rank jump exactly at d + 1.
      if (b.run >= 2 && b.prev + 1 < k) b.push({b.prev + 1, b.seen});
      b.push({k, b.seen});
      b.run = 1;
    }
    b.prev = k;
    ++b.seen;
  }
}

PgmModel PgmModel::Builder::finish() {
  Impl& b = *impl_;
  if (b.seen != b.n) throw std::invalid_argument("omen::PgmModel::Builder: fewer keys than key_count");
  if (b.run >= 2 && b.prev != std::numeric_limits<uint64_t>::max()) b.push({b.prev + 1, b.n});
  b.flush();
  PgmModel m;
  m.n_ = b.n;
  m.wide_ = b.wide;
  if (b.n == 0) return m;
  m.eps_.push_back(to_u32(b.err));
  if (b.wide) {
    m.wide_levels_.push_back(std::move(b.wide_leaf));
    m.build_directory(m.wide_levels_.front());
  } else {
    m.levels_.push_back(std::move(b.leaf));
    m.build_directory(m.levels_.front());
  }
  return m;
}

size_t PgmModel::size_bytes() const noexcept {
  size_t bytes = sizeof(*this) + eps_.size() * sizeof(uint32_t);
  for (const auto& d : dir_) bytes += d.keys.size() * sizeof(uint64_t) + sizeof(d);
  bytes += octaves_.size() * sizeof(Octave) + buckets_.size() * sizeof(uint16_t);
  for (const auto& level : levels_) bytes += level.size() * sizeof(PgmSegment) + sizeof(level);
  for (const auto& level : wide_levels_) bytes += level.size() * sizeof(WidePgmSegment) + sizeof(level);
  return bytes;
}

}  // namespace omen
