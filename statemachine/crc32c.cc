#include "statemachine/crc32c.h"

#include <boost/crc.hpp>

namespace kvraft::statemachine {
namespace {

// Polynomial 0x1EDC6F41, reflected in and out, all-ones initial value and
// final xor: CRC-32C as specified (RFC 3720), e.g. "123456789" -> 0xE3069283.
using Crc32cEngine = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

}  // namespace

uint32_t Crc32c(std::string_view bytes) {
  Crc32cEngine crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

void Crc32cAccumulator::Extend(const void* data, size_t n) {
  Crc32cEngine crc(remainder_);
  crc.process_bytes(data, n);
  remainder_ = crc.get_interim_remainder();
}

uint32_t Crc32cAccumulator::Value() const { return Crc32cEngine(remainder_).checksum(); }

}  // namespace kvraft::statemachine
