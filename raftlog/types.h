#pragma once
// Plain data exchanged between the Raft core and the node that drives it.
// Names follow Figure 2 of the Raft paper.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kvraft::raft {

using NodeId = uint64_t;
constexpr NodeId kNoNode = 0;  // node ids start at 1

enum class EntryType : uint8_t {
  kNormal = 0,  // an application command
  kNoop = 1,    // appended by a new leader to commit its term (§5.4.2, §8)
};

struct Entry {
  uint64_t index = 0;
  uint64_t term = 0;
  EntryType type = EntryType::kNormal;
  std::string data;

  bool operator==(const Entry&) const = default;
};

// Figure 2 "persistent state on all servers", plus commitIndex so that a
// restarted node can apply what it knows is committed without a leader.
struct HardState {
  uint64_t currentTerm = 0;
  NodeId votedFor = kNoNode;
  uint64_t commitIndex = 0;

  bool operator==(const HardState&) const = default;
};

// What a snapshot replaces: every entry up to lastIncludedIndex (§7).
struct SnapshotMeta {
  uint64_t lastIncludedIndex = 0;
  uint64_t lastIncludedTerm = 0;
  std::vector<NodeId> voters;  // the configuration as of lastIncludedIndex

  bool operator==(const SnapshotMeta&) const = default;
};

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
const char* RoleName(Role r);

enum class MessageType : uint8_t {
  kPreVote,                  // §9.6: "would you vote for me?" without a term change
  kPreVoteResponse,
  kRequestVote,
  kRequestVoteResponse,
  kAppendEntries,            // also the heartbeat: every consistency check applies
  kAppendEntriesResponse,
  kInstallSnapshot,          // one chunk of a snapshot (Figure 13)
  kInstallSnapshotResponse,
  kTimeoutNow,               // leadership transfer (§3.10)
};
const char* MessageTypeName(MessageType t);

// One flat message type for every RPC; fields not used by a type stay zero.
struct Message {
  MessageType type = MessageType::kAppendEntries;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  uint64_t term = 0;

  // PreVote / RequestVote: the candidate's last log entry.
  uint64_t lastLogIndex = 0;
  uint64_t lastLogTerm = 0;

  // AppendEntries.
  uint64_t prevLogIndex = 0;
  uint64_t prevLogTerm = 0;
  uint64_t leaderCommit = 0;
  std::vector<Entry> entries;

  // Responses. `success` is voteGranted for the vote responses.
  bool success = false;
  uint64_t matchIndex = 0;     // AppendEntries success: last index known to match
  uint64_t rejectIndex = 0;    // AppendEntries failure: the prevLogIndex rejected
  uint64_t conflictTerm = 0;   // failure hint: term at rejectIndex (0: no entry there)
  uint64_t conflictIndex = 0;  // failure hint: first index of conflictTerm, or lastIndex+1

  // ReadIndex rounds (§6.4): a leader stamps every AppendEntries with its
  // latest round; the response echoes it.
  uint64_t readRound = 0;

  // InstallSnapshot (chunked) and its response.
  SnapshotMeta snapshot;
  uint64_t offset = 0;    // request: where `data` goes; response: next offset expected
  std::string data;
  bool done = false;      // request: last chunk; response: snapshot installed or not needed
  uint64_t chunkOffset = 0;  // response: the offset of the chunk it answers

  size_t ByteSize() const;  // approximate payload bytes, for batching limits
};

// A read that may be served once the state machine has applied `index`.
struct ReadState {
  uint64_t requestId = 0;
  uint64_t index = 0;
};

// A piece of an incoming snapshot for the node to stage durably.
struct SnapshotChunk {
  SnapshotMeta meta;
  uint64_t offset = 0;
  std::string data;
  bool done = false;
};

struct SoftState {
  NodeId leader = kNoNode;
  Role role = Role::kFollower;
  bool operator==(const SoftState&) const = default;
};

// One batch of work handed from the core to the node. The node must, in order:
//  1. send `eagerMessages` at any time (they depend on nothing in this batch:
//     the leader's AppendEntries may go out while it writes the same entries,
//     Raft thesis §10.2.1);
//  2. durably write `snapshotChunks`; then install `snapshot` if present
//     (it replaces the whole log); then `hardState` and `entries` (entries
//     replace any stored entries at or after entries.front().index, and
//     may follow a snapshot installed by this same Ready);
//  3. only then send `messages` (votes and acknowledgements promise that
//     state is durable);
//  4. apply `committedEntries` in order, serve `readStates` once applied,
//     fail `droppedReads`;
//  5. call Raft::Advance(ready).
struct Ready {
  std::optional<SoftState> softState;        // changed since the last Ready
  std::optional<HardState> hardState;        // changed since the last Ready
  std::vector<Entry> entries;                // to persist
  std::vector<SnapshotChunk> snapshotChunks; // to stage
  std::optional<SnapshotMeta> snapshot;      // staged snapshot to install now
  std::vector<Message> eagerMessages;
  std::vector<Message> messages;
  std::vector<Entry> committedEntries;
  std::vector<ReadState> readStates;
  std::vector<uint64_t> droppedReads;        // will never be confirmed: retry elsewhere

  bool Empty() const;
};

}  // namespace kvraft::raft
