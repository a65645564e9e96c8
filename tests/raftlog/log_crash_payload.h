#pragma once
// What the crash test's child writes and the parent checks: entry bytes as
// a function of their coordinates, so that the parent can
// regenerate exactly what the child was told to make durable.
#include <cstdint>
#include <string>

namespace kvraft::raft::crash_test {

inline std::string Payload(uint64_t seed, uint64_t index, uint64_t term) {
  uint64_t x = seed ^ (index * 0x9E3779B97F4A7C15ull) ^ (term * 0xC2B2AE3D27D4EB4Full);
  auto next = [&x] {
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 29;
    return x;
  };
  std::string data(next() % 700, '\0');
  for (char& c : data) c = static_cast<char>(next());
  return data;
}

}  // namespace kvraft::raft::crash_test
