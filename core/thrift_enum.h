#pragma once
// Thrift's C++ code stores whatever integer arrived in an enum field, and
// loading an enum outside its declared values is undefined behaviour: read
// such fields from the wire as their bits.
#include <cstdint>
#include <cstring>

namespace kvraft::core {

template <typename Enum>
int32_t RawEnum(const Enum& e) {
  static_assert(sizeof(Enum) == sizeof(int32_t));
  int32_t raw;
  std::memcpy(&raw, &e, sizeof raw);
  return raw;
}

// Stores `raw` into an enum field without naming an out-of-range value.
template <typename Enum>
void SetRawEnum(Enum* e, int32_t raw) {
  static_assert(sizeof(Enum) == sizeof(int32_t));
  std::memcpy(e, &raw, sizeof raw);
}

}  // namespace kvraft::core
