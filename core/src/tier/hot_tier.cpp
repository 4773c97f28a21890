// HotTier: see the thread-safety rule and invariants in hot_tier.h.
#include "tier/hot_tier.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <mutex>

namespace omen::detail {

namespace {
template <class Version>
size_t delete_versions(Version* v) {  // v and every older version; returns how many
  size_t n = 0;
  while (v) {
    Version* older = v->older;
    Version::destroy(v);
    v = older, ++n;
  }
  return n;
}
}  // namespace

HotTier::~HotTier() {
  index_.scan(0, [&](uint64_t, uint64_t p) {
    delete_versions(as_version(p));
    return true;
  });
}

HotTier::Version* HotTier::Version::make(VersionStamp stamp, bool deleted, std::string_view value,
                                         Version* older) {
  auto* v =
      new (::operator new(sizeof(Version) + value.size())) Version{stamp, deleted, 0, older, value.size()};
  std::memcpy(v + 1, value.data(), value.size());
  return v;
}

HotTier::Version* HotTier::newest_locked(uint64_t key) const {
  auto p = index_.find(key);
  return p ? as_version(*p) : nullptr;
}

bool HotTier::in_any_run(const RunSet& runs, uint64_t key) {
  return std::any_of(runs.runs.begin(), runs.runs.end(),
                     [&](const auto& r) { return r->position(key).has_value(); });
}

void HotTier::delete_chain_locked(uint64_t key, Version* newest) {
  index_.erase(key, as_payload(newest));
  versions_ -= delete_versions(newest);
}

HotTier::Found HotTier::get(uint64_t key, const Visibility& vis, std::string* value,
                            std::shared_ptr<const RunSet>* runs) const {
  std::shared_lock lk(mu_);
  for (const Version* v = newest_locked(key); v; v = v->older) {
    if (!vis.visible(v->stamp)) continue;
    if (v->migrated_run != 0 && v->migrated_run <= runs_->max_run) break;  // invariant 2
    if (v->deleted) return Found::kDeleted;
    value->assign(v->value());
    return Found::kValue;
  }
  *runs = runs_;
  return Found::kFallThrough;
}

uint64_t HotTier::collect(uint64_t from, uint64_t last, const Visibility& vis, uint64_t max_run, size_t max,
                          std::vector<Entry>* out) const {
  std::shared_lock lk(mu_);
  uint64_t examined = last;
  size_t seen = 0, budget = 4 * max;  // bounds the lock hold over invisible keys too
  index_.scan(from, [&](uint64_t key, uint64_t p) {
    if (key > last) return false;
    for (const Version* v = as_version(p); v; v = v->older) {
      if (!vis.visible(v->stamp)) continue;
      if (v->migrated_run == 0 || v->migrated_run > max_run)
        out->push_back({key, v->deleted, std::string(v->value())});
      break;
    }
    if (out->size() >= max || ++seen >= budget) {
      examined = key;
      return false;
    }
    return true;
  });
  return examined;
}

std::shared_ptr<const RunSet> HotTier::runs() const {
  std::shared_lock lk(mu_);
  return runs_;
}

Timestamp HotTier::newest_xmin(uint64_t key) const {
  std::shared_lock lk(mu_);
  const Version* n = newest_locked(key);
  return n ? n->stamp.xmin : 0;
}

void HotTier::install(Timestamp ts, std::span<const Write> writes, std::vector<uint64_t>* overwritten) {
  std::unique_lock lk(mu_);
  for (const Write& w : writes) {
    uint64_t* head = index_.find_payload(w.key);
    Version* v = Version::make({ts, kLiveXmax}, w.deleted, w.value, head ? as_version(*head) : nullptr);
    if (head) {
      v->older->stamp.xmax = ts;
      overwritten->push_back(w.key);
      *head = as_payload(v);
    } else {
      index_.insert(w.key, as_payload(v));
    }
    ++versions_;
  }
}

void HotTier::load(std::vector<Write>&& rows, std::vector<Timestamp>&& xmins) {
  std::vector<uint64_t> keys, payloads;
  keys.reserve(rows.size());
  payloads.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    Version* v = Version::make({xmins[i], kLiveXmax}, rows[i].deleted, rows[i].value, nullptr);
    keys.push_back(rows[i].key);
    payloads.push_back(as_payload(v));
  }
  std::unique_lock lk(mu_);
  versions_ += rows.size();
  if (!keys.empty()) index_ = HotIndex(std::move(keys), std::move(payloads));
}

