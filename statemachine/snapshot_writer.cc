#include "statemachine/snapshot_writer.h"

#include <fcntl.h>
#include <glog/logging.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "statemachine/byte_io.h"
#include "statemachine/file_util.h"

namespace kvraft::statemachine {

SnapshotWriter::~SnapshotWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status SnapshotWriter::Fail(Status s) {
  failed_ = s;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  return s;
}

void SnapshotWriter::Gather(size_t want, std::string_view* data) {
  if (pending_.size() >= want) return;
  const size_t n = std::min(want - pending_.size(), data->size());
  pending_.append(data->substr(0, n));
  data->remove_prefix(n);
}

Status SnapshotWriter::Append(uint64_t offset, std::string_view data) {
  if (!failed_.ok()) return failed_;
  if (offset != received_) {
    return Status::InvalidArgument("snapshot chunk at offset " + std::to_string(offset) +
                                   ", but the next byte expected is " + std::to_string(received_) +
                                   ": chunks must arrive in order");
  }
  if (HasHeader() && data.size() > header_.streamBytes - received_) {
    return Fail(Status::Corruption("snapshot chunk at offset " + std::to_string(offset) + " runs " +
                                   std::to_string(data.size() - (header_.streamBytes - received_)) +
                                   " bytes past the stream's announced end"));
  }
  received_ += data.size();
  while (!data.empty()) {
    Status s = Step(&data);
    if (!s.ok()) return Fail(s);
  }
  return Status::Ok();
}

// Consumes what it can of *data for the current state.
Status SnapshotWriter::Step(std::string_view* data) {
  switch (state_) {
    case State::kHeader: {
      Gather(kSnapshotHeaderSize, data);
      if (pending_.size() < kSnapshotHeaderSize) return Status::Ok();
      Status s = DecodeStreamHeader(pending_, &header_);
      if (!s.ok()) return s;
      pending_.clear();
      const uint64_t minimum =
          kSnapshotHeaderSize +
          uint64_t{header_.fileCount} * (kFileEntryFixedSize + 1 + kFileTrailerSize);
      if (header_.fileCount == 0 || header_.streamBytes < minimum) {
        return Status::Corruption("snapshot stream header announces " +
                                  std::to_string(header_.fileCount) + " files in " +
                                  std::to_string(header_.streamBytes) + " bytes");
      }
      if (received_ > header_.streamBytes) {
        return Status::Corruption("snapshot stream is longer than the " +
                                  std::to_string(header_.streamBytes) +
                                  " bytes its header announces");
      }
      state_ = State::kFileEntry;
      return Status::Ok();
    }
    case State::kFileEntry: {
      // Two bytes give the name's length, and with it the entry's.
      Gather(2, data);
      if (pending_.size() < 2) return Status::Ok();
      const size_t nameLength =
          static_cast<uint8_t>(pending_[0]) | (static_cast<uint8_t>(pending_[1]) << 8);
      Gather(kFileEntryFixedSize + std::max<size_t>(nameLength, 1), data);
      std::string name;
      uint64_t size = 0;
      size_t entryBytes = 0;
      Status s = DecodeFileEntry(pending_, &name, &size, &entryBytes);
      if (!s.ok() || entryBytes == 0) return s;
      pending_.clear();
      return StartFile(name, size);
    }
    case State::kFileData: {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data->size()));
      size_t done = 0;
      while (done < n) {
        const ssize_t w = ::write(fd_, data->data() + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return Status::IOError(ErrnoMessage("cannot write " + path_));
        done += static_cast<size_t>(w);
      }
      crc_.Extend(data->data(), n);
      data->remove_prefix(n);
      remaining_ -= n;
      if (remaining_ == 0) state_ = State::kFileTrailer;
      return Status::Ok();
    }
    case State::kFileTrailer: {
      Gather(kFileTrailerSize, data);
      if (pending_.size() < kFileTrailerSize) return Status::Ok();
      return EndFile();
    }
    case State::kDone:
      break;
  }
  return Status::Corruption("snapshot stream has bytes after its last file");
}

Status SnapshotWriter::StartFile(const std::string& name, uint64_t size) {
  // A size past the stream's end is damage; one that is merely too large
  // shows when the stream ends first (Append refuses bytes past the end).
  if (size > header_.streamBytes) {
    return Status::Corruption("snapshot file " + name + " announces " + std::to_string(size) +
                              " bytes, more than the whole stream");
  }
  path_ = dir_ + "/" + name;
  // O_EXCL: a name sent twice is damage, not a reason to overwrite.
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) return Status::IOError(ErrnoMessage("cannot create snapshot file " + path_));
  VLOG(2) << "receiving snapshot file " << path_ << " (" << size << " bytes)";
  remaining_ = size;
  crc_ = Crc32cAccumulator();
  state_ = size == 0 ? State::kFileTrailer : State::kFileData;
  return Status::Ok();
}

Status SnapshotWriter::EndFile() {
  ByteReader r(pending_);
  uint32_t expected = 0;
  r.Fixed32LE(&expected);
  pending_.clear();
  if (expected != crc_.Value()) {
    return Status::Corruption("snapshot file " + path_ + " fails its CRC32C: damaged in transit");
  }
  if (::fsync(fd_) != 0) return Status::IOError(ErrnoMessage("cannot fsync " + path_));
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return Status::IOError(ErrnoMessage("cannot close " + path_));
  if (++filesDone_ < header_.fileCount) {
    state_ = State::kFileEntry;
    return Status::Ok();
  }
  if (received_ != header_.streamBytes) {
    return Status::Corruption("snapshot stream's files end at byte " + std::to_string(received_) +
                              ", but its header announces " + std::to_string(header_.streamBytes));
  }
  state_ = State::kDone;
  return Status::Ok();
}

Status SnapshotWriter::Finish() {
  if (!failed_.ok()) return failed_;
  if (!Complete()) {
    return Status::InvalidArgument("snapshot stream ended at byte " + std::to_string(received_) +
                                   " of " + std::to_string(header_.streamBytes) +
                                   ": it is incomplete");
  }
  return SyncDirectory(dir_);
}

}  // namespace kvraft::statemachine
