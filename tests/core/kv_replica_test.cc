// KvReplica: a node's kv state, its snapshot and its Raft log store kept in
// agreement. The properties that matter are the ones a crash would expose:
// the log is compacted only through state that is durable in the kv
// instance and kept as a snapshot, an install from the leader leaves all
// three at the leader's state, and Open finishes whatever step of either a
// crash interrupted (or refuses, saying what to do, when it cannot).
#include "core/kv_replica.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raftlog/memory_storage.h"
#include "raftlog/rocksdb_storage.h"
#include "statemachine/kv_state_machine.h"
#include "statemachine/snapshot_store.h"
#include "tests/statemachine/test_util.h"

namespace kvraft::core {
namespace {

namespace fs = std::filesystem;
using Code = Status::Code;
using statemachine::KvStateMachine;
using statemachine::Reply;
using statemachine::ReplyCode;
using statemachine::SnapshotInfo;
using statemachine::StateDigest;
using statemachine::testing::EncGet;
using statemachine::testing::EncPut;
using statemachine::testing::EncRegister;
using statemachine::testing::Harness;
using statemachine::testing::TempDir;

const std::vector<raft::NodeId> kVoters = {1, 2, 3};

enum class LogKind { kRocksDb, kMemory };

// One node's durable side in `dir`: its log store (RocksDB in <dir>/raft, or
// in memory) and a KvReplica on it, driven as the node's loops drive them.
// The replica runs with flushOnClose=false, so dropping it is a crash.
class Node {
 public:
  explicit Node(std::string dir, LogKind kind = LogKind::kRocksDb)
      : dir_(std::move(dir)), kind_(kind) {
    options.dataDir = dir_;
    options.kv.flushOnClose = false;
    OpenLog();
  }

  KvReplica::Options options;
  // Where and in which term Make() numbers the next entries.
  uint64_t next = 1;
  uint64_t term = 1;

  const std::string& dir() const { return dir_; }
  raft::Storage& log() { return *log_; }
  KvReplica& replica() { return *replica_; }

  Status Open() {
    replica_.reset();
    return KvReplica::Open(options, log_.get(), &replica_);
  }
  // Drops the replica without flushing the kv instance.
  void Crash() { replica_.reset(); }
  // Drops the log store and opens it again from disk (RocksDB only; the
  // replica must be down, since it points at the store).
  void ReopenLog() {
    ASSERT_EQ(kind_, LogKind::kRocksDb);
    ASSERT_EQ(replica_, nullptr);
    log_.reset();
    OpenLog();
  }

