#include "statemachine/kv_state_machine.h"

#include <glog/logging.h>
#include <rocksdb/db.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <system_error>

#include "statemachine/command.h"
#include "statemachine/file_util.h"

namespace kvraft::statemachine {

namespace fs = std::filesystem;

// ------------------------------------------------------------ helpers

std::string StateDigest::ToString() const {
  char buf[128];
  std::snprintf(buf, sizeof(buf),
                "applied=%" PRIu64 " term=%" PRIu64 " time=%" PRIu64 "ms hash=%016" PRIx64,
                applied.index, applied.term, applied.leaderTimeMs, hash);
  return buf;
}

namespace {

Status RocksFailure(const std::string& what, const rocksdb::Status& s) {
  return Status::IOError("kv instance: " + what + ": " + s.ToString());
}

// FNV-1a, 64-bit: simple, stable across builds and platforms, and enough to
// tell replicas apart in tests (it is not a defence against an adversary).
class Fnv1a64 {
 public:
  void Add(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      hash_ ^= p[i];
      hash_ *= 1099511628211ull;
    }
  }
  void AddNumber(uint64_t v) {
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(v >> (8 * i));
    Add(le, 8);
  }
  // Length first, so that ("ab", "c") and ("a", "bc") differ.
  void AddBytes(const rocksdb::Slice& s) {
    AddNumber(s.size());
    Add(s.data(), s.size());
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 14695981039346656037ull;
};

bool IsInside(const fs::path& path, const fs::path& dir) {
  auto p = path.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++p) {
    if (p == path.end() || *p != *d) return false;
  }
  return true;
}

}  // namespace

// ------------------------------------------------------------ RocksDB handle

struct KvStateMachine::Db {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // default, sessions, meta

  rocksdb::ColumnFamilyHandle* data() const { return handles[0]; }
  rocksdb::ColumnFamilyHandle* sessions() const { return handles[1]; }
  rocksdb::ColumnFamilyHandle* meta() const { return handles[2]; }

  // flush=false drops unflushed batches: used when the state is being
  // replaced, or to act out a crash in tests.
  void Close(bool flush) {
    if (db == nullptr) return;
    if (!flush) db->SetDBOptions({{"avoid_flush_during_shutdown", "true"}}).PermitUncheckedError();
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    handles.clear();
    rocksdb::Status s = db->Close();
    if (!s.ok()) LOG(WARNING) << "closing the kv instance: " << s.ToString();
    delete db;
    db = nullptr;
  }
  ~Db() { Close(true); }
};

Status KvStateMachine::OpenDb(const std::string& path, bool readOnly, std::unique_ptr<Db>* out) {
  auto db = std::make_unique<Db>();
  rocksdb::Status s =
      readOnly ? rocksdb::DB::OpenForReadOnly(KvDbOptions(), path, KvColumnFamilies(), &db->handles,
                                              &db->db)
               : rocksdb::DB::Open(KvDbOptions(), path, KvColumnFamilies(), &db->handles, &db->db);
  if (!s.ok()) {
    return Status::IOError(
        "cannot open the kv instance in " + path + ": " + s.ToString() +
        (s.IsIOError() ? " (if another kvd holds its LOCK, stop that one first)" : ""));
  }
  *out = std::move(db);
  return Status::Ok();
}

Status KvStateMachine::ReadApplied(Db& db, const rocksdb::Snapshot* snapshot,
                                   AppliedState* applied) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::string value;
  rocksdb::Status s =
      db.db->Get(ro, db.meta(), rocksdb::Slice(kAppliedKey.data(), kAppliedKey.size()), &value);
  if (s.IsNotFound()) {
    return Status::Corruption(
        "the kv instance has no 'applied' record: it was not written by kvraft");
  }
  if (!s.ok()) return RocksFailure("reading the applied index", s);
  return DecodeAppliedState(value, applied);
}

// ------------------------------------------------------------ views

// What an applied command sees: the instance plus this batch's writes so far.
//
// Writes go to a plain WriteBatch until a command first reads (Append, CAS,
// Delete, a retry's cached reply): only then is an index needed to see the
// batch's own writes, and it is built from what the batch holds so far.
// Batches of Puts, the common case, thus never pay for indexing every write
// (14% of the leader loop's time at 256 put clients, bench/RESULTS.md).
class KvStateMachine::BatchView : public KvView {
 public:
  explicit BatchView(Db* db) : db_(db) {}

