// Conversion of RocksDB statuses into omen::Status (private to the core).
#pragma once

#include <rocksdb/status.h>

#include <string>
#include <string_view>

#include "omen/status.h"

namespace omen::detail {

// Maps `s` to our codes; the message is "<what>: <rocksdb message>".
inline Status from_rocksdb(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::OK();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  if (s.IsNotSupported()) return Status::NotSupported(msg);
  if (s.IsBusy() || s.IsTryAgain()) return Status::Busy(msg);
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) return Status::Busy(msg);
  return Status::IOError(msg);
}

}  // namespace omen::detail