  std::vector<raft::Entry> Make(const std::vector<std::string>& commands) {
    std::vector<raft::Entry> entries;
    for (const std::string& c : commands) entries.push_back({next++, term, raft::EntryType::kNormal, c});
    return entries;
  }
  std::vector<raft::Entry> MakeNoops(int n) {
    std::vector<raft::Entry> entries;
    for (int i = 0; i < n; ++i) entries.push_back({next++, term, raft::EntryType::kNoop, ""});
    return entries;
  }
  void Save(const std::vector<raft::Entry>& entries) {
    Status s = log_->Save(nullptr, entries);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::vector<Reply> Apply(const std::vector<raft::Entry>& entries) {
    std::vector<Reply> replies;
    Status s = replica_->Apply(entries, &replies);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(replies.size(), entries.size());
    return replies;
  }
  // Saves then applies: the order of a Ready's steps 2 and 4.
  std::vector<Reply> SaveAndApply(const std::vector<raft::Entry>& entries) {
    Save(entries);
    return Apply(entries);
  }
  std::vector<Reply> Commit(const std::vector<std::string>& commands) {
    return SaveAndApply(Make(commands));
  }
  uint64_t Register() {
    const Reply r = Commit({EncRegister(0)}).front();
    EXPECT_TRUE(r.ok()) << r.ToString();
    EXPECT_NE(r.clientId, 0u);
    return r.clientId;
  }
  // Commits `n` puts of 100-byte values for `client`, sequences from `seq`.
  void CommitPuts(uint64_t client, uint64_t seq, int n, const std::string& tag) {
    for (int i = 0; i < n; ++i, ++seq) {
      const Reply r = Commit({EncPut({client, seq, seq, seq}, tag + std::to_string(i),
                                     std::string(100, 'a' + i % 26))})
                          .front();
      EXPECT_TRUE(r.ok()) << r.ToString();
    }
  }
  StateDigest Digest() {
    StateDigest d;
    Status s = replica_->kv().Digest(&d);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return d;
  }

 private:
  void OpenLog() {
    if (kind_ == LogKind::kMemory) {
      auto memory = std::make_unique<raft::MemoryStorage>();
      memory->Bootstrap(kVoters);
      log_ = std::move(memory);
      return;
    }
    raft::RocksDbStorage::Options o;
    o.dir = dir_ + "/raft";
    o.clusterId = "replica-test";
    o.nodeId = 1;
    o.voters = kVoters;
    std::unique_ptr<raft::RocksDbStorage> rocks;
    Status s = raft::RocksDbStorage::Open(o, &rocks);
    ASSERT_TRUE(s.ok()) << s.ToString();
    log_ = std::move(rocks);
  }

  const std::string dir_;
  const LogKind kind_;
  std::unique_ptr<raft::Storage> log_;
  std::unique_ptr<KvReplica> replica_;
};

// Every entry of `log` from `lo` on.
std::vector<raft::Entry> LogFrom(const raft::Storage& log, uint64_t lo) {
  std::vector<raft::Entry> out;
  while (lo <= log.LastIndex()) {
    std::vector<raft::Entry> part;
    Status s = log.Entries(lo, log.LastIndex() + 1, UINT64_MAX, &part);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok() || part.empty()) break;
    lo += part.size();
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

// The snapshot at meta.lastIncludedIndex read from `source` in chunks of
// `chunkBytes`, as the core hands them to a follower.
std::vector<raft::SnapshotChunk> ReadChunks(const raft::SnapshotSource& source,
                                            const raft::SnapshotMeta& meta, uint64_t chunkBytes) {
  std::vector<raft::SnapshotChunk> chunks;
  uint64_t offset = 0;
  for (bool last = false; !last;) {
    std::string data;
    Status s = source.ReadSnapshotChunk(meta.lastIncludedIndex, offset, chunkBytes, &data, &last);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) break;
    const uint64_t size = data.size();
    chunks.push_back({meta, offset, std::move(data), last});
    offset += size;
  }
  return chunks;
}

// The chunks spread over Readies of `perReady` each; with `meta`, the Ready
// carrying the last chunk also installs the snapshot, as the core hands them out.
std::vector<raft::Ready> ChunkReadies(const std::vector<raft::SnapshotChunk>& chunks,
                                      size_t perReady,
                                      std::optional<raft::SnapshotMeta> meta) {
  std::vector<raft::Ready> readies;
  for (size_t i = 0; i < chunks.size(); i += perReady) {
    raft::Ready r;
    for (size_t j = i; j < std::min(chunks.size(), i + perReady); ++j) r.snapshotChunks.push_back(chunks[j]);
    readies.push_back(std::move(r));
  }
  if (meta) {
    if (readies.empty()) readies.emplace_back();
    readies.back().snapshot = meta;
  }
  return readies;
}

Status Deliver(KvReplica& replica, const std::vector<raft::Ready>& readies) {
  for (const raft::Ready& r : readies) {
    Status s = replica.InstallFromReady(r);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// Streams `source`'s snapshot at `index` into a fresh kv instance in `dir`
// and returns its digest: what a follower would get from that source.
StateDigest DigestOfSnapshot(const raft::SnapshotSource& source, uint64_t index,
                             const std::string& dir) {
  Harness h(dir);
  raft::SnapshotMeta meta;
  meta.lastIncludedIndex = index;
  for (const raft::SnapshotChunk& c : ReadChunks(source, meta, 4096)) {
    SnapshotInfo installed;
    Status s = h.sm().InstallSnapshotChunk(c.offset, c.data, c.done, &installed);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return h.Digest();
}

// A leader (log in memory) and a follower (RocksDB log) that both applied
// the same first `common` entries; the leader then went on by `ahead` more
// and took a snapshot, which is what it sends the follower.
struct LeaderAndFollower {
  LeaderAndFollower(const TempDir& tmp, int common, int ahead)
      : leader(tmp.Sub("leader"), LogKind::kMemory), follower(tmp.Sub("follower")) {
    EXPECT_TRUE(leader.Open().ok());
    EXPECT_TRUE(follower.Open().ok());
    const std::vector<std::string> first = {EncRegister(0)};
    leader.Commit(first);
    follower.Commit(first);
    for (int i = 1; i < common; ++i) {
      const std::vector<std::string> put = {EncPut({1, uint64_t(i), uint64_t(i), uint64_t(i)},
                                                   "common" + std::to_string(i), "v")};
      leader.Commit(put);
      follower.Commit(put);
    }
    leader.term = 2;
    leader.CommitPuts(1, common, ahead, "ahead");
    Status s = leader.replica().Snapshot(kVoters);
    EXPECT_TRUE(s.ok()) << s.ToString();
    meta = leader.log().Snapshot();
    EXPECT_EQ(meta.lastIncludedIndex, uint64_t(common + ahead));
    atSnapshot = leader.Digest();
  }

  Node leader;
  Node follower;
  raft::SnapshotMeta meta;
  StateDigest atSnapshot;
};

// ------------------------------------------------------------ Apply

TEST(KvReplica, ApplyAnswersEveryEntryOfABatchInOrder) {
  TempDir tmp;
  Node node(tmp.Sub("node"));
  ASSERT_TRUE(node.Open().ok());
  const std::vector<Reply> registered = node.Commit({EncRegister(0)});
  ASSERT_EQ(registered.size(), 1u);
  ASSERT_TRUE(registered[0].ok()) << registered[0].ToString();
  const uint64_t client = registered[0].clientId;
  ASSERT_NE(client, 0u);

  const std::vector<raft::Entry> batch =
      node.Make({EncPut({client, 1, 1, 10}, "k", "v1"), EncGet({client, 2, 2, 11}, "k"),
                 EncPut({client, 3, 3, 12}, "k", "v2"), EncGet({client, 4, 4, 13}, "k"),
                 EncPut({client + 1000, 1, 1, 14}, "x", "unregistered")});
  const std::vector<Reply> replies = node.SaveAndApply(batch);
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_TRUE(replies[0].ok()) << replies[0].ToString();
  EXPECT_EQ(replies[1].value, std::optional<std::string>("v1"))
      << "a later entry of the batch sees an earlier one's effect";
  EXPECT_TRUE(replies[2].ok()) << replies[2].ToString();
  EXPECT_EQ(replies[3].value, std::optional<std::string>("v2"));
  EXPECT_EQ(replies[4].code, ReplyCode::kSessionExpired)
      << "a bad command gets a reply of its own; the batch goes on";
  EXPECT_EQ(node.replica().kv().AppliedIndex(), batch.back().index);
  EXPECT_EQ(node.replica().kv().AppliedTerm(), batch.back().term);

  // A replay (after a restart, say) gets kSkipped for what was applied.
  const StateDigest before = node.Digest();
  const std::vector<Reply> again = node.Apply(batch);
  ASSERT_EQ(again.size(), batch.size());
  for (const Reply& r : again) EXPECT_EQ(r.code, ReplyCode::kSkipped) << r.ToString();
  EXPECT_EQ(node.Digest(), before);

  std::vector<Reply> none = {Reply{}};
  ASSERT_TRUE(node.replica().Apply({}, &none).ok());
  EXPECT_TRUE(none.empty()) << "an empty batch has no replies";
}

TEST(KvReplica, NoopEntriesAdvanceTheAppliedIndexAndChangeNothingElse) {
  TempDir tmp;
  Node node(tmp.Sub("node"));
  ASSERT_TRUE(node.Open().ok());
  const uint64_t client = node.Register();
  node.CommitPuts(client, 1, 3, "k");
  const StateDigest before = node.Digest();

  // A new leader's no-op, in a new term, between commands.
  node.term = 2;
  std::vector<raft::Entry> batch = node.MakeNoops(2);
  for (raft::Entry& e : node.Make({EncPut({client, 4, 4, 100}, "after", "v")})) batch.push_back(e);
  for (raft::Entry& e : node.MakeNoops(1)) batch.push_back(e);
  const std::vector<Reply> replies = node.SaveAndApply(batch);
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_TRUE(replies[2].ok()) << replies[2].ToString();
  EXPECT_EQ(node.replica().kv().AppliedIndex(), batch.back().index);
  EXPECT_EQ(node.replica().kv().AppliedTerm(), 2u);

  Reply got;
  ASSERT_TRUE(node.replica().kv().Get("after", &got).ok());
  EXPECT_EQ(got.value, std::optional<std::string>("v")) << "the put between the no-ops was applied";
  EXPECT_GT(node.Digest().applied.index, before.applied.index);

  // Only no-ops: the index moves; data, sessions and the leader clock do not.
  // (The digest's hash covers the applied index too, so it is no use here.)
  const StateDigest mid = node.Digest();
  const size_t sessions = node.replica().kv().SessionCount();
  const size_t cached = node.replica().kv().CachedReplyCount(client);
  const std::vector<raft::Entry> noops = node.MakeNoops(3);
  const std::vector<Reply> noopReplies = node.SaveAndApply(noops);
  for (const Reply& r : noopReplies) EXPECT_NE(r.code, ReplyCode::kSkipped) << r.ToString();
  const StateDigest after = node.Digest();
  EXPECT_EQ(after.applied.index, noops.back().index);
  EXPECT_EQ(after.applied.term, 2u);
  EXPECT_EQ(after.applied.leaderTimeMs, mid.applied.leaderTimeMs);
  EXPECT_EQ(node.replica().kv().SessionCount(), sessions);
  EXPECT_EQ(node.replica().kv().CachedReplyCount(client), cached);
  for (const std::string key : {"k0", "k1", "k2", "after"}) {
    Reply r;
    ASSERT_TRUE(node.replica().kv().Get(key, &r).ok());
    EXPECT_TRUE(r.ok()) << key << ": " << r.ToString();
  }
}

// ------------------------------------------------------------ MaybeSnapshot

TEST(KvReplica, MaybeSnapshotCompactsTheLogOnceSnapshotEntriesAreAppliedAndNotBefore) {
  TempDir tmp;
  Node node(tmp.Sub("node"));
  node.options.snapshotEntries = 5;
  ASSERT_TRUE(node.Open().ok());
  const uint64_t client = node.Register();  // index 1
  uint64_t lastSnapshot = 0;
  int taken = 0;
  for (uint64_t seq = 1; seq <= 11; ++seq) {
    node.Commit({EncPut({client, seq, seq, seq}, "k" + std::to_string(seq), "v")});
    const uint64_t applied = node.replica().kv().AppliedIndex();
    bool took = true;
    Status s = node.replica().MaybeSnapshot(kVoters, &took);
    ASSERT_TRUE(s.ok()) << s.ToString();
    const bool due = applied - lastSnapshot >= 5;
    EXPECT_EQ(took, due) << "at applied index " << applied;
    if (due) {
      lastSnapshot = applied;
      ++taken;
    }
    EXPECT_EQ(node.log().Snapshot().lastIncludedIndex, lastSnapshot) << "at " << applied;
    EXPECT_EQ(node.log().FirstIndex(), lastSnapshot + 1);
    EXPECT_EQ(node.log().LastIndex(), applied) << "compaction keeps the entries past it";
    if (lastSnapshot > 0) {
      ASSERT_TRUE(node.replica().LatestSnapshot().has_value());
      EXPECT_EQ(node.replica().LatestSnapshot()->appliedIndex, lastSnapshot)
          << "the log names the snapshot the store keeps";
      EXPECT_EQ(node.log().Snapshot().voters, kVoters);
      EXPECT_EQ(node.log().Snapshot().lastIncludedTerm, 1u);
    } else {
      EXPECT_FALSE(node.replica().LatestSnapshot().has_value());
    }
  }
  EXPECT_EQ(taken, 2) << "at 5 and 10";
  bool took = true;
  ASSERT_TRUE(node.replica().MaybeSnapshot(kVoters, &took).ok());
  EXPECT_FALSE(took) << "nothing applied since";
}

TEST(KvReplica, FlushAheadIsDueOncePerSnapshotIntervalAtThreeQuartersOfIt) {
  TempDir tmp;
  Node node(tmp.Sub("node"));
  node.options.snapshotEntries = 8;
  ASSERT_TRUE(node.Open().ok());
  const uint64_t client = node.Register();  // index 1
  std::vector<uint64_t> dueAt;
  for (uint64_t seq = 1; seq <= 19; ++seq) {
    node.Commit({EncPut({client, seq, seq, seq}, "k" + std::to_string(seq), "v")});
    if (node.replica().FlushAheadDue()) dueAt.push_back(node.replica().kv().AppliedIndex());
    bool took = false;
    ASSERT_TRUE(node.replica().MaybeSnapshot(kVoters, &took).ok());
  }
  // Snapshots at 8 and 16; flushes due 6 entries into each interval.
  EXPECT_EQ(dueAt, (std::vector<uint64_t>{6, 14}));
  EXPECT_EQ(node.log().Snapshot().lastIncludedIndex, 16u);
}

TEST(KvReplica, MaybeSnapshotCompactsTheLogOnceSnapshotBytesAreAppliedAndNotBefore) {
  TempDir tmp;
  Node node(tmp.Sub("node"));
  node.options.snapshotBytes = 1000;
  ASSERT_TRUE(node.Open().ok());
  uint64_t bytes = 0;  // command bytes applied since the last snapshot
  int taken = 0;
  uint64_t client = 0;
  for (uint64_t seq = 0; seq <= 16; ++seq) {
    const std::vector<raft::Entry> e =
        seq == 0 ? node.Make({EncRegister(0)})
                 : node.Make({EncPut({client, seq, seq, seq}, "k" + std::to_string(seq),
                                     std::string(200, 'v'))});
    const std::vector<Reply> replies = node.SaveAndApply(e);
    if (seq == 0) client = replies[0].clientId;
    bytes += e[0].data.size();
    bool took = true;
    Status s = node.replica().MaybeSnapshot(kVoters, &took);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(took, bytes >= 1000) << bytes << " bytes since the last snapshot, at " << e[0].index;
    if (took) {
      bytes = 0;
      ++taken;
      EXPECT_EQ(node.log().Snapshot().lastIncludedIndex, e[0].index);
      EXPECT_EQ(node.log().FirstIndex(), e[0].index + 1);
    }
  }
  EXPECT_GE(taken, 2);
}

// A leader may apply entries that a quorum of followers hold before its own
// write of them completes: its log may not be compacted past its own end.
TEST(KvReplica, MaybeSnapshotNeverCompactsPastTheLogsLastIndex) {
  TempDir tmp;
  Node node(tmp.Sub("node"));
  node.options.snapshotEntries = 3;
  ASSERT_TRUE(node.Open().ok());
  const std::vector<raft::Entry> entries =
      node.Make({EncRegister(0), EncPut({1, 1, 1, 1}, "a", "1"), EncPut({1, 2, 2, 2}, "b", "2"),
                 EncPut({1, 3, 3, 3}, "c", "3"), EncPut({1, 4, 4, 4}, "d", "4")});
  node.Save({entries.begin(), entries.begin() + 2});
  node.Apply(entries);
  ASSERT_EQ(node.replica().kv().AppliedIndex(), 5u);
  ASSERT_EQ(node.log().LastIndex(), 2u);

  bool took = true;
  ASSERT_TRUE(node.replica().MaybeSnapshot(kVoters, &took).ok());
  EXPECT_FALSE(took);
  ASSERT_TRUE(node.replica().Snapshot(kVoters).ok());
  EXPECT_EQ(node.log().Snapshot().lastIncludedIndex, 0u);
  EXPECT_EQ(node.log().FirstIndex(), 1u);
  EXPECT_EQ(node.log().LastIndex(), 2u);
  EXPECT_FALSE(node.replica().LatestSnapshot().has_value())
      << "no checkpoint either: the log could not be compacted to it";

  // Once the log holds them, the snapshot comes.
  node.Save({entries.begin() + 2, entries.end()});
  ASSERT_TRUE(node.replica().MaybeSnapshot(kVoters, &took).ok());
  EXPECT_TRUE(took);
  EXPECT_EQ(node.log().Snapshot().lastIncludedIndex, 5u);
  EXPECT_EQ(node.log().FirstIndex(), 6u);
}

// ------------------------------------------------------------ Checkpoint, CompactLog

// kvd checkpoints on a thread of its own and compacts the log on its loop
// later; entries applied in between stay in the log.
TEST(KvReplica, CompactLogCompactsThroughTheCheckpointNotThroughTheStateAppliedSince) {
  TempDir tmp;
  Node node(tmp.Sub("node"));
  node.options.snapshotEntries = 5;
  ASSERT_TRUE(node.Open().ok());
  const uint64_t client = node.Register();  // index 1
  node.CommitPuts(client, 1, 5, "a");        // 2..6
  ASSERT_TRUE(node.replica().SnapshotDue());
  SnapshotInfo info;
  Status s = node.replica().Checkpoint(&info);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(info.appliedIndex, 6u);
  node.CommitPuts(client, 6, 3, "b");  // 7..9
  EXPECT_EQ(node.log().Snapshot().lastIncludedIndex, 0u) << "not compacted before CompactLog";
  KvReplica::Compaction outcome = KvReplica::Compaction::kNotYet;
  s = node.replica().CompactLog(info, kVoters, &outcome);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(outcome, KvReplica::Compaction::kDone);
  EXPECT_EQ(node.log().Snapshot().lastIncludedIndex, 6u);
  EXPECT_EQ(node.log().FirstIndex(), 7u);
  EXPECT_EQ(node.log().LastIndex(), 9u);
  EXPECT_EQ(node.replica().LatestSnapshot()->appliedIndex, 6u);
  EXPECT_FALSE(node.replica().SnapshotDue()) << "3 entries since the snapshot";

  // A crash now replays 7..9 from the log onto the state the kv instance kept.
  const StateDigest before = node.Digest();
  node.Crash();
  ASSERT_TRUE(node.Open().ok());
  ASSERT_GE(node.replica().kv().AppliedIndex(), 6u);
  std::vector<raft::Entry> replay;
  ASSERT_TRUE(node.log().Entries(node.replica().kv().AppliedIndex() + 1, 10, UINT64_MAX, &replay).ok());
  node.Apply(replay);
  EXPECT_EQ(node.Digest(), before);
}

TEST(KvReplica, CompactLogWaitsForTheLogsEndAndGivesWayToANewerSnapshot) {
  TempDir tmp;
  Node node(tmp.Sub("node"));
  ASSERT_TRUE(node.Open().ok());
  const std::vector<raft::Entry> entries =
      node.Make({EncRegister(0), EncPut({1, 1, 1, 1}, "a", "1"), EncPut({1, 2, 2, 2}, "b", "2"),
                 EncPut({1, 3, 3, 3}, "c", "3")});
  // A leader's apply ahead of its own log write: the checkpoint is at 4,
  // the log ends at 2.
  node.Save({entries.begin(), entries.begin() + 2});
  node.Apply(entries);
  SnapshotInfo early;
  ASSERT_TRUE(node.replica().Checkpoint(&early).ok());
  ASSERT_EQ(early.appliedIndex, 4u);
  KvReplica::Compaction outcome = KvReplica::Compaction::kDone;
  ASSERT_TRUE(node.replica().CompactLog(early, kVoters, &outcome).ok());
  EXPECT_EQ(outcome, KvReplica::Compaction::kNotYet);
  EXPECT_EQ(node.log().Snapshot().lastIncludedIndex, 0u);
  node.Save({entries.begin() + 2, entries.end()});

  // Meanwhile a newer snapshot compacted the log further (an operator's
  // SnapshotNow here; an install from the leader likewise).
  node.Commit({EncPut({1, 4, 4, 4}, "d", "4")});  // 5
  ASSERT_TRUE(node.replica().Snapshot(kVoters).ok());
  ASSERT_EQ(node.log().Snapshot().lastIncludedIndex, 5u);
  ASSERT_TRUE(node.replica().CompactLog(early, kVoters, &outcome).ok());
  EXPECT_EQ(outcome, KvReplica::Compaction::kSuperseded);
  EXPECT_EQ(node.log().Snapshot().lastIncludedIndex, 5u) << "the older snapshot changed nothing";
  EXPECT_EQ(node.replica().LatestSnapshot()->appliedIndex, 5u);
}

// ------------------------------------------------------------ restart

// The kv instance writes without WAL: after a crash it is back at its last
// checkpoint, and the log, compacted only through that, replays the rest.
TEST(KvReplica, AfterACrashTheLogReplaysFromTheLastSnapshotToTheSameState) {
  TempDir tmp;
  Node node(tmp.Sub("node"));
  ASSERT_TRUE(node.Open().ok());
  const uint64_t client = node.Register();
  node.CommitPuts(client, 1, 7, "before");
  ASSERT_TRUE(node.replica().Snapshot(kVoters).ok());
  ASSERT_EQ(node.log().Snapshot().lastIncludedIndex, 8u);

  std::map<uint64_t, Reply> replies;
  for (uint64_t seq = 8; seq <= 14; ++seq) {
    const std::vector<raft::Entry> e = node.Make(
        {seq % 3 == 0 ? EncGet({client, seq, seq, seq}, "before1")
                      : EncPut({client, seq, seq, seq}, "after" + std::to_string(seq), "v")});
    replies[e[0].index] = node.SaveAndApply(e)[0];
  }
  const StateDigest digest = node.Digest();
  ASSERT_EQ(digest.applied.index, 15u);

  node.Crash();
  node.ReopenLog();
  ASSERT_TRUE(node.Open().ok());
  EXPECT_EQ(node.replica().kv().AppliedIndex(), 8u) << "the durable index: the last snapshot's";
  EXPECT_EQ(node.replica().LatestSnapshot()->appliedIndex, 8u);
  EXPECT_EQ(node.log().Snapshot().lastIncludedIndex, 8u);

  const std::vector<raft::Entry> rest = LogFrom(node.log(), 9);
  ASSERT_EQ(rest.size(), 7u);
  const std::vector<Reply> again = node.Apply(rest);
  for (size_t i = 0; i < rest.size(); ++i) {
    EXPECT_EQ(again[i], replies[rest[i].index]) << "entry " << rest[i].index << " answers the same";
  }
  EXPECT_EQ(node.Digest(), digest);
}

TEST(KvReplica, AfterACrashWithoutASnapshotTheWholeLogReplays) {
  TempDir tmp;
  Node node(tmp.Sub("node"));
  ASSERT_TRUE(node.Open().ok());
  node.CommitPuts(node.Register(), 1, 5, "k");
  const StateDigest digest = node.Digest();
  node.Crash();
  node.ReopenLog();
  ASSERT_TRUE(node.Open().ok());
  EXPECT_EQ(node.replica().kv().AppliedIndex(), 0u);
  EXPECT_FALSE(node.replica().LatestSnapshot().has_value());
  node.Apply(LogFrom(node.log(), 1));
  EXPECT_EQ(node.Digest(), digest);
}

// ------------------------------------------------------------ install

TEST(KvReplica, ASnapshotStreamedFromTheLeaderGivesTheFollowerItsStateLogAndSnapshot) {
  TempDir tmp;
  LeaderAndFollower c(tmp, /*common=*/3, /*ahead=*/60);
  const uint64_t index = c.meta.lastIncludedIndex;
  ASSERT_EQ(c.meta.voters, kVoters);
  const std::vector<raft::SnapshotChunk> chunks =
      ReadChunks(c.leader.replica().snapshots(), c.meta, 2048);
  ASSERT_GT(chunks.size(), 3u) << "the test needs a stream of several Readies";

  Status s = Deliver(c.follower.replica(), ChunkReadies(chunks, 3, c.meta));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.follower.Digest(), c.atSnapshot);
  EXPECT_EQ(c.follower.log().Snapshot(), c.meta);
  EXPECT_EQ(c.follower.log().FirstIndex(), index + 1);
  EXPECT_EQ(c.follower.log().LastIndex(), index) << "the log holds no entries";
  ASSERT_TRUE(c.follower.replica().LatestSnapshot().has_value());
  EXPECT_EQ(c.follower.replica().LatestSnapshot()->appliedIndex, index);
  EXPECT_EQ(DigestOfSnapshot(c.follower.replica().snapshots(), index, tmp.Sub("third")),
            c.atSnapshot)
      << "the follower can serve the snapshot on, should it lead";

  // Both go on with the same entries to the same state.
  c.follower.next = index + 1;
  c.follower.term = 2;
  const std::vector<raft::Entry> more = c.leader.Make(
      {EncPut({1, 500, 500, 500}, "more", "x"), EncGet({1, 501, 501, 501}, "ahead0")});
  EXPECT_EQ(c.leader.SaveAndApply(more), c.follower.SaveAndApply(more));
  EXPECT_EQ(c.follower.Digest(), c.leader.Digest());

  // The install is durable: a crash right after it comes back to it.
  c.follower.Crash();
  c.follower.ReopenLog();
  ASSERT_TRUE(c.follower.Open().ok());
  EXPECT_EQ(c.follower.replica().kv().AppliedIndex(), index);
  EXPECT_EQ(c.follower.log().Snapshot(), c.meta);
}

TEST(KvReplica, ASnapshotMayArriveInTheSameReadyAsItsLastChunks) {
  TempDir tmp;
  LeaderAndFollower c(tmp, /*common=*/2, /*ahead=*/30);
  raft::Ready ready;
  ready.snapshotChunks = ReadChunks(c.leader.replica().snapshots(), c.meta, 1 << 20);
  ready.snapshot = c.meta;
  Status s = c.follower.replica().InstallFromReady(ready);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.follower.Digest(), c.atSnapshot);
  EXPECT_EQ(c.follower.log().Snapshot(), c.meta);
  EXPECT_EQ(c.follower.replica().LatestSnapshot()->appliedIndex, c.meta.lastIncludedIndex);
}

// A follower whose loop fell behind takes many messages in one step: the
// last chunk of one snapshot, and then the first chunks of the leader's
// next one, all in one Ready that installs the first. Seen with 1 MB
// values: the later chunks made the install look unfinished and the node
// stopped.
TEST(KvReplica, ChunksOfTheNextSnapshotAfterTheCompletedOneInTheSameReadyDoNotUndoItsInstall) {
  TempDir tmp;
  LeaderAndFollower c(tmp, /*common=*/3, /*ahead=*/40);
  const raft::SnapshotMeta first = c.meta;
  const std::vector<raft::SnapshotChunk> firstChunks =
      ReadChunks(c.leader.replica().snapshots(), first, 1024);

  c.leader.CommitPuts(1, 100, 20, "next");
  ASSERT_TRUE(c.leader.replica().Snapshot(kVoters).ok());
  const raft::SnapshotMeta next = c.leader.log().Snapshot();
  ASSERT_GT(next.lastIncludedIndex, first.lastIncludedIndex);
  const std::vector<raft::SnapshotChunk> nextChunks =
      ReadChunks(c.leader.replica().snapshots(), next, 1024);
  ASSERT_GT(nextChunks.size(), 2u);

  raft::Ready both;
  both.snapshotChunks = firstChunks;
  both.snapshotChunks.insert(both.snapshotChunks.end(), nextChunks.begin(), nextChunks.begin() + 2);
  both.snapshot = first;
  Status s = c.follower.replica().InstallFromReady(both);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.follower.Digest(), c.atSnapshot);
  EXPECT_EQ(c.follower.log().Snapshot(), first);

  raft::Ready rest;
  rest.snapshotChunks.assign(nextChunks.begin() + 2, nextChunks.end());
  rest.snapshot = next;
  s = c.follower.replica().InstallFromReady(rest);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.follower.Digest(), c.leader.Digest());
  EXPECT_EQ(c.follower.log().Snapshot(), next);
}

// The leader's snapshot may be replaced mid-transfer (kAborted from its
// source): the core starts over at offset 0 with the new one, and what was
// staged of the old one must not get in the way.
TEST(KvReplica, ATransferRestartedWithANewerSnapshotInstallsTheNewerOne) {
  TempDir tmp;
  LeaderAndFollower c(tmp, /*common=*/3, /*ahead=*/40);
  const raft::SnapshotMeta older = c.meta;
  const std::vector<raft::SnapshotChunk> olderChunks =
      ReadChunks(c.leader.replica().snapshots(), older, 1024);
  ASSERT_GT(olderChunks.size(), 4u);
  Status s = Deliver(c.follower.replica(),
                     ChunkReadies({olderChunks.begin(), olderChunks.begin() + 4}, 2, std::nullopt));
  ASSERT_TRUE(s.ok()) << s.ToString();

  c.leader.CommitPuts(1, 100, 20, "newer");
  ASSERT_TRUE(c.leader.replica().Snapshot(kVoters).ok());
  const raft::SnapshotMeta newer = c.leader.log().Snapshot();
  ASSERT_GT(newer.lastIncludedIndex, older.lastIncludedIndex);
  std::string data;
  bool last = false;
  ASSERT_EQ(c.leader.replica()
                .snapshots()
                .ReadSnapshotChunk(older.lastIncludedIndex, olderChunks[4].offset, 1024, &data, &last)
                .code(),
            Code::kAborted);

  s = Deliver(c.follower.replica(),
              ChunkReadies(ReadChunks(c.leader.replica().snapshots(), newer, 1024), 3, newer));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.follower.Digest(), c.leader.Digest());
  EXPECT_EQ(c.follower.log().Snapshot(), newer);
  EXPECT_EQ(c.follower.replica().LatestSnapshot()->appliedIndex, newer.lastIncludedIndex);
  EXPECT_EQ(DigestOfSnapshot(c.follower.replica().snapshots(), newer.lastIncludedIndex,
                             tmp.Sub("third")),
            c.leader.Digest());
}

// ------------------------------------------------------------ Open after a crash

// Install order: kv swap, checkpoint, log. A crash after the swap leaves a
// kv state that no log entry and no snapshot account for.
TEST(KvReplica, OpenFinishesAnInstallThatACrashCutShortAfterTheKvSwap) {
  TempDir tmp;
  LeaderAndFollower c(tmp, /*common=*/3, /*ahead=*/40);
  const uint64_t index = c.meta.lastIncludedIndex;
  for (const raft::SnapshotChunk& chunk : ReadChunks(c.leader.replica().snapshots(), c.meta, 4096)) {
    SnapshotInfo installed;
    Status s = c.follower.replica().kv().InstallSnapshotChunk(chunk.offset, chunk.data, chunk.done,
                                                              &installed);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  ASSERT_EQ(c.follower.replica().kv().AppliedIndex(), index);
  ASSERT_EQ(c.follower.log().LastIndex(), 3u);

  c.follower.Crash();
  c.follower.ReopenLog();
  Status s = c.follower.Open();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.follower.replica().kv().AppliedIndex(), index);
  EXPECT_EQ(c.follower.log().Snapshot().lastIncludedIndex, index);
  EXPECT_EQ(c.follower.log().Snapshot().lastIncludedTerm, c.meta.lastIncludedTerm);
  EXPECT_EQ(c.follower.log().Snapshot().voters, kVoters);
  EXPECT_EQ(c.follower.log().LastIndex(), index) << "the log's older entries went with the install";
  ASSERT_TRUE(c.follower.replica().LatestSnapshot().has_value());
  EXPECT_EQ(c.follower.replica().LatestSnapshot()->appliedIndex, index);
  EXPECT_EQ(c.follower.Digest(), c.atSnapshot);
  EXPECT_EQ(DigestOfSnapshot(c.follower.replica().snapshots(), index, tmp.Sub("third")),
            c.atSnapshot);

  // It was finished for good: the log change is on disk.
  c.follower.Crash();
  c.follower.ReopenLog();
  ASSERT_TRUE(c.follower.Open().ok());
  EXPECT_EQ(c.follower.log().Snapshot().lastIncludedIndex, index);
}

TEST(KvReplica, OpenFinishesAnInstallThatACrashCutShortAfterTheCheckpoint) {
  TempDir tmp;
  LeaderAndFollower c(tmp, /*common=*/3, /*ahead=*/40);
  const uint64_t index = c.meta.lastIncludedIndex;
  c.follower.Crash();
  {
    // The swap and the checkpoint, without the log step.
    KvStateMachine::Options o;
    o.dir = c.follower.dir() + "/kv";
    std::unique_ptr<KvStateMachine> kv;
    ASSERT_TRUE(KvStateMachine::Open(o, &kv).ok());
    for (const raft::SnapshotChunk& chunk : ReadChunks(c.leader.replica().snapshots(), c.meta, 4096)) {
      SnapshotInfo installed;
      ASSERT_TRUE(kv->InstallSnapshotChunk(chunk.offset, chunk.data, chunk.done, &installed).ok());
    }
    std::unique_ptr<statemachine::SnapshotStore> store;
    ASSERT_TRUE(statemachine::SnapshotStore::Open(c.follower.dir() + "/snapshots", &store).ok());
    SnapshotInfo info;
    ASSERT_TRUE(store->Take(*kv, &info).ok());
    ASSERT_EQ(info.appliedIndex, index);
  }
  c.follower.ReopenLog();
  ASSERT_EQ(c.follower.log().LastIndex(), 3u);
  Status s = c.follower.Open();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.follower.log().Snapshot().lastIncludedIndex, index);
  EXPECT_EQ(c.follower.log().LastIndex(), index);
  EXPECT_EQ(c.follower.replica().LatestSnapshot()->appliedIndex, index);
  EXPECT_EQ(c.follower.Digest(), c.atSnapshot);
}

