#include "raftlog/log_inspector.h"

#include <rocksdb/iterator.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "raftlog/rocksdb_storage.h"

namespace kvraft::raft {

namespace {

// Handle order of RocksDbStorage::ColumnFamilies().
constexpr size_t kLogHandle = 1;
constexpr size_t kMetaHandle = 2;

std::string IndexWhere(uint64_t index) { return "raft log index " + std::to_string(index); }

}  // namespace

Status LogInspector::Open(const std::string& dir, std::unique_ptr<LogInspector>* out) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::IOError("raft log store " + dir +
                           " is not a directory: pass a kvd data directory as --data_dir (it "
                           "holds raft/, kv/ and snapshots/)");
  }
  std::unique_ptr<LogInspector> inspector(new LogInspector(dir));
  Status s = inspector->db_.Open(RocksDbStorage::DbOptions(), dir, RocksDbStorage::ColumnFamilies(),
                                 "raft log store");
  if (!s.ok()) return s;
  *out = std::move(inspector);
  return Status::Ok();
}

Status LogInspector::GetMeta(std::string_view key, std::string* value) const {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  rocksdb::Status s = db_.db()->Get(ro, db_.handle(kMetaHandle),
                                    rocksdb::Slice(key.data(), key.size()), value);
  if (s.IsNotFound()) {
    return Status::NotFound("raft log store " + dir_ + ": the meta record '" + std::string(key) +
                            "' is missing (not a kvraft store, or damaged)");
  }
  if (!s.ok()) {
    return Status::Corruption("raft log store " + dir_ + ": reading the meta record '" +
                              std::string(key) + "' failed: " + s.ToString());
  }
  return Status::Ok();
}

Status LogInspector::ReadIdentity(StoreIdentity* identity) const {
  std::string value;
  Status s = GetMeta(kIdentityKey, &value);
  if (!s.ok()) return s;
  uint32_t version = 0;
  s = DecodeIdentityVersion(value, &version);
  if (s.ok() && version != kLogFormatVersion) {
    return Status::Corruption("the identity record has format version " + std::to_string(version) +
                              "; this build reads only version " +
                              std::to_string(kLogFormatVersion) +
                              " (use a kvadmin of the release that wrote it)");
  }
  if (s.ok()) s = DecodeIdentity(value, identity);
  return s;
}

Status LogInspector::ReadHardState(HardState* hardState) const {
  std::string value;
  Status s = GetMeta(kHardStateKey, &value);
  return s.ok() ? DecodeHardState(value, hardState) : s;
}

Status LogInspector::ReadSnapshotMeta(SnapshotMeta* meta) const {
  std::string value;
  Status s = GetMeta(kSnapshotMetaKey, &value);
  return s.ok() ? DecodeSnapshotMeta(value, meta) : s;
}

Status LogInspector::ForEachEntry(uint64_t from, uint64_t to,
                                  const std::function<bool(const StoredEntry&)>& visit) const {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  std::string upper;
  rocksdb::Slice upperSlice;
  if (to != 0 && to != UINT64_MAX) {
    upper = EncodeLogKey(to + 1);
    upperSlice = rocksdb::Slice(upper);
    ro.iterate_upper_bound = &upperSlice;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(ro, db_.handle(kLogHandle)));
  uint64_t visited = 0;
  for (it->Seek(EncodeLogKey(from)); it->Valid(); it->Next()) {
    StoredEntry e;
    const rocksdb::Slice key = it->key();
    const rocksdb::Slice value = it->value();
    e.keyOk = DecodeLogKey(std::string_view(key.data(), key.size()), &e.index);
    e.valueBytes = value.size();
    if (!e.keyOk) {
      e.rawKey = key.ToString();
      e.decoded = Status::Corruption("a key of " + std::to_string(key.size()) +
                                     " bytes (log keys are 8-byte indexes)");
    } else {
      e.decoded = DecodeEntryValue(e.index, std::string_view(value.data(), value.size()), &e.entry);
    }
    ++visited;
    if (!visit(e)) return Status::Ok();
  }
  if (!it->status().ok()) {
    return Status::Corruption("raft log store " + dir_ + ": reading the log failed after " +
                              std::to_string(visited) + " entries from index " +
                              std::to_string(from) + ": " + it->status().ToString());
  }
  return Status::Ok();
}

Status LogInspector::LastStoredIndex(std::optional<uint64_t>* index) const {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(ro, db_.handle(kLogHandle)));
  it->SeekToLast();
  index->reset();
  // Skips keys that are not indexes (damage Check reports); bounded by the
  // number of stored keys.
  while (it->Valid()) {
    uint64_t i = 0;
    if (DecodeLogKey(std::string_view(it->key().data(), it->key().size()), &i)) {
      *index = i;
      break;
    }
    it->Prev();
  }
  if (!it->status().ok()) {
    return Status::Corruption("raft log store " + dir_ + ": finding the last entry failed: " +
                              it->status().ToString());
  }
  return Status::Ok();
}

