#include "statemachine/kv_directory.h"

#include <glog/logging.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <vector>

#include "statemachine/file_util.h"

namespace kvraft::statemachine {

namespace fs = std::filesystem;

namespace {

constexpr const char* kLiveFile = "LIVE";
constexpr const char* kLiveTempFile = "LIVE.tmp";
constexpr const char* kGenerationPrefix = "db-";
constexpr const char* kStagingPrefix = "staging-";

std::string NumberedName(const char* prefix, uint64_t n) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%s%06" PRIu64, prefix, n);
  return buf;
}

// Parses "<prefix><digits>"; false for any other name.
bool ParseNumberedName(const std::string& name, const std::string& prefix, uint64_t* n) {
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return false;
  if (name.size() - prefix.size() > 19) return false;  // keeps the value below 2^64
  uint64_t v = 0;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *n = v;
  return v != 0;
}

// LIVE's contents: "<generation name>\n".
Status ReadLiveNumber(const std::string& dir, uint64_t* n) {
  std::string contents;
  Status s = ReadSmallFile(dir + "/" + kLiveFile, 64, &contents);
  if (!s.ok()) return s;
  if (contents.empty() || contents.back() != '\n' ||
      !ParseNumberedName(contents.substr(0, contents.size() - 1), kGenerationPrefix, n)) {
    return Status::Corruption("kv directory " + dir + ": " + kLiveFile +
                              " does not name a generation (it is written only by rename, so "
                              "the directory was changed by hand); restore it or remove " +
                              dir + " and let the node fetch a snapshot");
  }
  if (!fs::is_directory(dir + "/" + NumberedName(kGenerationPrefix, *n))) {
    return Status::Corruption("kv directory " + dir + ": " + kLiveFile + " names " +
                              NumberedName(kGenerationPrefix, *n) + ", which is missing; remove " +
                              dir + " and let the node fetch a snapshot");
  }
  return Status::Ok();
}

}  // namespace

Status ReadLivePointer(const std::string& kvDir, std::string* generationDir) {
  std::error_code ec;
  if (!fs::exists(kvDir + "/" + kLiveFile, ec)) {
    return Status::NotFound("kv directory " + kvDir + " has no " + kLiveFile +
                            " file naming its live generation (not a kvd data directory, or the "
                            "node never started)");
  }
  uint64_t n = 0;
  Status s = ReadLiveNumber(kvDir, &n);
  if (!s.ok()) return s;
  *generationDir = kvDir + "/" + NumberedName(kGenerationPrefix, n);
  return Status::Ok();
}

const char* InstallStepName(InstallStep step) {
  switch (step) {
    case InstallStep::kStagingWritten:
      return "staging_written";
    case InstallStep::kStagingRenamed:
      return "staging_renamed";
    case InstallStep::kPointerTempWritten:
      return "pointer_temp_written";
    case InstallStep::kPointerSwitched:
      return "pointer_switched";
    case InstallStep::kNewStateOpened:
      return "new_state_opened";
  }
  return "unknown";
}

std::string KvDirectory::GenerationPath(uint64_t generation) const {
  return dir_ + "/" + NumberedName(kGenerationPrefix, generation);
}

std::string KvDirectory::StagingPath(uint64_t generation) const {
  return dir_ + "/" + NumberedName(kStagingPrefix, generation);
}

Status KvDirectory::Open(const std::string& requested, std::unique_ptr<KvDirectory>* out) {
  if (requested.empty())
    return Status::InvalidArgument("kv directory: no path given (pass <data_dir>/kv)");
  std::string dir = fs::path(requested).lexically_normal().string();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();

  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return Status::IOError("cannot create the kv directory " + dir + ": " + ec.message());
    const fs::path parent = fs::path(dir).parent_path();
    Status s = SyncDirectory(parent.empty() ? "." : parent.string());
    if (!s.ok()) return s;
  } else if (!fs::is_directory(dir, ec)) {
    return Status::InvalidArgument("the kv directory " + dir +
                                   " exists but is not a directory: pass <data_dir>/kv");
  }
  std::unique_ptr<KvDirectory> d(new KvDirectory(dir));
  Status s = d->Recover();
  if (!s.ok()) return s;
  *out = std::move(d);
  return Status::Ok();
}

