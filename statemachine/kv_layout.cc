#include "statemachine/kv_layout.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include "statemachine/byte_io.h"

namespace kvraft::statemachine {

std::string EncodeAppliedState(const AppliedState& a) {
  std::string out;
  ByteWriter w(&out);
  w.U8(kAppliedFormatVersion);
  w.Fixed64LE(a.index);
  w.Fixed64LE(a.term);
  w.Fixed64LE(a.leaderTimeMs);
  return out;
}

Status DecodeAppliedState(std::string_view value, AppliedState* applied) {
  ByteReader r(value);
  uint8_t version = 0;
  AppliedState a;
  if (!r.U8(&version) || version != kAppliedFormatVersion) {
    return Status::Corruption("the 'applied' record has format version " + std::to_string(version) +
                              ", not " + std::to_string(kAppliedFormatVersion));
  }
  if (!r.Fixed64LE(&a.index) || !r.Fixed64LE(&a.term) || !r.Fixed64LE(&a.leaderTimeMs) ||
      r.remaining() != 0) {
    return Status::Corruption("the 'applied' record is " + std::to_string(value.size()) +
                              " bytes, not 25");
  }
  *applied = a;
  return Status::Ok();
}

std::string EncodeSessionHeader(const SessionHeader& h) {
  std::string out;
  ByteWriter w(&out);
  w.U8(kSessionFormatVersion);
  w.Varint(h.lastActiveMs);
  w.Varint(h.firstOutstanding);
  w.Varint(h.okSequences.size());
  uint64_t previous = h.firstOutstanding;
  for (uint64_t seq : h.okSequences) {
    w.Varint(seq - previous);
    previous = seq;
  }
  return out;
}

Status DecodeSessionHeader(std::string_view value, SessionHeader* header) {
  ByteReader r(value);
  uint8_t version = 0;
  SessionHeader h;
  auto malformed = [&](const std::string& what) {
    return Status::Corruption("a session record is malformed (" + std::to_string(value.size()) +
                              " bytes, version " + std::to_string(version) + "): " + what);
  };
  if (!r.U8(&version) || (version != 1 && version != kSessionFormatVersion))
    return malformed("unknown version");
  if (!r.Varint(&h.lastActiveMs) || !r.Varint(&h.firstOutstanding))
    return malformed("truncated");
  if (version >= 2) {
    uint64_t count = 0;
    // Each sequence takes at least a byte: a larger count is damage, and
    // must not size an allocation.
    if (!r.Varint(&count) || count > r.remaining()) return malformed("bad ok-sequence count");
    h.okSequences.reserve(count);
    uint64_t previous = h.firstOutstanding;
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t delta = 0;
      if (!r.Varint(&delta)) return malformed("truncated ok sequences");
      if ((i > 0 && delta == 0) || delta > UINT64_MAX - previous)
        return malformed("ok sequences out of order");
      previous += delta;
      h.okSequences.push_back(previous);
    }
  }
  if (r.remaining() != 0) return malformed("trailing bytes");
  *header = std::move(h);
  return Status::Ok();
}

std::string SessionHeaderKey(uint64_t clientId) { return EncodeFixed64BE(clientId); }

std::string CachedReplyKey(uint64_t clientId, uint64_t sequence) {
  std::string key;
  key.reserve(16);
  ByteWriter w(&key);
  w.Fixed64BE(clientId);
  w.Fixed64BE(sequence);
  return key;
}

bool ParseSessionKey(std::string_view key, uint64_t* clientId, bool* isReply, uint64_t* sequence) {
  if (key.size() != 8 && key.size() != 16) return false;
  *clientId = DecodeFixed64BE(key.substr(0, 8));
  *isReply = key.size() == 16;
  *sequence = *isReply ? DecodeFixed64BE(key.substr(8, 8)) : 0;
  return true;
}

rocksdb::DBOptions KvDbOptions() {
  rocksdb::DBOptions o;
  // Apply batches are written without the WAL (ApplyWriteOptions), so a
  // column family's unflushed writes are lost in a crash. Flushing all three
  // families together is what keeps user data, sessions and the applied
  // index at the same point on disk; without it a crash could leave `meta`
  // flushed past data that was not. (RocksDB: with atomic_flush, automatic
  // flushes take every family; manual ones flush the families passed.)
  o.atomic_flush = true;
  // Every open rotates the info LOG; keep a few for diagnosis instead of the
  // default 1000 files in the data directory.
  o.keep_log_file_num = 10;
  // Gets of keys spread over more data than the 8 MiB block cache read a
  // block from the page cache each time; mapped SST files save that pread
  // and its copy (+8-16% gets over 10^6 keys, bench/RESULTS.md). The price:
  // a disk read error surfaces as SIGBUS, which stops this node instead of
  // failing one read; the other replicas carry on either way.
  o.allow_mmap_reads = true;
  // Every open starts this many threads to open the table files in
  // parallel, and joins them (RocksDB's default is 16). A node opens its
  // instance at start, at each snapshot install and to read back each
  // snapshot it takes, and an instance of 10^7 keys holds tens of files,
  // which open one after another in milliseconds: the threads cost more
  // than they save.
  o.max_file_opening_threads = 1;
  return o;
}

rocksdb::ColumnFamilyOptions DataColumnFamilyOptions() {
  rocksdb::ColumnFamilyOptions o;
  // Put-heavy workloads read before they write whenever a command depends on
  // the current value (Append, CompareAndSwap, Delete's NOT_FOUND), and many
  // of those keys are absent. A 10-bit-per-key Bloom filter (~1% false
  // positives, ~1.25 bytes a key) lets such a read skip the SST files that
  // cannot hold the key instead of reading a block from each level.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return o;
}

rocksdb::ColumnFamilyOptions SessionsColumnFamilyOptions() {
  rocksdb::ColumnFamilyOptions o;
  // Session records are small and short-lived (a reply lives until the
  // client's next request moves its first outstanding sequence past it);
  // most die in the memtable. A 16 MiB memtable holds ~100,000 cached
  // replies; the default 64 MiB would only hold more dead ones.
  o.write_buffer_size = 16 << 20;
  return o;
}

rocksdb::ColumnFamilyOptions MetaColumnFamilyOptions() {
  rocksdb::ColumnFamilyOptions o;
  // One 25-byte record overwritten by every batch: a small memtable is
  // plenty; flushes come with the other families' (atomic_flush).
  o.write_buffer_size = 4 << 20;
  return o;
}

std::vector<rocksdb::ColumnFamilyDescriptor> KvColumnFamilies() {
  return {
      {rocksdb::kDefaultColumnFamilyName, DataColumnFamilyOptions()},
      {kSessionsColumnFamily, SessionsColumnFamilyOptions()},
      {kMetaColumnFamily, MetaColumnFamilyOptions()},
  };
}

rocksdb::WriteOptions ApplyWriteOptions() {
  rocksdb::WriteOptions o;
  // The Raft log is the durable record of every applied command (DESIGN.md,
  // "Storage layout"): after a crash the node reopens this instance at the
  // applied index it last flushed and replays the log from there. So apply
  // batches need neither an fsync nor the WAL, which would write every byte a
  // second time; durability comes from flushes (Flush(), checkpoints, full
  // memtables), and the log is compacted only below DurableAppliedIndex().
  o.disableWAL = true;
  o.sync = false;
  return o;
}

}  // namespace kvraft::statemachine
