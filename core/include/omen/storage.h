// StorageEngine: an ordered byte-string key-value store with atomic write batches and snapshots.
//
// It is the layer under the MVCC and tier modules ("storage engines"): MemoryStorage (tests,
// ephemeral stores) and RocksDBStorage (durable). Keys order bytewise (memcmp, shorter first on a
// common prefix). The layer knows nothing of transactions: versions are encoded into its keys by
// the layers above (docs/storage.md).
//
// Thread safety: every StorageEngine method may be called from many threads at once. A
// StorageIterator is used by one thread at a time. A StorageSnapshot may be shared.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "omen/file_store.h"
#include "omen/status.h"

namespace omen {

// Size limits every engine enforces; an operation over them fails with kInvalidArgument and
// changes nothing.
inline constexpr size_t kMaxStorageKeyBytes = 64 * 1024;
inline constexpr size_t kMaxStorageValueBytes = 64 * 1024 * 1024;

// An ordered list of puts and deletes applied atomically by StorageEngine::write: after a crash
// either every operation of the batch is visible or none is.
class WriteBatch {
 public:
  struct Op {
    bool is_delete;
    std::string key;
    std::string value;  // empty for deletes
  };
  // Append a put (copies key and value) / a delete; later operations on a key win.
  void put(std::string_view key, std::string_view value) {
    bytes_ += key.size() + value.size();
    ops_.push_back({false, std::string(key), std::string(value)});
  }
  void del(std::string_view key) {
    bytes_ += key.size();
    ops_.push_back({true, std::string(key), {}});
  }
  // Inspection and reuse.
  void clear() noexcept { ops_.clear(), bytes_ = 0; }
  const std::vector<Op>& ops() const noexcept { return ops_; }
  size_t size() const noexcept { return ops_.size(); }
  size_t bytes() const noexcept { return bytes_; }  // sum of key and value sizes
  bool empty() const noexcept { return ops_.empty(); }

 private:
  std::vector<Op> ops_;
  size_t bytes_ = 0;
};

// A consistent point-in-time view: reads through it see exactly the batches written before it
// was taken. Released when the last shared_ptr to it goes away; must not outlive its engine.
class StorageSnapshot {
 public:
  virtual ~StorageSnapshot() = default;
};

// Ordered cursor over an engine (or a snapshot of it). Starts unpositioned: call seek() or
// seek_to_first(). key()/value() are valid only while valid() and until the next move.
class StorageIterator {
 public:
  virtual ~StorageIterator() = default;
  virtual void seek_to_first() = 0;
  // Positions at the first key >= target.
  virtual void seek(std::string_view target) = 0;
  // True while positioned on an entry.
  virtual bool valid() const = 0;
  // REQUIRES: valid().
  virtual void next() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // Not ok if the iteration stopped early because of an error (then valid() is false).
  virtual Status status() const = 0;
};

struct WriteOptions {
  // true: the batch is on stable storage when write() returns (fsync of the log). false: it
  // survives a process crash but perhaps not a power loss. MemoryStorage ignores it.
  bool sync = true;
};

class StorageEngine {
 public:
  virtual ~StorageEngine() = default;

  // Reads `key` into *value. kNotFound if absent. `snap` may be null (latest state).
  virtual Status get(std::string_view key, std::string* value,
                     const StorageSnapshot* snap = nullptr) const = 0;
  // Single-operation batches.
  Status put(std::string_view key, std::string_view value, WriteOptions o = {});
  Status del(std::string_view key, WriteOptions o = {});
  // Applies every operation of `batch` atomically, in order. On error nothing is applied.
  virtual Status write(const WriteBatch& batch, WriteOptions o = {}) = 0;
  // A new cursor over `snap` (null: an implicit snapshot taken now). Caller owns it; it must
  // not outlive the engine.
  virtual std::unique_ptr<StorageIterator> new_iterator(const StorageSnapshot* snap = nullptr) const = 0;
  // A snapshot of the current state, released with its last shared_ptr (engine must outlive it).
  virtual std::shared_ptr<const StorageSnapshot> snapshot() const = 0;
  // Makes every write so far durable (no-op for memory).
  virtual Status sync() = 0;
  // "memory" or "rocksdb".
  virtual std::string_view name() const noexcept = 0;
  // Implementation statistics as "name: value" lines.
  virtual std::string stats() const = 0;
  // Append-only files kept with the engine's data (the tiered store's hot log). Owned by the
  // engine; valid while it lives.
  virtual FileStore* files() = 0;
};

// Checks the size limits for one put; ok or kInvalidArgument naming the limit.
Status check_put_limits(std::string_view key, std::string_view value);

}  // namespace omen