Status KvDirectory::Recover() {
  std::vector<std::string> names;
  Status s = ListDirectory(dir_, &names);
  if (!s.ok()) return s;

  std::vector<uint64_t> generations;
  bool hasLiveFile = false;
  for (const std::string& name : names) {
    uint64_t n = 0;
    if (name == kLiveFile) hasLiveFile = true;
    if (ParseNumberedName(name, kGenerationPrefix, &n)) generations.push_back(n);
  }

  if (hasLiveFile) {
    uint64_t n = 0;
    s = ReadLiveNumber(dir_, &n);
    if (!s.ok()) return s;
    live_ = n;
  } else if (generations.size() == 1) {
    // Only the very first generation can exist without LIVE: a crash came
    // between its rename into place and the first LIVE. It is complete.
    live_ = generations.front();
    LOG(WARNING) << "kv directory " << dir_ << ": adopting "
                 << NumberedName(kGenerationPrefix, live_)
                 << " as the live generation (its pointer was never written)";
    s = WriteFileSynced(dir_ + "/" + kLiveTempFile, NumberedName(kGenerationPrefix, live_) + "\n");
    if (s.ok()) s = RenamePath(dir_ + "/" + kLiveTempFile, dir_ + "/" + kLiveFile);
    if (s.ok()) s = SyncDirectory(dir_);
    if (!s.ok()) return s;
  } else if (generations.empty() &&
             std::find(names.begin(), names.end(), "CURRENT") != names.end()) {
    // A RocksDB instance written straight into the directory, not by kvraft.
    return Status::InvalidArgument("kv directory " + dir_ +
                                   " holds a RocksDB instance that kvraft did not create (no " +
                                   kLiveFile + "): pass an empty or kvraft-made <data_dir>/kv");
  } else if (generations.size() > 1) {
    return Status::Corruption(
        "kv directory " + dir_ + " holds " + std::to_string(generations.size()) +
        " generations but no " + kLiveFile +
        " naming the live one (it is never removed, so the directory "
        "was changed by hand); restore " +
        kLiveFile + " or remove " + dir_ + " and let the node fetch a snapshot");
  }

  // Everything but the live generation is left over from an interrupted
  // install or removal.
  bool removed = false;
  for (const std::string& name : names) {
    uint64_t n = 0;
    const bool staleGeneration = ParseNumberedName(name, kGenerationPrefix, &n) && n != live_;
    const bool staging = ParseNumberedName(name, kStagingPrefix, &n);
    if (staleGeneration || staging || name == kLiveTempFile) {
      LOG(INFO) << "kv directory " << dir_ << ": removing " << name << ", left by an interrupted "
                << (staging ? "snapshot install" : "install or removal");
      s = RemovePath(dir_ + "/" + name);
      if (!s.ok()) return s;
      removed = true;
    } else if (name != kLiveFile &&
               !(ParseNumberedName(name, kGenerationPrefix, &n) && n == live_)) {
      LOG(WARNING) << "kv directory " << dir_ << ": ignoring unknown entry " << name;
    }
  }
  return removed ? SyncDirectory(dir_) : Status::Ok();
}

Status KvDirectory::CreateStaging(std::string* path) {
  *path = StagingPath(live_ + 1);
  Status s = RemovePath(*path);
  if (!s.ok()) return s;
  std::error_code ec;
  fs::create_directory(*path, ec);
  if (ec) return Status::IOError("cannot create " + *path + ": " + ec.message());
  return Status::Ok();
}

Status KvDirectory::DiscardStaging(const std::string& path) {
  Status s = RemovePath(path);
  return s.ok() ? SyncDirectory(dir_) : s;
}

Status KvDirectory::Promote(const std::string& staging, const InstallHook& hook,
                            std::string* previous) {
  auto step = [&](InstallStep st) { return hook ? hook(st) : Status::Ok(); };
  const uint64_t next = live_ + 1;
  CHECK_EQ(staging, StagingPath(next)) << "Promote of a directory CreateStaging did not make";
  const std::string target = GenerationPath(next);

  Status s = step(InstallStep::kStagingWritten);
  if (s.ok()) s = RenamePath(staging, target);
  if (s.ok()) s = SyncDirectory(dir_);
  if (s.ok()) s = step(InstallStep::kStagingRenamed);
  if (s.ok())
    s = WriteFileSynced(dir_ + "/" + kLiveTempFile, NumberedName(kGenerationPrefix, next) + "\n");
  if (s.ok()) s = step(InstallStep::kPointerTempWritten);
  // The commit point: LIVE names the new generation once this rename is
  // durable, and the old one until then.
  if (s.ok()) s = RenamePath(dir_ + "/" + kLiveTempFile, dir_ + "/" + kLiveFile);
  if (s.ok()) s = SyncDirectory(dir_);
  if (!s.ok()) return s;
  *previous = live_ == 0 ? std::string() : GenerationPath(live_);
  live_ = next;
  return Status::Ok();
}

Status KvDirectory::RemoveGeneration(const std::string& path) {
  if (path.empty()) return Status::Ok();
  CHECK_NE(path, LivePath()) << "removing the live generation";
  Status s = RemovePath(path);
  return s.ok() ? SyncDirectory(dir_) : s;
}

}  // namespace kvraft::statemachine
