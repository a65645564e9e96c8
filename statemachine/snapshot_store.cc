#include "statemachine/snapshot_store.h"

#include <glog/logging.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "statemachine/file_util.h"
#include "statemachine/kv_state_machine.h"

namespace kvraft::statemachine {

std::string SnapshotDirName(uint64_t index, uint64_t term) {
  return "snap-" + std::to_string(index) + "-" + std::to_string(term);
}

bool ParseSnapshotDirName(const std::string& name, uint64_t* index, uint64_t* term) {
  unsigned long long i = 0, t = 0;
  int consumed = 0;
  if (std::sscanf(name.c_str(), "snap-%llu-%llu%n", &i, &t, &consumed) != 2) return false;
  if (static_cast<size_t>(consumed) != name.size()) return false;
  if (name != SnapshotDirName(i, t)) return false;  // no leading zeros or signs: one name per snapshot
  *index = i;
  *term = t;
  return true;
}

Status SnapshotStore::Open(const std::string& dir, std::unique_ptr<SnapshotStore>* out) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create the snapshot directory " + dir + ": " + ec.message());
  std::unique_ptr<SnapshotStore> store(new SnapshotStore(dir));
  Status s = store->Recover();
  if (!s.ok()) return s;
  *out = std::move(store);
  return Status::Ok();
}

// Keeps the newest complete snapshot; a tmp- directory is an unfinished
// checkpoint and older snap- directories were superseded before a crash
// could remove them.
Status SnapshotStore::Recover() {
  std::vector<std::string> names;
  Status s = ListDirectory(dir_, &names);
  if (!s.ok()) return s;
  std::optional<SnapshotInfo> newest;
  std::vector<std::string> remove;
  for (const std::string& name : names) {
    uint64_t index = 0, term = 0;
    if (ParseSnapshotDirName(name, &index, &term)) {
      if (newest && newest->appliedIndex >= index) {
        remove.push_back(name);
        continue;
      }
      if (newest) remove.push_back(std::filesystem::path(newest->dir).filename().string());
      newest = SnapshotInfo{dir_ + "/" + name, index, term};
    } else if (name.rfind("tmp-", 0) == 0) {
      remove.push_back(name);
    } else {
      LOG(WARNING) << "snapshot directory " << dir_ << ": leaving alone an unknown entry '" << name
                   << "'";
    }
  }
  for (const std::string& name : remove) {
    s = RemovePath(dir_ + "/" + name);
    if (!s.ok()) return s;
  }
  if (!remove.empty()) {
    s = SyncDirectory(dir_);
    if (!s.ok()) return s;
  }
  if (!newest) return Status::Ok();
  VLOG(1) << "snapshot directory " << dir_ << ": latest snapshot at " << newest->appliedIndex;
  return Publish(*newest);
}

Status SnapshotStore::Publish(const SnapshotInfo& info) {
  std::unique_ptr<SnapshotReader> reader;
  Status s = SnapshotReader::Open(info, &reader);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  latest_ = std::move(reader);
  return Status::Ok();
}

std::optional<SnapshotInfo> SnapshotStore::Latest() const {
  std::lock_guard<std::mutex> l(mu_);
  if (!latest_) return std::nullopt;
  return latest_->info();
}

Status SnapshotStore::Take(KvStateMachine& kv, SnapshotInfo* out) {
  std::lock_guard<std::mutex> take(takeMu_);
  const std::optional<SnapshotInfo> previous = Latest();
  if (previous && previous->appliedIndex == kv.AppliedIndex()) {
    *out = *previous;
    return Status::Ok();
  }
  const std::string tmp = dir_ + "/tmp-" + std::to_string(kv.AppliedIndex());
  Status s = RemovePath(tmp);  // a checkpoint attempt that failed half-way
  if (!s.ok()) return s;
  SnapshotInfo info;
  s = kv.CreateSnapshot(tmp, &info);
  if (!s.ok()) {
    RemovePath(tmp);
    return s;
  }
  const std::string final = dir_ + "/" + SnapshotDirName(info.appliedIndex, info.appliedTerm);
  s = RenamePath(tmp, final);
  if (s.ok()) s = SyncDirectory(dir_);
  if (!s.ok()) return s;
  info.dir = final;
  s = Publish(info);
  if (!s.ok()) return s;
  if (previous && previous->dir != final) {
    // Transfers still reading it hold their file descriptors; new reads of
    // it get kAborted and move to this one.
    s = RemovePath(previous->dir);
    if (!s.ok()) LOG(WARNING) << "cannot remove the superseded snapshot: " << s.ToString();
  }
  *out = info;
  return Status::Ok();
}

Status SnapshotStore::ReadSnapshotChunk(uint64_t snapshotIndex, uint64_t offset, uint64_t maxBytes,
                                        std::string* data, bool* last) const {
  std::shared_ptr<SnapshotReader> reader;
  {
    std::lock_guard<std::mutex> l(mu_);
    reader = latest_;
  }
  if (!reader || reader->info().appliedIndex != snapshotIndex) {
    return Status::Aborted("no snapshot at index " + std::to_string(snapshotIndex) +
                           " is kept any more");
  }
  Status s = reader->Read(offset, maxBytes, data, last);
  if (!s.ok()) {
    // Its files may have gone with a newer snapshot between the two steps.
    std::lock_guard<std::mutex> l(mu_);
    if (latest_ != reader) return Status::Aborted("the snapshot at " + std::to_string(snapshotIndex) + " was replaced");
  }
  return s;
}

}  // namespace kvraft::statemachine
