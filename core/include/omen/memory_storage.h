// MemoryStorage: a StorageEngine kept in process memory (lost on exit).
//
// Thread safety: all methods may run concurrently; one shared_mutex guards the map (readers
// shared, writers exclusive). Iterators copy at most kChunk entries per lock hold (16 at first),
// so a slow reader never blocks writers for long.
//
// Invariants:
//  1. Every key maps to a non-empty list of versions, each stamped with the sequence number of
//     the batch that wrote it, in increasing sequence order; a version is a value or a tombstone.
//  2. A snapshot taken at sequence s sees, for every key, its newest version with seq <= s.
//  3. A version is dropped only when a newer version exists with seq <= the oldest live
//     snapshot's sequence (so no live snapshot or later read can need it); a key whose only
//     version is such a tombstone is erased.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "omen/storage.h"

namespace omen {

class MemoryStorage final : public StorageEngine {
 public:
  MemoryStorage() = default;
  MemoryStorage(const MemoryStorage&) = delete;
  MemoryStorage& operator=(const MemoryStorage&) = delete;

  Status get(std::string_view key, std::string* value, const StorageSnapshot* snap = nullptr) const override;
  Status write(const WriteBatch& batch, WriteOptions o = {}) override;
  std::unique_ptr<StorageIterator> new_iterator(const StorageSnapshot* snap = nullptr) const override;
  std::shared_ptr<const StorageSnapshot> snapshot() const override;
  Status sync() override { return Status::OK(); }
  std::string_view name() const noexcept override { return "memory"; }
  std::string stats() const override;
  FileStore* files() override { return files_.get(); }

  // Implementation detail shared with the iterator (memory_storage.cpp).
  struct Version {
    uint64_t seq;
    bool deleted;
    std::string value;
  };
  using Map = std::map<std::string, std::vector<Version>, std::less<>>;
  static constexpr size_t kChunk = 256;
  // Copies up to max (<= kChunk) (key, value) pairs visible at `seq`, starting at the first key
  // >= from (> from when `exclusive`), into *out. Returns false when the map has no more keys.
  bool copy_chunk(std::string_view from, bool exclusive, uint64_t seq, size_t max,
                  std::vector<std::pair<std::string, std::string>>* out) const;

 private:
  class Snapshot;
  uint64_t oldest_needed_locked() const;  // REQUIRES: mu_ held
  void release(uint64_t seq) const;

  std::unique_ptr<FileStore> files_ = new_memory_file_store();
  mutable std::shared_mutex mu_;
  Map map_;           // GUARDED_BY(mu_)
  uint64_t seq_ = 0;  // GUARDED_BY(mu_): sequence of the last applied batch
  mutable std::mutex snap_mu_;
  mutable std::multiset<uint64_t> live_snaps_;  // GUARDED_BY(snap_mu_)
};

}  // namespace omen
