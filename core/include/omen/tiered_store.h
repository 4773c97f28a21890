// TieredStore: the embedded transactional key-value store of the core.
//
// Keys are uint64_t (order-preserving encodings in omen/key.h), values byte strings of at most
// kMaxValueBytes. Transactions run under snapshot isolation with first-committer-wins: a
// transaction reads the state as of its begin(), and its commit fails with kConflict if another
// transaction committed a write to one of the same keys after that begin().
//
// Two tiers share one StorageEngine (docs/storage.md for the layout and protocols):
//   hot:  recent versions of every key, in memory behind a learned index, made durable by the hot
//         log: one record per commit appended to files next to the storage (StorageEngine::files),
//         periodically replaced by a checkpoint of the hot tier's newest versions;
//   cold: immutable sorted runs in the StorageEngine, one learned index over each run's keys
//         mapping a key to its position; a migration moves versions every snapshot sees (frozen)
//         from hot to a new run in one atomic batch.
// Reads and scans merge both and see every key exactly once, also while a migration runs.
//
// Thread safety: TieredStore methods may be called from any number of threads; a Transaction is
// used by one thread at a time. Commits validate and take their timestamp under one commit lock,
// then append their log record (synced commits share fsyncs) and install into the hot tier;
// a commit returns once every commit with a smaller timestamp has finished, and only then is it
// visible to new transactions. Reads never wait for commits except for a brief in-memory install.
//
// Invariants of the commit protocol:
//  1. A key is in pending_keys_ while a transaction that writes it is between validation and the
//     end of its install; a second writer of that key fails validation (first committer wins).
//  2. published() advances only over timestamps all of whose predecessors have finished (written
//     and installed, or failed), so a snapshot at published() sees whole transactions only.
//
// Durability: with TierOptions::sync_commits a commit that returned ok survives power loss;
// without it, it survives a process crash (the log record is written, not fsynced). A failed
// log write or fsync makes every later commit, migration and checkpoint fail until reopened.
//
// Background maintenance (TierOptions::auto_maintenance): one thread per store, started by open()
// and joined by the destructor (which first lets a running pass finish). A pass that fails keeps
// its Status until the next commit() (which then returns it and writes nothing), maintain() or
// wait_for_maintenance() reports it, once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include <absl/container/btree_map.h>

#include "omen/status.h"
#include "omen/storage.h"
#include "omen/timestamp_oracle.h"
#include "omen/visibility.h"

namespace omen {

namespace detail {
class HotTier;
class HotLog;
class ColdRun;
struct RunSet;
struct Write {  // one buffered write of a transaction
  uint64_t key;
  bool deleted;
  std::string value;
};
}  // namespace detail

inline constexpr size_t kMaxValueBytes = 16 * 1024 * 1024;

struct TierOptions {
  bool sync_commits = true;  // see "Durability" above
  // Migration policy: a key moves to the cold tier when its newest version is frozen (visible to
  // every live snapshot) and at least min_age_commits commits old; it runs automatically once the
  // hot tier holds more than hot_max_keys keys.
  size_t hot_max_keys = size_t{1} << 20;
  uint64_t min_age_commits = 10000;
  size_t max_run_keys = size_t{1} << 20;  // keys moved per migration at most
  // Cold runs are merged into one (tombstones dropped) once there are more than max_cold_runs.
  size_t max_cold_runs = 8;
  // A run compaction streams: it holds and writes at most this many entries (values) at a time,
  // plus the merged run's keys (8 bytes each), which its in-memory index keeps anyway.
  size_t compaction_batch_entries = 4096;
  // The hot log is checkpointed (and the segments before the checkpoint deleted) by a maintenance
  // pass or maintain() once the segments written since the last checkpoint exceed
  // max(checkpoint_log_bytes, 2 x the last checkpoint's size) or number more than 16 (every open
  // starts a segment), at open in the latter cases, and after every migration.
  uint64_t checkpoint_log_bytes = uint64_t{64} << 20;
  // Garbage collection of superseded versions runs every gc_every_commits commits.
  size_t gc_every_commits = 1024;
  // true: a background thread owned by the store runs a maintenance pass (gc, then migration if
  // the hot tier is over hot_max_keys, then compaction if there are too many runs) every
  // gc_every_commits commits; commits only wake it. false: no thread; call maintain().
  bool auto_maintenance = true;
};

class TieredStore;

// One snapshot-isolated transaction. Obtained from TieredStore::begin(); movable; destroying an
// active transaction aborts it. After commit() or abort() every call returns kAborted.
// REQUIRES: it does not outlive its store. An active transaction holds back garbage collection
// and migration of everything it can see, so keep transactions short.
class Transaction {
 public:
  Transaction(Transaction&&) noexcept;
  Transaction& operator=(Transaction&&) noexcept;
  ~Transaction();

