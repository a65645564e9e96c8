#include "raftlog/rocksdb_storage.h"

#include <fcntl.h>
#include <glog/logging.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "raftlog/log_codec.h"
#include "raftlog/sized_wal_env.h"

namespace kvraft::raft {

namespace fs = std::filesystem;

// ------------------------------------------------------------ LogTailCache

void LogTailCache::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  TruncateFrom(entries.front().index);
  if (!entries_.empty() && entries_.back().index + 1 != entries.front().index) Clear();
  // Copy only the entries that will survive eviction: a batch larger than
  // the cache keeps just its own tail.
  size_t from = entries.size();
  uint64_t fitting = 0;
  while (from > 0 && fitting + Charge(entries[from - 1]) <= maxBytes_) {
    fitting += Charge(entries[--from]);
  }
  if (from > 0) Clear();  // the batch alone overflows: older cached entries go too
  for (size_t i = from; i < entries.size(); ++i) {
    bytes_ += Charge(entries[i]);
    entries_.push_back(entries[i]);
  }
  EvictToLimit();
}

void LogTailCache::Push(Entry&& e) {
  CHECK(entries_.empty() || entries_.back().index + 1 == e.index)
      << "tail cache must stay contiguous: " << entries_.back().index << " then " << e.index;
  bytes_ += Charge(e);
  entries_.push_back(std::move(e));
  EvictToLimit();
}

void LogTailCache::TruncateFrom(uint64_t index) {
  while (!entries_.empty() && entries_.back().index >= index) {
    bytes_ -= Charge(entries_.back());
    entries_.pop_back();
  }
}

void LogTailCache::DropThrough(uint64_t index) {
  while (!entries_.empty() && entries_.front().index <= index) {
    bytes_ -= Charge(entries_.front());
    entries_.pop_front();
  }
}

void LogTailCache::Clear() {
  entries_.clear();
  bytes_ = 0;
}

void LogTailCache::EvictToLimit() {
  while (bytes_ > maxBytes_) {
    bytes_ -= Charge(entries_.front());
    entries_.pop_front();
  }
}

// ------------------------------------------------------------ helpers

namespace {

// RocksDB's info log, sent to glog. Used for the read-only check at open,
// which must not create or rotate a LOG file in the data directory.
class GlogInfoLogger : public rocksdb::Logger {
 public:
  GlogInfoLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {}
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < rocksdb::InfoLogLevel::WARN_LEVEL && !VLOG_IS_ON(2)) return;
    char buf[1024];
    std::vsnprintf(buf, sizeof(buf), format, ap);
    if (level >= rocksdb::InfoLogLevel::WARN_LEVEL) {
      LOG(WARNING) << "rocksdb: " << buf;
    } else {
      VLOG(2) << "rocksdb: " << buf;
    }
  }
};

// An open instance with our column families; closes itself.
struct OpenDb {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // default, log, meta

  ~OpenDb() { Close(); }
  void Close() {
    if (db == nullptr) return;
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    handles.clear();
    db->Close().PermitUncheckedError();
    delete db;
    db = nullptr;
  }
  rocksdb::ColumnFamilyHandle* defaultCf() const { return handles[0]; }
  rocksdb::ColumnFamilyHandle* log() const { return handles[1]; }
  rocksdb::ColumnFamilyHandle* meta() const { return handles[2]; }
  // Hands the instance and its handles to the caller.
  rocksdb::DB* Release() {
    handles.clear();
    return std::exchange(db, nullptr);
  }
};

// What to do about a damaged store; shared by every corruption message.
std::string CorruptionAdvice(const std::string& dir) {
  return ". The node must not run on a damaged log: restore this node's data directory "
         "from a backup or snapshot, or remove it (" + dir + " and the kv instance beside it) "
         "and let the node rejoin the cluster, which sends it a snapshot";
}

Status StoreCorruption(const std::string& dir, const std::string& what) {
  return Status::Corruption("raft log store " + dir + ": " + what + CorruptionAdvice(dir));
}

// "/a/b/raft/" and "/a/b/raft" name the same store; keep one spelling so
// that messages and the staging directory name agree.
std::string NormalizeDir(const std::string& dir) {
  std::string d = fs::path(dir).lexically_normal().string();
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d;
}

