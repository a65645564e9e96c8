#include "core/node.h"

#include <glog/logging.h>

#include <algorithm>
#include <filesystem>
#include <span>

#include "core/thread_name.h"

namespace kvraft::core {

Status Node::Open(Options options, std::unique_ptr<Node>* out) {
  std::error_code ec;
  std::filesystem::create_directories(options.dataDir, ec);
  if (ec) {
    return Status::IOError("cannot create data directory " + options.dataDir + ": " + ec.message());
  }
  std::unique_ptr<Node> node(new Node(std::move(options)));
  const Options& o = node->options_;

  raft::RocksDbStorage::Options storageOptions;
  storageOptions.dir = o.dataDir + "/raft";
  storageOptions.clusterId = o.cluster.clusterId;
  storageOptions.nodeId = o.cluster.self;
  storageOptions.voters = o.cluster.Voters();
  storageOptions.tailCacheBytes = o.logCacheBytes;
  Status s = raft::RocksDbStorage::Open(storageOptions, &node->storage_);
  if (!s.ok()) return s.Annotate("opening the raft log");

  KvReplica::Options replicaOptions = o.replica;
  replicaOptions.dataDir = o.dataDir;
  s = KvReplica::Open(replicaOptions, node->storage_.get(), &node->replica_);
  if (!s.ok()) return s.Annotate("opening the kv state");

  const std::vector<raft::NodeId> stored = node->storage_->Snapshot().voters;
  if (stored != o.cluster.Voters()) {
    std::string ids;
    for (raft::NodeId id : stored) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    return Status::InvalidArgument("the data in " + o.dataDir + " belongs to a cluster of nodes {" +
                                   ids + "}, but --peers lists a different set; membership changes " +
                                   "are not supported: start with the original --peers");
  }

  raft::Config config;
  config.id = o.cluster.self;
  config.voters = o.cluster.Voters();
  config.electionTick = o.electionTicks;
  config.heartbeatTick = o.heartbeatTicks;
  // Election timeouts must differ between nodes and between runs.
  config.randomSeed = (static_cast<uint64_t>(Clock::now().time_since_epoch().count()) << 8) ^ o.cluster.self;
  node->core_ = std::make_unique<raft::Raft>(config, node->storage_.get(), &node->replica_->snapshots());

  for (raft::NodeId id : o.cluster.Voters()) {
    if (id != o.cluster.self) node->peers_[id] = std::make_unique<PeerSender>(o.cluster, id, o.peer);
  }
  node->PublishStatus();
  const raft::HardState hs = node->storage_->InitialHardState();
  LOG(INFO) << "node " << o.cluster.self << " of cluster '" << o.cluster.clusterId << "' opened "
            << o.dataDir << ": term " << hs.currentTerm << ", log " << node->storage_->FirstIndex()
            << ".." << node->storage_->LastIndex() << ", commit " << hs.commitIndex << ", applied "
            << node->replica_->kv().AppliedIndex();
  out->reset(node.release());
  return Status::Ok();
}

Node::~Node() { Stop(); }

void Node::Start() {
  // Before anyone can claim a pass.
  nextTick_ = Clock::now() + std::chrono::milliseconds(options_.tickMs);
  PublishLoopState();
  for (auto& [id, peer] : peers_) peer->Start();
  loop_ = std::thread([this] {
    SetThreadName("raft-loop");
    Run();
  });
}

void Node::BeginShutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shuttingDown_ = true;
  wake_.notify_all();
}

void Node::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shuttingDown_ = true;
    stopping_ = true;
  }
  wake_.notify_all();
  if (loop_.joinable()) loop_.join();
  if (flusher_.joinable()) flusher_.join();
  if (checkpointer_.joinable()) checkpointer_.join();
  for (auto& [id, peer] : peers_) peer->Stop();
}

