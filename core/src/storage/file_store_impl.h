// FileStore over a rocksdb::FileSystem (private to the core; RocksDBStorage uses it).
#pragma once

#include <memory>
#include <string>

#include "omen/file_store.h"

namespace rocksdb {
class FileSystem;
}

namespace omen {

// Files in directory `dir` (created if missing) through `fs` (null: the default file system).
Status new_fs_file_store(std::shared_ptr<rocksdb::FileSystem> fs, const std::string& dir,
                         std::unique_ptr<FileStore>* out);

}  // namespace omen
