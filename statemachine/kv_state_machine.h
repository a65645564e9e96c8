#pragma once
// KvStateMachine: the replicated key/value state of one node, applied from
// committed Raft entries into a RocksDB instance of its own (DESIGN.md,
// "Storage layout", "Client semantics"). It knows nothing of Raft beyond
// (index, term, command bytes) and never reads a clock.
//
// How a node drives it:
//   Open()            at start; AppliedIndex() says where to replay the log from.
//   ApplyBatch()      with each run of committed entries, in order; entries at or
//                     below AppliedIndex() are skipped, so replaying is harmless.
//   Get(), Range()    ReadIndex reads, once AppliedIndex() >= the read index.
//   Flush()           now and then; the Raft log may be compacted only below
//                     DurableAppliedIndex(), the state that survives a crash.
//   CreateSnapshot()  a checkpoint to send (SnapshotReader streams it) and to
//                     compact the log below.
//   InstallSnapshotChunk()  chunks of a snapshot from the leader, in order; the
//                     last one swaps the new state in atomically.
//
// Durability: apply batches are written without WAL or fsync (see
// ApplyWriteOptions in kv_layout.cc): the Raft log is the durable record.
// After a crash the instance reopens at the applied index of its last flush
// (at least DurableAppliedIndex()), with data, sessions and applied index
// consistent, and the node replays the log from there.
//
// Threads: ApplyBatch, Flush, CreateSnapshot and InstallSnapshotChunk may be
// called from different threads; state changes are serialised internally.
// Get, Range, Digest, Flush and CreateSnapshot run concurrently with
// ApplyBatch.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "raftlog/status.h"
#include "statemachine/kv_directory.h"
#include "statemachine/kv_layout.h"
#include "statemachine/kv_operations.h"
#include "statemachine/reply.h"
#include "statemachine/session_table.h"
#include "statemachine/snapshot_reader.h"
#include "statemachine/snapshot_writer.h"

namespace kvraft::statemachine {

// One committed log entry, as the state machine sees it.
struct AppliedCommand {
  uint64_t index = 0;
  uint64_t term = 0;
  // An EncodeCommand() result, or empty for Raft's own no-op entries. A view:
  // the entry must outlive the ApplyBatch call.
  std::string_view data;
};

// A fingerprint of the whole replicated state, for comparing replicas: two
// instances at the same applied index must have the same digest.
struct StateDigest {
  AppliedState applied;
  // FNV-1a (64-bit) over every user key and value and every session record,
  // in key order, each length-prefixed.
  uint64_t hash = 0;
  bool operator==(const StateDigest&) const = default;
  std::string ToString() const;
};

class KvStateMachine {
 public:
  struct Options {
    // The instance's directory: <data_dir>/kv (layout in kv_directory.h).
    std::string dir;
    // A session idle for longer than this, in leader time, is deleted and
    // its next command gets SESSION_EXPIRED. It must exceed, with margin,
    // the longest a live client may stay silent (its retry deadline and
    // pauses: seconds to minutes) plus the clock difference between two
    // leaders (max-seen time jumps by that much at a leader change). One
    // hour, LogCabin's choice, covers both many times over; the cost is
    // memory for the sessions of clients that left without a word, ~100
    // bytes each plus their cached replies.
    uint64_t sessionExpiryMs = 60 * 60 * 1000;
    Limits limits;
    // sessionExpiryMs and limits decide what applied commands do (expire a
    // session, refuse an oversize value), so every replica must run with the
    // same values, and a change must reach all of them at once (stop the
    // cluster) or the replicas' states fork.

    // --- for tests only ---
    // Called before each step of a snapshot install's swap; a non-OK status
    // stops the install there as a crash would: the instance then refuses
    // every call and must be destroyed and reopened.
    InstallHook installHook;
    // false: the destructor drops applied batches not yet flushed, as a
    // crash would (the instance reopens at its last flush).
    bool flushOnClose = true;
  };

  // Opens the instance in options.dir, creating an empty one (applied index
  // 0) if there is none, and recovering by itself from a crash at any point
  // (including during a snapshot install; see kv_directory.h).
  static Status Open(const Options& options, std::unique_ptr<KvStateMachine>* out);
  ~KvStateMachine();
  KvStateMachine(const KvStateMachine&) = delete;
  KvStateMachine& operator=(const KvStateMachine&) = delete;

  // Applies the entries of `batch` above AppliedIndex() (they must continue
  // it without gaps, terms never decreasing) in one RocksDB WriteBatch that
  // also records the new applied index, so state and applied index never
  // disagree. *replies gets one Reply per entry of `batch`: kSkipped for an
  // entry already applied.
  //
  // Exactly-once: a state-changing command (Put, Append, Delete,
  // CompareAndSwap) needs a session; a retry of one already applied gets the
  // cached reply (see session_table.h). Get and Range are answered without
  // the session table: they change nothing, so a retried read simply reads
  // again (still within the call's interval, so still linearizable), and
  // their possibly large replies are never cached.
  //
  // Bad client input gets a reply (kInvalidArgument etc.), never an error.
  // A non-OK Status means nothing of the batch was applied: InvalidArgument
  // for a batch that does not continue the applied index or a command format
  // newer than this build (stop and upgrade the node: answering it
  // differently from upgraded peers would fork the state), IOError if
  // RocksDB failed, after which every call fails until the node restarts.
  Status ApplyBatch(const std::vector<AppliedCommand>& batch, std::vector<Reply>* replies);

