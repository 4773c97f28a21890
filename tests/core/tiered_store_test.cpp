// TieredStore: transactions (snapshot isolation, first-committer-wins), recovery, garbage
// collection and migration to cold runs, checked against a std::map model.
#include "omen/tiered_store.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "omen/memory_storage.h"
#include "omen/rocksdb_storage.h"
#include "test_util.h"
#include "tier_test_util.h"

namespace {

using omen::Status;
using omen::TieredStore;
using omen::TierOptions;

using omen::test::numbered;
using omen::test::open_store;
using omen::test::put1;
using omen::test::scan_all;

std::string get1(TieredStore& t, uint64_t k) {
  auto txn = t.begin();
  std::string v;
  Status s = txn.get(k, &v);
  return s.ok() ? v : s.is_not_found() ? "<none>" : s.to_string();
}

TEST(TieredStoreTest, ReadOwnWritesAndCommit) {
  omen::MemoryStorage db;
  auto t = open_store(&db);
  auto txn = t->begin();
  ASSERT_TRUE(txn.put(1, "one").ok());
  ASSERT_TRUE(txn.put(3, "three").ok());
  std::string v;
  ASSERT_TRUE(txn.get(1, &v).ok());
  EXPECT_EQ(v, "one");
  EXPECT_EQ(get1(*t, 1), "<none>");  // not visible before commit
  ASSERT_TRUE(txn.commit().ok());
  EXPECT_EQ(get1(*t, 1), "one");
  EXPECT_EQ(txn.put(2, "x").code(), Status::Code::kAborted);

  auto t2 = t->begin();
  ASSERT_TRUE(t2.del(1).ok());
  ASSERT_TRUE(t2.put(2, "two").ok());
  std::vector<uint64_t> keys;
  ASSERT_TRUE(
      t2.scan(0, UINT64_MAX, [&](uint64_t k, std::string_view) { return keys.push_back(k), true; }).ok());
  EXPECT_EQ(keys, (std::vector<uint64_t>{2, 3}));
  t2.abort();
  EXPECT_EQ(get1(*t, 1), "one");
  EXPECT_EQ(get1(*t, 2), "<none>");
}

TEST(TieredStoreTest, SnapshotIsStableAndFirstCommitterWins) {
  omen::MemoryStorage db;
  auto t = open_store(&db);
  ASSERT_TRUE(put1(*t, 7, "a").ok());
  auto reader = t->begin();
  auto w1 = t->begin();
  auto w2 = t->begin();
  ASSERT_TRUE(w1.put(7, "b").ok());
  ASSERT_TRUE(w2.put(7, "c").ok());
  ASSERT_TRUE(w1.commit().ok());
  Status s = w2.commit();
  EXPECT_TRUE(s.is_conflict()) << s.to_string();
  EXPECT_FALSE(w2.active());
  std::string v;
  ASSERT_TRUE(reader.get(7, &v).ok());
  EXPECT_EQ(v, "a");  // repeatable: the reader's snapshot predates w1
  EXPECT_EQ(get1(*t, 7), "b");
  // A transaction that began after w1 committed may write the key.
  ASSERT_TRUE(put1(*t, 7, "d").ok());
  EXPECT_EQ(t->stats().conflicts, 1u);
  // Disjoint write sets never conflict (SI allows write skew).
  auto a = t->begin(), b = t->begin();
  ASSERT_TRUE(a.put(100, "x").ok());
  ASSERT_TRUE(b.put(101, "y").ok());
  EXPECT_TRUE(a.commit().ok());
  EXPECT_TRUE(b.commit().ok());
}

TEST(TieredStoreTest, OversizedValueIsRejected) {
  omen::MemoryStorage db;
  auto t = open_store(&db);
  auto txn = t->begin();
  Status s = txn.put(1, std::string(omen::kMaxValueBytes + 1, 'x'));
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("exceeds the limit"), std::string::npos);
  ASSERT_TRUE(txn.put(2, "fine").ok());
  ASSERT_TRUE(txn.commit().ok());
  EXPECT_EQ(get1(*t, 2), "fine");
}

TEST(TieredStoreTest, ForeignStorageIsRefused) {
  omen::MemoryStorage db;
  ASSERT_TRUE(db.put("somebody else's", "data").ok());
  std::unique_ptr<TieredStore> t;
  Status s = TieredStore::open(&db, {}, &t);
  EXPECT_EQ(s.code(), Status::Code::kNotSupported) << s.to_string();
}

