// DynamicLearnedIndex: directory of retrainable leaves (see the header for the invariants).
#include "omen/dynamic_index.h"

#include <algorithm>
#include <stdexcept>

#include "model/pla.h"

namespace omen {

DynamicLearnedIndex::DynamicLearnedIndex(ModelOptions opts) : opts_(opts), kernel_(best_search_kernel()) {
  dir_.push_back(0);
  leaves_.push_back(std::make_unique<Leaf>());
}

DynamicLearnedIndex::DynamicLearnedIndex(std::vector<uint64_t>&& sorted_keys,
                                         std::vector<uint64_t>&& payloads, ModelOptions opts)
    : opts_(opts), kernel_(best_search_kernel()) {
  if (sorted_keys.size() != payloads.size())
    throw std::invalid_argument("omen::DynamicLearnedIndex: payloads and keys differ in size");
  if (!std::is_sorted(sorted_keys.begin(), sorted_keys.end()))
    throw std::invalid_argument("omen::DynamicLearnedIndex: keys are not sorted");
  size_ = sorted_keys.size();
  if (sorted_keys.empty()) {
    dir_.push_back(0);
    leaves_.push_back(std::make_unique<Leaf>());
    return;
  }
  make_leaves(std::move(sorted_keys), std::move(payloads), 0, &dir_, &leaves_);
}

DynamicLearnedIndex::~DynamicLearnedIndex() = default;
DynamicLearnedIndex::DynamicLearnedIndex(DynamicLearnedIndex&&) noexcept = default;
DynamicLearnedIndex& DynamicLearnedIndex::operator=(DynamicLearnedIndex&&) noexcept = default;

void DynamicLearnedIndex::make_leaves(std::vector<uint64_t>&& keys, std::vector<uint64_t>&& payloads,
                                      uint64_t first_dir, std::vector<uint64_t>* dir,
                                      std::vector<std::unique_ptr<Leaf>>* leaves) const {
  const size_t n = keys.size();
  std::vector<WidePgmSegment> segs;
  std::vector<uint64_t> errs, ranks;
  detail::segment_range(keys.data(), 0, n, n, false, opts_.epsilon, &segs, &errs, &ranks);
  if (segs.size() == 1 && n <= kMaxLeafKeys) {  // one leaf: keep the arrays, no copy
    auto l = std::make_unique<Leaf>();
    l->seg = segs[0];
    l->next_rank = n;
    l->err = errs[0];
    l->keys = std::move(keys);
    l->payloads = std::move(payloads);
    dir->push_back(first_dir);
    leaves->push_back(std::move(l));
    return;
  }
  const size_t first = leaves->size();
  for (size_t s = 0; s < segs.size(); ++s) {
    const uint64_t a = ranks[s];
    const uint64_t b = s + 1 < segs.size() ? ranks[s + 1] : n;
    // Cut the segment's keys [a, b) into slices of at most kMaxLeafKeys (at run boundaries), all
    // sharing the segment's model. An empty range (a segment made of an extra point only) gets
    // no leaf: the previous leaf covers it.
    for (uint64_t from = a; from < b;) {
      uint64_t to = std::min<uint64_t>(b, from + kMaxLeafKeys);
      while (to < b && keys[to] == keys[to - 1]) ++to;
      auto l = std::make_unique<Leaf>();
      l->seg = segs[s];
      l->next_rank = b;
      l->base = from;
      l->err = errs[s];
      l->keys.assign(keys.begin() + from, keys.begin() + to);
      l->payloads.assign(payloads.begin() + from, payloads.begin() + to);
      dir->push_back(leaves->size() == first ? first_dir : from == a ? segs[s].first_key : keys[from]);
      leaves->push_back(std::move(l));
      from = to;
    }
  }
}

size_t DynamicLearnedIndex::leaf_index(uint64_t key) const noexcept {
  // Last i with dir_[i] <= key (dir_[0] == 0 <= key): branchless binary search.
  const uint64_t* base = dir_.data();
  for (size_t len = dir_.size(); len > 1;) {
    const size_t half = len / 2;
    base = base[half] <= key ? base + half : base;
    len -= half;
  }
  return static_cast<size_t>(base - dir_.data());
}

size_t DynamicLearnedIndex::main_lower_bound(const Leaf& l, uint64_t key) noexcept {
  const size_t n = l.keys.size();
  if (n == 0 || key <= l.keys[0]) return 0;
  if (key > l.keys[n - 1]) return n;
  // Window in the ranks the model was measured on, intersected with this leaf's slice of them
  // (a long segment is cut into several leaves, so the window may stick out of the slice).
  const size_t pos = detail::eval_pgm_segment(l.seg, static_cast<int64_t>(l.next_rank), key);
  const size_t lo = std::max<size_t>(pos > l.err ? pos - l.err : 0, l.base);
  const size_t hi = std::min<size_t>(pos + l.err + 1, l.base + n);
  return lower_bound_scalar(l.keys.data(), lo - l.base, std::max(lo, hi) - l.base, key);
}

size_t DynamicLearnedIndex::buf_lower_bound(const Leaf& l, uint64_t key) noexcept {
  return lower_bound_scalar(l.buf_keys.data(), 0, l.buf_keys.size(), key);
}

const uint64_t* DynamicLearnedIndex::payload_of(uint64_t key) const noexcept {
  const Leaf& l = *leaves_[leaf_index(key)];
  for (size_t a = main_lower_bound(l, key); a < l.keys.size() && l.keys[a] == key; ++a)
    if (!is_dead(l, a)) return &l.payloads[a];
  const size_t b = buf_lower_bound(l, key);
  if (b < l.buf_keys.size() && l.buf_keys[b] == key) return &l.buf_payloads[b];
  return nullptr;
}

std::optional<uint64_t> DynamicLearnedIndex::find(uint64_t key) const {
  const uint64_t* p = payload_of(key);
  return p ? std::optional<uint64_t>(*p) : std::nullopt;
}

// The entry belongs to this (non-const) index: dropping the const of its address is safe.
uint64_t* DynamicLearnedIndex::find_payload(uint64_t key) { return const_cast<uint64_t*>(payload_of(key)); }

void DynamicLearnedIndex::insert(uint64_t key, uint64_t payload) {
  const size_t i = leaf_index(key);
  Leaf& l = *leaves_[i];
  // After the equal keys already buffered: keeps insertion order among equal keys.
  const size_t b =
      static_cast<size_t>(std::upper_bound(l.buf_keys.begin(), l.buf_keys.end(), key) - l.buf_keys.begin());
  l.buf_keys.insert(l.buf_keys.begin() + b, key);
  l.buf_payloads.insert(l.buf_payloads.begin() + b, payload);
  ++size_;
  if (l.buf_keys.size() > buffer_cap(l)) retrain(i);
}

bool DynamicLearnedIndex::erase(uint64_t key, uint64_t payload) {
  const size_t i = leaf_index(key);
  Leaf& l = *leaves_[i];
  for (size_t a = main_lower_bound(l, key); a < l.keys.size() && l.keys[a] == key; ++a) {
    if (l.payloads[a] != payload || is_dead(l, a)) continue;
    if (l.dead.empty()) l.dead.assign((l.keys.size() + 63) / 64, 0);
    l.dead[a / 64] |= uint64_t{1} << (a % 64);
    --size_;
    if (4 * ++l.erased > l.keys.size()) retrain(i);
    return true;
  }
  for (size_t b = buf_lower_bound(l, key); b < l.buf_keys.size() && l.buf_keys[b] == key; ++b) {
    if (l.buf_payloads[b] != payload) continue;
    l.buf_keys.erase(l.buf_keys.begin() + b);
    l.buf_payloads.erase(l.buf_payloads.begin() + b);
    --size_;
    drop_if_empty(i);
    return true;
  }
  return false;
}

size_t DynamicLearnedIndex::buffer_cap(const Leaf& l) noexcept {
  // A leaf above kMaxLeafKeys is one run of equal keys that cannot be cut: let its buffer grow
  // with it so retraining it stays amortized O(32) per insert.
  const size_t cap = std::max<size_t>(l.keys.size() / 32, 32);
  return l.keys.size() > kMaxLeafKeys ? cap : std::min(cap, kBufferCap);
}

void DynamicLearnedIndex::drop_if_empty(size_t i) {
  const Leaf& l = *leaves_[i];
  if (i == 0 || l.keys.size() > l.erased || !l.buf_keys.empty()) return;
  // Leaf i-1 takes over [dir_[i], dir_[i+1]): it has no keys there, and keys above its last
  // key are answered without its model (invariant 3).
  dir_.erase(dir_.begin() + i);
  leaves_.erase(leaves_.begin() + i);
}

void DynamicLearnedIndex::retrain(size_t i) {
  // Greedy segmentation leaves a short last piece; retraining a leaf together with a neighbour
  // of less than half its size absorbs such fragments, so the leaf count stays near that of a
  // fresh build as the data grows.
  auto entries = [&](size_t j) {  // live entries
    const Leaf& l = *leaves_[j];
    return l.keys.size() - l.erased + l.buf_keys.size();
  };
  size_t first = i, last = i;
  if (i + 1 < leaves_.size() && entries(i + 1) < entries(i) / 2) last = i + 1;
  if (i > 0 && entries(i - 1) < entries(i) / 2) first = i - 1;
  size_t n = 0;
  for (size_t j = first; j <= last; ++j) n += entries(j);
  std::vector<uint64_t> keys, payloads;
  keys.reserve(n);
  payloads.reserve(n);
  for (size_t j = first; j <= last; ++j) {  // leaves are key-ordered: concatenated merges are sorted
    const Leaf& l = *leaves_[j];
    // Stable merge, main entries first among equal keys (invariant 2).
    size_t a = 0, b = 0;
    while (a < l.keys.size() || b < l.buf_keys.size()) {
      if (a < l.keys.size() && is_dead(l, a)) {
        ++a;
        continue;
      }
      const bool take_main = b == l.buf_keys.size() || (a < l.keys.size() && l.keys[a] <= l.buf_keys[b]);
      keys.push_back(take_main ? l.keys[a] : l.buf_keys[b]);
      payloads.push_back(take_main ? l.payloads[a++] : l.buf_payloads[b++]);
    }
  }
  std::vector<uint64_t> dir;
  std::vector<std::unique_ptr<Leaf>> pieces;
  if (n > 0) {
    make_leaves(std::move(keys), std::move(payloads), dir_[first], &dir, &pieces);
  } else {
    dir.push_back(dir_[first]);
    pieces.push_back(std::make_unique<Leaf>());
  }
  leaves_.erase(leaves_.begin() + first, leaves_.begin() + last + 1);
  leaves_.insert(leaves_.begin() + first, std::make_move_iterator(pieces.begin()),
                 std::make_move_iterator(pieces.end()));
  dir_.erase(dir_.begin() + first, dir_.begin() + last + 1);
  dir_.insert(dir_.begin() + first, dir.begin(), dir.end());
  if (n == 0) drop_if_empty(first);
}

size_t DynamicLearnedIndex::model_bytes() const noexcept {
  constexpr size_t kLeafModel = sizeof(WidePgmSegment) + 4 * sizeof(uint64_t);  // seg, ranks, errors
  return sizeof(*this) + dir_.size() * sizeof(uint64_t) + leaves_.size() * (kLeafModel + sizeof(void*));
}

bool DynamicLearnedIndex::check_invariants() const {
  if (dir_.empty() || dir_.size() != leaves_.size() || dir_[0] != 0) return false;
  size_t total = 0;
  for (size_t i = 0; i < leaves_.size(); ++i) {
    const Leaf& l = *leaves_[i];
    if (i > 0 && dir_[i - 1] >= dir_[i]) return false;
    if (l.keys.size() != l.payloads.size() || l.buf_keys.size() != l.buf_payloads.size()) return false;
    if (!std::is_sorted(l.keys.begin(), l.keys.end()) ||
        !std::is_sorted(l.buf_keys.begin(), l.buf_keys.end()))
      return false;
    if (l.buf_keys.size() > buffer_cap(l) || 4 * l.erased > l.keys.size()) return false;
    size_t dead = 0;
    for (uint64_t w : l.dead) dead += static_cast<size_t>(__builtin_popcountll(w));
    if (dead != l.erased || (!l.dead.empty() && l.dead.size() != (l.keys.size() + 63) / 64)) return false;
    const uint64_t lo = dir_[i];
    const bool last = i + 1 == leaves_.size();
    auto inside = [&](uint64_t k) { return k >= lo && (last || k < dir_[i + 1]); };
    if (!std::all_of(l.keys.begin(), l.keys.end(), inside) ||
        !std::all_of(l.buf_keys.begin(), l.buf_keys.end(), inside))
      return false;
    total += l.keys.size() - l.erased + l.buf_keys.size();
  }
  return total == size_;
}

}  // namespace omen
