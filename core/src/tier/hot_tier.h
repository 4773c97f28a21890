// HotTier: the in-memory tier of TieredStore: every key's recent committed versions, newest first,
// found through a learned index (HotIndex: key -> newest version), plus the current set of cold runs.
//
// Thread safety: one shared mutex (SpinSharedMutex, tier/spin_lock.h: spins briefly before it
// sleeps). Readers (get, collect, newest_xmin, runs) hold it shared;
// install, load, collect_garbage, install_run and reclaim hold it exclusive. Two commits in
// flight never write the same key (TieredStore::pending_keys_); maintenance is serialized
// by its maintenance lock.
//
// Invariants:
//  1. A chain lists versions by decreasing xmin; each version's xmax is the xmin of the next newer
//     one (kLiveXmax for the newest). A chain in the index is never empty.
//  2. A version with migrated_run = R != 0 has the same content as key's entry in the newest run
//     of any RunSet with max_run >= R that holds the key (run R, or the run R was merged into), and
//     is the oldest version of its chain. A reader whose RunSet has max_run >= R skips it and reads
//     the runs; any other reader uses it. So a reader finds each key in exactly one place.
//  3. A version with migrated_run = R is removed when every live RunSet has max_run >= R (reclaim),
//     or, like any version, when a newer version is visible to every snapshot (collect_garbage,
//     install_run): then no reader reaches it.
//  4. Other versions are removed only when no snapshot at or after `oldest` (the oracle's oldest
//     active read timestamp) can see them (collect_garbage, install_run).
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "omen/storage.h"
#include "omen/tiered_store.h"
#include "tier/spin_lock.h"
#include "omen/visibility.h"
#include "tier/cold_run.h"
#include "tier/learned_adapter.h"

namespace omen::detail {

class HotTier {
 public:
  enum class Found { kValue, kDeleted, kFallThrough };
  struct Entry {
    uint64_t key;
    bool deleted;
    std::string value;
  };
  struct Candidate {  // a key whose newest version may move to a cold run
    uint64_t key;
    Timestamp xmin;
    bool deleted;
    std::string value;
  };

  HotTier() : runs_(std::make_shared<const RunSet>()) {}
  ~HotTier();
  HotTier(const HotTier&) = delete;
  HotTier& operator=(const HotTier&) = delete;

  // The version of `key` visible to `vis`. On kFallThrough the caller reads the runs in *runs
  // (set only then), newest first.
  Found get(uint64_t key, const Visibility& vis, std::string* value,
            std::shared_ptr<const RunSet>* runs) const;
  // Visible entries (tombstones included) of keys in [from, last] whose version is in this tier
  // for a reader pinned to runs with ids <= max_run; stops after `max` entries. Returns the last
  // key examined: every key in [from, returned] was considered.
  uint64_t collect(uint64_t from, uint64_t last, const Visibility& vis, uint64_t max_run, size_t max,
                   std::vector<Entry>* out) const;
  std::shared_ptr<const RunSet> runs() const;
  // xmin of key's newest version, 0 if the key has none here.
  Timestamp newest_xmin(uint64_t key) const;

  // Installs the writes of the transaction committed at ts (copies their values).
  // Appends to *overwritten the keys that now have more than one version (GC candidates).
  void install(Timestamp ts, std::span<const Write> writes, std::vector<uint64_t>* overwritten);
  // Recovery: builds the tier from the newest version of each key read from storage, in one
  // bulk construction of the index. REQUIRES: the tier is empty; `rows` sorted by key, unique.
  void load(std::vector<Write>&& rows, std::vector<Timestamp>&& xmins);

  // Drops the in-memory versions of `keys` no snapshot >= oldest can see; appends the keys that
  // still have several versions to *retry. Returns versions dropped. (Storage keeps only the
  // newest version of a key, so nothing is deleted there.)
  size_t collect_garbage(std::span<const uint64_t> keys, Timestamp oldest, std::vector<uint64_t>* retry);
  // Keys (ascending) whose newest version has xmin <= cutoff and is not migrated, at most max.
  void migration_candidates(Timestamp cutoff, size_t max, std::vector<Candidate>* out) const;
  // Checkpoint: the newest version of each key >= *from that is not migrated, in key order, among
  // at most max keys (one shared lock hold). Returns true if keys are left, the first at *from.
  bool newest_versions(uint64_t* from, size_t max, std::vector<Candidate>* out) const;
  // After run `run` (holding `moved`) is durable: marks the moved versions migrated, drops their
  // older versions and the chains of `dropped` keys (frozen tombstones no run holds), and
  // publishes a RunSet with the run.
  void install_run(std::shared_ptr<const ColdRun> run, std::span<const Candidate> moved,
                   std::span<const Candidate> dropped);
  // Publishes a RunSet holding only `merged` (null: no run) with max_run = id, which replaced
  // every current run (compaction).
  void replace_runs(std::shared_ptr<const ColdRun> merged, uint64_t id);
  // Recovery: publishes the runs loaded from storage (any order).
  void set_runs(std::vector<std::shared_ptr<const ColdRun>> runs);
  // Removes migrated versions every live RunSet covers (invariant 3). Returns how many.
  size_t reclaim();

  size_t key_count() const;
  size_t version_count() const;
  size_t model_bytes() const;

 private:
  // One committed version. Its value's bytes follow it in the same allocation (make), so a get
  // finds the version and its value in one place.
  struct Version {
    VersionStamp stamp;
    bool deleted;
    uint64_t migrated_run;
    Version* older;
    size_t size;  // value bytes

    std::string_view value() const noexcept { return {reinterpret_cast<const char*>(this + 1), size}; }
    static Version* make(VersionStamp stamp, bool deleted, std::string_view value, Version* older);
    static void destroy(Version* v) noexcept { ::operator delete(v); }  // trivially destructible
  };
  static_assert(std::is_trivially_destructible_v<Version> && alignof(Version) <= alignof(std::max_align_t));
  // A key's chain is its index payload: the address of its newest Version (each one links to
  // the next older). Kept in the index itself, not behind a separate chain object, so that a
  // get follows one pointer fewer.
  static Version* as_version(uint64_t payload) noexcept { return reinterpret_cast<Version*>(payload); }
  static uint64_t as_payload(const Version* v) noexcept { return reinterpret_cast<uint64_t>(v); }
  Version* newest_locked(uint64_t key) const;  // null if the key has no chain
  static bool in_any_run(const RunSet& runs, uint64_t key);
  void delete_chain_locked(uint64_t key, Version* newest);  // removes the key and all its versions

  mutable SpinSharedMutex mu_;
  HotIndex index_;                                       // key -> newest Version* (owning), GUARDED_BY(mu_)
  size_t versions_ = 0;                                  // GUARDED_BY(mu_)
  std::shared_ptr<const RunSet> runs_;                   // GUARDED_BY(mu_)
  std::vector<std::weak_ptr<const RunSet>> retired_;     // GUARDED_BY(mu_): older RunSets
  std::vector<std::pair<uint64_t, uint64_t>> migrated_;  // GUARDED_BY(mu_): (run, key) to reclaim
};

}  // namespace omen::detail