  rocksdb::Status Get(std::string_view key, std::string* value) override {
    return Indexed()->GetFromBatchAndDB(db_->db, rocksdb::ReadOptions(), db_->data(), Slice(key),
                                        value);
  }
  std::unique_ptr<rocksdb::Iterator> NewIterator(const rocksdb::Slice* upperBound) override {
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = upperBound;
    return std::unique_ptr<rocksdb::Iterator>(
        Indexed()->NewIteratorWithBase(db_->data(), db_->db->NewIterator(ro, db_->data())));
  }
  rocksdb::Status Put(std::string_view key, std::string_view value) override {
    return batch()->Put(db_->data(), Slice(key), Slice(value));
  }
  rocksdb::Status Delete(std::string_view key) override {
    return batch()->Delete(db_->data(), Slice(key));
  }

  rocksdb::Status GetSessionRecord(const std::string& key, std::string* value) {
    return Indexed()->GetFromBatchAndDB(db_->db, rocksdb::ReadOptions(), db_->sessions(), key,
                                        value);
  }
  // Where the batch's writes go now.
  rocksdb::WriteBatchBase* batch() {
    if (indexed_) return indexed_.get();
    return &plain_;
  }
  // Every write of the batch, in order.
  rocksdb::WriteBatch* Finished() { return batch()->GetWriteBatch(); }
  Db* db() const { return db_; }

 private:
  // Re-stages the plain batch's writes into an indexed one, in order.
  class Restager : public rocksdb::WriteBatch::Handler {
   public:
    Restager(Db* db, rocksdb::WriteBatchWithIndex* to) : db_(db), to_(to) {}
    rocksdb::Status PutCF(uint32_t id, const rocksdb::Slice& key,
                          const rocksdb::Slice& value) override {
      return to_->Put(Family(id), key, value);
    }
    rocksdb::Status DeleteCF(uint32_t id, const rocksdb::Slice& key) override {
      return to_->Delete(Family(id), key);
    }

   private:
    rocksdb::ColumnFamilyHandle* Family(uint32_t id) const {
      for (rocksdb::ColumnFamilyHandle* h : db_->handles) {
        if (h->GetID() == id) return h;
      }
      LOG(FATAL) << "an apply batch holds a write to column family " << id
                 << ", which the kv instance does not have";
      return nullptr;
    }
    Db* db_;
    rocksdb::WriteBatchWithIndex* to_;
  };

  rocksdb::WriteBatchWithIndex* Indexed() {
    if (!indexed_) {
      indexed_ = std::make_unique<rocksdb::WriteBatchWithIndex>(rocksdb::BytewiseComparator(), 0,
                                                                /*overwrite_key=*/true);
      Restager restage(db_, indexed_.get());
      // The batch holds only Puts and Deletes this class staged: the
      // handler's defaults (an error) are unreachable.
      CHECK(plain_.Iterate(&restage).ok()) << "re-staging an apply batch";
      plain_.Clear();
    }
    return indexed_.get();
  }

  static rocksdb::Slice Slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
  Db* db_;
  rocksdb::WriteBatch plain_;
  std::unique_ptr<rocksdb::WriteBatchWithIndex> indexed_;
};

// What a read outside the log sees: the current state. A single Get needs
// no snapshot, and an iterator is a consistent view by itself.
class KvStateMachine::ReadView : public KvView {
 public:
  explicit ReadView(Db* db) : db_(db) {}
  rocksdb::Status Get(std::string_view key, std::string* value) override {
    return db_->db->Get(rocksdb::ReadOptions(), db_->data(), rocksdb::Slice(key.data(), key.size()),
                        value);
  }
  std::unique_ptr<rocksdb::Iterator> NewIterator(const rocksdb::Slice* upperBound) override {
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = upperBound;
    return std::unique_ptr<rocksdb::Iterator>(db_->db->NewIterator(ro, db_->data()));
  }
  rocksdb::Status Put(std::string_view, std::string_view) override {
    LOG(FATAL) << "a read-only operation tried to write";
    return rocksdb::Status::NotSupported();
  }
  rocksdb::Status Delete(std::string_view) override {
    LOG(FATAL) << "a read-only operation tried to delete";
    return rocksdb::Status::NotSupported();
  }