// A rename is durable only once the directory holding it is synced.
Status SyncDirectory(const fs::path& dir) {
  const std::string name = dir.empty() ? "." : dir.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open directory " + name + " to sync it");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IOError("cannot fsync directory " + name);
  return Status::Ok();
}

Status GetMeta(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* meta, std::string_view key,
               const std::string& dir, std::string* value) {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  rocksdb::Status s = db->Get(ro, meta, rocksdb::Slice(key.data(), key.size()), value);
  if (s.IsNotFound()) {
    return StoreCorruption(dir, "the meta record '" + std::string(key) +
                                    "' is missing (the store was not written by kvraft, or "
                                    "was damaged)");
  }
  if (!s.ok()) return StoreCorruption(dir, "reading meta record '" + std::string(key) + "' failed: " + s.ToString());
  return Status::Ok();
}

}  // namespace

// ------------------------------------------------------------ RocksDB options

rocksdb::DBOptions RocksDbStorage::DbOptions() {
  rocksdb::DBOptions o;
  // A torn last WAL record can only be a write that was never acknowledged
  // (its fsync did not return); point-in-time recovery drops it and keeps
  // everything before it, which is exactly the set of writes we reported
  // durable. (The default in RocksDB 7; set here because we rely on it.)
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // Both column families share the WAL and `meta` is written by every
  // batch, so a WAL file stays alive until both have flushed it. Bounding
  // the WAL forces those flushes and bounds what a restart replays (the
  // default is 4 x the total write buffer, ~0.5 GiB here).
  o.max_total_wal_size = 128 << 20;
  // Every open rotates the info LOG; keep a few for diagnosis instead of
  // the default 1000 files in the data directory.
  o.keep_log_file_num = 10;
  // The log holds a few small files (entries live until the next
  // snapshot), and a start opens the store three times (create, check,
  // open): RocksDB's default of 16 threads, started and joined by every
  // open to open table files in parallel, would cost more than they save.
  o.max_file_opening_threads = 1;
  // Each log write's fdatasync then writes the data alone, not the inode
  // too (sized_wal_env.h).
  o.env = SizedWalEnv();
  return o;
}

rocksdb::ColumnFamilyOptions RocksDbStorage::LogColumnFamilyOptions() {
  rocksdb::ColumnFamilyOptions o;
  // Entries live briefly (until the next snapshot) and are mostly read back
  // from the tail cache or the memtable; compressing them at flush would
  // spend CPU, which is what limits a small node (DESIGN.md, "The node at
  // run time"), to save disk we give back at the next compaction anyway.
  o.compression = rocksdb::kNoCompression;
  o.bottommost_compression = rocksdb::kNoCompression;
  // Keys arrive in increasing order and leave as a prefix: flushed files do
  // not overlap, so level compaction mostly moves them down without
  // rewriting, and prefix DeleteRange plus DeleteFilesInRange (see
  // CreateSnapshot) drop whole files. Reads are by position, never by a
  // missing key, so no bloom filter is configured (the default).
  return o;
}

rocksdb::ColumnFamilyOptions RocksDbStorage::MetaColumnFamilyOptions() {
  rocksdb::ColumnFamilyOptions o;
  // A few small keys overwritten by every batch: a small memtable flushes
  // often, so `meta` does not keep old WAL files alive (see
  // max_total_wal_size), and each flush writes only the latest versions.
  o.write_buffer_size = 4 << 20;
  return o;
}

// ------------------------------------------------------------ open

struct RocksDbStorage::Loaded {
  explicit Loaded(uint64_t tailCacheBytes) : tail(tailCacheBytes) {}
  HardState hardState;
  SnapshotMeta snapshot;
  uint64_t lastIndex = 0;
  LogTailCache tail;
};

