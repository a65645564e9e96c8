#pragma once
// The byte stream a snapshot travels in: a checkpoint directory of the kv
// instance (flat: RocksDB's SST, MANIFEST, CURRENT and OPTIONS files),
// serialised so that the leader can send it in chunks of any size and the
// follower can check every byte before using it.
//
//   stream header (44 bytes, all integers little-endian):
//     magic "kvsnap\r\n" (8) | format version (4) | applied index (8) |
//     applied term (8) | file count (4) | stream length in bytes (8) |
//     CRC32C of the preceding 40 bytes (4)
//   then per file, in name order:
//     name length (2) | name | file size (8) | CRC32C of these three (4)
//     the file's bytes
//     CRC32C of the file's bytes (4)
//
// The header's length tells the receiver where the stream ends; each file
// entry's own CRC rejects a damaged size before gigabytes are written to it;
// each file's CRC is checked when its last byte arrives, so a damaged chunk
// fails the install before anything is swapped in. Names are plain file
// names (no '/', not "." or ".."), so a hostile stream cannot write outside
// the staging directory.
#include <cstdint>
#include <string>
#include <string_view>

#include "raftlog/status.h"

namespace kvraft::statemachine {

constexpr uint32_t kSnapshotFormatVersion = 1;
constexpr size_t kSnapshotHeaderSize = 44;
constexpr size_t kMaxSnapshotFileName = 255;
// Name length, size and CRC around a file entry's name.
constexpr size_t kFileEntryFixedSize = 2 + 8 + 4;
constexpr size_t kFileTrailerSize = 4;

struct SnapshotStreamHeader {
  uint64_t appliedIndex = 0;
  uint64_t appliedTerm = 0;
  uint32_t fileCount = 0;
  uint64_t streamBytes = 0;  // the whole stream, header included
  bool operator==(const SnapshotStreamHeader&) const = default;
};

std::string EncodeStreamHeader(const SnapshotStreamHeader& header);
// Exactly kSnapshotHeaderSize bytes.
Status DecodeStreamHeader(std::string_view bytes, SnapshotStreamHeader* header);

std::string EncodeFileEntry(std::string_view name, uint64_t size);
// `bytes` starts at a file entry; *entryBytes is 0 (and OK) while more
// bytes are needed to decode it.
Status DecodeFileEntry(std::string_view bytes, std::string* name, uint64_t* size,
                       size_t* entryBytes);

// True for names a snapshot may carry.
bool IsPlainFileName(std::string_view name);

}  // namespace kvraft::statemachine
