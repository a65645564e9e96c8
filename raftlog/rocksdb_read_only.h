#pragma once
// Read-only RocksDB access for inspection (kvadmin), shared by the log
// store's and the kv instance's inspectors: a way to open an instance that
// leaves every file of its directory as it was, and per-column-family
// statistics.
//
// Why a logger: RocksDB has created (and rotated) its info LOG file in the
// database directory on read-only opens too, unless DBOptions::info_log is
// set; 7.8 no longer does, but an inspection must not change a data
// directory whatever the release, so every read-only open goes through
// ReadOnlyInstance, which routes that log to glog. (tests/tools checks that
// kvadmin leaves every file as it was.)
//
// Header-only on purpose: both the raftlog store and the statemachine
// libraries use it, and neither depends on the other.
#include <glog/logging.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "raftlog/status.h"

namespace kvraft::inspect {

// RocksDB's info log sent to glog: errors as WARNING, warnings at --v=1
// (a read-only open of a live instance warns about things that are normal
// for it), the rest at --v=2. Writes nothing to the inspected directory.
class GlogRocksLogger : public rocksdb::Logger {
 public:
  GlogRocksLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    const bool error = level >= rocksdb::InfoLogLevel::ERROR_LEVEL;
    const bool warning = level == rocksdb::InfoLogLevel::WARN_LEVEL;
    if (!error && !(warning && VLOG_IS_ON(1)) && !VLOG_IS_ON(2)) return;
    char buf[1024];
    std::vsnprintf(buf, sizeof(buf), format, ap);
    if (error) {
      LOG(WARNING) << "rocksdb: " << buf;
    } else {
      VLOG(1) << "rocksdb: " << buf;
    }
  }
};

// An instance opened read-only with its column family handles, in the
// order of the descriptors it was opened with; closes itself.
class ReadOnlyInstance {
 public:
  ReadOnlyInstance() = default;
  ~ReadOnlyInstance() { Close(); }
  ReadOnlyInstance(const ReadOnlyInstance&) = delete;
  ReadOnlyInstance& operator=(const ReadOnlyInstance&) = delete;

  // Opens `dir` read-only with `dbOptions` (the owner's own, so that the
  // same settings apply) and `families`. `what` names the instance in the
  // error ("raft log store", "kv instance").
  Status Open(rocksdb::DBOptions dbOptions, const std::string& dir,
              const std::vector<rocksdb::ColumnFamilyDescriptor>& families,
              const std::string& what) {
    Close();
    dbOptions.info_log = std::make_shared<GlogRocksLogger>();
    dbOptions.create_if_missing = false;
    dbOptions.create_missing_column_families = false;
    rocksdb::Status s = rocksdb::DB::OpenForReadOnly(dbOptions, dir, families, &handles_, &db_,
                                                     /*error_if_wal_file_exists=*/false);
    if (!s.ok()) {
      db_ = nullptr;
      handles_.clear();
      return Status::IOError(what + " " + dir + " cannot be opened read-only: " + s.ToString() +
                             ". Check that --data_dir names a kvd data directory and that it "
                             "is readable; if it is, the instance is damaged (run kvadmin verify)");
    }
    return Status::Ok();
  }

  void Close() {
    if (db_ == nullptr) return;
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    handles_.clear();
    db_->Close().PermitUncheckedError();
    delete db_;
    db_ = nullptr;
  }

  rocksdb::DB* db() const { return db_; }
  rocksdb::ColumnFamilyHandle* handle(size_t i) const { return handles_.at(i); }
  const std::vector<rocksdb::ColumnFamilyHandle*>& handles() const { return handles_; }

 private:
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

// What one column family holds: counted by a full scan (exact, and every
// block's checksum is checked on the way) plus RocksDB's own size figures.
struct ColumnFamilyStats {
  std::string name;
  uint64_t keys = 0;
  uint64_t keyBytes = 0;
  uint64_t valueBytes = 0;
  uint64_t estimatedKeys = 0;   // rocksdb.estimate-num-keys
  uint64_t sstBytes = 0;        // rocksdb.total-sst-files-size
  uint64_t memtableBytes = 0;   // rocksdb.cur-size-all-mem-tables
};

inline Status ScanColumnFamily(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                               const std::string& where, ColumnFamilyStats* out) {
  ColumnFamilyStats st;
  st.name = cf->GetName();
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++st.keys;
    st.keyBytes += it->key().size();
    st.valueBytes += it->value().size();
  }
  if (!it->status().ok()) {
    return Status::Corruption(where + " column family '" + st.name + "': reading after " +
                              std::to_string(st.keys) + " keys failed: " +
                              it->status().ToString());
  }
  db->GetIntProperty(cf, "rocksdb.estimate-num-keys", &st.estimatedKeys);
  db->GetIntProperty(cf, "rocksdb.total-sst-files-size", &st.sstBytes);
  db->GetIntProperty(cf, "rocksdb.cur-size-all-mem-tables", &st.memtableBytes);
  *out = std::move(st);
  return Status::Ok();
}

}  // namespace kvraft::inspect
