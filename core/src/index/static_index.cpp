#include "omen/static_index.h"

#include <stdexcept>

namespace omen {

StaticLearnedIndex::StaticLearnedIndex(std::vector<uint64_t>&& keys, std::vector<uint64_t>&& payloads,
                                       ModelOptions opts)
    : keys_(std::move(keys)), payloads_(std::move(payloads)), kernel_(best_search_kernel()) {
  if (!payloads_.empty() && payloads_.size() != keys_.size())
    throw std::invalid_argument("omen::StaticLearnedIndex: payloads and keys differ in size");
  model_ = PgmModel::build(keys_, opts);
}

std::optional<uint64_t> StaticLearnedIndex::find(uint64_t key) const noexcept {
  const size_t i = lower_bound(key);
  if (i == keys_.size() || keys_[i] != key) return std::nullopt;
  return payloads_.empty() ? i : payloads_[i];
}

}  // namespace omen
