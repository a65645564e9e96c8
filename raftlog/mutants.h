#pragma once
// Planted bugs that prove the simulator has teeth. They exist only in the
// separately compiled mutant build (KVRAFT_MUTANTS); in every other build
// KVRAFT_MUTANT(x) is the constant false and the code behind it is removed.
#include <string>

namespace kvraft::raft::mutants {

enum class Mutant {
  kNone,
  kHeartbeatSkipsLogCheck,     // an AppendEntries without entries skips the prevLog check
  kTruncateOnStaleAppend,      // truncate after prevLogIndex even without a conflict
  kClearVoteOnAppend,          // forget votedFor when an AppendEntries of the same term arrives
  kCommitPreviousTermByCount,  // commit entries of older terms by counting replicas (Figure 8)
  kReplyBeforePersist,         // send votes and acks before their state is durable
  kNoPrevoteTermCheck,         // a candidate counts pre-vote grants as votes of its real election
};

// Parses a --mutant name; false if unknown.
bool Parse(const std::string& name, Mutant* out);
const char* AllNames();

#ifdef KVRAFT_MUTANTS
void Set(Mutant m);
Mutant Current();
#define KVRAFT_MUTANT(name) \
  (::kvraft::raft::mutants::Current() == ::kvraft::raft::mutants::Mutant::name)
#else
#define KVRAFT_MUTANT(name) false
#endif

}  // namespace kvraft::raft::mutants
