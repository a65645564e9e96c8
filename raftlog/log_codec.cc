#include "raftlog/log_codec.h"

#include <boost/crc.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <initializer_list>

namespace kvraft::raft {
namespace {

// CRC-32C, the polynomial of iSCSI, ext4 and RocksDB's own block checksums;
// reflected in and out with an all-ones init and final xor, as specified.
using Crc32cEngine = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

uint32_t CrcOf(std::initializer_list<std::string_view> parts) {
  Crc32cEngine crc;
  for (std::string_view p : parts) crc.process_bytes(p.data(), p.size());
  return crc.checksum();
}

void PutLE(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetLE(std::string_view in, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(in[pos + i])) << (8 * i);
  }
  return v;
}

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

// Splits `value` into body and trailing crc and checks the crc, computed
// over `prefix` (may be empty) then the body. `what()` names the record in
// a failure message (built only then: this runs on every read).
template <typename What>
Status CheckTrailingCrc(What what, std::string_view prefix, std::string_view value,
                        size_t minBody, std::string_view* body) {
  if (value.size() < minBody + 4) {
    return Status::Corruption(what() + " is " + std::to_string(value.size()) +
                              " bytes, shorter than its fixed fields");
  }
  *body = value.substr(0, value.size() - 4);
  const uint32_t stored = static_cast<uint32_t>(GetLE(value, value.size() - 4, 4));
  const uint32_t computed = CrcOf({prefix, *body});
  if (stored != computed) {
    return Status::Corruption(what() + " fails its checksum (stored CRC32C " + Hex(stored) +
                              ", computed " + Hex(computed) + ")");
  }
  return Status::Ok();
}

template <size_t N>
auto Named(const char (&name)[N]) {
  return [&name] { return std::string(name); };
}

void AppendCrc(std::string_view prefix, std::string* out, size_t bodyStart = 0) {
  std::string_view body(out->data() + bodyStart, out->size() - bodyStart);
  PutLE(out, CrcOf({prefix, body}), 4);
}

}  // namespace

uint32_t Crc32c(std::string_view bytes) { return CrcOf({bytes}); }

std::string EncodeLogKey(uint64_t index) {
  std::string key(kLogKeySize, '\0');
  for (size_t i = 0; i < kLogKeySize; ++i) {
    key[kLogKeySize - 1 - i] = static_cast<char>((index >> (8 * i)) & 0xff);
  }
  return key;
}

bool DecodeLogKey(std::string_view key, uint64_t* index) {
  if (key.size() != kLogKeySize) return false;
  uint64_t v = 0;
  for (char c : key) v = (v << 8) | static_cast<uint8_t>(c);
  *index = v;
  return true;
}

namespace {

// What an entry's CRC covers before its payload: key, term and type.
constexpr size_t kEntryCrcHeaderSize = kLogKeySize + 8 + 1;

void EntryCrcHeader(const Entry& e, unsigned char out[kEntryCrcHeaderSize]) {
  for (size_t i = 0; i < kLogKeySize; ++i) out[i] = (e.index >> (8 * (kLogKeySize - 1 - i))) & 0xff;
  for (size_t i = 0; i < 8; ++i) out[kLogKeySize + i] = (e.term >> (8 * i)) & 0xff;
  out[kLogKeySize + 8] = static_cast<unsigned char>(e.type);
}

}  // namespace

uint32_t EntryChecksum(const Entry& entry) {
  unsigned char header[kEntryCrcHeaderSize];
  EntryCrcHeader(entry, header);
  Crc32cEngine crc;
  crc.process_bytes(header, sizeof(header));
  crc.process_bytes(entry.data.data(), entry.data.size());
  return crc.checksum();
}

// flatten: GCC otherwise calls Boost's crc_update out of line for every
// byte, which serialises the lanes again.
__attribute__((flatten)) void EntryChecksums(const std::vector<Entry>& entries,
                                             std::vector<uint32_t>* crcs) {
  // Boost.CRC's byte-wise table CRC is bound by the latency of one table
  // lookup per byte (~2 ns/byte here) while the CPU could do several at
  // once: running kLanes independent CRCs in lockstep overlaps them. For
  // 256 entries of 256 bytes: ~130 us one at a time, ~49 us in 8 lanes
  // (4 lanes: 73 us; 16: 42 us). It is the store's largest cost on top of
  // raw RocksDB (bench/log_store_bench.cc).
  constexpr size_t kLanes = 8;
  crcs->resize(entries.size());
  size_t k = 0;
  for (; k + kLanes <= entries.size(); k += kLanes) {
    Crc32cEngine crc[kLanes];
    unsigned char header[kLanes][kEntryCrcHeaderSize];
    const unsigned char* data[kLanes];
    size_t common = SIZE_MAX;
    for (size_t j = 0; j < kLanes; ++j) {
      const Entry& e = entries[k + j];
      EntryCrcHeader(e, header[j]);
      data[j] = reinterpret_cast<const unsigned char*>(e.data.data());
      common = std::min(common, e.data.size());
    }
    for (size_t i = 0; i < kEntryCrcHeaderSize; ++i) {
      for (size_t j = 0; j < kLanes; ++j) crc[j](header[j][i]);
    }
    for (size_t i = 0; i < common; ++i) {
      for (size_t j = 0; j < kLanes; ++j) crc[j](data[j][i]);
    }
    for (size_t j = 0; j < kLanes; ++j) {
      crc[j].process_bytes(data[j] + common, entries[k + j].data.size() - common);
      (*crcs)[k + j] = crc[j].checksum();
    }
  }
  for (; k < entries.size(); ++k) (*crcs)[k] = EntryChecksum(entries[k]);
}