Status RocksDbStorage::Open(const Options& requested, std::unique_ptr<RocksDbStorage>* out) {
  Options options = requested;
  options.dir = NormalizeDir(requested.dir);
  if (requested.dir.empty()) return Status::InvalidArgument("raft log store: no directory given");
  if (options.clusterId.empty()) return Status::InvalidArgument("raft log store " + options.dir + ": no cluster id given");
  if (options.nodeId == kNoNode) return Status::InvalidArgument("raft log store " + options.dir + ": node ids start at 1");

  std::error_code ec;
  const fs::file_status st = fs::status(options.dir, ec);
  bool create = !fs::exists(st);
  if (!create && !fs::is_directory(st)) {
    return Status::InvalidArgument("raft log store " + options.dir +
                                   " exists but is not a directory: pass the node's data directory");
  }
  if (!create) create = fs::is_empty(options.dir, ec) && !ec;
  if (create) {
    Status s = CreateStore(options);
    if (!s.ok()) return s;
    LOG(INFO) << "created raft log store " << options.dir << " for node " << options.nodeId
              << " of cluster " << options.clusterId;
  }

  Loaded loaded(options.tailCacheBytes);
  Status s = CheckAndLoad(options, &loaded);
  if (!s.ok()) return s;

  // The store checked out; only now open it for writing (which replays the
  // WAL into new files, rotates the LOG, and so on).
  OpenDb db;
  rocksdb::Status rs = rocksdb::DB::Open(DbOptions(), options.dir, ColumnFamilies(), &db.handles, &db.db);
  if (!rs.ok()) {
    return Status::IOError("raft log store " + options.dir + ": cannot open for writing: " +
                           rs.ToString() +
                           " (if another process holds its LOCK, stop that one first)");
  }
  out->reset(new RocksDbStorage(options, std::move(loaded)));
  (*out)->defaultCf_ = db.defaultCf();
  (*out)->log_ = db.log();
  (*out)->meta_ = db.meta();
  (*out)->db_ = db.Release();
  LOG(INFO) << "opened raft log store " << options.dir << ": entries [" << (*out)->FirstIndex()
            << ", " << (*out)->LastIndex() << "], term " << (*out)->InitialHardState().currentTerm;
  return Status::Ok();
}

// Creates the store in a staging directory beside the target and renames it
// into place, so a crash during creation never leaves a directory that
// looks like a store but lacks its identity.
Status RocksDbStorage::CreateStore(const Options& options) {
  const fs::path dir(options.dir);
  const std::string staging = options.dir + ".creating";
  std::error_code ec;
  if (dir.has_parent_path()) {
    fs::create_directories(dir.parent_path(), ec);
    if (ec) return Status::IOError("cannot create " + dir.parent_path().string() + ": " + ec.message());
  }
  fs::remove_all(staging, ec);  // left by a creation that crashed: it never held data
  if (ec) return Status::IOError("cannot remove the stale " + staging + ": " + ec.message());

  rocksdb::DBOptions dbOptions = DbOptions();
  dbOptions.create_if_missing = true;
  dbOptions.create_missing_column_families = true;
  {
    OpenDb db;
    rocksdb::Status rs = rocksdb::DB::Open(dbOptions, staging, ColumnFamilies(), &db.handles, &db.db);
    if (!rs.ok()) return Status::IOError("cannot create raft log store in " + staging + ": " + rs.ToString());
    SnapshotMeta initial;
    initial.voters = options.voters;
    rocksdb::WriteBatch batch;
    StoreIdentity identity;
    identity.clusterId = options.clusterId;
    identity.nodeId = options.nodeId;
    batch.Put(db.meta(), std::string(kIdentityKey), EncodeIdentity(identity));
    batch.Put(db.meta(), std::string(kHardStateKey), EncodeHardState(HardState{}));
    batch.Put(db.meta(), std::string(kSnapshotMetaKey), EncodeSnapshotMeta(initial));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rs = db.db->Write(wo, &batch);
    if (!rs.ok()) return Status::IOError("cannot write the new raft log store in " + staging + ": " + rs.ToString());
  }
  fs::rename(staging, dir, ec);
  if (ec) return Status::IOError("cannot move " + staging + " to " + options.dir + ": " + ec.message());
  return SyncDirectory(dir.parent_path());
}

// Opens the store read-only with the info log sent to glog: RocksDB then
// writes nothing into the directory, so a store that fails a check is left
// exactly as it was for the operator (or kvadmin) to inspect.
Status RocksDbStorage::CheckAndLoad(const Options& options, Loaded* loaded) {
  rocksdb::DBOptions dbOptions = DbOptions();
  dbOptions.info_log = std::make_shared<GlogInfoLogger>();
  OpenDb db;
  rocksdb::Status rs = rocksdb::DB::OpenForReadOnly(dbOptions, options.dir, ColumnFamilies(),
                                                    &db.handles, &db.db);
  if (!rs.ok()) {
    return Status::Corruption(
        "raft log store " + options.dir + " cannot be opened: " + rs.ToString() +
        ". If this is not a kvraft data directory, pass the right --data_dir; if it is, it is "
        "damaged" + CorruptionAdvice(options.dir));
  }
  return LoadFrom(db.db, db.log(), db.meta(), options, loaded);
}