TEST(TieredStoreTest, MigrationMovesFrozenKeysAndReadsStayTheSame) {
  omen::MemoryStorage db;
  TierOptions o;
  o.auto_maintenance = false;
  auto t = open_store(&db, o);
  for (uint64_t k = 0; k < 1000; ++k) ASSERT_TRUE(put1(*t, k * 3, numbered("v", k)).ok());
  auto old_reader = t->begin();  // pins the oldest snapshot: nothing newer than it may migrate
  ASSERT_TRUE(put1(*t, 3, "updated").ok());
  ASSERT_TRUE(put1(*t, 6, "").ok());
  auto del = t->begin();
  ASSERT_TRUE(del.del(9).ok());
  ASSERT_TRUE(del.commit().ok());
  size_t moved = 0;
  ASSERT_TRUE(t->migrate(0, &moved).ok());
  EXPECT_EQ(moved, 997u);  // keys 3, 6 and 9 changed after old_reader began
  auto st = t->stats();
  EXPECT_EQ(st.cold_runs, 1u);
  EXPECT_EQ(st.cold_keys, 997u);
  std::string v;
  ASSERT_TRUE(old_reader.get(9, &v).ok());
  EXPECT_EQ(v, "v3");
  ASSERT_TRUE(old_reader.get(3, &v).ok());
  EXPECT_EQ(v, "v1");
  old_reader.abort();
  ASSERT_TRUE(t->maintain().ok());
  ASSERT_TRUE(t->migrate(0, &moved).ok());
  EXPECT_EQ(t->stats().cold_runs, 2u);
  EXPECT_EQ(get1(*t, 3), "updated");
  EXPECT_EQ(get1(*t, 6), "");
  EXPECT_EQ(get1(*t, 9), "<none>");
  EXPECT_EQ(get1(*t, 12), "v4");
  auto all = scan_all(*t);
  EXPECT_EQ(all.size(), 999u);
  EXPECT_EQ(all.count(9), 0u);
  // Recovery reads the runs back.
  t.reset();
  t = open_store(&db, o);
  EXPECT_EQ(scan_all(*t), all);
  EXPECT_EQ(t->stats().cold_runs, 2u);
}

// Random transactions, garbage collections, migrations and reopenings against a std::map model.
void model_check(omen::StorageEngine* db, uint64_t seed) {
  TierOptions o;
  o.auto_maintenance = false;
  auto t = open_store(db, o);
  std::map<uint64_t, std::string> model;
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 50; ++i) {
      auto txn = t->begin();
      std::map<uint64_t, std::string> pending = model;
      for (int j = 0, n = 1 + static_cast<int>(rng() % 5); j < n; ++j) {
        uint64_t k = rng() % 400;
        if (rng() % 4 == 0) {
          ASSERT_TRUE(txn.del(k).ok());
          pending.erase(k);
        } else {
          std::string v = std::to_string(rng());
          ASSERT_TRUE(txn.put(k, v).ok());
          pending[k] = v;
        }
      }
      if (rng() % 8 == 0) {
        txn.abort();
      } else {
        ASSERT_TRUE(txn.commit().ok());
        model = std::move(pending);
      }
    }
    switch (rng() % 5) {
      case 0:
        ASSERT_TRUE(t->maintain().ok());
        break;
      case 1:
        ASSERT_TRUE(t->migrate(rng() % 30).ok());
        break;
      case 2:
        t.reset(), t = open_store(db, o);
        break;
      case 3:
        ASSERT_TRUE(t->compact_runs().ok());
        break;
      default:
        break;
    }
    ASSERT_EQ(scan_all(*t), model) << "round " << round;
    uint64_t a = rng() % 400, b = a + rng() % 100;
    std::map<uint64_t, std::string> want(model.lower_bound(a), model.upper_bound(b));
    ASSERT_EQ(scan_all(*t, a, b), want);
    for (uint64_t k = 0; k < 400; k += 7) {
      auto it = model.find(k);
      ASSERT_EQ(get1(*t, k), it == model.end() ? "<none>" : it->second) << "key " << k;
    }
  }
  EXPECT_GT(t->stats().cold_keys, 0u);
}

