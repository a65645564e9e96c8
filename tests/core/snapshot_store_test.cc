// SnapshotStore: the one snapshot a node keeps, which a leader streams to
// followers and the log is compacted below. What matters is that the bytes
// it serves rebuild the very state it checkpointed, that a reader of a
// replaced snapshot is told so (kAborted) rather than sent a mix of two, and
// that whatever a crash leaves in the directory, Open keeps one complete
// snapshot and nothing else of its own.
#include "statemachine/snapshot_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "statemachine/kv_state_machine.h"
#include "tests/statemachine/test_util.h"

namespace kvraft::statemachine {
namespace {

namespace fs = std::filesystem;
using Code = Status::Code;
using testing::EncAppend;
using testing::EncPut;
using testing::Entries;
using testing::BuildSnapshotState;
using testing::Harness;
using testing::TempDir;

std::unique_ptr<SnapshotStore> MustOpen(const std::string& dir) {
  std::unique_ptr<SnapshotStore> store;
  Status s = SnapshotStore::Open(dir, &store);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return store;
}

// Reads the snapshot at `index` from `source` in chunks of `chunk` bytes, as
// a leader does, and feeds them in order to `target`, as a follower does.
Status Stream(const raft::SnapshotSource& source, uint64_t index, KvStateMachine& target,
              uint64_t chunk, SnapshotInfo* installed) {
  std::string data;
  bool last = false;
  for (uint64_t offset = 0; !last; offset += data.size()) {
    Status s = source.ReadSnapshotChunk(index, offset, chunk, &data, &last);
    if (s.ok()) s = target.InstallSnapshotChunk(offset, data, last, installed);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

ino_t Inode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

TEST(SnapshotStore, TakeCheckpointsTheStateAtItsAppliedIndexAndLatestDescribesIt) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  h.term = 3;
  BuildSnapshotState(h, 20, "k", 200);
  std::unique_ptr<SnapshotStore> store = MustOpen(tmp.Sub("snapshots"));
  EXPECT_FALSE(store->Latest().has_value()) << "a new store holds no snapshot";

  SnapshotInfo info;
  ASSERT_TRUE(store->Take(h.sm(), &info).ok());
  const uint64_t applied = h.sm().AppliedIndex();
  const std::string name = "snap-" + std::to_string(applied) + "-3";
  EXPECT_EQ(info.appliedIndex, applied);
  EXPECT_EQ(info.appliedTerm, 3u);
  EXPECT_EQ(info.dir, tmp.Sub("snapshots/" + name));
  EXPECT_EQ(h.sm().DurableAppliedIndex(), applied)
      << "the log may be compacted through the snapshot only if the kv state survives a crash";

  const std::optional<SnapshotInfo> latest = store->Latest();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->dir, info.dir);
  EXPECT_EQ(latest->appliedIndex, applied);
  EXPECT_EQ(latest->appliedTerm, 3u);
  EXPECT_EQ(Entries(tmp.Sub("snapshots")), std::vector<std::string>{name})
      << "the tmp- directory was renamed, not left behind";
}

TEST(SnapshotStore, ItsChunksFedInOrderToAnotherInstanceReproduceTheState) {
  TempDir tmp;
  Harness source(tmp.Sub("source/kv"));
  BuildSnapshotState(source, 300, "k", 200);
  std::unique_ptr<SnapshotStore> store = MustOpen(tmp.Sub("source/snapshots"));
  SnapshotInfo info;
  ASSERT_TRUE(store->Take(source.sm(), &info).ok());
  const StateDigest atSnapshot = source.Digest();
  // State applied after the checkpoint must not leak into the stream.
  source.Apply1(EncPut({1, 5'000, 5'000, 10'000}, "later", "x"));

  for (const uint64_t chunk : {uint64_t{512}, uint64_t{64} << 10, uint64_t{1} << 30}) {
    SCOPED_TRACE("chunks of " + std::to_string(chunk) + " bytes");
    Harness target(tmp.Sub("target-" + std::to_string(chunk)));
    SnapshotInfo installed;
    Status s = Stream(*store, info.appliedIndex, target.sm(), chunk, &installed);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(installed.appliedIndex, info.appliedIndex);
    EXPECT_EQ(installed.appliedTerm, info.appliedTerm);
    EXPECT_EQ(target.Digest(), atSnapshot);
  }
}

TEST(SnapshotStore, ReadingAnIndexItDoesNotKeepIsAborted) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  std::unique_ptr<SnapshotStore> store = MustOpen(tmp.Sub("snapshots"));
  std::string data;
  bool last = false;
  EXPECT_EQ(store->ReadSnapshotChunk(0, 0, 4096, &data, &last).code(), Code::kAborted)
      << "an empty store keeps no snapshot, not even one at index 0";

  BuildSnapshotState(h, 5, "k", 200);
  SnapshotInfo info;
  ASSERT_TRUE(store->Take(h.sm(), &info).ok());
  for (const uint64_t wrong : {info.appliedIndex - 1, info.appliedIndex + 1, uint64_t{0}}) {
    EXPECT_EQ(store->ReadSnapshotChunk(wrong, 0, 4096, &data, &last).code(), Code::kAborted)
        << "index " << wrong << " (the store keeps " << info.appliedIndex << ")";
  }
  EXPECT_TRUE(store->ReadSnapshotChunk(info.appliedIndex, 0, 4096, &data, &last).ok());
}

TEST(SnapshotStore, ANewerSnapshotReplacesTheOldOneAndAbortsItsReaders) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  BuildSnapshotState(h, 50, "k", 200);
  std::unique_ptr<SnapshotStore> store = MustOpen(tmp.Sub("snapshots"));
  SnapshotInfo first;
  ASSERT_TRUE(store->Take(h.sm(), &first).ok());

  // A transfer of the first snapshot has started...
  std::string data;
  bool last = false;
  ASSERT_TRUE(store->ReadSnapshotChunk(first.appliedIndex, 0, 1024, &data, &last).ok());
  ASSERT_FALSE(last) << "the test needs a snapshot of more than one chunk";

  BuildSnapshotState(h, 10, "more", 200);
  SnapshotInfo second;
  ASSERT_TRUE(store->Take(h.sm(), &second).ok());
  ASSERT_GT(second.appliedIndex, first.appliedIndex);

  // ...and must learn that its snapshot is gone rather than get bytes of the
  // new one spliced onto the old one's.
  EXPECT_EQ(store->ReadSnapshotChunk(first.appliedIndex, data.size(), 1024, &data, &last).code(),
            Code::kAborted);
  EXPECT_EQ(store->ReadSnapshotChunk(first.appliedIndex, 0, 1024, &data, &last).code(),
            Code::kAborted);
  EXPECT_FALSE(fs::exists(first.dir)) << "only one snapshot is kept on disk";
  EXPECT_EQ(Entries(tmp.Sub("snapshots")),
            std::vector<std::string>{fs::path(second.dir).filename().string()});
  EXPECT_EQ(store->Latest()->appliedIndex, second.appliedIndex);

  Harness target(tmp.Sub("target"));
  SnapshotInfo installed;
  ASSERT_TRUE(Stream(*store, second.appliedIndex, target.sm(), 4096, &installed).ok());
  EXPECT_EQ(target.Digest(), h.Digest());
}

TEST(SnapshotStore, TakeAtAnUnchangedAppliedIndexKeepsTheSameSnapshot) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  BuildSnapshotState(h, 20, "k", 200);
  std::unique_ptr<SnapshotStore> store = MustOpen(tmp.Sub("snapshots"));
  SnapshotInfo first;
  ASSERT_TRUE(store->Take(h.sm(), &first).ok());
  const ino_t inode = Inode(first.dir);

  // A transfer in progress must not be aborted by a Take that has nothing new.
  std::string data;
  bool last = false;
  ASSERT_TRUE(store->ReadSnapshotChunk(first.appliedIndex, 0, 1024, &data, &last).ok());
  SnapshotInfo again;
  ASSERT_TRUE(store->Take(h.sm(), &again).ok());
  EXPECT_EQ(again.dir, first.dir);
  EXPECT_EQ(again.appliedIndex, first.appliedIndex);
  EXPECT_EQ(again.appliedTerm, first.appliedTerm);
  EXPECT_EQ(Inode(first.dir), inode) << "the checkpoint was not made again";
  EXPECT_EQ(Entries(tmp.Sub("snapshots")),
            std::vector<std::string>{fs::path(first.dir).filename().string()});
  EXPECT_TRUE(store->ReadSnapshotChunk(first.appliedIndex, data.size(), 1024, &data, &last).ok());
}

// A crash may leave an unfinished checkpoint (tmp-) and a superseded
// snapshot not yet removed. Directory order is arbitrary, and names sort
// "snap-12-2" before "snap-3-1", so the newest must be chosen by index.
TEST(SnapshotStore, OpenKeepsTheNewestSnapshotAndRemovesLeftoversButNotUnknownFiles) {
  TempDir tmp;
  const std::string dir = tmp.Sub("snapshots");
  Harness h(tmp.Sub("kv"));
  SnapshotInfo info;
  h.Register(0);
  h.Apply({EncPut({1, 1, 1, 1}, "a", "1"), EncPut({1, 2, 2, 2}, "b", "2")});
  ASSERT_EQ(h.sm().AppliedIndex(), 3u);
  ASSERT_TRUE(h.sm().CreateSnapshot(dir + "/snap-3-1", &info).ok());
  BuildSnapshotState(h, 2, "x", 200);
  h.term = 2;
  h.Apply({EncPut({1, 3, 3, 3}, "c", "3")});
  ASSERT_EQ(h.sm().AppliedIndex(), 9u);
  ASSERT_TRUE(h.sm().CreateSnapshot(dir + "/snap-9-2", &info).ok());
  h.Apply({EncPut({1, 4, 4, 4}, "d", "4"), EncPut({1, 5, 5, 5}, "e", "5"),
           EncPut({1, 6, 6, 6}, "f", "6")});
  ASSERT_EQ(h.sm().AppliedIndex(), 12u);
  ASSERT_TRUE(h.sm().CreateSnapshot(dir + "/snap-12-2", &info).ok());
  const StateDigest at12 = h.Digest();
  // An unfinished checkpoint of a later state, with some of its files.
  h.Apply({EncPut({1, 7, 7, 7}, "g", "7")});
  ASSERT_TRUE(h.sm().CreateSnapshot(dir + "/tmp-13", &info).ok());
  fs::create_directories(dir + "/tmp-14");
  std::ofstream(dir + "/tmp-14/000001.sst") << "half-written";
  std::ofstream(dir + "/operator-notes.txt") << "not the store's";
  ASSERT_EQ(Entries(dir), (std::vector<std::string>{"operator-notes.txt", "snap-12-2", "snap-3-1",
                                                    "snap-9-2", "tmp-13", "tmp-14"}));

  std::unique_ptr<SnapshotStore> store = MustOpen(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Entries(dir), (std::vector<std::string>{"operator-notes.txt", "snap-12-2"}));
  const std::optional<SnapshotInfo> latest = store->Latest();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->appliedIndex, 12u);
  EXPECT_EQ(latest->appliedTerm, 2u);
  EXPECT_EQ(latest->dir, dir + "/snap-12-2");

