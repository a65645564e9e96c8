#pragma once
// Small, exactly specified random helpers. The standard distributions'
// algorithms differ between library versions; these do not, so a seed
// gives the same keys and operations wherever kvbench is built.
#include <cstdint>
#include <random>

namespace kvraft::bench {

// Every client thread draws from its own generator, seeded from --seed and
// the client's number.
using Rng = std::mt19937_64;

// Uniform in [0, n) for n > 0, by Lemire's multiply-and-shift: no division,
// and a bias of at most n / 2^64, far below anything a benchmark resolves.
inline uint64_t Bounded(uint64_t random, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(random) * n) >> 64);
}

// Uniform in [0, 1) from the top 53 bits.
inline double UnitInterval(uint64_t random) {
  return static_cast<double>(random >> 11) * 0x1.0p-53;
}

// SplitMix64's finalizer: a bijection of 64-bit values that mixes every
// input bit into every output bit.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace kvraft::bench
