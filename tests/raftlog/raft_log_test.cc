// RaftLog: the core's view of its log, stable entries in Storage plus an
// unstable tail not yet written. These tests pin down the boundary between
// the two, where an off-by-one loses or resurrects entries.
#include "raftlog/raft_log.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "raftlog/memory_storage.h"
#include "tests/raftlog/test_util.h"

namespace kvraft::raft {
namespace {

using test_util::E;
using test_util::Meta;

using Code = Status::Code;

// Entries first..first+terms.size()-1 with the given terms.
std::vector<Entry> Ents(uint64_t first, const std::vector<uint64_t>& terms, size_t dataBytes = 0) {
  std::vector<Entry> out;
  for (size_t i = 0; i < terms.size(); ++i) {
    out.push_back(E(first + i, terms[i], std::string(dataBytes, 'a' + static_cast<char>(i % 26))));
  }
  return out;
}

std::vector<uint64_t> Indexes(const std::vector<Entry>& entries) {
  std::vector<uint64_t> out;
  for (const Entry& e : entries) out.push_back(e.index);
  return out;
}

// What the node does with a Ready's entries: write them, then tell the log.
void Persist(RaftLog& log, MemoryStorage& storage) {
  const std::vector<Entry> entries = log.TakeUnhandedEntries();
  ASSERT_TRUE(storage.Save(nullptr, entries).ok());
  if (!entries.empty()) log.StableTo(entries.back().index, entries.back().term);
}

TEST(RaftLog, EmptyLog) {
  MemoryStorage s;
  RaftLog log(&s);
  EXPECT_EQ(log.FirstIndex(), 1u);
  EXPECT_EQ(log.LastIndex(), 0u);
  EXPECT_EQ(log.LastTerm(), 0u);
  EXPECT_EQ(log.Term(0), 0u);
  EXPECT_EQ(log.Term(1), std::nullopt);
  EXPECT_EQ(log.committed(), 0u);
  EXPECT_EQ(log.applied(), 0u);
  EXPECT_FALSE(log.HasUnhandedEntries());
}

TEST(RaftLog, StartsFromWhatStorageHolds) {
  MemoryStorage s;
  ASSERT_TRUE(s.Save(nullptr, Ents(1, {1, 1, 2, 2, 3})).ok());
  ASSERT_TRUE(s.CreateSnapshot(Meta(2, 1)).ok());
  HardState hs{3, 1, 4};
  ASSERT_TRUE(s.Save(&hs, {}).ok());
  RaftLog log(&s);
  EXPECT_EQ(log.FirstIndex(), 3u);
  EXPECT_EQ(log.LastIndex(), 5u);
  EXPECT_EQ(log.LastTerm(), 3u);
  EXPECT_EQ(log.DurableIndex(), 5u);
  EXPECT_EQ(log.committed(), 4u) << "commitIndex is restored from the hard state";
  EXPECT_EQ(log.applied(), 2u) << "the state machine restarts from the snapshot";
  EXPECT_EQ(log.Term(2), 1u);
  EXPECT_EQ(log.Term(1), std::nullopt) << "compacted";
  EXPECT_FALSE(log.HasUnhandedEntries());
}

TEST(RaftLog, AppendThenPersist) {
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1, 1, 2}));
  EXPECT_EQ(log.LastIndex(), 3u);
  EXPECT_EQ(log.LastTerm(), 2u);
  EXPECT_EQ(log.Term(2), 1u);
  EXPECT_EQ(log.Term(4), std::nullopt);
  EXPECT_EQ(log.DurableIndex(), 0u);
  EXPECT_TRUE(log.HasUnhandedEntries());

  const std::vector<Entry> handed = log.TakeUnhandedEntries();
  EXPECT_EQ(Indexes(handed), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_FALSE(log.HasUnhandedEntries()) << "entries are handed out once";
  EXPECT_EQ(log.DurableIndex(), 0u) << "handed out is not yet durable";

  ASSERT_TRUE(s.Save(nullptr, handed).ok());
  log.StableTo(3, 2);
  EXPECT_EQ(log.DurableIndex(), 3u);
  EXPECT_EQ(log.Term(3), 2u) << "now read from storage";
}

