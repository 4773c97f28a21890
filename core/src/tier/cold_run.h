// ColdRun: one immutable sorted run of the cold tier, stored in a StorageEngine under
// 'C' run pos (codec.h), with its keys in memory behind a learned index (RunIndex) that maps a key
// to its position in the run. A run holds one entry per key: a value or a tombstone.
//
// Thread safety: immutable after construction; share it freely (through RunSet).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "omen/storage.h"
#include "tier/learned_adapter.h"

namespace omen::detail {

class ColdRun {
 public:
  struct Entry {
    uint64_t key;
    bool deleted;
    std::string value;
  };
  // REQUIRES: keys strictly increasing.
  ColdRun(uint64_t id, std::vector<uint64_t>&& keys);

  // Appends to *batch the operations that persist a run `id` of `entries` (strictly increasing
  // keys); the header is part of the same batch, so a run exists after a crash iff it is whole.
  static void write(uint64_t id, const std::vector<Entry>& entries, WriteBatch* batch);
  // The pieces of write(), for a run written in several batches (compaction): the entries at
  // positions first_pos.., the key chunks [first_chunk, end_chunk) of the run's keys `keys` (all
  // of them so far; the last chunk may be partial), and the header, which must come last.
  static void write_entries(uint64_t id, size_t first_pos, std::span<const Entry> entries, WriteBatch* batch);
  static void write_key_chunks(uint64_t id, std::span<const uint64_t> keys, size_t first_chunk,
                               size_t end_chunk, WriteBatch* batch);
  static void write_header(uint64_t id, uint64_t count, WriteBatch* batch);
  // Appends the deletion of every row of run `id` (of `count` entries) except its header.
  static void delete_rows(uint64_t id, uint64_t count, WriteBatch* batch);
  // Reads back run `id` of `count` keys (its header said so). kCorruption if keys are missing or
  // out of order.
  static Status load(const StorageEngine& db, uint64_t id, uint64_t count,
                     std::shared_ptr<const ColdRun>* out);

  uint64_t id() const noexcept { return id_; }
  size_t size() const noexcept { return index_.size(); }
  size_t model_bytes() const noexcept { return index_.model_bytes(); }
  // Position of `key` in the run, if present.
  std::optional<size_t> position(uint64_t key) const;
  // Position of the first key >= key (size() if none).
  size_t lower_bound(uint64_t key) const { return index_.lower_bound(key); }
  uint64_t key_at(size_t pos) const { return index_.keys()[pos]; }
  // Reads the entry at `pos`. kCorruption if it is missing.
  Status read(const StorageEngine& db, size_t pos, bool* deleted, std::string* value) const;
  std::string entry_key(size_t pos) const;

 private:
  uint64_t id_;
  RunIndex index_;
};

// The runs a reader consults, newest first. Immutable once published (HotTier::install_run).
struct RunSet {
  std::vector<std::shared_ptr<const ColdRun>> runs;
  uint64_t max_run = 0;  // every run with id <= max_run created so far is in `runs`
};

// Reads the run entries of one run in position order for a scan.
class RunCursor {
 public:
  RunCursor(const StorageEngine& db, const ColdRun& run) : db_(db), run_(run) {}
  // Reads the entry at `pos` (positions requested in increasing order).
  Status read(size_t pos, bool* deleted, std::string* value);

 private:
  const StorageEngine& db_;
  const ColdRun& run_;
  std::unique_ptr<StorageIterator> it_;
};

}  // namespace omen::detail
