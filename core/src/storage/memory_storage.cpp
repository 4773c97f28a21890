// MemoryStorage: versioned std::map; see the invariants in omen/memory_storage.h.
#include "omen/memory_storage.h"

#include <algorithm>

namespace omen {

class MemoryStorage::Snapshot final : public StorageSnapshot {
 public:
  explicit Snapshot(uint64_t seq) : seq(seq) {}
  const uint64_t seq;
};

namespace {

// The newest version with seq <= `seq`, or null.
const MemoryStorage::Version* visible(const std::vector<MemoryStorage::Version>& vs, uint64_t seq) {
  for (auto it = vs.rbegin(); it != vs.rend(); ++it)
    if (it->seq <= seq) return &*it;
  return nullptr;
}

class MemoryIterator final : public StorageIterator {
 public:
  MemoryIterator(const MemoryStorage* db, std::shared_ptr<const StorageSnapshot> pin, uint64_t seq)
      : db_(db), pin_(std::move(pin)), seq_(seq) {}

  void seek_to_first() override { load("", false); }
  void seek(std::string_view target) override { load(target, false); }
  bool valid() const override { return pos_ < buf_.size(); }
  void next() override {
    if (++pos_ < buf_.size() || !more_) return;
    std::string last = std::move(buf_.back().first);
    chunk_ = std::min(2 * chunk_, MemoryStorage::kChunk);
    load(last, true);
  }
  std::string_view key() const override { return buf_[pos_].first; }
  std::string_view value() const override { return buf_[pos_].second; }
  Status status() const override { return Status::OK(); }

 private:
  void load(std::string_view from, bool exclusive) {
    buf_.clear();
    pos_ = 0;
    more_ = db_->copy_chunk(from, exclusive, seq_, chunk_, &buf_);
  }

  const MemoryStorage* db_;
  std::shared_ptr<const StorageSnapshot> pin_;  // keeps the versions at seq_ alive (invariant 3)
  uint64_t seq_;
  std::vector<std::pair<std::string, std::string>> buf_;
  size_t pos_ = 0;
  size_t chunk_ = 16;  // grows to kChunk: a short scan copies little
  bool more_ = false;
};

}  // namespace

uint64_t MemoryStorage::oldest_needed_locked() const {
  std::lock_guard g(snap_mu_);
  return live_snaps_.empty() ? seq_ : std::min(seq_, *live_snaps_.begin());
}

void MemoryStorage::release(uint64_t seq) const {
  std::lock_guard g(snap_mu_);
  live_snaps_.erase(live_snaps_.find(seq));
}

Status MemoryStorage::get(std::string_view key, std::string* value, const StorageSnapshot* snap) const {
  std::shared_lock lk(mu_);
  uint64_t seq = snap ? static_cast<const Snapshot*>(snap)->seq : seq_;
  auto it = map_.find(key);
  if (it == map_.end()) return Status::NotFound();
  const Version* v = visible(it->second, seq);
  if (!v || v->deleted) return Status::NotFound();
  value->assign(v->value);
  return Status::OK();
}

Status MemoryStorage::write(const WriteBatch& batch, WriteOptions) {
  for (const auto& op : batch.ops()) OMEN_RETURN_IF_ERROR(check_put_limits(op.key, op.value));
  std::unique_lock lk(mu_);
  uint64_t seq = ++seq_;
  uint64_t oldest = oldest_needed_locked();
  for (const auto& op : batch.ops()) {
    auto it = map_.find(op.key);
    if (it == map_.end()) {
      if (op.is_delete) continue;
      it = map_.emplace(op.key, std::vector<Version>{}).first;
    }
    auto& vs = it->second;
    if (!vs.empty() && vs.back().seq == seq) vs.pop_back();  // same batch: last op wins
    vs.push_back({seq, op.is_delete, op.value});
    // Invariant 3: keep the newest version <= oldest and everything newer.
    size_t keep = 0;
    for (size_t i = 0; i < vs.size(); ++i)
      if (vs[i].seq <= oldest) keep = i;
    if (keep > 0) vs.erase(vs.begin(), vs.begin() + static_cast<std::ptrdiff_t>(keep));
    if (vs.size() == 1 && vs[0].deleted && vs[0].seq <= oldest) map_.erase(it);
  }
  return Status::OK();
}

bool MemoryStorage::copy_chunk(std::string_view from, bool exclusive, uint64_t seq, size_t max,
                               std::vector<std::pair<std::string, std::string>>* out) const {
  std::shared_lock lk(mu_);
  auto it = exclusive ? map_.upper_bound(from) : map_.lower_bound(from);
  for (; it != map_.end() && out->size() < max; ++it) {
    const Version* v = visible(it->second, seq);
    if (v && !v->deleted) out->emplace_back(it->first, v->value);
  }
  return it != map_.end();  // stopped on a full chunk (the loop skips invisible keys)
}

std::shared_ptr<const StorageSnapshot> MemoryStorage::snapshot() const {
  std::shared_lock lk(mu_);
  uint64_t seq = seq_;
  {
    std::lock_guard g(snap_mu_);
    live_snaps_.insert(seq);
  }
  return std::shared_ptr<const Snapshot>(new Snapshot(seq), [this](const Snapshot* s) {
    release(s->seq);
    delete s;
  });
}

std::unique_ptr<StorageIterator> MemoryStorage::new_iterator(const StorageSnapshot* snap) const {
  if (snap) return std::make_unique<MemoryIterator>(this, nullptr, static_cast<const Snapshot*>(snap)->seq);
  auto pin = snapshot();
  uint64_t seq = static_cast<const Snapshot*>(pin.get())->seq;
  return std::make_unique<MemoryIterator>(this, std::move(pin), seq);
}

std::string MemoryStorage::stats() const {
  std::shared_lock lk(mu_);
  size_t versions = 0;
  for (const auto& [k, vs] : map_) versions += vs.size();
  return "engine: memory\nkeys: " + std::to_string(map_.size()) + "\nversions: " + std::to_string(versions) +
         "\nsequence: " + std::to_string(seq_) + "\n";
}

}  // namespace omen