 private:
  Db* db_;
};

// ------------------------------------------------------------ open

KvStateMachine::KvStateMachine(const Options& options, std::unique_ptr<KvDirectory> directory)
    : options_(options), directory_(std::move(directory)) {}

KvStateMachine::~KvStateMachine() {
  std::unique_lock<std::shared_mutex> lock(dbMu_);
  if (db_) db_->Close(options_.flushOnClose);
}

Status KvStateMachine::Open(const Options& options, std::unique_ptr<KvStateMachine>* out) {
  const Limits& l = options.limits;
  if (options.sessionExpiryMs == 0 || l.maxKeyBytes == 0 || l.maxValueBytes == 0 ||
      l.maxRangeResults == 0 || l.maxRangeBytes == 0) {
    return Status::InvalidArgument(
        "kv state machine: the session expiry and every size limit must be above 0");
  }
  std::unique_ptr<KvDirectory> directory;
  Status s = KvDirectory::Open(options.dir, &directory);
  if (!s.ok()) return s;
  std::unique_ptr<KvStateMachine> sm(new KvStateMachine(options, std::move(directory)));
  if (!sm->directory_->HasLive()) {
    s = sm->CreateFirstGeneration();
    if (!s.ok()) return s;
  }
  s = sm->LoadLive();
  if (!s.ok()) return s;
  LOG(INFO) << "opened kv state machine " << sm->directory_->LivePath() << ": applied index "
            << sm->applied_.index << " (term " << sm->applied_.term << "), "
            << sm->sessions_->size() << " sessions";
  *out = std::move(sm);
  return Status::Ok();
}

// The empty store goes through staging and Promote like an installed
// snapshot, so a crash during creation leaves either nothing or all of it.
Status KvStateMachine::CreateFirstGeneration() {
  std::string staging;
  Status s = directory_->CreateStaging(&staging);
  if (!s.ok()) return s;
  {
    rocksdb::DBOptions dbOptions = KvDbOptions();
    dbOptions.create_if_missing = true;
    dbOptions.create_missing_column_families = true;
    Db db;
    rocksdb::Status rs =
        rocksdb::DB::Open(dbOptions, staging, KvColumnFamilies(), &db.handles, &db.db);
    if (!rs.ok()) return RocksFailure("creating a new instance in " + staging, rs);
    rs = db.db->Put(ApplyWriteOptions(), db.meta(),
                    rocksdb::Slice(kAppliedKey.data(), kAppliedKey.size()),
                    EncodeAppliedState(AppliedState{}));
    if (rs.ok()) rs = db.db->Flush(rocksdb::FlushOptions(), db.handles);
    if (!rs.ok()) return RocksFailure("writing the new instance in " + staging, rs);
  }
  s = SyncDirectory(staging);
  std::string previous;
  if (s.ok()) s = directory_->Promote(staging, nullptr, &previous);
  if (s.ok()) LOG(INFO) << "created an empty kv instance in " << directory_->LivePath();
  return s;
}

// Opens the live generation and loads what the instance keeps in memory.
Status KvStateMachine::LoadLive() {
  std::unique_ptr<Db> db;
  Status s = OpenDb(directory_->LivePath(), /*readOnly=*/false, &db);
  if (!s.ok()) return s;
  AppliedState applied;
  s = ReadApplied(*db, nullptr, &applied);
  auto sessions = std::make_unique<SessionTable>(db->sessions());
  if (s.ok()) s = sessions->Load(db->db, nullptr);
  if (!s.ok()) {
    return Status::Corruption("kv instance " + directory_->LivePath() + ": " + s.message() +
                              ". Remove " + directory_->dir() +
                              " and restart the node: it will receive a snapshot from the leader");
  }
  db_ = std::move(db);
  sessions_ = std::move(sessions);
  applied_ = applied;
  appliedIndex_ = applied.index;
  appliedTerm_ = applied.term;
  // With apply writes outside the WAL, what a fresh open sees is on disk.
  durableAppliedIndex_ = applied.index;
  return Status::Ok();
}