Status RocksDbStorage::LoadFrom(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log,
                                rocksdb::ColumnFamilyHandle* meta, const Options& options,
                                Loaded* loaded) {
  const std::string& dir = options.dir;
  std::string value;

  // Identity first: a store of another version, cluster or node is not
  // ours to interpret.
  Status s = GetMeta(db, meta, kIdentityKey, dir, &value);
  if (!s.ok()) return s;
  uint32_t version = 0;
  s = DecodeIdentityVersion(value, &version);
  if (!s.ok()) return StoreCorruption(dir, s.message());
  if (version != kLogFormatVersion) {
    return Status::InvalidArgument(
        "raft log store " + dir + " has format version " + std::to_string(version) +
        ", but this build reads only version " + std::to_string(kLogFormatVersion) +
        ": run a kvd release that supports that version, or remove the node's data directory "
        "and let it rejoin the cluster");
  }
  StoreIdentity identity;
  s = DecodeIdentity(value, &identity);
  if (!s.ok()) return StoreCorruption(dir, s.message());
  if (identity.clusterId != options.clusterId || identity.nodeId != options.nodeId) {
    return Status::InvalidArgument(
        "raft log store " + dir + " belongs to node " + std::to_string(identity.nodeId) +
        " of cluster '" + identity.clusterId + "', not to node " + std::to_string(options.nodeId) +
        " of cluster '" + options.clusterId +
        "': check --data_dir, --node_id and --cluster_id; if the directory is a stale "
        "leftover, remove it");
  }

  auto loadMeta = [&](std::string_view key, auto decode) {
    Status st = GetMeta(db, meta, key, dir, &value);
    if (!st.ok()) return st;
    st = decode(value);
    return st.ok() ? st : StoreCorruption(dir, st.message());
  };
  s = loadMeta(kHardStateKey, [&](std::string_view v) { return DecodeHardState(v, &loaded->hardState); });
  if (!s.ok()) return s;
  s = loadMeta(kSnapshotMetaKey, [&](std::string_view v) { return DecodeSnapshotMeta(v, &loaded->snapshot); });
  if (!s.ok()) return s;

  // Every entry: consecutive from the snapshot on, CRC intact, terms never
  // decreasing (§5.3: a log's terms only grow). A bad entry stops start-up;
  // it is never skipped or rewritten.
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;  // a one-off scan; keep the block cache for real reads
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, log));
  uint64_t expected = loaded->snapshot.lastIncludedIndex + 1;
  uint64_t prevTerm = loaded->snapshot.lastIncludedTerm;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    uint64_t index = 0;
    if (!DecodeLogKey(std::string_view(key.data(), key.size()), &index)) {
      return StoreCorruption(dir, "the log holds a key of " + std::to_string(key.size()) +
                                      " bytes after entry " + std::to_string(expected - 1) +
                                      " (keys are 8-byte indexes)");
    }
    if (index != expected) {
      return StoreCorruption(dir, "entry " + std::to_string(expected) + " is missing: after " +
                                      std::to_string(expected - 1) + " the log holds entry " +
                                      std::to_string(index));
    }
    Entry e;
    const rocksdb::Slice v = it->value();
    s = DecodeEntryValue(index, std::string_view(v.data(), v.size()), &e);
    if (!s.ok()) return StoreCorruption(dir, s.message());
    if (e.term < prevTerm) {
      return StoreCorruption(dir, "entry " + std::to_string(index) + " has term " +
                                      std::to_string(e.term) + ", below the term " +
                                      std::to_string(prevTerm) + " before it");
    }
    prevTerm = e.term;
    loaded->tail.Push(std::move(e));
    ++expected;
  }
  if (!it->status().ok()) {
    return StoreCorruption(dir, "reading the log after entry " + std::to_string(expected - 1) +
                                    " failed: " + it->status().ToString());
  }
  loaded->lastIndex = expected - 1;
  return Status::Ok();
}

