// Helpers shared by the storage/MVCC/tier tests: scratch directories, fault-injecting RocksDB
// file systems and a StorageEngine wrapper that holds back or fails cold-run writes.
#pragma once

#include <rocksdb/file_system.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "omen/storage.h"

namespace omen::test {

// `prefix` followed by the decimal digits of n ("k" and 7 give "k7"). Tests build such keys and
// values with this rather than `"k" + std::to_string(n)`: at -O3 (Release) GCC 12 inlines that
// operator+ into a memcpy it wrongly reports as possibly overlapping (-Wrestrict: GCC bugs
// 105329/105651), and -Werror turns the false warning into a failed build. Appending has no
// such path.
inline std::string numbered(std::string prefix, uint64_t n) {
  prefix += std::to_string(n);
  return prefix;
}

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/omen-test-XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A file system whose writes fail with "No space left on device" while `full` is set, as a disk
// that has filled up would.
class FullDiskFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit FullDiskFileSystem(std::shared_ptr<rocksdb::FileSystem> target)
      : rocksdb::FileSystemWrapper(std::move(target)) {}
  const char* Name() const override { return "FullDiskFileSystem"; }
  std::atomic<bool> full{false};

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    if (full) return rocksdb::IOStatus::NoSpace("simulated full disk");
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    auto s = target()->NewWritableFile(f, o, &inner, dbg);
    if (s.ok()) r->reset(new File(std::move(inner), this));
    return s;
  }

 private:
  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile>&& t, FullDiskFileSystem* fs)
        : rocksdb::FSWritableFileOwnerWrapper(std::move(t)), fs_(fs) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
      if (fs_->full) return rocksdb::IOStatus::NoSpace("simulated full disk");
      return target()->Append(d, o, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* dbg) override {
      if (fs_->full) return rocksdb::IOStatus::NoSpace("simulated full disk");
      return target()->Append(d, o, v, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      if (fs_->full) return rocksdb::IOStatus::NoSpace("simulated full disk");
      return target()->Sync(o, dbg);
    }

   private:
    FullDiskFileSystem* fs_;
  };
};

// A file system whose syncs fail with an I/O error while `fail_sync` is set (appends still
// succeed, as when fsync reports a write-back error), and which can then simulate the power loss
// that follows: drop_unsynced_data() cuts every file written through it back to the length its
// last successful sync made durable. Call it only while no store has the files open.
class FailingSyncFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit FailingSyncFileSystem(std::shared_ptr<rocksdb::FileSystem> target)
      : rocksdb::FileSystemWrapper(std::move(target)) {}
  const char* Name() const override { return "FailingSyncFileSystem"; }
  std::atomic<bool> fail_sync{false};
  std::atomic<int> failed_syncs{0};

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    auto s = target()->NewWritableFile(f, o, &inner, dbg);
    if (!s.ok()) return s;
    std::lock_guard g(mu_);
    lengths_[f] = {0, 0};
    r->reset(new File(std::move(inner), this, f));
    return s;
  }

  // Truncates each file created through this file system to its synced length; a file never
  // synced becomes empty. Returns the number of bytes dropped.
  uint64_t drop_unsynced_data() {
    std::lock_guard g(mu_);
    uint64_t dropped = 0;
    for (const auto& [path, len] : lengths_) {
      std::error_code ec;
      uint64_t size = std::filesystem::file_size(path, ec);
      if (ec || size <= len.synced) continue;  // deleted since, or nothing unsynced
      dropped += size - len.synced;
      std::filesystem::resize_file(path, len.synced, ec);
    }
    return dropped;
  }

 private:
  struct Lengths {
    uint64_t written, synced;
  };
  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile>&& t, FailingSyncFileSystem* fs, std::string path)
        : rocksdb::FSWritableFileOwnerWrapper(std::move(t)), fs_(fs), path_(std::move(path)) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
      auto s = target()->Append(d, o, dbg);
      if (s.ok()) fs_->appended(path_, d.size());
      return s;
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* dbg) override {
      auto s = target()->Append(d, o, v, dbg);
      if (s.ok()) fs_->appended(path_, d.size());
      return s;
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      return fs_->synced(path_, target()->Sync(o, dbg));
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      return fs_->synced(path_, target()->Fsync(o, dbg));
    }
    rocksdb::IOStatus RangeSync(uint64_t off, uint64_t n, const rocksdb::IOOptions& o,
                                rocksdb::IODebugContext* dbg) override {
      if (fs_->fail_sync) return fs_->failure();
      return target()->RangeSync(off, n, o, dbg);  // not a durability point: lengths unchanged
    }

   private:
    FailingSyncFileSystem* fs_;
    std::string path_;
  };

  rocksdb::IOStatus failure() {
    failed_syncs.fetch_add(1);
    return rocksdb::IOStatus::IOError("simulated fsync failure");
  }
  void appended(const std::string& path, size_t n) {
    std::lock_guard g(mu_);
    lengths_[path].written += n;
  }
  // The real sync ran (its data may be on disk), but while failing we report an error and do not
  // count the data as durable: the power loss simulated later drops it.
  rocksdb::IOStatus synced(const std::string& path, rocksdb::IOStatus real) {
    if (fail_sync) return failure();
    if (!real.ok()) return real;
    std::lock_guard g(mu_);
    lengths_[path].synced = lengths_[path].written;
    return real;
  }

  std::mutex mu_;
  std::map<std::string, Lengths> lengths_;  // GUARDED_BY(mu_)
};