TEST(TieredStoreTest, CompactionMergesRunsAndKeepsPinnedReadersWhole) {
  omen::MemoryStorage db;
  TierOptions o;
  o.auto_maintenance = false;
  auto t = open_store(&db, o);
  for (int r = 0; r < 4; ++r) {  // four runs; each rewrites keys 0..99, deletes one
    auto txn = t->begin();
    for (uint64_t k = 0; k < 100; ++k) ASSERT_TRUE(txn.put(k, std::to_string(r)).ok());
    ASSERT_TRUE(txn.del(static_cast<uint64_t>(r)).ok());
    ASSERT_TRUE(txn.commit().ok());
    ASSERT_TRUE(t->maintain().ok());
    ASSERT_TRUE(t->migrate(0).ok());
  }
  ASSERT_EQ(t->stats().cold_runs, 4u);
  auto before = scan_all(*t);
  auto pinned = t->begin();
  std::map<uint64_t, std::string> seen;
  bool compacted = false;
  // A scan that pins the old runs, with the compaction happening in the middle of it.
  ASSERT_TRUE(pinned
                  .scan(0, UINT64_MAX,
                        [&](uint64_t k, std::string_view v) {
                          if (!compacted) {
                            compacted = true;
                            EXPECT_TRUE(t->compact_runs().ok());
                          }
                          seen.emplace(k, v);
                          return true;
                        })
                  .ok());
  EXPECT_EQ(seen, before);
  EXPECT_EQ(t->stats().cold_runs, 1u);
  EXPECT_EQ(t->stats().cold_keys, 99u);  // key 3's tombstone dropped
  EXPECT_EQ(scan_all(*t), before);
  pinned.abort();
  ASSERT_TRUE(t->maintain().ok());  // the old runs' rows go now
  t.reset();
  t = open_store(&db, o);
  EXPECT_EQ(scan_all(*t), before);
  size_t cold_rows = 0;
  auto it = db.new_iterator();
  for (it->seek("C"); it->valid() && it->key()[0] == 'C'; it->next()) ++cold_rows;
  EXPECT_EQ(cold_rows, 99u) << "rows of merged-away runs were left behind";
}

TEST(TieredStoreTest, ModelCheckOnMemoryStorage) {
  omen::MemoryStorage db;
  model_check(&db, 1);
}

TEST(TieredStoreTest, ModelCheckOnRocksDB) {
  omen::test::ScratchDir d;
  std::unique_ptr<omen::RocksDBStorage> db;
  ASSERT_TRUE(omen::RocksDBStorage::open(d.path(), {}, &db).ok());
  model_check(db.get(), 2);
}

// Keys 0-49 = "kept" in a cold run, key 100 = "hot" in the hot tier, all committed.
void fill_both_tiers(TieredStore& t) {
  for (uint64_t k = 0; k < 50; ++k) ASSERT_TRUE(put1(t, k, "kept").ok());
  ASSERT_TRUE(t.migrate(0).ok());
  ASSERT_TRUE(put1(t, 100, "hot").ok());
}

TEST(TieredStoreTest, FullDiskFailsCommitsAndLosesNothing) {
  omen::test::ScratchDir d;
  auto fs = std::make_shared<omen::test::FullDiskFileSystem>(rocksdb::FileSystem::Default());
  omen::RocksDBOptions ro;
  ro.file_system = fs;
  TierOptions o;
  o.auto_maintenance = false;
  {
    std::unique_ptr<omen::RocksDBStorage> db;
    ASSERT_TRUE(omen::RocksDBStorage::open(d.path(), ro, &db).ok());
    auto t = open_store(db.get(), o);
    ASSERT_NO_FATAL_FAILURE(fill_both_tiers(*t));
    fs->full = true;
    Status s = put1(*t, 200, "lost");
    EXPECT_EQ(s.code(), Status::Code::kIOError) << s.to_string();
    EXPECT_EQ(get1(*t, 200), "<none>");  // a failed commit is not visible
    EXPECT_EQ(get1(*t, 100), "hot");     // reads go on
    EXPECT_EQ(get1(*t, 7), "kept");
    EXPECT_FALSE(t->migrate(0).ok());
    fs->full = false;
  }
  std::unique_ptr<omen::RocksDBStorage> db;
  ASSERT_TRUE(omen::RocksDBStorage::open(d.path(), ro, &db).ok());
  auto t = open_store(db.get(), o);
  auto all = scan_all(*t);
  EXPECT_EQ(all.size(), 51u);
  EXPECT_EQ(all.count(200), 0u);
  EXPECT_TRUE(put1(*t, 300, "after").ok());
}

