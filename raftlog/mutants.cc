#include "raftlog/mutants.h"

namespace kvraft::raft::mutants {

namespace {
struct Named {
  const char* name;
  Mutant mutant;
};
constexpr Named kNames[] = {
    {"none", Mutant::kNone},
    {"heartbeat_skips_log_check", Mutant::kHeartbeatSkipsLogCheck},
    {"truncate_on_stale_append", Mutant::kTruncateOnStaleAppend},
    {"clear_vote_on_append", Mutant::kClearVoteOnAppend},
    {"commit_previous_term_by_count", Mutant::kCommitPreviousTermByCount},
    {"reply_before_persist", Mutant::kReplyBeforePersist},
    {"no_prevote_term_check", Mutant::kNoPrevoteTermCheck},
};
#ifdef KVRAFT_MUTANTS
Mutant current = Mutant::kNone;
#endif
}  // namespace

bool Parse(const std::string& name, Mutant* out) {
  for (const Named& n : kNames) {
    if (name == n.name) {
      *out = n.mutant;
      return true;
    }
  }
  return false;
}

const char* AllNames() {
  return "heartbeat_skips_log_check, truncate_on_stale_append, clear_vote_on_append, "
         "commit_previous_term_by_count, reply_before_persist, no_prevote_term_check";
}

#ifdef KVRAFT_MUTANTS
void Set(Mutant m) { current = m; }
Mutant Current() { return current; }
#endif

}  // namespace kvraft::raft::mutants
