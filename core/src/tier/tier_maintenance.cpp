// TieredStore maintenance: garbage collection of superseded versions and migration of frozen
// keys to a new cold run (docs/storage.md, "Tier migration protocol").
#include <algorithm>
#include <utility>

#include "omen/tiered_store.h"
#include "tier/codec.h"
#include "tier/hot_log.h"
#include "tier/hot_tier.h"

namespace omen {

namespace {
std::string ts_value(Timestamp ts) {
  std::string v;
  detail::put_u64(&v, ts);
  return v;
}
}  // namespace

// One pass of the background maintainer (the policy of TierOptions::auto_maintenance).
Status TieredStore::maintenance_pass() {
  std::unique_lock lk(maintenance_mu_);
  OMEN_RETURN_IF_ERROR(collect_garbage());
  if (hot_->key_count() > opts_.hot_max_keys) {
    lk.unlock();
    OMEN_RETURN_IF_ERROR(migrate(opts_.min_age_commits));
    lk.lock();
  }
  if (checkpoint_due()) OMEN_RETURN_IF_ERROR(checkpoint_locked());
  if (hot_->runs()->runs.size() > opts_.max_cold_runs) return compact_runs_locked();
  return Status::OK();
}

// The log has grown past max(checkpoint_log_bytes, 2 x the last checkpoint), or is spread over
// many segments (each open starts one: short-lived processes such as omen_kv make many).
bool TieredStore::checkpoint_due() const {
  return log_->bytes_since_checkpoint() >
             std::max(opts_.checkpoint_log_bytes, 2 * log_->checkpoint_bytes()) ||
         log_->segments_since_checkpoint() > kMaxLogSegments;
}

void TieredStore::request_maintenance() {
  {
    std::lock_guard g(bg_mu_);
    ++bg_requested_;
  }
  bg_wake_.notify_one();
}

// The maintainer thread: one pass per wake-up, however many commits asked for one meanwhile.
void TieredStore::maintainer_loop() {
  std::unique_lock lk(bg_mu_);
  for (;;) {
    bg_wake_.wait(lk, [&] { return bg_stop_ || bg_requested_ > bg_done_; });
    if (bg_stop_) return;
    uint64_t upto = bg_requested_;
    lk.unlock();
    Status s = maintenance_pass();
    lk.lock();
    if (!s.ok() && bg_error_.ok()) {
      bg_error_ = Status(s.code(), "background maintenance failed: " + s.message());
      bg_failed_.store(true, std::memory_order_release);
    }
    bg_done_ = upto;
    bg_done_cv_.notify_all();
  }
}

Status TieredStore::take_background_error() {
  std::lock_guard g(bg_mu_);
  bg_failed_.store(false, std::memory_order_relaxed);
  return std::exchange(bg_error_, Status::OK());
}

Status TieredStore::wait_for_maintenance() {
  if (maintainer_.joinable()) {
    std::unique_lock lk(bg_mu_);
    uint64_t upto = bg_requested_;
    bg_done_cv_.wait(lk, [&] { return bg_done_ >= upto; });
  }
  return take_background_error();
}

Status TieredStore::maintain(bool force_migration) {
  OMEN_RETURN_IF_ERROR(take_background_error());
  {
    std::lock_guard lk(maintenance_mu_);
    OMEN_RETURN_IF_ERROR(collect_garbage());
  }
  if (force_migration || hot_->key_count() > opts_.hot_max_keys)
    OMEN_RETURN_IF_ERROR(migrate(opts_.min_age_commits));
  std::lock_guard lk(maintenance_mu_);
  hot_->reclaim();
  if (checkpoint_due()) OMEN_RETURN_IF_ERROR(checkpoint_locked());
  if (hot_->runs()->runs.size() > opts_.max_cold_runs) return compact_runs_locked();
  return drop_dead_runs_locked(false);
}

// REQUIRES: maintenance_mu_ held. Memory only: storage holds just the newest version per key.
Status TieredStore::collect_garbage() {
  std::vector<uint64_t> keys, retry;
  {
    std::lock_guard g(gc_mu_);
    keys.swap(gc_queue_);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  hot_->collect_garbage(keys, oracle_.oldest_active(), &retry);
  {
    std::lock_guard g(gc_mu_);
    gc_queue_.insert(gc_queue_.end(), retry.begin(), retry.end());
  }
  hot_->reclaim();
  return Status::OK();
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
  runs.reset();
  if (entries.empty() && dropped.empty()) return Status::OK();

  // Step 1, one atomic batch: the run (entries, key chunks, header), synced. The log is synced
  // first, so a run never holds a version whose commit record a power loss could take away.
  OMEN_RETURN_IF_ERROR(log_->sync());
  uint64_t id = next_run_;
  std::shared_ptr<const detail::ColdRun> run;
  if (!entries.empty()) {
    WriteBatch batch;
    detail::ColdRun::write(id, entries, &batch);
    batch.put(detail::meta_key("last_ts"), ts_value(published));
    OMEN_RETURN_IF_ERROR(db_->write(batch, {true}));
    std::vector<uint64_t> keys;
    keys.reserve(entries.size());
    for (const auto& e : entries) keys.push_back(e.key);
    run = std::make_shared<const detail::ColdRun>(id, std::move(keys));
    ++next_run_;
  }
  entries.clear();
  // Step 2: readers switch to the run (hot_tier.h, invariants 2-3).
  hot_->install_run(std::move(run), moved, dropped);
  hot_->reclaim();
  migrations_.fetch_add(1, std::memory_order_relaxed);
  if (moved_count) *moved_count = moved.size() + dropped.size();
  // Step 3: a checkpoint, so the log forgets the moved versions (until then a crash brings them
  // back as hot versions with the content the run holds, which readers find first: harmless).
  return checkpoint_locked();
}

Status TieredStore::checkpoint() {
  std::lock_guard lk(maintenance_mu_);
  return checkpoint_locked();
}

// REQUIRES: maintenance_mu_ held (no migration or gc meanwhile). hot_log.h for the protocol.
Status TieredStore::checkpoint_locked() {
  Timestamp before = 0;
  OMEN_RETURN_IF_ERROR(log_->rotate(&before));
  {
    // Every record in the replaced segments is installed once its timestamp is published.
    std::unique_lock lk(commit_mu_);
    published_cv_.wait(lk, [&] { return oracle_.published() >= before; });
  }
  uint64_t from = 0;
  std::vector<detail::HotTier::Candidate> chunk;
  return log_->write_checkpoint(oracle_.published(), [&](std::vector<detail::LogRow>* rows) {
    chunk.clear();
    bool more = hot_->newest_versions(&from, 4096, &chunk);
    for (auto& c : chunk) rows->push_back({c.key, c.xmin, c.deleted, std::move(c.value)});
    return more;
  });
  return Status::OK();
}

}  // namespace omen
