#pragma once
// The sending side of a snapshot: a checkpoint directory read as the byte
// stream of snapshot_format.h, at any (offset, maxBytes), which is how the
// Raft layer asks for InstallSnapshot chunks (Storage::ReadSnapshotChunk).
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "raftlog/status.h"
#include "statemachine/crc32c.h"
#include "statemachine/snapshot_format.h"

namespace kvraft::statemachine {

// A snapshot on disk: a checkpoint directory and the applied index and term
// its state includes (KvStateMachine::CreateSnapshot fills it in).
struct SnapshotInfo {
  std::string dir;
  uint64_t appliedIndex = 0;
  uint64_t appliedTerm = 0;
};

class SnapshotReader {
 public:
  // Lists the checkpoint directory: regular files only (a subdirectory or a
  // name outside [A-Za-z0-9._-] is refused), in name order. The files must
  // not change while the reader lives; a checkpoint's never do.
  static Status Open(const SnapshotInfo& info, std::unique_ptr<SnapshotReader>* out);
  ~SnapshotReader();
  SnapshotReader(const SnapshotReader&) = delete;
  SnapshotReader& operator=(const SnapshotReader&) = delete;

  uint64_t StreamBytes() const { return streamBytes_; }
  const SnapshotInfo& info() const { return info_; }

  // Replaces *data by up to maxBytes (> 0) of the stream from `offset`;
  // *last is true when they reach the end. Chunks may be read in any order
  // and again (a retransmission). Safe to call from several threads.
  //
  // A file's CRC is computed from the bytes as they are first read in
  // order, so a sequential transfer reads each file once; a read that
  // jumps ahead of that reads the gap to complete the CRC.
  Status Read(uint64_t offset, uint64_t maxBytes, std::string* data, bool* last);

 private:
  struct File {
    std::string path;
    uint64_t size = 0;
    std::string entry;         // its encoded file entry (snapshot_format.h)
    uint64_t entryOffset = 0;  // where the entry starts in the stream
    int fd = -1;               // opened on first read
    Crc32cAccumulator crc;     // over bytes [0, crcThrough)
    uint64_t crcThrough = 0;
    uint64_t DataOffset() const { return entryOffset + entry.size(); }
    uint64_t TrailerOffset() const { return DataOffset() + size; }
    uint64_t EndOffset() const { return TrailerOffset() + kFileTrailerSize; }
  };

  explicit SnapshotReader(SnapshotInfo info) : info_(std::move(info)) {}
  Status ReadFileBytes(File& file, uint64_t fileOffset, uint64_t n, std::string* out);
  Status FileCrc(File& file, uint32_t* crc);

  const SnapshotInfo info_;
  std::string header_;
  std::vector<File> files_;
  uint64_t streamBytes_ = 0;
  std::mutex mu_;  // guards the files' fds and CRC progress
};

}  // namespace kvraft::statemachine