void Node::Deliver(std::vector<raft::Message> messages, uint64_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    if (inbox_.messageBytes + bytes > options_.maxInboxBytes) {
      LOG_EVERY_N(WARNING, 100) << "dropping " << messages.size()
                                << " raft messages: the loop is behind by " << inbox_.messageBytes
                                << " bytes of peer messages";
      return;
    }
    inbox_.messageBytes += bytes;
    bool urgent = false;
    bool snapshot = false;
    for (raft::Message& m : messages) {
      urgent = urgent || !AckCanWait(m, ackWait_);
      snapshot = snapshot || m.type == raft::MessageType::kInstallSnapshot;
      inbox_.messages.push_back(std::move(m));
    }
    if (!urgent) return;
    if (passRunning_) return;  // the running pass looks at the inbox before it ends
    if (snapshot) {
      // Installing a snapshot can take seconds; the link's IO thread keeps
      // reading meanwhile if the loop thread does it.
      wake_.notify_one();
      return;
    }
    passRunning_ = true;
  }
  RunPasses(PassRunner::kPeerLink, nullptr);
}

void Node::RunPasses(PassRunner runner, const Completion* mine) {
  for (int passes = 1;; ++passes) {
    RunOnce();
    const bool answered = mine != nullptr && mine->Answered();
    std::lock_guard<std::mutex> lock(mu_);
    const bool more = LoopHasWorkLocked();
    bool goOn = more;
    if (runner == PassRunner::kPeerLink) goOn = false;  // back to reading the link
    if (runner == PassRunner::kCaller) goOn = more && !answered && passes < kMaxCallerPasses;
    if (goOn) continue;
    passRunning_ = false;
    // Work left by a borrowed thread goes to the loop thread, which also
    // waits for the pass when a tick fell due during it.
    if ((more && runner != PassRunner::kLoop) || loopWaitsForPass_) wake_.notify_one();
    return;
  }
}

bool Node::LoopHasWorkLocked() const {
  return !stopping_ && (inbox_.NeedsLoop() || !MessagesCanWait(inbox_.messages, ackWait_) ||
                        (shuttingDown_ && !publishedFailedForShutdown_));
}

Node::ProposeResult Node::Propose(std::string command, Clock::time_point deadline) {
  std::vector<std::string> one;
  one.push_back(std::move(command));
  return std::move(ProposeAll(std::move(one), deadline, nullptr).front());
}

Node::ReadResult Node::WaitReadable(Clock::time_point deadline) {
  ReadResult read;
  ProposeAll({}, deadline, &read);
  return read;
}

Node::Completion::Completion(size_t proposals, bool read)
    : proposals_(proposals), set_(proposals + (read ? 1 : 0), false), remaining_(set_.size()) {}

void Node::Completion::SetProposal(size_t slot, ProposeResult result) {
  std::lock_guard<std::mutex> lock(mu_);
  if (set_[slot]) return;
  proposals_[slot] = std::move(result);
  set_[slot] = true;
  if (--remaining_ == 0) done_.notify_one();
}

void Node::Completion::SetRead(ReadResult result) {
  std::lock_guard<std::mutex> lock(mu_);
  if (set_.back()) return;
  read_ = std::move(result);
  set_.back() = true;
  if (--remaining_ == 0) done_.notify_one();
}

bool Node::Completion::Answered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return remaining_ == 0;
}

std::vector<bool> Node::Completion::Wait(Clock::time_point deadline,
                                         std::vector<ProposeResult>* proposals, ReadResult* read) {
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait_until(lock, deadline, [this] { return remaining_ == 0; });
  for (size_t i = 0; i < proposals_.size(); ++i) {
    if (set_[i]) (*proposals)[i] = std::move(proposals_[i]);
  }
  if (read != nullptr && set_.back()) *read = std::move(read_);
  return set_;
}

