// TieredStore maintenance: garbage collection of superseded versions and migration of frozen
// keys to a new cold run (docs/storage.md, "Tier migration protocol").
#include <algorithm>

#include "omen/tiered_store.h"
#include "tier/codec.h"
#include "tier/hot_tier.h"

namespace omen {

namespace {
std::string ts_value(Timestamp ts) {
  std::string v;
  detail::put_u64(&v, ts);
  return v;
}
}  // namespace

void TieredStore::maybe_maintain() {
  std::unique_lock lk(maintenance_mu_, std::try_to_lock);
  if (!lk.owns_lock()) return;  // someone else is at it
  // Failures here are not the committing transaction's: its commit is already durable. Storage
  // errors surface again on the next write.
  (void)collect_garbage();
  if (hot_->key_count() > opts_.hot_max_keys) {
    lk.unlock();
    (void)migrate(opts_.min_age_commits);
    lk.lock();
  }
  if (hot_->runs()->runs.size() > opts_.max_cold_runs) (void)compact_runs_locked();
}

Status TieredStore::maintain(bool force_migration) {
  {
    std::lock_guard lk(maintenance_mu_);
    OMEN_RETURN_IF_ERROR(collect_garbage());
  }
  if (force_migration || hot_->key_count() > opts_.hot_max_keys) OMEN_RETURN_IF_ERROR(migrate(opts_.min_age_commits));
  std::lock_guard lk(maintenance_mu_);
  hot_->reclaim();
  if (hot_->runs()->runs.size() > opts_.max_cold_runs) return compact_runs_locked();
  return drop_dead_runs_locked(false);
}

// REQUIRES: maintenance_mu_ held.
Status TieredStore::collect_garbage() {
  std::vector<uint64_t> keys, retry;
  {
    std::lock_guard g(gc_mu_);
    keys.swap(gc_queue_);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  WriteBatch batch;
  Timestamp oldest = oracle_.oldest_active();
  hot_->collect_garbage(keys, oldest, &batch, &retry);
  {
    std::lock_guard g(gc_mu_);
    gc_queue_.insert(gc_queue_.end(), retry.begin(), retry.end());
  }
  hot_->reclaim();
  if (batch.empty()) return Status::OK();
  // The rows deleted here are invisible to everyone; losing this batch in a crash only brings them
  // back for the next collection. last_ts keeps the clock monotone if the newest row goes.
  batch.put(detail::meta_key("last_ts"), ts_value(oracle_.published()));
  return db_->write(batch, {false});
}

Status TieredStore::migrate(uint64_t min_age, size_t* moved_count) {
  std::lock_guard lk(maintenance_mu_);
  if (moved_count) *moved_count = 0;
  Timestamp published = oracle_.published();
  Timestamp cutoff = std::min(oracle_.oldest_active(), published > min_age ? published - min_age : 0);
  if (cutoff == 0) return Status::OK();
  std::vector<detail::HotTier::Candidate> cands, moved, dropped;
  hot_->migration_candidates(cutoff, opts_.max_run_keys, &cands);
  auto runs = hot_->runs();
  std::vector<detail::ColdRun::Entry> entries;
  for (auto& c : cands) {
    bool in_cold = std::any_of(runs->runs.begin(), runs->runs.end(),
                               [&](const auto& r) { return r->position(c.key).has_value(); });
    if (c.deleted && !in_cold) {
      dropped.push_back(std::move(c));  // a frozen tombstone over nothing: just forget the key
    } else {
      entries.push_back({c.key, c.deleted, c.value});
      moved.push_back(std::move(c));
    }
  }
  if (entries.empty() && dropped.empty()) return Status::OK();

  // One atomic batch: the run (entries, keys, header) appears and the hot rows go, or neither.
  WriteBatch batch;
  uint64_t id = next_run_;
  if (!entries.empty()) detail::ColdRun::write(id, entries, &batch);
  for (const auto* list : {&moved, &dropped})
    for (const auto& c : *list) {
      batch.del(detail::hot_key(c.key, c.xmin));
      for (Timestamp x : c.older) batch.del(detail::hot_key(c.key, x));
    }
  batch.put(detail::meta_key("last_ts"), ts_value(published));
  OMEN_RETURN_IF_ERROR(db_->write(batch, {true}));

  std::shared_ptr<const detail::ColdRun> run;
  if (!entries.empty()) {
    std::vector<uint64_t> keys;
    keys.reserve(entries.size());
    for (const auto& e : entries) keys.push_back(e.key);
    run = std::make_shared<const detail::ColdRun>(id, std::move(keys));
    ++next_run_;
  }
  hot_->install_run(std::move(run), moved, dropped);
  hot_->reclaim();
  migrations_.fetch_add(1, std::memory_order_relaxed);
  if (moved_count) *moved_count = moved.size() + dropped.size();
  return Status::OK();
}

}  // namespace omen