  uint64_t AppliedIndex() const { return appliedIndex_.load(); }
  uint64_t AppliedTerm() const { return appliedTerm_.load(); }

  // Makes everything applied so far durable (one atomic flush of all column
  // families). Apply continues meanwhile.
  Status Flush();
  // The highest index whose effects are known to survive a crash: the Raft
  // log may be compacted up to here, never beyond. Raised by Flush(),
  // CreateSnapshot() and installs; possibly lower than what a full memtable
  // has flushed on its own (never higher).
  uint64_t DurableAppliedIndex() const { return durableAppliedIndex_.load(); }

  // Compacts every column family of the instance (reclaims the space of
  // overwritten and deleted keys); the state does not change. Apply goes on
  // meanwhile. For operators (kvadmin compact).
  Status CompactStorage();

  // Reads of the current state, outside the log (ReadIndex): the same
  // replies as a Get or Range command applied now. A non-OK Status is a
  // storage failure.
  Status Get(std::string_view key, Reply* reply) const;
  Status Range(std::string_view start, std::string_view end, uint64_t limit, Reply* reply) const;

  // A digest of a consistent view of the whole state (data, sessions,
  // applied index), read from a RocksDB snapshot. Reads everything: for tests
  // and offline checks.
  Status Digest(StateDigest* out) const;

  // Takes a RocksDB checkpoint of the instance into `dir` (which must not
  // exist, must be outside options.dir, and should be on the same file
  // system so SST files are hard-linked rather than copied; its parent is
  // created if missing). The checkpoint
  // holds data, sessions and applied index together, at an applied index
  // between the one when the call starts and the one when it returns:
  // batches are applied meanwhile (the call flushes the memtables and links
  // the files, tens of milliseconds). out->appliedIndex says which.
  Status CreateSnapshot(const std::string& dir, SnapshotInfo* out);

  // Receives one chunk of a snapshot stream (SnapshotReader::Read's output)
  // into a staging directory beside the live state. Offset 0 starts a new
  // install, abandoning any other. With `done` on the chunk that completes
  // the stream, the state is swapped in atomically and *installed describes
  // it. Errors: Aborted if the snapshot is not newer than AppliedIndex()
  // (nothing to do) or no install is in progress at `offset`;
  // InvalidArgument for a chunk out of order (the install stays open);
  // Corruption for damage in transit (the install is abandoned: resend from
  // offset 0). A failure during the swap itself leaves the old or the new
  // state on disk and the instance refusing calls: restart the node.
  Status InstallSnapshotChunk(uint64_t offset, std::string_view data, bool done,
                              SnapshotInfo* installed);
  // Abandons an install in progress (e.g. the leader changed), removing its files.
  void AbortSnapshotInstall();

  // Live sessions, and the replies cached for one client (for metrics and tests).
  size_t SessionCount() const;
  size_t CachedReplyCount(uint64_t clientId) const;
  const Options& options() const { return options_; }

 private:
  struct Db;
  class BatchView;
  class ReadView;

  KvStateMachine(const Options& options, std::unique_ptr<KvDirectory> directory);

  static Status OpenDb(const std::string& path, bool readOnly, std::unique_ptr<Db>* out);
  static Status ReadApplied(Db& db, const rocksdb::Snapshot* snapshot, AppliedState* applied);
  Status CreateFirstGeneration();
  Status LoadLive();

  Status ApplyEntry(const AppliedCommand& entry, AppliedState* next, BatchView* view, Reply* reply);
  Status ApplyWithSession(const AppliedCommand& entry, const Command& command, uint64_t nowMs,
                          BatchView* view, Reply* reply);
  Status Read(const Command& command, Reply* reply) const;

  Status VerifyStaged(const std::string& staging, const SnapshotStreamHeader& header);
  Status SwapIn(const std::string& staging, const SnapshotStreamHeader& header,
                SnapshotInfo* installed);
  void DiscardInstall();
  Status Poison(Status why);
  // Flush() with dbMu_ held (shared) and db_ open; `captured` is an applied
  // index every batch of which was written before the call.
  Status FlushLocked(uint64_t captured);

  const Options options_;
  const std::unique_ptr<KvDirectory> directory_;

  // Lock order: installMu_, then applyMu_, then dbMu_.
  // Serialises the state changes: apply batches, checkpoints, the swap.
  mutable std::mutex applyMu_;
  AppliedState applied_;                    // under applyMu_
  std::unique_ptr<SessionTable> sessions_;  // under applyMu_
  // Set once a RocksDB write failed or an install's swap stopped half-way:
  // memory and disk may disagree, so every later call fails with it until
  // the node restarts (Open recovers). Under applyMu_.
  Status failed_;

  // Guards db_, which only an install replaces: shared for every use of the
  // instance, exclusive for the swap.
  mutable std::shared_mutex dbMu_;
  std::unique_ptr<Db> db_;

  std::atomic<uint64_t> appliedIndex_{0};
  std::atomic<uint64_t> appliedTerm_{0};
  std::atomic<uint64_t> durableAppliedIndex_{0};

  // The snapshot being received.
  std::mutex installMu_;
  std::unique_ptr<SnapshotWriter> installWriter_;  // under installMu_
  std::string installStaging_;                     // under installMu_
};

}  // namespace kvraft::statemachine