std::vector<Node::ProposeResult> Node::ProposeAll(std::vector<std::string> commands,
                                                  Clock::time_point deadline, ReadResult* read) {
  std::vector<ProposeResult> results(commands.size());
  auto completion = std::make_shared<Completion>(commands.size(), read != nullptr);
  bool runPass = false;
  bool wakeLoop = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const char* refusal = nullptr;
    if (shuttingDown_) {
      refusal = "the node is shutting down; try another node";
    } else if (inbox_.proposals.size() + commands.size() > options_.maxPendingProposals) {
      refusal = "the node has too many commands waiting to enter the log; retry later";
    }
    if (refusal != nullptr) {
      for (ProposeResult& r : results) r = {Outcome::kUnavailable, {}, refusal};
      if (read != nullptr) *read = {Outcome::kUnavailable, refusal};
      return results;
    }
    for (size_t i = 0; i < commands.size(); ++i) {
      inbox_.proposals.push_back({std::move(commands[i]), ProposalSlot{completion, i}});
    }
    if (read != nullptr) inbox_.reads.push_back(ReadSlot{completion});
    // An idle node: this thread is awake already, and running the pass
    // itself saves waking the loop thread (a switch on each side). A busy
    // leader (entries wait for their acks): the loop thread's wake-up lets
    // more calls join the pass; passes started at once by each call would
    // write the log more often with fewer entries each (bench/RESULTS.md).
    const bool busy = ackWait_.leader && ackWait_.lastIndex > ackWait_.commitIndex;
    runPass = !passRunning_ && !busy;
    wakeLoop = !passRunning_ && busy;
    if (runPass) passRunning_ = true;
  }
  if (runPass) RunPasses(PassRunner::kCaller, completion.get());
  if (wakeLoop) wake_.notify_one();
  const std::vector<bool> answered = completion->Wait(deadline, &results, read);
  for (size_t i = 0; i < results.size(); ++i) {
    if (answered[i]) continue;
    results[i] = {Outcome::kTimeout, {},
                  "the command was not applied within the request timeout; it may still be: "
                  "retry with the same sequence number",
                  true};
  }
  if (read != nullptr && !answered.back()) {
    *read = {Outcome::kTimeout,
             "the leader could not confirm its leadership within the request timeout"};
  }
  return results;
}

Status Node::SnapshotNow(Clock::time_point deadline, uint64_t* index) {
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> result = done->get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shuttingDown_) return Status::Unavailable("the node is shutting down");
  }
  RunOnLoop([this, done] {
    Status s = replica_->Snapshot(core_->voters());
    if (s.ok()) PublishStatus();
    done->set_value(s);
  });
  if (result.wait_until(deadline) != std::future_status::ready) {
    return Status::Unavailable("the snapshot did not finish within the request timeout; it may still finish");
  }
  Status s;
  try {
    s = result.get();
  } catch (const std::future_error&) {  // the loop stopped before running it
    return Status::Unavailable("the node stopped before it took the snapshot");
  }
  if (!s.ok()) return s;
  auto latest = replica_->LatestSnapshot();
  *index = latest ? latest->appliedIndex : 0;
  return Status::Ok();
}

Status Node::CompactStorage() {
  Status s = storage_->CompactStorage();
  if (s.ok()) s = replica_->kv().CompactStorage();
  return s;
}

Node::StatusInfo Node::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

raft::NodeId Node::leaderHint() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_.leader;
}

void Node::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (passRunning_) {
      // Whoever runs it ticks too, if a tick is due by then.
      loopWaitsForPass_ = true;
      wake_.wait(lock);
      loopWaitsForPass_ = false;
      continue;
    }
    // Messages Deliver let wait were judged on the state published then;
    // LoopHasWorkLocked judges them again against the state the last pass
    // published.
    if (!LoopHasWorkLocked() && Clock::now() < publishedNextTick_) {
      wake_.wait_until(lock, publishedNextTick_);
      continue;
    }
    passRunning_ = true;
    lock.unlock();
    RunPasses(PassRunner::kLoop, nullptr);
    lock.lock();
  }
  // The last pass is the loop thread's, once a borrowed one ends; no other
  // starts after it.
  loopWaitsForPass_ = true;
  wake_.wait(lock, [this] { return !passRunning_; });
  passRunning_ = true;
  lock.unlock();
  SaveHeldCommit();
  FailWaiters(Outcome::kUnavailable, "the node stopped");
}