Status KvStateMachine::Poison(Status why) {
  if (failed_.ok()) {
    failed_ = why.ok() ? Status::IOError("stopped for an unknown reason") : why;
    LOG(ERROR) << "kv state machine stopped: " << failed_.ToString()
               << "; restart the node (the instance recovers on open)";
  }
  return failed_;
}

// ------------------------------------------------------------ apply

Status KvStateMachine::ApplyBatch(const std::vector<AppliedCommand>& batch,
                                  std::vector<Reply>* replies) {
  std::lock_guard<std::mutex> lock(applyMu_);
  if (!failed_.ok()) return failed_;

  // Check the whole batch before changing anything: it must continue the
  // applied index, and every command must be in a format this build knows.
  uint64_t expected = applied_.index + 1;
  uint64_t lastTerm = applied_.term;
  for (const AppliedCommand& e : batch) {
    if (e.index < expected) {
      if (expected == applied_.index + 1) continue;  // a replayed prefix
      return Status::InvalidArgument("apply batch goes back from index " +
                                     std::to_string(expected - 1) + " to " +
                                     std::to_string(e.index));
    }
    if (e.index != expected) {
      return Status::InvalidArgument(
          "apply batch skips from index " + std::to_string(expected - 1) + " to " +
          std::to_string(e.index) + " (applied index " + std::to_string(applied_.index) +
          "): entries must be applied in order");
    }
    if (e.term < lastTerm) {
      return Status::InvalidArgument("entry " + std::to_string(e.index) + " has term " +
                                     std::to_string(e.term) + ", below the term " +
                                     std::to_string(lastTerm) + " before it");
    }
    if (CommandFormatVersion(e.data) > kCommandFormatVersion) {
      return Status::InvalidArgument(
          "entry " + std::to_string(e.index) + " holds a command of format version " +
          std::to_string(CommandFormatVersion(e.data)) + ", newer than this build's " +
          std::to_string(kCommandFormatVersion) +
          ": upgrade this node (nothing of the batch was applied)");
    }
    lastTerm = e.term;
    ++expected;
  }

  replies->assign(batch.size(), Reply{});
  std::shared_lock<std::shared_mutex> dbLock(dbMu_);
  BatchView view(db_.get());
  AppliedState next = applied_;
  bool any = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    const AppliedCommand& e = batch[i];
    if (e.index <= applied_.index) {
      (*replies)[i].code = ReplyCode::kSkipped;
      continue;
    }
    // From here on the session mirror may change: a failure poisons.
    Status s = ApplyEntry(e, &next, &view, &(*replies)[i]);
    if (!s.ok()) return Poison(s);
    next.index = e.index;
    next.term = e.term;
    any = true;
  }
  if (!any) return Status::Ok();

  sessions_->WriteChangedHeaders(view.batch());
  view.batch()
      ->Put(db_->meta(), rocksdb::Slice(kAppliedKey.data(), kAppliedKey.size()),
            EncodeAppliedState(next))
      .PermitUncheckedError();
  rocksdb::Status ws = db_->db->Write(ApplyWriteOptions(), view.Finished());
  if (!ws.ok())
    return Poison(
        RocksFailure("writing apply batch up to index " + std::to_string(next.index), ws));
  VLOG(2) << "applied entries " << applied_.index + 1 << ".." << next.index;
  applied_ = next;
  appliedIndex_ = next.index;
  appliedTerm_ = next.term;
  return Status::Ok();
}

