// RocksDBStorage: a durable StorageEngine on RocksDB (LZ4 blocks, ZSTD at the bottom level,
// bloom filters, synced commits by default).
//
// Thread safety: as StorageEngine (RocksDB's DB is thread-safe). One process may open a directory
// at a time; a second opener gets kBusy.
//
// Invariants:
//  1. A directory opened by RocksDBStorage holds exactly the column families "default" (user data)
//     and "omen_meta", whose key "format" is kFormat. Anything else is refused at open as foreign
//     (kNotSupported) and left untouched.
//  2. A write that returns ok with sync = true is on stable storage; a write that fails changed
//     nothing visible (RocksDB applies a batch atomically, after its log record is written).
#pragma once

#include <memory>
#include <string>

#include "omen/storage.h"

namespace rocksdb {
class DB;
class Env;
class ColumnFamilyHandle;
class FileSystem;
class Statistics;
}  // namespace rocksdb

namespace omen {

struct RocksDBOptions {
  enum class Compression { kNone, kLZ4, kZstd };
  bool create_if_missing = true;
  Compression compression = Compression::kLZ4;  // the bottommost level always uses ZSTD (if on)
  int bloom_bits_per_key = 10;                  // 0: no bloom filter
  size_t block_cache_bytes = size_t{64} << 20;
  size_t write_buffer_bytes = size_t{32} << 20;
  // Null: the default file system. Tests pass a wrapper that injects faults (e.g. disk full).
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

class RocksDBStorage final : public StorageEngine {
 public:
  static constexpr const char* kFormat = "omen-rocksdb-1";

  // Opens (or creates, if allowed) the store in directory `dir`. Errors: kNotSupported for a
  // directory that is not ours (non-empty without a RocksDB database, or a RocksDB database
  // without our marker), kCorruption for a damaged database, kBusy if another process has it
  // open, kIOError for file system failures. On error *out is untouched and nothing is written.
  static Status open(const std::string& dir, const RocksDBOptions& opts,
                     std::unique_ptr<RocksDBStorage>* out);
  ~RocksDBStorage() override;

  Status get(std::string_view key, std::string* value, const StorageSnapshot* snap = nullptr) const override;
  Status write(const WriteBatch& batch, WriteOptions o = {}) override;
  std::unique_ptr<StorageIterator> new_iterator(const StorageSnapshot* snap = nullptr) const override;
  std::shared_ptr<const StorageSnapshot> snapshot() const override;
  Status sync() override;
  std::string_view name() const noexcept override { return "rocksdb"; }
  std::string stats() const override;
  // Files in the subdirectory kFilesDir, through the database's file system.
  FileStore* files() override { return files_.get(); }
  static constexpr const char* kFilesDir = "hotlog";
  // Flushes memtables to SST files (used by tests and tools).
  Status flush();
  // The underlying database, for tools and benchmarks. Owned by this object.
  rocksdb::DB* raw() const noexcept { return db_; }

 private:
  RocksDBStorage() = default;
  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* data_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  std::unique_ptr<rocksdb::Env> env_;  // composite env over opts.file_system, if any
  std::string dir_;
  std::unique_ptr<FileStore> files_;
};

}  // namespace omen