RocksDbStorage::RocksDbStorage(const Options& options, Loaded&& loaded)
    : options_(options),
      hardState_(loaded.hardState),
      snapshot_(std::move(loaded.snapshot)),
      lastIndex_(loaded.lastIndex),
      tail_(std::move(loaded.tail)) {}

RocksDbStorage::~RocksDbStorage() {
  if (db_ == nullptr) return;
  for (auto* h : {defaultCf_, log_, meta_}) {
    if (h != nullptr) db_->DestroyColumnFamilyHandle(h);
  }
  rocksdb::Status s = db_->Close();
  if (!s.ok()) LOG(WARNING) << "closing raft log store " << options_.dir << ": " << s.ToString();
  delete db_;
}

// ------------------------------------------------------------ reads

HardState RocksDbStorage::InitialHardState() const {
  std::lock_guard<std::mutex> l(mu_);
  return hardState_;
}

SnapshotMeta RocksDbStorage::Snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  return snapshot_;
}

uint64_t RocksDbStorage::FirstIndex() const {
  std::lock_guard<std::mutex> l(mu_);
  return snapshot_.lastIncludedIndex + 1;
}

uint64_t RocksDbStorage::LastIndex() const {
  std::lock_guard<std::mutex> l(mu_);
  return lastIndex_;
}

Status RocksDbStorage::ReadCorruption(const Status& why) const {
  Status s = StoreCorruption(options_.dir, why.message());
  LOG(ERROR) << s.message();
  return s;
}

template <typename Take>
Status RocksDbStorage::ReadFromDisk(uint64_t lo, uint64_t hi, Take take) const {
  const std::string upper = EncodeLogKey(hi);
  const rocksdb::Slice upperSlice(upper);
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.iterate_upper_bound = &upperSlice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, log_));
  it->Seek(EncodeLogKey(lo));
  for (uint64_t expected = lo; expected < hi; ++expected, it->Next()) {
    if (!it->Valid()) {
      if (!it->status().ok()) {
        return ReadCorruption(Status::Corruption("reading entry " + std::to_string(expected) +
                                                            " failed: " + it->status().ToString()));
      }
      return ReadCorruption(Status::Corruption("entry " + std::to_string(expected) +
                                                          " is missing from the log"));
    }
    uint64_t index = 0;
    const rocksdb::Slice key = it->key();
    if (!DecodeLogKey(std::string_view(key.data(), key.size()), &index) || index != expected) {
      return ReadCorruption(Status::Corruption("entry " + std::to_string(expected) +
                                                          " is missing from the log"));
    }
    Entry e;
    const rocksdb::Slice v = it->value();
    Status s = DecodeEntryValue(index, std::string_view(v.data(), v.size()), &e);
    if (!s.ok()) return ReadCorruption(s);
    if (!take(std::move(e))) break;
  }
  return Status::Ok();
}

Status RocksDbStorage::Term(uint64_t index, uint64_t* term) const {
  std::lock_guard<std::mutex> l(mu_);
  const uint64_t snap = snapshot_.lastIncludedIndex;
  if (index == snap) {
    *term = snapshot_.lastIncludedTerm;
    return Status::Ok();
  }
  if (index < snap) return Status::Compacted("index " + std::to_string(index) + " is below the snapshot");
  if (index > lastIndex_) return Status::Unavailable("index " + std::to_string(index) + " is past the log");
  if (tail_.Contains(index)) {
    *term = tail_.At(index).term;
    return Status::Ok();
  }
  return ReadFromDisk(index, index + 1, [term](Entry&& e) {
    *term = e.term;
    return true;
  });
}

Status RocksDbStorage::Entries(uint64_t lo, uint64_t hi, uint64_t maxBytes,
                               std::vector<Entry>* out) const {
  std::lock_guard<std::mutex> l(mu_);
  if (lo < snapshot_.lastIncludedIndex + 1) return Status::Compacted("entry " + std::to_string(lo) + " is below the snapshot");
  if (hi > lastIndex_ + 1) return Status::Unavailable("entries past the log were asked for");
  // The same accounting as MemoryStorage::Entries, so both return the same
  // entries for the same call (tests/raftlog/rocksdb_storage_test.cc).
  const uint64_t limit = std::min(maxBytes, options_.maxReadBytes);
  uint64_t bytes = 0;
  bool more = true;
  auto take = [&](Entry&& e) {
    bytes += LogTailCache::Charge(e);
    if (!out->empty() && bytes > limit) return more = false;
    out->push_back(std::move(e));
    return more = bytes <= limit;
  };
  const uint64_t diskHi = std::min(hi, tail_.FirstIndexOr(lastIndex_ + 1));
  if (lo < diskHi) {
    Status s = ReadFromDisk(lo, diskHi, take);
    if (!s.ok()) return s;
  }
  for (uint64_t i = std::max(lo, diskHi); more && i < hi; ++i) take(Entry(tail_.At(i)));
  return Status::Ok();
}

