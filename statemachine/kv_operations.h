#pragma once
// What each operation does to user data (the `default` column family),
// independent of sessions: the same code answers a command applied from the
// log and a read served outside it (ReadIndex), so both give the same
// answers.
#include <rocksdb/iterator.h>
#include <rocksdb/status.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "raftlog/status.h"
#include "statemachine/command.h"
#include "statemachine/reply.h"

namespace kvraft::statemachine {

// Size limits on client input, from the node's flags. A command over them
// gets kInvalidArgument and changes nothing.
struct Limits {
  // Keys are repeated in every index block and every Range result; real
  // keys are tens of bytes, so 4 KiB only stops mistakes (a value passed as
  // a key).
  size_t maxKeyBytes = 4 << 10;
  // A value travels in one log entry, one AppendEntries and one WriteBatch;
  // 1 MiB equals the Raft layer's default maxSizePerMsg, so one command
  // never needs a message of its own beyond that. Applies to an Append's
  // result as well.
  size_t maxValueBytes = 1 << 20;
  // Upper bound on the results of one Range (a larger or zero limit is cut
  // to it; rangeMore tells the client to continue).
  uint64_t maxRangeResults = 10000;
  // Upper bound on the key and value bytes of one Range reply, so a reply
  // fits a client frame whatever the limit; at least one result is always
  // returned so that a client paging through makes progress.
  uint64_t maxRangeBytes = 4 << 20;
};

// The state an operation reads and writes: the instance plus the writes of
// the apply batch so far, or a consistent snapshot for reads.
class KvView {
 public:
  virtual ~KvView() = default;
  // OK with *value, NotFound, or a failure.
  virtual rocksdb::Status Get(std::string_view key, std::string* value) = 0;
  // Iterates user data; keys at or above *upperBound (if given) may be
  // skipped. upperBound must outlive the iterator.
  virtual std::unique_ptr<rocksdb::Iterator> NewIterator(const rocksdb::Slice* upperBound) = 0;
  virtual rocksdb::Status Put(std::string_view key, std::string_view value) = 0;
  virtual rocksdb::Status Delete(std::string_view key) = 0;
};

// Executes a Get, Put, Append, Delete, CompareAndSwap or Range on `view`
// and fills *reply. Input over `limits` gets kInvalidArgument without any
// write. Returns non-OK only when the view fails (I/O, corruption); the
// reply is then meaningless. Session operations (NoOp, RegisterClient) are
// not handled here: CHECK-fails.
Status ExecuteOperation(const Command& command, const Limits& limits, KvView* view, Reply* reply);

}  // namespace kvraft::statemachine
