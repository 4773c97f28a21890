// Baselines the learned index is measured against: binary search over the sorted keys, and
// absl::btree_map from key to position.
//
// Both answer the same question as StaticLearnedIndex::lower_bound: the position of the first key
// >= the probe in the sorted key array the index was built from (size() when every key is smaller),
// exactly what std::lower_bound returns over that array, duplicates included.
//
// Thread safety: construction is single-threaded; after that every member is const and any number
// of threads may call lower_bound / lower_bound_batch concurrently without synchronization.
#pragma once

#include <absl/container/btree_map.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace omen {

namespace detail {

// Branchless lower_bound over a[0, n): the loop runs exactly ceil(log2(n)) times whatever the key,
// and each step is a conditional move, so no branch depends on the data.
// Invariant of the loop: the answer lies in [base - a, base - a + len].
inline size_t branchless_lower_bound(const uint64_t* a, size_t n, uint64_t key) noexcept {
  if (n == 0) return 0;
  const uint64_t* base = a;
  size_t len = n;
  while (len > 1) {
    const size_t half = len / 2;
    base += (base[half] < key) ? half : 0;  // compiled to cmov
    len -= half;
  }
  return static_cast<size_t>(base - a) + (*base < key);
}

// The same search for `count` keys at once, interleaved: every step advances all of them, so their
// memory loads are independent and overlap; the next probe of each key is prefetched one step
// ahead. REQUIRES: count <= kBatchGroup.
inline constexpr size_t kBatchGroup = 16;
inline void branchless_lower_bound_group(const uint64_t* a, size_t n, const uint64_t* keys, size_t count,
                                         size_t* out) noexcept {
  if (n == 0) {
    for (size_t j = 0; j < count; ++j) out[j] = 0;
    return;
  }
  const uint64_t* base[kBatchGroup];
  for (size_t j = 0; j < count; ++j) base[j] = a;
  size_t len = n;
  while (len > 1) {
    const size_t half = len / 2;
    const size_t next_half = (len - half) / 2;
    for (size_t j = 0; j < count; ++j) {
      base[j] += (base[j][half] < keys[j]) ? half : 0;
      __builtin_prefetch(base[j] + next_half);
    }
    len -= half;
  }
  for (size_t j = 0; j < count; ++j) out[j] = static_cast<size_t>(base[j] - a) + (*base[j] < keys[j]);
}

// An allocator that adds every allocation's size to a counter it does not own (so the btree's
// memory can be reported exactly). Bytes as requested from operator new; malloc's own per-chunk
// header is not included.
template <class T>
struct CountingAllocator {
  using value_type = T;
  size_t* counter;
  explicit CountingAllocator(size_t* c) noexcept : counter(c) {}
  template <class U>
  CountingAllocator(const CountingAllocator<U>& o) noexcept : counter(o.counter) {}
  T* allocate(size_t n) {
    *counter += n * sizeof(T);
    return std::allocator<T>{}.allocate(n);
  }
  void deallocate(T* p, size_t n) noexcept {
    *counter -= n * sizeof(T);
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const CountingAllocator<U>& o) const noexcept {
    return counter == o.counter;
  }
};

}  // namespace detail

// Binary search over a sorted key array that the index owns. No structure besides the keys.
class BinarySearchIndex {
 public:
  // REQUIRES: sorted_keys ascending (duplicates allowed). Takes the buffer over without copying.
  explicit BinarySearchIndex(std::vector<uint64_t>&& sorted_keys) noexcept : keys_(std::move(sorted_keys)) {}

  // The exact std::lower_bound position of key in keys(); size() if every key is smaller.
  size_t lower_bound(uint64_t key) const noexcept {
    return detail::branchless_lower_bound(keys_.data(), keys_.size(), key);
  }

  // out[i] = lower_bound(keys[i]) for every i, computed kBatchGroup keys at a time with their
  // searches interleaved. REQUIRES: out.size() >= keys.size().
  void lower_bound_batch(std::span<const uint64_t> keys, std::span<size_t> out) const noexcept {
    for (size_t i = 0; i < keys.size(); i += detail::kBatchGroup) {
      const size_t count = std::min(detail::kBatchGroup, keys.size() - i);
      detail::branchless_lower_bound_group(keys_.data(), keys_.size(), keys.data() + i, count,
                                           out.data() + i);
    }
  }

  size_t size() const noexcept { return keys_.size(); }
  std::span<const uint64_t> keys() const noexcept { return keys_; }
  // Bytes the index owns: the key array only (its capacity). It adds no bytes beyond the keys.
  size_t size_bytes() const noexcept { return keys_.capacity() * sizeof(uint64_t); }

 private:
  std::vector<uint64_t> keys_;
};

// absl::btree_map from each distinct key to the position of its first occurrence in the sorted
// array. The keys are copied into the tree; the array itself is not kept.
class BTreeIndex {
 public:
  // REQUIRES: sorted_keys ascending (duplicates allowed). O(n): appends with an end() hint.
  explicit BTreeIndex(std::span<const uint64_t> sorted_keys);
  BTreeIndex(BTreeIndex&&) noexcept = default;
  BTreeIndex& operator=(BTreeIndex&&) noexcept = default;

  // The exact std::lower_bound position over the keys given at construction; size() if every key
  // is smaller.
  size_t lower_bound(uint64_t key) const {
    auto it = map_.lower_bound(key);
    return it == map_.end() ? n_ : it->second;
  }

  size_t size() const noexcept { return n_; }               // keys given, duplicates included
  size_t distinct() const noexcept { return map_.size(); }  // entries in the tree
  // Bytes the tree's nodes take (keys, positions, node headers and slack), counted at allocation.
  // REQUIRES: *this not moved from.
  size_t size_bytes() const noexcept { return *bytes_; }

 private:
  using Alloc = detail::CountingAllocator<std::pair<const uint64_t, uint64_t>>;
  using Map = absl::btree_map<uint64_t, uint64_t, std::less<uint64_t>, Alloc>;
  // Declared before map_, so it outlives the map's deallocations in the destructor.
  std::unique_ptr<size_t> bytes_;
  Map map_;
  size_t n_ = 0;
};

}  // namespace omen