// Figure 2, AppendEntries steps 3-4 (etcd's TestFindConflict).
TEST(RaftLog, FindConflict) {
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1, 2, 3}));
  struct Case {
    std::vector<Entry> entries;
    uint64_t want;
  };
  const Case cases[] = {
      {{}, 0},                                 // nothing to check
      {Ents(1, {1, 2, 3}), 0},                 // all present
      {Ents(2, {2, 3}), 0},                    // a present suffix
      {Ents(3, {3}), 0},                       //
      {Ents(2, {2, 3, 4, 4}), 4},              // new entries past the end
      {Ents(4, {4, 4}), 4},                    //
      {Ents(1, {4, 4}), 1},                    // a conflict at the first entry
      {Ents(2, {1, 4, 4}), 2},                 //
      {Ents(3, {1, 2, 4, 4}), 3},              //
      {Ents(2, {2, 4}), 3},                    // a conflict after a match
  };
  for (const Case& c : cases) {
    EXPECT_EQ(log.FindConflict(c.entries), c.want)
        << "entries from " << (c.entries.empty() ? 0 : c.entries.front().index);
  }
}

// §5.4.1: last term first, then length.
TEST(RaftLog, IsUpToDate) {
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1, 2, 3}));
  EXPECT_TRUE(log.IsUpToDate(1, 4)) << "higher last term wins even if shorter";
  EXPECT_FALSE(log.IsUpToDate(5, 2)) << "lower last term loses even if longer";
  EXPECT_TRUE(log.IsUpToDate(3, 3));
  EXPECT_TRUE(log.IsUpToDate(4, 3));
  EXPECT_FALSE(log.IsUpToDate(2, 3));
}

TEST(RaftLog, AppendTruncatesTheUnstableSuffix) {
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1, 1, 1, 1, 1}));
  log.Append(Ents(3, {2}));
  EXPECT_EQ(log.LastIndex(), 3u) << "entries after a replaced one must go";
  EXPECT_EQ(log.Term(3), 2u);
  EXPECT_EQ(log.Term(2), 1u);
  EXPECT_EQ(Indexes(log.TakeUnhandedEntries()), (std::vector<uint64_t>{1, 2, 3}));
}

// A conflict inside the stable part: the new entries shadow the stored ones
// at once, before they are written over.
TEST(RaftLog, AppendOverStableEntriesShadowsStorage) {
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1, 1, 1, 1}));
  Persist(log, s);
  ASSERT_EQ(log.DurableIndex(), 4u);

  log.Append(Ents(3, {2, 2}));
  EXPECT_EQ(log.LastIndex(), 4u);
  EXPECT_EQ(log.Term(3), 2u) << "the new entry, not storage's stale one";
  EXPECT_EQ(log.Term(2), 1u);
  EXPECT_EQ(log.DurableIndex(), 2u) << "entries from 3 on are no longer durable";
  std::vector<Entry> out;
  ASSERT_TRUE(log.Slice(1, 5, UINT64_MAX, &out).ok());
  EXPECT_EQ(out[2], E(3, 2, std::string()));
  EXPECT_EQ(Indexes(out), (std::vector<uint64_t>{1, 2, 3, 4}));
  // The node must rewrite from the conflict on.
  EXPECT_EQ(Indexes(log.TakeUnhandedEntries()), (std::vector<uint64_t>{3, 4}));
}

// An Append while an earlier batch is being written: only the new part is
// handed out, and the part replaced meanwhile is handed out again.
TEST(RaftLog, HandsOutOnlyWhatIsNew) {
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1, 1, 1}));
  const std::vector<Entry> first = log.TakeUnhandedEntries();
  log.Append(Ents(4, {1, 1}));
  EXPECT_EQ(Indexes(log.TakeUnhandedEntries()), (std::vector<uint64_t>{4, 5}));
  log.Append(Ents(2, {2}));
  EXPECT_EQ(Indexes(log.TakeUnhandedEntries()), (std::vector<uint64_t>{2}));
  EXPECT_EQ(log.LastIndex(), 2u);
}

