// Status::to_string and the limit checks shared by every storage engine.
#include "omen/status.h"

#include "omen/storage.h"

namespace omen {

namespace {
const char* code_name(Status::Code c) {
  switch (c) {
    case Status::Code::kOk:
      return "OK";
    case Status::Code::kNotFound:
      return "NotFound";
    case Status::Code::kInvalidArgument:
      return "InvalidArgument";
    case Status::Code::kCorruption:
      return "Corruption";
    case Status::Code::kIOError:
      return "IOError";
    case Status::Code::kConflict:
      return "Conflict";
    case Status::Code::kAborted:
      return "Aborted";
    case Status::Code::kBusy:
      return "Busy";
    case Status::Code::kNotSupported:
      return "NotSupported";
  }
  return "Unknown";
}
}  // namespace

std::string Status::to_string() const {
  if (ok()) return "OK";
  return std::string(code_name(code_)) + ": " + message();
}

Status check_put_limits(std::string_view key, std::string_view value) {
  if (key.size() > kMaxStorageKeyBytes)
    return Status::InvalidArgument("key of " + std::to_string(key.size()) + " bytes exceeds the limit of " +
                                   std::to_string(kMaxStorageKeyBytes) + " bytes");
  if (value.size() > kMaxStorageValueBytes)
    return Status::InvalidArgument("value of " + std::to_string(value.size()) +
                                   " bytes exceeds the limit of " + std::to_string(kMaxStorageValueBytes) +
                                   " bytes");
  return Status::OK();
}

Status StorageEngine::put(std::string_view key, std::string_view value, WriteOptions o) {
  WriteBatch b;
  b.put(key, value);
  return write(b, o);
}

Status StorageEngine::del(std::string_view key, WriteOptions o) {
  WriteBatch b;
  b.del(key);
  return write(b, o);
}

}  // namespace omen