// A failed fsync (write-back error) on a synced commit: the commit returns kIOError and is not
// visible; the store refuses every later write (the engine cannot tell what reached the disk).
// A reopen finds every commit made before the failure and accepts writes again. The failed commit
// is absent if the power loss that may follow a failed fsync dropped its log record; if the
// record survived (same boot, the OS kept the page), it is present whole: its outcome is unknown
// to the caller, as for a Postgres commit whose fsync fails (docs/storage.md, "Storage failures").
void failed_sync(bool power_loss) {
  omen::test::ScratchDir d;
  auto fs = std::make_shared<omen::test::FailingSyncFileSystem>(rocksdb::FileSystem::Default());
  omen::RocksDBOptions ro;
  ro.file_system = fs;
  TierOptions o;
  o.sync_commits = true;
  o.auto_maintenance = false;
  {
    std::unique_ptr<omen::RocksDBStorage> db;
    ASSERT_TRUE(omen::RocksDBStorage::open(d.path(), ro, &db).ok());
    auto t = open_store(db.get(), o);
    ASSERT_NO_FATAL_FAILURE(fill_both_tiers(*t));
    fs->fail_sync = true;
    auto txn = t->begin();
    ASSERT_TRUE(txn.put(200, "failed").ok());
    ASSERT_TRUE(txn.put(201, "failed").ok());
    ASSERT_TRUE(txn.del(7).ok());
    Status s = txn.commit();
    EXPECT_EQ(s.code(), Status::Code::kIOError) << s.to_string();
    EXPECT_GT(fs->failed_syncs.load(), 0) << "the commit did not sync";
    EXPECT_EQ(get1(*t, 200), "<none>");  // a failed commit is not visible
    EXPECT_EQ(get1(*t, 7), "kept");
    EXPECT_EQ(get1(*t, 100), "hot");  // reads go on, over both tiers
    fs->fail_sync = false;            // even once the disk works again, writes stay refused until reopen
    s = put1(*t, 300, "refused");
    EXPECT_EQ(s.code(), Status::Code::kIOError) << s.to_string();
    EXPECT_EQ(get1(*t, 300), "<none>");
    EXPECT_FALSE(t->migrate(0).ok());
  }
  if (power_loss) {
    EXPECT_GT(fs->drop_unsynced_data(), 0u) << "the failed commit reached no file";
  }
  std::unique_ptr<omen::RocksDBStorage> db;
  Status s = omen::RocksDBStorage::open(d.path(), ro, &db);
  ASSERT_TRUE(s.ok()) << s.to_string();
  auto t = open_store(db.get(), o);
  auto all = scan_all(*t);
  for (uint64_t k = 0; k < 50; ++k) EXPECT_EQ(k == 7 ? "kept" : all[k], "kept") << k;
  EXPECT_EQ(all[100], "hot");
  EXPECT_EQ(all.count(300), 0u);
  bool present = all.count(200) != 0;
  if (power_loss) {
    EXPECT_FALSE(present) << "a commit whose log record was lost came back";
  }
  EXPECT_EQ(all.count(201) != 0, present) << "half of the failed commit survived";
  EXPECT_EQ(all.count(7) == 0, present) << "half of the failed commit survived";
  EXPECT_EQ(all.size(), present ? 52u : 51u);
  EXPECT_TRUE(put1(*t, 400, "after").ok());
  EXPECT_EQ(get1(*t, 400), "after");
}

TEST(TieredStoreTest, FailedSyncThenPowerLossKeepsEveryCommitAndDropsTheFailedOne) { failed_sync(true); }

TEST(TieredStoreTest, FailedSyncThenReopenKeepsEveryCommitAndTheFailedOneWholeOrNot) { failed_sync(false); }