Status LogInspector::ReadEntry(uint64_t index, Entry* entry) const {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  std::string value;
  rocksdb::Status s = db_.db()->Get(ro, db_.handle(kLogHandle), EncodeLogKey(index), &value);
  if (s.IsNotFound()) return Status::NotFound(IndexWhere(index) + " is not in the log");
  if (!s.ok()) return Status::Corruption("reading " + IndexWhere(index) + " failed: " + s.ToString());
  return DecodeEntryValue(index, value, entry);
}

void LogInspector::Check(std::vector<LogProblem>* problems, LogSummary* summary) const {
  auto report = [&](std::string where, std::string what) {
    problems->push_back({std::move(where), std::move(what)});
  };
  const std::string metaWhere = "raft meta ";

  Status s = ReadIdentity(&summary->identity);
  summary->identityOk = s.ok();
  if (!s.ok()) report(metaWhere + "'identity'", s.message());
  s = ReadHardState(&summary->hardState);
  summary->hardStateOk = s.ok();
  if (!s.ok()) report(metaWhere + "'hard_state'", s.message());
  s = ReadSnapshotMeta(&summary->snapshot);
  summary->snapshotOk = s.ok();
  if (!s.ok()) report(metaWhere + "'snapshot_meta'", s.message());

  // Walk the whole log: the first stored entry must follow the snapshot,
  // each next one its predecessor; terms only grow (§5.3) and start at or
  // above the snapshot's term.
  const uint64_t snapIndex = summary->snapshot.lastIncludedIndex;
  const uint64_t snapTerm = summary->snapshot.lastIncludedTerm;
  uint64_t expected = snapIndex + 1;
  uint64_t prevTerm = snapTerm;
  uint64_t prevIndex = snapIndex;  // index of the entry prevTerm comes from
  bool prevIsSnapshot = true;
  s = ForEachEntry(0, 0, [&](const StoredEntry& e) {
    ++summary->entries;
    if (!e.keyOk) {
      report("raft log key after index " + std::to_string(expected - 1), e.decoded.message());
      return true;
    }
    if (summary->firstIndex == 0) summary->firstIndex = e.index;
    summary->lastIndex = e.index;
    if (e.index <= snapIndex) {
      report(IndexWhere(e.index), "the entry is at or below the snapshot index " +
                                      std::to_string(snapIndex) +
                                      " (compacted entries must be gone)");
    } else if (e.index != expected) {
      report(IndexWhere(expected),
             e.index == expected + 1
                 ? "missing (a hole: the log holds " + std::to_string(expected - 1) + " and " +
                       std::to_string(e.index) + ")"
                 : "missing, through index " + std::to_string(e.index - 1) + " (a hole of " +
                       std::to_string(e.index - expected) + " entries before " +
                       std::to_string(e.index) + ")");
    }
    if (e.index >= expected) expected = e.index + 1;
    if (!e.decoded.ok()) {
      report(IndexWhere(e.index), e.decoded.message());
      return true;
    }
    if (e.index > snapIndex && e.entry.term < prevTerm) {
      report(IndexWhere(e.index),
             "term " + std::to_string(e.entry.term) + " is below the term " +
                 std::to_string(prevTerm) + " of " +
                 (prevIsSnapshot ? "the snapshot at " + std::to_string(prevIndex)
                                 : "index " + std::to_string(prevIndex)) +
                 " (terms never decrease along a log)");
    }
    if (e.index > snapIndex) {
      prevTerm = e.entry.term;
      prevIndex = e.index;
      prevIsSnapshot = false;
    }
    return true;
  });
  if (!s.ok()) report("raft log", s.message());
  summary->lastIndex = std::max(summary->lastIndex, snapIndex);

  if (summary->hardStateOk && summary->hardState.commitIndex > summary->lastIndex) {
    report(metaWhere + "'hard_state'",
           "commit index " + std::to_string(summary->hardState.commitIndex) +
               " is beyond the log's last index " + std::to_string(summary->lastIndex));
  }
  if (summary->hardStateOk && summary->snapshotOk && summary->hardState.currentTerm < snapTerm) {
    report(metaWhere + "'hard_state'",
           "current term " + std::to_string(summary->hardState.currentTerm) +
               " is below the snapshot term " + std::to_string(snapTerm));
  }

  // RocksDB's own block checksums over every file, including blocks the
  // walk above did not touch (index and filter blocks, `meta`'s files).
  rocksdb::Status vs = db_.db()->VerifyChecksum();
  if (!vs.ok()) report("raft store files (" + dir_ + ")", "RocksDB checksum verification failed: " + vs.ToString());
}

Status LogInspector::Stats(std::vector<inspect::ColumnFamilyStats>* out) const {
  out->clear();
  for (size_t h : {kLogHandle, kMetaHandle}) {
    inspect::ColumnFamilyStats st;
    Status s = inspect::ScanColumnFamily(db_.db(), db_.handle(h), "raft log store " + dir_, &st);
    if (!s.ok()) return s;
    out->push_back(std::move(st));
  }
  return Status::Ok();
}

}  // namespace kvraft::raft
