// RocksDBStorage: see the invariants in omen/rocksdb_storage.h.
#include "omen/rocksdb_storage.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "storage/file_store_impl.h"
#include "storage/rocksdb_status.h"

namespace omen {

namespace {

constexpr const char* kMetaFamily = "omen_meta";
constexpr const char* kFormatKey = "format";

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }
std::string_view view(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

class RocksSnapshot final : public StorageSnapshot {
 public:
  explicit RocksSnapshot(const rocksdb::Snapshot* s) : snap(s) {}
  const rocksdb::Snapshot* snap;
};

class RocksIterator final : public StorageIterator {
 public:
  RocksIterator(rocksdb::Iterator* it, std::shared_ptr<const StorageSnapshot> pin)
      : pin_(std::move(pin)), it_(it) {}
  void seek_to_first() override { it_->SeekToFirst(); }
  void seek(std::string_view target) override { it_->Seek(slice(target)); }
  bool valid() const override { return it_->Valid(); }
  void next() override { it_->Next(); }
  std::string_view key() const override { return view(it_->key()); }
  std::string_view value() const override { return view(it_->value()); }
  Status status() const override { return detail::from_rocksdb(it_->status(), "rocksdb iterator"); }

 private:
  std::shared_ptr<const StorageSnapshot> pin_;  // destroyed after it_ (declared first)
  std::unique_ptr<rocksdb::Iterator> it_;
};

// A non-empty directory with no RocksDB CURRENT file is someone else's: refuse it (invariant 1).
Status check_directory(const std::string& dir, bool create_if_missing) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (!create_if_missing) return Status::NotFound("storage directory " + dir + " does not exist");
    return Status::OK();
  }
  if (!fs::is_directory(dir, ec)) return Status::NotSupported(dir + " is not a directory");
  if (fs::exists(fs::path(dir) / "CURRENT", ec)) return Status::OK();
  // No CURRENT: empty, or a creation that was interrupted (only files RocksDB makes), or foreign.
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    auto starts = [&](const char* p) { return n.rfind(p, 0) == 0; };
    auto ends = [&](const char* p) {
      return n.size() >= strlen(p) && n.compare(n.size() - strlen(p), strlen(p), p) == 0;
    };
    if (!(n == "LOCK" || n == RocksDBStorage::kFilesDir || n == "IDENTITY" || starts("LOG") ||
          starts("MANIFEST-") || starts("OPTIONS-") || ends(".log") || ends(".dbtmp") || ends(".sst")))
      return Status::NotSupported(dir + " is not empty and holds no RocksDB database (found '" + n +
                                  "'): refusing to use it");
  }
  if (ec) return Status::IOError("cannot list " + dir + ": " + ec.message());
  return Status::OK();
}

rocksdb::ColumnFamilyOptions family_options(const RocksDBOptions& o) {
  rocksdb::ColumnFamilyOptions cf;
  rocksdb::BlockBasedTableOptions t;
  if (o.bloom_bits_per_key > 0) t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(o.bloom_bits_per_key));
  t.block_cache = rocksdb::NewLRUCache(o.block_cache_bytes);
  t.cache_index_and_filter_blocks = false;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  cf.write_buffer_size = o.write_buffer_bytes;
  switch (o.compression) {
    case RocksDBOptions::Compression::kNone:
      cf.compression = rocksdb::kNoCompression;
      cf.bottommost_compression = rocksdb::kNoCompression;
      break;
    case RocksDBOptions::Compression::kLZ4:
      cf.compression = rocksdb::kLZ4Compression;
      cf.bottommost_compression = rocksdb::kZSTD;
      break;
    case RocksDBOptions::Compression::kZstd:
      cf.compression = rocksdb::kZSTD;
      cf.bottommost_compression = rocksdb::kZSTD;
      break;
  }
  return cf;
}

Status check_compression(const RocksDBOptions& o) {
  if (o.compression == RocksDBOptions::Compression::kNone) return Status::OK();
  auto sup = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType c) { return std::find(sup.begin(), sup.end(), c) != sup.end(); };
  if (!has(rocksdb::kZSTD) ||
      (o.compression == RocksDBOptions::Compression::kLZ4 && !has(rocksdb::kLZ4Compression)))
    return Status::NotSupported("this RocksDB build lacks LZ4/ZSTD compression");
  return Status::OK();
}

}  // namespace

