// PgmModel: leaf level by segment_range (optionally in parallel chunks), upper levels over the
// first keys of the level below.
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <cmath>
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
      errs[c] = detail::segment_range(sorted.data(), b[c], b[c + 1], n, c + 1 == parts, opts.epsilon, &segs[c],
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
  if constexpr (std::is_same_v<Seg, PgmSegment>) levels = &m.levels_;
  else levels = &m.wide_levels_;
  levels->push_back(std::move(leaf));
  m.build_directory(levels->front());
  return m;
}

PgmModel PgmModel::build(std::span<const uint64_t> sorted, ModelOptions opts) {
  if (opts.force_wide || sorted.size() >= kMaxCompactKeys) return build_as<WidePgmSegment>(sorted, opts, true);
  return build_as<PgmSegment>(sorted, opts, false);
}

template <class Seg>
PgmModel PgmModel::from_leaf(std::vector<Seg> leaf, size_t key_count, uint32_t epsilon, ModelOptions /*opts*/) {
  for (size_t i = 0; i < leaf.size(); ++i) {
    const bool ordered =
        i == 0 || (leaf[i - 1].first_key < leaf[i].first_key && leaf[i - 1].intercept <= leaf[i].intercept);
    if (!ordered || leaf[i].intercept > static_cast<int64_t>(key_count) || !(leaf[i].slope >= 0) || !std::isfinite(leaf[i].slope))
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
  if constexpr (std::is_same_v<Seg, PgmSegment>) levels = &m.levels_;
  else levels = &m.wide_levels_;
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
}

size_t PgmModel::size_bytes() const noexcept {
  size_t bytes = sizeof(*this) + eps_.size() * sizeof(uint32_t);
  for (const auto& d : dir_) bytes += d.keys.size() * sizeof(uint64_t) + sizeof(d);
  for (const auto& level : levels_) bytes += level.size() * sizeof(PgmSegment) + sizeof(level);
  for (const auto& level : wide_levels_) bytes += level.size() * sizeof(WidePgmSegment) + sizeof(level);
  return bytes;
}

}  // namespace omen
