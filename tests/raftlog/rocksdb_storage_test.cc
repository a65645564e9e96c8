// RocksDbStorage: the Storage contract (raftlog/storage.h), checked as typed
// tests against MemoryStorage and several configurations of the RocksDB
// store so that the two provably agree; a randomised differential test;
// the byte layout (log_codec.h); the tail cache; and what only a durable
// store has: reopening, identity, concurrent readers.
#include "raftlog/rocksdb_storage.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "raftlog/log_codec.h"
#include "raftlog/memory_storage.h"
#include "tests/raftlog/test_util.h"

namespace kvraft::raft {
namespace {

using test_util::E;
using test_util::Meta;
using test_util::TempDir;

namespace fs = std::filesystem;
using Code = Status::Code;

// A directory under /tmp for one test, removed with everything in it.

std::vector<uint64_t> Indexes(const std::vector<Entry>& entries) {
  std::vector<uint64_t> out;
  for (const Entry& e : entries) out.push_back(e.index);
  return out;
}

RocksDbStorage::Options StoreOptions(const std::string& dir, uint64_t tailCacheBytes = 16 << 20) {
  RocksDbStorage::Options o;
  o.dir = dir;
  o.clusterId = "test-cluster";
  o.nodeId = 1;
  o.voters = {1, 2, 3};
  o.tailCacheBytes = tailCacheBytes;
  return o;
}

std::unique_ptr<RocksDbStorage> MustOpen(const RocksDbStorage::Options& o) {
  std::unique_ptr<RocksDbStorage> s;
  Status st = RocksDbStorage::Open(o, &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

// ------------------------------------------------------------ harnesses

// What every typed test runs against. Reopen() marks the points where a
// durable store is closed and opened again in the reopening variant, so
// that what the test checks next must have come back from disk.
struct MemoryHarness {
  MemoryHarness() { store.Bootstrap({1, 2, 3}); }
  Storage& get() { return store; }
  void Reopen() {}
  MemoryStorage store;
};

template <uint64_t kTailCacheBytes, bool kReopens>
struct RocksDbHarness {
  RocksDbHarness() { store = MustOpen(StoreOptions(tmp.path() + "/raft", kTailCacheBytes)); }
  Storage& get() {
    // gtest reports an exception as this test's failure (MustOpen already
    // said why the open failed) instead of crashing the whole binary.
    if (store == nullptr) throw std::runtime_error("the store did not open");
    return *store;
  }
  void Reopen() {
    if (!kReopens) return;
    store.reset();
    store = MustOpen(StoreOptions(tmp.path() + "/raft", kTailCacheBytes));
  }
  TempDir tmp{"kvraft-store-test"};
  std::unique_ptr<RocksDbStorage> store;
};

using RocksDbCached = RocksDbHarness<16 << 20, false>;       // every read from the tail cache
using RocksDbUncached = RocksDbHarness<0, false>;            // every read from RocksDB
using RocksDbTinyCacheReopened = RocksDbHarness<300, true>;  // both, and reopened at each checkpoint

struct HarnessNames {
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, MemoryHarness>) return "Memory";
    if (std::is_same_v<T, RocksDbCached>) return "RocksDbCached";
    if (std::is_same_v<T, RocksDbUncached>) return "RocksDbUncached";
    return "RocksDbTinyCacheReopened";
  }
};

template <typename H>
class StorageContract : public ::testing::Test {
 protected:
  Storage& s() { return h_.get(); }
  void Reopen() { h_.Reopen(); }

