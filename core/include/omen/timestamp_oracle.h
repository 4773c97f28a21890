// TimestampOracle: commit timestamps and the registry of live snapshots of one store.
//
// Thread safety: every method may be called concurrently; one mutex guards the state.
//
// Invariants:
//  1. allocated() >= published(); timestamps are handed out once, increasing.
//  2. published() only grows, and every commit with a timestamp <= published() is fully installed
//     (callers publish in timestamp order, after installing; TieredStore does so under its commit
//     lock).
//  3. A snapshot registered at read_ts r keeps oldest_active() <= r until it is released; a new
//     snapshot always gets read_ts >= oldest_active() computed at any earlier moment. Hence
//     versions superseded at or before oldest_active() can be dropped (garbage collection).
#pragma once

#include <map>
#include <mutex>

#include "omen/visibility.h"

namespace omen {

class TimestampOracle {
 public:
  // Starts after `last_committed` (recovered from storage; 0 for a new store).
  explicit TimestampOracle(Timestamp last_committed = 0) noexcept
      : allocated_(last_committed), published_(last_committed) {}

  // Restarts the sequence after `last_committed` (recovery). REQUIRES: no live snapshot.
  void restore(Timestamp last_committed);
  // Registers a snapshot at the newest published timestamp and returns that timestamp.
  Timestamp begin();
  // Releases a snapshot returned by begin(). REQUIRES: registered and not yet released.
  void end(Timestamp read_ts);
  // A new, unused commit timestamp (greater than every earlier one).
  Timestamp allocate();
  // Makes commits up to `ts` visible to new snapshots. REQUIRES: ts > published(), allocated.
  void publish(Timestamp ts);
  Timestamp published() const;
  Timestamp allocated() const;
  // The smallest read_ts of a live snapshot, or published() when none is live.
  Timestamp oldest_active() const;
  size_t active_count() const;

 private:
  mutable std::mutex mu_;
  Timestamp allocated_;                 // GUARDED_BY(mu_)
  Timestamp published_;                 // GUARDED_BY(mu_)
  std::map<Timestamp, size_t> active_;  // GUARDED_BY(mu_): read_ts -> number of snapshots
};

}  // namespace omen