  // The value of `key` in this transaction's snapshot, after its own writes. kNotFound if none.
  Status get(uint64_t key, std::string* value);
  // Buffers a write (visible to this transaction at once, to others after commit).
  // kInvalidArgument if value is longer than kMaxValueBytes.
  Status put(uint64_t key, std::string_view value);
  Status del(uint64_t key);
  // Calls fn(key, value) for the visible keys in [first, last] in increasing order (own writes
  // included) until fn returns false.
  Status scan(uint64_t first, uint64_t last, const std::function<bool(uint64_t, std::string_view)>& fn);
  // Makes the writes durable and visible atomically. kConflict: a concurrent transaction
  // committed one of the same keys first; kIOError: storage failed; any error of a background
  // maintenance pass not yet reported (its code, the message says so). In every case nothing was
  // written and the transaction is aborted.
  Status commit();
  void abort();
  bool active() const noexcept { return store_ != nullptr; }
  Timestamp read_ts() const noexcept { return read_ts_; }

 private:
  friend class TieredStore;
  Transaction(TieredStore* store, Timestamp read_ts);
  void finish();

  TieredStore* store_;
  Timestamp read_ts_;
  absl::btree_map<uint64_t, detail::Write> writes_;  // the last write per key
};

class TieredStore {
 public:
  static constexpr const char* kFormat = "omen-tier-2";
  // More hot-log segments than this since the last checkpoint make the next maintenance (or open)
  // take a checkpoint.
  static constexpr size_t kMaxLogSegments = 16;

  // Opens the store kept in `db` (which must outlive it and be used by nothing else), recovering
  // hot versions and cold runs. kNotSupported if db holds data that is not a tiered store,
  // kCorruption if its rows fail their checks.
  static Status open(StorageEngine* db, const TierOptions& opts, std::unique_ptr<TieredStore>* out);
  // REQUIRES: no transaction of this store is alive. Everything committed is already in `db`.
  // Stops the background maintenance thread (after its current pass, if any).
  ~TieredStore();

  // Starts a transaction reading the newest committed state.
  Transaction begin();

  // Garbage collection; then, if the policy says so (or `force_migration`), one migration; then a
  // run compaction if there are more than max_cold_runs runs; then deletion of unpinned dead runs.
  // Runs in the calling thread. First reports (and clears) an unreported background error.
  Status maintain(bool force_migration = false);
  // Blocks until the background thread has finished every pass requested before the call
  // (returns at once without auto_maintenance); returns and clears an unreported error of a pass.
  Status wait_for_maintenance();
  // Moves every frozen key with at least min_age commits of age to a new cold run (ignores
  // hot_max_keys). Returns the number of keys moved in *moved (may be null).
  Status migrate(uint64_t min_age, size_t* moved = nullptr);
  // Merges every cold run into one, dropping tombstones and shadowed entries. The old runs' rows
  // are deleted once no reader holds them (or at the next open, after a crash).
  Status compact_runs();
  // Writes a checkpoint of the hot log (the newest hot version of every key) and deletes the
  // log segments it replaces. Runs in the calling thread.
  Status checkpoint();

