#pragma once
// Zipfian key popularity, by the algorithm of Gray et al., "Quickly
// Generating Billion-Record Synthetic Databases" (SIGMOD 1994), as YCSB's
// ZipfianGenerator implements it: rank i in [0, n) is drawn with
// probability (1 / (i+1)^theta) / zeta(n, theta), using one uniform number
// per draw after an O(n) precomputation of zeta(n, theta).
//
// Ranks are popularity, not keys: rank 0 is the hottest. KeyPermutation
// spreads them over the key space so that the hot keys are not all
// neighbours (which would put them in one RocksDB block, and make ranges
// starting at hot keys overlap).
#include <array>
#include <cstdint>

namespace kvraft::bench {

class ZipfianGenerator {
 public:
  // n >= 1 items; 0 < theta < 1 (the algorithm's closed form divides by
  // 1 - theta). YCSB's default theta is 0.99. Takes O(n) time: about
  // 10 ms per million items.
  ZipfianGenerator(uint64_t n, double theta);

  // The rank for `u`, a uniform number in [0, 1).
  uint64_t Rank(double u) const;

  // P(rank), exactly as the distribution defines it.
  double Probability(uint64_t rank) const;

  uint64_t n() const { return n_; }
  double theta() const { return theta_; }
  double zetaN() const { return zetaN_; }

  // zeta(n, theta) = sum over i = 1..n of 1 / i^theta.
  static double Zeta(uint64_t n, double theta);

 private:
  uint64_t n_;
  double theta_;
  double zetaN_;
  double alpha_;     // 1 / (1 - theta)
  double eta_;       // (1 - (2/n)^(1-theta)) / (1 - zeta(2)/zeta(n))
  double halfPowTheta_;  // 0.5^theta: rank 1's share of the mass, relative to rank 0's
};

// A fixed pseudo-random permutation of [0, n): a 4-round Feistel network
// over the smallest even number of bits that holds n, walking the cycle
// until it lands below n. YCSB instead hashes the rank and takes it modulo
// n, which sends several ranks to one key and leaves about a third of the
// keys unused; a permutation keeps every key's probability exactly that of
// its rank.
class KeyPermutation {
 public:
  KeyPermutation(uint64_t n, uint64_t key);
  uint64_t operator()(uint64_t x) const;  // x < n

 private:
  uint64_t Round(uint64_t x) const;

  uint64_t n_;
  int halfBits_;
  uint64_t halfMask_;
  std::array<uint64_t, 4> roundKeys_;
};

}  // namespace kvraft::bench
