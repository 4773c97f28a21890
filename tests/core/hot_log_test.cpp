// The hot log of TieredStore (docs/storage.md, "Hot log"): torn and corrupt records, replay after
// repeated crashes, checkpoints that truncate the log, a failed fsync on the log itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "omen/memory_storage.h"
#include "omen/rocksdb_storage.h"
#include "omen/tiered_store.h"
#include "test_util.h"
#include "tier_test_util.h"

namespace {

using omen::Status;
using omen::TieredStore;
using omen::TierOptions;

TierOptions manual() {
  TierOptions o;
  o.auto_maintenance = false;
  return o;
}

// The hot-log tests run maintenance by hand unless they say otherwise.
std::unique_ptr<TieredStore> open_store(omen::StorageEngine* db, TierOptions o = manual()) {
  return omen::test::open_store(db, o);
}

using omen::test::numbered;
using omen::test::put1;
using omen::test::scan_all;

std::vector<std::string> files_with(omen::StorageEngine& db, const std::string& prefix) {
  std::vector<std::string> names, out;
  EXPECT_TRUE(db.files()->list(&names).ok());
  for (auto& n : names)
    if (n.rfind(prefix, 0) == 0) out.push_back(n);
  std::sort(out.begin(), out.end());
  return out;
}

// Rewrites file `name` of db through `edit`.
void edit_file(omen::StorageEngine& db, const std::string& name,
               const std::function<void(std::string*)>& edit) {
  std::string data;
  ASSERT_TRUE(db.files()->read(name, &data).ok());
  edit(&data);
  std::unique_ptr<omen::AppendFile> f;
  ASSERT_TRUE(db.files()->create(name, &f).ok());
  ASSERT_TRUE(f->append(data).ok());
  ASSERT_TRUE(f->sync().ok());
}

// Three commits in one segment; returns the segment's name and the size before the third.
std::pair<std::string, size_t> three_commits(omen::StorageEngine& db) {
  auto t = open_store(&db);
  EXPECT_TRUE(put1(*t, 1, "one").ok());
  EXPECT_TRUE(put1(*t, 2, "two").ok());
  std::string seg = files_with(db, "log-").back(), data;
  EXPECT_TRUE(db.files()->read(seg, &data).ok());
  EXPECT_TRUE(put1(*t, 3, "three").ok());
  return {seg, data.size()};
}

TEST(HotLogTest, TornLastRecordIsDroppedAndLaterCommitsSurviveTheNextCrash) {
  for (size_t cut : {1, 5, 20}) {
    omen::MemoryStorage db;
    auto [seg, before_third] = three_commits(db);
    ASSERT_NO_FATAL_FAILURE(edit_file(db, seg, [&](std::string* d) {
      ASSERT_GT(d->size() - before_third, cut);
      d->resize(d->size() - cut);  // the crash interrupted the third commit's write
    }));
    {
      auto t = open_store(&db);
      EXPECT_EQ(scan_all(*t), (std::map<uint64_t, std::string>{{1, "one"}, {2, "two"}})) << cut;
      EXPECT_TRUE(put1(*t, 4, "four").ok());  // goes to a new segment; the torn one stays
    }
    auto t = open_store(&db);  // the torn record, now in an older segment, is still a torn tail
    EXPECT_EQ(scan_all(*t), (std::map<uint64_t, std::string>{{1, "one"}, {2, "two"}, {4, "four"}})) << cut;
  }
}

TEST(HotLogTest, ZeroFilledTailIsATornWrite) {
  omen::MemoryStorage db;
  auto [seg, before_third] = three_commits(db);
  ASSERT_NO_FATAL_FAILURE(edit_file(db, seg, [&](std::string* d) {
    std::fill(d->begin() + static_cast<long>(before_third), d->end(), '\0');  // size grew, data never came
    d->append(100, '\0');
  }));
  auto t = open_store(&db);
  EXPECT_EQ(scan_all(*t), (std::map<uint64_t, std::string>{{1, "one"}, {2, "two"}}));
}

TEST(HotLogTest, CorruptRecordBeforeTheTailIsCorruption) {
  omen::MemoryStorage db;
  auto [seg, before_third] = three_commits(db);
  ASSERT_NO_FATAL_FAILURE(edit_file(db, seg, [&](std::string* d) { (*d)[before_third - 2] ^= 0x20; }));
  std::unique_ptr<TieredStore> t;
  Status s = TieredStore::open(&db, manual(), &t);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
  EXPECT_NE(s.message().find(seg), std::string::npos) << s.to_string();
  // A damaged last record fails its checksum like a torn one: it is dropped, the rest kept.
  omen::MemoryStorage db2;
  auto [seg2, before2] = three_commits(db2);
  ASSERT_NO_FATAL_FAILURE(edit_file(db2, seg2, [&](std::string* d) { d->back() ^= 0x20; }));
  auto t2 = open_store(&db2);
  EXPECT_EQ(scan_all(*t2), (std::map<uint64_t, std::string>{{1, "one"}, {2, "two"}}));
}

TEST(HotLogTest, DamagedCheckpointIsCorruption) {
  omen::MemoryStorage db;
  {
    auto t = open_store(&db);
    for (uint64_t k = 0; k < 50; ++k) ASSERT_TRUE(put1(*t, k, "v").ok());
    ASSERT_TRUE(t->checkpoint().ok());
  }
  auto ckpt = files_with(db, "ckpt-");
  ASSERT_EQ(ckpt.size(), 1u);
  ASSERT_NO_FATAL_FAILURE(edit_file(db, ckpt[0], [](std::string* d) { d->resize(d->size() - 3); }));
  std::unique_ptr<TieredStore> t;
  Status s = TieredStore::open(&db, manual(), &t);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
}

// Random commits, migrations and checkpoints; the store is dropped without any shutdown work
// (what a crash leaves in the files) and reopened each round, recovering from the same files
// again and again; after every reopen it equals the model.
TEST(HotLogTest, ReplayIsIdempotentAcrossRepeatedCrashes) {
  omen::test::ScratchDir d;
  std::unique_ptr<omen::RocksDBStorage> db;
  ASSERT_TRUE(omen::RocksDBStorage::open(d.path(), {}, &db).ok());
  std::map<uint64_t, std::string> model;
  std::mt19937_64 rng(7);
  TierOptions o = manual();
  o.sync_commits = false;
  for (int round = 0; round < 12; ++round) {
    auto t = open_store(db.get(), o);
    ASSERT_EQ(scan_all(*t), model) << "round " << round;
    t.reset();
    t = open_store(db.get(), o);  // recovering twice from the same files changes nothing
    ASSERT_EQ(scan_all(*t), model) << "round " << round << ", second open";
    for (int i = 0; i < 40; ++i) {
      auto txn = t->begin();
      for (int w = 0; w < 4; ++w) {
        uint64_t k = rng() % 200;
        if (rng() % 5 == 0) {
          ASSERT_TRUE(txn.del(k).ok());
          model.erase(k);
        } else {
          std::string v = std::to_string(round) + "-" + std::to_string(i) + "-" + std::to_string(w);
          ASSERT_TRUE(txn.put(k, v).ok());
          model[k] = v;
        }
      }
      ASSERT_TRUE(txn.commit().ok());
    }
    Status s;
    if (round % 3 == 1) s = t->migrate(0);
    if (s.ok() && round % 4 == 2) s = t->checkpoint();
    if (s.ok() && round % 5 == 3) s = t->compact_runs();
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  EXPECT_GT(files_with(*db, "ckpt-").size(), 0u);
}

TEST(HotLogTest, CheckpointTruncatesTheLogAndMigrationForgetsMovedKeys) {
  omen::MemoryStorage db;
  std::map<uint64_t, std::string> model;
  {
    auto t = open_store(&db);
    for (uint64_t i = 0; i < 300; ++i) {
      ASSERT_TRUE(put1(*t, i % 100, numbered("v", i)).ok());
      model[i % 100] = numbered("v", i);
    }
    uint64_t before = t->stats().log_bytes;
    ASSERT_TRUE(t->checkpoint().ok());
    EXPECT_EQ(files_with(db, "log-").size(), 1u) << "segments before the checkpoint were kept";
    EXPECT_EQ(files_with(db, "ckpt-").size(), 1u);
    EXPECT_EQ(t->stats().log_bytes, 0u);
    // The checkpoint holds each key once: about a third of the three versions per key logged.
    EXPECT_LT(t->stats().checkpoint_bytes, before / 2);
    ASSERT_TRUE(put1(*t, 500, "after").ok());
    model[500] = "after";
    EXPECT_GT(t->stats().log_bytes, 0u);
  }
  {
    auto t = open_store(&db);
    EXPECT_EQ(scan_all(*t), model);
    EXPECT_EQ(t->stats().hot_keys, 101u);
    ASSERT_TRUE(t->migrate(0).ok());  // moves every key, then checkpoints
    EXPECT_EQ(t->stats().hot_keys, 0u);
    EXPECT_EQ(files_with(db, "log-").size(), 1u);
  }
  // An interrupted checkpoint (its temporary file) is ignored and removed at the next open.
  std::unique_ptr<omen::AppendFile> f;
  ASSERT_TRUE(db.files()->create("ckpt-00000000000000000099.tmp", &f).ok());
  ASSERT_TRUE(f->append("partial").ok());
  auto t = open_store(&db);
  EXPECT_EQ(files_with(db, "ckpt-").size(), 1u);
  EXPECT_EQ(t->stats().hot_keys, 0u) << "migrated keys came back from the log";
  EXPECT_EQ(t->stats().cold_keys, 101u);
  EXPECT_EQ(scan_all(*t), model);
}

// Background checkpoints, triggered by log size, while commits go on.
TEST(HotLogTest, BackgroundCheckpointsKeepTheLogBounded) {
  omen::MemoryStorage db;
  TierOptions o;
  o.gc_every_commits = 16;
  o.checkpoint_log_bytes = 4096;
  std::map<uint64_t, std::string> model;
  {
    auto t = open_store(&db, o);
    for (uint64_t i = 0; i < 2000; ++i) {
      ASSERT_TRUE(put1(*t, i % 50, std::string(40, 'a' + i % 26)).ok());
      model[i % 50] = std::string(40, 'a' + i % 26);
    }
    ASSERT_TRUE(t->wait_for_maintenance().ok());
    EXPECT_GT(t->stats().checkpoint_bytes, 0u) << "no checkpoint was taken";
    EXPECT_LT(t->stats().log_bytes, 3 * 8192u);
  }
  auto t = open_store(&db, o);
  EXPECT_EQ(scan_all(*t), model);
}

// A RocksDB directory on a file system that can fail fsyncs and drop unsynced data (a power
// loss), with a store that syncs every commit.
struct SyncedStoreOnFailingFs {
  omen::test::ScratchDir dir;
  std::shared_ptr<omen::test::FailingSyncFileSystem> fs =
      std::make_shared<omen::test::FailingSyncFileSystem>(rocksdb::FileSystem::Default());
  TierOptions opts = [] {
    TierOptions o = manual();
    o.sync_commits = true;
    return o;
  }();

  std::unique_ptr<omen::RocksDBStorage> open_db() {
    omen::RocksDBOptions ro;
    ro.file_system = fs;
    std::unique_ptr<omen::RocksDBStorage> db;
    Status s = omen::RocksDBStorage::open(dir.path(), ro, &db);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return db;
  }
};

// A failed fsync of the hot log: the synced commit fails, names the log file, and every later
// commit and checkpoint is refused until the store is reopened.
TEST(HotLogTest, FailedLogSyncRefusesWritesUntilReopened) {
  SyncedStoreOnFailingFs f;
  {
    auto db = f.open_db();
    ASSERT_TRUE(db);
    auto t = open_store(db.get(), f.opts);
    ASSERT_TRUE(put1(*t, 1, "kept").ok());
    f.fs->fail_sync = true;
    Status s = put1(*t, 2, "failed");
    EXPECT_EQ(s.code(), Status::Code::kIOError) << s.to_string();
    EXPECT_NE(s.message().find("hotlog/log-"), std::string::npos) << s.to_string();
    f.fs->fail_sync = false;
    EXPECT_EQ(put1(*t, 3, "refused").code(), Status::Code::kIOError);
    EXPECT_EQ(t->checkpoint().code(), Status::Code::kIOError);
    EXPECT_EQ(scan_all(*t), (std::map<uint64_t, std::string>{{1, "kept"}}));
  }
  EXPECT_GT(f.fs->drop_unsynced_data(), 0u);
  auto db = f.open_db();
  ASSERT_TRUE(db);
  auto t = open_store(db.get(), f.opts);
  EXPECT_EQ(scan_all(*t), (std::map<uint64_t, std::string>{{1, "kept"}}));
  EXPECT_TRUE(put1(*t, 4, "after").ok());
}

// Synced commits from several threads share fsyncs and are all durable: each one is in the log
// after a simulated power loss.
TEST(HotLogTest, GroupCommittedSyncsSurvivePowerLoss) {
  SyncedStoreOnFailingFs f;
  {
    auto db = f.open_db();
    ASSERT_TRUE(db);
    auto t = open_store(db.get(), f.opts);
    std::vector<std::thread> threads;
    for (uint64_t th = 0; th < 4; ++th)
      threads.emplace_back([&, th] {
        for (uint64_t i = 0; i < 50; ++i) EXPECT_TRUE(put1(*t, th * 1000 + i, "v").ok());
      });
    for (auto& th : threads) th.join();
  }
  f.fs->drop_unsynced_data();
  auto db = f.open_db();
  ASSERT_TRUE(db);
  auto t = open_store(db.get(), f.opts);
  EXPECT_EQ(scan_all(*t).size(), 200u);
}

// Each open starts a segment; many short-lived openers (omen_kv) must not pile up files.
TEST(HotLogTest, ManyShortOpensDoNotPileUpSegments) {
  omen::MemoryStorage db;
  std::map<uint64_t, std::string> model;
  size_t most = 0;
  for (uint64_t i = 0; i < 40; ++i) {
    auto t = open_store(&db);
    ASSERT_TRUE(put1(*t, i % 7, std::to_string(i)).ok());
    model[i % 7] = std::to_string(i);
    most = std::max(most, files_with(db, "log-").size());
  }
  EXPECT_LE(most, TieredStore::kMaxLogSegments + 1) << "segments were never checkpointed away";
  EXPECT_GE(most, 2u);
  auto t = open_store(&db);
  EXPECT_EQ(scan_all(*t), model);
}

std::string be64(uint64_t v) {
  std::string s;
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

// A store written by the format-1 build ('H' rows for hot versions) is converted at its first
// open: same contents, rows gone, format 2, and a second open (or a crash right after the
// conversion's checkpoint, when the rows are still there) gives the same store.
TEST(HotLogTest, FormatOneStoreIsConvertedAtOpen) {
  for (bool interrupted : {false, true}) {
    omen::MemoryStorage db;
    omen::WriteBatch b;
    b.put("Mformat", "omen-tier-1");
    b.put("H" + be64(1), be64(3) + "V" + "one");
    b.put("H" + be64(2), be64(5) + "D");
    b.put("H" + be64(UINT64_MAX), be64(4) + "V" + "max");
    ASSERT_TRUE(db.write(b).ok());
    const std::map<uint64_t, std::string> want{{1, "one"}, {UINT64_MAX, "max"}};
    {
      auto t = open_store(&db);
      ASSERT_TRUE(t);
      EXPECT_EQ(scan_all(*t), want);
      EXPECT_EQ(t->stats().last_commit_ts, 5u);
    }
    std::string v;
    ASSERT_TRUE(db.get("Mformat", &v).ok());
    EXPECT_EQ(v, "omen-tier-2");
    EXPECT_TRUE(db.get("H" + be64(1), &v).is_not_found());
    if (interrupted) {  // the rows and the old format back, as if the last batch never happened
      ASSERT_TRUE(db.write(b).ok());
    }
    auto t = open_store(&db);
    EXPECT_EQ(scan_all(*t), want);
    ASSERT_TRUE(put1(*t, 1, "new").ok());
    EXPECT_EQ(t->stats().last_commit_ts, 6u);
  }
}

}  // namespace