Status KvStateMachine::ApplyEntry(const AppliedCommand& entry, AppliedState* next, BatchView* view,
                                  Reply* reply) {
  if (entry.data.empty()) return Status::Ok();  // a leader's no-op entry
  Command c;
  Status decoded = DecodeCommand(entry.data, &c);
  if (!decoded.ok()) {
    // Every replica decodes the same bytes the same way, so answering is
    // deterministic; the leader should have refused them.
    LOG(WARNING) << "entry " << entry.index
                 << " holds an undecodable command: " << decoded.message();
    reply->code = ReplyCode::kInvalidArgument;
    reply->message = decoded.message();
    return Status::Ok();
  }
  // Leader clocks may go backwards across a leader change: keep the maximum.
  next->leaderTimeMs = std::max(next->leaderTimeMs, c.leaderTimeMs);
  const uint64_t now = next->leaderTimeMs;
  sessions_->ExpireIdle(now, options_.sessionExpiryMs, view->batch());

  switch (c.op) {
    case Operation::kRegisterClient:
      // The entry's index names the session: unique across the cluster and
      // across restarts, with no counter to persist.
      sessions_->Register(entry.index, now);
      reply->clientId = entry.index;
      VLOG(1) << "session " << entry.index << " registered at leader time " << now;
      return Status::Ok();
    case Operation::kGet:
    case Operation::kRange:
      return ExecuteOperation(c, options_.limits, view, reply);
    case Operation::kNoOp:
      if (c.clientId != 0 && !sessions_->Touch(c, now, view->batch())) {
        reply->code = ReplyCode::kSessionExpired;
        reply->message = "client " + std::to_string(c.clientId) + " has no session: register again";
      }
      return Status::Ok();
    case Operation::kPut:
    case Operation::kAppend:
    case Operation::kDelete:
    case Operation::kCompareAndSwap:
      return ApplyWithSession(entry, c, now, view, reply);
  }
  return Status::Ok();
}

Status KvStateMachine::ApplyWithSession(const AppliedCommand& entry, const Command& c, uint64_t now,
                                        BatchView* view, Reply* reply) {
  if (c.clientId == 0) {
    reply->code = ReplyCode::kInvalidArgument;
    reply->message =
        std::string(OperationName(c.op)) +
        " changes state and so needs a session (exactly-once): register a client first";
    return Status::Ok();
  }
  if (!sessions_->Touch(c, now, view->batch())) {
    reply->code = ReplyCode::kSessionExpired;
    reply->message = "client " + std::to_string(c.clientId) +
                     " has no session (unknown, or idle for longer than " +
                     std::to_string(options_.sessionExpiryMs) +
                     " ms): the command was not applied; register again and retry it";
    return Status::Ok();
  }
  switch (sessions_->Admit(c.clientId, c.sequence)) {
    case SessionTable::Admission::kCached: {
      std::string bytes;
      rocksdb::Status s = view->GetSessionRecord(CachedReplyKey(c.clientId, c.sequence), &bytes);
      if (!s.ok())
        return RocksFailure("reading the cached reply of client " + std::to_string(c.clientId), s);
      Status d = DecodeReply(bytes, reply);
      if (!d.ok())
        return Status::Corruption("cached reply of client " + std::to_string(c.clientId) + ": " +
                                  d.message());
      VLOG(1) << "entry " << entry.index << ": client " << c.clientId << " seq " << c.sequence
              << " was applied before; answering from the session table";
      return Status::Ok();
    }
    case SessionTable::Admission::kCachedOk:
      *reply = Reply{};
      VLOG(1) << "entry " << entry.index << ": client " << c.clientId << " seq " << c.sequence
              << " was applied before with a plain OK; answering that";
      return Status::Ok();
    case SessionTable::Admission::kStale:
      reply->code = ReplyCode::kStaleSequence;
      reply->message = "client " + std::to_string(c.clientId) + " sequence " +
                       std::to_string(c.sequence) +
                       " is below its first outstanding sequence: it was applied and its reply "
                       "discarded; it was not applied again";
      return Status::Ok();
    case SessionTable::Admission::kApply:
      break;
  }
  Status s = ExecuteOperation(c, options_.limits, view, reply);
  if (!s.ok()) return s;
  sessions_->RecordReply(c.clientId, c.sequence, *reply, view->batch());
  return Status::Ok();
}

size_t KvStateMachine::SessionCount() const {
  std::lock_guard<std::mutex> lock(applyMu_);
  return sessions_ ? sessions_->size() : 0;
}

size_t KvStateMachine::CachedReplyCount(uint64_t clientId) const {
  std::lock_guard<std::mutex> lock(applyMu_);
  return sessions_ ? sessions_->CachedReplies(clientId) : 0;
}

// ------------------------------------------------------------ reads

Status KvStateMachine::Read(const Command& c, Reply* reply) const {
  std::shared_lock<std::shared_mutex> lock(dbMu_);
  if (!db_)
    return Status::Aborted(
        "the kv instance is closed after a failed snapshot install: restart the node");
  ReadView view(db_.get());
  return ExecuteOperation(c, options_.limits, &view, reply);
}

