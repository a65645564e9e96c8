#pragma once
// KvServiceHandler: the client-facing Thrift service of a node
// (thrift/kv.thrift). It checks each request against the node's limits,
// turns writes into commands for the log (statemachine/command.h) and
// waits for them through Node::Propose, serves linearizable reads after
// Node::WaitReadable and stale reads straight from the kv state, and maps
// every outcome to a typed result. Runs on Thrift's worker threads.
#include <chrono>
#include <cstddef>

#include "KvService.h"
#include "core/node.h"
#include "statemachine/command.h"

namespace kvraft::core {

class KvServiceHandler : public thrift::KvServiceIf {
 public:
  struct Options {
    size_t maxKeyBytes = 4 << 10;
    size_t maxValueBytes = 1 << 20;
    // How long a call waits for its command to be applied (or its read to
    // be confirmed) before answering TIMEOUT.
    std::chrono::milliseconds requestTimeout{5000};
  };
  KvServiceHandler(Node* node, const Options& options) : node_(node), options_(options) {}

  void RegisterClient(thrift::RegisterClientResponse& out) override;
  void Get(thrift::GetResponse& out, const thrift::GetRequest& request) override;
  void Put(thrift::WriteResponse& out, const thrift::PutRequest& request) override;
  void Append(thrift::WriteResponse& out, const thrift::AppendRequest& request) override;
  void Delete(thrift::WriteResponse& out, const thrift::DeleteRequest& request) override;
  void CompareAndSwap(thrift::WriteResponse& out, const thrift::CompareAndSwapRequest& request) override;
  void Range(thrift::RangeResponse& out, const thrift::RangeRequest& request) override;
  void Status(thrift::NodeStatus& out) override;
  void SnapshotNow(thrift::AdminResponse& out) override;
  void Compact(thrift::AdminResponse& out) override;

 private:
  // Fills `result` and returns false if `key` (and `value`, if given) break
  // the limits.
  bool CheckKey(const std::string& key, thrift::Result* result) const;
  bool CheckValue(const std::string& value, const char* what, thrift::Result* result) const;
  bool CheckSession(const thrift::Session& session, thrift::Result* result) const;
  // Put and Append: check, then Write.
  void WriteValue(statemachine::Operation op, const thrift::Session& session, const std::string& key,
                  const std::string& value, thrift::WriteResponse* out);
  // Proposes `command`, stamped with this node's clock, and waits.
  void Write(statemachine::Command command, thrift::WriteResponse* out);
  // For reads: true when the node may read its state now (after ReadIndex
  // unless `stale`); otherwise fills `result`.
  bool ReadyToRead(bool stale, thrift::Result* result);
  void SetFailure(Node::Outcome outcome, const std::string& message, thrift::Result* result) const;

  Node* const node_;
  const Options options_;
};

}  // namespace kvraft::core
