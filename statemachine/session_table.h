#pragma once
// The exactly-once session table (LogCabin's scheme; DESIGN.md, "Client
// semantics"): the `sessions` column family, mirrored in memory so that the
// checks every command makes cost no RocksDB read. Only the cached replies'
// bytes stay on disk; they are read back for a retry, which is rare. A plain
// OK reply (most writes') has no record of its own: its sequence joins the
// session header's okSequences.
//
// Rules, applied identically on every replica because they depend only on
// the log:
//  - RegisterClient opens a session whose id is the entry's log index:
//    unique across the cluster and across restarts without any counter.
//  - A command's firstOutstanding raises the session's; cached replies below
//    it are deleted (the client has seen them).
//  - A (client, sequence) with a cached reply gets that reply and changes
//    nothing; one below firstOutstanding whose reply is gone gets
//    STALE_SEQUENCE; any other is applied and its reply cached.
//  - A session idle for longer than the expiry, measured in leader time
//    (the maximum timestamp applied so far), is deleted; a command naming
//    it gets SESSION_EXPIRED.
//
// Writes are staged in the caller's batch (one without a size limit, so
// staging cannot fail); the in-memory mirror changes at once. If the batch
// then fails to commit, the mirror is ahead of the disk: the caller must
// stop using the table (KvStateMachine poisons itself).
#include <rocksdb/db.h>
#include <rocksdb/write_batch_base.h>

#include <cstdint>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "raftlog/status.h"
#include "statemachine/command.h"
#include "statemachine/kv_layout.h"
#include "statemachine/reply.h"

namespace kvraft::statemachine {

class SessionTable {
 public:
  enum class Admission {
    kApply,   // not seen before: apply it and RecordReply()
    kCached,  // applied before: answer with the reply under CachedReplyKey()
    kCachedOk,  // applied before, and its reply was a plain OK: answer that
    kStale,   // below firstOutstanding: its reply was discarded
  };

  // The most plain-OK sequences a session header holds; further plain OKs
  // become records like any other reply. The header is rewritten in every
  // apply batch that touches the session, so it must stay small even when a
  // client's oldest call is stuck (say, on a partitioned node until its
  // timeout) while its other calls go on: unbounded, a header would grow by
  // a sequence per write and be rewritten in full per batch. 1024 one-byte
  // deltas are about as costly to rewrite as one record's insert.
  static constexpr size_t kMaxOkSequences = 1024;

  explicit SessionTable(rocksdb::ColumnFamilyHandle* sessions) : cf_(sessions) {}

  // Replaces the mirror by the contents of the column family (as of
  // `snapshot`, if given). Corruption if a record is malformed or a cached
  // reply belongs to no session.
  Status Load(rocksdb::DB* db, const rocksdb::Snapshot* snapshot);

  // Deletes every session idle for longer than expiryMs at leader time nowMs.
  void ExpireIdle(uint64_t nowMs, uint64_t expiryMs, rocksdb::WriteBatchBase* batch);

  void Register(uint64_t clientId, uint64_t nowMs);

  // Marks command.clientId's session active at nowMs and raises its
  // firstOutstanding to command.firstOutstanding, deleting the replies this
  // releases. False if the session does not exist (unknown or expired).
  bool Touch(const Command& command, uint64_t nowMs, rocksdb::WriteBatchBase* batch);

  // What to do with a command of a session Touch() just found.
  Admission Admit(uint64_t clientId, uint64_t sequence) const;

  // Caches the reply of an applied command: a plain OK in the header's
  // okSequences while it has room (kMaxOkSequences), any other as a record
  // of its own.
  void RecordReply(uint64_t clientId, uint64_t sequence, const Reply& reply,
                   rocksdb::WriteBatchBase* batch);

  // Stages the headers of the sessions changed since the last call: once
  // per batch, however many of its commands a session sent.
  void WriteChangedHeaders(rocksdb::WriteBatchBase* batch);

  size_t size() const { return sessions_.size(); }
  bool Contains(uint64_t clientId) const { return sessions_.count(clientId) != 0; }
  // Cached replies held for `clientId`, plain OKs included (0 when no
  // session).
  size_t CachedReplies(uint64_t clientId) const;

 private:
  struct Session {
    SessionHeader header;  // its okSequences are the plain-OK replies
    std::set<uint64_t> cachedSequences;  // each has a reply on disk; all >= firstOutstanding
  };

  void Erase(uint64_t clientId, Session& session, rocksdb::WriteBatchBase* batch);

  rocksdb::ColumnFamilyHandle* cf_;
  std::unordered_map<uint64_t, Session> sessions_;
  // (lastActiveMs, clientId): the expiry order, so that finding the expired
  // sessions costs nothing when there are none.
  std::set<std::pair<uint64_t, uint64_t>> byLastActive_;
  std::unordered_set<uint64_t> changed_;
};

}  // namespace kvraft::statemachine
