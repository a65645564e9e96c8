#include "raftlog/raft.h"

#include <glog/logging.h>

#include <algorithm>

#include "raftlog/mutants.h"

namespace kvraft::raft {

namespace {

// Messages that promise nothing about this node's durable state may leave
// before the Ready that follows them is written: a leader's AppendEntries
// while it writes the same entries (thesis §10.2.1), snapshot chunks, and
// pre-votes (which change no term or vote).
bool MaySendBeforePersist(MessageType t) {
  return t == MessageType::kAppendEntries || t == MessageType::kInstallSnapshot ||
         t == MessageType::kPreVote || t == MessageType::kTimeoutNow;
}

}  // namespace

Raft::Raft(const Config& config, const Storage* storage, const SnapshotSource* snapshots)
    : config_(config),
      storage_(storage),
      snapshots_(snapshots),
      log_(storage),
      rng_(config.randomSeed) {
  CHECK_NE(config_.id, kNoNode) << "node ids start at 1";
  CHECK_GT(config_.heartbeatTick, 0);
  CHECK_GT(config_.electionTick, config_.heartbeatTick);
  voters_ = storage_->Snapshot().voters;
  if (voters_.empty()) voters_ = config_.voters;
  std::sort(voters_.begin(), voters_.end());
  CHECK(!voters_.empty()) << "no configuration: pass Config::voters for a new cluster";
  const HardState hs = storage_->InitialHardState();
  currentTerm_ = hs.currentTerm;
  votedFor_ = hs.votedFor;
  handedHardState_ = CurrentHardState();
  BecomeFollower(currentTerm_, kNoNode);
  handedSoftState_ = CurrentSoftState();
}

// ---------------------------------------------------------------- roles

void Raft::ResetForTerm(uint64_t term) {
  if (term != currentTerm_) {
    currentTerm_ = term;
    votedFor_ = kNoNode;  // a vote is good for one term only
  }
  leader_ = kNoNode;
  electionElapsed_ = 0;
  heartbeatElapsed_ = 0;
  randomizedElectionTimeout_ =
      config_.electionTick + static_cast<int>(rng_() % static_cast<uint64_t>(config_.electionTick));
  votes_.clear();
  progress_.clear();
  needBroadcast_ = false;
  DropReads();
}

void Raft::BecomeFollower(uint64_t term, NodeId leader) {
  ResetForTerm(term);
  role_ = Role::kFollower;
  leader_ = leader;
  VLOG(1) << "node " << config_.id << " became follower at term " << currentTerm_
          << " (leader " << leader << ")";
}

void Raft::BecomePreCandidate() {
  // §9.6: no term change and no vote, so a failed pre-vote disturbs nobody.
  role_ = Role::kPreCandidate;
  leader_ = kNoNode;
  votes_.clear();
  electionElapsed_ = 0;
  VLOG(1) << "node " << config_.id << " became pre-candidate at term " << currentTerm_;
}

void Raft::BecomeCandidate() {
  ResetForTerm(currentTerm_ + 1);
  role_ = Role::kCandidate;
  votedFor_ = config_.id;
  VLOG(1) << "node " << config_.id << " became candidate at term " << currentTerm_;
}

void Raft::BecomeLeader() {
  CHECK(role_ == Role::kCandidate);
  role_ = Role::kLeader;
  leader_ = config_.id;
  heartbeatElapsed_ = 0;
  electionElapsed_ = 0;
  const uint64_t last = log_.LastIndex();
  for (NodeId peer : voters_) {
    if (peer == config_.id) continue;
    Progress pr;
    pr.BecomeProbe(last + 1);
    pr.recentActive = true;  // give every follower one check-quorum period
    progress_[peer] = pr;
  }
  // §5.4.2 / §8: commit an entry of our own term so that earlier entries and
  // reads (§6.4) can be decided.
  Entry noop;
  noop.type = EntryType::kNoop;
  AppendOwn({noop});
  VLOG(1) << "node " << config_.id << " became leader at term " << currentTerm_;
}

void Raft::Campaign(bool preVote) {
  if (preVote) {
    BecomePreCandidate();
  } else {
    BecomeCandidate();
  }
  votes_[config_.id] = true;
  if (votes_.size() >= Quorum()) {  // a cluster of one
    if (preVote) return Campaign(false);
    return BecomeLeader();
  }
  for (NodeId peer : voters_) {
    if (peer == config_.id) continue;
    Message m;
    m.type = preVote ? MessageType::kPreVote : MessageType::kRequestVote;
    m.to = peer;
    // A pre-vote asks about the term we would campaign in, without taking it.
    m.term = preVote ? currentTerm_ + 1 : currentTerm_;
    m.lastLogIndex = log_.LastIndex();
    m.lastLogTerm = log_.LastTerm();
    Send(std::move(m));
  }
}

// ---------------------------------------------------------------- ticks

void Raft::Tick() {
  if (role_ == Role::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::TickElection() {
  ++electionElapsed_;
  if (!IsVoter(config_.id) || electionElapsed_ < randomizedElectionTimeout_) return;
  electionElapsed_ = 0;
  Campaign(config_.preVote);
}

void Raft::TickHeartbeat() {
  ++heartbeatElapsed_;
  ++electionElapsed_;
  if (electionElapsed_ >= config_.electionTick) {
    electionElapsed_ = 0;
    if (config_.checkQuorum) {
      // §6.2: a leader that has not heard from a quorum in an election
      // timeout steps down, so clients do not wait on a deposed leader.
      size_t active = 1;
      for (auto& [peer, pr] : progress_) {
        if (pr.recentActive) ++active;
        pr.recentActive = false;
      }
      if (active < Quorum()) {
        VLOG(1) << "node " << config_.id << " steps down: no quorum heard at term " << currentTerm_;
        BecomeFollower(currentTerm_, kNoNode);
        return;
      }
    }
  }
  if (heartbeatElapsed_ < config_.heartbeatTick) return;
  heartbeatElapsed_ = 0;
  for (auto& [peer, pr] : progress_) {
    // Retransmit: messages already outstanding at the previous heartbeat,
    // with nothing acknowledged since, were lost (or their replies were).
    const bool stalled = pr.inflightAtHeartbeat && !pr.progressSinceHeartbeat;
    if (stalled && pr.state == ProgressState::kReplicate) pr.BecomeProbe(pr.matchIndex + 1);
    if (stalled && pr.state == ProgressState::kSnapshot) SendSnapshotChunk(peer);
    pr.progressSinceHeartbeat = false;
    pr.inflightAtHeartbeat = pr.state == ProgressState::kSnapshot ||
                             (pr.state == ProgressState::kReplicate && !pr.inflight.empty());
    SendHeartbeat(peer);
  }
}

// ---------------------------------------------------------------- step

Status Raft::Step(const Message& m) {
  if (m.to != config_.id) return Status::InvalidArgument("message for another node");
  if (!StepTermRules(m)) return Status::Ok();
  if (m.type == MessageType::kPreVote || m.type == MessageType::kRequestVote) {
    HandleVoteRequest(m);
    return Status::Ok();
  }
  switch (role_) {
    case Role::kFollower: StepFollower(m); break;
    case Role::kPreCandidate:
    case Role::kCandidate: StepCandidate(m); break;
    case Role::kLeader: StepLeader(m); break;
  }
  return Status::Ok();
}

bool Raft::StepTermRules(const Message& m) {
  if (m.term > currentTerm_) {
    if (m.type == MessageType::kPreVote || m.type == MessageType::kRequestVote) {
      // §4.2.3: while a follower hears from a leader it disregards elections,
      // so a node that rejoins with a higher term cannot depose it.
      const bool inLease =
          config_.checkQuorum && leader_ != kNoNode && electionElapsed_ < config_.electionTick;
      if (inLease) return false;
    }
    if (m.type == MessageType::kPreVote) return true;  // a pre-vote changes no term
    if (m.type == MessageType::kPreVoteResponse && m.success) return true;  // carries the future term
    const bool fromLeader =
        m.type == MessageType::kAppendEntries || m.type == MessageType::kInstallSnapshot;
    BecomeFollower(m.term, fromLeader ? m.from : kNoNode);
    return true;
  }
  if (m.term < currentTerm_) {
    if (m.type == MessageType::kAppendEntries || m.type == MessageType::kInstallSnapshot) {
      // Tell a stale leader about the newer term so that it steps down.
      Message r;
      r.type = m.type == MessageType::kAppendEntries ? MessageType::kAppendEntriesResponse
                                                     : MessageType::kInstallSnapshotResponse;
      r.to = m.from;
      r.rejectIndex = m.prevLogIndex;
      r.conflictIndex = log_.LastIndex() + 1;
      Send(std::move(r));
    } else if (m.type == MessageType::kPreVote || m.type == MessageType::kRequestVote) {
      Message r;
      r.type = m.type == MessageType::kPreVote ? MessageType::kPreVoteResponse
                                               : MessageType::kRequestVoteResponse;
      r.to = m.from;
      Send(std::move(r));
    }
    return false;  // everything else from an older term is ignored (Figure 2)
  }
  return true;
}

void Raft::HandleVoteRequest(const Message& m) {
  const bool preVote = m.type == MessageType::kPreVote;
  // Figure 2 RequestVote: grant if votedFor is null or the candidate, and the
  // candidate's log is at least as up-to-date as ours (§5.4.1). A pre-vote
  // for a later term is granted on the log alone: it binds nobody.
  const bool canVote = votedFor_ == m.from || votedFor_ == kNoNode ||
                       (preVote && m.term > currentTerm_);
  const bool grant = canVote && log_.IsUpToDate(m.lastLogIndex, m.lastLogTerm);
  Message r;
  r.type = preVote ? MessageType::kPreVoteResponse : MessageType::kRequestVoteResponse;
  r.to = m.from;
  r.success = grant;
  r.term = grant && preVote ? m.term : currentTerm_;
  if (grant && !preVote) {
    votedFor_ = m.from;
    electionElapsed_ = 0;
  }
  VLOG(2) << "node " << config_.id << (grant ? " grants " : " rejects ")
          << MessageTypeName(m.type) << " from " << m.from << " for term " << m.term;
  Send(std::move(r));
}

void Raft::StepFollower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendEntries:
      leader_ = m.from;
      electionElapsed_ = 0;
      if (KVRAFT_MUTANT(kClearVoteOnAppend)) votedFor_ = kNoNode;
      HandleAppendEntries(m);
      break;
    case MessageType::kInstallSnapshot:
      leader_ = m.from;
      electionElapsed_ = 0;
      HandleInstallSnapshot(m);
      break;
    case MessageType::kTimeoutNow:
      if (IsVoter(config_.id)) Campaign(false);
      break;
    default:
      break;  // stale responses
  }
}

void Raft::StepCandidate(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendEntries:
    case MessageType::kInstallSnapshot:
      // A leader of our term exists (§5.2): return to follower.
      BecomeFollower(currentTerm_, m.from);
      StepFollower(m);
      return;
    case MessageType::kPreVoteResponse:
    case MessageType::kRequestVoteResponse: {
      const MessageType expected = role_ == Role::kPreCandidate ? MessageType::kPreVoteResponse
                                                                : MessageType::kRequestVoteResponse;
      if (m.type != expected && !KVRAFT_MUTANT(kNoPrevoteTermCheck)) return;
      votes_.emplace(m.from, m.success);
      size_t granted = 0;
      for (const auto& [peer, g] : votes_) granted += g ? 1 : 0;
      const size_t rejected = votes_.size() - granted;
      if (granted >= Quorum()) {
        if (role_ == Role::kPreCandidate) {
          Campaign(false);
        } else {
          BecomeLeader();
        }
      } else if (rejected >= Quorum()) {
        BecomeFollower(currentTerm_, kNoNode);
      }
      return;
    }
    default:
      return;
  }
}

