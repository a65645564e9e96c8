#pragma once
// Safety properties of Raft (§5.2, §5.3, §5.4, Figure 3) checked over the
// whole simulated cluster as it runs. Each method returns an empty string
// when the property holds, else a description of the violation.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "raftlog/raft.h"

namespace kvraft::sim {

class Invariants {
 public:
  // Election Safety: at most one leader per term. Leader Completeness: a
  // new leader's log holds every entry committed so far.
  std::string OnLeader(raft::NodeId id, const raft::Raft& core);
  // Log Matching: two logs with an entry of the same index and term hold
  // the same command there and agree on the term of the entry before it
  // (which, by induction, makes the whole prefixes identical).
  // `prevTerm` is the term of the entry before entries.front() (0: unknown).
  std::string OnEntriesWritten(raft::NodeId id, const std::vector<raft::Entry>& entries,
                               uint64_t prevTerm);
  // State Machine Safety: no two nodes apply different entries at an index,
  // and the state after applying index i is the same everywhere.
  std::string OnApply(raft::NodeId id, const raft::Entry& e, uint64_t stateHashAfter);
  // A snapshot restored at (index, term) must equal the state every node
  // had after applying index.
  std::string OnRestore(raft::NodeId id, uint64_t index, uint64_t term, uint64_t stateHash);

  uint64_t committedCount() const { return applied_.size(); }
  uint64_t maxCommitted() const { return applied_.empty() ? 0 : applied_.rbegin()->first; }
  uint64_t leaderCount() const { return leaders_.size(); }

 private:
  struct Applied {
    uint64_t term;
    uint64_t entryHash;
    uint64_t stateHash;
    raft::NodeId firstBy;
  };
  struct Written {
    uint64_t entryHash;
    uint64_t prevTerm;  // 0 when unknown
    raft::NodeId firstBy;
  };
  std::map<uint64_t, raft::NodeId> leaders_;                   // term -> leader
  std::map<uint64_t, Applied> applied_;                        // index -> first apply
  std::map<std::pair<uint64_t, uint64_t>, Written> written_;   // (index, term) -> entry
};

}  // namespace kvraft::sim
