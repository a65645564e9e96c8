#pragma once
// The kv instance's directory, <data_dir>/kv, and the atomic swap of its
// whole state. The RocksDB instance lives in a numbered generation beside a
// pointer file naming the live one:
//
//   <data_dir>/kv/LIVE              "db-000003\n": the live generation
//   <data_dir>/kv/db-000003/        the live RocksDB instance
//   <data_dir>/kv/staging-000004/   a snapshot being received (or a new store being made)
//   <data_dir>/kv/LIVE.tmp          the next pointer, while it is being written
//
// A new state (an installed snapshot, or the empty store at creation) is
// built completely in a staging directory and synced, renamed to the next
// generation, and made live by renaming a synced LIVE.tmp over LIVE. That
// last rename is the single atomic step: before it LIVE names the old
// generation, after it the new one, and each is whole. Open() then removes
// whatever a crash left around the live generation, so recovery needs no
// operator.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "raftlog/status.h"

namespace kvraft::statemachine {

// The points where a snapshot install can be interrupted, in order. Tests
// stop an install at each (KvStateMachine::Options::installHook) and reopen,
// as a crash there would.
enum class InstallStep {
  kStagingWritten,      // every file received, checked and synced; nothing renamed
  kStagingRenamed,      // the staging directory is the next generation; LIVE unchanged
  kPointerTempWritten,  // LIVE.tmp written and synced; LIVE unchanged
  kPointerSwitched,     // LIVE names the new generation; the old one is still open
  kNewStateOpened,      // the new generation is open; the old one is not yet removed
};
const char* InstallStepName(InstallStep step);

// Called before each step's action; a non-OK status stops the install there.
using InstallHook = std::function<Status(InstallStep)>;

// Reads <kvDir>/LIVE without changing anything: *generationDir is the
// live generation's directory. NotFound if there is no LIVE file;
// Corruption if it names no generation or a missing one. KvDirectory::Open
// uses it, and so do read-only inspectors, which must not tidy the
// directory the way Open does.
Status ReadLivePointer(const std::string& kvDir, std::string* generationDir);

class KvDirectory {
 public:
  // Opens `dir`, creating it if missing, and finishes what a crash left: the
  // live generation stays, staging directories, LIVE.tmp and other
  // generations go (each is either incomplete or superseded). Files it does
  // not know are left alone with a warning. If LIVE is missing but exactly
  // one generation exists (a crash between creating the first generation
  // and writing LIVE), that generation is adopted: generations are complete
  // by construction.
  static Status Open(const std::string& dir, std::unique_ptr<KvDirectory>* out);

  const std::string& dir() const { return dir_; }
  bool HasLive() const { return live_ != 0; }
  // The live generation's directory; requires HasLive().
  std::string LivePath() const { return GenerationPath(live_); }
  uint64_t LiveGeneration() const { return live_; }

  // Creates an empty staging directory for the next generation, replacing
  // any left over.
  Status CreateStaging(std::string* path);
  // Removes a staging directory whose install was abandoned.
  Status DiscardStaging(const std::string& path);

  // Makes the staging directory (complete and synced by the caller) the live
  // generation, calling `hook` before steps kStagingWritten ..
  // kPointerTempWritten and ending with the switch of LIVE. On success
  // *previous is the superseded generation's directory ("" if none), which
  // the caller removes with RemoveGeneration() once it no longer uses it.
  Status Promote(const std::string& staging, const InstallHook& hook, std::string* previous);
  Status RemoveGeneration(const std::string& path);

 private:
  explicit KvDirectory(std::string dir) : dir_(std::move(dir)) {}
  std::string GenerationPath(uint64_t generation) const;
  std::string StagingPath(uint64_t generation) const;
  Status Recover();

  const std::string dir_;
  uint64_t live_ = 0;  // 0: no live generation yet
};

}  // namespace kvraft::statemachine