  uint64_t TermAt(uint64_t index) {
    uint64_t term = 0;
    Status st = s().Term(index, &term);
    EXPECT_TRUE(st.ok()) << "Term(" << index << "): " << st.ToString();
    return term;
  }
  Code TermCode(uint64_t index) {
    uint64_t term = 0;
    return s().Term(index, &term).code();
  }
  // Entries 1..n with the given terms, data "e<index>".
  void SaveTerms(const std::vector<uint64_t>& terms) {
    std::vector<Entry> entries;
    for (size_t i = 0; i < terms.size(); ++i) entries.push_back(E(i + 1, terms[i], "e" + std::to_string(i + 1)));
    ASSERT_TRUE(s().Save(nullptr, entries).ok());
  }
  std::vector<Entry> All() {
    std::vector<Entry> out;
    Status st = s().Entries(s().FirstIndex(), s().LastIndex() + 1, UINT64_MAX, &out);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  H h_;
};

using Harnesses = ::testing::Types<MemoryHarness, RocksDbCached, RocksDbUncached, RocksDbTinyCacheReopened>;
TYPED_TEST_SUITE(StorageContract, Harnesses, HarnessNames);

TYPED_TEST(StorageContract, NewStoreHasOnlyTheZeroSentinelAndTheVoters) {
  this->Reopen();
  Storage& s = this->s();
  EXPECT_EQ(s.FirstIndex(), 1u);
  EXPECT_EQ(s.LastIndex(), 0u);
  EXPECT_EQ(this->TermAt(0), 0u);
  EXPECT_EQ(this->TermCode(1), Code::kUnavailable);
  EXPECT_EQ(s.InitialHardState(), HardState{});
  EXPECT_EQ(s.Snapshot().voters, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_EQ(s.Snapshot().lastIncludedIndex, 0u);
}

TYPED_TEST(StorageContract, SaveAppendsAndSetsHardState) {
  HardState hs{3, 2, 1};
  ASSERT_TRUE(this->s().Save(&hs, {E(1, 1, "a"), E(2, 3, "b")}).ok());
  this->Reopen();
  EXPECT_EQ(this->s().LastIndex(), 2u);
  EXPECT_EQ(this->TermAt(2), 3u);
  EXPECT_EQ(this->s().InitialHardState(), hs);

  // Entries alone leave the hard state; the hard state alone leaves the log.
  ASSERT_TRUE(this->s().Save(nullptr, {E(3, 3, "c")}).ok());
  this->Reopen();
  EXPECT_EQ(this->s().InitialHardState(), hs);
  HardState hs2{4, 0, 3};
  ASSERT_TRUE(this->s().Save(&hs2, {}).ok());
  this->Reopen();
  EXPECT_EQ(this->s().InitialHardState(), hs2);
  EXPECT_EQ(this->All(), (std::vector<Entry>{E(1, 1, "a"), E(2, 3, "b"), E(3, 3, "c")}));
  // Nothing to write is not a write.
  ASSERT_TRUE(this->s().Save(nullptr, {}).ok());
  EXPECT_EQ(this->s().InitialHardState(), hs2);
}

TYPED_TEST(StorageContract, EntryTypesAndEmptyPayloadsRoundTrip) {
  Entry noop = E(1, 2);
  noop.type = EntryType::kNoop;
  Entry big = E(2, 2, std::string(100000, 'z'));
  ASSERT_TRUE(this->s().Save(nullptr, {noop, big}).ok());
  this->Reopen();
  EXPECT_EQ(this->All(), (std::vector<Entry>{noop, big}));
}

// Figure 2, AppendEntries step 3: the new entries replace the stored
// suffix from their first index on, including entries past their end.
TYPED_TEST(StorageContract, SaveOverwritesTheSuffix) {
  this->SaveTerms({1, 1, 1, 1, 1});
  ASSERT_TRUE(this->s().Save(nullptr, {E(3, 2, "new3"), E(4, 2, "new4")}).ok());
  this->Reopen();
  EXPECT_EQ(this->s().LastIndex(), 4u);
  EXPECT_EQ(this->TermCode(5), Code::kUnavailable) << "entry 5 of the old suffix survived";
  EXPECT_EQ(this->All(), (std::vector<Entry>{E(1, 1, "e1"), E(2, 1, "e2"), E(3, 2, "new3"), E(4, 2, "new4")}));

  // A replacement longer than the suffix it replaces.
  ASSERT_TRUE(this->s().Save(nullptr, {E(4, 3, "x4"), E(5, 3, "x5"), E(6, 3, "x6")}).ok());
  this->Reopen();
  EXPECT_EQ(this->All(), (std::vector<Entry>{E(1, 1, "e1"), E(2, 1, "e2"), E(3, 2, "new3"),
                                             E(4, 3, "x4"), E(5, 3, "x5"), E(6, 3, "x6")}));
  // Replacing the whole log, from its first entry.
  ASSERT_TRUE(this->s().Save(nullptr, {E(1, 4, "y1")}).ok());
  this->Reopen();
  EXPECT_EQ(this->All(), (std::vector<Entry>{E(1, 4, "y1")}));
  // Appending right after the end is a plain append.
  ASSERT_TRUE(this->s().Save(nullptr, {E(2, 4, "y2")}).ok());
  EXPECT_EQ(this->s().LastIndex(), 2u);
}

TYPED_TEST(StorageContract, SaveRejectsHolesAndEntriesUnderTheSnapshot) {
  this->SaveTerms({1, 1, 1});
  EXPECT_EQ(this->s().Save(nullptr, {E(5, 1)}).code(), Code::kInvalidArgument);
  EXPECT_EQ(this->s().LastIndex(), 3u);

  ASSERT_TRUE(this->s().CreateSnapshot(Meta(2, 1)).ok());
  EXPECT_EQ(this->s().Save(nullptr, {E(2, 1)}).code(), Code::kInvalidArgument);
  this->Reopen();
  EXPECT_EQ(this->s().LastIndex(), 3u);
  // Right after the snapshot is fine: it replaces entry 3.
  ASSERT_TRUE(this->s().Save(nullptr, {E(3, 2)}).ok());
  EXPECT_EQ(this->TermAt(3), 2u);
}

TYPED_TEST(StorageContract, EntriesReturnsRangeWithinByteLimit) {
  std::vector<Entry> entries;
  for (uint64_t i = 1; i <= 5; ++i) entries.push_back(E(i, 1, std::string(100, 'a' + i)));
  ASSERT_TRUE(this->s().Save(nullptr, entries).ok());
  this->Reopen();
  const uint64_t each = 100 + 16;  // what MemoryStorage charges per entry
  Storage& s = this->s();

  std::vector<Entry> out;
  ASSERT_TRUE(s.Entries(2, 5, UINT64_MAX, &out).ok());
  EXPECT_EQ(out, (std::vector<Entry>{entries[1], entries[2], entries[3]}));

  out.clear();
  ASSERT_TRUE(s.Entries(1, 6, 2 * each, &out).ok());
  EXPECT_EQ(Indexes(out), (std::vector<uint64_t>{1, 2})) << "exactly at the limit";

  out.clear();
  ASSERT_TRUE(s.Entries(1, 6, 2 * each + 1, &out).ok());
  EXPECT_EQ(Indexes(out), (std::vector<uint64_t>{1, 2})) << "the third would exceed the limit";

  out.clear();
  ASSERT_TRUE(s.Entries(3, 6, 1, &out).ok());
  EXPECT_EQ(Indexes(out), (std::vector<uint64_t>{3})) << "one entry even if it alone is over";

  out.clear();
  ASSERT_TRUE(s.Entries(4, 4, UINT64_MAX, &out).ok());
  EXPECT_TRUE(out.empty());
}

TYPED_TEST(StorageContract, EntriesAndTermFailOnCompactedOrMissingIndexes) {
  this->SaveTerms({1, 1, 2, 2, 3});
  ASSERT_TRUE(this->s().CreateSnapshot(Meta(3, 2)).ok());
  this->Reopen();
  std::vector<Entry> out;
  EXPECT_EQ(this->s().Entries(3, 5, UINT64_MAX, &out).code(), Code::kCompacted);
  EXPECT_EQ(this->s().Entries(1, 2, UINT64_MAX, &out).code(), Code::kCompacted);
  EXPECT_EQ(this->s().Entries(4, 7, UINT64_MAX, &out).code(), Code::kUnavailable);
  EXPECT_TRUE(out.empty());

  EXPECT_EQ(this->TermCode(2), Code::kCompacted);
  EXPECT_EQ(this->TermAt(3), 2u) << "the snapshot's last entry keeps its term";
  EXPECT_EQ(this->TermAt(5), 3u);
  EXPECT_EQ(this->TermCode(6), Code::kUnavailable);
}

// §7: the application snapshots what it has applied; the entries the
// snapshot covers are discarded, later ones stay.
TYPED_TEST(StorageContract, CreateSnapshotCompactsThePrefix) {
  this->SaveTerms({1, 1, 2, 2, 3, 3});
  ASSERT_TRUE(this->s().CreateSnapshot(Meta(4, 2)).ok());
  this->Reopen();
  EXPECT_EQ(this->s().Snapshot(), Meta(4, 2));
  EXPECT_EQ(this->s().FirstIndex(), 5u);
  EXPECT_EQ(this->s().LastIndex(), 6u);
  EXPECT_EQ(this->All(), (std::vector<Entry>{E(5, 3, "e5"), E(6, 3, "e6")}));

  // An older (or the same) snapshot changes nothing.
  ASSERT_TRUE(this->s().CreateSnapshot(Meta(2, 1)).ok());
  ASSERT_TRUE(this->s().CreateSnapshot(Meta(4, 2)).ok());
  this->Reopen();
  EXPECT_EQ(this->s().Snapshot(), Meta(4, 2));
  EXPECT_EQ(this->s().FirstIndex(), 5u);

  // A snapshot of the whole log leaves it empty but keeps its position.
  ASSERT_TRUE(this->s().CreateSnapshot(Meta(6, 3)).ok());
  this->Reopen();
  EXPECT_EQ(this->s().FirstIndex(), 7u);
  EXPECT_EQ(this->s().LastIndex(), 6u);
  EXPECT_EQ(this->TermAt(6), 3u);
  ASSERT_TRUE(this->s().Save(nullptr, {E(7, 4)}).ok());
  EXPECT_EQ(this->s().LastIndex(), 7u);

  // The application cannot have applied entries the log does not hold.
  EXPECT_EQ(this->s().CreateSnapshot(Meta(9, 4)).code(), Code::kInvalidArgument);
  this->Reopen();
  EXPECT_EQ(this->s().Snapshot(), Meta(6, 3));
}

// Figure 13 step 7: a snapshot from the leader replaces the whole log, even
// entries past it (they may conflict), and implies its entries committed.
TYPED_TEST(StorageContract, InstallSnapshotReplacesTheLog) {
  this->SaveTerms({1, 1, 2, 2, 2});
  HardState hs{2, 1, 2};
  ASSERT_TRUE(this->s().Save(&hs, {}).ok());
  ASSERT_TRUE(this->s().InstallSnapshot(Meta(4, 3)).ok());
  this->Reopen();
  EXPECT_EQ(this->s().Snapshot(), Meta(4, 3));
  EXPECT_EQ(this->s().FirstIndex(), 5u);
  EXPECT_EQ(this->s().LastIndex(), 4u) << "entries past the snapshot must go too";
  EXPECT_EQ(this->TermAt(4), 3u);
  EXPECT_EQ(this->TermCode(5), Code::kUnavailable);
  EXPECT_EQ(this->s().InitialHardState(), (HardState{2, 1, 4}));

  ASSERT_TRUE(this->s().Save(nullptr, {E(5, 3, "after")}).ok());
  this->Reopen();
  EXPECT_EQ(this->All(), (std::vector<Entry>{E(5, 3, "after")}));

  // A snapshot past the end of the log, as a far-behind follower gets it.
  ASSERT_TRUE(this->s().InstallSnapshot(Meta(50, 5)).ok());
  this->Reopen();
  EXPECT_EQ(this->s().FirstIndex(), 51u);
  EXPECT_EQ(this->s().LastIndex(), 50u);
  EXPECT_EQ(this->s().InitialHardState().commitIndex, 50u);
}

// ------------------------------------------------------------ differential

// Random writes and reads applied to MemoryStorage and to a RocksDB store
// side by side: after every step the two must answer every read the same,
// status code included.
struct DifferentialConfig {
  uint64_t tailCacheBytes;
  int reopenEvery;  // steps; 0: never
};

class DifferentialTest : public ::testing::TestWithParam<DifferentialConfig> {};

void ExpectSameAnswers(const Storage& want, const Storage& got, std::mt19937_64& rng, int step) {
  SCOPED_TRACE("step " + std::to_string(step));
  ASSERT_EQ(got.FirstIndex(), want.FirstIndex());
  ASSERT_EQ(got.LastIndex(), want.LastIndex());
  ASSERT_EQ(got.Snapshot(), want.Snapshot());
  ASSERT_EQ(got.InitialHardState(), want.InitialHardState());
  const uint64_t first = want.FirstIndex();
  const uint64_t last = want.LastIndex();
  for (uint64_t i = first >= 3 ? first - 3 : 0; i <= last + 2; ++i) {
    uint64_t wt = 0, gt = 0;
    const Status ws = want.Term(i, &wt);
    const Status gs = got.Term(i, &gt);
    ASSERT_EQ(gs.code(), ws.code()) << "Term(" << i << "): " << gs.ToString();
    ASSERT_EQ(gt, wt) << "Term(" << i << ")";
  }
  for (int k = 0; k < 6; ++k) {
    const uint64_t span = last + 4 - (first >= 2 ? first - 2 : 0);
    const uint64_t lo = (first >= 2 ? first - 2 : 0) + rng() % span;
    const uint64_t hi = lo + rng() % 12;
    const uint64_t maxBytes = k == 0 ? UINT64_MAX : rng() % 1500;
    std::vector<Entry> w, g;
    const Status ws = want.Entries(lo, hi, maxBytes, &w);
    const Status gs = got.Entries(lo, hi, maxBytes, &g);
    ASSERT_EQ(gs.code(), ws.code()) << "Entries(" << lo << ", " << hi << ", " << maxBytes << ")";
    ASSERT_EQ(g, w) << "Entries(" << lo << ", " << hi << ", " << maxBytes << ")";
  }
}

TEST_P(DifferentialTest, AgreesWithMemoryStorageOnRandomOperations) {
  const DifferentialConfig config = GetParam();
  TempDir tmp{"kvraft-store-test"};
  const auto options = StoreOptions(tmp.path() + "/raft", config.tailCacheBytes);
  std::unique_ptr<RocksDbStorage> got = MustOpen(options);
  ASSERT_NE(got, nullptr);
  MemoryStorage want;
  want.Bootstrap({1, 2, 3});
  std::mt19937_64 rng(4242);
  uint64_t term = 1;
  auto batch = [&](uint64_t first, uint64_t count) {
    std::vector<Entry> entries;
    for (uint64_t i = first; i < first + count; ++i) {
      Entry e = E(i, term, std::string(rng() % 300, static_cast<char>('a' + rng() % 26)));
      if (rng() % 10 == 0) e.type = EntryType::kNoop;
      entries.push_back(std::move(e));
    }
    return entries;
  };
  for (int step = 0; step < 250; ++step) {
    const uint64_t first = want.FirstIndex();
    const uint64_t last = want.LastIndex();
    const int op = static_cast<int>(rng() % 100);
    Status ws, gs;
    if (op < 50) {  // append, sometimes with a hard state
      const auto entries = batch(last + 1, 1 + rng() % 8);
      HardState hs{term, 1, first - 1};
      const HardState* h = rng() % 2 ? &hs : nullptr;
      ws = want.Save(h, entries);
      gs = got->Save(h, entries);
    } else if (op < 65) {  // a new leader overwrites a suffix
      ++term;
      const uint64_t back = std::min<uint64_t>(last - first + 1, rng() % 6);
      const auto entries = batch(last + 1 - back, 1 + rng() % 8);
      ws = want.Save(nullptr, entries);
      gs = got->Save(nullptr, entries);
    } else if (op < 72) {  // invalid: a hole, or under the snapshot
      const auto entries = batch(rng() % 2 ? last + 2 : (first >= 2 ? first - 1 : last + 3), 2);
      ws = want.Save(nullptr, entries);
      gs = got->Save(nullptr, entries);
    } else if (op < 87) {  // compaction, including stale and future snapshots
      const uint64_t index = (first >= 2 ? first - 2 : 0) + rng() % (last - first + 4);
      uint64_t t = 0;
      SnapshotMeta meta = Meta(index, want.Term(index, &t).ok() ? t : term);
      ws = want.CreateSnapshot(meta);
      gs = got->CreateSnapshot(meta);
    } else if (op < 92) {  // a leader's snapshot
      ++term;
      const uint64_t index = last + rng() % 4;
      ws = want.InstallSnapshot(Meta(index, term));
      gs = got->InstallSnapshot(Meta(index, term));
    } else {  // hard state alone
      HardState hs{term + 1, 2, last};
      ws = want.Save(&hs, {});
      gs = got->Save(&hs, {});
    }
    ASSERT_EQ(gs.code(), ws.code()) << "step " << step << ": " << gs.ToString();
    if (config.reopenEvery > 0 && step % config.reopenEvery == 0) {
      got.reset();
      got = MustOpen(options);
      ASSERT_NE(got, nullptr);
      ASSERT_NE(got, nullptr);
    }
    ExpectSameAnswers(want, *got, rng, step);
    if (HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(
    TailCacheSizes, DifferentialTest,
    ::testing::Values(DifferentialConfig{0, 0}, DifferentialConfig{700, 7},
                      DifferentialConfig{16 << 20, 0}),
    [](const ::testing::TestParamInfo<DifferentialConfig>& info) {
      return "TailCache" + std::to_string(info.param.tailCacheBytes) + "Reopen" +
             std::to_string(info.param.reopenEvery);
    });

// ------------------------------------------------------------ RocksDB only

// Entries, terms and votes are promises and are synced; a commit index
// alone is volatile state in Figure 2 and is written without an fsync, but
// still read back after a clean reopen.
TEST(RocksDbStorage, SavesSyncOnlyWhatIsAPromise) {
  TempDir tmp;
  const RocksDbStorage::Options options = StoreOptions(tmp.path() + "/raft");
  std::unique_ptr<RocksDbStorage> s = MustOpen(options);
  ASSERT_TRUE(s != nullptr);
  HardState hs{.currentTerm = 1, .votedFor = 2, .commitIndex = 0};
  uint64_t synced = s->SyncedWrites();
  ASSERT_TRUE(s->Save(&hs, {}).ok());
  EXPECT_EQ(s->SyncedWrites(), ++synced) << "a new term and vote";
  ASSERT_TRUE(s->Save(nullptr, {E(1, 1), E(2, 1)}).ok());
  EXPECT_EQ(s->SyncedWrites(), ++synced) << "entries";
  hs.commitIndex = 2;
  ASSERT_TRUE(s->Save(&hs, {}).ok());
  EXPECT_EQ(s->SyncedWrites(), synced) << "a commit index alone";
  hs.commitIndex = 3;
  ASSERT_TRUE(s->Save(&hs, {E(3, 1)}).ok());
  EXPECT_EQ(s->SyncedWrites(), ++synced) << "a commit index with entries";
  hs.currentTerm = 2;
  hs.votedFor = kNoNode;
  ASSERT_TRUE(s->Save(&hs, {}).ok());
  EXPECT_EQ(s->SyncedWrites(), ++synced) << "a new term";

  s.reset();
  s = MustOpen(options);
  ASSERT_TRUE(s != nullptr);
  EXPECT_EQ(s->InitialHardState(), hs);
  EXPECT_EQ(s->LastIndex(), 3u);
}

// The write-ahead log's preallocated space is part of its size from the
// start (sized_wal_env.h), so a crashed node's log ends in zeros. A copy of
// the directory taken while the store is open is such a crash image: it must
// open, with every synced entry and nothing else.
TEST(RocksDbStorage, TheWriteAheadLogIsSizedUpFrontAndItsZeroTailReadsAsItsEnd) {
  TempDir tmp;
  const RocksDbStorage::Options options = StoreOptions(tmp.path() + "/raft");
  std::unique_ptr<RocksDbStorage> s = MustOpen(options);
  ASSERT_TRUE(s != nullptr);
  const HardState hs{.currentTerm = 2, .votedFor = 1, .commitIndex = 0};
  ASSERT_TRUE(s->Save(&hs, {E(1, 1, "one"), E(2, 2, "two"), E(3, 2, "three")}).ok());

  uintmax_t largestLog = 0;
  for (const auto& f : std::filesystem::directory_iterator(options.dir)) {
    if (f.path().extension() == ".log") largestLog = std::max(largestLog, f.file_size());
  }
  EXPECT_GE(largestLog, uintmax_t{1} << 20) << "a few hundred bytes written; the rest is preallocated";

  const std::string image = tmp.path() + "/crash-image";
  std::filesystem::copy(options.dir, image);
  RocksDbStorage::Options imageOptions = options;
  imageOptions.dir = image;
  std::unique_ptr<RocksDbStorage> recovered = MustOpen(imageOptions);
  ASSERT_TRUE(recovered != nullptr);
  EXPECT_EQ(recovered->InitialHardState(), hs);
  EXPECT_EQ(recovered->LastIndex(), 3u);
  std::vector<Entry> got;
  ASSERT_TRUE(recovered->Entries(1, 4, UINT64_MAX, &got).ok());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].data, "three");

  // It keeps working after that recovery: a write and a clean reopen.
  ASSERT_TRUE(recovered->Save(nullptr, {E(4, 2, "four")}).ok());
  recovered.reset();
  recovered = MustOpen(imageOptions);
  ASSERT_TRUE(recovered != nullptr);
  EXPECT_EQ(recovered->LastIndex(), 4u);
}

TEST(RocksDbStorage, ReadsAcrossTheTailCacheBoundary) {
  TempDir tmp{"kvraft-store-test"};
  const uint64_t each = 100 + 16;
  auto options = StoreOptions(tmp.path() + "/raft", 3 * each);  // caches entries 8..10
  std::unique_ptr<RocksDbStorage> s = MustOpen(options);
  ASSERT_NE(s, nullptr);
  std::vector<Entry> entries;
  for (uint64_t i = 1; i <= 10; ++i) entries.push_back(E(i, 1 + i / 4, std::string(100, 'a' + i)));
  ASSERT_TRUE(s->Save(nullptr, entries).ok());

  for (int pass = 0; pass < 2; ++pass) {  // as written, then as reloaded by Open
    SCOPED_TRACE(pass == 0 ? "written" : "reopened");
    std::vector<Entry> out;
    ASSERT_TRUE(s->Entries(1, 11, UINT64_MAX, &out).ok());
    EXPECT_EQ(out, entries);
    out.clear();
    ASSERT_TRUE(s->Entries(6, 11, 2 * each, &out).ok());
    EXPECT_EQ(Indexes(out), (std::vector<uint64_t>{6, 7})) << "all from disk";
    out.clear();
    ASSERT_TRUE(s->Entries(7, 11, 3 * each, &out).ok());
    EXPECT_EQ(out, (std::vector<Entry>{entries[6], entries[7], entries[8]})) << "disk then cache";
    out.clear();
    ASSERT_TRUE(s->Entries(7, 9, UINT64_MAX, &out).ok());
    EXPECT_EQ(Indexes(out), (std::vector<uint64_t>{7, 8}));
    for (uint64_t i = 1; i <= 10; ++i) {
      uint64_t term = 0;
      ASSERT_TRUE(s->Term(i, &term).ok());
      EXPECT_EQ(term, 1 + i / 4);
    }
    s.reset();
    s = MustOpen(options);
    ASSERT_NE(s, nullptr);
  }
}

TEST(RocksDbStorage, EntriesReadsAtMostMaxReadBytes) {
  TempDir tmp{"kvraft-store-test"};
  auto options = StoreOptions(tmp.path() + "/raft", 0);
  options.maxReadBytes = 2 * (100 + 16);
  std::unique_ptr<RocksDbStorage> s = MustOpen(options);
  ASSERT_NE(s, nullptr);
  std::vector<Entry> entries;
  for (uint64_t i = 1; i <= 5; ++i) entries.push_back(E(i, 1, std::string(100, 'x')));
  ASSERT_TRUE(s->Save(nullptr, entries).ok());
  std::vector<Entry> out;
  ASSERT_TRUE(s->Entries(1, 6, UINT64_MAX, &out).ok());
  EXPECT_EQ(Indexes(out), (std::vector<uint64_t>{1, 2}));
}

TEST(RocksDbStorage, OpenCreatesAMissingDirectoryAndKeepsItsVoters) {
  TempDir tmp{"kvraft-store-test"};
  const std::string dir = tmp.path() + "/node1/data/raft";
  auto options = StoreOptions(dir);
  ASSERT_TRUE(MustOpen(options) != nullptr);
  EXPECT_TRUE(fs::is_directory(dir));
  EXPECT_FALSE(fs::exists(dir + ".creating")) << "the staging directory was left behind";

  // The voters configure a new store only; an existing one keeps its own.
  options.voters = {7, 8, 9};
  std::unique_ptr<RocksDbStorage> s = MustOpen(options);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->Snapshot().voters, (std::vector<NodeId>{1, 2, 3}));
}

TEST(RocksDbStorage, OpenCreatesIntoAnEmptyDirectoryAndDropsAStaleStaging) {
  TempDir tmp{"kvraft-store-test"};
  const std::string dir = tmp.path() + "/raft/";  // trailing slash: same store
  fs::create_directories(dir);
  // What a crash during an earlier creation leaves: never acknowledged data.
  fs::create_directories(tmp.path() + "/raft.creating");
  std::ofstream(tmp.path() + "/raft.creating/junk") << "half-created";
  std::unique_ptr<RocksDbStorage> s = MustOpen(StoreOptions(dir));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->dir(), tmp.path() + "/raft");
  EXPECT_FALSE(fs::exists(tmp.path() + "/raft.creating"));
  EXPECT_TRUE(fs::exists(tmp.path() + "/raft/CURRENT"));
}

TEST(RocksDbStorage, OpenRefusesAnotherNodesOrClustersStore) {
  TempDir tmp{"kvraft-store-test"};
  const std::string dir = tmp.path() + "/raft";
  ASSERT_TRUE(MustOpen(StoreOptions(dir)) != nullptr);

  auto otherNode = StoreOptions(dir);
  otherNode.nodeId = 2;
  std::unique_ptr<RocksDbStorage> s;
  Status st = RocksDbStorage::Open(otherNode, &s);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find(dir), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("belongs to node 1 of cluster 'test-cluster'"), std::string::npos) << st.message();

