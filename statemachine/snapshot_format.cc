#include "statemachine/snapshot_format.h"

#include "statemachine/byte_io.h"
#include "statemachine/crc32c.h"

namespace kvraft::statemachine {
namespace {

constexpr std::string_view kMagic("kvsnap\r\n", 8);

}  // namespace

std::string EncodeStreamHeader(const SnapshotStreamHeader& h) {
  std::string out;
  ByteWriter w(&out);
  w.Raw(kMagic);
  w.Fixed32LE(kSnapshotFormatVersion);
  w.Fixed64LE(h.appliedIndex);
  w.Fixed64LE(h.appliedTerm);
  w.Fixed32LE(h.fileCount);
  w.Fixed64LE(h.streamBytes);
  w.Fixed32LE(Crc32c(out));
  return out;
}

Status DecodeStreamHeader(std::string_view bytes, SnapshotStreamHeader* header) {
  if (bytes.size() != kSnapshotHeaderSize) {
    return Status::InvalidArgument("snapshot stream header is " + std::to_string(bytes.size()) +
                                   " bytes, not " + std::to_string(kSnapshotHeaderSize));
  }
  ByteReader r(bytes);
  std::string_view magic;
  uint32_t version = 0, crc = 0;
  SnapshotStreamHeader h;
  r.Raw(kMagic.size(), &magic);
  if (magic != kMagic)
    return Status::InvalidArgument("the data is not a kvraft snapshot stream (bad magic)");
  r.Fixed32LE(&version);
  if (version != kSnapshotFormatVersion) {
    return Status::InvalidArgument("snapshot stream format version " + std::to_string(version) +
                                   " is not supported (this build reads version " +
                                   std::to_string(kSnapshotFormatVersion) + "): upgrade this node");
  }
  r.Fixed64LE(&h.appliedIndex);
  r.Fixed64LE(&h.appliedTerm);
  r.Fixed32LE(&h.fileCount);
  r.Fixed64LE(&h.streamBytes);
  r.Fixed32LE(&crc);
  if (crc != Crc32c(bytes.substr(0, kSnapshotHeaderSize - 4))) {
    return Status::Corruption("snapshot stream header fails its CRC32C");
  }
  *header = h;
  return Status::Ok();
}

std::string EncodeFileEntry(std::string_view name, uint64_t size) {
  std::string out;
  ByteWriter w(&out);
  w.Fixed16LE(static_cast<uint16_t>(name.size()));
  w.Raw(name);
  w.Fixed64LE(size);
  w.Fixed32LE(Crc32c(out));
  return out;
}

Status DecodeFileEntry(std::string_view bytes, std::string* name, uint64_t* size,
                       size_t* entryBytes) {
  *entryBytes = 0;
  ByteReader r(bytes);
  uint16_t nameLength = 0;
  if (!r.Fixed16LE(&nameLength)) return Status::Ok();
  if (nameLength == 0 || nameLength > kMaxSnapshotFileName) {
    return Status::Corruption("snapshot file entry has a name of " + std::to_string(nameLength) +
                              " bytes");
  }
  const size_t total = kFileEntryFixedSize + nameLength;
  if (bytes.size() < total) return Status::Ok();
  std::string_view n;
  uint32_t crc = 0;
  r.Raw(nameLength, &n);
  r.Fixed64LE(size);
  r.Fixed32LE(&crc);
  if (crc != Crc32c(bytes.substr(0, total - 4))) {
    return Status::Corruption("snapshot file entry fails its CRC32C");
  }
  if (!IsPlainFileName(n)) {
    return Status::Corruption("snapshot file entry names '" + std::string(n) +
                              "', which is not a plain file name");
  }
  name->assign(n);
  *entryBytes = total;
  return Status::Ok();
}

bool IsPlainFileName(std::string_view name) {
  if (name.empty() || name.size() > kMaxSnapshotFileName || name == "." || name == "..")
    return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace kvraft::statemachine
