// StorageEngine contract, typed over MemoryStorage and RocksDBStorage; RocksDB-specific bad input
// (foreign, corrupt, busy directories, full disk) and reopen.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <fstream>
#include <map>
#include <random>

#include "omen/memory_storage.h"
#include "omen/rocksdb_storage.h"
#include "test_util.h"

namespace {

using omen::Status;
using omen::StorageEngine;
using omen::WriteBatch;

struct MemoryMaker {
  std::unique_ptr<StorageEngine> make() { return std::make_unique<omen::MemoryStorage>(); }
};
struct RocksMaker {
  omen::test::ScratchDir dir;
  std::unique_ptr<StorageEngine> make() {
    std::unique_ptr<omen::RocksDBStorage> db;
    Status s = omen::RocksDBStorage::open(dir.sub("db"), {}, &db);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return db;
  }
};

template <class Maker>
class StorageEngineTest : public ::testing::Test {
 protected:
  Maker maker;
  std::unique_ptr<StorageEngine> db = maker.make();
};
using Makers = ::testing::Types<MemoryMaker, RocksMaker>;
TYPED_TEST_SUITE(StorageEngineTest, Makers);

std::vector<std::pair<std::string, std::string>> scan_all(const StorageEngine& db,
                                                          const omen::StorageSnapshot* snap = nullptr) {
  std::vector<std::pair<std::string, std::string>> out;
  auto it = db.new_iterator(snap);
  for (it->seek_to_first(); it->valid(); it->next()) out.emplace_back(it->key(), it->value());
  EXPECT_TRUE(it->status().ok());
  return out;
}

TYPED_TEST(StorageEngineTest, PutGetDelete) {
  auto& db = *this->db;
  std::string v;
  EXPECT_TRUE(db.get("a", &v).is_not_found());
  ASSERT_TRUE(db.put("a", "1").ok());
  ASSERT_TRUE(db.get("a", &v).ok());
  EXPECT_EQ(v, "1");
  ASSERT_TRUE(db.put("a", "2").ok());
  ASSERT_TRUE(db.get("a", &v).ok());
  EXPECT_EQ(v, "2");
  ASSERT_TRUE(db.del("a").ok());
  EXPECT_TRUE(db.get("a", &v).is_not_found());
  ASSERT_TRUE(db.del("never").ok());
  ASSERT_TRUE(db.put(std::string("\0\xff", 2), "").ok());  // binary keys, empty values
  ASSERT_TRUE(db.get(std::string("\0\xff", 2), &v).ok());
  EXPECT_EQ(v, "");
}

TYPED_TEST(StorageEngineTest, OrderedScanMatchesStdMap) {
  auto& db = *this->db;
  std::map<std::string, std::string> model;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string k(1 + rng() % 6, '\0');
    for (auto& c : k) c = static_cast<char>(rng() % 4 == 0 ? 0xff : rng() % 256);
    if (rng() % 5 == 0) {
      ASSERT_TRUE(db.del(k).ok());
      model.erase(k);
    } else {
      ASSERT_TRUE(db.put(k, std::to_string(i)).ok());
      model[k] = std::to_string(i);
    }
  }
  auto got = scan_all(db);
  ASSERT_EQ(got.size(), model.size());
  EXPECT_TRUE(std::equal(got.begin(), got.end(), model.begin(),
                         [](auto& a, auto& b) { return a.first == b.first && a.second == b.second; }));
  // seek lands on the first key >= target
  for (int i = 0; i < 200; ++i) {
    std::string t(1 + rng() % 3, static_cast<char>(rng() % 256));
    auto it = db.new_iterator();
    it->seek(t);
    auto want = model.lower_bound(t);
    if (want == model.end()) {
      EXPECT_FALSE(it->valid());
    } else {
      ASSERT_TRUE(it->valid());
      EXPECT_EQ(it->key(), want->first);
    }
  }
}

