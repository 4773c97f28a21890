// Dictionary: values numbered in first-seen order, up to a limit (the encoders' dictionary trial).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace omen::detail {

inline uint64_t hash_u64(uint64_t v) {
  v *= 0x9E3779B97F4A7C15ull;
  return v ^ (v >> 29);
}

inline uint64_t hash_bytes(std::string_view s) {
  uint64_t h = s.size() * 0x9E3779B97F4A7C15ull;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, sizeof w);
    h = hash_u64(h ^ w);
  }
  uint64_t tail = 0;
  if (i < s.size()) std::memcpy(&tail, s.data() + i, s.size() - i);
  return hash_u64(h ^ tail);
}

// Open addressing with linear probing over a power-of-two table of at least twice `limit` slots,
// so a probe always finds an empty slot. Reused between columns (reset keeps the memory).
template <class T>
class Dictionary {
 public:
  // Empties the dictionary and sizes it for at most `limit` distinct values.
  void reset(size_t limit) {
    size_t cap = 16;
    while (cap < 2 * limit) cap <<= 1;
    slots_.assign(cap, 0);
    values_.clear();
    mask_ = cap - 1;
    limit_ = limit;
  }
  // v's index, adding v if it is new; -1 when v is new and `limit` values are already held.
  // REQUIRES: hash is the same for equal values.
  int64_t index_of(const T& v, uint64_t hash) {
    for (size_t s = hash & mask_;; s = (s + 1) & mask_) {
      uint32_t e = slots_[s];
      if (e == 0) {
        if (values_.size() == limit_) return -1;
        values_.push_back(v);
        slots_[s] = static_cast<uint32_t>(values_.size());
        return static_cast<int64_t>(values_.size() - 1);
      }
      if (values_[e - 1] == v) return e - 1;
    }
  }
  const std::vector<T>& values() const { return values_; }

 private:
  std::vector<uint32_t> slots_;  // 0: empty; else index + 1
  std::vector<T> values_;
  size_t mask_ = 0, limit_ = 0;
};

}  // namespace omen::detail
