// Version stamps and the Visibility interface of the MVCC module.
//
// Every committed version of a key carries a VersionStamp (xmin, xmax): it was created by the
// transaction that committed at xmin and superseded (updated or deleted) by the one that committed
// at xmax (kLiveXmax while it is the newest). Whether a reader sees a version is decided by a
// Visibility object only; the standalone engine uses TimestampSnapshot (commit timestamps from a
// TimestampOracle), the Postgres extension will implement Visibility over Postgres snapshots.
#pragma once

#include <cstdint>
#include <limits>

namespace omen {

using Timestamp = uint64_t;
inline constexpr Timestamp kLiveXmax = std::numeric_limits<Timestamp>::max();

struct VersionStamp {
  Timestamp xmin;              // commit timestamp of the creating transaction (> 0)
  Timestamp xmax = kLiveXmax;  // commit timestamp of the superseding transaction
};

// Decides which versions a reader sees. Implementations must be pure functions of the stamp for
// the lifetime of the object and safe to call from the thread that owns the reader.
class Visibility {
 public:
  virtual ~Visibility() = default;
  // true iff the version stamped `v` belongs to the reader's snapshot.
  virtual bool visible(const VersionStamp& v) const noexcept = 0;
};

// Snapshot isolation by commit timestamps: a reader that started at read_ts sees exactly the
// versions committed at or before read_ts and not superseded by then.
class TimestampSnapshot final : public Visibility {
 public:
  explicit TimestampSnapshot(Timestamp read_ts) noexcept : read_ts_(read_ts) {}
  bool visible(const VersionStamp& v) const noexcept override {
    return v.xmin <= read_ts_ && read_ts_ < v.xmax;
  }
  Timestamp read_ts() const noexcept { return read_ts_; }

 private:
  Timestamp read_ts_;
};

}  // namespace omen
