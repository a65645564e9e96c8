#pragma once
// Command: the bytes a client's request becomes inside a Raft log entry, and
// what the state machine applies (DESIGN.md, "Client semantics").
//
// Every command carries the session fields of LogCabin's exactly-once
// scheme: the client id (from RegisterClient), the request's sequence
// number, and the client's lowest sequence number it has not yet seen
// answered ("first outstanding") so that the state machine may drop cached
// replies below it. The proposing leader stamps its clock into
// leaderTimeMs; the state machine never reads a clock of its own, so session
// expiry is the same on every replica.
//
// Wire format, version 1 (all fields in this order, nothing after them):
//   u8 format version (1) | u8 operation
//   varint clientId | varint sequence | varint firstOutstanding | varint leaderTimeMs
//   then, by operation (Bytes = varint length + bytes; see byte_io.h):
//     RegisterClient, NoOp   -
//     Get, Delete            key
//     Put, Append            key, value
//     CompareAndSwap         key, u8 hasExpected (0 or 1), [expected], value
//     Range                  key (start, inclusive), rangeEnd (exclusive; empty:
//                            no bound), varint rangeLimit (0: the configured maximum)
// Any change of layout or a new operation bumps kCommandFormatVersion: a
// replica that meets a version newer than its own must stop and be upgraded
// rather than answer the command differently from its peers.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "raftlog/status.h"

namespace kvraft::statemachine {

constexpr uint8_t kCommandFormatVersion = 1;

enum class Operation : uint8_t {
  kNoOp = 0,            // changes nothing; with a client id, keeps its session alive
  kRegisterClient = 1,  // opens a session; the reply's clientId is the new id
  kGet = 2,
  kPut = 3,
  kAppend = 4,  // appends to the value; an absent key counts as empty
  kDelete = 5,
  kCompareAndSwap = 6,  // sets value if the current value is `expected` (nullopt: absent)
  kRange = 7,           // keys in [key, rangeEnd), at most rangeLimit of them
};
const char* OperationName(Operation op);

// True for the operations that never change state: the state machine answers
// them without the session table (see KvStateMachine::ApplyBatch).
bool IsReadOnly(Operation op);

// The fields are views: the strings a command was built from, or the bytes
// it was decoded from, must outlive it. Decoding thus copies nothing; a key
// or value is copied once, from the log entry into RocksDB's write batch.
struct Command {
  Operation op = Operation::kNoOp;
  uint64_t clientId = 0;          // 0: no session (RegisterClient, reads, the leader's no-ops)
  uint64_t sequence = 0;          // this request's number within the client's session
  uint64_t firstOutstanding = 0;  // lowest sequence the client has not seen answered
  uint64_t leaderTimeMs = 0;      // the proposing leader's clock; 0: none stamped

  std::string_view key;                      // Range: start key (inclusive)
  std::string_view value;                    // Put/Append: the value; CompareAndSwap: the new value
  std::optional<std::string_view> expected;  // CompareAndSwap: nullopt = key must be absent
  std::string_view rangeEnd;                 // Range: end key (exclusive); empty = no bound
  uint64_t rangeLimit = 0;                   // Range: most results wanted; 0 = configured maximum

  bool operator==(const Command&) const = default;
};

std::string EncodeCommand(const Command& command);
void EncodeCommand(const Command& command, std::string* out);  // appends to *out

// Parses bytes from an untrusted source. Returns InvalidArgument naming the
// field that is truncated or malformed, or an unsupported version; never
// reads outside `bytes`. On success *command points into `bytes`.
Status DecodeCommand(std::string_view bytes, Command* command);

// The format version of encoded bytes (their first byte); 0 when empty.
inline uint8_t CommandFormatVersion(std::string_view bytes) {
  return bytes.empty() ? 0 : static_cast<uint8_t>(bytes[0]);
}

}  // namespace kvraft::statemachine
