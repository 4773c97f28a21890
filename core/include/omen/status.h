// Status: the error model of the storage, MVCC and tier modules.
//
// These modules never throw for conditions a caller can meet (missing key, conflict, I/O error,
// corrupt or foreign directory, oversized input); they return a Status (or a Result<T>, a Status
// with a value). Exceptions that escape them are bugs or std::bad_alloc. A Status is cheap when ok()
// (no allocation) and carries a human-readable message otherwise.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace omen {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kNotFound,         // the key has no visible value
    kInvalidArgument,  // the caller broke a documented limit (e.g. oversized key or value)
    kCorruption,       // stored data fails its checks; nothing was changed
    kIOError,          // the file system refused an operation (e.g. disk full); see message
    kConflict,         // write-write conflict: the transaction was aborted (first committer wins)
    kAborted,          // the transaction is no longer active (committed, aborted or failed)
    kBusy,             // the resource is held by someone else (e.g. a locked directory)
    kNotSupported,     // a foreign or newer on-disk format
  };

  // An ok status.
  Status() noexcept = default;
  Status(Code code, std::string_view msg) : code_(code), msg_(std::make_shared<std::string>(msg)) {}

  // Factories: a status with that code and message (the message is copied once, then shared).
  static Status OK() noexcept { return Status(); }
  static Status NotFound(std::string_view m = "not found") { return {Code::kNotFound, m}; }
  static Status InvalidArgument(std::string_view m) { return {Code::kInvalidArgument, m}; }
  static Status Corruption(std::string_view m) { return {Code::kCorruption, m}; }
  static Status IOError(std::string_view m) { return {Code::kIOError, m}; }
  static Status Conflict(std::string_view m) { return {Code::kConflict, m}; }
  static Status Aborted(std::string_view m) { return {Code::kAborted, m}; }
  static Status Busy(std::string_view m) { return {Code::kBusy, m}; }
  static Status NotSupported(std::string_view m) { return {Code::kNotSupported, m}; }

  // Code tests and accessors.
  bool ok() const noexcept { return code_ == Code::kOk; }
  bool is_not_found() const noexcept { return code_ == Code::kNotFound; }
  bool is_conflict() const noexcept { return code_ == Code::kConflict; }
  Code code() const noexcept { return code_; }
  // The message alone ("" when ok).
  const std::string& message() const noexcept {
    static const std::string kEmpty;  // immutable
    return msg_ ? *msg_ : kEmpty;
  }
  // "<code name>: <message>", or "OK".
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::shared_ptr<const std::string> msg_;  // shared: copying a Status never allocates
};

// Returns early from the enclosing function with `expr`'s status when it is not ok.
#define OMEN_RETURN_IF_ERROR(expr)     \
  do {                                 \
    ::omen::Status _omen_s = (expr);   \
    if (!_omen_s.ok()) return _omen_s; \
  } while (0)

}  // namespace omen
