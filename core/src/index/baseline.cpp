// BTreeIndex construction; the lookups and BinarySearchIndex are inline in omen/baseline.h.
#include "omen/baseline.h"

namespace omen {

BTreeIndex::BTreeIndex(std::span<const uint64_t> sorted_keys)
    : bytes_(std::make_unique<size_t>(0)), map_(Alloc(bytes_.get())), n_(sorted_keys.size()) {
  // Sorted input: every insert goes at the end, where absl's split leaves the left node full.
  for (size_t i = 0; i < sorted_keys.size(); ++i) {
    if (i > 0 && sorted_keys[i] == sorted_keys[i - 1]) continue;  // keep the first occurrence
    map_.emplace_hint(map_.end(), sorted_keys[i], i);
  }
}

}  // namespace omen
