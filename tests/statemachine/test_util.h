#pragma once
// Helpers for the state machine tests: temporary directories, encoded
// commands, and a harness that applies them as numbered log entries.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "statemachine/command.h"
#include "statemachine/kv_state_machine.h"
#include "statemachine/reply.h"

namespace kvraft::statemachine::testing {

// A fresh directory under /tmp, removed (with its contents) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The session fields every command carries.
struct From {
  uint64_t client = 0;
  uint64_t seq = 0;
  uint64_t firstOutstanding = 0;
  uint64_t timeMs = 0;
};

std::string EncRegister(uint64_t timeMs);
std::string EncNoOp(From from);
std::string EncGet(From from, std::string_view key);
std::string EncPut(From from, std::string_view key, std::string_view value);
std::string EncAppend(From from, std::string_view key, std::string_view value);
std::string EncDelete(From from, std::string_view key);
std::string EncCas(From from, std::string_view key, std::optional<std::string_view> expected,
                   std::string_view value);
std::string EncRange(From from, std::string_view start, std::string_view end, uint64_t limit);

// A log entry as the tests keep it (AppliedCommand only views its bytes).
struct LogEntry {
  uint64_t index = 0;
  uint64_t term = 0;
  std::string data;
};

// Applies commands to a KvStateMachine as consecutive log entries and keeps
// the log, so that it can be replayed into another instance.
class Harness {
 public:
  explicit Harness(std::string dir, KvStateMachine::Options base = {});

  KvStateMachine& sm() { return *sm_; }
  const std::vector<LogEntry>& log() const { return log_; }
  uint64_t term = 1;

  // Appends the commands to the log and applies them in one batch.
  std::vector<Reply> Apply(const std::vector<std::string>& commands);
  Reply Apply1(const std::string& command) { return Apply({command}).front(); }
  // Registers a client at leader time timeMs; returns its id.
  uint64_t Register(uint64_t timeMs = 0);

  // Flushes, closes and opens again: a clean restart.
  void Reopen();
  // Closes dropping unflushed batches, as a crash would, and opens again.
  void Crash();
  void Close();
  void Open();

  std::string Get(std::string_view key);  // the value, or "<absent>"
  StateDigest Digest();

 private:
  std::string dir_;
  KvStateMachine::Options options_;
  std::unique_ptr<KvStateMachine> sm_;
  std::vector<LogEntry> log_;
};

// Applies log entries [from, to] (1-based indexes) to `sm` in batches of `batchSize`.
void Replay(KvStateMachine& sm, const std::vector<LogEntry>& log, uint64_t from, uint64_t to,
            size_t batchSize);

// Every entry of `dir` (names only, sorted).
std::vector<std::string> Entries(const std::string& dir);

// State worth sending in a snapshot, with every part (data, sessions,
// applied index): `keys` Puts of valueBytes each, named tag0, tag1, ...,
// from two new sessions that keep cached replies, and an Append to "log".
void BuildSnapshotState(Harness& h, int keys, const std::string& tag, size_t valueBytes = 100);

}  // namespace kvraft::statemachine::testing