void Node::RunOnce() {
  Inbox& in = loopInbox_;
  bool shuttingDown = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stats_.Woke();
    std::swap(in, inbox_);
    inbox_.messageBytes = 0;
    shuttingDown = shuttingDown_;
    if (shuttingDown) {
      // Answer whatever was queued and everything waiting, once.
      for (PendingProposal& p : in.proposals) {
        p.done.set_value({Outcome::kUnavailable, {}, "the node is shutting down; try another node"});
      }
      in.proposals.clear();
      for (ReadSlot& r : in.reads) r.set_value({Outcome::kUnavailable, "the node is shutting down"});
      in.reads.clear();
    }
  }
  if (shuttingDown && !failedForShutdown_) {
    FailWaiters(Outcome::kUnavailable, "the node is shutting down; try another node");
    failedForShutdown_ = true;
  }
  TakeInput(in);
  const Clock::time_point now = Clock::now();
  // Ticks count real time; after a long stall (a slow disk, SIGSTOP) the
  // missed ticks still happen, but not more than an election's worth.
  const auto tick = std::chrono::milliseconds(options_.tickMs);
  int due = 0;
  while (nextTick_ <= now && due < 2 * options_.electionTicks) {
    core_->Tick();
    nextTick_ += tick;
    ++due;
  }
  if (nextTick_ <= now) nextTick_ = now + tick;
  if (due > 0) SaveHeldCommit();
  while (core_->HasReady()) HandleReady();
  if (VLOG_IS_ON(1) && now >= nextStatsLog_) {
    const std::string summary = stats_.TakeSummary(now);
    if (nextStatsLog_ != Clock::time_point{}) VLOG(1) << summary;
    nextStatsLog_ = now + std::chrono::seconds(10);
  }
  PublishLoopState();
}

void Node::PublishLoopState() {
  const AckWaitState ackWait = CurrentAckWaitState();
  std::lock_guard<std::mutex> lock(mu_);
  ackWait_ = ackWait;
  publishedNextTick_ = nextTick_;
  publishedFailedForShutdown_ = failedForShutdown_;
}

void Node::TakeInput(Inbox& in) {
  for (const raft::Message& m : in.messages) {
    Status s = core_->Step(m);
    if (!s.ok()) VLOG(1) << "ignored a " << raft::MessageTypeName(m.type) << " from " << m.from << ": " << s.ToString();
  }
  in.messages.clear();
  stats_.Proposed(in.proposals.size());
  for (PendingProposal& p : in.proposals) {
    uint64_t index = 0, term = 0;
    Status s = core_->Propose(std::move(p.command), &index, &term);
    if (!s.ok()) {
      p.done.set_value({Outcome::kNotLeader, {}, NotLeaderMessage()});
      continue;
    }
    waiters_[index] = Waiter{term, std::move(p.done)};
  }
  in.proposals.clear();
  for (ReadSlot& r : in.reads) {
    const uint64_t id = nextReadId_++;
    Status s = core_->ReadIndex(id);
    if (!s.ok()) {
      r.set_value({Outcome::kNotLeader, NotLeaderMessage()});
      continue;
    }
    readsAwaitingIndex_[id] = std::move(r);
  }
  in.reads.clear();
  for (std::function<void()>& task : in.tasks) task();
  in.tasks.clear();
}

