// Transaction: buffered writes over a snapshot of a TieredStore (omen/tiered_store.h).
#include <utility>

#include "omen/tiered_store.h"

namespace omen {

namespace {
Status inactive() { return Status::Aborted("the transaction is no longer active (committed or aborted)"); }
}  // namespace

Transaction::Transaction(TieredStore* store, Timestamp read_ts) : store_(store), read_ts_(read_ts) {}

Transaction::Transaction(Transaction&& o) noexcept
    : store_(std::exchange(o.store_, nullptr)), read_ts_(o.read_ts_), writes_(std::move(o.writes_)) {}

Transaction& Transaction::operator=(Transaction&& o) noexcept {
  if (this != &o) {
    abort();
    store_ = std::exchange(o.store_, nullptr);
    read_ts_ = o.read_ts_;
    writes_ = std::move(o.writes_);
  }
  return *this;
}

Transaction::~Transaction() { abort(); }

void Transaction::finish() {
  if (store_) store_->oracle_.end(read_ts_);
  store_ = nullptr;
  writes_.clear();
}

void Transaction::abort() { finish(); }

Status Transaction::get(uint64_t key, std::string* value) {
  if (!store_) return inactive();
  auto it = writes_.find(key);
  if (it != writes_.end()) {
    if (it->second.deleted) return Status::NotFound();
    value->assign(it->second.value);
    return Status::OK();
  }
  return store_->read(key, TimestampSnapshot(read_ts_), value);
}

Status Transaction::put(uint64_t key, std::string_view value) {
  if (!store_) return inactive();
  if (value.size() > kMaxValueBytes)
    return Status::InvalidArgument("value of " + std::to_string(value.size()) +
                                   " bytes exceeds the limit of " + std::to_string(kMaxValueBytes) +
                                   " bytes");
  auto& w = writes_[key];
  w = {key, false, std::string(value)};
  return Status::OK();
}

Status Transaction::del(uint64_t key) {
  if (!store_) return inactive();
  writes_[key] = {key, true, {}};
  return Status::OK();
}

Status Transaction::scan(uint64_t first, uint64_t last,
                         const std::function<bool(uint64_t, std::string_view)>& fn) {
  if (!store_) return inactive();
  if (first > last) return Status::OK();
  // Merge the store's keys with our own writes; ours win on equal keys.
  auto own = writes_.lower_bound(first);
  auto own_end = last == UINT64_MAX ? writes_.end() : writes_.upper_bound(last);
  bool go = true;
  auto emit_own_before = [&](uint64_t bound, bool inclusive) {
    for (; go && own != own_end && (own->first < bound || (inclusive && own->first == bound)); ++own)
      if (!own->second.deleted) go = fn(own->first, own->second.value);
  };
  Status s =
      store_->scan(first, last, TimestampSnapshot(read_ts_), [&](uint64_t key, std::string_view value) {
        emit_own_before(key, false);
        if (!go) return false;
        if (own != own_end && own->first == key) {
          if (!own->second.deleted) go = fn(key, own->second.value);
          ++own;
        } else {
          go = fn(key, value);
        }
        return go;
      });
  OMEN_RETURN_IF_ERROR(s);
  if (go) emit_own_before(last, true);
  return Status::OK();
}

Status Transaction::commit() {
  if (!store_) return inactive();
  Status s = writes_.empty() ? Status::OK() : store_->commit(*this);
  finish();
  return s;
}

}  // namespace omen
