#include "raftlog/status.h"

namespace kvraft {

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kNotFound: name = "NOT_FOUND"; break;
    case Code::kInvalidArgument: name = "INVALID_ARGUMENT"; break;
    case Code::kNotLeader: name = "NOT_LEADER"; break;
    case Code::kCompacted: name = "COMPACTED"; break;
    case Code::kUnavailable: name = "UNAVAILABLE"; break;
    case Code::kCorruption: name = "CORRUPTION"; break;
    case Code::kIOError: name = "IO_ERROR"; break;
    case Code::kAborted: name = "ABORTED"; break;
  }
  return std::string(name) + ": " + message_;
}

}  // namespace kvraft