Status KvStateMachine::Get(std::string_view key, Reply* reply) const {
  Command c;
  c.op = Operation::kGet;
  c.key = key;
  return Read(c, reply);
}

Status KvStateMachine::Range(std::string_view start, std::string_view end, uint64_t limit,
                             Reply* reply) const {
  Command c;
  c.op = Operation::kRange;
  c.key = start;
  c.rangeEnd = end;
  c.rangeLimit = limit;
  return Read(c, reply);
}

Status KvStateMachine::Digest(StateDigest* out) const {
  std::shared_lock<std::shared_mutex> lock(dbMu_);
  if (!db_)
    return Status::Aborted(
        "the kv instance is closed after a failed snapshot install: restart the node");
  rocksdb::DB* db = db_->db;
  const rocksdb::Snapshot* snapshot = db->GetSnapshot();
  StateDigest d;
  Status s = ReadApplied(*db_, snapshot, &d.applied);
  Fnv1a64 hash;
  hash.AddNumber(d.applied.index);
  hash.AddNumber(d.applied.term);
  hash.AddNumber(d.applied.leaderTimeMs);
  for (rocksdb::ColumnFamilyHandle* cf : {db_->data(), db_->sessions()}) {
    if (!s.ok()) break;
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
    uint64_t records = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++records) {
      hash.AddBytes(it->key());
      hash.AddBytes(it->value());
    }
    if (!it->status().ok()) s = RocksFailure("computing the digest", it->status());
    hash.AddNumber(records);  // ends each family's part
  }
  db->ReleaseSnapshot(snapshot);
  if (!s.ok()) return s;
  d.hash = hash.value();
  *out = d;
  return Status::Ok();
}

// ------------------------------------------------------------ durability

Status KvStateMachine::Flush() {
  uint64_t captured = 0;
  {
    std::lock_guard<std::mutex> lock(applyMu_);
    if (!failed_.ok()) return failed_;
    captured = applied_.index;
  }
  std::shared_lock<std::shared_mutex> lock(dbMu_);
  if (!db_)
    return Status::Aborted(
        "the kv instance is closed after a failed snapshot install: restart the node");
  return FlushLocked(captured);
}

Status KvStateMachine::FlushLocked(uint64_t captured) {
  // Every batch up to `captured` was written before this flush begins, so
  // the flush covers it; batches applied meanwhile may be covered too.
  // Naming every family matters: RocksDB then decides which memtables to
  // switch inside its write thread, between two write batches. (A flush
  // that picks the non-empty families first, as Checkpoint's own does in
  // RocksDB 7.8, can miss a family a concurrent batch has just written.)
  rocksdb::FlushOptions fo;
  fo.wait = true;
  rocksdb::Status s = db_->db->Flush(fo, db_->handles);
  if (!s.ok()) return RocksFailure("flush", s);
  uint64_t durable = durableAppliedIndex_.load();
  while (captured > durable && !durableAppliedIndex_.compare_exchange_weak(durable, captured)) {
  }
  VLOG(1) << "kv instance flushed: durable through index " << DurableAppliedIndex();
  return Status::Ok();
}

Status KvStateMachine::CompactStorage() {
  std::shared_lock<std::shared_mutex> lock(dbMu_);
  if (!db_)
    return Status::Aborted(
        "the kv instance is closed after a failed snapshot install: restart the node");
  for (rocksdb::ColumnFamilyHandle* h : db_->handles) {
    rocksdb::Status s = db_->db->CompactRange(rocksdb::CompactRangeOptions(), h, nullptr, nullptr);
    if (!s.ok()) return RocksFailure("compaction of column family " + h->GetName(), s);
  }
  LOG(INFO) << "compacted the kv instance";
  return Status::Ok();
}

// ------------------------------------------------------------ snapshots

