// TieredStore::compact_runs: merges every cold run into one (docs/storage.md, "Run compaction").
//
// The merged run gets a new, larger id and is written with its header in one atomic batch that
// also removes the old runs' headers and records them as dead ('X' rows). Readers that pinned the
// old RunSet keep reading the old runs' rows, which are deleted only once no RunSet holds those
// runs (or at the next open). A hot version migrated into an old run R is skipped by readers of the
// new RunSet (max_run > R) and found in the merged run, which holds the newest entry of every key.
#include <algorithm>

#include "omen/tiered_store.h"
#include "tier/codec.h"
#include "tier/hot_tier.h"

namespace omen {

Status TieredStore::compact_runs() {
  std::lock_guard lk(maintenance_mu_);
  return compact_runs_locked();
}

// REQUIRES: maintenance_mu_ held.
Status TieredStore::compact_runs_locked() {
  auto runs = hot_->runs();
  if (runs->runs.size() < 2) return drop_dead_runs_locked(false);
  struct Source {
    const detail::ColdRun* run;
    size_t pos;
    detail::RunCursor cursor;
  };
  std::vector<Source> sources;  // newest first, as in the RunSet
  for (const auto& r : runs->runs) sources.push_back({r.get(), 0, detail::RunCursor(*db_, *r)});
  std::vector<detail::ColdRun::Entry> merged;
  for (;;) {
    uint64_t key = UINT64_MAX;
    bool any = false;
    for (const auto& s : sources)
      if (s.pos < s.run->size()) key = any ? std::min(key, s.run->key_at(s.pos)) : s.run->key_at(s.pos), any = true;
    if (!any) break;
    bool taken = false;
    for (auto& s : sources) {
      if (s.pos >= s.run->size() || s.run->key_at(s.pos) != key) continue;
      if (!taken) {  // the newest run holding the key decides; a tombstone over all runs is dropped
        detail::ColdRun::Entry e{key, false, {}};
        OMEN_RETURN_IF_ERROR(s.cursor.read(s.pos, &e.deleted, &e.value));
        if (!e.deleted) merged.push_back(std::move(e));
        taken = true;
      }
      ++s.pos;
    }
  }
  sources.clear();

  uint64_t id = next_run_;
  WriteBatch batch;
  if (!merged.empty()) detail::ColdRun::write(id, merged, &batch);
  for (const auto& r : runs->runs) {
    std::string count;
    detail::put_u64(&count, r->size());
    batch.del(detail::tagged(detail::kRunTag, r->id()));
    batch.put(detail::tagged(detail::kDeadRunTag, r->id()), count);
  }
  OMEN_RETURN_IF_ERROR(db_->write(batch, {true}));
  ++next_run_;
  std::shared_ptr<const detail::ColdRun> run;
  if (!merged.empty()) {
    std::vector<uint64_t> keys;
    keys.reserve(merged.size());
    for (const auto& e : merged) keys.push_back(e.key);
    run = std::make_shared<const detail::ColdRun>(id, std::move(keys));
  }
  for (const auto& r : runs->runs) dead_runs_.push_back({r, r->id(), r->size()});
  hot_->replace_runs(std::move(run), id);
  runs.reset();
  hot_->reclaim();
  return drop_dead_runs_locked(false);
}

// Deletes the rows of dead runs no reader holds any more (all: every one, at open).
// REQUIRES: maintenance_mu_ held.
Status TieredStore::drop_dead_runs_locked(bool all) {
  WriteBatch batch;
  std::vector<DeadRun> keep;
  for (auto& d : dead_runs_) {
    if (!all && !d.run.expired()) {
      keep.push_back(std::move(d));
      continue;
    }
    detail::ColdRun::delete_rows(d.id, d.count, &batch);
    batch.del(detail::tagged(detail::kDeadRunTag, d.id));
  }
  dead_runs_ = std::move(keep);
  if (batch.empty()) return Status::OK();
  // Not synced: if lost, the 'X' rows survive and the next open deletes again.
  return db_->write(batch, {false});
}

}  // namespace omen
