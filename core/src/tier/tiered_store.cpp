// TieredStore: open/recovery, point reads, commits and statistics (omen/tiered_store.h).
// Scans are in tier_scan.cpp, garbage collection and migration in tier_maintenance.cpp.
#include "omen/tiered_store.h"

#include <algorithm>

#include "tier/codec.h"
#include "tier/hot_log.h"
#include "tier/spin_lock.h"
#include "tier/hot_tier.h"

namespace omen {

using detail::get_u64;

TieredStore::TieredStore(StorageEngine* db, const TierOptions& opts)
    : db_(db), opts_(opts), hot_(std::make_unique<detail::HotTier>()) {}

TieredStore::~TieredStore() {
  if (!maintainer_.joinable()) return;
  {
    std::lock_guard g(bg_mu_);
    bg_stop_ = true;
  }
  bg_wake_.notify_all();
  maintainer_.join();
}

Status TieredStore::open(StorageEngine* db, const TierOptions& opts, std::unique_ptr<TieredStore>* out) {
  std::unique_ptr<TieredStore> t(new TieredStore(db, opts));
  OMEN_RETURN_IF_ERROR(t->recover());
  if (opts.auto_maintenance) t->maintainer_ = std::thread([p = t.get()] { p->maintainer_loop(); });
  *out = std::move(t);
  return Status::OK();
}

Status TieredStore::recover() {
  std::string format;
  Status s = db_->get(detail::meta_key("format"), &format);
  if (s.is_not_found()) {
    auto it = db_->new_iterator();
    it->seek_to_first();
    OMEN_RETURN_IF_ERROR(it->status());
    if (it->valid()) return Status::NotSupported("the storage holds data that is not a tiered store");
    OMEN_RETURN_IF_ERROR(db_->put(detail::meta_key("format"), kFormat, {true}));
    format = kFormat;
  } else {
    OMEN_RETURN_IF_ERROR(s);
  }
  const bool legacy = format == detail::kLegacyFormat;  // hot versions as 'H' rows: converted below
  if (format != kFormat && !legacy)
    return Status::NotSupported("tiered store format '" + format + "', this build reads '" + kFormat + "'");

  Timestamp last = 0;
  std::string v;
  if (db_->get(detail::meta_key("last_ts"), &v).ok() && v.size() == 8) last = get_u64(v, 0);

  auto it = db_->new_iterator();
  std::vector<std::shared_ptr<const detail::ColdRun>> runs;
  for (it->seek(std::string(1, detail::kRunTag)); it->valid() && it->key()[0] == detail::kRunTag;
       it->next()) {
    if (it->key().size() != 9 || it->value().size() != 8)
      return Status::Corruption("damaged cold run header");
    uint64_t id = get_u64(it->key(), 1);
    std::shared_ptr<const detail::ColdRun> run;
    OMEN_RETURN_IF_ERROR(detail::ColdRun::load(*db_, id, get_u64(it->value(), 0), &run));
    runs.push_back(std::move(run));
    next_run_ = std::max(next_run_, id + 1);
  }
  OMEN_RETURN_IF_ERROR(it->status());
  hot_->set_runs(std::move(runs));
  // Runs merged away before a crash: delete their rows now (compact_runs).
  for (it->seek(std::string(1, detail::kDeadRunTag)); it->valid() && it->key()[0] == detail::kDeadRunTag;
       it->next()) {
    if (it->key().size() != 9 || it->value().size() != 8)
      return Status::Corruption("damaged dead run marker");
    uint64_t id = get_u64(it->key(), 1);
    dead_runs_.push_back({{}, id, get_u64(it->value(), 0)});
    next_run_ = std::max(next_run_, id + 1);
  }
  OMEN_RETURN_IF_ERROR(it->status());
  OMEN_RETURN_IF_ERROR(drop_dead_runs_locked(true));

  detail::HotLog::Recovered rec;
  OMEN_RETURN_IF_ERROR(detail::HotLog::open(db_->files(), &rec, &log_));
  std::vector<detail::Write> rows;
  std::vector<Timestamp> xmins;
  rows.reserve(rec.rows.size());
  xmins.reserve(rec.rows.size());
  for (auto& r : rec.rows) {
    rows.push_back({r.key, r.deleted, std::move(r.value)});
    xmins.push_back(r.xmin);
  }
  rec.rows = {};
  last = std::max(last, rec.last_ts);
  if (legacy) OMEN_RETURN_IF_ERROR(merge_legacy_rows(&rows, &xmins, &last));
  hot_->load(std::move(rows), std::move(xmins));
  oracle_.restore(last);
  if (legacy) return convert_legacy();
  if (checkpoint_due()) {  // e.g. many short-lived processes, each leaving a small segment
    std::lock_guard lk(maintenance_mu_);
    return checkpoint_locked();
  }
  return Status::OK();
}

// Format omen-tier-1: merges the 'H' rows into the versions recovered from the log (sorted by key;
// per key the larger xmin wins: the log may already hold them after an interrupted conversion).
Status TieredStore::merge_legacy_rows(std::vector<detail::Write>* rows, std::vector<Timestamp>* xmins,
                                      Timestamp* last) {
  std::vector<detail::Write> out;
  std::vector<Timestamp> out_xmins;
  size_t i = 0;
  auto take_log_until = [&](uint64_t key) {  // log rows with keys < key
    for (; i < rows->size() && (*rows)[i].key < key; ++i)
      out.push_back(std::move((*rows)[i])), out_xmins.push_back((*xmins)[i]);
  };
  auto it = db_->new_iterator();
  const std::string tag(1, detail::kLegacyHotTag);
  for (it->seek(tag); it->valid() && it->key()[0] == detail::kLegacyHotTag; it->next()) {
    std::string_view k = it->key(), val = it->value();
    if (k.size() != 9 || val.size() < 9 || (val[8] != detail::kValueKind && val[8] != detail::kDeleteKind))
      return Status::Corruption("damaged hot version row (format omen-tier-1)");
    uint64_t key = get_u64(k, 1);
    Timestamp xmin = get_u64(val, 0);
    *last = std::max(*last, xmin);
    take_log_until(key);
    if (i < rows->size() && (*rows)[i].key == key && (*xmins)[i] >= xmin) continue;  // the log's is newer
    if (i < rows->size() && (*rows)[i].key == key) ++i;
    out.push_back({key, val[8] == detail::kDeleteKind, std::string(val.substr(9))});
    out_xmins.push_back(xmin);
  }
  OMEN_RETURN_IF_ERROR(it->status());
  take_log_until(UINT64_MAX);
  if (i < rows->size())
    out.push_back(std::move((*rows)[i])), out_xmins.push_back((*xmins)[i]);  // key UINT64_MAX
  *rows = std::move(out);
  *xmins = std::move(out_xmins);
  return Status::OK();
}

// Format omen-tier-1 -> kFormat: a checkpoint of the hot tier (now holding the 'H' rows), then one
// synced batch deleting the rows and writing the new format. A crash in between repeats it.
Status TieredStore::convert_legacy() {
  {
    std::lock_guard lk(maintenance_mu_);
    OMEN_RETURN_IF_ERROR(checkpoint_locked());
  }
  WriteBatch batch;
  auto it = db_->new_iterator();
  for (it->seek(std::string(1, detail::kLegacyHotTag)); it->valid() && it->key()[0] == detail::kLegacyHotTag;
       it->next())
    batch.del(it->key());
  OMEN_RETURN_IF_ERROR(it->status());
  batch.put(detail::meta_key("format"), kFormat);
  return db_->write(batch, {true});
}

Transaction TieredStore::begin() { return Transaction(this, oracle_.begin()); }

Status TieredStore::read(uint64_t key, const Visibility& vis, std::string* value) const {
  std::shared_ptr<const detail::RunSet> runs;
  switch (hot_->get(key, vis, value, &runs)) {
    case detail::HotTier::Found::kValue:
      return Status::OK();
    case detail::HotTier::Found::kDeleted:
      return Status::NotFound();
    case detail::HotTier::Found::kFallThrough:
      break;
  }
  for (const auto& run : runs->runs) {  // newest first: the first run holding the key decides
    if (auto pos = run->position(key)) {
      bool deleted = false;
      OMEN_RETURN_IF_ERROR(run->read(*db_, *pos, &deleted, value));
      return deleted ? Status::NotFound() : Status::OK();
    }
  }
  return Status::NotFound();
}

Status TieredStore::commit(Transaction& txn) {
  if (bg_failed_.load(std::memory_order_acquire)) {
    Status e = take_background_error();
    if (!e.ok()) return e;
  }
  std::vector<detail::Write> writes;
  writes.reserve(txn.writes_.size());
  for (auto& [k, w] : txn.writes_) writes.push_back(std::move(w));
  Timestamp ts;
  {
    auto g = detail::lock_spinning(commit_mu_);
    for (const auto& w : writes) {
      if (pending_keys_.count(w.key) || hot_->newest_xmin(w.key) > txn.read_ts_) {  // first committer wins
        conflicts_.fetch_add(1, std::memory_order_relaxed);
        return Status::Conflict("write-write conflict on key " + std::to_string(w.key) +
                                ": another transaction committed it after this one began");
      }
    }
    ts = oracle_.allocate();
    for (const auto& w : writes) pending_keys_.insert(w.key);
    in_flight_.insert(ts);
  }
  Status s = log_->append_commit(ts, writes, opts_.sync_commits);
  std::vector<uint64_t> overwritten;
  if (s.ok()) hot_->install(ts, writes, &overwritten);
  {
    auto lk = detail::lock_spinning(commit_mu_);
    for (const auto& w : writes) pending_keys_.erase(w.key);
    in_flight_.erase(ts);
    finished_.insert(ts);
    // Invariant 2: publish the finished timestamps below the oldest one still in flight.
    Timestamp limit = in_flight_.empty() ? kLiveXmax : *in_flight_.begin(), publish = 0;
    while (!finished_.empty() && *finished_.begin() < limit)
      publish = *finished_.begin(), finished_.erase(finished_.begin());
    if (publish != 0) {
      oracle_.publish(publish);
      published_hint_.store(publish, std::memory_order_release);
      published_cv_.notify_all();
    }
    if (!s.ok()) return s;  // nothing was installed; the timestamp stays unused
    if (oracle_.published() < ts) {
      // An older commit is still installing (a few microseconds): wait on the CPU first, then
      // sleep; the oracle under commit_mu_ stays the authority.
      lk.unlock();
      detail::spin_until([&] { return published_hint_.load(std::memory_order_acquire) >= ts; });
      lk.lock();
      published_cv_.wait(lk, [&] { return oracle_.published() >= ts; });
    }
  }
  uint64_t n = commits_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (!overwritten.empty()) {
    std::lock_guard g(gc_mu_);
    gc_queue_.insert(gc_queue_.end(), overwritten.begin(), overwritten.end());
  }
  if (opts_.auto_maintenance && opts_.gc_every_commits && n % opts_.gc_every_commits == 0)
    request_maintenance();
  return Status::OK();
}

TieredStore::Stats TieredStore::stats() const {
  Stats st{};
  st.hot_keys = hot_->key_count();
  st.hot_versions = hot_->version_count();
  st.model_bytes = hot_->model_bytes();
  auto runs = hot_->runs();
  st.cold_runs = runs->runs.size();
  for (const auto& r : runs->runs) st.cold_keys += r->size(), st.model_bytes += r->model_bytes();
  st.commits = commits_.load(std::memory_order_relaxed);
  st.conflicts = conflicts_.load(std::memory_order_relaxed);
  st.migrations = migrations_.load(std::memory_order_relaxed);
  st.compaction_peak_entries = compaction_peak_entries_.load(std::memory_order_relaxed);
  st.last_commit_ts = oracle_.published();
  st.index_kind = detail::kIndexKind;
  st.log_bytes = log_->bytes_since_checkpoint();
  st.checkpoint_bytes = log_->checkpoint_bytes();
  return st;
}

}  // namespace omen
