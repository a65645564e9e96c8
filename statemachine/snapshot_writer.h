#pragma once
// The receiving side of a snapshot: takes the stream of snapshot_format.h in
// order, chunk by chunk, and writes its files into a directory, checking
// every CRC as the bytes arrive. It knows nothing of what the files are;
// KvStateMachine decides what to do with a complete directory.
#include <cstdint>
#include <string>
#include <string_view>

#include "raftlog/status.h"
#include "statemachine/crc32c.h"
#include "statemachine/snapshot_format.h"

namespace kvraft::statemachine {

class SnapshotWriter {
 public:
  // Writes into `dir`, which must exist and be empty.
  explicit SnapshotWriter(std::string dir) : dir_(std::move(dir)) {}
  ~SnapshotWriter();
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  // The next bytes of the stream: `offset` must equal BytesReceived(). Each
  // file is fsynced when its last byte has arrived and its CRC matched. Any
  // error is final: the writer refuses everything after it, and the caller
  // discards the directory.
  Status Append(uint64_t offset, std::string_view data);

  uint64_t BytesReceived() const { return received_; }
  // An error made the writer give up (an out-of-order chunk does not).
  bool failed() const { return !failed_.ok(); }
  bool HasHeader() const { return state_ != State::kHeader; }
  const SnapshotStreamHeader& header() const { return header_; }
  // Every byte the header announced has arrived and checked out.
  bool Complete() const { return state_ == State::kDone; }
  // Requires Complete(): fsyncs the directory, making the files' names durable.
  Status Finish();

 private:
  enum class State { kHeader, kFileEntry, kFileData, kFileTrailer, kDone };

  // Moves bytes from `data` into pending_ until it holds `want` bytes.
  void Gather(size_t want, std::string_view* data);
  Status Step(std::string_view* data);
  Status StartFile(const std::string& name, uint64_t size);
  Status EndFile();
  Status Fail(Status s);

  const std::string dir_;
  State state_ = State::kHeader;
  Status failed_;
  SnapshotStreamHeader header_;
  uint64_t received_ = 0;
  std::string pending_;  // a header, file entry or trailer split across chunks
  uint32_t filesDone_ = 0;
  // The file being written.
  std::string path_;
  int fd_ = -1;
  uint64_t remaining_ = 0;
  Crc32cAccumulator crc_;
};

}  // namespace kvraft::statemachine