// ------------------------------------------------------------ writes

Status RocksDbStorage::WriteSynced(rocksdb::WriteBatch* batch, const char* what) {
  return Write(batch, /*sync=*/true, what);
}

Status RocksDbStorage::WriteUnsynced(rocksdb::WriteBatch* batch, const char* what) {
  return Write(batch, /*sync=*/false, what);
}

Status RocksDbStorage::Write(rocksdb::WriteBatch* batch, bool sync, const char* what) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;  // synced: the caller reports this batch durable when we return
  rocksdb::Status s = db_->Write(wo, batch);
  if (s.ok()) {
    if (sync) syncedWrites_.fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }
  failed_ = Status::IOError("raft log store " + options_.dir + ": the " + (sync ? "synced " : "") + "write of " + what +
                            " failed: " + s.ToString() +
                            ". Nothing written after it is accepted; restart the node, which "
                            "reloads the log from disk (check the disk first)");
  LOG(ERROR) << failed_.message();
  return failed_;
}

Status RocksDbStorage::Save(const HardState* hardState, const std::vector<Entry>& entries) {
  std::lock_guard<std::mutex> w(writeMu_);
  if (!failed_.ok()) return failed_;
  if (hardState == nullptr && entries.empty()) return Status::Ok();

  // Sized up front: growing the batch's buffer by doubling would copy a
  // large batch several times over.
  size_t bytes = 64;
  for (const Entry& e : entries) bytes += EntryValueSize(e.data.size()) + kLogKeySize + 16;
  rocksdb::WriteBatch batch(bytes);
  if (!entries.empty()) {
    const uint64_t first = entries.front().index;
    const uint64_t last = entries.back().index;
    if (first < snapshot_.lastIncludedIndex + 1) return Status::InvalidArgument("entries overlap the snapshot");
    if (first > lastIndex_ + 1) return Status::InvalidArgument("entries leave a hole in the log");
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].index != first + i) return Status::InvalidArgument("entries are not consecutive");
    }
    // The new entries' Puts replace the stored ones at the same indexes;
    // only an old suffix reaching past them needs a tombstone. One
    // DeleteRange, however long the suffix (DESIGN.md).
    if (last < lastIndex_) batch.DeleteRange(log_, EncodeLogKey(last + 1), EncodeLogKey(lastIndex_ + 1));
    std::vector<uint32_t> crcs;
    EntryChecksums(entries, &crcs);
    std::string value;
    for (size_t i = 0; i < entries.size(); ++i) {
      EncodeEntryValue(entries[i], crcs[i], &value);
      batch.Put(log_, EncodeLogKey(entries[i].index), value);
    }
    if (first <= lastIndex_) {
      // A conflicting suffix is replaced (Figure 2, AppendEntries step 3):
      // readers stop seeing it before the write starts.
      std::lock_guard<std::mutex> l(mu_);
      lastIndex_ = first - 1;
      tail_.TruncateFrom(first);
    }
  }
  if (hardState != nullptr) batch.Put(meta_, std::string(kHardStateKey), EncodeHardState(*hardState));

  // Entries, a term and a vote are promises to other nodes and must be on
  // disk before any message says so. A commit index alone need not be:
  // Figure 2 lists commitIndex as volatile state, the core never reads the
  // stored one, and the kv state keeps its own applied index. Syncing it
  // would cost every command a second fsync on every node.
  const bool mustSync = !entries.empty() || hardState == nullptr ||
                        hardState->currentTerm != hardState_.currentTerm ||
                        hardState->votedFor != hardState_.votedFor;
  Status s = mustSync ? WriteSynced(&batch, "a log batch") : WriteUnsynced(&batch, "a commit index");
  if (!s.ok()) return s;

  std::lock_guard<std::mutex> l(mu_);
  if (!entries.empty()) {
    tail_.Append(entries);
    lastIndex_ = entries.back().index;
  }
  if (hardState != nullptr) hardState_ = *hardState;
  VLOG(2) << "raft log store " << options_.dir << ": saved " << entries.size()
          << " entries, last index " << lastIndex_;
  return Status::Ok();
}

