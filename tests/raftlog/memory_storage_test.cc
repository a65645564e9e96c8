// MemoryStorage: the Storage contract (raftlog/storage.h) the core relies
// on, checked on the in-memory implementation the simulator uses.
#include "raftlog/memory_storage.h"
#include "tests/raftlog/test_util.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kvraft::raft {
namespace {

using test_util::E;
using test_util::Meta;

using Code = Status::Code;

uint64_t TermAt(const MemoryStorage& s, uint64_t index) {
  uint64_t term = 0;
  Status st = s.Term(index, &term);
  EXPECT_TRUE(st.ok()) << "Term(" << index << "): " << st.ToString();
  return term;
}

Code TermCode(const MemoryStorage& s, uint64_t index) {
  uint64_t term = 0;
  return s.Term(index, &term).code();
}

// Entries 1..n with the given terms.
MemoryStorage WithTerms(const std::vector<uint64_t>& terms) {
  MemoryStorage s;
  std::vector<Entry> entries;
  for (size_t i = 0; i < terms.size(); ++i) entries.push_back(E(i + 1, terms[i], "e" + std::to_string(i + 1)));
  EXPECT_TRUE(s.Save(nullptr, entries).ok());
  return s;
}

std::vector<uint64_t> Indexes(const std::vector<Entry>& entries) {
  std::vector<uint64_t> out;
  for (const Entry& e : entries) out.push_back(e.index);
  return out;
}

TEST(MemoryStorage, EmptyLogHasOnlyTheZeroSentinel) {
  MemoryStorage s;
  EXPECT_EQ(s.FirstIndex(), 1u);
  EXPECT_EQ(s.LastIndex(), 0u);
  // Index 0 is the "entry before the first", with term 0: every
  // AppendEntries with prevLogIndex 0 matches it.
  EXPECT_EQ(TermAt(s, 0), 0u);
  EXPECT_EQ(TermCode(s, 1), Code::kUnavailable);
  EXPECT_EQ(s.InitialHardState(), HardState{});
}

TEST(MemoryStorage, SaveAppendsAndSetsHardState) {
  MemoryStorage s;
  HardState hs{3, 2, 1};
  ASSERT_TRUE(s.Save(&hs, {E(1, 1), E(2, 3)}).ok());
  EXPECT_EQ(s.LastIndex(), 2u);
  EXPECT_EQ(TermAt(s, 2), 3u);
  EXPECT_EQ(s.InitialHardState(), hs);

  // Entries alone leave the hard state; the hard state alone leaves the log.
  ASSERT_TRUE(s.Save(nullptr, {E(3, 3)}).ok());
  EXPECT_EQ(s.InitialHardState(), hs);
  HardState hs2{4, 0, 3};
  ASSERT_TRUE(s.Save(&hs2, {}).ok());
  EXPECT_EQ(s.InitialHardState(), hs2);
  EXPECT_EQ(s.LastIndex(), 3u);
}

// Figure 2, AppendEntries step 3: the new entries replace the stored
// suffix from their first index on, including entries past their end.
TEST(MemoryStorage, SaveOverwritesTheSuffix) {
  MemoryStorage s = WithTerms({1, 1, 1, 1, 1});
  ASSERT_TRUE(s.Save(nullptr, {E(3, 2, "new3"), E(4, 2, "new4")}).ok());
  EXPECT_EQ(s.LastIndex(), 4u);
  EXPECT_EQ(TermAt(s, 2), 1u);
  EXPECT_EQ(TermAt(s, 3), 2u);
  EXPECT_EQ(TermCode(s, 5), Code::kUnavailable) << "entry 5 of the old suffix survived";
  std::vector<Entry> out;
  ASSERT_TRUE(s.Entries(1, 5, UINT64_MAX, &out).ok());
  EXPECT_EQ(out, (std::vector<Entry>{E(1, 1, "e1"), E(2, 1, "e2"), E(3, 2, "new3"), E(4, 2, "new4")}));

  // Appending right after the end is a plain append.
  ASSERT_TRUE(s.Save(nullptr, {E(5, 2)}).ok());
  EXPECT_EQ(s.LastIndex(), 5u);
}

TEST(MemoryStorage, SaveRejectsHolesAndEntriesUnderTheSnapshot) {
  MemoryStorage s = WithTerms({1, 1, 1});
  EXPECT_EQ(s.Save(nullptr, {E(5, 1)}).code(), Code::kInvalidArgument);
  EXPECT_EQ(s.LastIndex(), 3u);

  ASSERT_TRUE(s.CreateSnapshot(Meta(2, 1)).ok());
  EXPECT_EQ(s.Save(nullptr, {E(2, 1)}).code(), Code::kInvalidArgument);
  EXPECT_EQ(s.LastIndex(), 3u);
  // Right after the snapshot is fine: it replaces entry 3.
  ASSERT_TRUE(s.Save(nullptr, {E(3, 2)}).ok());
  EXPECT_EQ(TermAt(s, 3), 2u);
}

TEST(MemoryStorage, EntriesReturnsRangeWithinByteLimit) {
  MemoryStorage s;
  std::vector<Entry> entries;
  for (uint64_t i = 1; i <= 5; ++i) entries.push_back(E(i, 1, std::string(100, 'x')));
  ASSERT_TRUE(s.Save(nullptr, entries).ok());
  const uint64_t each = 100 + 16;  // what MemoryStorage charges per entry

  std::vector<Entry> out;
  ASSERT_TRUE(s.Entries(2, 5, UINT64_MAX, &out).ok());
  EXPECT_EQ(Indexes(out), (std::vector<uint64_t>{2, 3, 4}));

  out.clear();
  ASSERT_TRUE(s.Entries(1, 6, 2 * each, &out).ok());
  EXPECT_EQ(Indexes(out), (std::vector<uint64_t>{1, 2})) << "exactly at the limit";

  out.clear();
  ASSERT_TRUE(s.Entries(1, 6, 2 * each + 1, &out).ok());
  EXPECT_EQ(Indexes(out), (std::vector<uint64_t>{1, 2})) << "the third would exceed the limit";

  // Progress is guaranteed: one entry even if it alone is over the limit.
  out.clear();
  ASSERT_TRUE(s.Entries(3, 6, 1, &out).ok());
  EXPECT_EQ(Indexes(out), (std::vector<uint64_t>{3}));

  out.clear();
  ASSERT_TRUE(s.Entries(4, 4, UINT64_MAX, &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(MemoryStorage, EntriesAndTermFailOnCompactedOrMissingIndexes) {
  MemoryStorage s = WithTerms({1, 1, 2, 2, 3});
  ASSERT_TRUE(s.CreateSnapshot(Meta(3, 2)).ok());
  std::vector<Entry> out;
  EXPECT_EQ(s.Entries(3, 5, UINT64_MAX, &out).code(), Code::kCompacted);
  EXPECT_EQ(s.Entries(1, 2, UINT64_MAX, &out).code(), Code::kCompacted);
  EXPECT_EQ(s.Entries(4, 7, UINT64_MAX, &out).code(), Code::kUnavailable);
  EXPECT_TRUE(out.empty());

  EXPECT_EQ(TermCode(s, 2), Code::kCompacted);
  EXPECT_EQ(TermAt(s, 3), 2u) << "the snapshot's last entry keeps its term";
  EXPECT_EQ(TermAt(s, 5), 3u);
  EXPECT_EQ(TermCode(s, 6), Code::kUnavailable);
}

TEST(MemoryStorage, BootstrapSetsTheVoters) {
  MemoryStorage s;
  s.Bootstrap({1, 2, 3});
  EXPECT_EQ(s.Snapshot().voters, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_EQ(s.Snapshot().lastIncludedIndex, 0u);
  EXPECT_EQ(s.FirstIndex(), 1u);
}

}  // namespace
}  // namespace kvraft::raft