  // A snapshot of counters (each read atomically, not all at one instant).
  struct Stats {
    size_t hot_keys, hot_versions, cold_runs, cold_keys;
    size_t model_bytes;  // learned index models only (hot index + every run), not keys or values
    uint64_t commits, conflicts, migrations, last_commit_ts;
    size_t compaction_peak_entries;        // most entries the last run compaction held at once
    uint64_t log_bytes, checkpoint_bytes;  // hot log: segments since the last checkpoint; that checkpoint
    std::string index_kind;
  };
  Stats stats() const;
  // The engine the store lives in (for its own stats()).
  const StorageEngine& storage() const noexcept { return *db_; }

 private:
  friend class Transaction;
  TieredStore(StorageEngine* db, const TierOptions& opts);
  Status recover();
  Status merge_legacy_rows(std::vector<detail::Write>* rows, std::vector<Timestamp>* xmins, Timestamp* last);
  Status convert_legacy();
  Status read(uint64_t key, const Visibility& vis, std::string* value) const;
  Status scan(uint64_t first, uint64_t last, const Visibility& vis,
              const std::function<bool(uint64_t, std::string_view)>& fn) const;
  Status commit(Transaction& txn);
  Status maintenance_pass();
  void request_maintenance();
  void maintainer_loop();
  Status take_background_error();
  Status compact_runs_locked();
  Status checkpoint_locked();
  bool checkpoint_due() const;
  Status merge_runs(const detail::RunSet& runs, uint64_t id);
  Status drop_dead_runs_locked(bool all);
  Status collect_garbage();

  StorageEngine* db_;
  TierOptions opts_;
  TimestampOracle oracle_;
  std::unique_ptr<detail::HotTier> hot_;
  std::unique_ptr<detail::HotLog> log_;  // set by recover()
  std::mutex commit_mu_;                 // guards validation, timestamps and publication (see invariants)
  std::condition_variable published_cv_;
  std::atomic<Timestamp> published_hint_{0};   // the last timestamp published by a commit (spin target)
  std::unordered_set<uint64_t> pending_keys_;  // GUARDED_BY(commit_mu_)
  std::set<Timestamp> in_flight_;              // GUARDED_BY(commit_mu_): allocated, not finished
  std::set<Timestamp> finished_;               // GUARDED_BY(commit_mu_): finished, not published
  std::mutex maintenance_mu_;                  // serializes gc and migration
  std::mutex gc_mu_;
  std::vector<uint64_t> gc_queue_;  // GUARDED_BY(gc_mu_): keys with superseded versions
  uint64_t next_run_ = 1;           // GUARDED_BY(maintenance_mu_)
  struct DeadRun {                  // a merged-away run whose rows await deletion
    std::weak_ptr<const detail::ColdRun> run;
    uint64_t id, count;
  };
  std::vector<DeadRun> dead_runs_;  // GUARDED_BY(maintenance_mu_)
  std::atomic<uint64_t> commits_{0}, conflicts_{0}, migrations_{0};
  std::atomic<size_t> compaction_peak_entries_{0};

  // The background maintainer. Passes requested (by commits) and done are counted so
  // wait_for_maintenance() can wait for the ones requested before it.
  std::mutex bg_mu_;
  std::condition_variable bg_wake_, bg_done_cv_;
  uint64_t bg_requested_ = 0, bg_done_ = 0;  // GUARDED_BY(bg_mu_)
  bool bg_stop_ = false;                     // GUARDED_BY(bg_mu_)
  Status bg_error_;                          // GUARDED_BY(bg_mu_): first unreported failure
  std::atomic<bool> bg_failed_{false};       // bg_error_ is set (read without the lock by commits)
  std::thread maintainer_;                   // last member: started when everything else exists
};

}  // namespace omen
