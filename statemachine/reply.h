#pragma once
// Reply: what applying a command answers. Replies of state-changing
// commands are cached in the session table (the dedup table), so a retry
// gets the very same answer; hence the encoding.
//
// Wire format, version 1:
//   u8 format version (1) | u8 code | varint clientId | u8 flags
//   [Bytes value]            if flags & 1 (hasValue)
//   Bytes message
//   varint range count, then per result: Bytes key, Bytes value
//   (flags & 2: rangeMore)
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "raftlog/status.h"

namespace kvraft::statemachine {

constexpr uint8_t kReplyFormatVersion = 1;

enum class ReplyCode : uint8_t {
  kOk = 0,
  kNotFound = 1,         // Get or Delete of an absent key
  kCasFailed = 2,        // CompareAndSwap: the current value (or absence) is in `value`
  kSessionExpired = 3,   // the client id is unknown or its session expired: register again
  kStaleSequence = 4,    // sequence below the client's first outstanding: its reply was
                         // delivered and discarded; the command was not applied again
  kInvalidArgument = 5,  // bad input (size limits, malformed command); nothing changed
  kSkipped = 6,          // never sent to a client: the entry was at or below the applied
                         // index (a replay after restart) and was not applied again
};
const char* ReplyCodeName(ReplyCode code);

struct KeyValue {
  std::string key;
  std::string value;
  bool operator==(const KeyValue&) const = default;
};

struct Reply {
  ReplyCode code = ReplyCode::kOk;
  uint64_t clientId = 0;  // RegisterClient: the new session's id
  std::optional<std::string>
      value;                    // Get: the value; kCasFailed: the current value (nullopt: absent)
  std::string message;          // for errors: what happened and what to do
  std::vector<KeyValue> range;  // Range: results in key order
  bool rangeMore = false;       // Range: stopped at the limit; continue after the last key

  bool ok() const { return code == ReplyCode::kOk; }
  // OK and nothing else: what most writes answer. The session table keeps
  // such a reply as a bare sequence number (kv_layout.h, SessionHeader).
  bool plainOk() const { return *this == Reply{}; }
  std::string ToString() const;  // for logs and test failures
  bool operator==(const Reply&) const = default;
};

std::string EncodeReply(const Reply& reply);
// Parses bytes from storage; Corruption names the malformed field.
Status DecodeReply(std::string_view bytes, Reply* reply);

}  // namespace kvraft::statemachine