Status RocksDbStorage::CreateSnapshot(const SnapshotMeta& meta) {
  std::lock_guard<std::mutex> w(writeMu_);
  if (!failed_.ok()) return failed_;
  const uint64_t index = meta.lastIncludedIndex;
  if (index <= snapshot_.lastIncludedIndex) return Status::Ok();  // older than what we have
  if (index > lastIndex_) return Status::InvalidArgument("snapshot past the end of the log");

  rocksdb::WriteBatch batch;
  const std::string begin = EncodeLogKey(0);
  const std::string end = EncodeLogKey(index + 1);
  batch.DeleteRange(log_, begin, end);
  batch.Put(meta_, std::string(kSnapshotMetaKey), EncodeSnapshotMeta(meta));
  {
    // The prefix leaves the readers' view before the write starts.
    std::lock_guard<std::mutex> l(mu_);
    snapshot_ = meta;
    tail_.DropThrough(index);
  }
  Status s = WriteSynced(&batch, "a snapshot");
  if (!s.ok()) return s;

  // The range tombstone hides the prefix at once but frees no space until
  // compaction rewrites the files under it. Dropping the files that lie
  // wholly inside the prefix frees most of it now, and leaves compaction
  // little to rewrite. Best effort: the tombstone alone is correct.
  const rocksdb::Slice b(begin);
  const std::string lastKey = EncodeLogKey(index);
  const rocksdb::Slice e(lastKey);
  rocksdb::Status ds = rocksdb::DeleteFilesInRange(db_, log_, &b, &e, /*include_end=*/true);
  if (!ds.ok()) LOG(WARNING) << "raft log store " << options_.dir << ": freeing files below " << index << ": " << ds.ToString();
  VLOG(1) << "raft log store " << options_.dir << ": compacted the log through " << index;
  return Status::Ok();
}

Status RocksDbStorage::InstallSnapshot(const SnapshotMeta& meta) {
  std::lock_guard<std::mutex> w(writeMu_);
  if (!failed_.ok()) return failed_;
  const uint64_t index = meta.lastIncludedIndex;
  HardState hs = hardState_;
  // The snapshot holds only committed entries (Figure 13).
  hs.commitIndex = std::max(hs.commitIndex, index);

  rocksdb::WriteBatch batch;
  // Figure 13 step 7: the whole log goes, entries past the snapshot too.
  batch.DeleteRange(log_, EncodeLogKey(0), EncodeLogKey(std::max(lastIndex_, index) + 1));
  batch.Put(meta_, std::string(kSnapshotMetaKey), EncodeSnapshotMeta(meta));
  batch.Put(meta_, std::string(kHardStateKey), EncodeHardState(hs));
  {
    std::lock_guard<std::mutex> l(mu_);
    snapshot_ = meta;
    tail_.Clear();
    lastIndex_ = index;
  }
  Status s = WriteSynced(&batch, "an installed snapshot");
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  hardState_ = hs;
  VLOG(1) << "raft log store " << options_.dir << ": installed snapshot at " << index;
  return Status::Ok();
}

std::vector<rocksdb::ColumnFamilyDescriptor> RocksDbStorage::ColumnFamilies() {
  return {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kLogColumnFamily, LogColumnFamilyOptions()},
      {kMetaColumnFamily, MetaColumnFamilyOptions()},
  };
}

Status RocksDbStorage::CompactStorage() {
  for (rocksdb::ColumnFamilyHandle* h : {log_, meta_}) {
    rocksdb::Status s = db_->CompactRange(rocksdb::CompactRangeOptions(), h, nullptr, nullptr);
    if (!s.ok()) {
      return Status::IOError("compaction of " + options_.dir + " column family " + h->GetName() +
                             ": " + s.ToString());
    }
  }
  LOG(INFO) << "compacted the raft log store " << options_.dir;
  return Status::Ok();
}

}  // namespace kvraft::raft