Status KvStateMachine::CreateSnapshot(const std::string& dir, SnapshotInfo* out) {
  const fs::path target = fs::absolute(dir).lexically_normal();
  const fs::path kvDir = fs::absolute(directory_->dir()).lexically_normal();
  if (dir.empty() || IsInside(target, kvDir)) {
    return Status::InvalidArgument("snapshot directory '" + dir +
                                   "' must be outside the kv directory " + directory_->dir() +
                                   " (whose contents the instance manages)");
  }
  std::error_code ec;
  if (fs::exists(target, ec)) {
    return Status::InvalidArgument("snapshot directory " + dir +
                                   " already exists: pass a new path");
  }
  fs::create_directories(target.parent_path(), ec);
  if (ec)
    return Status::IOError("cannot create " + target.parent_path().string() + ": " + ec.message());
  uint64_t captured = 0;
  {
    std::lock_guard<std::mutex> lock(applyMu_);
    if (!failed_.ok()) return failed_;
    captured = applied_.index;
  }
  // Applies go on meanwhile: the checkpoint holds the state as of some batch
  // at or after this point, which is read back from the checkpoint itself.
  // Holding dbMu_ keeps an install from swapping the instance underneath.
  std::shared_lock<std::shared_mutex> dbLock(dbMu_);
  if (!db_)
    return Status::Aborted(
        "the kv instance is closed after a failed snapshot install: restart the node");
  // Apply batches skip the WAL, so the checkpoint holds only what is flushed.
  // The flush is atomic across the column families and cuts between write
  // batches, so the flushed files hold data, sessions and the applied record
  // of one batch boundary; any later automatic flush is atomic too.
  Status flushed = FlushLocked(captured);
  if (!flushed.ok()) return flushed.Annotate("flushing before the checkpoint into " + dir);
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_->db, &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // The largest log_size_for_flush: no flush of the checkpoint's own, whose
  // choice of families races with applies (see FlushLocked).
  if (s.ok())
    s = checkpoint->CreateCheckpoint(target.string(),
                                     /*log_size_for_flush=*/std::numeric_limits<uint64_t>::max());
  if (!s.ok()) return RocksFailure("checkpoint into " + dir, s);
  // Opened read-only, the checkpoint gains no files (no LOCK, no info LOG).
  std::unique_ptr<Db> copy;
  AppliedState applied;
  Status rs = OpenDb(target.string(), /*readOnly=*/true, &copy);
  if (rs.ok()) rs = ReadApplied(*copy, nullptr, &applied);
  if (!rs.ok()) return rs.Annotate("reading back the checkpoint in " + dir);
  out->dir = target.string();
  out->appliedIndex = applied.index;
  out->appliedTerm = applied.term;
  // The checkpoint's flush made the live instance durable as far as well.
  uint64_t durable = durableAppliedIndex_.load();
  while (applied.index > durable &&
         !durableAppliedIndex_.compare_exchange_weak(durable, applied.index)) {
  }
  LOG(INFO) << "snapshot of the kv instance at index " << out->appliedIndex << " (term "
            << out->appliedTerm << ") in " << out->dir;
  return Status::Ok();
}

void KvStateMachine::DiscardInstall() {
  installWriter_.reset();
  if (installStaging_.empty()) return;
  Status s = directory_->DiscardStaging(installStaging_);
  if (!s.ok())
    LOG(WARNING) << "abandoned snapshot install: " << s.ToString() << " (removed at next open)";
  installStaging_.clear();
}

void KvStateMachine::AbortSnapshotInstall() {
  std::lock_guard<std::mutex> lock(installMu_);
  DiscardInstall();
}

Status KvStateMachine::InstallSnapshotChunk(uint64_t offset, std::string_view data, bool done,
                                            SnapshotInfo* installed) {
  std::lock_guard<std::mutex> lock(installMu_);
  {
    std::lock_guard<std::mutex> applyLock(applyMu_);
    if (!failed_.ok()) return failed_;
  }
  if (offset == 0) {
    DiscardInstall();
    Status s = directory_->CreateStaging(&installStaging_);
    if (!s.ok()) {
      installStaging_.clear();
      return s;
    }
    installWriter_ = std::make_unique<SnapshotWriter>(installStaging_);
  } else if (!installWriter_) {
    return Status::Aborted("snapshot chunk at offset " + std::to_string(offset) +
                           " but no install is in progress: resend from offset 0");
  }
  SnapshotWriter& writer = *installWriter_;
  const bool hadHeader = writer.HasHeader();
  Status s = writer.Append(offset, data);
  if (!s.ok()) {
    if (writer.failed()) DiscardInstall();
    return s;
  }
  if (!hadHeader && writer.HasHeader() && writer.header().appliedIndex <= AppliedIndex()) {
    const uint64_t index = writer.header().appliedIndex;
    DiscardInstall();
    return Status::Aborted("snapshot at index " + std::to_string(index) +
                           " is not newer than the applied index " +
                           std::to_string(AppliedIndex()) + ": nothing to install");
  }
  if (!done) return Status::Ok();

  const SnapshotStreamHeader header = writer.header();
  s = writer.Finish();
  if (s.ok()) s = VerifyStaged(installStaging_, header);
  if (!s.ok()) {
    DiscardInstall();
    return s;
  }
  installWriter_.reset();
  const std::string staging = installStaging_;
  installStaging_.clear();
  return SwapIn(staging, header, installed);
}

