// kill -9 at random moments loses nothing reported durable and leaves no
// half batch. log_crash_child writes to the store and reports each write
// before and after it; this test kills the child with SIGKILL, reopens the
// store (which checks every entry's CRC) and holds it to the reports: the
// store must be exactly the state after the last completed write, or after
// the one write in flight at the kill — never anything in between, and
// every entry's bytes must be the ones written for its (index, term).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "raftlog/rocksdb_storage.h"
#include "tests/raftlog/log_crash_payload.h"

extern char** environ;

namespace kvraft::raft {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kTestSeed = 20240607;     // decides every kill delay and child run
constexpr uint64_t kPayloadSeed = 77;        // decides entry bytes, in every run
constexpr int kRounds = 40;
constexpr int kMinDelayMs = 30, kMaxDelayMs = 250;
// A kill is timed from the child's "opened" line, or in one round of
// kOpenKillEvery from "opening", so that it may land in the store's
// recovery. Timing it from the spawn let a slow start-up (the sanitizer
// build on a loaded machine) eat every round's delay before any write.
constexpr int kOpenKillEvery = 4;
// The child reaches its mark well within this, or the test fails.
constexpr auto kStartBound = std::chrono::seconds(60);

using crash_test::Payload;

// What the store must hold: the snapshot, the term of every entry after it
// (contents follow from Payload), and the hard state.
struct LogModel {
  uint64_t snapIndex = 0;
  uint64_t snapTerm = 0;
  std::vector<uint64_t> terms;  // terms[i] is the term of entry snapIndex + 1 + i
  HardState hardState;