// Compaction order: checkpoint, then log. A crash between the two leaves a
// snapshot newer than the one the log names.
TEST(KvReplica, OpenCompactsTheLogToACheckpointThatACrashKeptItFrom) {
  TempDir tmp;
  Node node(tmp.Sub("node"));
  ASSERT_TRUE(node.Open().ok());
  const uint64_t client = node.Register();
  node.CommitPuts(client, 1, 5, "a");
  ASSERT_TRUE(node.replica().Snapshot(kVoters).ok());
  ASSERT_EQ(node.log().Snapshot().lastIncludedIndex, 6u);
  node.CommitPuts(client, 6, 6, "b");
  const StateDigest digest = node.Digest();
  ASSERT_EQ(digest.applied.index, 12u);
  node.Crash();
  {
    KvStateMachine::Options o;
    o.dir = node.dir() + "/kv";
    std::unique_ptr<KvStateMachine> kv;
    ASSERT_TRUE(KvStateMachine::Open(o, &kv).ok());
    ASSERT_EQ(kv->AppliedIndex(), 6u);
    std::vector<statemachine::AppliedCommand> batch;
    const std::vector<raft::Entry> rest = LogFrom(node.log(), 7);
    for (const raft::Entry& e : rest) batch.push_back({e.index, e.term, e.data});
    std::vector<Reply> replies;
    ASSERT_TRUE(kv->ApplyBatch(batch, &replies).ok());
    std::unique_ptr<statemachine::SnapshotStore> store;
    ASSERT_TRUE(statemachine::SnapshotStore::Open(node.dir() + "/snapshots", &store).ok());
    SnapshotInfo info;
    ASSERT_TRUE(store->Take(*kv, &info).ok());
    ASSERT_EQ(info.appliedIndex, 12u);
  }
  node.ReopenLog();
  ASSERT_EQ(node.log().Snapshot().lastIncludedIndex, 6u);

  Status s = node.Open();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(node.log().Snapshot().lastIncludedIndex, 12u);
  EXPECT_EQ(node.log().Snapshot().lastIncludedTerm, 1u);
  EXPECT_EQ(node.log().Snapshot().voters, kVoters);
  EXPECT_EQ(node.log().FirstIndex(), 13u);
  EXPECT_EQ(node.replica().LatestSnapshot()->appliedIndex, 12u);
  EXPECT_EQ(node.replica().kv().AppliedIndex(), 12u);
  EXPECT_EQ(node.Digest(), digest);
}

