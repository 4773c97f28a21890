// StaticLearnedIndex: a read-only sorted array of keys (and payloads) with a PgmModel over it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "omen/model.h"
#include "omen/search.h"

namespace omen {

// Thread safety: immutable after construction (set_kernel aside); every const member may be
// called concurrently. Move-only.
// Invariants: keys_ sorted ascending; payloads_ empty or keys_.size() long; model_ built over
// exactly keys_, so model_.predict(k) brackets lower_bound(keys_, k) (omen/search_bound.h).
class StaticLearnedIndex {
 public:
  // Takes ownership of keys and payloads. REQUIRES: keys sorted ascending (duplicates allowed),
  // payloads.size() == keys.size() or payloads empty (then find() returns the position).
  // Throws std::invalid_argument when the sizes disagree.
  // An array of at least kHugePageMinBytes is moved into memory advised for transparent huge
  // pages (Linux madvise): one copy at build time, so peak memory briefly doubles for it; lookups
  // then mostly avoid TLB misses (measured at 100M keys: 493 -> 370 ns per dependent lookup).
  StaticLearnedIndex(std::vector<uint64_t>&& keys, std::vector<uint64_t>&& payloads, ModelOptions opts = {});
  static constexpr size_t kHugePageMinBytes = size_t{32} << 20;

  // Exact std::lower_bound position of key in keys() (size() when every key is smaller).
  size_t lower_bound(uint64_t key) const noexcept {
    return learned_lower_bound(model_, keys_.data(), key, kernel_);
  }
  // Payload of the first key equal to key (its position when built without payloads).
  std::optional<uint64_t> find(uint64_t key) const noexcept;
  // out[i] = lower_bound(keys[i]); groups of queries searched in lockstep (omen/search.h).
  // REQUIRES out.size() >= keys.size().
  void lower_bound_batch(std::span<const uint64_t> keys, std::span<size_t> out) const noexcept {
    learned_lower_bound_batch(model_, keys_.data(), keys, out, kernel_);
  }

  size_t size() const noexcept { return keys_.size(); }
  size_t model_bytes() const noexcept { return model_.size_bytes(); }  // model only
  std::span<const uint64_t> keys() const noexcept { return keys_; }
  std::span<const uint64_t> payloads() const noexcept { return payloads_; }
  const PgmModel& model() const noexcept { return model_; }
  SearchKernel kernel() const noexcept { return kernel_; }
  // Selects the search engine (e.g. kScalar to compare). REQUIRES kSimd only if the CPU has AVX2.
  void set_kernel(SearchKernel k) noexcept { kernel_ = k; }

 private:
  struct FreeDeleter {
    void operator()(uint64_t* p) const noexcept;
  };
  using HugeBuffer = std::unique_ptr<uint64_t[], FreeDeleter>;
  // keys_/payloads_ view either the vectors passed in or their huge-page copies (then the vectors
  // are empty). Both storages move with the object, so the views stay valid across moves.
  static std::span<const uint64_t> adopt(std::vector<uint64_t>* v, HugeBuffer* huge);

  std::vector<uint64_t> key_vec_, payload_vec_;
  HugeBuffer key_huge_, payload_huge_;
  std::span<const uint64_t> keys_, payloads_;
  PgmModel model_;
  SearchKernel kernel_;
};

}  // namespace omen
