#pragma once
// The durable Raft log of a node: Storage on a RocksDB instance in
// <data_dir>/raft with column families `log` and `meta` (DESIGN.md,
// "Storage layout"; byte layout in raftlog/log_codec.h).
//
// Durability: every write (Save, CreateSnapshot, InstallSnapshot) is one
// rocksdb::WriteBatch written with sync=true, so when it returns its effect
// survives kill -9 and power loss, and a crash never leaves half of it.
//
// Threads: one thread may write while others read. Writes are serialised
// among themselves; a read sees the store before or after a write, or —
// while a write that removes entries (overwrite, compaction, install) is
// in flight — with the removed entries already gone and the new ones not
// yet there. It never sees half of a batch's new entries.
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "raftlog/storage.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace kvraft::raft {

// The most recent entries of the log, kept in memory so that the leader
// replicates and the node applies them without reading RocksDB. Always a
// contiguous run that ends at the log's last index (or empty), at most
// `maxBytes` as counted by Charge().
class LogTailCache {
 public:
  explicit LogTailCache(uint64_t maxBytes) : maxBytes_(maxBytes) {}

  // The same charge MemoryStorage::Entries counts against maxBytes.
  static uint64_t Charge(const Entry& e) { return e.data.size() + 16; }

  // `entries` (consecutive) replace every cached entry at or after
  // entries.front().index and become the new tail.
  void Append(const std::vector<Entry>& entries);
  // Adds the entry right after the cached ones (used while loading).
  void Push(Entry&& e);
  // Forget entries at or after `index` (a suffix replaced by the leader).
  void TruncateFrom(uint64_t index);
  // Forget entries at or before `index` (compacted by a snapshot).
  void DropThrough(uint64_t index);
  void Clear();

  bool Contains(uint64_t index) const {
    return !entries_.empty() && index >= entries_.front().index && index <= entries_.back().index;
  }
  const Entry& At(uint64_t index) const { return entries_[index - entries_.front().index]; }
  // First cached index; `otherwise` when the cache is empty.
  uint64_t FirstIndexOr(uint64_t otherwise) const {
    return entries_.empty() ? otherwise : entries_.front().index;
  }
  uint64_t bytes() const { return bytes_; }

 private:
  void EvictToLimit();

  const uint64_t maxBytes_;
  uint64_t bytes_ = 0;
  std::deque<Entry> entries_;
};

class RocksDbStorage : public Storage {
 public:
  struct Options {
    // The raft instance's directory, <data_dir>/raft. Created if missing.
    std::string dir;
    // Who this node is. Written into a new store and checked on every open:
    // a node never starts on another node's or another cluster's log.
    std::string clusterId;
    NodeId nodeId = kNoNode;
    // The voters of a new cluster: written as the configuration of the
    // initial (empty) snapshot when the store is created, so that
    // Snapshot().voters is right from the first start on. Ignored when the
    // store exists.
    std::vector<NodeId> voters;
    // Bytes of recent entries kept in memory (LogTailCache::Charge). Larger
    // means more followers and the applier are served from memory; smaller
    // saves RAM. 16 MiB holds ~58,000 256-byte commands: far more than a
    // healthy follower lags by (Config::maxInflightMsgs x maxSizePerMsg is
    // the leader's send window; a follower further behind is catching up
    // and is served from RocksDB in maxReadBytes reads).
    uint64_t tailCacheBytes = 16 << 20;
    // Upper bound on the bytes one Entries() call reads (Entries' own
    // maxBytes also applies). It bounds the memory and the time a read of
    // old entries holds the store's lock, delaying a concurrent writer's
    // bookkeeping; 4 MiB matches Config::maxCommittedSizePerReady, so one
    // read fills one Ready.
    uint64_t maxReadBytes = 4 << 20;
  };

  // Column family names (the `default` family exists but stays empty).
  static constexpr const char* kLogColumnFamily = "log";
  static constexpr const char* kMetaColumnFamily = "meta";