TEST(RaftLog, StableToIgnoresReplacedAndUnknownEntries) {
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1, 1, 1}));
  const std::vector<Entry> batch = log.TakeUnhandedEntries();
  // While the batch was being written, entry 3 was replaced by a new leader's.
  log.Append(Ents(3, {2}));
  ASSERT_TRUE(s.Save(nullptr, batch).ok());
  log.StableTo(3, 1);
  EXPECT_EQ(log.DurableIndex(), 0u) << "entry 3 of term 1 is not the one in the log";
  EXPECT_EQ(log.Term(3), 2u);

  log.StableTo(9, 1);  // past the end
  EXPECT_EQ(log.DurableIndex(), 0u);

  log.StableTo(2, 1);  // the part of the batch that was not replaced
  EXPECT_EQ(log.DurableIndex(), 2u);
  EXPECT_EQ(log.Term(3), 2u);
  log.StableTo(1, 1);  // already stable
  EXPECT_EQ(log.DurableIndex(), 2u);
}

// Slice reads storage up to the unstable offset, then the unstable tail,
// under one byte budget for both (each entry costs data + 16 bytes).
TEST(RaftLog, SliceAcrossTheStorageBoundary) {
  constexpr size_t kData = 84;
  constexpr uint64_t kEach = kData + 16;
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1, 1, 1}, kData));
  Persist(log, s);
  log.Append(Ents(4, {1, 1, 1}, kData));
  ASSERT_EQ(log.DurableIndex(), 3u);

  struct Case {
    uint64_t lo, hi, maxBytes;
    std::vector<uint64_t> want;
  };
  const Case cases[] = {
      {2, 6, UINT64_MAX, {2, 3, 4, 5}},
      {1, 7, UINT64_MAX, {1, 2, 3, 4, 5, 6}},
      {1, 3, UINT64_MAX, {1, 2}},          // storage only
      {4, 7, UINT64_MAX, {4, 5, 6}},       // unstable only
      {3, 5, UINT64_MAX, {3, 4}},          // one of each
      {2, 6, 2 * kEach, {2, 3}},           // limit reached at the boundary
      {2, 6, 2 * kEach + kEach / 2, {2, 3}},
      {2, 6, 3 * kEach, {2, 3, 4}},        // limit reached past the boundary
      {1, 7, kEach, {1}},
      {2, 6, 1, {2}},                      // at least one entry, from storage
      {5, 7, 1, {5}},                      // at least one entry, unstable
      {1, 7, 4 * kEach, {1, 2, 3, 4}},
  };
  for (const Case& c : cases) {
    std::vector<Entry> out;
    ASSERT_TRUE(log.Slice(c.lo, c.hi, c.maxBytes, &out).ok());
    EXPECT_EQ(Indexes(out), c.want) << "Slice(" << c.lo << ", " << c.hi << ", " << c.maxBytes << ")";
  }

  std::vector<Entry> out;
  ASSERT_TRUE(log.Slice(4, 4, UINT64_MAX, &out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(log.Slice(2, 8, UINT64_MAX, &out).code(), Code::kUnavailable);
}

TEST(RaftLog, SliceBelowTheSnapshotIsCompacted) {
  MemoryStorage s;
  ASSERT_TRUE(s.Save(nullptr, Ents(1, {1, 1, 1, 1})).ok());
  ASSERT_TRUE(s.CreateSnapshot(Meta(2, 1)).ok());
  RaftLog log(&s);
  std::vector<Entry> out;
  EXPECT_EQ(log.Slice(2, 4, UINT64_MAX, &out).code(), Code::kCompacted);
  ASSERT_TRUE(log.Slice(3, 5, UINT64_MAX, &out).ok());
  EXPECT_EQ(Indexes(out), (std::vector<uint64_t>{3, 4}));
}

// Figure 13 step 7: a snapshot from the leader replaces the whole log,
// until the node installs it and the log reads from storage again.
TEST(RaftLog, RestoreFromSnapshot) {
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1, 1, 2}));
  Persist(log, s);
  log.Append(Ents(4, {2, 2}));
  log.CommitTo(2);

  const SnapshotMeta meta = Meta(10, 3);
  log.Restore(meta);
  ASSERT_TRUE(log.pendingSnapshot().has_value());
  EXPECT_EQ(*log.pendingSnapshot(), meta);
  EXPECT_FALSE(log.snapshotHanded());
  EXPECT_EQ(log.FirstIndex(), 11u);
  EXPECT_EQ(log.LastIndex(), 10u);
  EXPECT_EQ(log.LastTerm(), 3u);
  EXPECT_EQ(log.Term(10), 3u);
  EXPECT_EQ(log.Term(3), std::nullopt) << "the old log is gone, stored or not";
  EXPECT_EQ(log.Term(5), std::nullopt);
  EXPECT_EQ(log.committed(), 10u);
  EXPECT_EQ(log.applied(), 10u) << "the state machine is replaced, not replayed";
  EXPECT_FALSE(log.HasUnhandedEntries());
  EXPECT_FALSE(log.HasCommittedToHand());

  // Entries after the snapshot may arrive before it is installed.
  log.Append(Ents(11, {3}));
  EXPECT_EQ(log.LastIndex(), 11u);
  EXPECT_TRUE(log.MatchTerm(10, 3));

  log.MarkSnapshotHanded();
  ASSERT_TRUE(s.InstallSnapshot(meta).ok());
  log.SnapshotInstalled(meta);
  EXPECT_FALSE(log.pendingSnapshot().has_value());
  EXPECT_EQ(log.FirstIndex(), 11u);
  EXPECT_EQ(log.Term(10), 3u) << "now from storage";
  const std::vector<Entry> handed = log.TakeUnhandedEntries();
  EXPECT_EQ(Indexes(handed), (std::vector<uint64_t>{11}));
  ASSERT_TRUE(s.Save(nullptr, handed).ok());
  log.StableTo(11, 3);
  EXPECT_EQ(log.DurableIndex(), 11u);
  EXPECT_EQ(s.LastIndex(), 11u);
}

