// FileStore: a flat directory of append-only files kept with a StorageEngine's data.
//
// The tiered store keeps its hot-tier log there (docs/storage.md, "Hot log"). MemoryStorage keeps
// the files in memory (they live as long as the engine object); RocksDBStorage keeps them in the
// subdirectory `hotlog/` of its directory, through the same rocksdb::FileSystem as the database,
// so a fault-injecting file system (tests) reaches them too.
//
// Names are plain file names (no '/'). Thread safety: FileStore methods may be called from many
// threads; an AppendFile is used by one thread at a time (callers serialize).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "omen/status.h"

namespace omen {

// A file open for appending.
class AppendFile {
 public:
  virtual ~AppendFile() = default;
  // Writes `data` at the end. When it returns ok the bytes survive a crash of this process (they
  // are in the operating system), not necessarily a power loss. kIOError otherwise (e.g. a full
  // disk); then an unknown prefix of `data` may have been written.
  virtual Status append(std::string_view data) = 0;
  // Makes every byte appended so far durable (fsync). kIOError if that cannot be promised.
  virtual Status sync() = 0;
};

class FileStore {
 public:
  virtual ~FileStore() = default;
  // The names of the files present, in no particular order.
  virtual Status list(std::vector<std::string>* names) const = 0;
  // Creates an empty file `name` (replacing one of that name) open for appending; the file's
  // directory entry is durable when it returns ok.
  virtual Status create(const std::string& name, std::unique_ptr<AppendFile>* out) = 0;
  // The whole content of `name`. kNotFound if it does not exist.
  virtual Status read(const std::string& name, std::string* contents) const = 0;
  // Renames `from` to `to` atomically (replacing `to`) and durably.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // Deletes `name` (ok if it does not exist).
  virtual Status remove(const std::string& name) = 0;
};

// Files in memory (MemoryStorage): "durable" means "kept until the object is destroyed".
std::unique_ptr<FileStore> new_memory_file_store();

}  // namespace omen
