#pragma once
// KvServiceHandler: the client-facing Thrift service of a node
// (thrift/kv.thrift). It checks each request against the node's limits,
// turns writes into commands for the log (statemachine/command.h) and
// waits for them through Node::Propose (a Batch's together through
// Node::ProposeAll), serves linearizable reads after
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
    // Most ops in one Batch request: well above what the client library
    // puts in one (KvClient::Options::maxBatchOps).
    size_t maxBatchOps = 1024;
  };
  KvServiceHandler(Node* node, const Options& options) : node_(node), options_(options) {}

  void RegisterClient(thrift::RegisterClientResponse& out) override;
  void Get(thrift::GetResponse& out, const thrift::GetRequest& request) override;
  void Put(thrift::WriteResponse& out, const thrift::PutRequest& request) override;
  void Append(thrift::WriteResponse& out, const thrift::AppendRequest& request) override;
  void Delete(thrift::WriteResponse& out, const thrift::DeleteRequest& request) override;
  void CompareAndSwap(thrift::WriteResponse& out, const thrift::CompareAndSwapRequest& request) override;
  void Range(thrift::RangeResponse& out, const thrift::RangeRequest& request) override;
  void Batch(thrift::BatchResponse& out, const thrift::BatchRequest& request) override;
  void Status(thrift::NodeStatus& out) override;
  void SnapshotNow(thrift::AdminResponse& out) override;
  void Compact(thrift::AdminResponse& out) override;

 private:
  // Fills `result` and returns false if `key` (and `value`, if given) break
  // the limits.
  bool CheckKey(const std::string& key, thrift::Result* result) const;
  bool CheckValue(const std::string& value, const char* what, thrift::Result* result) const;
  bool CheckSession(const thrift::Session& session, thrift::Result* result) const;
  // Each write checks its request and builds the command (pointing into the
  // request); false, with `refused` filled in, if the request is refused.
  bool ValueCommand(statemachine::Operation op, const thrift::Session& session,
                    const std::string& key, const std::string& value, statemachine::Command* c,
                    thrift::Result* refused) const;
  bool DeleteCommand(const thrift::DeleteRequest& request, statemachine::Command* c,
                     thrift::Result* refused) const;
  bool CasCommand(const thrift::CompareAndSwapRequest& request, statemachine::Command* c,
                  thrift::Result* refused) const;
  bool BatchCommand(const thrift::BatchOp& op, statemachine::Command* c,
                    thrift::Result* refused) const;
  // Proposes `command`, stamped with this node's clock, and waits.
  void Write(statemachine::Command command, thrift::WriteResponse* out);
  // A write's answer from what its proposal came to.
  void Finish(const Node::ProposeResult& r, thrift::WriteResponse* out) const;
  // Reads `key` from the applied state (the caller has made sure it may).
  void ReadValue(const std::string& key, thrift::GetResponse* out) const;
  // For reads: true when the node may read its state now (after ReadIndex
  // unless `stale`); otherwise fills `result`.
  bool ReadyToRead(bool stale, thrift::Result* result);
  void SetFailure(Node::Outcome outcome, const std::string& message, thrift::Result* result) const;

  Node* const node_;
  const Options options_;
};

}  // namespace kvraft::core