TEST(RaftLog, SnapshotInstalledForAnOlderSnapshotKeepsThePendingOne) {
  MemoryStorage s;
  RaftLog log(&s);
  log.Restore(Meta(5, 1));
  log.Restore(Meta(8, 2));
  log.SnapshotInstalled(Meta(5, 1));
  ASSERT_TRUE(log.pendingSnapshot().has_value());
  EXPECT_EQ(log.pendingSnapshot()->lastIncludedIndex, 8u);
}

// The conflict hint of a rejection (§5.3, "fast backup").
TEST(RaftLog, FirstIndexOfTermAt) {
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1, 1, 2, 2, 2, 3}));
  EXPECT_EQ(log.FirstIndexOfTermAt(1), 1u);
  EXPECT_EQ(log.FirstIndexOfTermAt(2), 1u);
  EXPECT_EQ(log.FirstIndexOfTermAt(5), 3u);
  EXPECT_EQ(log.FirstIndexOfTermAt(3), 3u);
  EXPECT_EQ(log.FirstIndexOfTermAt(6), 6u);
  EXPECT_EQ(log.FirstIndexOfTermAt(9), 9u) << "no entry there: the index itself";
}

TEST(RaftLog, FirstIndexOfTermAtStopsAtTheFirstIndex) {
  MemoryStorage s;
  ASSERT_TRUE(s.Save(nullptr, Ents(1, {1, 2, 2, 2, 2, 3})).ok());
  ASSERT_TRUE(s.CreateSnapshot(Meta(3, 2)).ok());
  RaftLog log(&s);
  ASSERT_EQ(log.FirstIndex(), 4u);
  // Entries 2 and 3 are of term 2 as well, but only 4 on can be sent.
  EXPECT_EQ(log.FirstIndexOfTermAt(5), 4u);
  EXPECT_EQ(log.FirstIndexOfTermAt(6), 6u);
}

