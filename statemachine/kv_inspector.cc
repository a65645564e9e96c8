#include "statemachine/kv_inspector.h"

#include <rocksdb/iterator.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "statemachine/file_util.h"
#include "statemachine/kv_directory.h"
#include "statemachine/snapshot_store.h"

namespace kvraft::statemachine {

namespace fs = std::filesystem;

namespace {

constexpr size_t kDataHandle = 0;
constexpr size_t kSessionsHandle = 1;
constexpr size_t kMetaHandle = 2;

std::string Hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

}  // namespace

Status ListSnapshots(const std::string& dir, SnapshotListing* out) {
  *out = SnapshotListing();
  std::error_code ec;
  if (!fs::exists(dir, ec)) return Status::Ok();
  std::vector<std::string> names;
  Status s = ListDirectory(dir, &names);
  if (!s.ok()) return s;
  for (const std::string& name : names) {
    uint64_t index = 0, term = 0;
    if (ParseSnapshotDirName(name, &index, &term)) {
      out->snapshots.push_back({dir + "/" + name, index, term});
    } else {
      out->others.push_back(name);
    }
  }
  std::sort(out->snapshots.begin(), out->snapshots.end(),
            [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.appliedIndex < b.appliedIndex; });
  return Status::Ok();
}

Status KvInspector::Open(const std::string& kvDir, std::unique_ptr<KvInspector>* out) {
  std::error_code ec;
  if (!fs::is_directory(kvDir, ec)) {
    return Status::IOError("kv directory " + kvDir +
                           " is not a directory: pass a kvd data directory as --data_dir (it "
                           "holds raft/, kv/ and snapshots/)");
  }
  std::string generation;
  Status s = ReadLivePointer(kvDir, &generation);
  if (!s.ok()) return s;
  return OpenInstance(generation, out);
}

Status KvInspector::OpenInstance(const std::string& path, std::unique_ptr<KvInspector>* out) {
  std::unique_ptr<KvInspector> inspector(new KvInspector(path));
  Status s = inspector->db_.Open(KvDbOptions(), path, KvColumnFamilies(), "kv instance");
  if (!s.ok()) return s;
  *out = std::move(inspector);
  return Status::Ok();
}

Status KvInspector::ReadApplied(AppliedState* applied) const {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  std::string value;
  rocksdb::Status s = db_.db()->Get(ro, db_.handle(kMetaHandle),
                                    rocksdb::Slice(kAppliedKey.data(), kAppliedKey.size()), &value);
  if (s.IsNotFound()) {
    return Status::NotFound("kv instance " + path_ +
                            " has no 'applied' record: it was not written by kvraft");
  }
  if (!s.ok()) {
    return Status::Corruption("kv instance " + path_ + ": reading the 'applied' record failed: " +
                              s.ToString());
  }
  return DecodeAppliedState(value, applied);
}

Status KvInspector::ForEachKey(
    const std::string& prefix, uint64_t limit,
    const std::function<bool(std::string_view key, std::string_view value)>& visit) const {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(ro, db_.handle(kDataHandle)));
  uint64_t n = 0;
  for (it->Seek(prefix); it->Valid() && (limit == 0 || n < limit); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (!key.starts_with(prefix)) break;
    ++n;
    const rocksdb::Slice value = it->value();
    if (!visit(std::string_view(key.data(), key.size()), std::string_view(value.data(), value.size()))) {
      break;
    }
  }
  if (!it->status().ok()) {
    return Status::Corruption("kv instance " + path_ + ": reading the data failed after " +
                              std::to_string(n) + " keys: " + it->status().ToString());
  }
  return Status::Ok();
}

Status KvInspector::ForEachSession(const std::function<void(const StoredSession&)>& visit,
                                   const std::function<void(std::string_view key)>& badKey) const {
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(ro, db_.handle(kSessionsHandle)));
  // Keys sort as header (client id) then that client's replies (client id +
  // sequence), so one client's records are adjacent.
  std::optional<StoredSession> current;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    const std::string_view value(it->value().data(), it->value().size());
    uint64_t clientId = 0, sequence = 0;
    bool isReply = false;
    if (!ParseSessionKey(key, &clientId, &isReply, &sequence)) {
      if (badKey) badKey(key);
      continue;
    }
    if (!current || current->clientId != clientId) {
      if (current) visit(*current);
      current.emplace();
      current->clientId = clientId;
    }
    if (!isReply) {
      current->hasHeader = true;
      current->headerStatus = DecodeSessionHeader(value, &current->header);
    } else {
      StoredSession::CachedReply r;
      r.sequence = sequence;
      r.bytes = value.size();
      r.decoded = DecodeReply(value, &r.reply);
      current->replies.push_back(std::move(r));
    }
  }
  if (current) visit(*current);
  if (!it->status().ok()) {
    return Status::Corruption("kv instance " + path_ + ": reading the sessions failed: " +
                              it->status().ToString());
  }
  return Status::Ok();
}

void KvInspector::Check(const std::string& where, std::vector<KvProblem>* problems,
                        std::optional<AppliedState>* applied) const {
  auto report = [&](std::string place, std::string what) {
    problems->push_back({std::move(place), std::move(what)});
  };
  AppliedState a;
  Status s = ReadApplied(&a);
  if (s.ok()) {
    *applied = a;
  } else {
    applied->reset();
    report(where + " meta 'applied'", s.message());
  }

  s = ForEachSession(
      [&](const StoredSession& session) {
        const std::string client = where + " session " + std::to_string(session.clientId);
        if (!session.hasHeader) {
          report(client, "cached replies without a session header");
        } else if (!session.headerStatus.ok()) {
          report(client, session.headerStatus.message());
        }
        const auto& ok = session.header.okSequences;
        for (const auto& r : session.replies) {
          const std::string reply = client + " reply " + std::to_string(r.sequence);
          if (!r.decoded.ok()) report(reply, r.decoded.message());
          if (std::binary_search(ok.begin(), ok.end(), r.sequence))
            report(reply, "cached twice: as a reply record and in the header's plain-OK sequences");
        }
      },
      [&](std::string_view key) {
        report(where + " sessions key 0x" + Hex(key),
               "a key of " + std::to_string(key.size()) +
                   " bytes (session keys are a client id, or a client id and a sequence)");
      });
  if (!s.ok()) report(where + " sessions", s.message());

  // Data values have no codec of their own; RocksDB's block checksums are
  // what protects them (kv_layout.h), checked here over every file.
  rocksdb::Status vs = db_.db()->VerifyChecksum();
  if (!vs.ok()) report(where + " files (" + path_ + ")", "RocksDB checksum verification failed: " + vs.ToString());
}

Status KvInspector::Stats(std::vector<inspect::ColumnFamilyStats>* out) const {
  out->clear();
  for (size_t h : {kDataHandle, kSessionsHandle, kMetaHandle}) {
    inspect::ColumnFamilyStats st;
    Status s = inspect::ScanColumnFamily(db_.db(), db_.handle(h), "kv instance " + path_, &st);
    if (!s.ok()) return s;
    out->push_back(std::move(st));
  }
  return Status::Ok();
}

}  // namespace kvraft::statemachine
