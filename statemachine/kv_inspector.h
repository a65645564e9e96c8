#pragma once
// KvInspector: a read-only view of the kv instance (<data_dir>/kv, see
// kv_directory.h and kv_layout.h) and of the snapshot store
// (<data_dir>/snapshots, snapshot_store.h) for kvadmin.
//
// Unlike KvDirectory::Open and SnapshotStore::Open it changes nothing: it
// does not finish an interrupted install, remove leftovers or adopt a
// generation; it only reads LIVE and opens the generation it names with
// RocksDB's OpenForReadOnly, the instance's own options and the info log
// routed to glog (raftlog/rocksdb_read_only.h), so no file is created in
// the directory and a running kvd may keep using it.
//
// The kv instance writes without a WAL (kv_layout.h, ApplyWriteOptions):
// what an inspection of a running node sees is the state as of its last
// flush, with an applied index to match, not the newest applied entries.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raftlog/rocksdb_read_only.h"
#include "raftlog/status.h"
#include "statemachine/kv_layout.h"
#include "statemachine/reply.h"
#include "statemachine/snapshot_reader.h"

namespace kvraft::statemachine {

// One client's session record and its cached replies, as stored.
struct StoredSession {
  uint64_t clientId = 0;
  bool hasHeader = false;  // false: replies stored without a header
  Status headerStatus;     // decoding of the header
  SessionHeader header;
  struct CachedReply {
    uint64_t sequence = 0;
    Status decoded;
    Reply reply;  // valid only if decoded.ok()
    size_t bytes = 0;
  };
  std::vector<CachedReply> replies;
};

// A problem in the kv instance or the snapshot store: where and what.
struct KvProblem {
  std::string where;
  std::string what;
};

// The snapshot store's directory as found: complete checkpoints (snap-)
// newest last, and everything else in it.
struct SnapshotListing {
  std::vector<SnapshotInfo> snapshots;
  std::vector<std::string> others;  // tmp- checkpoints, unknown names
  std::optional<SnapshotInfo> Latest() const {
    if (snapshots.empty()) return std::nullopt;
    return snapshots.back();
  }
};
// Lists <data_dir>/snapshots without changing it. A missing directory is an
// empty listing (a node that never took a snapshot may not have one yet).
Status ListSnapshots(const std::string& dir, SnapshotListing* out);

class KvInspector {
 public:
  // Resolves <data_dir>/kv/LIVE and opens the live generation read-only.
  static Status Open(const std::string& kvDir, std::unique_ptr<KvInspector>* out);
  // Opens one instance directory read-only (a generation, or a snapshot's
  // checkpoint).
  static Status OpenInstance(const std::string& path, std::unique_ptr<KvInspector>* out);

  // The generation's directory (e.g. <data_dir>/kv/db-000003).
  const std::string& path() const { return path_; }

  // The `applied` record. NotFound if absent, Corruption if malformed.
  Status ReadApplied(AppliedState* applied) const;

  // Calls `visit` with each user key starting with `prefix`, in key order,
  // at most `limit` of them (0: all), until it returns false.
  Status ForEachKey(const std::string& prefix, uint64_t limit,
                    const std::function<bool(std::string_view key, std::string_view value)>& visit) const;

  // Calls `visit` with each client's session, in client id order. A record
  // that fails to decode is visited with its reason; a key of neither form
  // is reported through `badKey` (may be null).
  Status ForEachSession(const std::function<void(const StoredSession&)>& visit,
                        const std::function<void(std::string_view key)>& badKey) const;

  // Every check of the instance on its own: the applied record decodes,
  // every session header and cached reply decodes, every key of `sessions`
  // has one of the two forms, and RocksDB's block checksums of every file.
  // `where` prefixes each problem's place ("kv", "snapshot snap-40-2").
  void Check(const std::string& where, std::vector<KvProblem>* problems,
             std::optional<AppliedState>* applied) const;

  // Keys, bytes and RocksDB sizes of default (data), sessions and meta.
  Status Stats(std::vector<inspect::ColumnFamilyStats>* out) const;

 private:
  explicit KvInspector(std::string path) : path_(std::move(path)) {}

  const std::string path_;
  inspect::ReadOnlyInstance db_;  // handles: default, sessions, meta
};

}  // namespace kvraft::statemachine
