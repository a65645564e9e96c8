#include "core/raft_wire.h"

#include <string>

#include "core/thrift_enum.h"

namespace kvraft::core {
namespace {

// Thrift has no unsigned integers; indexes and terms never reach 2^63.
int64_t W(uint64_t v) { return static_cast<int64_t>(v); }

thrift::SnapshotMeta MetaToWire(const raft::SnapshotMeta& meta) {
  thrift::SnapshotMeta w;
  w.lastIncludedIndex = W(meta.lastIncludedIndex);
  w.lastIncludedTerm = W(meta.lastIncludedTerm);
  w.voters.reserve(meta.voters.size());
  for (raft::NodeId v : meta.voters) w.voters.push_back(W(v));
  return w;
}

// Reads one field of an incoming message; a negative value is refused.
class Reader {
 public:
  uint64_t U(int64_t v, const char* field) {
    if (v < 0 && error_.empty()) error_ = std::string(field) + " is negative (" + std::to_string(v) + ")";
    return static_cast<uint64_t>(v);
  }
  void Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }
  Status status() const {
    return error_.empty() ? Status::Ok() : Status::InvalidArgument("malformed raft message: " + error_);
  }

 private:
  std::string error_;
};

}  // namespace

thrift::RaftMessage ToWire(const raft::Message& m) {
  thrift::RaftMessage w;
  w.type = static_cast<thrift::MessageType::type>(m.type);
  w.fromNode = W(m.from);
  w.toNode = W(m.to);
  w.term = W(m.term);
  w.lastLogIndex = W(m.lastLogIndex);
  w.lastLogTerm = W(m.lastLogTerm);
  w.prevLogIndex = W(m.prevLogIndex);
  w.prevLogTerm = W(m.prevLogTerm);
  w.leaderCommit = W(m.leaderCommit);
  w.entries.reserve(m.entries.size());
  for (const raft::Entry& e : m.entries) {
    thrift::Entry& we = w.entries.emplace_back();
    we.index = W(e.index);
    we.term = W(e.term);
    we.type = static_cast<thrift::EntryType::type>(e.type);
    we.data = e.data;
  }
  w.success = m.success;
  w.matchIndex = W(m.matchIndex);
  w.rejectIndex = W(m.rejectIndex);
  w.conflictTerm = W(m.conflictTerm);
  w.conflictIndex = W(m.conflictIndex);
  w.readRound = W(m.readRound);
  w.snapshot = MetaToWire(m.snapshot);
  w.offset = W(m.offset);
  w.data = m.data;
  w.done = m.done;
  w.chunkOffset = W(m.chunkOffset);
  return w;
}

Status FromWire(thrift::RaftMessage&& w, raft::Message* m) {
  Reader r;
  const int32_t type = RawEnum(w.type);
  if (type < thrift::MessageType::PRE_VOTE || type > thrift::MessageType::TIMEOUT_NOW) {
    r.Fail("unknown message type " + std::to_string(type));
  }
  m->type = static_cast<raft::MessageType>(type);
  m->from = r.U(w.fromNode, "fromNode");
  m->to = r.U(w.toNode, "toNode");
  m->term = r.U(w.term, "term");
  m->lastLogIndex = r.U(w.lastLogIndex, "lastLogIndex");
  m->lastLogTerm = r.U(w.lastLogTerm, "lastLogTerm");
  m->prevLogIndex = r.U(w.prevLogIndex, "prevLogIndex");
  m->prevLogTerm = r.U(w.prevLogTerm, "prevLogTerm");
  m->leaderCommit = r.U(w.leaderCommit, "leaderCommit");
  m->entries.clear();
  m->entries.reserve(w.entries.size());
  for (thrift::Entry& we : w.entries) {
    raft::Entry& e = m->entries.emplace_back();
    e.index = r.U(we.index, "entry index");
    e.term = r.U(we.term, "entry term");
    const int32_t entryType = RawEnum(we.type);
    if (entryType != thrift::EntryType::NORMAL && entryType != thrift::EntryType::NOOP) {
      r.Fail("unknown entry type " + std::to_string(entryType));
    }
    e.type = static_cast<raft::EntryType>(entryType);
    e.data = std::move(we.data);
  }
  m->success = w.success;
  m->matchIndex = r.U(w.matchIndex, "matchIndex");
  m->rejectIndex = r.U(w.rejectIndex, "rejectIndex");
  m->conflictTerm = r.U(w.conflictTerm, "conflictTerm");
  m->conflictIndex = r.U(w.conflictIndex, "conflictIndex");
  m->readRound = r.U(w.readRound, "readRound");
  m->snapshot.lastIncludedIndex = r.U(w.snapshot.lastIncludedIndex, "snapshot lastIncludedIndex");
  m->snapshot.lastIncludedTerm = r.U(w.snapshot.lastIncludedTerm, "snapshot lastIncludedTerm");
  m->snapshot.voters.clear();
  for (int64_t v : w.snapshot.voters) m->snapshot.voters.push_back(r.U(v, "snapshot voter"));
  m->offset = r.U(w.offset, "offset");
  m->data = std::move(w.data);
  m->done = w.done;
  m->chunkOffset = r.U(w.chunkOffset, "chunkOffset");
  return r.status();
}

}  // namespace kvraft::core