// Entries the log no longer has cannot be replayed: Open must not carry on
// with a state that silently misses them.
TEST(KvReplica, OpenRefusesKvStateBehindTheLogsSnapshotAndSaysWhatToDo) {
  TempDir tmp;
  Node node(tmp.Sub("node"));
  ASSERT_TRUE(node.Open().ok());
  node.CommitPuts(node.Register(), 1, 4, "a");
  ASSERT_TRUE(node.replica().Snapshot(kVoters).ok());
  node.CommitPuts(1, 5, 5, "b");
  node.Crash();  // the kv instance is back at 5
  raft::SnapshotMeta meta;
  meta.lastIncludedIndex = 8;
  meta.lastIncludedTerm = 1;
  meta.voters = kVoters;
  ASSERT_TRUE(node.log().CreateSnapshot(meta).ok());

  Status s = node.Open();
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("compacted through 8"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("at index 5"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("Remove the node's data directory"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find(node.dir()), std::string::npos) << "it names the directory";
  EXPECT_EQ(node.log().Snapshot(), meta) << "the refused Open changed nothing";
}

// A snapshot whose state was removed by hand is made again from the kv state.
TEST(KvReplica, OpenRetakesTheSnapshotTheLogNamesWhenItIsGone) {
  TempDir tmp;
  Node node(tmp.Sub("node"));
  ASSERT_TRUE(node.Open().ok());
  node.CommitPuts(node.Register(), 1, 4, "a");
  ASSERT_TRUE(node.replica().Snapshot(kVoters).ok());
  const StateDigest digest = node.Digest();
  node.Crash();
  fs::remove_all(node.dir() + "/snapshots");
  ASSERT_TRUE(node.Open().ok());
  ASSERT_TRUE(node.replica().LatestSnapshot().has_value());
  EXPECT_EQ(node.replica().LatestSnapshot()->appliedIndex, 5u);
  EXPECT_EQ(DigestOfSnapshot(node.replica().snapshots(), 5, tmp.Sub("third")), digest);
}

// ------------------------------------------------------------ refusals

TEST(KvReplica, InstallFromReadyRefusesASnapshotNotNewerThanTheKvState) {
  TempDir tmp;
  Node follower(tmp.Sub("follower"));
  ASSERT_TRUE(follower.Open().ok());
  std::vector<std::string> commands = {EncRegister(0)};
  for (uint64_t seq = 1; seq < 10; ++seq) {
    commands.push_back(EncPut({1, seq, seq, seq}, "k" + std::to_string(seq), "v"));
  }
  follower.Commit(commands);
  ASSERT_EQ(follower.replica().kv().AppliedIndex(), 10u);
  const StateDigest before = follower.Digest();

  for (const size_t leaderIndex : {size_t{8}, size_t{10}}) {
    SCOPED_TRACE("a snapshot at " + std::to_string(leaderIndex));
    Node leader(tmp.Sub("leader" + std::to_string(leaderIndex)), LogKind::kMemory);
    ASSERT_TRUE(leader.Open().ok());
    leader.Commit({commands.begin(), commands.begin() + leaderIndex});
    ASSERT_TRUE(leader.replica().Snapshot(kVoters).ok());
    const raft::SnapshotMeta meta = leader.log().Snapshot();
    ASSERT_EQ(meta.lastIncludedIndex, leaderIndex);

    const std::vector<raft::SnapshotChunk> chunks =
        ReadChunks(leader.replica().snapshots(), meta, 4096);
    EXPECT_FALSE(Deliver(follower.replica(), ChunkReadies(chunks, 2, meta)).ok());
    raft::Ready first;
    first.snapshotChunks = {chunks.front()};
    EXPECT_FALSE(follower.replica().InstallFromReady(first).ok());
    EXPECT_EQ(follower.Digest(), before);
    EXPECT_EQ(follower.log().Snapshot().lastIncludedIndex, 0u);
    EXPECT_EQ(follower.log().LastIndex(), 10u);
    EXPECT_FALSE(follower.replica().LatestSnapshot().has_value());
  }

  raft::Ready below;
  below.snapshot = raft::SnapshotMeta{8, 1, kVoters};
  EXPECT_FALSE(follower.replica().InstallFromReady(below).ok())
      << "a snapshot to install below the kv state, without chunks";
  EXPECT_EQ(follower.log().LastIndex(), 10u);
  EXPECT_EQ(follower.Digest(), before);
}

TEST(KvReplica, InstallFromReadyRefusesASnapshotWhoseChunksNeverCompleted) {
  TempDir tmp;
  LeaderAndFollower c(tmp, /*common=*/3, /*ahead=*/40);
  const StateDigest before = c.follower.Digest();
  std::vector<raft::SnapshotChunk> chunks =
      ReadChunks(c.leader.replica().snapshots(), c.meta, 2048);
  ASSERT_GT(chunks.size(), 2u);

  raft::Ready nothingStaged;
  nothingStaged.snapshot = c.meta;
  EXPECT_FALSE(c.follower.replica().InstallFromReady(nothingStaged).ok());

  const std::vector<raft::SnapshotChunk> allButLast(chunks.begin(), chunks.end() - 1);
  Status s = Deliver(c.follower.replica(), ChunkReadies(allButLast, 2, std::nullopt));
  ASSERT_TRUE(s.ok()) << s.ToString();
  raft::Ready install;
  install.snapshot = c.meta;
  EXPECT_FALSE(c.follower.replica().InstallFromReady(install).ok());

  EXPECT_EQ(c.follower.replica().kv().AppliedIndex(), 3u);
  EXPECT_EQ(c.follower.Digest(), before);
  EXPECT_EQ(c.follower.log().Snapshot().lastIncludedIndex, 0u);
  EXPECT_EQ(c.follower.log().LastIndex(), 3u);
  EXPECT_FALSE(c.follower.replica().LatestSnapshot().has_value());

  // The core starts the transfer over; that one completes.
  s = Deliver(c.follower.replica(), ChunkReadies(chunks, 2, c.meta));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.follower.Digest(), c.atSnapshot);
  EXPECT_EQ(c.follower.log().Snapshot(), c.meta);
}

}  // namespace
}  // namespace kvraft::core
