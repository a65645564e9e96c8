#pragma once
// Byte layout of the raft RocksDB instance (DESIGN.md, "Storage layout"):
// keys and values of the `log` and `meta` column families, each value
// carrying a CRC32C so that a flipped bit on disk is caught on read instead
// of being replicated or applied.
//
// Every integer is written little-endian byte by byte, except log keys,
// which are big-endian so that RocksDB's bytewise order is index order
// (iterators then walk the log in order, and DeleteRange over [a, b) covers
// exactly the indexes a..b-1).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "raftlog/status.h"
#include "raftlog/types.h"

namespace kvraft::raft {

// The layout version stored in the `identity` record. A store written with
// another version is refused at open rather than misread.
constexpr uint32_t kLogFormatVersion = 1;

// Keys of the `meta` column family.
inline constexpr std::string_view kHardStateKey = "hard_state";
inline constexpr std::string_view kSnapshotMetaKey = "snapshot_meta";
inline constexpr std::string_view kIdentityKey = "identity";

// CRC32C (Castagnoli) as computed by Boost.CRC.
uint32_t Crc32c(std::string_view bytes);

// --- `log` column family ---------------------------------------------------

constexpr size_t kLogKeySize = 8;
// 8-byte big-endian index.
std::string EncodeLogKey(uint64_t index);
bool DecodeLogKey(std::string_view key, uint64_t* index);

// Value: term (8, LE) | type (1) | payload | crc32c (4, LE), where the CRC
// covers the key's index as well as term, type and payload, so that an
// intact value stored under the wrong key is caught too.
void EncodeEntryValue(const Entry& entry, std::string* out);
// The same with the CRC already computed by EntryChecksum(s).
void EncodeEntryValue(const Entry& entry, uint32_t crc, std::string* out);
// The CRC stored with `entry`.
uint32_t EntryChecksum(const Entry& entry);
// EntryChecksum of every entry, computed several at a time (faster than one
// by one; see the .cc).
void EntryChecksums(const std::vector<Entry>& entries, std::vector<uint32_t>* crcs);
// Bytes of EncodeEntryValue's output for a payload of `payloadSize` bytes.
constexpr size_t EntryValueSize(size_t payloadSize) { return 8 + 1 + payloadSize + 4; }
// Decodes the value stored under `index` into *entry, verifying its CRC and
// type. On failure returns Corruption with a short reason (the caller adds
// the directory and what to do).
Status DecodeEntryValue(uint64_t index, std::string_view value, Entry* entry);

// --- `meta` column family --------------------------------------------------

// term | votedFor | commitIndex | crc (28 bytes).
std::string EncodeHardState(const HardState& hs);
Status DecodeHardState(std::string_view value, HardState* hs);

// lastIncludedIndex | lastIncludedTerm | voter count (4) | voters | crc.
std::string EncodeSnapshotMeta(const SnapshotMeta& meta);
Status DecodeSnapshotMeta(std::string_view value, SnapshotMeta* meta);

// Who a data directory belongs to; checked at every open so that a node
// never starts on another node's (or another cluster's) log.
struct StoreIdentity {
  uint32_t formatVersion = kLogFormatVersion;
  std::string clusterId;
  NodeId nodeId = kNoNode;
};
// formatVersion (4) | nodeId (8) | clusterId length (4) | clusterId | crc.
// The version comes first so that any future layout can still be told apart.
std::string EncodeIdentity(const StoreIdentity& id);
// Reads only the version: a store of an unknown version is reported as
// such, not as a checksum failure of a layout this build does not know.
Status DecodeIdentityVersion(std::string_view value, uint32_t* formatVersion);
Status DecodeIdentity(std::string_view value, StoreIdentity* id);

}  // namespace kvraft::raft