  // Opens the store in options.dir, creating it if the directory is missing
  // (or empty). Before anything is written, the existing store is checked
  // read-only: its identity (format version, cluster id, node id) and the
  // CRC of every stored entry and meta record. A failed check returns a
  // Status naming the directory (and entry index) and what to do, and leaves
  // every file in the directory as it was.
  static Status Open(const Options& options, std::unique_ptr<RocksDbStorage>* out);
  ~RocksDbStorage() override;

  HardState InitialHardState() const override;
  SnapshotMeta Snapshot() const override;
  uint64_t FirstIndex() const override;
  uint64_t LastIndex() const override;
  Status Term(uint64_t index, uint64_t* term) const override;
  Status Entries(uint64_t lo, uint64_t hi, uint64_t maxBytes,
                 std::vector<Entry>* out) const override;

  Status Save(const HardState* hardState, const std::vector<Entry>& entries) override;
  Status InstallSnapshot(const SnapshotMeta& meta) override;
  Status CreateSnapshot(const SnapshotMeta& meta) override;

  const std::string& dir() const { return options_.dir; }
  // How many writes were synced so far (Save syncs only what must be).
  uint64_t SyncedWrites() const { return syncedWrites_.load(std::memory_order_relaxed); }

  // Compacts both column families (reclaims the space of entries a
  // snapshot or a conflicting suffix removed); the log does not change.
  // Writes go on meanwhile. For operators (kvadmin compact).
  Status CompactStorage();

  // The RocksDB options the store runs with. Public so that the benchmark
  // measures raw RocksDB tuned exactly the same way.
  static rocksdb::DBOptions DbOptions();
  static rocksdb::ColumnFamilyOptions LogColumnFamilyOptions();
  static rocksdb::ColumnFamilyOptions MetaColumnFamilyOptions();
  // Every column family with its options, in handle order: default, log,
  // meta. Read-only inspectors open the store with exactly these.
  static std::vector<rocksdb::ColumnFamilyDescriptor> ColumnFamilies();

 private:
  // What Open() reads and checks before the store goes live.
  struct Loaded;

  RocksDbStorage(const Options& options, Loaded&& loaded);

  static Status CreateStore(const Options& options);
  static Status CheckAndLoad(const Options& options, Loaded* loaded);
  static Status LoadFrom(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log,
                         rocksdb::ColumnFamilyHandle* meta, const Options& options,
                         Loaded* loaded);

  // Requires mu_. Reads [lo, hi) from RocksDB, verifying every CRC, into
  // *out; `take` decides per entry whether to go on (the byte limit).
  template <typename Take>
  Status ReadFromDisk(uint64_t lo, uint64_t hi, Take take) const;
  // Require writeMu_. Write `batch` synced or not (into the WAL, which
  // the next synced write makes durable too); a failure poisons the store.
  Status WriteSynced(rocksdb::WriteBatch* batch, const char* what);
  // For the node's loop statistics.
  std::atomic<uint64_t> syncedWrites_{0};
  Status WriteUnsynced(rocksdb::WriteBatch* batch, const char* what);
  Status Write(rocksdb::WriteBatch* batch, bool sync, const char* what);
  // A Corruption status found by a read (its message names the entry),
  // with the directory and what to do; logged as well.
  Status ReadCorruption(const Status& why) const;

  const Options options_;
  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* defaultCf_ = nullptr;  // unused, but RocksDB hands it out
  rocksdb::ColumnFamilyHandle* log_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;

  // Serialises writers. A writer decides against the cached state below,
  // which only writers change (under mu_ as well), so it may read it
  // without mu_.
  std::mutex writeMu_;
  // Set when a synced write failed: RocksDB may be in an error state and
  // the cache may no longer match the disk, so every later write fails too.
  Status failed_;

  // Guards the cached copy of what is on disk. Readers hold it for the whole
  // read (including RocksDB reads of old entries); writers take it only to
  // publish, never across the fsync: entries a write removes are withdrawn
  // before it, entries and hard state it adds are published after it.
  mutable std::mutex mu_;
  HardState hardState_;
  SnapshotMeta snapshot_;
  uint64_t lastIndex_ = 0;
  LogTailCache tail_;
};

}  // namespace kvraft::raft