  uint64_t LastIndex() const { return snapIndex + terms.size(); }
  bool operator==(const LogModel&) const = default;
};

struct Op {
  std::string kind;  // save, compact, install
  uint64_t a = 0, b = 0, term = 0;
};

void Apply(const Op& op, LogModel* m) {
  if (op.kind == "save") {  // entries a..b of `term`, with hard state {term, 1, snapIndex}
    m->terms.resize(op.a - m->snapIndex - 1);
    m->terms.insert(m->terms.end(), op.b - op.a + 1, op.term);
    m->hardState = HardState{op.term, 1, m->snapIndex};
  } else if (op.kind == "compact") {
    m->terms.erase(m->terms.begin(), m->terms.begin() + (op.a - m->snapIndex));
    m->snapIndex = op.a;
    m->snapTerm = op.term;
  } else {
    m->terms.clear();
    m->snapIndex = op.a;
    m->snapTerm = op.term;
    m->hardState.commitIndex = std::max(m->hardState.commitIndex, op.a);
  }
}

std::string Describe(const LogModel& m) {
  std::ostringstream s;
  s << "snapshot " << m.snapIndex << "/" << m.snapTerm << ", entries [" << m.snapIndex + 1 << ", "
    << m.LastIndex() << "], hard state {" << m.hardState.currentTerm << ", "
    << m.hardState.votedFor << ", " << m.hardState.commitIndex << "}";
  if (!m.terms.empty()) s << ", last term " << m.terms.back();
  return s.str();
}

// Reads the store back into a model, failing on any entry whose bytes are
// not the ones written for its (index, term).
std::optional<LogModel> ReadBack(const RocksDbStorage& store) {
  LogModel m;
  const SnapshotMeta snap = store.Snapshot();
  m.snapIndex = snap.lastIncludedIndex;
  m.snapTerm = snap.lastIncludedTerm;
  m.hardState = store.InitialHardState();
  EXPECT_EQ(snap.voters, (std::vector<NodeId>{1}));
  for (uint64_t i = store.FirstIndex(); i <= store.LastIndex();) {
    std::vector<Entry> batch;
    const Status s = store.Entries(i, store.LastIndex() + 1, UINT64_MAX, &batch);
    if (!s.ok()) {
      ADD_FAILURE() << s.ToString();
      return std::nullopt;
    }
    for (const Entry& e : batch) {
      if (e.data != Payload(kPayloadSeed, e.index, e.term)) {
        ADD_FAILURE() << "entry " << e.index << " (term " << e.term << ") has the wrong bytes";
        return std::nullopt;
      }
      m.terms.push_back(e.term);
    }
    i += batch.size();
  }
  return m;
}

std::vector<std::string> Split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// One run of the child: started, killed `delay` after it reported `mark`,
// its reports read.
struct ChildRun {
  std::vector<Op> completed;
  std::optional<Op> inFlight;
  bool killed = false;  // false: it exited on its own, which it never should
  int status = 0;
};

ChildRun RunChild(const std::string& dir, uint64_t runSeed, const std::string& mark,
                  std::chrono::milliseconds delay, const std::string& stderrPath) {
  int pipeFds[2];
  EXPECT_EQ(::pipe2(pipeFds, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipeFds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, stderrPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  const std::string child = LOG_CRASH_CHILD;
  const std::string payloadSeed = std::to_string(kPayloadSeed), seed = std::to_string(runSeed);
  char* argv[] = {const_cast<char*>(child.c_str()), const_cast<char*>(dir.c_str()),
                  const_cast<char*>(payloadSeed.c_str()), const_cast<char*>(seed.c_str()), nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, child.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipeFds[1]);
  EXPECT_EQ(rc, 0) << "cannot start " << child;

  // Read reports until `mark`, then until the deadline after it, then kill,
  // then drain what was written.
  std::string out;
  const std::string markLine = mark + "\n";
  auto deadline = std::chrono::steady_clock::now() + kStartBound;
  bool marked = false, eof = false;
  char buf[4096];
  while (!eof) {
    if (!marked && out.find(markLine) != std::string::npos) {
      marked = true;
      deadline = std::chrono::steady_clock::now() + delay;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{pipeFds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(pipeFds[0], buf, sizeof(buf));
    if (n <= 0) eof = true; else out.append(buf, n);
  }
  ::kill(pid, SIGKILL);
  EXPECT_TRUE(marked || eof) << "the child did not report '" << mark << "' within "
                             << kStartBound.count() << " s";
  ChildRun run;
  EXPECT_EQ(::waitpid(pid, &run.status, 0), pid);
  run.killed = WIFSIGNALED(run.status) && WTERMSIG(run.status) == SIGKILL;
  for (ssize_t n; (n = ::read(pipeFds[0], buf, sizeof(buf))) > 0;) out.append(buf, n);
  ::close(pipeFds[0]);

  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    const auto w = Split(line);
    if (line == "opening" || line == "opened") continue;
    if (w.size() == 4 && (w[0] == "save")) {
      run.inFlight = Op{w[0], std::stoull(w[1]), std::stoull(w[2]), std::stoull(w[3])};
    } else if (w.size() == 3 && (w[0] == "compact" || w[0] == "install")) {
      run.inFlight = Op{w[0], std::stoull(w[1]), 0, std::stoull(w[2])};
    } else if (w.size() == 3 && (w[0] == "durable" || w[0] == "compacted" || w[0] == "installed")) {
      EXPECT_TRUE(run.inFlight.has_value()) << "completion without intent: " << line;
      if (!run.inFlight) continue;
      run.completed.push_back(*run.inFlight);
      run.inFlight.reset();
    } else {
      ADD_FAILURE() << "unexpected line from the child: '" << line << "'";
    }
  }
  return run;
}

TEST(LogCrash, EveryReportedWriteSurvivesSigkillAndNoHalfWriteAppears) {
  char tmpl[] = "/tmp/kvraft-crash-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  struct RemoveOnExit {
    std::string dir;
    ~RemoveOnExit() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } removeOnExit{root};
  const std::string dir = root + "/raft";
  const std::string stderrPath = root + "/child.stderr";

  std::mt19937_64 rng(kTestSeed);
  LogModel model;
  int reported = 0, inFlightLanded = 0, inFlightLost = 0;
  for (int round = 0; round < kRounds && !HasFailure(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + " (test seed " + std::to_string(kTestSeed) + ")");
    const auto delay = std::chrono::milliseconds(kMinDelayMs + rng() % (kMaxDelayMs - kMinDelayMs));
    const std::string mark = rng() % kOpenKillEvery == 0 ? "opening" : "opened";
    const ChildRun run = RunChild(dir, rng(), mark, delay, stderrPath);
    ASSERT_TRUE(run.killed) << "the child exited by itself (status " << run.status
                            << "); its stderr:\n" << std::ifstream(stderrPath).rdbuf();
    for (const Op& op : run.completed) Apply(op, &model);
    reported += static_cast<int>(run.completed.size());

    if (!fs::exists(dir)) {  // killed before the store was created
      ASSERT_EQ(model, LogModel{}) << "writes were reported but no store exists";
      continue;
    }
    RocksDbStorage::Options options;
    options.dir = dir;
    options.clusterId = "crash-test";
    options.nodeId = 1;
    options.tailCacheBytes = 64 << 10;
    std::unique_ptr<RocksDbStorage> store;
    const Status s = RocksDbStorage::Open(options, &store);
    ASSERT_TRUE(s.ok()) << "reopening after kill -9: " << s.ToString();
    const std::optional<LogModel> got = ReadBack(*store);
    ASSERT_TRUE(got.has_value());
    if (*got == model) {
      if (run.inFlight) ++inFlightLost;
      continue;
    }
    ASSERT_TRUE(run.inFlight.has_value())
        << "the store differs from the last reported write\n  want " << Describe(model)
        << "\n  got  " << Describe(*got);
    LogModel withInFlight = model;
    Apply(*run.inFlight, &withInFlight);
    ASSERT_EQ(*got, withInFlight)
        << "the store is neither before nor after the write in flight (" << run.inFlight->kind
        << " " << run.inFlight->a << ")\n  before " << Describe(model) << "\n  after  "
        << Describe(withInFlight) << "\n  got    " << Describe(*got);
    model = withInFlight;  // it landed: from now on it must stay
    ++inFlightLanded;
  }
  std::printf("%d rounds, %d writes reported durable; the write in flight at the kill landed %d "
              "times and was lost %d times; final log: %s\n",
              kRounds, reported, inFlightLanded, inFlightLost, Describe(model).c_str());
  EXPECT_GT(reported, kRounds) << "the child hardly ran: the test checked little";
}

}  // namespace
}  // namespace kvraft::raft
