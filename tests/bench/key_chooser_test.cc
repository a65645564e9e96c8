// The key choosers: every key in range, zipfian popularity as the formula
// says (the top key's frequency against 1/zeta(n)), the same keys for the
// same seed, sequential keys in order across clients, and "latest" keys
// following the inserts.
#include "bench/key_chooser.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "bench/zipfian.h"

namespace kvraft::bench {
namespace {

std::vector<uint64_t> Draw(const KeySpace& space, uint64_t seed, int n, int client = 0,
                           int clients = 1) {
  KeyChooser chooser(space, client, clients);
  Rng rng(seed);
  std::vector<uint64_t> keys;
  for (int i = 0; i < n; ++i) keys.push_back(chooser.Next(rng));
  return keys;
}

std::vector<uint64_t> Frequencies(const std::vector<uint64_t>& keys, uint64_t count) {
  std::vector<uint64_t> f(count, 0);
  for (uint64_t k : keys) ++f[k];
  return f;
}

TEST(KvbenchKeys, UniformKeysCoverTheSpaceEvenly) {
  constexpr uint64_t kCount = 100;
  KeySpace space(KeyOrder::kUniform, kCount, 0.99, kCount);
  const std::vector<uint64_t> keys = Draw(space, 1, 100000);
  const std::vector<uint64_t> f = Frequencies(keys, kCount);
  // 1,000 expected per key; the standard deviation is about 31.
  for (uint64_t k = 0; k < kCount; ++k) {
    EXPECT_GT(f[k], 850u) << "key " << k;
    EXPECT_LT(f[k], 1150u) << "key " << k;
  }
}

TEST(KvbenchKeys, SequentialClientsTogetherWalkTheKeysInOrder) {
  KeySpace space(KeyOrder::kSequential, 10, 0.99, 10);
  // Three clients, each taking every third key, wrapping at the end.
  EXPECT_EQ(Draw(space, 1, 4, /*client=*/0, /*clients=*/3), (std::vector<uint64_t>{0, 3, 6, 9}));
  EXPECT_EQ(Draw(space, 1, 4, 1, 3), (std::vector<uint64_t>{1, 4, 7, 0}));
  EXPECT_EQ(Draw(space, 1, 4, 2, 3), (std::vector<uint64_t>{2, 5, 8, 1}));
  EXPECT_EQ(Draw(space, 1, 12), (std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1}));
}

TEST(KvbenchZipfian, ZetaIsTheSumItNames) {
  EXPECT_DOUBLE_EQ(ZipfianGenerator::Zeta(1, 0.99), 1.0);
  EXPECT_NEAR(ZipfianGenerator::Zeta(3, 0.5), 1 + 1 / std::sqrt(2.0) + 1 / std::sqrt(3.0), 1e-12);
}

TEST(KvbenchZipfian, RanksStayInRangeAtTheEdgesOfTheUnitInterval) {
  for (uint64_t n : {1u, 2u, 3u, 1000u}) {
    ZipfianGenerator z(n, 0.99);
    for (double u : {0.0, 1e-12, 0.5, 0.999999, std::nextafter(1.0, 0.0)}) {
      EXPECT_LT(z.Rank(u), n) << "n=" << n << " u=" << u;
    }
  }
}

TEST(KvbenchZipfian, RankFrequenciesMatchTheDistribution) {
  constexpr uint64_t kCount = 1000;
  constexpr int kDraws = 400000;
  for (double theta : {0.5, 0.99}) {
    ZipfianGenerator z(kCount, theta);
    Rng rng(7);
    std::vector<uint64_t> f(kCount, 0);
    for (int i = 0; i < kDraws; ++i) ++f[z.Rank(UnitInterval(rng()))];
    // Ranks 0 and 1 are exact in Gray's algorithm: within 3% of theory
    // (several standard deviations at this many draws).
    for (uint64_t rank : {0u, 1u}) {
      const double expected = z.Probability(rank);
      EXPECT_NEAR(static_cast<double>(f[rank]) / kDraws, expected, expected * 0.03)
          << "theta " << theta << " rank " << rank;
    }
    // Popularity falls with rank.
    EXPECT_GT(f[0], f[1]);
    EXPECT_GT(f[1], f[10]);
    EXPECT_GT(f[10], f[500]);
  }
}

TEST(KvbenchZipfian, TheHottestKeyHasTheTopRanksFrequencyAndIsSpreadOut) {
  constexpr uint64_t kCount = 1000;
  constexpr int kDraws = 400000;
  KeySpace space(KeyOrder::kZipfian, kCount, 0.99, kCount);
  const std::vector<uint64_t> f = Frequencies(Draw(space, 3, kDraws), kCount);
  const auto hottest = std::max_element(f.begin(), f.end());
  const double expected = 1.0 / ZipfianGenerator::Zeta(kCount, 0.99);  // ~0.134
  EXPECT_NEAR(static_cast<double>(*hottest) / kDraws, expected, expected * 0.03);
  // Scrambled: the hottest key is rank 0's place in the permutation, not
  // key 0, and the ten hottest keys are not neighbours.
  const uint64_t hotKey = static_cast<uint64_t>(hottest - f.begin());
  EXPECT_EQ(hotKey, space.permutation()(0));
  std::vector<uint64_t> byHeat(kCount);
  for (uint64_t k = 0; k < kCount; ++k) byHeat[k] = k;
  std::sort(byHeat.begin(), byHeat.end(), [&](uint64_t a, uint64_t b) { return f[a] > f[b]; });
  std::vector<uint64_t> top(byHeat.begin(), byHeat.begin() + 10);
  std::sort(top.begin(), top.end());
  EXPECT_GT(top.back() - top.front(), 100u) << "the hot keys are bunched together";
}

TEST(KvbenchZipfian, TheSameSeedDrawsTheSameKeys) {
  KeySpace space(KeyOrder::kZipfian, 100000, 0.99, 100000);
  EXPECT_EQ(Draw(space, 42, 1000), Draw(space, 42, 1000));
  EXPECT_NE(Draw(space, 42, 1000), Draw(space, 43, 1000));
  // A fresh key space (same size and theta) gives the same keys too: the
  // permutation is fixed, not random.
  KeySpace again(KeyOrder::kZipfian, 100000, 0.99, 100000);
  EXPECT_EQ(Draw(space, 42, 1000), Draw(again, 42, 1000));
}

TEST(KvbenchZipfian, ThePermutationIsABijection) {
  for (uint64_t n : {1u, 2u, 7u, 1000u, 4096u, 5000u}) {
    KeyPermutation p(n, 99);
    std::set<uint64_t> seen;
    for (uint64_t x = 0; x < n; ++x) {
      const uint64_t y = p(x);
      EXPECT_LT(y, n);
      seen.insert(y);
    }
    EXPECT_EQ(seen.size(), n) << "n=" << n;
  }
}

TEST(KvbenchKeys, LatestKeysFollowTheInserts) {
  constexpr uint64_t kLoaded = 100;
  KeySpace space(KeyOrder::kLatest, kLoaded, 0.99, kLoaded);
  std::vector<uint64_t> f = Frequencies(Draw(space, 5, 20000), kLoaded);
  // The newest loaded key is the hottest, and every key drawn exists.
  EXPECT_EQ(std::max_element(f.begin(), f.end()) - f.begin(), static_cast<long>(kLoaded - 1));

  // Inserts that return out of order: a key counts as existing once every
  // older one has returned.
  InsertedKeys& inserted = space.inserted();
  const uint64_t a = inserted.Claim(), b = inserted.Claim(), c = inserted.Claim();
  EXPECT_EQ(a, kLoaded);
  inserted.Done(c);
  inserted.Done(b);
  EXPECT_EQ(inserted.Existing(), kLoaded);
  inserted.Done(a);
  EXPECT_EQ(inserted.Existing(), kLoaded + 3);
  KeyChooser chooser(space, 0, 1);
  Rng rng(5);
  uint64_t newest = 0;
  for (int i = 0; i < 2000; ++i) {
    const uint64_t k = chooser.Next(rng);
    EXPECT_LT(k, kLoaded + 3);
    newest = std::max(newest, k);
  }
  EXPECT_EQ(newest, kLoaded + 2);
}

TEST(KvbenchKeys, OrdersHaveNames) {
  for (KeyOrder o : {KeyOrder::kUniform, KeyOrder::kZipfian, KeyOrder::kSequential,
                     KeyOrder::kLatest}) {
    EXPECT_EQ(ParseKeyOrder(KeyOrderName(o)), o);
  }
  EXPECT_EQ(ParseKeyOrder("Zipfian"), std::nullopt);
  EXPECT_EQ(ParseKeyOrder(""), std::nullopt);
}

}  // namespace
}  // namespace kvraft::bench
