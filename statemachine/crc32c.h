#pragma once
// CRC-32C (Castagnoli) for the snapshot stream: the checksum of iSCSI, ext4
// and RocksDB's own blocks, computed with Boost.CRC (kept out of this header
// so that users of the library do not need Boost).
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kvraft::statemachine {

uint32_t Crc32c(std::string_view bytes);

// A CRC over bytes that arrive in pieces (a file read or received chunk by
// chunk). Extend() may be called any number of times; Value() is the CRC of
// everything so far and does not end the computation.
class Crc32cAccumulator {
 public:
  void Extend(const void* data, size_t n);
  void Extend(std::string_view bytes) { Extend(bytes.data(), bytes.size()); }
  uint32_t Value() const;

 private:
  uint32_t remainder_ = 0xFFFFFFFF;  // Boost's interim remainder; all ones at start
};

}  // namespace kvraft::statemachine
