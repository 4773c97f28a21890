// TieredStore::compact_runs: merges every cold run into one (docs/storage.md, "Run compaction").
//
// The merged run gets a new, larger id. Its entries are written in bounded batches; its header goes
// in one last atomic batch that also removes the old runs' headers and records them as dead ('X'
// rows). Readers that pinned the
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
//
// Streaming: the merged run is written in batches of at most opts_.compaction_batch_entries
// entries, so the entries (values) held at once are bounded whatever the size of the cold tier;
// only the merged run's keys (8 bytes each) accumulate, as they become its in-memory index anyway.
// Until the last batch publishes the run, an 'X' row for its id marks its rows as garbage, so an
// interrupted compaction leaves nothing the next open (or a later drop) does not delete.
Status TieredStore::compact_runs_locked() {
  auto runs = hot_->runs();
  if (runs->runs.size() < 2) return drop_dead_runs_locked(false);
  const uint64_t id = next_run_++;
  uint64_t bound = 0;  // the merged run has at most this many entries
  for (const auto& r : runs->runs) bound += r->size();
  {
    WriteBatch mark;
    std::string count;
    detail::put_u64(&count, bound);
    mark.put(detail::tagged(detail::kDeadRunTag, id), count);
    OMEN_RETURN_IF_ERROR(db_->write(mark, {false}));  // RocksDB's log keeps it before the rows
  }
  Status s = merge_runs(*runs, id);
  if (!s.ok()) {
    dead_runs_.push_back({{}, id, bound});  // its rows go with the next drop
    return s;
  }
  runs.reset();  // unpin the old runs so their rows can go now if no reader holds them
  hot_->reclaim();
  return drop_dead_runs_locked(false);
}

// Writes run `id`, the merge of every run in `runs`, and publishes it in place of them (the old
// runs' rows are left to drop_dead_runs_locked).
// REQUIRES: maintenance_mu_ held; the 'X' row of `id` written.
Status TieredStore::merge_runs(const detail::RunSet& runs, uint64_t id) {
  struct Source {
    const detail::ColdRun* run;
    size_t pos;
    detail::RunCursor cursor;
  };
  std::vector<Source> sources;  // newest first, as in the RunSet
  for (const auto& r : runs.runs) sources.push_back({r.get(), 0, detail::RunCursor(*db_, *r)});
  const size_t batch_entries = std::max<size_t>(1, opts_.compaction_batch_entries);
  std::vector<uint64_t> keys;                   // the merged run's keys so far
  std::vector<detail::ColdRun::Entry> pending;  // entries not yet written, at most batch_entries
  size_t chunks_written = 0, peak = 0;
  auto flush = [&](bool last) {
    WriteBatch batch;
    detail::ColdRun::write_entries(id, keys.size() - pending.size(), pending, &batch);
    size_t full_chunks = keys.size() / detail::kKeysPerChunk;
    size_t end = last ? (keys.size() + detail::kKeysPerChunk - 1) / detail::kKeysPerChunk : full_chunks;
    detail::ColdRun::write_key_chunks(id, keys, chunks_written, end, &batch);
    chunks_written = end;
    pending.clear();
    return batch;
  };
  for (;;) {
    uint64_t key = UINT64_MAX;
    bool any = false;
    for (const auto& s : sources)
      if (s.pos < s.run->size())
        key = any ? std::min(key, s.run->key_at(s.pos)) : s.run->key_at(s.pos), any = true;
    if (!any) break;
    bool taken = false;
    for (auto& s : sources) {
      if (s.pos >= s.run->size() || s.run->key_at(s.pos) != key) continue;
      if (!taken) {  // the newest run holding the key decides; a tombstone over all runs is dropped
        detail::ColdRun::Entry e{key, false, {}};
        OMEN_RETURN_IF_ERROR(s.cursor.read(s.pos, &e.deleted, &e.value));
        if (!e.deleted) keys.push_back(key), pending.push_back(std::move(e));
        taken = true;
      }
      ++s.pos;
    }
    peak = std::max(peak, pending.size());
    if (pending.size() >= batch_entries) OMEN_RETURN_IF_ERROR(db_->write(flush(false), {false}));
  }
  sources.clear();
  compaction_peak_entries_.store(peak, std::memory_order_relaxed);

  // The switch, one atomic synced batch: the last entries, the header, the old runs marked dead.
  WriteBatch batch = flush(true);
  if (!keys.empty()) detail::ColdRun::write_header(id, keys.size(), &batch);
  batch.del(detail::tagged(detail::kDeadRunTag, id));
  for (const auto& r : runs.runs) {
    std::string count;
    detail::put_u64(&count, r->size());
    batch.del(detail::tagged(detail::kRunTag, r->id()));
    batch.put(detail::tagged(detail::kDeadRunTag, r->id()), count);
  }
  OMEN_RETURN_IF_ERROR(db_->write(batch, {true}));
  std::shared_ptr<const detail::ColdRun> run;
  if (!keys.empty()) run = std::make_shared<const detail::ColdRun>(id, std::move(keys));
  for (const auto& r : runs.runs) dead_runs_.push_back({r, r->id(), r->size()});
  hot_->replace_runs(std::move(run), id);
  return Status::OK();
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
