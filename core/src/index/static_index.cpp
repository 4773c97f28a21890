#include "omen/static_index.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace omen {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}

void StaticLearnedIndex::FreeDeleter::operator()(uint64_t* p) const noexcept { std::free(p); }

std::span<const uint64_t> StaticLearnedIndex::adopt(std::vector<uint64_t>* v, HugeBuffer* huge) {
  const size_t bytes = v->size() * sizeof(uint64_t);
  if (bytes < kHugePageMinBytes) return *v;
  const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, rounded);
  if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  madvise(p, rounded, MADV_HUGEPAGE);  // advice only: without THP the memory is just aligned
#endif
  std::memcpy(p, v->data(), bytes);
  huge->reset(static_cast<uint64_t*>(p));
  const size_t n = v->size();
  std::vector<uint64_t>().swap(*v);  // free the original now
  return {huge->get(), n};
}

StaticLearnedIndex::StaticLearnedIndex(std::vector<uint64_t>&& keys, std::vector<uint64_t>&& payloads,
                                       ModelOptions opts)
    : key_vec_(std::move(keys)), payload_vec_(std::move(payloads)), kernel_(best_search_kernel()) {
  if (!payload_vec_.empty() && payload_vec_.size() != key_vec_.size())
    throw std::invalid_argument("omen::StaticLearnedIndex: payloads and keys differ in size");
  model_ = PgmModel::build(key_vec_, opts);
  keys_ = adopt(&key_vec_, &key_huge_);
  payloads_ = adopt(&payload_vec_, &payload_huge_);
}

std::optional<uint64_t> StaticLearnedIndex::find(uint64_t key) const noexcept {
  const size_t i = lower_bound(key);
  if (i == keys_.size() || keys_[i] != key) return std::nullopt;
  return payloads_.empty() ? i : payloads_[i];
}

}  // namespace omen
