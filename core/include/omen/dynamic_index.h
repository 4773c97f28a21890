// DynamicLearnedIndex: an updatable learned index (FITing-tree-like). A directory of leaves,
// each a PGM segment's sorted keys/payloads with that segment's model, plus a small sorted
// insert buffer; a leaf whose buffer (or erase count) passes a bound is merged and re-segmented
// alone, and the pieces are spliced into the directory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "omen/model.h"
#include "omen/search.h"

namespace omen {

// Thread safety: NOT thread-safe. One writer at a time, and no reader while a writer runs
// (callers lock externally); concurrent const calls with no writer are safe.
//
// Invariants:
//  1. dir_.size() == leaves_.size() >= 1, dir_[0] == 0, dir_ strictly increasing. Leaf i holds
//     exactly the entries whose key is in [dir_[i], dir_[i+1]) (the last leaf: [dir_.back(), max]).
//  2. In a leaf, keys/payloads are parallel arrays sorted by key; so are buf_keys/buf_payloads.
//     Among equal keys, scan order is: main entries (in array order), then buffer entries
//     (in insertion order).
//  3. A leaf's main array is exactly the slice [base, base + size) of the array its seg/err were
//     measured on when it was trained (erasing only sets a tombstone bit), so for
//     keys[0] < k <= keys.back() the rank base + lower_bound(main, k) is in
//     [pos - err, pos + err + 1], pos = eval_pgm_segment(seg, next_rank, k). Dead entries are
//     skipped by find/scan/erase and dropped by a retrain. keys.size() <= kMaxLeafKeys unless
//     one run of equal keys is longer (leaves are cut only between different keys).
//  4. buf size <= buffer_cap(leaf) and 4 * erased <= keys.size() after every public call returns;
//     erased == number of set bits in dead.
//  5. size_ == total entries over all leaves.
class DynamicLearnedIndex {
 public:
  // A leaf's insert buffer holds up to clamp(main size / 32, 32, kBufferCap) entries (no upper
  // clamp for a leaf that is one run longer than kMaxLeafKeys); one more triggers a local
  // retrain, and so does a quarter of its main array being erased.
  static constexpr size_t kBufferCap = 512;
  // Longest main array of a leaf: a longer PGM segment (e.g. sequential keys) is cut into several
  // leaves sharing its model, so a retrain never costs more than a few times this.
  static constexpr size_t kMaxLeafKeys = size_t{1} << 15;

  // An empty index. opts.epsilon is the error bound used whenever a leaf is (re)trained.
  explicit DynamicLearnedIndex(ModelOptions opts = {});
  // Bulk load. Takes ownership. REQUIRES: sorted_keys ascending (duplicates allowed) and
  // payloads.size() == sorted_keys.size(); throws std::invalid_argument otherwise.
  DynamicLearnedIndex(std::vector<uint64_t>&& sorted_keys, std::vector<uint64_t>&& payloads,
                      ModelOptions opts = {});
  ~DynamicLearnedIndex();
  DynamicLearnedIndex(DynamicLearnedIndex&&) noexcept;
  DynamicLearnedIndex& operator=(DynamicLearnedIndex&&) noexcept;

  // Adds the pair (duplicates allowed: multimap semantics). Amortized cost: one retrain of the
  // leaf (linear in its size) per buffer_cap inserts into it, i.e. ~32 keys re-segmented per
  // insert (about 1 us measured).
  void insert(uint64_t key, uint64_t payload);
  // Removes one (key, payload) pair; false if there is none. Walks the entries equal to key.
  bool erase(uint64_t key, uint64_t payload);
  // Payload of the first entry (in scan order) with this key, if any.
  std::optional<uint64_t> find(uint64_t key) const;
  // The payload find(key) returns, in place, for a caller that keeps a map's value in it (the
  // tiered store keeps each key's newest version there). Null if the key is absent. Valid until
  // the next insert or erase (either may retrain and move the entries).
  uint64_t* find_payload(uint64_t key);
  // Ordered iteration from the first key >= from, calling fn(key, payload) until it returns
  // false. fn must not modify the index.
  template <class Fn>
  void scan(uint64_t from, Fn&& fn) const;

  size_t size() const noexcept { return size_; }
  size_t model_bytes() const noexcept;  // directory + per-leaf models (no keys/payloads/buffers)
  size_t leaf_count() const noexcept { return leaves_.size(); }
  // Checks invariants 1-5 (O(n)); returns false on the first violation. For tests.
  bool check_invariants() const;

 private:
  struct Leaf {
    WidePgmSegment seg{0, 0.0, 0};         // model of the main array (ranks of the array it was cut from)
    uint64_t next_rank = 0;                // clamp of seg: the next piece's first rank (>= every
                                           // rank of this piece, so it never adds error)
    uint64_t base = 0;                     // rank of keys[0] in that array
    uint64_t err = 0;                      // measured error of seg
    uint64_t erased = 0;                   // dead (erased) entries in the main array
    std::vector<uint64_t> keys, payloads;  // main array
    std::vector<uint64_t> dead;            // tombstone bitmap over keys; empty if none
    std::vector<uint64_t> buf_keys, buf_payloads;  // insert buffer
  };

  size_t leaf_index(uint64_t key) const noexcept;           // leaf responsible for key
  const uint64_t* payload_of(uint64_t key) const noexcept;  // find()'s entry, or null
  static size_t main_lower_bound(const Leaf& l, uint64_t key) noexcept;
  static size_t buf_lower_bound(const Leaf& l, uint64_t key) noexcept;
  // Builds leaves over sorted keys/payloads; the first leaf's directory key is first_dir.
  void make_leaves(std::vector<uint64_t>&& keys, std::vector<uint64_t>&& payloads, uint64_t first_dir,
                   std::vector<uint64_t>* dir, std::vector<std::unique_ptr<Leaf>>* leaves) const;
  void retrain(size_t i);  // merges leaf i's buffer, re-segments it, splices the pieces
  void drop_if_empty(size_t i);
  static size_t buffer_cap(const Leaf& l) noexcept;
  static bool is_dead(const Leaf& l, size_t a) noexcept {
    return !l.dead.empty() && (l.dead[a / 64] >> (a % 64) & 1);
  }

  ModelOptions opts_;
  SearchKernel kernel_;
  std::vector<uint64_t> dir_;
  std::vector<std::unique_ptr<Leaf>> leaves_;
  size_t size_ = 0;
};

template <class Fn>
void DynamicLearnedIndex::scan(uint64_t from, Fn&& fn) const {
  for (size_t i = leaf_index(from); i < leaves_.size(); ++i) {
    const Leaf& l = *leaves_[i];
    size_t a = main_lower_bound(l, from), b = buf_lower_bound(l, from);
    const size_t na = l.keys.size(), nb = l.buf_keys.size();
    while (a < na || b < nb) {
      if (a < na && is_dead(l, a)) {
        ++a;
        continue;
      }
      const bool take_main = b == nb || (a < na && l.keys[a] <= l.buf_keys[b]);
      const bool more = take_main ? fn(l.keys[a], l.payloads[a]) : fn(l.buf_keys[b], l.buf_payloads[b]);
      if (!more) return;
      take_main ? ++a : ++b;
    }
  }
}

}  // namespace omen