  Harness target(tmp.Sub("target"));
  SnapshotInfo installed;
  Status s = Stream(*store, 12, target.sm(), 4096, &installed);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(target.Digest(), at12);
}

TEST(SnapshotStore, OpenCreatesAMissingDirectoryAndFindsNoSnapshotInIt) {
  TempDir tmp;
  std::unique_ptr<SnapshotStore> store = MustOpen(tmp.Sub("data/snapshots"));
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(fs::is_directory(tmp.Sub("data/snapshots")));
  EXPECT_FALSE(store->Latest().has_value());
}

TEST(SnapshotStore, AReopenedStoreServesTheSnapshotItHadTaken) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  BuildSnapshotState(h, 30, "k", 200);
  SnapshotInfo info;
  {
    std::unique_ptr<SnapshotStore> store = MustOpen(tmp.Sub("snapshots"));
    ASSERT_TRUE(store->Take(h.sm(), &info).ok());
  }
  std::unique_ptr<SnapshotStore> store = MustOpen(tmp.Sub("snapshots"));
  ASSERT_TRUE(store->Latest().has_value());
  EXPECT_EQ(store->Latest()->dir, info.dir);
  EXPECT_EQ(store->Latest()->appliedIndex, info.appliedIndex);
  EXPECT_EQ(store->Latest()->appliedTerm, info.appliedTerm);
  Harness target(tmp.Sub("target"));
  SnapshotInfo installed;
  ASSERT_TRUE(Stream(*store, info.appliedIndex, target.sm(), 4096, &installed).ok());
  EXPECT_EQ(target.Digest(), h.Digest());
}