void EncodeEntryValue(const Entry& entry, uint32_t crc, std::string* out) {
  out->clear();
  out->reserve(EntryValueSize(entry.data.size()));
  PutLE(out, entry.term, 8);
  out->push_back(static_cast<char>(entry.type));
  out->append(entry.data);
  PutLE(out, crc, 4);
}

void EncodeEntryValue(const Entry& entry, std::string* out) {
  EncodeEntryValue(entry, EntryChecksum(entry), out);
}

Status DecodeEntryValue(uint64_t index, std::string_view value, Entry* entry) {
  std::string_view body;
  Status s = CheckTrailingCrc([index] { return "entry " + std::to_string(index); },
                              EncodeLogKey(index), value, 8 + 1, &body);
  if (!s.ok()) return s;
  const uint8_t type = static_cast<uint8_t>(body[8]);
  if (type != static_cast<uint8_t>(EntryType::kNormal) &&
      type != static_cast<uint8_t>(EntryType::kNoop)) {
    return Status::Corruption("entry " + std::to_string(index) + " has unknown type " +
                              std::to_string(type));
  }
  entry->index = index;
  entry->term = GetLE(body, 0, 8);
  entry->type = static_cast<EntryType>(type);
  entry->data.assign(body.substr(9));
  return Status::Ok();
}

std::string EncodeHardState(const HardState& hs) {
  std::string out;
  PutLE(&out, hs.currentTerm, 8);
  PutLE(&out, hs.votedFor, 8);
  PutLE(&out, hs.commitIndex, 8);
  AppendCrc({}, &out);
  return out;
}

Status DecodeHardState(std::string_view value, HardState* hs) {
  std::string_view body;
  Status s = CheckTrailingCrc(Named("hard state"), {}, value, 24, &body);
  if (!s.ok()) return s;
  if (body.size() != 24) return Status::Corruption("hard state has " + std::to_string(body.size()) + " bytes, not 24");
  hs->currentTerm = GetLE(body, 0, 8);
  hs->votedFor = GetLE(body, 8, 8);
  hs->commitIndex = GetLE(body, 16, 8);
  return Status::Ok();
}

std::string EncodeSnapshotMeta(const SnapshotMeta& meta) {
  std::string out;
  PutLE(&out, meta.lastIncludedIndex, 8);
  PutLE(&out, meta.lastIncludedTerm, 8);
  PutLE(&out, meta.voters.size(), 4);
  for (NodeId v : meta.voters) PutLE(&out, v, 8);
  AppendCrc({}, &out);
  return out;
}

Status DecodeSnapshotMeta(std::string_view value, SnapshotMeta* meta) {
  std::string_view body;
  Status s = CheckTrailingCrc(Named("snapshot meta"), {}, value, 20, &body);
  if (!s.ok()) return s;
  const uint64_t count = GetLE(body, 16, 4);
  if (body.size() != 20 + 8 * count) {
    return Status::Corruption("snapshot meta has " + std::to_string(body.size()) +
                              " bytes for " + std::to_string(count) + " voters");
  }
  meta->lastIncludedIndex = GetLE(body, 0, 8);
  meta->lastIncludedTerm = GetLE(body, 8, 8);
  meta->voters.clear();
  for (uint64_t i = 0; i < count; ++i) meta->voters.push_back(GetLE(body, 20 + 8 * i, 8));
  return Status::Ok();
}

std::string EncodeIdentity(const StoreIdentity& id) {
  std::string out;
  PutLE(&out, id.formatVersion, 4);
  PutLE(&out, id.nodeId, 8);
  PutLE(&out, id.clusterId.size(), 4);
  out.append(id.clusterId);
  AppendCrc({}, &out);
  return out;
}

Status DecodeIdentityVersion(std::string_view value, uint32_t* formatVersion) {
  if (value.size() < 4) return Status::Corruption("identity record is shorter than its version field");
  *formatVersion = static_cast<uint32_t>(GetLE(value, 0, 4));
  return Status::Ok();
}

Status DecodeIdentity(std::string_view value, StoreIdentity* id) {
  std::string_view body;
  Status s = CheckTrailingCrc(Named("identity record"), {}, value, 16, &body);
  if (!s.ok()) return s;
  const uint64_t len = GetLE(body, 12, 4);
  if (body.size() != 16 + len) {
    return Status::Corruption("identity record has " + std::to_string(body.size()) +
                              " bytes for a cluster id of " + std::to_string(len));
  }
  id->formatVersion = static_cast<uint32_t>(GetLE(body, 0, 4));
  id->nodeId = GetLE(body, 4, 8);
  id->clusterId.assign(body.substr(16));
  return Status::Ok();
}

}  // namespace kvraft::raft
