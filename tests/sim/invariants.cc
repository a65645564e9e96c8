#include "tests/sim/invariants.h"

#include <sstream>

#include "tests/sim/sim_state_machine.h"

namespace kvraft::sim {

std::string Invariants::OnLeader(raft::NodeId id, const raft::Raft& core) {
  const uint64_t term = core.currentTerm();
  auto [it, inserted] = leaders_.emplace(term, id);
  if (!inserted && it->second != id) {
    std::ostringstream os;
    os << "election safety: nodes " << it->second << " and " << id << " are both leader of term "
       << term;
    return os.str();
  }
  if (!inserted) return "";
  // First time we see this leader: it must hold every committed entry.
  const raft::RaftLog& log = core.log();
  const uint64_t first = log.FirstIndex();
  for (auto a = applied_.lower_bound(first); a != applied_.end(); ++a) {
    const auto t = log.Term(a->first);
    if (!t || *t != a->second.term) {
      std::ostringstream os;
      os << "leader completeness: node " << id << " became leader of term " << term
         << " without committed entry " << a->first << " (term " << a->second.term
         << "); it has " << (t ? "term " + std::to_string(*t) : std::string("no entry")) << " there";
      return os.str();
    }
  }
  return "";
}

std::string Invariants::OnEntriesWritten(raft::NodeId id, const std::vector<raft::Entry>& entries,
                                         uint64_t prevTerm) {
  for (const raft::Entry& e : entries) {
    const Written w{EntryHash(e), prevTerm, id};
    auto [it, inserted] = written_.emplace(std::make_pair(e.index, e.term), w);
    if (!inserted) {
      const Written& old = it->second;
      if (old.entryHash != w.entryHash ||
          (old.prevTerm != 0 && w.prevTerm != 0 && old.prevTerm != w.prevTerm)) {
        std::ostringstream os;
        os << "log matching: entry " << e.index << " of term " << e.term << " differs between node "
           << old.firstBy << " and node " << id
           << (old.entryHash != w.entryHash ? " (command)" : " (term of the entry before it)");
        return os.str();
      }
    }
    prevTerm = e.term;
  }
  return "";
}

std::string Invariants::OnApply(raft::NodeId id, const raft::Entry& e, uint64_t stateHashAfter) {
  const Applied a{e.term, EntryHash(e), stateHashAfter, id};
  auto [it, inserted] = applied_.emplace(e.index, a);
  if (inserted) return "";
  const Applied& old = it->second;
  if (old.term != a.term || old.entryHash != a.entryHash) {
    std::ostringstream os;
    os << "state machine safety: node " << id << " applied entry " << e.index << " of term "
       << e.term << " but node " << old.firstBy << " applied an entry of term " << old.term
       << (old.term == a.term ? " with another command" : "") << " there";
    return os.str();
  }
  if (old.stateHash != a.stateHash) {
    std::ostringstream os;
    os << "state machine safety: node " << id << " has a different state after applying " << e.index
       << " than node " << old.firstBy;
    return os.str();
  }
  return "";
}

std::string Invariants::OnRestore(raft::NodeId id, uint64_t index, uint64_t term,
                                  uint64_t stateHash) {
  auto it = applied_.find(index);
  if (it == applied_.end()) return "";  // nobody applied it while we watched
  if (it->second.term != term || it->second.stateHash != stateHash) {
    std::ostringstream os;
    os << "snapshot: node " << id << " restored a snapshot at " << index
       << " whose state differs from what node " << it->second.firstBy << " applied there";
    return os.str();
  }
  return "";
}

}  // namespace kvraft::sim