size_t HotTier::collect_garbage(std::span<const uint64_t> keys, Timestamp oldest,
                                std::vector<uint64_t>* retry) {
  std::unique_lock lk(mu_);
  size_t dropped = 0;
  for (uint64_t key : keys) {
    Version* newest = newest_locked(key);
    if (!newest) continue;
    Version* keep = newest;  // the newest version every snapshot >= oldest may need
    while (keep && keep->stamp.xmin > oldest) keep = keep->older;
    if (!keep) {
      retry->push_back(key);
      continue;
    }
    const size_t n = delete_versions(keep->older);  // superseded at keep->xmin <= oldest: invisible to all
    versions_ -= n, dropped += n;
    keep->older = nullptr;
    if (newest->older) retry->push_back(key);
  }
  return dropped;
}

void HotTier::migration_candidates(Timestamp cutoff, size_t max, std::vector<Candidate>* out) const {
  std::shared_lock lk(mu_);
  index_.scan(0, [&](uint64_t key, uint64_t p) {
    const Version* n = as_version(p);
    if (n->stamp.xmin <= cutoff && n->migrated_run == 0) {
      out->push_back({key, n->stamp.xmin, n->deleted, std::string(n->value())});
    }
    return out->size() < max;
  });
}

bool HotTier::newest_versions(uint64_t* from, size_t max, std::vector<Candidate>* out) const {
  std::shared_lock lk(mu_);
  bool more = false;
  size_t seen = 0;
  index_.scan(*from, [&](uint64_t key, uint64_t p) {
    if (seen++ == max) {
      *from = key;
      return !(more = true);
    }
    const Version* n = as_version(p);
    if (n->migrated_run == 0) out->push_back({key, n->stamp.xmin, n->deleted, std::string(n->value())});
    return true;
  });
  return more;
}

void HotTier::install_run(std::shared_ptr<const ColdRun> run, std::span<const Candidate> moved,
                          std::span<const Candidate> dropped) {
  std::unique_lock lk(mu_);
  for (const Candidate& m : moved) {
    Version* v = newest_locked(m.key);
    while (v && v->stamp.xmin != m.xmin) v = v->older;
    if (!v || !run) continue;  // cannot happen: only maintenance removes versions, and it is serialized
    v->migrated_run = run->id();
    versions_ -= delete_versions(v->older);
    v->older = nullptr;
    migrated_.emplace_back(run->id(), m.key);
  }
  for (const Candidate& d : dropped) {
    Version* newest = newest_locked(d.key);
    if (!newest || newest->stamp.xmin != d.xmin) continue;  // rewritten since: keep
    delete_chain_locked(d.key, newest);
  }
  if (!run) return;  // only tombstones were dropped
  auto next = std::make_shared<RunSet>();
  next->runs.push_back(std::move(run));
  next->runs.insert(next->runs.end(), runs_->runs.begin(), runs_->runs.end());
  next->max_run = next->runs.front()->id();
  retired_.push_back(runs_);
  runs_ = std::move(next);
}

void HotTier::replace_runs(std::shared_ptr<const ColdRun> merged, uint64_t id) {
  auto next = std::make_shared<RunSet>();
  next->max_run = id;
  if (merged) next->runs.push_back(std::move(merged));
  std::unique_lock lk(mu_);
  retired_.push_back(runs_);
  runs_ = std::move(next);
}

void HotTier::set_runs(std::vector<std::shared_ptr<const ColdRun>> runs) {
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a->id() > b->id(); });
  auto next = std::make_shared<RunSet>();
  next->max_run = runs.empty() ? 0 : runs.front()->id();
  next->runs = std::move(runs);
  std::unique_lock lk(mu_);
  runs_ = std::move(next);
}

size_t HotTier::reclaim() {
  std::unique_lock lk(mu_);
  uint64_t covered = runs_->max_run;  // the largest run id every live RunSet includes
  std::erase_if(retired_, [&](const std::weak_ptr<const RunSet>& w) {
    auto live = w.lock();
    if (live) covered = std::min(covered, live->max_run);
    return !live;
  });
  size_t removed = 0;
  std::erase_if(migrated_, [&](const std::pair<uint64_t, uint64_t>& rk) {
    if (rk.first > covered) return false;
    Version* newest = newest_locked(rk.second);
    if (!newest) return true;
    if (newest->migrated_run == rk.first) {  // the only version (invariant 2: the oldest)
      delete_chain_locked(rk.second, newest);
      ++removed;
      return true;
    }
    Version* v = newest;
    while (v->older && v->older->migrated_run != rk.first) v = v->older;
    if (v->older) {  // invariant 2: it is the oldest version
      Version::destroy(v->older);
      v->older = nullptr;
      --versions_, ++removed;
    }
    return true;
  });
  return removed;
}

size_t HotTier::key_count() const {
  std::shared_lock lk(mu_);
  return index_.size();
}

size_t HotTier::version_count() const {
  std::shared_lock lk(mu_);
  return versions_;
}

size_t HotTier::model_bytes() const {
  std::shared_lock lk(mu_);
  return index_.model_bytes();
}

}  // namespace omen::detail
