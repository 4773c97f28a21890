// TimestampOracle: see the invariants in omen/timestamp_oracle.h.
#include "omen/timestamp_oracle.h"

#include <cassert>

namespace omen {

void TimestampOracle::restore(Timestamp last_committed) {
  std::lock_guard g(mu_);
  assert(active_.empty());
  allocated_ = published_ = last_committed;
}

Timestamp TimestampOracle::begin() {
  std::lock_guard g(mu_);
  ++active_[published_];
  return published_;
}

void TimestampOracle::end(Timestamp read_ts) {
  std::lock_guard g(mu_);
  auto it = active_.find(read_ts);
  assert(it != active_.end());
  if (--it->second == 0) active_.erase(it);
}

Timestamp TimestampOracle::allocate() {
  std::lock_guard g(mu_);
  return ++allocated_;
}

void TimestampOracle::publish(Timestamp ts) {
  std::lock_guard g(mu_);
  assert(ts > published_ && ts <= allocated_);
  published_ = ts;
}

Timestamp TimestampOracle::published() const {
  std::lock_guard g(mu_);
  return published_;
}

Timestamp TimestampOracle::allocated() const {
  std::lock_guard g(mu_);
  return allocated_;
}

Timestamp TimestampOracle::oldest_active() const {
  std::lock_guard g(mu_);
  return active_.empty() ? published_ : active_.begin()->first;
}

size_t TimestampOracle::active_count() const {
  std::lock_guard g(mu_);
  size_t n = 0;
  for (const auto& [ts, c] : active_) n += c;
  return n;
}

}  // namespace omen
