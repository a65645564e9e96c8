#include "raftlog/types.h"

namespace kvraft::raft {

const char* RoleName(Role r) {
  switch (r) {
    case Role::kFollower: return "follower";
    case Role::kPreCandidate: return "pre-candidate";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "?";
}

const char* MessageTypeName(MessageType t) {
  switch (t) {
    case MessageType::kPreVote: return "PreVote";
    case MessageType::kPreVoteResponse: return "PreVoteResp";
    case MessageType::kRequestVote: return "RequestVote";
    case MessageType::kRequestVoteResponse: return "RequestVoteResp";
    case MessageType::kAppendEntries: return "AppendEntries";
    case MessageType::kAppendEntriesResponse: return "AppendEntriesResp";
    case MessageType::kInstallSnapshot: return "InstallSnapshot";
    case MessageType::kInstallSnapshotResponse: return "InstallSnapshotResp";
    case MessageType::kTimeoutNow: return "TimeoutNow";
  }
  return "?";
}

size_t Message::ByteSize() const {
  size_t n = 64 + data.size();
  for (const Entry& e : entries) n += 24 + e.data.size();
  return n;
}

bool Ready::Empty() const {
  return !softState && !hardState && entries.empty() && snapshotChunks.empty() && !snapshot &&
         eagerMessages.empty() && messages.empty() && committedEntries.empty() &&
         readStates.empty() && droppedReads.empty();
}

}  // namespace kvraft::raft