TYPED_TEST(StorageEngineTest, BatchIsAtomicAndOrdered) {
  auto& db = *this->db;
  WriteBatch b;
  b.put("x", "1");
  b.put("y", "2");
  b.del("x");
  b.put("z", "3");
  ASSERT_TRUE(db.write(b).ok());
  std::string v;
  EXPECT_TRUE(db.get("x", &v).is_not_found());
  ASSERT_TRUE(db.get("y", &v).ok());
  ASSERT_TRUE(db.get("z", &v).ok());
}

TYPED_TEST(StorageEngineTest, SnapshotSeesPointInTime) {
  auto& db = *this->db;
  ASSERT_TRUE(db.put("k1", "old").ok());
  ASSERT_TRUE(db.put("k2", "old").ok());
  auto snap = db.snapshot();
  ASSERT_TRUE(db.put("k1", "new").ok());
  ASSERT_TRUE(db.del("k2").ok());
  ASSERT_TRUE(db.put("k3", "new").ok());
  std::string v;
  ASSERT_TRUE(db.get("k1", &v, snap.get()).ok());
  EXPECT_EQ(v, "old");
  ASSERT_TRUE(db.get("k2", &v, snap.get()).ok());
  EXPECT_TRUE(db.get("k3", &v, snap.get()).is_not_found());
  EXPECT_EQ(scan_all(db, snap.get()).size(), 2u);
  EXPECT_EQ(scan_all(db).size(), 2u);  // k1, k3
  snap.reset();
  ASSERT_TRUE(db.get("k1", &v).ok());
  EXPECT_EQ(v, "new");
}

TYPED_TEST(StorageEngineTest, OversizedKeyOrValueIsRejectedAndChangesNothing) {
  auto& db = *this->db;
  WriteBatch b;
  b.put("ok", "1");
  b.put(std::string(omen::kMaxStorageKeyBytes + 1, 'k'), "v");
  Status s = db.write(b);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("exceeds the limit"), std::string::npos) << s.to_string();
  std::string v;
  EXPECT_TRUE(db.get("ok", &v).is_not_found());
  s = db.put("big", std::string(omen::kMaxStorageValueBytes + 1, 'v'));
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(db.get("big", &v).is_not_found());
}

TEST(MemoryStorageTest, OldVersionsAreDroppedOnceNoSnapshotNeedsThem) {
  omen::MemoryStorage db;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(db.put("k", std::to_string(i)).ok());
  EXPECT_NE(db.stats().find("versions: 1\n"), std::string::npos) << db.stats();
  auto snap = db.snapshot();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(db.put("k", std::to_string(i)).ok());
  EXPECT_NE(db.stats().find("versions: 11\n"), std::string::npos) << db.stats();
  snap.reset();
  ASSERT_TRUE(db.del("k").ok());
  EXPECT_NE(db.stats().find("keys: 0\n"), std::string::npos) << db.stats();
}

// ---- RocksDB: durability and bad input ----

Status open_at(const std::string& dir, std::unique_ptr<omen::RocksDBStorage>* db,
               omen::RocksDBOptions o = {}) {
  return omen::RocksDBStorage::open(dir, o, db);
}

TEST(RocksDBStorageTest, ReopenKeepsCommittedData) {
  omen::test::ScratchDir d;
  {
    std::unique_ptr<omen::RocksDBStorage> db;
    ASSERT_TRUE(open_at(d.path(), &db).ok());
    for (int i = 0; i < 1000; ++i)
      ASSERT_TRUE(db->put("key" + std::to_string(i), std::string(100, 'a' + i % 26)).ok());
    ASSERT_TRUE(db->flush().ok());
    ASSERT_TRUE(db->put("after-flush", "x").ok());
  }
  std::unique_ptr<omen::RocksDBStorage> db;
  ASSERT_TRUE(open_at(d.path(), &db).ok());
  EXPECT_EQ(scan_all(*db).size(), 1001u);
  EXPECT_NE(db->stats().find("estimate-num-keys"), std::string::npos);
}

