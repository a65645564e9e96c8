#include "tests/statemachine/test_util.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>

namespace kvraft::statemachine::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string templ = "/tmp/kvraft_statemachine_test_XXXXXX";
  const char* made = ::mkdtemp(templ.data());
  EXPECT_NE(made, nullptr) << "cannot create a temporary directory under /tmp";
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {

Command Base(Operation op, From f) {
  Command c;
  c.op = op;
  c.clientId = f.client;
  c.sequence = f.seq;
  c.firstOutstanding = f.firstOutstanding;
  c.leaderTimeMs = f.timeMs;
  return c;
}

}  // namespace

std::string EncRegister(uint64_t timeMs) {
  From f;
  f.timeMs = timeMs;
  return EncodeCommand(Base(Operation::kRegisterClient, f));
}

std::string EncNoOp(From f) { return EncodeCommand(Base(Operation::kNoOp, f)); }

std::string EncGet(From f, std::string_view key) {
  Command c = Base(Operation::kGet, f);
  c.key = key;
  return EncodeCommand(c);
}

std::string EncPut(From f, std::string_view key, std::string_view value) {
  Command c = Base(Operation::kPut, f);
  c.key = key;
  c.value = value;
  return EncodeCommand(c);
}

std::string EncAppend(From f, std::string_view key, std::string_view value) {
  Command c = Base(Operation::kAppend, f);
  c.key = key;
  c.value = value;
  return EncodeCommand(c);
}

std::string EncDelete(From f, std::string_view key) {
  Command c = Base(Operation::kDelete, f);
  c.key = key;
  return EncodeCommand(c);
}

std::string EncCas(From f, std::string_view key, std::optional<std::string_view> expected,
                   std::string_view value) {
  Command c = Base(Operation::kCompareAndSwap, f);
  c.key = key;
  c.expected = expected;
  c.value = value;
  return EncodeCommand(c);
}

std::string EncRange(From f, std::string_view start, std::string_view end, uint64_t limit) {
  Command c = Base(Operation::kRange, f);
  c.key = start;
  c.rangeEnd = end;
  c.rangeLimit = limit;
  return EncodeCommand(c);
}

Harness::Harness(std::string dir, KvStateMachine::Options base)
    : dir_(std::move(dir)), options_(std::move(base)) {
  options_.dir = dir_;
  // Closing then drops unflushed batches, as a crash does; Reopen() flushes
  // first, as a clean close does.
  options_.flushOnClose = false;
  Open();
}

void Harness::Open() {
  Status s = KvStateMachine::Open(options_, &sm_);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

void Harness::Close() { sm_.reset(); }

void Harness::Reopen() {
  Status s = sm_->Flush();  // what a clean close does
  ASSERT_TRUE(s.ok()) << s.ToString();
  Close();
  Open();
}

void Harness::Crash() {
  Close();  // the instance was opened with flushOnClose=false
  Open();
}

std::vector<Reply> Harness::Apply(const std::vector<std::string>& commands) {
  std::vector<AppliedCommand> batch;
  const size_t first = log_.size();
  for (const std::string& c : commands) {
    log_.push_back({log_.size() + 1, term, c});
  }
  for (size_t i = first; i < log_.size(); ++i)
    batch.push_back({log_[i].index, log_[i].term, log_[i].data});
  std::vector<Reply> replies;
  Status s = sm_->ApplyBatch(batch, &replies);
  EXPECT_TRUE(s.ok()) << s.ToString();
  replies.resize(commands.size());
  return replies;
}

uint64_t Harness::Register(uint64_t timeMs) {
  Reply r = Apply1(EncRegister(timeMs));
  EXPECT_TRUE(r.ok()) << r.ToString();
  return r.clientId;
}

std::string Harness::Get(std::string_view key) {
  Reply r;
  Status s = sm_->Get(key, &r);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return r.value ? *r.value : "<absent>";
}

StateDigest Harness::Digest() {
  StateDigest d;
  Status s = sm_->Digest(&d);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return d;
}

void Replay(KvStateMachine& sm, const std::vector<LogEntry>& log, uint64_t from, uint64_t to,
            size_t batchSize) {
  for (uint64_t i = from; i <= to;) {
    std::vector<AppliedCommand> batch;
    for (; i <= to && batch.size() < batchSize; ++i) {
      const LogEntry& e = log[i - 1];
      batch.push_back({e.index, e.term, e.data});
    }
    std::vector<Reply> replies;
    Status s = sm.ApplyBatch(batch, &replies);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

void BuildSnapshotState(Harness& h, int keys, const std::string& tag, size_t valueBytes) {
  const uint64_t a = h.Register(1'000);
  const uint64_t b = h.Register(1'000);
  for (int i = 0; i < keys; ++i) {
    const uint64_t seq = i + 1;
    const uint64_t client = i % 2 ? a : b;
    h.Apply1(EncPut({client, seq, seq, 2'000 + seq}, tag + std::to_string(i),
                    std::string(valueBytes, static_cast<char>('a' + i % 26))));
  }
  h.Apply1(EncAppend({a, 1'000'000, 1'000'000, 9'000}, "log", tag));
}

}  // namespace kvraft::statemachine::testing