// Opens the received instance read-only before anything is swapped: it
// must be a kvraft kv instance at exactly the index and term the stream
// announced, with a session table that loads.
Status KvStateMachine::VerifyStaged(const std::string& staging,
                                    const SnapshotStreamHeader& header) {
  std::unique_ptr<Db> db;
  Status s = OpenDb(staging, /*readOnly=*/true, &db);
  AppliedState applied;
  if (s.ok()) s = ReadApplied(*db, nullptr, &applied);
  if (s.ok() && (applied.index != header.appliedIndex || applied.term != header.appliedTerm)) {
    s = Status::Corruption("it holds index " + std::to_string(applied.index) + " term " +
                           std::to_string(applied.term) + ", but its stream announced index " +
                           std::to_string(header.appliedIndex) + " term " +
                           std::to_string(header.appliedTerm));
  }
  if (s.ok()) {
    SessionTable sessions(db->sessions());
    s = sessions.Load(db->db, nullptr);
  }
  if (!s.ok())
    return Status::Corruption("received snapshot is not usable: " + s.message() + "; resend it");
  return Status::Ok();
}

Status KvStateMachine::SwapIn(const std::string& staging, const SnapshotStreamHeader& header,
                              SnapshotInfo* installed) {
  std::lock_guard<std::mutex> lock(applyMu_);
  Status s = failed_;
  if (s.ok() && header.appliedIndex <= applied_.index) {
    s = Status::Aborted("snapshot at index " + std::to_string(header.appliedIndex) +
                        " is not newer than the applied index " + std::to_string(applied_.index) +
                        ": nothing to install");
  }
  if (!s.ok()) {
    Status d = directory_->DiscardStaging(staging);
    if (!d.ok())
      LOG(WARNING) << "abandoned snapshot install: " << d.ToString() << " (removed at next open)";
    return s;
  }
  auto step = [&](InstallStep st) {
    return options_.installHook ? options_.installHook(st) : Status::Ok();
  };
  const uint64_t oldIndex = applied_.index;
  std::string previous;
  s = directory_->Promote(staging, options_.installHook, &previous);
  if (s.ok()) s = step(InstallStep::kPointerSwitched);
  if (!s.ok())
    return Poison(Status::Aborted("snapshot install stopped before the new state was opened: " +
                                  s.ToString()));
  {
    std::unique_lock<std::shared_mutex> dbLock(dbMu_);
    db_->Close(/*flush=*/false);  // superseded: its unflushed batches are of no use
    db_.reset();
    s = LoadLive();
  }
  if (s.ok()) s = step(InstallStep::kNewStateOpened);
  if (!s.ok())
    return Poison(Status::Aborted("snapshot install stopped after the swap: " + s.ToString()));
  s = directory_->RemoveGeneration(previous);
  if (!s.ok())
    LOG(WARNING) << "removing the replaced kv generation: " << s.ToString()
                 << " (removed at next open)";
  installed->dir = directory_->LivePath();
  installed->appliedIndex = header.appliedIndex;
  installed->appliedTerm = header.appliedTerm;
  LOG(INFO) << "installed snapshot at index " << header.appliedIndex << " (term "
            << header.appliedTerm << ") over applied index " << oldIndex << ": "
            << sessions_->size() << " sessions";
  return Status::Ok();
}

}  // namespace kvraft::statemachine