void Node::HandleReady() {
  raft::Ready rd = core_->GetReady();
  if (rd.softState) {
    const raft::Role was = role_;
    role_ = rd.softState->role;
    // Leadership changes are what an operator looks for first when
    // latency jumps, so they are logged at INFO.
    if (rd.softState->leader == raft::kNoNode) {
      LOG(INFO) << "node " << options_.cluster.self << " is " << raft::RoleName(role_) << " at term "
                << core_->currentTerm() << " and knows no leader";
    } else {
      LOG(INFO) << "node " << options_.cluster.self << " is " << raft::RoleName(role_) << " at term "
                << core_->currentTerm() << "; the leader is node " << rd.softState->leader;
    }
    if (was == raft::Role::kLeader && role_ != raft::Role::kLeader) {
      FailWaiters(Outcome::kNotLeader, NotLeaderMessage());
    }
  }
  SendAll(rd.eagerMessages);

  // Durable writes, in the order types.h requires.
  Status s = replica_->InstallFromReady(rd);
  if (!s.ok()) LOG(FATAL) << "cannot install the snapshot received from the leader: " << s.ToString();
  SaveToLog(rd);
  FailOlderTermWaiters(rd);
  SendAll(rd.messages);

  ApplyCommitted(rd.committedEntries);
  ServeReads(rd);
  core_->Advance(rd);
  if (replica_->FlushAheadDue()) FlushAhead();
  CompactLogIfReady();
  SnapshotIfDue();
  PublishStatus();
}

void Node::SaveToLog(const raft::Ready& rd) {
  const raft::HardState* hs = rd.hardState ? &*rd.hardState : nullptr;
  if (rd.entries.empty()) {
    if (hs == nullptr) return;
    // The store's hard state is the one last written.
    const raft::HardState stored = storage_->InitialHardState();
    if (hs->currentTerm == stored.currentTerm && hs->votedFor == stored.votedFor) {
      // Figure 2 makes commitIndex volatile: the stored one only lets a
      // restarted node apply what it knew to be committed, and any value up
      // to the true one is safe. Written alone it would cost the leader a
      // log write per command, before it may answer; it rides on the next
      // write.
      heldHardState_ = *hs;
      return;
    }
  }
  if (hs == nullptr && heldHardState_) hs = &*heldHardState_;
  const Clock::time_point start = Clock::now();
  const uint64_t syncedBefore = storage_->SyncedWrites();
  Status s = storage_->Save(hs, rd.entries);
  if (!s.ok()) LOG(FATAL) << "cannot write the raft log: " << s.ToString();
  NoteLogWrite(rd.entries.size(), storage_->SyncedWrites() != syncedBefore, Clock::now() - start);
  heldHardState_.reset();
}

void Node::SaveHeldCommit() {
  if (!heldHardState_) return;
  Status s = storage_->Save(&*heldHardState_, {});
  if (!s.ok()) LOG(FATAL) << "cannot write the raft log: " << s.ToString();
  heldHardState_.reset();
}

void Node::RunOnLoop(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.tasks.push_back(std::move(task));
  }
  wake_.notify_one();
}

void Node::SnapshotIfDue() {
  if (snapshotting_ || !replica_->SnapshotDue()) return;
  snapshotting_ = true;
  if (checkpointer_.joinable()) checkpointer_.join();
  checkpointer_ = std::thread([this] {
    SetThreadName("kv-checkpoint");
    const Clock::time_point start = Clock::now();
    statemachine::SnapshotInfo info;
    Status s = replica_->Checkpoint(&info);
    const Clock::duration took = Clock::now() - start;
    RunOnLoop([this, s, info, took] { CheckpointTaken(s, info, took); });
  });
}

void Node::CheckpointTaken(const Status& s, const statemachine::SnapshotInfo& info,
                           Clock::duration took) {
  if (!s.ok()) LOG(FATAL) << "cannot take a snapshot: " << s.ToString();
  VLOG(1) << "checkpointed the kv state at index " << info.appliedIndex << " in "
          << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
          << " ms while applying went on";
  toCompact_ = info;
  checkpointTook_ = took;
  CompactLogIfReady();
}

