#pragma once
// Byte layout and RocksDB tuning of the kv instance (DESIGN.md, "Storage
// layout"):
//
//   column family  key                           value
//   default        user key                      user value
//   sessions       client id (8, BE)             SessionHeader: last-active leader
//                                                time, first outstanding sequence,
//                                                the sequences whose reply was a
//                                                plain OK
//   sessions       client id (8, BE) + seq (8, BE)  the cached Reply of that command,
//                                                when it was more than a plain OK
//   meta           "applied"                     AppliedState: index, term, leader clock
//
// Big-endian ids make RocksDB's bytewise order numeric order, so one
// client's cached replies are adjacent and sorted, right after its header.
// Values rely on RocksDB's block checksums for integrity; their first byte
// is a format version so a future layout can be told apart.
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "raftlog/status.h"

namespace kvraft::statemachine {

inline constexpr const char* kSessionsColumnFamily = "sessions";
inline constexpr const char* kMetaColumnFamily = "meta";
inline constexpr std::string_view kAppliedKey = "applied";

constexpr uint8_t kAppliedFormatVersion = 1;
// Version 2 added the plain-OK sequences to the session header; version 1
// headers (no such list) are still read.
constexpr uint8_t kSessionFormatVersion = 2;

// What the instance has applied, written in the same WriteBatch as the
// effects of those entries.
struct AppliedState {
  uint64_t index = 0;
  uint64_t term = 0;
  // The largest leader timestamp applied so far: the clock sessions expire
  // by. A new leader's clock may be behind the old one's; the maximum never
  // goes back, so a session never comes back to life.
  uint64_t leaderTimeMs = 0;
  bool operator==(const AppliedState&) const = default;
};
// u8 version | index (8, LE) | term (8, LE) | leaderTimeMs (8, LE).
std::string EncodeAppliedState(const AppliedState& applied);
Status DecodeAppliedState(std::string_view value, AppliedState* applied);

struct SessionHeader {
  uint64_t lastActiveMs = 0;      // leader time of the session's latest command
  uint64_t firstOutstanding = 0;  // replies below this sequence have been discarded
  // Sequences at or above firstOutstanding whose reply was a plain OK (most
  // writes' reply), ascending; at most SessionTable::kMaxOkSequences. Keeping them here instead of one reply record
  // each saves a Put and a later Delete per write: the header is rewritten
  // once per apply batch anyway, because firstOutstanding moves.
  std::vector<uint64_t> okSequences;
  bool operator==(const SessionHeader&) const = default;
};
// Version 2: u8 version | varint lastActiveMs | varint firstOutstanding |
//   varint count | count varints: each okSequence minus the one before it
//   (the first minus firstOutstanding).
// Version 1 ends after firstOutstanding. Decoding rejects ok sequences
// below firstOutstanding or not strictly ascending.
std::string EncodeSessionHeader(const SessionHeader& header);
Status DecodeSessionHeader(std::string_view value, SessionHeader* header);

std::string SessionHeaderKey(uint64_t clientId);
std::string CachedReplyKey(uint64_t clientId, uint64_t sequence);
// Splits a `sessions` key; false if it is neither form.
bool ParseSessionKey(std::string_view key, uint64_t* clientId, bool* isReply, uint64_t* sequence);

// --- RocksDB options (each non-default one says why in kv_layout.cc) ---
rocksdb::DBOptions KvDbOptions();
rocksdb::ColumnFamilyOptions DataColumnFamilyOptions();
rocksdb::ColumnFamilyOptions SessionsColumnFamilyOptions();
rocksdb::ColumnFamilyOptions MetaColumnFamilyOptions();
// default, sessions, meta: the order of the handles DB::Open returns.
std::vector<rocksdb::ColumnFamilyDescriptor> KvColumnFamilies();
// How every apply batch is written.
rocksdb::WriteOptions ApplyWriteOptions();

}  // namespace kvraft::statemachine
