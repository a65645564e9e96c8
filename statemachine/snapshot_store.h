#pragma once
// The node's latest snapshot of its kv state: the checkpoint a leader
// streams to followers that are too far behind (raft::SnapshotSource), and
// the point up to which the Raft log is compacted.
//
//   <dir>/snap-<index>-<term>/   a checkpoint of the kv instance at that
//                                applied index and term (one at a time)
//   <dir>/tmp-<index>/           a checkpoint being made
//
// A checkpoint is made under a tmp- name and renamed, so a snap- directory
// is always complete; Open() removes whatever a crash left besides the
// newest one.
//
// Threads: any. Take() calls run one at a time (the node's loop keeps an
// installed snapshot while a checkpoint thread takes one); ReadSnapshotChunk()
// and Latest() run concurrently with them. A transfer still reading
// a snapshot that Take() replaced learns so from kAborted.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "raftlog/snapshot_source.h"
#include "raftlog/status.h"
#include "statemachine/snapshot_reader.h"

namespace kvraft::statemachine {

class KvStateMachine;

// A snapshot's directory name, "snap-<index>-<term>", and its parse (false
// for any other name, including ones with leading zeros or signs).
std::string SnapshotDirName(uint64_t index, uint64_t term);
bool ParseSnapshotDirName(const std::string& name, uint64_t* index, uint64_t* term);

class SnapshotStore : public raft::SnapshotSource {
 public:
  // Opens `dir`, creating it if missing. It should be on the same file
  // system as the kv instance, so that checkpoints are hard links.
  static Status Open(const std::string& dir, std::unique_ptr<SnapshotStore>* out);

  // Makes a checkpoint of `kv` the latest snapshot and removes the previous
  // one. The checkpoint is at the applied index or, with batches applied
  // meanwhile, past it (KvStateMachine::CreateSnapshot). When the latest is
  // already at the applied index, keeps it. *out describes the latest.
  Status Take(KvStateMachine& kv, SnapshotInfo* out);

  std::optional<SnapshotInfo> Latest() const;

  Status ReadSnapshotChunk(uint64_t snapshotIndex, uint64_t offset, uint64_t maxBytes,
                           std::string* data, bool* last) const override;

 private:
  explicit SnapshotStore(std::string dir) : dir_(std::move(dir)) {}
  Status Recover();
  Status Publish(const SnapshotInfo& info);

  const std::string dir_;
  std::mutex takeMu_;  // one Take at a time
  mutable std::mutex mu_;
  // The latest snapshot's reader; readers in progress keep an old one alive.
  std::shared_ptr<SnapshotReader> latest_;  // under mu_
};

}  // namespace kvraft::statemachine