// A StorageEngine over another one that holds back (kBlock) or fails (kFail) every write batch that
// creates a cold run (it carries a run header, tag 'R'), i.e. every migration and compaction.
class RunWriteGate final : public StorageEngine {
 public:
  enum class Mode { kPass, kBlock, kFail };
  explicit RunWriteGate(StorageEngine* inner) : inner_(inner) {}

  void set_mode(Mode m) {
    std::lock_guard g(mu_);
    mode_ = m;
    cv_.notify_all();
  }
  // Waits until a run write is held back by kBlock (false if none came within a minute: a hang
  // guard, not a timing assertion).
  bool wait_blocked() {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, std::chrono::minutes(1), [&] { return blocked_ > 0; });
  }
  int failed() const { return failed_.load(); }
  // True if a held write was never released (its committer would have hung).
  bool timed_out() {
    std::lock_guard g(mu_);
    return timed_out_;
  }

  Status write(const WriteBatch& b, WriteOptions o) override {
    bool run = std::any_of(b.ops().begin(), b.ops().end(), [](const auto& op) {
      return !op.is_delete && op.key.size() == 9 && op.key[0] == 'R';
    });
    if (run) {
      std::unique_lock lk(mu_);
      if (mode_ == Mode::kFail) {
        failed_.fetch_add(1);
        return Status::IOError("injected failure of a cold run write");
      }
      if (mode_ == Mode::kBlock) {
        ++blocked_;
        cv_.notify_all();
        if (!cv_.wait_for(lk, std::chrono::minutes(1), [&] { return mode_ != Mode::kBlock; }))
          timed_out_ = true, mode_ = Mode::kPass;  // report it once, let the test go on
      }
    }
    return inner_->write(b, o);
  }
  Status get(std::string_view k, std::string* v, const StorageSnapshot* s) const override {
    return inner_->get(k, v, s);
  }
  std::unique_ptr<StorageIterator> new_iterator(const StorageSnapshot* s) const override {
    return inner_->new_iterator(s);
  }
  std::shared_ptr<const StorageSnapshot> snapshot() const override { return inner_->snapshot(); }
  Status sync() override { return inner_->sync(); }
  std::string_view name() const noexcept override { return "gate"; }
  std::string stats() const override { return inner_->stats(); }
  FileStore* files() override { return inner_->files(); }

 private:
  StorageEngine* inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  Mode mode_ = Mode::kPass;  // GUARDED_BY(mu_)
  int blocked_ = 0;          // GUARDED_BY(mu_)
  bool timed_out_ = false;   // GUARDED_BY(mu_)
  std::atomic<int> failed_{0};
};

}  // namespace omen::test