TEST(RaftLog, LastIndexOfTerm) {
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1, 1, 2, 2, 2, 3, 5}));
  EXPECT_EQ(log.LastIndexOfTerm(1), 2u);
  EXPECT_EQ(log.LastIndexOfTerm(2), 5u);
  EXPECT_EQ(log.LastIndexOfTerm(3), 6u);
  EXPECT_EQ(log.LastIndexOfTerm(5), 7u);
  EXPECT_EQ(log.LastIndexOfTerm(4), 0u) << "a term the log skipped";
  EXPECT_EQ(log.LastIndexOfTerm(6), 0u) << "a term after the log's last";
}

TEST(RaftLog, LastIndexOfTermAcrossStorageAndCompaction) {
  MemoryStorage s;
  ASSERT_TRUE(s.Save(nullptr, Ents(1, {1, 1, 2, 2})).ok());
  ASSERT_TRUE(s.CreateSnapshot(Meta(2, 1)).ok());
  RaftLog log(&s);
  log.Append(Ents(5, {3, 3}));
  EXPECT_EQ(log.LastIndexOfTerm(2), 4u) << "in storage";
  EXPECT_EQ(log.LastIndexOfTerm(3), 6u) << "in the unstable tail";
  EXPECT_EQ(log.LastIndexOfTerm(1), 2u) << "the snapshot's last entry";
}

TEST(RaftLog, CommitIndexNeverMovesBack) {
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1, 1, 1}));
  log.CommitTo(2);
  EXPECT_EQ(log.committed(), 2u);
  log.CommitTo(1);
  EXPECT_EQ(log.committed(), 2u);
  log.CommitTo(3);
  EXPECT_EQ(log.committed(), 3u);
}

TEST(RaftLog, TakeCommittedToHandRespectsTheByteLimit) {
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1, 1, 1, 1}, 84));
  Persist(log, s);
  log.CommitTo(3);
  EXPECT_TRUE(log.HasCommittedToHand());
  EXPECT_EQ(Indexes(log.TakeCommittedToHand(2 * 100)), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(log.applied(), 2u);
  EXPECT_EQ(Indexes(log.TakeCommittedToHand(UINT64_MAX)), (std::vector<uint64_t>{3}));
  EXPECT_FALSE(log.HasCommittedToHand()) << "entry 4 is not committed";
  EXPECT_TRUE(log.TakeCommittedToHand(UINT64_MAX).empty());
}

// Leader Completeness (§5.4): a committed entry is never replaced; the log
// stops the node rather than let a bug do it.
TEST(RaftLogDeathTest, AppendOverACommittedEntryDies) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1, 1, 1}));
  log.CommitTo(2);
  EXPECT_DEATH(log.Append(Ents(2, {2})), "overwrite committed entry 2");
}

TEST(RaftLogDeathTest, AppendLeavingAHoleDies) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  MemoryStorage s;
  RaftLog log(&s);
  log.Append(Ents(1, {1}));
  EXPECT_DEATH(log.Append(Ents(3, {1})), "hole");
}

}  // namespace
}  // namespace kvraft::raft

namespace kvraft::raft {
namespace {

// A store whose entry 2 fails its checksum.
class CorruptAtTwo : public MemoryStorage {
 public:
  Status Term(uint64_t index, uint64_t* term) const override {
    if (index == 2) return Status::Corruption("entry 2 fails its checksum");
    return MemoryStorage::Term(index, term);
  }
  Status Entries(uint64_t lo, uint64_t hi, uint64_t maxBytes,
                 std::vector<Entry>* out) const override {
    if (lo <= 2 && hi > 2) return Status::Corruption("entry 2 fails its checksum");
    return MemoryStorage::Entries(lo, hi, maxBytes, out);
  }
};

// DESIGN.md: a corrupt entry stops the node with a clear message; it is
// never taken for a missing one (which would send the protocol elsewhere).
TEST(RaftLogDeathTest, CorruptStoredEntryStopsTheNode) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  CorruptAtTwo s;
  ASSERT_TRUE(s.Save(nullptr, Ents(1, {1, 1, 1})).ok());
  RaftLog log(&s);
  EXPECT_DEATH(log.Term(2), "entry 2 fails its checksum");
  std::vector<Entry> out;
  EXPECT_DEATH(log.Slice(1, 4, 1 << 20, &out).ok(), "entry 2 fails its checksum");
}

}  // namespace
}  // namespace kvraft::raft
