// Snapshots end to end: a checkpoint of one instance, streamed in chunks
// and installed on another, gives the same state (sessions included); and a
// crash at any point of an install leaves the old or the new state, whole,
// with Open cleaning up by itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "statemachine/snapshot_reader.h"
#include "tests/statemachine/test_util.h"

namespace kvraft::statemachine {
namespace {

namespace fs = std::filesystem;
using testing::EncAppend;
using testing::EncPut;
using testing::Entries;
using testing::From;
using testing::BuildSnapshotState;
using testing::Harness;
using testing::Replay;
using testing::TempDir;

// Sends the snapshot in `info` to `target` in chunks; stops (returning OK)
// before the chunk at `stopAtOffset`, if any chunk starts there or later.
Status Transfer(const SnapshotInfo& info, KvStateMachine& target, uint64_t chunk,
                SnapshotInfo* installed, uint64_t stopAtOffset = UINT64_MAX) {
  std::unique_ptr<SnapshotReader> reader;
  Status s = SnapshotReader::Open(info, &reader);
  if (!s.ok()) return s;
  std::string data;
  bool last = false;
  for (uint64_t offset = 0; !last; offset += data.size()) {
    if (offset >= stopAtOffset) return Status::Ok();
    s = reader->Read(offset, chunk, &data, &last);
    if (s.ok()) s = target.InstallSnapshotChunk(offset, data, last, installed);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

TEST(SnapshotInstall, AnInstalledSnapshotHasTheSourceStateAndItsSessions) {
  TempDir tmp;
  Harness source(tmp.Sub("source/kv"));
  BuildSnapshotState(source, 300, "k");
  SnapshotInfo info;
  ASSERT_TRUE(source.sm().CreateSnapshot(tmp.Sub("source/snap"), &info).ok());
  EXPECT_EQ(info.appliedIndex, source.sm().AppliedIndex());
  EXPECT_EQ(source.sm().DurableAppliedIndex(), info.appliedIndex)
      << "the checkpoint flushed the instance";
  const StateDigest atSnapshot = source.Digest();

  Harness target(tmp.Sub("target/kv"));
  SnapshotInfo installed;
  ASSERT_TRUE(Transfer(info, target.sm(), 64 << 10, &installed).ok());
  EXPECT_EQ(installed.appliedIndex, info.appliedIndex);
  EXPECT_EQ(installed.appliedTerm, info.appliedTerm);
  EXPECT_EQ(target.Digest(), atSnapshot);
  EXPECT_EQ(target.sm().AppliedIndex(), info.appliedIndex);
  EXPECT_EQ(target.sm().DurableAppliedIndex(), info.appliedIndex);
  EXPECT_EQ(target.sm().SessionCount(), 2u);
  EXPECT_EQ(Entries(tmp.Sub("target/kv")), (std::vector<std::string>{"LIVE", "db-000002"}));

  // Both go on with the same entries, including a retry of an Append that
  // was applied before the snapshot: the dedup table travelled with it.
  const uint64_t a = 1;
  const std::vector<std::string> more = {EncAppend({a, 1'000'000, 1'000'000, 9'500}, "log", "k"),
                                         EncPut({a, 1'000'001, 1'000'001, 9'600}, "new", "v")};
  std::vector<AppliedCommand> batch;
  for (size_t i = 0; i < more.size(); ++i) batch.push_back({info.appliedIndex + 1 + i, 1, more[i]});
  std::vector<Reply> rs, rt;
  ASSERT_TRUE(source.sm().ApplyBatch(batch, &rs).ok());
  ASSERT_TRUE(target.sm().ApplyBatch(batch, &rt).ok());
  EXPECT_EQ(rs, rt);
  EXPECT_EQ(target.Get("log"), "k") << "the retried Append was not applied a second time";
  EXPECT_EQ(target.Digest(), source.Digest());
  target.Reopen();
  EXPECT_EQ(target.Digest(), source.Digest());
}

TEST(SnapshotInstall, ItReplacesWhateverStateWasThereBefore) {
  TempDir tmp;
  Harness source(tmp.Sub("source"));
  BuildSnapshotState(source, 50, "new-");
  SnapshotInfo info;
  ASSERT_TRUE(source.sm().CreateSnapshot(tmp.Sub("snap"), &info).ok());
  Harness target(tmp.Sub("target"));
  BuildSnapshotState(target, 10, "old-");
  ASSERT_LT(target.sm().AppliedIndex(), info.appliedIndex);
  SnapshotInfo installed;
  ASSERT_TRUE(Transfer(info, target.sm(), 1 << 20, &installed).ok());
  EXPECT_EQ(target.Get("old-1"), "<absent>");
  EXPECT_EQ(target.Digest(), source.Digest());
}

TEST(SnapshotInstall, ASnapshotNotNewerThanTheStateIsRefusedAtItsFirstChunk) {
  TempDir tmp;
  Harness source(tmp.Sub("source"));
  BuildSnapshotState(source, 10, "k");
  SnapshotInfo info;
  ASSERT_TRUE(source.sm().CreateSnapshot(tmp.Sub("snap"), &info).ok());
  Harness target(tmp.Sub("target"));
  BuildSnapshotState(target, 20, "mine");
  const StateDigest before = target.Digest();
  SnapshotInfo installed;
  Status s = Transfer(info, target.sm(), 1 << 20, &installed);
  EXPECT_EQ(s.code(), Status::Code::kAborted);
  EXPECT_NE(s.message().find("not newer"), std::string::npos) << s.message();
  EXPECT_EQ(target.Digest(), before);
  EXPECT_EQ(Entries(tmp.Sub("target")), (std::vector<std::string>{"LIVE", "db-000001"}))
      << "no staging left";
}

TEST(SnapshotInstall, ADamagedChunkAbandonsTheInstallAndAResendSucceeds) {
  TempDir tmp;
  Harness source(tmp.Sub("source"));
  BuildSnapshotState(source, 100, "k");
  SnapshotInfo info;
  ASSERT_TRUE(source.sm().CreateSnapshot(tmp.Sub("snap"), &info).ok());
  Harness target(tmp.Sub("target"));
  const StateDigest before = target.Digest();

  std::unique_ptr<SnapshotReader> reader;
  ASSERT_TRUE(SnapshotReader::Open(info, &reader).ok());
  std::string data;
  bool last = false;
  SnapshotInfo installed;
  Status s;
  for (uint64_t offset = 0; !last && s.ok(); offset += data.size()) {
    ASSERT_TRUE(reader->Read(offset, 4096, &data, &last).ok());
    if (offset == 8192) data[100] ^= 1;  // damaged in transit
    s = target.sm().InstallSnapshotChunk(offset, data, last, &installed);
  }
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_EQ(target.Digest(), before);
  EXPECT_EQ(Entries(tmp.Sub("target")), (std::vector<std::string>{"LIVE", "db-000001"}));
  EXPECT_EQ(target.sm().InstallSnapshotChunk(12288, data, false, &installed).code(),
            Status::Code::kAborted)
      << "no install is open after the damage: the sender must start over";

  ASSERT_TRUE(Transfer(info, target.sm(), 4096, &installed).ok());
  EXPECT_EQ(target.Digest(), source.Digest());
}

TEST(SnapshotInstall, AbortingAnInstallRemovesItsFiles) {
  TempDir tmp;
  Harness source(tmp.Sub("source"));
  BuildSnapshotState(source, 100, "k");
  SnapshotInfo info;
  ASSERT_TRUE(source.sm().CreateSnapshot(tmp.Sub("snap"), &info).ok());
  Harness target(tmp.Sub("target"));
  SnapshotInfo installed;
  ASSERT_TRUE(Transfer(info, target.sm(), 4096, &installed, /*stopAtOffset=*/20'000).ok());
  EXPECT_EQ(Entries(tmp.Sub("target")),
            (std::vector<std::string>{"LIVE", "db-000001", "staging-000002"}));
  target.sm().AbortSnapshotInstall();
  EXPECT_EQ(Entries(tmp.Sub("target")), (std::vector<std::string>{"LIVE", "db-000001"}));
}

TEST(SnapshotInstall, CreateSnapshotRefusesADirectoryInsideTheInstanceOrOneThatExists) {
  TempDir tmp;
  Harness h(tmp.Sub("kv"));
  SnapshotInfo info;
  EXPECT_EQ(h.sm().CreateSnapshot(tmp.Sub("kv/snap"), &info).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(h.sm().CreateSnapshot(tmp.Sub("kv"), &info).code(), Status::Code::kInvalidArgument);
  fs::create_directories(tmp.Sub("exists"));
  EXPECT_EQ(h.sm().CreateSnapshot(tmp.Sub("exists"), &info).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(h.sm().CreateSnapshot(tmp.Sub("kv2"), &info).ok())
      << "a sibling named like it is fine";
  EXPECT_TRUE(h.sm().CreateSnapshot(tmp.Sub("snapshots/7"), &info).ok())
      << "a missing parent is created";
}

// A snapshot taken while another thread applies holds exactly the state at
// the index it reports: data, sessions and applied index come from one point.
TEST(SnapshotInstall, ASnapshotTakenDuringApplyIsExactlyTheStateAtItsIndex) {
  TempDir tmp;
  Harness source(tmp.Sub("source"));
  const uint64_t c = source.Register(0);
  std::vector<std::string> commands;
  for (uint64_t seq = 1; seq <= 20000; ++seq)
    commands.push_back(EncAppend({c, seq, seq, seq}, "k" + std::to_string(seq % 50), "."));
  // The applier goes on until twenty snapshots are taken (or it runs out).
  // Many: a checkpoint once lost a family's batch only when it began just as
  // a batch landed on the empty memtables its previous flush had left.
  std::atomic<bool> done{false};
  std::thread applier([&] {
    for (size_t i = 0; !done && i < commands.size(); i += 10) {
      source.Apply(std::vector<std::string>(commands.begin() + i,
                                            commands.begin() + std::min(i + 10, commands.size())));
    }
    done = true;
  });
  std::vector<SnapshotInfo> snapshots;
  for (int i = 0; !done && i < 20; ++i) {
    SnapshotInfo info;
    Status s = source.sm().CreateSnapshot(tmp.Sub("snap" + std::to_string(i)), &info);
    if (!s.ok()) {
      ADD_FAILURE() << s.ToString();
      break;
    }
    snapshots.push_back(info);
    // Reading its applied index back left nothing behind to be streamed.
    std::vector<std::string> files = Entries(info.dir);
    EXPECT_EQ(std::count_if(files.begin(), files.end(),
                            [](const std::string& f) { return f.rfind("LOG", 0) == 0; }),
              0);
  }
  done = true;
  applier.join();
  ASSERT_FALSE(snapshots.empty());
  for (size_t i = 0; i < snapshots.size(); ++i) {
    const SnapshotInfo& info = snapshots[i];
    Harness replayed(tmp.Sub("replayed" + std::to_string(i)));
    Replay(replayed.sm(), source.log(), 1, info.appliedIndex, 64);
    Harness installedAt(tmp.Sub("installed" + std::to_string(i)));
    SnapshotInfo installed;
    if (info.appliedIndex == 0) continue;
    ASSERT_TRUE(Transfer(info, installedAt.sm(), 1 << 20, &installed).ok());
    EXPECT_EQ(installedAt.Digest(), replayed.Digest()) << "snapshot at index " << info.appliedIndex;
  }
}

// ---------------------------------------------------------------- crashes

struct CrashPoint {
  std::string name;
  bool midStream = false;  // stop sending chunks half-way
  InstallStep step = InstallStep::kStagingWritten;
  bool newStateWins = false;  // what a reopen must find
};

// gtest prints a parameter in test listings; its name says it all.
void PrintTo(const CrashPoint& p, std::ostream* os) { *os << p.name; }

std::vector<CrashPoint> CrashPoints() {
  return {
      {"mid_stream", true, InstallStep::kStagingWritten, false},
      {"staging_written", false, InstallStep::kStagingWritten, false},
      {"staging_renamed", false, InstallStep::kStagingRenamed, false},
      {"pointer_temp_written", false, InstallStep::kPointerTempWritten, false},
      {"pointer_switched", false, InstallStep::kPointerSwitched, true},
      {"new_state_opened", false, InstallStep::kNewStateOpened, true},
  };
}

class CrashDuringInstall : public ::testing::TestWithParam<CrashPoint> {};

TEST_P(CrashDuringInstall, LeavesTheOldOrTheNewStateWholeAndOpenRecovers) {
  const CrashPoint& point = GetParam();
  TempDir tmp;
  Harness source(tmp.Sub("source"));
  BuildSnapshotState(source, 200, "new-");
  SnapshotInfo info;
  ASSERT_TRUE(source.sm().CreateSnapshot(tmp.Sub("snap"), &info).ok());
  const StateDigest newState = source.Digest();

  // The target's old state, flushed, so that a crash keeps all of it.
  KvStateMachine::Options crashing;
  crashing.installHook = [&](InstallStep step) {
    return step == point.step && !point.midStream
               ? Status::Aborted(std::string("crash at ") + InstallStepName(step))
               : Status::Ok();
  };
  auto target = std::make_unique<Harness>(tmp.Sub("target"), crashing);
  BuildSnapshotState(*target, 20, "old-");
  ASSERT_TRUE(target->sm().Flush().ok());
  const StateDigest oldState = target->Digest();

  std::unique_ptr<SnapshotReader> reader;
  ASSERT_TRUE(SnapshotReader::Open(info, &reader).ok());
  const uint64_t halfWay = reader->StreamBytes() / 2;
  SnapshotInfo installed;
  Status s = Transfer(info, target->sm(), 8192, &installed, point.midStream ? halfWay : UINT64_MAX);
  if (point.midStream) {
    ASSERT_TRUE(s.ok()) << s.ToString();
  } else {
    ASSERT_EQ(s.code(), Status::Code::kAborted) << s.ToString();
    // Stopped half-way, the instance refuses everything until restarted.
    std::vector<Reply> replies;
    EXPECT_FALSE(
        target->sm().ApplyBatch({{target->sm().AppliedIndex() + 1, 1, ""}}, &replies).ok());
  }
  target.reset();  // the crash: nothing is flushed or cleaned up

  // Restart without the hook.
  Harness reopened(tmp.Sub("target"));
  const StateDigest found = reopened.Digest();
  EXPECT_EQ(found, point.newStateWins ? newState : oldState)
      << "found " << found.ToString() << "; old " << oldState.ToString() << ", new "
      << newState.ToString();
  const std::vector<std::string> entries = Entries(tmp.Sub("target"));
  ASSERT_EQ(entries.size(), 2u) << "only LIVE and the live generation remain";
  EXPECT_EQ(entries[0], "LIVE");
  EXPECT_EQ(entries[1], point.newStateWins ? "db-000002" : "db-000001");

  // And the node carries on: a lost install can be sent again.
  if (!point.newStateWins) {
    ASSERT_TRUE(Transfer(info, reopened.sm(), 8192, &installed).ok());
    EXPECT_EQ(reopened.Digest(), newState);
  }
}

INSTANTIATE_TEST_SUITE_P(EveryStep, CrashDuringInstall, ::testing::ValuesIn(CrashPoints()),
                         [](const ::testing::TestParamInfo<CrashPoint>& p) {
                           return p.param.name;
                         });

// ---------------------------------------------------------------- recovery

void Touch(const std::string& path, const std::string& contents = "x") {
  std::ofstream(path, std::ios::binary) << contents;
}

TEST(KvDirectoryRecovery, OpenRemovesWhatAnInterruptedInstallLeftAndKeepsUnknownFiles) {
  TempDir tmp;
  const std::string dir = tmp.Sub("kv");
  StateDigest before;
  {
    Harness h(dir);
    BuildSnapshotState(h, 10, "k");
    ASSERT_TRUE(h.sm().Flush().ok());
    before = h.Digest();
  }
  fs::create_directories(dir + "/staging-000002");
  Touch(dir + "/staging-000002/000009.sst");
  fs::create_directories(dir + "/db-000002");
  Touch(dir + "/LIVE.tmp", "db-000002\n");
  Touch(dir + "/operator-notes.txt");
  Harness h(dir);
  EXPECT_EQ(h.Digest(), before);
  EXPECT_EQ(Entries(dir), (std::vector<std::string>{"LIVE", "db-000001", "operator-notes.txt"}));
}

TEST(KvDirectoryRecovery, AFirstGenerationWithoutItsPointerIsAdopted) {
  TempDir tmp;
  const std::string dir = tmp.Sub("kv");
  StateDigest before;
  {
    Harness h(dir);
    BuildSnapshotState(h, 10, "k");
    ASSERT_TRUE(h.sm().Flush().ok());
    before = h.Digest();
  }
  fs::remove(dir + "/LIVE");  // as if the crash came before the first LIVE was written
  Harness h(dir);
  EXPECT_EQ(h.Digest(), before);
  EXPECT_EQ(Entries(dir), (std::vector<std::string>{"LIVE", "db-000001"}));
}

TEST(KvDirectoryRecovery, ARocksDbInstanceNotMadeByKvraftIsRefused) {
  TempDir tmp;
  const std::string dir = tmp.Sub("kv");
  fs::create_directories(dir);
  Touch(dir + "/CURRENT", "MANIFEST-000001\n");
  std::unique_ptr<KvStateMachine> sm;
  KvStateMachine::Options o;
  o.dir = dir;
  Status s = KvStateMachine::Open(o, &sm);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(Entries(dir), std::vector<std::string>{"CURRENT"}) << "and left alone";
}

TEST(KvDirectoryRecovery, ADamagedPointerIsReportedNotGuessedAround) {
  TempDir tmp;
  const std::string dir = tmp.Sub("kv");
  { Harness h(dir); }
  std::unique_ptr<KvStateMachine> sm;
  KvStateMachine::Options o;
  o.dir = dir;

  Touch(dir + "/LIVE", "garbage");
  Status s = KvStateMachine::Open(o, &sm);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("LIVE"), std::string::npos) << s.message();

  Touch(dir + "/LIVE", "db-000007\n");
  s = KvStateMachine::Open(o, &sm);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("missing"), std::string::npos) << s.message();

  fs::remove(dir + "/LIVE");
  fs::create_directories(dir + "/db-000002");
  s = KvStateMachine::Open(o, &sm);
  EXPECT_EQ(s.code(), Status::Code::kCorruption)
      << "two generations and no pointer: which one is live?";
  EXPECT_TRUE(fs::exists(dir + "/db-000001")) << "nothing was removed";
}

}  // namespace
}  // namespace kvraft::statemachine