void Raft::StepLeader(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendEntriesResponse: HandleAppendResponse(m); break;
    case MessageType::kInstallSnapshotResponse: HandleSnapshotResponse(m); break;
    case MessageType::kAppendEntries:
    case MessageType::kInstallSnapshot:
      // Two leaders in one term would break Election Safety (§5.2).
      LOG(ERROR) << "node " << config_.id << " (leader, term " << currentTerm_
                 << ") got " << MessageTypeName(m.type) << " from " << m.from
                 << " of the same term; ignored";
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------- follower

void Raft::HandleAppendEntries(const Message& m) {
  Message r;
  r.type = MessageType::kAppendEntriesResponse;
  r.to = m.from;
  r.readRound = m.readRound;

  // Entries at or below our commitIndex are committed, hence identical to the
  // leader's (Leader Completeness): skip them and check from commitIndex on.
  uint64_t prevIndex = m.prevLogIndex;
  uint64_t prevTerm = m.prevLogTerm;
  std::vector<Entry> entries;
  const uint64_t committed = log_.committed();
  if (prevIndex < committed) {
    for (const Entry& e : m.entries) {
      if (e.index > committed) entries.push_back(e);
    }
    prevIndex = committed;
    prevTerm = log_.TermOrZero(committed);
  } else {
    entries = m.entries;
  }
  if (entries.empty() && m.prevLogIndex + m.entries.size() < committed) {
    // Everything in the message is already committed here.
    r.success = true;
    r.matchIndex = m.prevLogIndex + m.entries.size();
    Send(std::move(r));
    return;
  }

  // Figure 2 step 2: reply false unless our log has prevLogIndex at prevLogTerm.
  const bool skipCheck = KVRAFT_MUTANT(kHeartbeatSkipsLogCheck) && m.entries.empty();
  if (!skipCheck && !log_.MatchTerm(prevIndex, prevTerm)) {
    r.success = false;
    r.rejectIndex = m.prevLogIndex;
    if (prevIndex > log_.LastIndex()) {
      r.conflictTerm = 0;
      r.conflictIndex = log_.LastIndex() + 1;
    } else {
      r.conflictTerm = log_.TermOrZero(prevIndex);
      r.conflictIndex = log_.FirstIndexOfTermAt(prevIndex);
    }
    Send(std::move(r));
    return;
  }

  // Steps 3-4: truncate only at the first real conflict; a stale or
  // reordered message whose entries are all present changes nothing.
  if (KVRAFT_MUTANT(kTruncateOnStaleAppend) && !entries.empty() &&
      entries.back().index < log_.LastIndex() && entries.front().index > committed) {
    log_.Append(entries);
  } else {
    const uint64_t conflict = log_.FindConflict(entries);
    if (conflict != 0) {
      std::vector<Entry> suffix(entries.begin() + (conflict - entries.front().index), entries.end());
      log_.Append(suffix);
    }
  }
  // Step 5: commitIndex = min(leaderCommit, index of last new entry).
  uint64_t lastNew = prevIndex + entries.size();
  if (skipCheck) lastNew = std::min(lastNew, log_.LastIndex());
  log_.CommitTo(std::min(m.leaderCommit, lastNew));
  r.success = true;
  r.matchIndex = lastNew;
  Send(std::move(r));
}

void Raft::HandleInstallSnapshot(const Message& m) {
  const SnapshotMeta& meta = m.snapshot;
  Message r;
  r.type = MessageType::kInstallSnapshotResponse;
  r.to = m.from;
  r.snapshot.lastIncludedIndex = meta.lastIncludedIndex;
  r.snapshot.lastIncludedTerm = meta.lastIncludedTerm;
  r.chunkOffset = m.offset;
  if (meta.lastIncludedIndex <= log_.committed()) {
    r.done = true;  // we already have all of it
    r.matchIndex = log_.committed();
    Send(std::move(r));
    return;
  }
  if (log_.MatchTerm(meta.lastIncludedIndex, meta.lastIncludedTerm)) {
    // Figure 13 step 6: our log already holds the snapshot's last entry;
    // keep the entries after it and let the state machine apply as usual.
    log_.CommitTo(meta.lastIncludedIndex);
    receiving_.reset();
    r.done = true;
    r.matchIndex = meta.lastIncludedIndex;
    Send(std::move(r));
    return;
  }
  if (m.offset == 0) receiving_ = Receiving{meta, 0};  // step 2: a new snapshot starts
  if (!receiving_ || receiving_->meta != meta || m.offset != receiving_->nextOffset) {
    r.offset = receiving_ && receiving_->meta == meta ? receiving_->nextOffset : 0;
    Send(std::move(r));
    return;
  }
  stagedChunks_.push_back(SnapshotChunk{meta, m.offset, m.data, m.done});
  receiving_->nextOffset += m.data.size();
  if (!m.done) {
    r.offset = receiving_->nextOffset;
    Send(std::move(r));
    return;
  }
  // Steps 7-8: discard the whole log and reset the state machine from it.
  receiving_.reset();
  log_.Restore(meta);
  voters_ = meta.voters;
  std::sort(voters_.begin(), voters_.end());
  VLOG(1) << "node " << config_.id << " restores snapshot at " << meta.lastIncludedIndex
          << " term " << meta.lastIncludedTerm;
  r.done = true;
  r.matchIndex = meta.lastIncludedIndex;
  Send(std::move(r));
}

// ---------------------------------------------------------------- leader

uint64_t Raft::SelfMatch() const { return std::min(log_.DurableIndex(), log_.LastIndex()); }

void Raft::AppendOwn(std::vector<Entry> entries) {
  uint64_t index = log_.LastIndex();
  for (Entry& e : entries) {
    e.index = ++index;
    e.term = currentTerm_;
  }
  log_.Append(entries);
  needBroadcast_ = true;
}

bool Raft::MaybeCommit() {
  // The highest index replicated on a quorum, counting ourselves only for
  // what is durable on our own disk.
  std::vector<uint64_t> matches;
  for (NodeId peer : voters_) {
    if (peer == config_.id) {
      matches.push_back(SelfMatch());
    } else {
      auto it = progress_.find(peer);
      matches.push_back(it == progress_.end() ? 0 : it->second.matchIndex);
    }
  }
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const uint64_t n = matches[Quorum() - 1];
  if (n <= log_.committed()) return false;
  // §5.4.2 (Figure 8): never commit an entry of an earlier term by counting
  // replicas; it commits with the first entry of our own term.
  if (log_.TermOrZero(n) != currentTerm_ && !KVRAFT_MUTANT(kCommitPreviousTermByCount)) return false;
  const bool firstInTerm = log_.TermOrZero(log_.committed()) != currentTerm_;
  log_.CommitTo(n);
  if (firstInTerm) {
    std::vector<uint64_t> waiting;
    waiting.swap(readsAwaitingCommit_);
    for (uint64_t id : waiting) RegisterRead(id);
  }
  return true;
}

void Raft::SendAppend(NodeId to, bool allowEmpty) {
  Progress& pr = progress_[to];
  if (pr.IsPaused(config_.maxInflightMsgs)) return;
  const uint64_t prevIndex = pr.nextIndex - 1;
  const auto prevTerm = log_.Term(prevIndex);
  std::vector<Entry> entries;
  Status s = log_.Slice(pr.nextIndex, log_.LastIndex() + 1, config_.maxSizePerMsg, &entries);
  if (!prevTerm || s.code() == Status::Code::kCompacted) {
    StartSnapshot(to);  // the entries it needs are gone (§7)
    return;
  }
  CHECK(s.ok()) << s.ToString();
  if (entries.empty() && !allowEmpty) return;
  Message m;
  m.type = MessageType::kAppendEntries;
  m.to = to;
  m.prevLogIndex = prevIndex;
  m.prevLogTerm = *prevTerm;
  m.leaderCommit = log_.committed();
  m.readRound = readRound_;
  if (!entries.empty()) {
    const uint64_t last = entries.back().index;
    if (pr.state == ProgressState::kReplicate) {
      pr.nextIndex = last + 1;  // pipelining: send the next batch without waiting
      pr.inflight.push_back(last);
    } else {
      pr.probeSent = true;
    }
  } else if (pr.state == ProgressState::kProbe) {
    pr.probeSent = true;
  }
  m.entries = std::move(entries);
  Send(std::move(m));
}

void Raft::SendHeartbeat(NodeId to) {
  // A heartbeat is an AppendEntries with no entries and gets every check. It
  // points at the entry known to match (Replicate) or at the probe position,
  // so that it is accepted even if earlier pipelined messages are in flight.
  Progress& pr = progress_[to];
  const uint64_t prevIndex =
      pr.state == ProgressState::kProbe ? pr.nextIndex - 1 : pr.matchIndex;
  Message m;
  m.type = MessageType::kAppendEntries;
  m.to = to;
  m.prevLogIndex = prevIndex;
  m.prevLogTerm = log_.TermOrZero(prevIndex);
  m.leaderCommit = log_.committed();
  m.readRound = readRound_;
  Send(std::move(m));
}

void Raft::StartSnapshot(NodeId to) {
  const SnapshotMeta meta = storage_->Snapshot();
  Progress& pr = progress_[to];
  pr.BecomeSnapshot(meta.lastIncludedIndex);
  VLOG(1) << "node " << config_.id << " sends snapshot at " << meta.lastIncludedIndex << " to "
          << to;
  SendSnapshotChunk(to);
}

void Raft::SendSnapshotChunk(NodeId to) {
  Progress& pr = progress_[to];
  std::string data;
  bool last = false;
  Status s = snapshots_->ReadSnapshotChunk(pr.snapshotIndex, pr.snapshotOffset,
                                           config_.snapshotChunkBytes, &data, &last);
  if (s.code() == Status::Code::kAborted &&
      storage_->Snapshot().lastIncludedIndex != pr.snapshotIndex) {
    return StartSnapshot(to);  // a newer snapshot replaced it: send that one
  }
  if (!s.ok()) {
    // The heartbeat retries a stalled transfer, so a snapshot the
    // application is still making (or one it lost) is asked for again.
    LOG(ERROR) << "node " << config_.id << " cannot read its snapshot for " << to << ": "
               << s.ToString();
    return;
  }
  Message m;
  m.type = MessageType::kInstallSnapshot;
  m.to = to;
  m.snapshot = storage_->Snapshot();
  m.offset = pr.snapshotOffset;
  m.data = std::move(data);
  m.done = last;
  Send(std::move(m));
}

void Raft::HandleAppendResponse(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recentActive = true;
  if (m.readRound > pr.readRoundAcked) {
    pr.readRoundAcked = m.readRound;
    ConfirmReads();
  }
  if (!m.success) {
    // Ignore rejections of messages we have since moved past.
    if (pr.state == ProgressState::kReplicate && m.rejectIndex <= pr.matchIndex) return;
    if (pr.state == ProgressState::kProbe && m.rejectIndex != pr.nextIndex - 1) return;
    if (pr.state == ProgressState::kSnapshot) return;
    // Fast backup: skip a whole conflicting term per round trip.
    uint64_t next = m.conflictIndex;
    if (m.conflictTerm != 0) {
      const uint64_t ours = log_.LastIndexOfTerm(m.conflictTerm);
      if (ours != 0) next = ours + 1;
    }
    next = std::min(next, m.rejectIndex);
    pr.BecomeProbe(std::max<uint64_t>(next, 1));
    SendAppend(m.from, true);
    return;
  }
  const bool updated = pr.MaybeUpdate(m.matchIndex);
  if (pr.state == ProgressState::kReplicate) pr.FreeInflightTo(m.matchIndex);
  if (pr.state == ProgressState::kProbe) {
    if (pr.matchIndex + 1 >= pr.nextIndex) {
      pr.BecomeReplicate();  // the probe found the match point
    } else {
      pr.probeSent = false;
    }
  }
  if (updated) MaybeCommit();
  if (pr.matchIndex < log_.LastIndex()) SendAppend(m.from, false);
}

void Raft::HandleSnapshotResponse(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recentActive = true;
  if (m.done) {
    if (pr.MaybeUpdate(m.matchIndex)) MaybeCommit();
    if (pr.state == ProgressState::kSnapshot) {
      pr.BecomeProbe(pr.matchIndex + 1);
      SendAppend(m.from, true);
    }
    return;
  }
  if (pr.state != ProgressState::kSnapshot || m.snapshot.lastIncludedIndex != pr.snapshotIndex) {
    return;  // about a snapshot we no longer send
  }
  // One chunk is in flight, at pr.snapshotOffset, and only the answer to it
  // calls for the next (at whatever offset the follower asks: onwards, or
  // back if it lost what it had staged). Answering a duplicated or stale
  // response as well would start a second stream beside the first, and
  // every later duplicate another.
  if (m.chunkOffset != pr.snapshotOffset) return;
  pr.progressSinceHeartbeat = true;
  pr.snapshotOffset = m.offset;
  SendSnapshotChunk(m.from);
}

void Raft::FlushLeaderSends() {
  if (!needBroadcast_) return;
  needBroadcast_ = false;
  // A commitIndex that moved is not sent on its own: the next append or
  // heartbeat (at most heartbeatTick away) carries it. Followers apply that
  // much later, which only stale reads there can see; sending it at once
  // would cost a message, a follower wake-up and a reply per commit, a
  // tenth of the CPU of a put at one client (bench/RESULTS.md).
  for (auto& [peer, pr] : progress_) {
    // Batching: every proposal since the last Ready goes out together, up to
    // maxSizePerMsg per message and maxInflightMsgs messages.
    while (!pr.IsPaused(config_.maxInflightMsgs) && pr.nextIndex <= log_.LastIndex()) {
      const uint64_t next = pr.nextIndex;
      SendAppend(peer, false);
      if (pr.state != ProgressState::kReplicate || pr.nextIndex == next) break;
    }
  }
}

// ---------------------------------------------------------------- ReadIndex

Status Raft::ReadIndex(uint64_t requestId) {
  if (role_ != Role::kLeader) {
    return Status::NotLeader("node " + std::to_string(config_.id) + " is not the leader; leader is " +
                             (leader_ == kNoNode ? "unknown" : std::to_string(leader_)));
  }
  if (log_.TermOrZero(log_.committed()) != currentTerm_) {
    readsAwaitingCommit_.push_back(requestId);  // §6.4 step 1
    return Status::Ok();
  }
  RegisterRead(requestId);
  return Status::Ok();
}

void Raft::RegisterRead(uint64_t requestId) {
  if (voters_.size() == 1) {
    readStates_.push_back({requestId, log_.committed()});
    return;
  }
  // Reads registered before the next Ready share one heartbeat round.
  pendingReads_.push_back({requestId, log_.committed(), readRound_ + 1});
  readRoundWanted_ = true;
}

void Raft::ConfirmReads() {
  // A read is confirmed once a quorum has answered a round sent after it
  // arrived: no other leader could have committed anything by then.
  size_t done = 0;
  for (const PendingRead& r : pendingReads_) {
    size_t acks = 1;
    for (const auto& [peer, pr] : progress_) {
      if (IsVoter(peer) && pr.readRoundAcked >= r.round) ++acks;
    }
    if (acks < Quorum()) break;
    readStates_.push_back({r.requestId, r.index});
    ++done;
  }
  pendingReads_.erase(pendingReads_.begin(), pendingReads_.begin() + done);
}

void Raft::DropReads() {
  for (uint64_t id : readsAwaitingCommit_) droppedReads_.push_back(id);
  for (const PendingRead& r : pendingReads_) droppedReads_.push_back(r.requestId);
  readsAwaitingCommit_.clear();
  pendingReads_.clear();
  readRoundWanted_ = false;
}

// ---------------------------------------------------------------- proposals

Status Raft::Propose(std::string data, uint64_t* index, uint64_t* term) {
  if (role_ != Role::kLeader) {
    return Status::NotLeader("node " + std::to_string(config_.id) + " is not the leader; leader is " +
                             (leader_ == kNoNode ? "unknown" : std::to_string(leader_)));
  }
  Entry e;
  e.data = std::move(data);
  AppendOwn({std::move(e)});
  *index = log_.LastIndex();
  *term = currentTerm_;
  return Status::Ok();
}

// ---------------------------------------------------------------- ready

void Raft::Send(Message m) {
  m.from = config_.id;
  if (m.term == 0) m.term = currentTerm_;
  if (MaySendBeforePersist(m.type) || KVRAFT_MUTANT(kReplyBeforePersist)) {
    eagerMsgs_.push_back(std::move(m));
  } else {
    msgs_.push_back(std::move(m));
  }
}

bool Raft::HasReady() const {
  if (readyInFlight_) return false;
  return CurrentSoftState() != handedSoftState_ || CurrentHardState() != handedHardState_ ||
         log_.HasUnhandedEntries() || (log_.pendingSnapshot() && !log_.snapshotHanded()) ||
         !stagedChunks_.empty() || !eagerMsgs_.empty() || !msgs_.empty() ||
         log_.HasCommittedToHand() || !readStates_.empty() || !droppedReads_.empty() ||
         (role_ == Role::kLeader && (needBroadcast_ || readRoundWanted_));
}

Ready Raft::GetReady() {
  CHECK(!readyInFlight_) << "GetReady called before Advance of the previous Ready";
  if (role_ == Role::kLeader) {
    if (readRoundWanted_) {
      readRoundWanted_ = false;
      ++readRound_;
      for (auto& [peer, pr] : progress_) SendHeartbeat(peer);
    }
    FlushLeaderSends();
  }
  Ready rd;
  if (CurrentSoftState() != handedSoftState_) {
    rd.softState = CurrentSoftState();
    handedSoftState_ = *rd.softState;
  }
  if (CurrentHardState() != handedHardState_) {
    rd.hardState = CurrentHardState();
    handedHardState_ = *rd.hardState;
  }
  rd.entries = log_.TakeUnhandedEntries();
  rd.snapshotChunks.swap(stagedChunks_);
  if (log_.pendingSnapshot() && !log_.snapshotHanded()) {
    rd.snapshot = *log_.pendingSnapshot();
    log_.MarkSnapshotHanded();
  }
  rd.eagerMessages.swap(eagerMsgs_);
  rd.messages.swap(msgs_);
  rd.committedEntries = log_.TakeCommittedToHand(config_.maxCommittedSizePerReady);
  rd.readStates.swap(readStates_);
  rd.droppedReads.swap(droppedReads_);
  readyInFlight_ = true;
  return rd;
}

void Raft::Advance(const Ready& rd) {
  CHECK(readyInFlight_) << "Advance without GetReady";
  readyInFlight_ = false;
  if (!rd.entries.empty()) log_.StableTo(rd.entries.back().index, rd.entries.back().term);
  if (rd.snapshot) log_.SnapshotInstalled(*rd.snapshot);
  // Our own entries count toward the quorum only now that they are durable.
  if (role_ == Role::kLeader && !rd.entries.empty()) MaybeCommit();
}

// ---------------------------------------------------------------- helpers

bool Raft::IsVoter(NodeId id) const {
  return std::binary_search(voters_.begin(), voters_.end(), id);
}

HardState Raft::CurrentHardState() const { return {currentTerm_, votedFor_, log_.committed()}; }

const Progress* Raft::progress(NodeId peer) const {
  auto it = progress_.find(peer);
  return it == progress_.end() ? nullptr : &it->second;
}

}  // namespace kvraft::raft