// The Raft loop streams the latest snapshot while the apply loop replaces
// it. A transfer may be cut off (kAborted: the core starts over with the
// new one) but must never fail otherwise, nor complete with bytes that do
// not rebuild the state at its index.
TEST(SnapshotStore, TransfersRacingWithTakeAreAbortedOrCompleteButNeverMixed) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  const uint64_t client = h.Register(0);
  std::unique_ptr<SnapshotStore> store = MustOpen(tmp.Sub("snapshots"));

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<uint64_t, std::string> completed;  // under mu: index -> a whole stream
  std::vector<std::string> unexpected;         // under mu
  int aborted = 0;                             // under mu
  std::thread transfers([&] {
    while (!stop) {
      const std::optional<SnapshotInfo> latest = store->Latest();
      if (!latest) {
        std::this_thread::yield();
        continue;
      }
      std::string stream, data;
      bool last = false;
      Status s;
      for (uint64_t offset = 0; !last; offset += data.size()) {
        s = store->ReadSnapshotChunk(latest->appliedIndex, offset, 1024, &data, &last);
        if (!s.ok()) break;
        stream += data;
      }
      std::lock_guard<std::mutex> l(mu);
      if (s.ok()) {
        completed[latest->appliedIndex] = std::move(stream);
      } else if (s.code() == Code::kAborted) {
        ++aborted;
      } else {
        unexpected.push_back(s.ToString());
      }
    }
  });

  std::map<uint64_t, StateDigest> digests;
  uint64_t seq = 1;
  uint64_t finalIndex = 0;
  for (int round = 0; round < 12; ++round) {
    std::vector<std::string> puts;
    for (int i = 0; i < 15; ++i, ++seq) {
      puts.push_back(EncPut({client, seq, seq, seq}, "k" + std::to_string(seq % 40),
                            std::string(150, 'a' + round)));
    }
    h.Apply(puts);
    SnapshotInfo info;
    Status s = store->Take(h.sm(), &info);
    ASSERT_TRUE(s.ok()) << s.ToString();
    digests[info.appliedIndex] = h.Digest();
    finalIndex = info.appliedIndex;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // Let at least the last snapshot be sent whole.
  for (int i = 0; i < 2000; ++i) {
    {
      std::lock_guard<std::mutex> l(mu);
      if (completed.count(finalIndex)) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  transfers.join();

  EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " transfers failed, the first with "
                                  << (unexpected.empty() ? "" : unexpected.front());
  ASSERT_TRUE(completed.count(finalIndex)) << "the last snapshot was never sent whole";
  // Installing every completed stream is slow on a shared machine; the last
  // few (the final one among them) are enough to catch a mixed stream.
  int checked = 0;
  for (auto it = completed.rbegin(); it != completed.rend() && checked < 3; ++it, ++checked) {
    SCOPED_TRACE("the stream of the snapshot at " + std::to_string(it->first));
    ASSERT_TRUE(digests.count(it->first));
    Harness target(tmp.Sub("target" + std::to_string(it->first)));
    SnapshotInfo installed;
    Status s = target.sm().InstallSnapshotChunk(0, it->second, true, &installed);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(target.Digest(), digests[it->first]);
  }
  std::lock_guard<std::mutex> l(mu);
  RecordProperty("aborted_transfers", aborted);
  RecordProperty("completed_snapshots", static_cast<int>(completed.size()));
}

}  // namespace
}  // namespace kvraft::statemachine
