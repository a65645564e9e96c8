#pragma once
// LogInspector: a read-only view of a raft log store (<data_dir>/raft, see
// rocksdb_storage.h and log_codec.h) for kvadmin. Unlike RocksDbStorage
// it never writes, never refuses a damaged store as a whole, and never stops
// at the first bad entry: it hands every stored record to the caller with
// what is wrong with it, so that an operator sees all of the damage.
//
// Opening is RocksDB's OpenForReadOnly with the store's own options and the
// info log routed to glog (rocksdb_read_only.h): no file in the directory is
// created, changed or removed, and a running kvd may keep using it.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raftlog/log_codec.h"
#include "raftlog/rocksdb_read_only.h"
#include "raftlog/status.h"
#include "raftlog/types.h"

namespace kvraft::raft {

// One record of the `log` column family as found on disk.
struct StoredEntry {
  // The index its key names; valid only if keyOk.
  uint64_t index = 0;
  bool keyOk = false;
  std::string rawKey;     // the key's bytes, for a key that is not an index
  size_t valueBytes = 0;  // the stored value's size
  // OK, or Corruption with the reason (CRC mismatch, bad type, short value).
  Status decoded;
  Entry entry;  // valid only if decoded.ok()
};

// A problem in the store: where (e.g. "raft log index 57") and what.
struct LogProblem {
  std::string where;
  std::string what;
};

// What the checks of Check() learned about the log, for cross-checks with
// the kv instance.
struct LogSummary {
  bool identityOk = false;
  StoreIdentity identity;
  bool hardStateOk = false;
  HardState hardState;
  bool snapshotOk = false;
  SnapshotMeta snapshot;
  uint64_t entries = 0;    // records in the `log` column family
  uint64_t firstIndex = 0; // of the stored entries; 0 if none
  uint64_t lastIndex = 0;  // the log's last index: the last stored entry, else the snapshot's
};

class LogInspector {
 public:
  // Opens `dir` (<data_dir>/raft) read-only. Fails with IOError naming the
  // directory if it is missing or RocksDB cannot open it.
  static Status Open(const std::string& dir, std::unique_ptr<LogInspector>* out);

  const std::string& dir() const { return dir_; }

  // The `meta` records, decoded and CRC-checked. NotFound if absent,
  // Corruption (with the reason) if damaged.
  Status ReadIdentity(StoreIdentity* identity) const;
  Status ReadHardState(HardState* hardState) const;
  Status ReadSnapshotMeta(SnapshotMeta* meta) const;

  // Calls `visit` for every stored record of the `log` column family whose
  // key is in [from, to] (to = 0: no upper bound), in index order, until it
  // returns false. A damaged record is visited with its reason; only a
  // failure to read on (RocksDB's own block checksum, I/O) ends the walk
  // early, as the returned status.
  Status ForEachEntry(uint64_t from, uint64_t to,
                      const std::function<bool(const StoredEntry&)>& visit) const;

  // The index of the last stored entry, if any.
  Status LastStoredIndex(std::optional<uint64_t>* index) const;
  // The stored entry at `index`: NotFound if there is none, Corruption if it
  // fails its CRC.
  Status ReadEntry(uint64_t index, Entry* entry) const;

  // Every check of a log store on its own: identity, hard state and
  // snapshot records; every entry's CRC; entries contiguous from the
  // snapshot index + 1 to the last; terms never decreasing and never below
  // the snapshot term; commit <= last index; RocksDB's block checksums of
  // every file. Appends one LogProblem per finding; *summary is filled in
  // as far as the records could be read.
  void Check(std::vector<LogProblem>* problems, LogSummary* summary) const;

  // Keys, bytes and RocksDB sizes of the `log` and `meta` column families.
  Status Stats(std::vector<inspect::ColumnFamilyStats>* out) const;

 private:
  explicit LogInspector(std::string dir) : dir_(std::move(dir)) {}
  Status GetMeta(std::string_view key, std::string* value) const;

  const std::string dir_;
  inspect::ReadOnlyInstance db_;  // handles: default, log, meta
};

}  // namespace kvraft::raft
