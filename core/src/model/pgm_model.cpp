// PgmModel: leaf level by segment_range (optionally in parallel chunks), upper levels over the
// first keys of the level below.
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <stdexcept>

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

PgmModel PgmModel::build(std::span<const uint64_t> sorted, ModelOptions opts) {
  PgmModel m;
  m.n_ = sorted.size();
  if (sorted.empty()) return m;
  const size_t n = sorted.size();
  const size_t threads = static_cast<size_t>(std::max(1, tbb::this_task_arena::max_concurrency()));
  const size_t chunks = opts.parallel ? std::min(4 * threads, std::max<size_t>(1, n / kMinChunk)) : 1;
  std::vector<Segment> leaf;
  uint64_t err = 0;
  if (chunks <= 1) {
    err = detail::segment_range(sorted.data(), 0, n, n, true, opts.epsilon, &leaf, nullptr);
  } else {
    const std::vector<size_t> b = chunk_bounds(sorted, chunks);
    const size_t parts = b.size() - 1;
    std::vector<std::vector<Segment>> segs(parts);
    std::vector<uint64_t> errs(parts);
    tbb::parallel_for(size_t{0}, parts, [&](size_t c) {
      errs[c] = detail::segment_range(sorted.data(), b[c], b[c + 1], n, c + 1 == parts, opts.epsilon,
                                      &segs[c], nullptr);
    });
    size_t total = 0;
    for (const auto& s : segs) total += s.size();
    leaf.reserve(total);
    for (size_t c = 0; c < parts; ++c) {
      leaf.insert(leaf.end(), segs[c].begin(), segs[c].end());
      err = std::max(err, errs[c]);
    }
  }
  m.levels_.push_back(std::move(leaf));
  m.eps_.push_back(to_u32(err));
  m.build_upper_levels(opts.epsilon_internal);
  return m;
}

PgmModel PgmModel::from_segments(std::vector<Segment> leaf, size_t key_count, uint32_t epsilon,
                                 ModelOptions opts) {
  for (size_t i = 0; i < leaf.size(); ++i) {
    const bool ordered =
        i == 0 ? leaf[0].first_rank == 0
               : leaf[i - 1].first_key < leaf[i].first_key && leaf[i - 1].first_rank <= leaf[i].first_rank;
    if (!ordered || leaf[i].first_rank > key_count || !(leaf[i].slope >= 0))
      throw std::invalid_argument("omen::PgmModel::from_segments: malformed leaf level");
  }
  if (leaf.empty() != (key_count == 0))
    throw std::invalid_argument("omen::PgmModel::from_segments: empty leaf level");
  PgmModel m;
  m.n_ = key_count;
  if (key_count == 0) return m;
  m.levels_.push_back(std::move(leaf));
  m.eps_.push_back(epsilon);
  m.build_upper_levels(opts.epsilon_internal);
  return m;
}

void PgmModel::build_upper_levels(uint32_t epsilon_internal) {
  std::vector<uint64_t> first_keys;
  while (levels_.back().size() > 1) {
    const std::vector<Segment>& below = levels_.back();
    first_keys.resize(below.size());
    for (size_t i = 0; i < below.size(); ++i) first_keys[i] = below[i].first_key;
    std::vector<Segment> up;
    const uint64_t err = detail::segment_range(first_keys.data(), 0, first_keys.size(), first_keys.size(),
                                               false, epsilon_internal, &up, nullptr);
    if (up.size() >= below.size()) break;  // cannot shrink: find_segment searches the top level
    levels_.push_back(std::move(up));
    eps_.push_back(to_u32(err));
  }
}

size_t PgmModel::find_segment(uint64_t key) const noexcept {
  // Top level: usually one segment; otherwise binary search (only when a level cannot shrink).
  const std::vector<Segment>& top = levels_.back();
  size_t s = 0;
  for (size_t len = top.size(); len > 1;) {
    const size_t half = len / 2;
    s = top[s + half].first_key <= key ? s + half : s;
    len -= half;
  }
  for (size_t l = levels_.size() - 1; l > 0; --l) {
    const std::vector<Segment>& up = levels_[l];
    const std::vector<Segment>& below = levels_[l - 1];
    const size_t m = below.size();
    const uint64_t next = s + 1 < up.size() ? up[s + 1].first_rank : m;
    const size_t pos = detail::eval_segment(up[s], next, key);
    // lower_bound over below's first keys is in [pos - E, pos + E + 1]; the wanted index (last
    // first_key <= key) is that lower_bound or one less, and >= 0 since key >= below[0].
    const size_t lo = pos > eps_[l] ? pos - eps_[l] : 0;
    const size_t hi = std::min<size_t>(m, pos + eps_[l] + 2);
    size_t count = 0;
    for (size_t i = lo; i < hi; ++i) count += below[i].first_key <= key;
    s = lo + count - 1;
  }
  return s;
}

size_t PgmModel::size_bytes() const noexcept {
  size_t bytes = sizeof(*this) + eps_.size() * sizeof(uint32_t);
  for (const auto& level : levels_) bytes += level.size() * sizeof(Segment) + sizeof(level);
  return bytes;
}

}  // namespace omen