Status RocksDBStorage::open(const std::string& dir, const RocksDBOptions& opts,
                            std::unique_ptr<RocksDBStorage>* out) {
  OMEN_RETURN_IF_ERROR(check_compression(opts));
  OMEN_RETURN_IF_ERROR(check_directory(dir, opts.create_if_missing));
  std::unique_ptr<RocksDBStorage> st(new RocksDBStorage());
  st->dir_ = dir;
  rocksdb::DBOptions dbo;
  if (opts.file_system) {
    st->env_ = rocksdb::NewCompositeEnv(opts.file_system);
    dbo.env = st->env_.get();
  }
  dbo.max_background_jobs = 2;
  dbo.paranoid_checks = true;

  std::vector<std::string> families;
  rocksdb::Status ls = rocksdb::DB::ListColumnFamilies(dbo, dir, &families);
  bool fresh = !ls.ok() && !std::filesystem::exists(std::filesystem::path(dir) / "CURRENT");
  if (!ls.ok() && !fresh) return detail::from_rocksdb(ls, "cannot read the storage directory " + dir);
  if (fresh && !opts.create_if_missing) return Status::NotFound("no store in " + dir);
  if (!fresh) {
    std::sort(families.begin(), families.end());
    if (families != std::vector<std::string>{"default", kMetaFamily}) {
      // A damaged MANIFEST may list only "default": tell corruption from foreign by a read-only open.
      rocksdb::DB* probe = nullptr;
      rocksdb::Status ps =
          rocksdb::DB::OpenForReadOnly(rocksdb::Options(dbo, rocksdb::ColumnFamilyOptions()), dir, &probe);
      delete probe;
      if (!ps.ok()) return detail::from_rocksdb(ps, "cannot read the storage directory " + dir);
      return Status::NotSupported(dir +
                                  " holds a RocksDB database that is not an OmenDB store (column families "
                                  "differ); refusing to open it");
    }
  }
  dbo.create_if_missing = fresh;
  dbo.create_missing_column_families = fresh;
  auto cfo = family_options(opts);
  std::vector<rocksdb::ColumnFamilyDescriptor> desc = {{rocksdb::kDefaultColumnFamilyName, cfo},
                                                       {kMetaFamily, rocksdb::ColumnFamilyOptions()}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::Open(dbo, dir, desc, &handles, &st->db_);
  if (!s.ok()) return detail::from_rocksdb(s, "cannot open the store in " + dir);
  st->data_ = handles[0];
  st->meta_ = handles[1];
  std::string format;
  s = st->db_->Get(rocksdb::ReadOptions(), st->meta_, kFormatKey, &format);
  if (s.IsNotFound() && !fresh) {  // created, then interrupted before the marker: finish if still empty
    std::unique_ptr<rocksdb::Iterator> it(st->db_->NewIterator(rocksdb::ReadOptions(), st->data_));
    it->SeekToFirst();
    if (it->Valid() || !it->status().ok())
      return Status::NotSupported(dir + " lacks the OmenDB format marker; refusing to open it");
    fresh = true;
  }
  if (s.IsNotFound() && fresh) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = st->db_->Put(wo, st->meta_, kFormatKey, kFormat);
    if (!s.ok()) return detail::from_rocksdb(s, "cannot initialise the store in " + dir);
  } else if (!s.ok()) {
    return detail::from_rocksdb(s, "cannot read the format marker in " + dir);
  } else if (format != kFormat) {
    return Status::NotSupported(dir + " has store format '" + format + "', this build reads '" + kFormat +
                                "'");
  }
  OMEN_RETURN_IF_ERROR(new_fs_file_store(opts.file_system, dir + "/" + kFilesDir, &st->files_));
  *out = std::move(st);
  return Status::OK();
}

RocksDBStorage::~RocksDBStorage() {
  if (!db_) return;
  if (data_) db_->DestroyColumnFamilyHandle(data_).PermitUncheckedError();
  if (meta_) db_->DestroyColumnFamilyHandle(meta_).PermitUncheckedError();
  db_->Close().PermitUncheckedError();
  delete db_;
}

Status RocksDBStorage::get(std::string_view key, std::string* value, const StorageSnapshot* snap) const {
  rocksdb::ReadOptions ro;
  if (snap) ro.snapshot = static_cast<const RocksSnapshot*>(snap)->snap;
  rocksdb::Status s = db_->Get(ro, data_, slice(key), value);
  if (s.IsNotFound()) return Status::NotFound();
  return detail::from_rocksdb(s, "rocksdb get");
}

Status RocksDBStorage::write(const WriteBatch& batch, WriteOptions o) {
  rocksdb::WriteBatch wb;
  for (const auto& op : batch.ops()) {
    OMEN_RETURN_IF_ERROR(check_put_limits(op.key, op.value));
    rocksdb::Status s =
        op.is_delete ? wb.Delete(data_, slice(op.key)) : wb.Put(data_, slice(op.key), slice(op.value));
    if (!s.ok()) return detail::from_rocksdb(s, "rocksdb batch");
  }
  rocksdb::WriteOptions wo;
  wo.sync = o.sync;
  return detail::from_rocksdb(db_->Write(wo, &wb), "rocksdb write");
}

std::unique_ptr<StorageIterator> RocksDBStorage::new_iterator(const StorageSnapshot* snap) const {
  rocksdb::ReadOptions ro;  // without a snapshot, a RocksDB iterator reads as of its creation
  if (snap) ro.snapshot = static_cast<const RocksSnapshot*>(snap)->snap;
  return std::make_unique<RocksIterator>(db_->NewIterator(ro, data_), nullptr);
}

std::shared_ptr<const StorageSnapshot> RocksDBStorage::snapshot() const {
  rocksdb::DB* db = db_;
  return std::shared_ptr<const RocksSnapshot>(new RocksSnapshot(db->GetSnapshot()),
                                              [db](const RocksSnapshot* s) {
                                                db->ReleaseSnapshot(s->snap);
                                                delete s;
                                              });
}

Status RocksDBStorage::sync() { return detail::from_rocksdb(db_->FlushWAL(true), "rocksdb sync"); }

Status RocksDBStorage::flush() {
  return detail::from_rocksdb(db_->Flush(rocksdb::FlushOptions(), data_), "rocksdb flush");
}

std::string RocksDBStorage::stats() const {
  std::string out = "engine: rocksdb\ndirectory: " + dir_ + "\n";
  for (const char* p : {"rocksdb.estimate-num-keys", "rocksdb.total-sst-files-size",
                        "rocksdb.cur-size-all-mem-tables", "rocksdb.num-live-versions"}) {
    std::string v;
    if (db_->GetProperty(data_, p, &v)) out += std::string(p + 8) + ": " + v + "\n";
  }
  return out;
}

}  // namespace omen