// Three overlapping cold runs with tombstones, built through migrations; returns the model.
std::map<uint64_t, std::string> three_runs(TieredStore& t) {
  std::map<uint64_t, std::string> model;
  for (uint64_t r = 0; r < 3; ++r) {
    auto txn = t.begin();
    for (uint64_t k = r * 300; k < r * 300 + 1000; ++k) {
      if (k % 7 == r) {
        EXPECT_TRUE(txn.del(k).ok());
        model.erase(k);
      } else {
        std::string v = numbered(numbered("r", r) + "-", k);
        EXPECT_TRUE(txn.put(k, v).ok());
        model[k] = v;
      }
    }
    EXPECT_TRUE(txn.commit().ok());
    EXPECT_TRUE(t.migrate(0).ok());
  }
  EXPECT_EQ(t.stats().cold_runs, 3u);
  return model;
}

size_t rows_with_tag(const omen::StorageEngine& db, char tag) {
  size_t n = 0;
  auto it = db.new_iterator();
  for (it->seek(std::string(1, tag)); it->valid() && it->key()[0] == tag; it->next()) ++n;
  return n;
}

// The merge holds at most compaction_batch_entries entries at a time, however large the runs.
TEST(TieredStoreTest, CompactionStreamsInBoundedBatches) {
  omen::MemoryStorage db;
  TierOptions o;
  o.auto_maintenance = false;
  o.compaction_batch_entries = 100;
  auto t = open_store(&db, o);
  auto model = three_runs(*t);
  ASSERT_TRUE(t->compact_runs().ok());
  auto st = t->stats();
  EXPECT_EQ(st.cold_runs, 1u);
  EXPECT_EQ(st.cold_keys, model.size());
  EXPECT_GT(model.size(), 1000u);
  EXPECT_EQ(st.compaction_peak_entries, 100u) << "the merge held more (or fewer) entries than its batch";
  EXPECT_EQ(scan_all(*t), model);
  t.reset();
  t = open_store(&db, o);
  EXPECT_EQ(scan_all(*t), model);
  EXPECT_EQ(rows_with_tag(db, 'C'), model.size()) << "rows of merged-away runs were left behind";
}

// A compaction that fails before its last batch changes nothing readers see, and the rows it
// had written are deleted: by the next maintenance, or by the next open after a crash.
TEST(TieredStoreTest, InterruptedCompactionLeavesNoRows) {
  for (bool reopen : {false, true}) {
    omen::MemoryStorage mem;
    omen::test::RunWriteGate db(&mem);
    TierOptions o;
    o.auto_maintenance = false;
    o.compaction_batch_entries = 64;
    auto t = open_store(&db, o);
    auto model = three_runs(*t);
    size_t rows = rows_with_tag(mem, 'C');
    db.set_mode(omen::test::RunWriteGate::Mode::kFail);  // fails the last batch (it has the header)
    Status s = t->compact_runs();
    EXPECT_EQ(s.code(), Status::Code::kIOError) << s.to_string();
    EXPECT_GT(rows_with_tag(mem, 'C'), rows) << "no batch was written before the header";
    EXPECT_EQ(t->stats().cold_runs, 3u);
    EXPECT_EQ(scan_all(*t), model);
    db.set_mode(omen::test::RunWriteGate::Mode::kPass);
    if (reopen) {
      t.reset();
      t = open_store(&db, o);
      EXPECT_EQ(rows_with_tag(mem, 'C'), rows) << "the next open kept the partial run";
      EXPECT_EQ(t->stats().cold_runs, 3u);
    }
    ASSERT_TRUE(t->compact_runs().ok());
    EXPECT_EQ(t->stats().cold_runs, 1u);
    EXPECT_EQ(scan_all(*t), model);
    EXPECT_EQ(rows_with_tag(mem, 'C'), model.size()) << "partial or merged-away rows were left behind";
    EXPECT_EQ(rows_with_tag(mem, 'X'), 0u);
  }
}

TEST(TieredStoreTest, DamagedColdRunIsReportedAsCorruption) {
  omen::MemoryStorage db;
  TierOptions o;
  o.auto_maintenance = false;
  {
    auto t = open_store(&db, o);
    for (uint64_t k = 0; k < 100; ++k) ASSERT_TRUE(put1(*t, k, "v").ok());
    ASSERT_TRUE(t->migrate(0).ok());
  }
  std::string chunk_key = std::string("K") + std::string(7, '\0') + '\1' + std::string(8, '\0');
  ASSERT_TRUE(db.put(chunk_key, "short").ok());
  std::unique_ptr<TieredStore> t;
  Status s = TieredStore::open(&db, o, &t);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
}

}  // namespace
