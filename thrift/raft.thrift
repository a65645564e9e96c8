// The wire between kvraft nodes. Raft traffic is message passing: each peer
// link is one long-lived connection carrying a stream of batches of
// messages, and replies are messages the other way, so one connection can
// pipeline without waiting on a response per AppendEntries.
// Field meanings follow raftlog/types.h (Figure 2 of the Raft paper).
namespace cpp kvraft.thrift
namespace py kvraft_raft

enum EntryType {
  NORMAL = 0,
  NOOP = 1,
}

struct Entry {
  1: i64 index,
  2: i64 term,
  3: EntryType type,
  4: binary data,
}

struct SnapshotMeta {
  1: i64 lastIncludedIndex,
  2: i64 lastIncludedTerm,
  3: list<i64> voters,
}

enum MessageType {
  PRE_VOTE = 0,
  PRE_VOTE_RESPONSE = 1,
  REQUEST_VOTE = 2,
  REQUEST_VOTE_RESPONSE = 3,
  APPEND_ENTRIES = 4,
  APPEND_ENTRIES_RESPONSE = 5,
  INSTALL_SNAPSHOT = 6,
  INSTALL_SNAPSHOT_RESPONSE = 7,
  TIMEOUT_NOW = 8,
}

struct RaftMessage {
  1: MessageType type,
  2: i64 fromNode,
  3: i64 toNode,
  4: i64 term,
  5: i64 lastLogIndex,
  6: i64 lastLogTerm,
  7: i64 prevLogIndex,
  8: i64 prevLogTerm,
  9: i64 leaderCommit,
  10: list<Entry> entries,
  11: bool success,
  12: i64 matchIndex,
  13: i64 rejectIndex,
  14: i64 conflictTerm,
  15: i64 conflictIndex,
  16: i64 readRound,
  17: SnapshotMeta snapshot,
  18: i64 offset,
  19: binary data,
  20: bool done,
  21: i64 chunkOffset,
}

enum HelloCode {
  OK = 0,
  WRONG_CLUSTER = 1,   // the caller belongs to another cluster
  UNKNOWN_NODE = 2,    // the caller's id is not in this node's configuration
  WRONG_NODE = 3,      // the caller meant another node (stale address book)
}

struct HelloResponse {
  1: HelloCode code,
  2: string message,
}

service RaftService {
  // The first call on every peer connection: who is calling whom, in which
  // cluster. Deliver on a connection whose Hello was refused, or that never
  // said Hello, is dropped.
  HelloResponse Hello(1: string clusterId, 2: i64 fromNode, 3: i64 toNode),
  // A batch of messages from one peer; the cluster id is checked again on
  // every batch.
  oneway void Deliver(1: string clusterId, 2: i64 fromNode, 3: list<RaftMessage> messages),
}
