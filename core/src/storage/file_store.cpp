// FileStore implementations (omen/file_store.h): in memory, and over a rocksdb::FileSystem.
#include "storage/file_store_impl.h"

#include <rocksdb/file_system.h>

#include <map>
#include <mutex>

#include "storage/rocksdb_status.h"

namespace omen {

namespace {

// In memory: each file is a shared string; the store's mutex guards names and contents.
class MemoryFileStore final : public FileStore {
 public:
  Status list(std::vector<std::string>* names) const override {
    std::lock_guard g(mu_);
    names->clear();
    for (const auto& [n, f] : files_) names->push_back(n);
    return Status::OK();
  }
  Status create(const std::string& name, std::unique_ptr<AppendFile>* out) override {
    std::lock_guard g(mu_);
    auto f = std::make_shared<std::string>();
    files_[name] = f;
    *out = std::make_unique<File>(this, std::move(f));
    return Status::OK();
  }
  Status read(const std::string& name, std::string* contents) const override {
    std::lock_guard g(mu_);
    auto it = files_.find(name);
    if (it == files_.end()) return Status::NotFound("no file " + name);
    *contents = *it->second;
    return Status::OK();
  }
  Status rename(const std::string& from, const std::string& to) override {
    std::lock_guard g(mu_);
    auto it = files_.find(from);
    if (it == files_.end()) return Status::NotFound("no file " + from);
    auto f = it->second;
    files_.erase(it);
    files_[to] = std::move(f);
    return Status::OK();
  }
  Status remove(const std::string& name) override {
    std::lock_guard g(mu_);
    files_.erase(name);
    return Status::OK();
  }

 private:
  class File final : public AppendFile {
   public:
    File(MemoryFileStore* store, std::shared_ptr<std::string> data) : store_(store), data_(std::move(data)) {}
    Status append(std::string_view d) override {
      std::lock_guard g(store_->mu_);
      data_->append(d);
      return Status::OK();
    }
    Status sync() override { return Status::OK(); }

   private:
    MemoryFileStore* store_;
    std::shared_ptr<std::string> data_;  // stays valid if the file is renamed or removed
  };

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<std::string>> files_;  // GUARDED_BY(mu_)
};

Status from_io(const rocksdb::IOStatus& s, std::string_view what) { return detail::from_rocksdb(s, what); }

// Files in `dir` through a rocksdb::FileSystem; every change of a name syncs the directory.
class FsFileStore final : public FileStore {
 public:
  FsFileStore(std::shared_ptr<rocksdb::FileSystem> fs, std::string dir)
      : fs_(std::move(fs)), dir_(std::move(dir)) {}

  Status list(std::vector<std::string>* names) const override {
    names->clear();
    return from_io(fs_->GetChildren(dir_, rocksdb::IOOptions(), names, nullptr), "cannot list " + dir_);
  }
  Status create(const std::string& name, std::unique_ptr<AppendFile>* out) override {
    std::unique_ptr<rocksdb::FSWritableFile> f;
    rocksdb::FileOptions fo;
    fo.allow_fallocate = false;  // the file's length is exactly what was appended
    OMEN_RETURN_IF_ERROR(
        from_io(fs_->NewWritableFile(path(name), fo, &f, nullptr), "cannot create " + path(name)));
    OMEN_RETURN_IF_ERROR(sync_dir());
    *out = std::make_unique<File>(std::move(f), path(name));
    return Status::OK();
  }
  Status read(const std::string& name, std::string* contents) const override {
    return from_io(rocksdb::ReadFileToString(fs_.get(), path(name), contents), "cannot read " + path(name));
  }
  Status rename(const std::string& from, const std::string& to) override {
    OMEN_RETURN_IF_ERROR(from_io(fs_->RenameFile(path(from), path(to), rocksdb::IOOptions(), nullptr),
                                 "cannot rename " + path(from)));
    return sync_dir();
  }
  Status remove(const std::string& name) override {
    rocksdb::IOStatus s = fs_->DeleteFile(path(name), rocksdb::IOOptions(), nullptr);
    if (s.IsNotFound()) return Status::OK();
    return from_io(s, "cannot delete " + path(name));
  }

 private:
  class File final : public AppendFile {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> f, std::string path)
        : f_(std::move(f)), path_(std::move(path)) {}
    ~File() override { f_->Close(rocksdb::IOOptions(), nullptr).PermitUncheckedError(); }
    Status append(std::string_view d) override {
      return from_io(f_->Append(rocksdb::Slice(d.data(), d.size()), rocksdb::IOOptions(), nullptr),
                     "cannot write " + path_);
    }
    Status sync() override {
      return from_io(f_->Sync(rocksdb::IOOptions(), nullptr), "cannot sync " + path_);
    }

   private:
    std::unique_ptr<rocksdb::FSWritableFile> f_;
    std::string path_;
  };

  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  Status sync_dir() {
    std::unique_ptr<rocksdb::FSDirectory> d;
    OMEN_RETURN_IF_ERROR(
        from_io(fs_->NewDirectory(dir_, rocksdb::IOOptions(), &d, nullptr), "cannot open " + dir_));
    return from_io(d->Fsync(rocksdb::IOOptions(), nullptr), "cannot sync " + dir_);
  }

  std::shared_ptr<rocksdb::FileSystem> fs_;
  std::string dir_;
};

}  // namespace

std::unique_ptr<FileStore> new_memory_file_store() { return std::make_unique<MemoryFileStore>(); }

Status new_fs_file_store(std::shared_ptr<rocksdb::FileSystem> fs, const std::string& dir,
                         std::unique_ptr<FileStore>* out) {
  if (!fs) fs = rocksdb::FileSystem::Default();
  OMEN_RETURN_IF_ERROR(
      from_io(fs->CreateDirIfMissing(dir, rocksdb::IOOptions(), nullptr), "cannot create " + dir));
  *out = std::make_unique<FsFileStore>(std::move(fs), dir);
  return Status::OK();
}

}  // namespace omen
