#include "statemachine/snapshot_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "statemachine/byte_io.h"
#include "statemachine/file_util.h"

namespace kvraft::statemachine {

namespace fs = std::filesystem;

Status SnapshotReader::Open(const SnapshotInfo& info, std::unique_ptr<SnapshotReader>* out) {
  std::vector<std::string> names;
  Status s = ListDirectory(info.dir, &names);
  if (!s.ok()) return s;
  std::unique_ptr<SnapshotReader> r(new SnapshotReader(info));
  uint64_t offset = kSnapshotHeaderSize;
  for (const std::string& name : names) {
    const std::string path = info.dir + "/" + name;
    std::error_code ec;
    const fs::file_status st = fs::symlink_status(path, ec);
    if (ec || !fs::is_regular_file(st)) {
      return Status::InvalidArgument("snapshot " + info.dir + " holds " + name +
                                     ", which is not a regular file: pass a checkpoint directory");
    }
    if (!IsPlainFileName(name)) {
      return Status::InvalidArgument("snapshot " + info.dir + " holds a file named '" + name +
                                     "', which the stream format cannot carry");
    }
    File f;
    f.path = path;
    f.size = fs::file_size(path, ec);
    if (ec) return Status::IOError("cannot stat " + path + ": " + ec.message());
    f.entry = EncodeFileEntry(name, f.size);
    f.entryOffset = offset;
    offset = f.EndOffset();
    r->files_.push_back(std::move(f));
  }
  if (r->files_.empty())
    return Status::InvalidArgument("snapshot directory " + info.dir + " is empty");
  r->streamBytes_ = offset;
  SnapshotStreamHeader header;
  header.appliedIndex = info.appliedIndex;
  header.appliedTerm = info.appliedTerm;
  header.fileCount = static_cast<uint32_t>(r->files_.size());
  header.streamBytes = offset;
  r->header_ = EncodeStreamHeader(header);
  *out = std::move(r);
  return Status::Ok();
}

SnapshotReader::~SnapshotReader() {
  for (File& f : files_) {
    if (f.fd >= 0) ::close(f.fd);
  }
}

Status SnapshotReader::ReadFileBytes(File& f, uint64_t fileOffset, uint64_t n, std::string* out) {
  if (f.fd < 0) {
    f.fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) return Status::IOError(ErrnoMessage("cannot open snapshot file " + f.path));
  }
  const size_t start = out->size();
  out->resize(start + n);
  uint64_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(f.fd, out->data() + start + done, n - done, fileOffset + done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Status::IOError(ErrnoMessage("cannot read snapshot file " + f.path));
    if (got == 0) {
      return Status::Corruption("snapshot file " + f.path + " is shorter than the " +
                                std::to_string(f.size) +
                                " bytes it had when the snapshot was opened");
    }
    done += static_cast<uint64_t>(got);
  }
  if (fileOffset == f.crcThrough) {
    f.crc.Extend(out->data() + start, n);
    f.crcThrough += n;
  }
  return Status::Ok();
}

Status SnapshotReader::FileCrc(File& f, uint32_t* crc) {
  constexpr uint64_t kBlock = 1 << 20;
  std::string scratch;
  while (f.crcThrough < f.size) {
    scratch.clear();
    Status s = ReadFileBytes(f, f.crcThrough, std::min(kBlock, f.size - f.crcThrough), &scratch);
    if (!s.ok()) return s;
  }
  *crc = f.crc.Value();
  return Status::Ok();
}

Status SnapshotReader::Read(uint64_t offset, uint64_t maxBytes, std::string* data, bool* last) {
  data->clear();
  if (maxBytes == 0) return Status::InvalidArgument("snapshot read of 0 bytes");
  if (offset > streamBytes_) {
    return Status::InvalidArgument("snapshot read at offset " + std::to_string(offset) +
                                   " past the end of the " + std::to_string(streamBytes_) +
                                   "-byte stream");
  }
  const uint64_t end = std::min(streamBytes_, offset + std::min(maxBytes, streamBytes_));
  data->reserve(end - offset);
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t pos = offset;
  while (pos < end) {
    if (pos < kSnapshotHeaderSize) {
      const uint64_t n = std::min<uint64_t>(end, kSnapshotHeaderSize) - pos;
      data->append(header_, pos, n);
      pos += n;
      continue;
    }
    // The file whose entry, bytes or trailer hold `pos`.
    auto next = std::upper_bound(files_.begin(), files_.end(), pos,
                                 [](uint64_t p, const File& f) { return p < f.entryOffset; });
    File& f = *(next - 1);
    if (pos < f.DataOffset()) {
      const uint64_t n = std::min(end, f.DataOffset()) - pos;
      data->append(f.entry, pos - f.entryOffset, n);
      pos += n;
    } else if (pos < f.TrailerOffset()) {
      const uint64_t n = std::min(end, f.TrailerOffset()) - pos;
      Status s = ReadFileBytes(f, pos - f.DataOffset(), n, data);
      if (!s.ok()) return s;
      pos += n;
    } else {
      uint32_t crc = 0;
      Status s = FileCrc(f, &crc);
      if (!s.ok()) return s;
      std::string trailer;
      ByteWriter(&trailer).Fixed32LE(crc);
      const uint64_t n = std::min(end, f.EndOffset()) - pos;
      data->append(trailer, pos - f.TrailerOffset(), n);
      pos += n;
    }
  }
  *last = end == streamBytes_;
  return Status::Ok();
}

}  // namespace kvraft::statemachine