  auto otherCluster = StoreOptions(dir);
  otherCluster.clusterId = "another";
  st = RocksDbStorage::Open(otherCluster, &s);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("not to node 1 of cluster 'another'"), std::string::npos) << st.message();
  EXPECT_EQ(s, nullptr);
}

TEST(RocksDbStorage, OpenRefusesAStoreAnotherProcessHasOpen) {
  TempDir tmp{"kvraft-store-test"};
  const auto options = StoreOptions(tmp.path() + "/raft");
  std::unique_ptr<RocksDbStorage> first = MustOpen(options);
  ASSERT_NE(first, nullptr);
  std::unique_ptr<RocksDbStorage> second;
  Status st = RocksDbStorage::Open(options, &second);
  EXPECT_EQ(st.code(), Code::kIOError);
  EXPECT_NE(st.message().find("LOCK"), std::string::npos) << st.message();
  // The first keeps working.
  EXPECT_TRUE(first->Save(nullptr, {E(1, 1)}).ok());
}

TEST(RocksDbStorage, OpenRejectsBadArguments) {
  std::unique_ptr<RocksDbStorage> s;
  auto o = StoreOptions("");
  EXPECT_EQ(RocksDbStorage::Open(o, &s).code(), Code::kInvalidArgument);
  TempDir tmp{"kvraft-store-test"};
  o = StoreOptions(tmp.path() + "/raft");
  o.nodeId = kNoNode;
  EXPECT_EQ(RocksDbStorage::Open(o, &s).code(), Code::kInvalidArgument);
  o = StoreOptions(tmp.path() + "/raft");
  o.clusterId = "";
  EXPECT_EQ(RocksDbStorage::Open(o, &s).code(), Code::kInvalidArgument);
  EXPECT_FALSE(fs::exists(tmp.path() + "/raft")) << "a refused open created the store";
}

// One writer appends, overwrites and compacts while a reader reads: every
// read is either refused with Compacted/Unavailable or returns consecutive
// entries whose bytes are exactly what was written for their (index, term).
TEST(RocksDbStorage, ReadersSeeWholeBatchesWhileAWriterWrites) {
  TempDir tmp{"kvraft-store-test"};
  std::unique_ptr<RocksDbStorage> s = MustOpen(StoreOptions(tmp.path() + "/raft", 2000));
  ASSERT_NE(s, nullptr);
  auto payload = [](uint64_t index, uint64_t term) {
    return std::to_string(index) + "/" + std::to_string(term) + std::string(index % 50, '.');
  };
  std::atomic<bool> done{false};
  auto writes = [&] {
    std::mt19937_64 rng(7);
    uint64_t term = 1;
    for (int step = 0; step < 400; ++step) {
      const uint64_t first = s->FirstIndex(), last = s->LastIndex();
      const int op = static_cast<int>(rng() % 10);
      uint64_t from = last + 1;
      if (op == 0 && last >= first) {
        ++term;
        from = last + 1 - std::min<uint64_t>(last - first + 1, 1 + rng() % 5);
      } else if (op == 1 && last >= first + 10) {
        uint64_t t = 0;
        ASSERT_TRUE(s->Term(last - 10, &t).ok());
        ASSERT_TRUE(s->CreateSnapshot(Meta(last - 10, t)).ok());
        continue;
      }
      std::vector<Entry> entries;
      for (uint64_t i = from; i < from + 1 + rng() % 10; ++i) entries.push_back(E(i, term, payload(i, term)));
      ASSERT_TRUE(s->Save(nullptr, entries).ok());
    }
  };
  std::thread writer([&] {
    writes();  // returns early on a failed ASSERT
    done = true;
  });
  std::mt19937_64 rng(8);
  int reads = 0, served = 0;
  while (!done) {
    const uint64_t first = s->FirstIndex(), last = s->LastIndex();
    if (last < first) continue;
    const uint64_t lo = first + rng() % (last - first + 1);
    const uint64_t hi = lo + 1 + rng() % 20;
    std::vector<Entry> out;
    const Status st = s->Entries(lo, hi, UINT64_MAX, &out);
    ++reads;
    if (st.code() == Code::kCompacted || st.code() == Code::kUnavailable) continue;
    ASSERT_TRUE(st.ok()) << st.ToString();
    ++served;
    for (size_t k = 0; k < out.size(); ++k) {
      ASSERT_EQ(out[k].index, lo + k);
      ASSERT_EQ(out[k].data, payload(out[k].index, out[k].term));
      if (k > 0) {
        ASSERT_GE(out[k].term, out[k - 1].term);
      }
    }
  }
  writer.join();
  EXPECT_GT(served, 0) << reads << " reads";
}

// ------------------------------------------------------------ tail cache

TEST(LogTailCache, KeepsTheNewestEntriesWithinItsBytes) {
  LogTailCache cache(3 * (10 + 16));
  cache.Append({E(1, 1, std::string(10, 'a')), E(2, 1, std::string(10, 'b'))});
  EXPECT_EQ(cache.FirstIndexOr(0), 1u);
  cache.Append({E(3, 1, std::string(10, 'c')), E(4, 1, std::string(10, 'd'))});
  EXPECT_EQ(cache.FirstIndexOr(0), 2u) << "entry 1 evicted";
  EXPECT_TRUE(cache.Contains(4));
  EXPECT_FALSE(cache.Contains(5));
  EXPECT_EQ(cache.bytes(), 3u * 26);

  // A replaced suffix goes; the replacement becomes the tail.
  cache.Append({E(3, 2, "new")});
  EXPECT_TRUE(cache.Contains(2));
  EXPECT_FALSE(cache.Contains(4));
  EXPECT_EQ(cache.At(3).data, "new");

  cache.DropThrough(2);
  EXPECT_EQ(cache.FirstIndexOr(0), 3u);
  cache.TruncateFrom(3);
  EXPECT_EQ(cache.FirstIndexOr(99), 99u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(LogTailCache, ABatchLargerThanTheCacheKeepsOnlyItsTail) {
  LogTailCache cache(2 * (10 + 16));
  cache.Append({E(1, 1, std::string(10, 'a'))});
  std::vector<Entry> batch;
  for (uint64_t i = 2; i <= 6; ++i) batch.push_back(E(i, 1, std::string(10, 'x')));
  cache.Append(batch);
  EXPECT_EQ(cache.FirstIndexOr(0), 5u);
  EXPECT_TRUE(cache.Contains(6));
  EXPECT_EQ(cache.bytes(), 2u * 26);

  LogTailCache none(0);
  none.Append(batch);
  EXPECT_EQ(none.FirstIndexOr(0), 0u) << "a zero-byte cache holds nothing";
}

// ------------------------------------------------------------ byte layout

TEST(LogCodec, Crc32cIsCastagnoli) {
  // The check value of CRC-32C (RFC 3720, appendix B.4 test vectors).
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
}

TEST(LogCodec, LogKeysSortInIndexOrder) {
  EXPECT_EQ(EncodeLogKey(0x0102030405060708ull), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_LT(EncodeLogKey(255), EncodeLogKey(256));
  EXPECT_LT(EncodeLogKey(1), EncodeLogKey(1ull << 40));
  uint64_t index = 0;
  ASSERT_TRUE(DecodeLogKey(EncodeLogKey(123456789), &index));
  EXPECT_EQ(index, 123456789u);
  EXPECT_FALSE(DecodeLogKey("short", &index));
}

TEST(LogCodec, EntryValueIsLittleEndianWithATrailingCrc) {
  Entry e = E(7, 0x0102, "xy");
  e.type = EntryType::kNoop;
  std::string v;
  EncodeEntryValue(e, &v);
  ASSERT_EQ(v.size(), EntryValueSize(2));
  EXPECT_EQ(v.substr(0, 11), std::string("\x02\x01\0\0\0\0\0\0\x01xy", 11));
  Entry back;
  ASSERT_TRUE(DecodeEntryValue(7, v, &back).ok());
  EXPECT_EQ(back, e);
}

// The batched CRC (several entries in lockstep) is the plain one: same
// value for every entry, whatever the mix of sizes and batch length.
TEST(LogCodec, BatchedChecksumsEqualOneByOne) {
  std::mt19937_64 rng(3);
  for (size_t n : {0, 1, 7, 8, 9, 17, 64}) {
    std::vector<Entry> entries;
    for (size_t i = 0; i < n; ++i) {
      Entry e = E(1000 + i, 5 + i / 3, std::string(rng() % 400, static_cast<char>(rng())));
      for (char& c : e.data) c = static_cast<char>(rng());
      if (i % 5 == 0) e.type = EntryType::kNoop;
      entries.push_back(std::move(e));
    }
    std::vector<uint32_t> crcs;
    EntryChecksums(entries, &crcs);
    ASSERT_EQ(crcs.size(), n);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(crcs[i], EntryChecksum(entries[i])) << "batch of " << n << ", entry " << i;
      std::string v;
      EncodeEntryValue(entries[i], crcs[i], &v);
      Entry back;
      ASSERT_TRUE(DecodeEntryValue(entries[i].index, v, &back).ok());
      EXPECT_EQ(back, entries[i]);
    }
  }
}

TEST(LogCodec, EveryFlippedBitAndAMisplacedValueAreCaught) {
  std::string v;
  EncodeEntryValue(E(42, 3, "payload"), &v);
  Entry out;
  for (size_t byte = 0; byte < v.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = v;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      const Status s = DecodeEntryValue(42, bad, &out);
      ASSERT_EQ(s.code(), Code::kCorruption) << "byte " << byte << " bit " << bit;
      EXPECT_NE(s.message().find("entry 42"), std::string::npos) << s.message();
    }
  }
  EXPECT_EQ(DecodeEntryValue(43, v, &out).code(), Code::kCorruption) << "value under the wrong key";
  EXPECT_EQ(DecodeEntryValue(42, v.substr(0, 5), &out).code(), Code::kCorruption);
}

TEST(LogCodec, MetaRecordsRoundTripAndCatchDamage) {
  HardState hs{5, 2, 9}, hs2;
  ASSERT_TRUE(DecodeHardState(EncodeHardState(hs), &hs2).ok());
  EXPECT_EQ(hs2, hs);
  SnapshotMeta m = Meta(10, 4), m2;
  ASSERT_TRUE(DecodeSnapshotMeta(EncodeSnapshotMeta(m), &m2).ok());
  EXPECT_EQ(m2, m);
  StoreIdentity id{kLogFormatVersion, "c1", 3}, id2;
  ASSERT_TRUE(DecodeIdentity(EncodeIdentity(id), &id2).ok());
  EXPECT_EQ(id2.clusterId, "c1");
  EXPECT_EQ(id2.nodeId, 3u);

  std::string bad = EncodeHardState(hs);
  bad[3] ^= 1;
  EXPECT_EQ(DecodeHardState(bad, &hs2).code(), Code::kCorruption);
  bad = EncodeSnapshotMeta(m);
  bad[20] ^= 1;
  EXPECT_EQ(DecodeSnapshotMeta(bad, &m2).code(), Code::kCorruption);
}

}  // namespace
}  // namespace kvraft::raft
