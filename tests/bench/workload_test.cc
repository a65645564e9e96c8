// The parts of a workload that need no cluster: key names, how many keys
// are chosen from and loaded, and which codes are answers.
#include "bench/workload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kvraft::bench {
namespace {

using ::testing::HasSubstr;
using client::Code;

TEST(KvbenchWorkload, KeysAreFixedSizeAndSortLikeTheirNumbers) {
  EXPECT_EQ(MakeKey(42, 8), "k0000042");
  EXPECT_EQ(MakeKey(123456, 4), "k456");  // truncated to its last digits
  EXPECT_LT(MakeKey(9, 16), MakeKey(10, 16));
  EXPECT_EQ(MakeKey(7, 16).size(), 16u);
}

KeyCounts Resolve(bool reads, std::optional<uint64_t> space, std::optional<uint64_t> load) {
  KeyCounts c;
  std::string error;
  EXPECT_TRUE(ResolveKeyCounts(reads, space, load, &c, &error)) << error;
  return c;
}

TEST(KvbenchWorkload, KeyCountsDefaultByWhetherTheWorkloadReads) {
  // Write-only: a million keys, nothing loaded (put's old defaults).
  EXPECT_EQ(Resolve(false, {}, {}).keySpace, 1000000u);
  EXPECT_EQ(Resolve(false, {}, {}).loadKeys, 0u);
  EXPECT_EQ(Resolve(false, 100, 50).loadKeys, 50u);
  // Reads: 5,000 loaded keys (get's old --read_keys default), or as many
  // as either flag says.
  EXPECT_EQ(Resolve(true, {}, {}).keySpace, 5000u);
  EXPECT_EQ(Resolve(true, {}, {}).loadKeys, 5000u);
  EXPECT_EQ(Resolve(true, 300, {}).loadKeys, 300u);
  EXPECT_EQ(Resolve(true, {}, 1).keySpace, 1u);
}

TEST(KvbenchWorkload, ReadsOfKeysNeverLoadedAreRefused) {
  KeyCounts c;
  std::string error;
  EXPECT_FALSE(ResolveKeyCounts(true, 1000, 10, &c, &error));
  EXPECT_THAT(error, HasSubstr("--load_keys=10 is less than --key_space=1000"));
  EXPECT_FALSE(ResolveKeyCounts(false, 0, {}, &c, &error));
  EXPECT_THAT(error, HasSubstr("--key_space must be at least 1"));
}

TEST(KvbenchWorkload, CasFailedAndNotFoundAreAnswersWhereTheyAreNormal) {
  EXPECT_TRUE(IsAnswer({OpKind::kPut, Code::kOk}, false));
  EXPECT_TRUE(IsAnswer({OpKind::kCas, Code::kCasFailed}, false));
  EXPECT_FALSE(IsAnswer({OpKind::kPut, Code::kCasFailed}, false));
  EXPECT_TRUE(IsAnswer({OpKind::kDelete, Code::kNotFound}, false));
  // A loaded key that is missing is an error, unless the mix deletes keys.
  EXPECT_FALSE(IsAnswer({OpKind::kGet, Code::kNotFound}, false));
  EXPECT_TRUE(IsAnswer({OpKind::kGet, Code::kNotFound}, true));
  EXPECT_TRUE(IsAnswer({OpKind::kReadModifyWrite, Code::kNotFound}, true));
  for (Code c : {Code::kTimeout, Code::kUnavailable, Code::kTooLarge, Code::kInvalidArgument,
                 Code::kSessionExpired}) {
    EXPECT_FALSE(IsAnswer({OpKind::kCas, c}, true)) << client::CodeName(c);
  }
}

TEST(KvbenchWorkload, ReadingAndDeletingMixesNeedALoadPhase) {
  auto needs = [](const std::string& text) {
    WorkloadOptions o;
    std::string error;
    EXPECT_TRUE(OpMix::Parse(text, &o.mix, &error)) << error;
    return o.NeedsLoadedKeys();
  };
  EXPECT_FALSE(needs("put:1,append:1,cas:1,insert:1"));
  for (const char* m : {"get:1", "range:1", "delete:1", "rmw:1", "put:9,get:1"}) {
    EXPECT_TRUE(needs(m)) << m;
  }
}

}  // namespace
}  // namespace kvraft::bench