TEST(RocksDBStorageTest, ForeignDirectoryIsRefusedAndUntouched) {
  omen::test::ScratchDir d;
  { std::ofstream(d.sub("thesis.txt")) << "not a database"; }
  std::unique_ptr<omen::RocksDBStorage> db;
  Status s = open_at(d.path(), &db);
  EXPECT_EQ(s.code(), Status::Code::kNotSupported) << s.to_string();
  EXPECT_FALSE(db);
  EXPECT_FALSE(std::filesystem::exists(d.sub("CURRENT")));  // nothing created
}

// Caught by the crash test: a writer killed while RocksDB was creating the store left LOCK and LOG
// but no CURRENT, and the directory was then refused as foreign.
TEST(RocksDBStorageTest, InterruptedCreationIsCompletedOnReopen) {
  omen::test::ScratchDir d;
  { std::ofstream(d.sub("LOCK")); }
  { std::ofstream(d.sub("LOG")) << "partial"; }
  std::unique_ptr<omen::RocksDBStorage> db;
  Status s = open_at(d.path(), &db);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_TRUE(db->put("a", "b").ok());
}

TEST(RocksDBStorageTest, ForeignRocksDBIsRefused) {
  omen::test::ScratchDir d;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, d.path(), &raw).ok());
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), "their", "data").ok());
    delete raw;
  }
  std::unique_ptr<omen::RocksDBStorage> db;
  Status s = open_at(d.path(), &db);
  EXPECT_EQ(s.code(), Status::Code::kNotSupported) << s.to_string();
  EXPECT_NE(s.message().find("not an OmenDB store"), std::string::npos);
}

TEST(RocksDBStorageTest, CorruptDirectoryGivesCorruption) {
  omen::test::ScratchDir d;
  {
    std::unique_ptr<omen::RocksDBStorage> db;
    ASSERT_TRUE(open_at(d.path(), &db).ok());
    ASSERT_TRUE(db->put("a", "b").ok());
  }
  // Overwrite every MANIFEST with garbage.
  for (auto& e : std::filesystem::directory_iterator(d.path()))
    if (e.path().filename().string().rfind("MANIFEST", 0) == 0)
      std::ofstream(e.path(), std::ios::trunc) << "garbage!";
  std::unique_ptr<omen::RocksDBStorage> db;
  Status s = open_at(d.path(), &db);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.code() == Status::Code::kCorruption) << s.to_string();
  EXPECT_FALSE(db);
}

TEST(RocksDBStorageTest, SecondOpenerIsBusy) {
  omen::test::ScratchDir d;
  std::unique_ptr<omen::RocksDBStorage> a, b;
  ASSERT_TRUE(open_at(d.path(), &a).ok());
  Status s = open_at(d.path(), &b);
  EXPECT_EQ(s.code(), Status::Code::kBusy) << s.to_string();
}

TEST(RocksDBStorageTest, FullDiskFailsWritesClearlyAndLosesNothing) {
  omen::test::ScratchDir d;
  auto fs = std::make_shared<omen::test::FullDiskFileSystem>(rocksdb::FileSystem::Default());
  omen::RocksDBOptions o;
  o.file_system = fs;
  {
    std::unique_ptr<omen::RocksDBStorage> db;
    ASSERT_TRUE(open_at(d.path(), &db, o).ok());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(db->put(omen::test::numbered("k", i), "v").ok());
    fs->full = true;
    Status s = db->put("lost", "v");
    EXPECT_EQ(s.code(), Status::Code::kIOError) << s.to_string();
    EXPECT_NE(s.message().find("space"), std::string::npos) << s.to_string();
    std::string v;
    EXPECT_TRUE(db->get("k5", &v).ok());  // reads still work
    s = db->put("lost2", "v");            // still refused, not silently dropped
    EXPECT_FALSE(s.ok());
    fs->full = false;
  }
  std::unique_ptr<omen::RocksDBStorage> db;
  Status s = open_at(d.path(), &db, o);
  ASSERT_TRUE(s.ok()) << s.to_string();
  std::string v;
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(db->get(omen::test::numbered("k", i), &v).ok()) << i;
  EXPECT_TRUE(db->get("lost2", &v).is_not_found());
  EXPECT_TRUE(db->put("after", "v").ok());
}

}  // namespace
