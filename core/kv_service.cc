#include "core/kv_service.h"

#include <glog/logging.h>

#include <chrono>

#include "statemachine/reply.h"

namespace kvraft::core {
namespace {

using statemachine::Command;
using statemachine::Operation;
using statemachine::ReplyCode;

void Set(thrift::Result* result, thrift::Code::type code, std::string message) {
  result->code = code;
  result->message = std::move(message);
}

thrift::Code::type ToWireCode(ReplyCode code) {
  switch (code) {
    case ReplyCode::kOk: return thrift::Code::OK;
    case ReplyCode::kNotFound: return thrift::Code::NOT_FOUND;
    case ReplyCode::kCasFailed: return thrift::Code::CAS_FAILED;
    case ReplyCode::kSessionExpired: return thrift::Code::SESSION_EXPIRED;
    case ReplyCode::kStaleSequence: return thrift::Code::STALE_SEQUENCE;
    case ReplyCode::kInvalidArgument: return thrift::Code::INVALID_ARGUMENT;
    case ReplyCode::kSkipped: break;  // never the answer to a new proposal
  }
  return thrift::Code::UNAVAILABLE;
}

// Bad input changes nothing and the server keeps serving; the log says what
// was refused, at most every few seconds so that a misbehaving client
// cannot flood it.
void Refuse(thrift::Result* result, thrift::Code::type code, std::string message) {
  LOG_EVERY_T(WARNING, 5) << "refused a client request (" << thrift::to_string(code) << "): " << message;
  Set(result, code, std::move(message));
}

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

Command SessionCommand(Operation op, const thrift::Session& session) {
  Command c;
  c.op = op;
  c.clientId = static_cast<uint64_t>(session.clientId);
  c.sequence = static_cast<uint64_t>(session.sequence);
  c.firstOutstanding = static_cast<uint64_t>(session.firstOutstanding);
  return c;
}

}  // namespace

bool KvServiceHandler::CheckKey(const std::string& key, thrift::Result* result) const {
  if (key.empty()) {
    Refuse(result, thrift::Code::INVALID_ARGUMENT, "the key is empty; keys are 1 or more bytes");
    return false;
  }
  if (key.size() > options_.maxKeyBytes) {
    Refuse(result, thrift::Code::TOO_LARGE,
        "the key is " + std::to_string(key.size()) + " bytes; this cluster's limit is " +
            std::to_string(options_.maxKeyBytes) + " (--max_key_bytes)");
    return false;
  }
  return true;
}

bool KvServiceHandler::CheckValue(const std::string& value, const char* what, thrift::Result* result) const {
  if (value.size() > options_.maxValueBytes) {
    Refuse(result, thrift::Code::TOO_LARGE,
        std::string("the ") + what + " is " + std::to_string(value.size()) +
            " bytes; this cluster's limit is " + std::to_string(options_.maxValueBytes) +
            " (--max_value_bytes)");
    return false;
  }
  return true;
}

bool KvServiceHandler::CheckSession(const thrift::Session& session, thrift::Result* result) const {
  if (session.clientId <= 0 || session.sequence <= 0 || session.firstOutstanding <= 0 ||
      session.firstOutstanding > session.sequence) {
    Refuse(result, thrift::Code::INVALID_ARGUMENT,
        "a write needs a session: clientId from RegisterClient, sequence >= 1, and "
        "1 <= firstOutstanding <= sequence");
    return false;
  }
  return true;
}

void KvServiceHandler::SetFailure(Node::Outcome outcome, const std::string& message,
                                  thrift::Result* result) const {
  switch (outcome) {
    case Node::Outcome::kDone: Set(result, thrift::Code::OK, ""); return;
    case Node::Outcome::kNotLeader: {
      Set(result, thrift::Code::NOT_LEADER, message);
      const raft::NodeId leader = node_->leaderHint();
      if (leader != node_->cluster().self) {
        result->leaderId = static_cast<int64_t>(leader);
        result->leaderAddress = node_->cluster().ClientAddressOf(leader);
      }
      return;
    }
    case Node::Outcome::kTimeout: Set(result, thrift::Code::TIMEOUT, message); return;
    case Node::Outcome::kUnavailable: Set(result, thrift::Code::UNAVAILABLE, message); return;
  }
}

void KvServiceHandler::Write(Command command, thrift::WriteResponse* out) {
  command.leaderTimeMs = NowMs();
  const auto deadline = Clock::now() + options_.requestTimeout;
  Finish(node_->Propose(statemachine::EncodeCommand(command), deadline), out);
}

void KvServiceHandler::Finish(const Node::ProposeResult& r, thrift::WriteResponse* out) const {
  if (r.outcome != Node::Outcome::kDone) {
    SetFailure(r.outcome, r.message, &out->result);
    out->result.notInLog = !r.inLog;
    return;
  }
  Set(&out->result, ToWireCode(r.reply.code), r.reply.message);
  if (r.reply.code == ReplyCode::kCasFailed && r.reply.value) out->__set_current(*r.reply.value);
}

bool KvServiceHandler::ReadyToRead(bool stale, thrift::Result* result) {
  if (stale) return true;
  Node::ReadResult r = node_->WaitReadable(Clock::now() + options_.requestTimeout);
  if (r.outcome == Node::Outcome::kDone) return true;
  SetFailure(r.outcome, r.message, result);
  return false;
}

void KvServiceHandler::RegisterClient(thrift::RegisterClientResponse& out) {
  Command c;
  c.op = Operation::kRegisterClient;
  c.leaderTimeMs = NowMs();
  const Node::ProposeResult r =
      node_->Propose(statemachine::EncodeCommand(c), Clock::now() + options_.requestTimeout);
  if (r.outcome != Node::Outcome::kDone) {
    SetFailure(r.outcome, r.message, &out.result);
    out.result.notInLog = !r.inLog;
    return;
  }
  Set(&out.result, ToWireCode(r.reply.code), r.reply.message);
  out.clientId = static_cast<int64_t>(r.reply.clientId);
}

void KvServiceHandler::Get(thrift::GetResponse& out, const thrift::GetRequest& request) {
  if (!CheckKey(request.key, &out.result) || !ReadyToRead(request.stale, &out.result)) return;
  ReadValue(request.key, &out);
}

void KvServiceHandler::ReadValue(const std::string& key, thrift::GetResponse* out) const {
  statemachine::Reply reply;
  kvraft::Status s = node_->kv().Get(key, &reply);
  if (!s.ok()) {
    LOG(ERROR) << "read failed: " << s.ToString();
    return Set(&out->result, thrift::Code::UNAVAILABLE, "this node cannot read its state: " + s.message());
  }
  Set(&out->result, ToWireCode(reply.code), reply.message);
  if (reply.code == ReplyCode::kOk && reply.value) out->__set_value(*reply.value);
}

void KvServiceHandler::Put(thrift::WriteResponse& out, const thrift::PutRequest& request) {
  Command c;
  if (ValueCommand(Operation::kPut, request.session, request.key, request.value, &c, &out.result)) {
    Write(c, &out);
  }
}

void KvServiceHandler::Append(thrift::WriteResponse& out, const thrift::AppendRequest& request) {
  Command c;
  if (ValueCommand(Operation::kAppend, request.session, request.key, request.value, &c,
                   &out.result)) {
    Write(c, &out);
  }
}

void KvServiceHandler::Delete(thrift::WriteResponse& out, const thrift::DeleteRequest& request) {
  Command c;
  if (DeleteCommand(request, &c, &out.result)) Write(c, &out);
}

void KvServiceHandler::CompareAndSwap(thrift::WriteResponse& out,
                                      const thrift::CompareAndSwapRequest& request) {
  Command c;
  if (CasCommand(request, &c, &out.result)) Write(c, &out);
}

bool KvServiceHandler::ValueCommand(Operation op, const thrift::Session& session,
                                    const std::string& key, const std::string& value,
                                    Command* c, thrift::Result* refused) const {
  if (!CheckSession(session, refused) || !CheckKey(key, refused) ||
      !CheckValue(value, "value", refused)) {
    return false;
  }
  *c = SessionCommand(op, session);
  c->key = key;
  c->value = value;
  return true;
}

bool KvServiceHandler::DeleteCommand(const thrift::DeleteRequest& request, Command* c,
                                     thrift::Result* refused) const {
  if (!CheckSession(request.session, refused) || !CheckKey(request.key, refused)) return false;
  *c = SessionCommand(Operation::kDelete, request.session);
  c->key = request.key;
  return true;
}

bool KvServiceHandler::CasCommand(const thrift::CompareAndSwapRequest& request, Command* c,
                                  thrift::Result* refused) const {
  if (!CheckSession(request.session, refused) || !CheckKey(request.key, refused) ||
      !CheckValue(request.value, "value", refused) ||
      (request.__isset.expected && !CheckValue(request.expected, "expected value", refused))) {
    return false;
  }
  *c = SessionCommand(Operation::kCompareAndSwap, request.session);
  c->key = request.key;
  c->value = request.value;
  if (request.__isset.expected) c->expected = std::string_view(request.expected);
  return true;
}

bool KvServiceHandler::BatchCommand(const thrift::BatchOp& op, Command* c,
                                    thrift::Result* refused) const {
  if (op.__isset.put) {
    return ValueCommand(Operation::kPut, op.put.session, op.put.key, op.put.value, c, refused);
  }
  if (op.__isset.append) {
    return ValueCommand(Operation::kAppend, op.append.session, op.append.key, op.append.value, c,
                        refused);
  }
  if (op.__isset.remove) return DeleteCommand(op.remove, c, refused);
  if (op.__isset.cas) return CasCommand(op.cas, c, refused);
  Refuse(refused, thrift::Code::INVALID_ARGUMENT,
         "a batch op has none of get, put, append, remove or cas set");
  return false;
}

void KvServiceHandler::Batch(thrift::BatchResponse& out, const thrift::BatchRequest& request) {
  if (request.ops.size() > options_.maxBatchOps) {
    return Refuse(&out.result, thrift::Code::TOO_LARGE,
                  "the batch has " + std::to_string(request.ops.size()) +
                      " ops; this node takes at most " + std::to_string(options_.maxBatchOps) +
                      " per batch; nothing was carried out");
  }
  Set(&out.result, thrift::Code::OK, "");
  out.results.resize(request.ops.size());
  std::vector<std::string> commands;
  std::vector<size_t> writeAt;   // the op each command came from
  std::vector<size_t> readAt;    // linearizable reads, served once the node may read
  const uint64_t now = NowMs();
  for (size_t i = 0; i < request.ops.size(); ++i) {
    const thrift::BatchOp& op = request.ops[i];
    thrift::BatchResult& result = out.results[i];
    if (op.__isset.get) {
      result.__isset.getResponse = true;
      if (!CheckKey(op.get.key, &result.getResponse.result)) continue;
      // A stale read needs nothing from the loop: served at once.
      if (op.get.stale) {
        ReadValue(op.get.key, &result.getResponse);
      } else {
        readAt.push_back(i);
      }
      continue;
    }
    result.__isset.writeResponse = true;
    Command c;
    if (!BatchCommand(op, &c, &result.writeResponse.result)) continue;
    c.leaderTimeMs = now;
    commands.push_back(statemachine::EncodeCommand(c));
    writeAt.push_back(i);
  }
  if (commands.empty() && readAt.empty()) return;
  // One confirmation of leadership serves every read of the batch: all of
  // them arrived before it was asked for.
  Node::ReadResult readable;
  std::vector<Node::ProposeResult> proposed = node_->ProposeAll(
      std::move(commands), Clock::now() + options_.requestTimeout, readAt.empty() ? nullptr : &readable);
  for (size_t k = 0; k < writeAt.size(); ++k) Finish(proposed[k], &out.results[writeAt[k]].writeResponse);
  for (size_t i : readAt) {
    thrift::GetResponse& get = out.results[i].getResponse;
    if (readable.outcome == Node::Outcome::kDone) {
      ReadValue(request.ops[i].get.key, &get);
    } else {
      SetFailure(readable.outcome, readable.message, &get.result);
    }
  }
}

void KvServiceHandler::Range(thrift::RangeResponse& out, const thrift::RangeRequest& request) {
  // One byte over the key limit is allowed: the way to continue a range
  // after its last key is to start from that key plus a 0 byte.
  const size_t maxBound = options_.maxKeyBytes + 1;
  if (request.startKey.size() > maxBound || request.endKey.size() > maxBound) {
    return Refuse(&out.result, thrift::Code::TOO_LARGE,
               "a range bound is over this cluster's key limit of " +
                   std::to_string(options_.maxKeyBytes) + " bytes (--max_key_bytes)");
  }
  if (request.limit < 0) {
    return Refuse(&out.result, thrift::Code::INVALID_ARGUMENT, "limit is negative; use 0 for the node's maximum");
  }
  if (!ReadyToRead(request.stale, &out.result)) return;
  statemachine::Reply reply;
  kvraft::Status s = node_->kv().Range(request.startKey, request.endKey, static_cast<uint64_t>(request.limit), &reply);
  if (!s.ok()) {
    LOG(ERROR) << "range read failed: " << s.ToString();
    return Set(&out.result, thrift::Code::UNAVAILABLE, "this node cannot read its state: " + s.message());
  }
  Set(&out.result, ToWireCode(reply.code), reply.message);
  out.items.reserve(reply.range.size());
  for (statemachine::KeyValue& kv : reply.range) {
    thrift::KeyValue& item = out.items.emplace_back();
    item.key = std::move(kv.key);
    item.value = std::move(kv.value);
  }
  out.more = reply.rangeMore;
}

void KvServiceHandler::Status(thrift::NodeStatus& out) {
  const Node::StatusInfo info = node_->status();
  const ClusterConfig& cluster = node_->cluster();
  Set(&out.result, thrift::Code::OK, "");
  out.nodeId = static_cast<int64_t>(cluster.self);
  out.clusterId = cluster.clusterId;
  out.role = raft::RoleName(info.role);
  out.term = static_cast<int64_t>(info.term);
  out.leaderId = static_cast<int64_t>(info.leader);
  out.leaderAddress = cluster.ClientAddressOf(info.leader);
  out.commitIndex = static_cast<int64_t>(info.commitIndex);
  out.appliedIndex = static_cast<int64_t>(info.appliedIndex);
  out.lastLogIndex = static_cast<int64_t>(info.lastLogIndex);
  out.snapshotIndex = static_cast<int64_t>(info.snapshotIndex);
  for (raft::NodeId v : info.voters) out.voters.push_back(static_cast<int64_t>(v));
  for (const Node::PeerInfo& p : info.peers) {
    thrift::PeerProgress& w = out.peers.emplace_back();
    w.nodeId = static_cast<int64_t>(p.id);
    w.matchIndex = static_cast<int64_t>(p.matchIndex);
    w.nextIndex = static_cast<int64_t>(p.nextIndex);
    w.state = p.state;
  }
}

void KvServiceHandler::SnapshotNow(thrift::AdminResponse& out) {
  uint64_t index = 0;
  kvraft::Status s = node_->SnapshotNow(Clock::now() + options_.requestTimeout, &index);
  if (!s.ok()) {
    LOG(WARNING) << "snapshot-now failed: " << s.ToString();
    return Set(&out.result, thrift::Code::UNAVAILABLE, "the snapshot failed: " + s.ToString());
  }
  Set(&out.result, thrift::Code::OK, "");
  out.snapshotIndex = static_cast<int64_t>(index);
  out.detail = "node " + std::to_string(node_->cluster().self) + " has a snapshot through index " +
               std::to_string(index) + " and its log is compacted through it";
  LOG(INFO) << out.detail << " (snapshot-now)";
}

void KvServiceHandler::Compact(thrift::AdminResponse& out) {
  kvraft::Status s = node_->CompactStorage();
  if (!s.ok()) {
    LOG(WARNING) << "compact failed: " << s.ToString();
    return Set(&out.result, thrift::Code::UNAVAILABLE, "the compaction failed: " + s.ToString());
  }
  Set(&out.result, thrift::Code::OK, "");
  out.detail = "node " + std::to_string(node_->cluster().self) +
               " compacted its raft log store and kv instance";
}

}  // namespace kvraft::core