void Node::CompactLogIfReady() {
  if (!toCompact_) return;
  const Clock::time_point start = Clock::now();
  KvReplica::Compaction outcome = KvReplica::Compaction::kNotYet;
  // Membership never changes (Node::Open refuses other --peers), so the
  // voters now are the voters as of the snapshot's index.
  Status s = replica_->CompactLog(*toCompact_, core_->voters(), &outcome);
  if (!s.ok()) LOG(FATAL) << "cannot compact the log after a snapshot: " << s.ToString();
  if (outcome == KvReplica::Compaction::kNotYet) return;
  if (outcome == KvReplica::Compaction::kDone) {
    // The checkpoint ran beside the loop; the compaction stopped it.
    LOG(INFO) << "took a snapshot at index " << toCompact_->appliedIndex << " (checkpoint "
              << std::chrono::duration_cast<std::chrono::milliseconds>(checkpointTook_).count()
              << " ms) and compacted the log in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()
              << " ms";
  } else {
    VLOG(1) << "the snapshot at index " << toCompact_->appliedIndex
            << " is older than the log's own start: nothing to compact";
  }
  toCompact_.reset();
  snapshotting_ = false;
}

void Node::FlushAhead() {
  // One at a time: a flush still running when the next is due (a slow disk)
  // is simply not doubled.
  if (flushingAhead_.exchange(true)) return;
  if (flusher_.joinable()) flusher_.join();
  flusher_ = std::thread([this] {
    SetThreadName("kv-flush");
    const Clock::time_point start = Clock::now();
    Status s = replica_->kv().Flush();
    if (!s.ok()) {
      // The snapshot's own flush will do the work (and report a failure).
      LOG(WARNING) << "flushing the kv memtables ahead of the next snapshot failed: " << s.ToString();
    } else {
      VLOG(1) << "flushed the kv memtables ahead of the next snapshot in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()
              << " ms";
    }
    flushingAhead_ = false;
  });
}

void Node::FailOlderTermWaiters(const raft::Ready& rd) {
  if (!rd.hardState) return;
  // A proposal of an older term can no longer be committed under that term
  // by this node; the caller retries.
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->second.term < rd.hardState->currentTerm) {
      it->second.done.set_value({Outcome::kNotLeader, {}, NotLeaderMessage(), true});
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
}

void Node::ApplyCommitted(const std::vector<raft::Entry>& committed) {
  // Committed entries come in index order; those at or below the applied
  // index (a replay after a restart) are a prefix to skip, not to copy.
  const uint64_t applied = replica_->kv().AppliedIndex();
  const auto fresh = std::partition_point(committed.begin(), committed.end(),
                                          [applied](const raft::Entry& e) { return e.index <= applied; });
  const std::span<const raft::Entry> toApply(fresh, committed.end());
  if (toApply.empty()) return;
  std::vector<statemachine::Reply> replies;
  const Clock::time_point start = Clock::now();
  Status s = replica_->Apply(toApply, &replies);
  if (!s.ok()) LOG(FATAL) << "cannot apply committed entries: " << s.ToString();
  stats_.Applied(toApply.size(), Clock::now() - start);
  // Before any answer: a client told its write is done then finds it covered
  // by the commit and applied index that Status reports.
  PublishStatus();
  for (size_t i = 0; i < toApply.size(); ++i) {
    auto it = waiters_.find(toApply[i].index);
    if (it == waiters_.end()) continue;
    if (it->second.term == toApply[i].term) {
      it->second.done.set_value({Outcome::kDone, std::move(replies[i]), {}, true});
    } else {
      it->second.done.set_value({Outcome::kNotLeader, {}, NotLeaderMessage(), true});
    }
    waiters_.erase(it);
  }
}

void Node::ServeReads(const raft::Ready& rd) {
  for (const raft::ReadState& r : rd.readStates) {
    auto it = readsAwaitingIndex_.find(r.requestId);
    if (it == readsAwaitingIndex_.end()) continue;
    readsAwaitingApply_.emplace(r.index, std::move(it->second));
    readsAwaitingIndex_.erase(it);
  }
  for (uint64_t id : rd.droppedReads) {
    auto it = readsAwaitingIndex_.find(id);
    if (it == readsAwaitingIndex_.end()) continue;
    it->second.set_value({Outcome::kNotLeader, NotLeaderMessage()});
    readsAwaitingIndex_.erase(it);
  }
  const uint64_t applied = replica_->kv().AppliedIndex();
  auto end = readsAwaitingApply_.upper_bound(applied);
  for (auto it = readsAwaitingApply_.begin(); it != end; ++it) it->second.set_value({Outcome::kDone, {}});
  readsAwaitingApply_.erase(readsAwaitingApply_.begin(), end);
}

