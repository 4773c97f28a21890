// The two learned indexes the tier uses, behind aliases so the switch to the core-index
// implementations is one line each (HotIndex, RunIndex below).
//
// Until branch core-index is merged, the stand-ins below implement exactly the API fixed in
// notes/core-api.md (DynamicLearnedIndex, StaticLearnedIndex) over absl::btree_multimap and a sorted
// array with binary search. The tier relies on nothing beyond that API. Neither stand-in is
// thread-safe for writers; the tier guards them (see hot_tier.h).
#pragma once

#include <absl/container/btree_map.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace omen::detail {

// Stand-in for omen::DynamicLearnedIndex (multimap key -> payload, ordered scans).
class OrderedMapIndex {
 public:
  void insert(uint64_t key, uint64_t payload) { map_.emplace(key, payload); }
  bool erase(uint64_t key, uint64_t payload) {
    auto [lo, hi] = map_.equal_range(key);
    for (auto it = lo; it != hi; ++it)
      if (it->second == payload) return map_.erase(it), true;
    return false;
  }
  std::optional<uint64_t> find(uint64_t key) const {
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  // Calls fn(key, payload) in key order from the first key >= from until fn returns false.
  template <class Fn>
  void scan(uint64_t from, Fn&& fn) const {
    for (auto it = map_.lower_bound(from); it != map_.end(); ++it)
      if (!fn(it->first, it->second)) return;
  }
  size_t size() const { return map_.size(); }
  size_t model_bytes() const { return 0; }

 private:
  absl::btree_multimap<uint64_t, uint64_t> map_;
};

// Stand-in for omen::StaticLearnedIndex (sorted keys; exact lower_bound; payloads optional).
class SortedArrayIndex {
 public:
  SortedArrayIndex(std::vector<uint64_t>&& keys, std::vector<uint64_t>&& payloads)
      : keys_(std::move(keys)), payloads_(std::move(payloads)) {}
  size_t lower_bound(uint64_t key) const {
    return static_cast<size_t>(std::lower_bound(keys_.begin(), keys_.end(), key) - keys_.begin());
  }
  std::optional<uint64_t> find(uint64_t key) const {
    size_t p = lower_bound(key);
    if (p == keys_.size() || keys_[p] != key) return std::nullopt;
    return payloads_.empty() ? p : payloads_[p];
  }
  size_t size() const { return keys_.size(); }
  size_t model_bytes() const { return 0; }
  std::span<const uint64_t> keys() const { return keys_; }

 private:
  std::vector<uint64_t> keys_;
  std::vector<uint64_t> payloads_;
};

// The switch: replace with `using HotIndex = omen::DynamicLearnedIndex;` (omen/dynamic_index.h)
// and `using RunIndex = omen::StaticLearnedIndex;` (omen/static_index.h) once merged.
using HotIndex = OrderedMapIndex;
using RunIndex = SortedArrayIndex;
inline constexpr const char* kIndexKind = "stand-in (btree / binary search)";

}  // namespace omen::detail
