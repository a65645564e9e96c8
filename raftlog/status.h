#pragma once
// Status: the error value returned across module boundaries. A message says
// what happened and, where it can, what to do about it.
#include <string>
#include <utility>

namespace kvraft {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,
    kInvalidArgument,
    kNotLeader,       // the call needs the leader; message names the hint
    kCompacted,       // the log entry asked for was discarded by a snapshot
    kUnavailable,     // transiently unable (e.g. an entry not yet in the log)
    kCorruption,      // stored bytes fail their checksum or format
    kIOError,
    kAborted,         // the operation was superseded (term moved on, ...)
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotLeader(std::string m) { return {Code::kNotLeader, std::move(m)}; }
  static Status Compacted(std::string m) { return {Code::kCompacted, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status Aborted(std::string m) { return {Code::kAborted, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;
  // The same error with `context` (what was being done) before its message;
  // OK stays OK.
  Status Annotate(const std::string& context) const {
    return ok() ? *this : Status(code_, context + ": " + message_);
  }

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace kvraft