void Node::NoteLogWrite(size_t entries, bool synced, Clock::duration took) {
  stats_.Saved(entries, synced, took);
  // A write slower than the election timeout stalls heartbeats and votes:
  // the usual reason for an election nobody asked for.
  const auto electionTimeout = std::chrono::milliseconds(options_.tickMs * options_.electionTicks);
  if (took < electionTimeout) return;
  const Clock::time_point now = Clock::now();
  if (now - lastSlowWriteWarning_ < std::chrono::seconds(10)) return;
  lastSlowWriteWarning_ = now;
  LOG(WARNING) << "writing " << entries << " log entries took "
               << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
               << " ms, longer than the election timeout (" << electionTimeout.count()
               << " ms): the disk is too slow for this timeout, and followers may start elections";
}

void Node::SendAll(const std::vector<raft::Message>& messages) {
  for (const raft::Message& m : messages) {
    auto it = peers_.find(m.to);
    if (it != peers_.end()) it->second->Send(m);
  }
}

void Node::FailWaiters(Outcome outcome, const std::string& why) {
  for (auto& [index, w] : waiters_) w.done.set_value({outcome, {}, why, true});
  waiters_.clear();
  for (auto& [id, r] : readsAwaitingIndex_) r.set_value({outcome, why});
  readsAwaitingIndex_.clear();
  for (auto& [index, r] : readsAwaitingApply_) r.set_value({outcome, why});
  readsAwaitingApply_.clear();
}

void Node::PublishStatus() {
  StatusInfo info;
  info.role = core_ ? core_->role() : raft::Role::kFollower;
  info.term = core_ ? core_->currentTerm() : 0;
  info.leader = core_ ? core_->leader() : raft::kNoNode;
  info.commitIndex = core_ ? core_->commitIndex() : 0;
  info.appliedIndex = replica_->kv().AppliedIndex();
  info.lastLogIndex = storage_->LastIndex();
  info.snapshotIndex = storage_->Snapshot().lastIncludedIndex;
  info.voters = core_ ? core_->voters() : options_.cluster.Voters();
  if (info.role == raft::Role::kLeader) {
    for (raft::NodeId id : info.voters) {
      const raft::Progress* p = core_->progress(id);
      if (p == nullptr) continue;  // this node
      info.peers.push_back({id, p->matchIndex, p->nextIndex, raft::ProgressStateName(p->state)});
    }
  }
  const AckWaitState ackWait = CurrentAckWaitState();
  std::lock_guard<std::mutex> lock(mu_);
  status_ = std::move(info);
  ackWait_ = ackWait;
}

AckWaitState Node::CurrentAckWaitState() const {
  AckWaitState state;
  if (!core_) return state;
  state.leader = core_->role() == raft::Role::kLeader;
  state.term = core_->currentTerm();
  state.lastIndex = storage_->LastIndex();
  state.commitIndex = core_->commitIndex();
  state.readRoundPending = !readsAwaitingIndex_.empty();
  return state;
}

bool Node::MessagesCanWait(const std::vector<raft::Message>& messages, const AckWaitState& state) {
  return std::all_of(messages.begin(), messages.end(),
                     [&](const raft::Message& m) { return AckCanWait(m, state); });
}

std::string Node::NotLeaderMessage() const {
  const raft::NodeId leader = core_->leader();
  if (leader == raft::kNoNode || leader == options_.cluster.self) {
    return "node " + std::to_string(options_.cluster.self) + " is not the leader and knows of none; retry another node";
  }
  return "node " + std::to_string(options_.cluster.self) + " is not the leader; the leader is node " +
         std::to_string(leader) + " at " + options_.cluster.ClientAddressOf(leader);
}

}  // namespace kvraft::core
