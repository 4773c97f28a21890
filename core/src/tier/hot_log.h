// HotLog: the durable log of the hot tier (docs/storage.md, "Hot log").
//
// A committed transaction appends ONE record holding all its writes to the current segment file
// (`log-N`); rows reach the StorageEngine only when migration moves them to a cold run. A
// checkpoint (`ckpt-S`) holds the newest hot version of every key as of a rotation to segment S;
// it replaces every file numbered below S. Recovery = the newest checkpoint + every segment >= S,
// keeping per key the version with the largest xmin (so the order of replay does not matter and
// replaying again changes nothing).
//
// File format (integers little-endian): a file is a sequence of records
//   len:4 crc:4 payload[len]          crc = CRC-32C of payload
//   payload = last_ts:8 count:4 row*  row = key:8 xmin:8 kind:1 vlen:4 value[vlen]
// A commit record has last_ts = xmin = the commit timestamp; a checkpoint's records carry each
// key's own xmin and last_ts = the newest timestamp published when it was taken.
//
// Damage: a record that is cut short or fails its checksum at the end of a segment (nothing but
// zero bytes after it) is a write a crash interrupted: it and the rest of the segment are ignored
// (its commit never returned ok). Damage anywhere else, or in a checkpoint, is kCorruption.
//
// Thread safety: every method may be called from any thread. Appends are serialized by mu_;
// synced appends share fsyncs (group commit: one committer syncs for everyone whose record is
// in the file by then, the others wait for it). The first failed append or sync is sticky: every
// later append, sync, rotation or checkpoint returns it until the log is reopened (after a failed
// fsync nobody can say what reached the disk).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "omen/file_store.h"
#include "omen/tiered_store.h"

namespace omen::detail {

struct LogRow {
  uint64_t key;
  Timestamp xmin;
  bool deleted;
  std::string value;
};

class HotLog {
 public:
  struct Recovered {
    std::vector<LogRow> rows;  // the newest version of each key, sorted by key
    Timestamp last_ts = 0;     // the largest timestamp any record mentions
  };
  // Opens the log kept in `files`: loads the newest checkpoint, replays the segments after it,
  // deletes the files the checkpoint replaced and starts a new segment. `files` must outlive it.
  static Status open(FileStore* files, Recovered* rec, std::unique_ptr<HotLog>* out);
  ~HotLog();

  // Appends the record of the transaction committed at ts. sync: returns once it is durable.
  Status append_commit(Timestamp ts, std::span<const Write> writes, bool sync);
  // Makes every record appended so far durable.
  Status sync();

  // Checkpoint, step 1: syncs the current segment and starts segment S. Sets *last_before to the
  // largest timestamp appended before S. The caller then waits until every commit up to it is
  // installed, and calls write_checkpoint with the hot tier's newest versions.
  Status rotate(Timestamp* last_before);
  // Step 2: writes ckpt-S from the chunks `next` returns (false: no more), syncs it, renames it
  // into place, then deletes the segments below S and the older checkpoints.
  Status write_checkpoint(Timestamp last_ts, const std::function<bool(std::vector<LogRow>*)>& next);

  uint64_t bytes_since_checkpoint() const;   // bytes of the segments the last checkpoint did not replace
  uint64_t checkpoint_bytes() const;         // size of the last checkpoint
  size_t segments_since_checkpoint() const;  // segment files the next checkpoint will replace (>= 1)
  Status error() const;                      // the sticky error (ok if none)

 private:
  HotLog(FileStore* files) : files_(files) {}
  Status start_segment_locked(uint64_t n);
  Status fail_locked(Status s);
  Status sync_to(uint64_t segment, uint64_t end);

  FileStore* files_;
  mutable std::mutex mu_;             // guards everything below but the sync state
  std::shared_ptr<AppendFile> file_;  // the current segment
  uint64_t segment_ = 0;              // its number
  uint64_t written_ = 0;              // bytes appended to it
  uint64_t older_bytes_ = 0;          // bytes of earlier segments not replaced by a checkpoint
  size_t older_segments_ = 0;         // how many such segments
  uint64_t checkpoint_ = 0;           // number S of the last checkpoint (0: none)
  uint64_t checkpoint_bytes_ = 0;
  Timestamp last_ts_ = 0;  // largest timestamp appended
  Status error_;           // sticky failure

  std::mutex sync_mu_;  // group commit
  std::condition_variable sync_cv_;
  bool syncing_ = false;                      // GUARDED_BY(sync_mu_): a committer is in fsync
  uint64_t synced_segment_ = 0, synced_ = 0;  // GUARDED_BY(sync_mu_): durable up to here
};

// Encodes one record (header + payload) of `rows` at the end of *out.
void encode_log_record(Timestamp last_ts, std::span<const LogRow> rows, std::string* out);

}  // namespace omen::detail
