#include "bench/zipfian.h"

#include <algorithm>
#include <cmath>

#include <glog/logging.h>

#include "bench/random.h"

namespace kvraft::bench {

double ZipfianGenerator::Zeta(uint64_t n, double theta) {
  // Smallest terms first, so that the large ones do not swamp them.
  double sum = 0;
  for (uint64_t i = n; i >= 1; --i) sum += 1.0 / std::pow(static_cast<double>(i), theta);
  return sum;
}

ZipfianGenerator::ZipfianGenerator(uint64_t n, double theta)
    : n_(n), theta_(theta), zetaN_(Zeta(n, theta)), alpha_(1.0 / (1.0 - theta)), eta_(0),
      halfPowTheta_(std::pow(0.5, theta)) {
  CHECK_GE(n, 1u);
  CHECK(theta > 0 && theta < 1) << "zipfian theta " << theta << " outside (0, 1)";
  // With n <= 2, Rank returns 0 or 1 before it would use eta (and eta's
  // formula is 0/0 at n = 2).
  if (n > 2) {
    const double zeta2 = 1.0 + halfPowTheta_;
    eta_ = (1.0 - std::pow(2.0 / static_cast<double>(n), 1.0 - theta)) / (1.0 - zeta2 / zetaN_);
  }
}

uint64_t ZipfianGenerator::Rank(double u) const {
  const double uz = u * zetaN_;
  if (uz < 1.0 || n_ == 1) return 0;
  if (uz < 1.0 + halfPowTheta_ || n_ == 2) return 1;
  const auto rank =
      static_cast<uint64_t>(static_cast<double>(n_) * std::pow(eta_ * u - eta_ + 1.0, alpha_));
  return std::min(rank, n_ - 1);
}

double ZipfianGenerator::Probability(uint64_t rank) const {
  return 1.0 / std::pow(static_cast<double>(rank + 1), theta_) / zetaN_;
}

KeyPermutation::KeyPermutation(uint64_t n, uint64_t key) : n_(n) {
  int bits = 0;
  while (bits < 64 && (uint64_t{1} << bits) < n) ++bits;
  halfBits_ = std::max(1, (bits + 1) / 2);
  halfMask_ = (uint64_t{1} << halfBits_) - 1;
  for (size_t r = 0; r < roundKeys_.size(); ++r) roundKeys_[r] = Mix64(key + r);
}

uint64_t KeyPermutation::Round(uint64_t x) const {
  uint64_t left = x >> halfBits_;
  uint64_t right = x & halfMask_;
  for (uint64_t k : roundKeys_) {
    const uint64_t next = left ^ (Mix64(right ^ k) & halfMask_);
    left = right;
    right = next;
  }
  return (left << halfBits_) | right;
}

uint64_t KeyPermutation::operator()(uint64_t x) const {
  if (n_ <= 1) return 0;
  // Each Feistel round is a bijection of the 2^(2*halfBits) domain, so
  // following the cycle from x reaches a value below n before returning to x.
  do {
    x = Round(x);
  } while (x >= n_);
  return x;
}

}  // namespace kvraft::bench
