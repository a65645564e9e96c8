// What each operation does to user data, applied through the log, and the
// same answers from reads served outside it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/statemachine/test_util.h"

namespace kvraft::statemachine {
namespace {

using testing::EncAppend;
using testing::EncCas;
using testing::EncDelete;
using testing::EncGet;
using testing::EncPut;
using testing::EncRange;
using testing::From;
using testing::Harness;
using testing::TempDir;

class KvOperations : public ::testing::Test {
 protected:
  KvOperations() : h(tmp.Sub("kv"), OptionsWithSmallLimits()) { client = h.Register(1000); }

  static KvStateMachine::Options OptionsWithSmallLimits() {
    KvStateMachine::Options o;
    o.limits.maxKeyBytes = 16;
    o.limits.maxValueBytes = 64;
    o.limits.maxRangeResults = 5;
    o.limits.maxRangeBytes = 40;
    return o;
  }

  // The next command of `client`, every earlier one answered.
  From Next() {
    ++seq;
    return From{client, seq, seq, 1000 + seq};
  }

  std::vector<std::string> Keys(const Reply& r) {
    std::vector<std::string> keys;
    for (const KeyValue& kv : r.range) keys.push_back(kv.key);
    return keys;
  }

  TempDir tmp;
  Harness h;
  uint64_t client = 0;
  uint64_t seq = 0;
};

TEST_F(KvOperations, PutThenGetAndGetOfAnAbsentKey) {
  EXPECT_EQ(h.Apply1(EncPut(Next(), "a", "1")).code, ReplyCode::kOk);
  Reply got = h.Apply1(EncGet(Next(), "a"));
  EXPECT_EQ(got.code, ReplyCode::kOk);
  EXPECT_EQ(got.value, "1");
  Reply absent = h.Apply1(EncGet(Next(), "b"));
  EXPECT_EQ(absent.code, ReplyCode::kNotFound);
  EXPECT_FALSE(absent.value.has_value());
  EXPECT_EQ(h.Apply1(EncPut(Next(), "a", "2")).code, ReplyCode::kOk);
  EXPECT_EQ(h.Get("a"), "2") << "Put overwrites";
}

TEST_F(KvOperations, AppendToAnAbsentKeyCreatesItAndLaterAppendsConcatenate) {
  EXPECT_EQ(h.Apply1(EncAppend(Next(), "log", "x")).code, ReplyCode::kOk);
  EXPECT_EQ(h.Get("log"), "x");
  EXPECT_EQ(h.Apply1(EncAppend(Next(), "log", "yz")).code, ReplyCode::kOk);
  EXPECT_EQ(h.Apply1(EncAppend(Next(), "log", "")).code, ReplyCode::kOk);
  EXPECT_EQ(h.Get("log"), "xyz");
}

TEST_F(KvOperations, DeleteRemovesAKeyAndReportsAnAbsentOne) {
  h.Apply1(EncPut(Next(), "a", "1"));
  EXPECT_EQ(h.Apply1(EncDelete(Next(), "a")).code, ReplyCode::kOk);
  EXPECT_EQ(h.Get("a"), "<absent>");
  EXPECT_EQ(h.Apply1(EncDelete(Next(), "a")).code, ReplyCode::kNotFound);
}

TEST_F(KvOperations, CompareAndSwapOnExpectedValue) {
  h.Apply1(EncPut(Next(), "k", "old"));
  Reply ok = h.Apply1(EncCas(Next(), "k", "old", "new"));
  EXPECT_EQ(ok.code, ReplyCode::kOk);
  EXPECT_EQ(h.Get("k"), "new");

  Reply failed = h.Apply1(EncCas(Next(), "k", "old", "newer"));
  EXPECT_EQ(failed.code, ReplyCode::kCasFailed);
  EXPECT_EQ(failed.value, "new") << "a failed CAS returns the current value";
  EXPECT_EQ(h.Get("k"), "new");

  Reply onAbsent = h.Apply1(EncCas(Next(), "nokey", "old", "x"));
  EXPECT_EQ(onAbsent.code, ReplyCode::kCasFailed);
  EXPECT_FALSE(onAbsent.value.has_value()) << "and says the key is absent";
  EXPECT_EQ(h.Get("nokey"), "<absent>");

  // Expecting the empty value is not expecting absence.
  h.Apply1(EncPut(Next(), "e", ""));
  EXPECT_EQ(h.Apply1(EncCas(Next(), "e", std::nullopt, "x")).code, ReplyCode::kCasFailed);
  EXPECT_EQ(h.Apply1(EncCas(Next(), "e", "", "x")).code, ReplyCode::kOk);
  EXPECT_EQ(h.Get("e"), "x");
}

TEST_F(KvOperations, CompareAndSwapOnExpectedAbsence) {
  Reply created = h.Apply1(EncCas(Next(), "lock", std::nullopt, "owner-1"));
  EXPECT_EQ(created.code, ReplyCode::kOk);
  Reply taken = h.Apply1(EncCas(Next(), "lock", std::nullopt, "owner-2"));
  EXPECT_EQ(taken.code, ReplyCode::kCasFailed);
  EXPECT_EQ(taken.value, "owner-1");
  EXPECT_EQ(h.Get("lock"), "owner-1");
}

TEST_F(KvOperations, RangeIsHalfOpenAndAnEmptyEndMeansNoBound) {
  for (const char* k : {"a", "b", "c", "d"}) h.Apply1(EncPut(Next(), k, std::string("v") + k));
  Reply r = h.Apply1(EncRange(Next(), "b", "d", 0));
  EXPECT_EQ(Keys(r), (std::vector<std::string>{"b", "c"})) << "end is exclusive";
  EXPECT_EQ(r.range[0].value, "vb");
  EXPECT_FALSE(r.rangeMore);
  EXPECT_EQ(Keys(h.Apply1(EncRange(Next(), "bb", "", 0))), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(Keys(h.Apply1(EncRange(Next(), "", "", 0))),
            (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(h.Apply1(EncRange(Next(), "c", "c", 0)).range.empty()) << "start == end is empty";
  EXPECT_EQ(h.Apply1(EncRange(Next(), "d", "a", 0)).code, ReplyCode::kInvalidArgument);
}

TEST_F(KvOperations, RangeStopsAtTheLimitAndSaysThereIsMore) {
  for (const char* k : {"a", "b", "c", "d", "e", "f", "g"}) h.Apply1(EncPut(Next(), k, "1"));
  Reply two = h.Apply1(EncRange(Next(), "a", "", 2));
  EXPECT_EQ(Keys(two), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(two.rangeMore);
  // Exactly as many as remain: no "more".
  Reply rest = h.Apply1(EncRange(Next(), "e", "", 3));
  EXPECT_EQ(Keys(rest), (std::vector<std::string>{"e", "f", "g"}));
  EXPECT_FALSE(rest.rangeMore);
  // 0 or above the configured maximum (5) means the maximum.
  EXPECT_EQ(h.Apply1(EncRange(Next(), "", "", 0)).range.size(), 5u);
  Reply capped = h.Apply1(EncRange(Next(), "", "", 1000));
  EXPECT_EQ(capped.range.size(), 5u);
  EXPECT_TRUE(capped.rangeMore);
}

TEST_F(KvOperations, RangeStopsAtTheByteLimitButReturnsAtLeastOneResult) {
  // maxRangeBytes is 40: two 1+19-byte records fit, a third does not.
  for (const char* k : {"a", "b", "c"}) h.Apply1(EncPut(Next(), k, std::string(19, 'v')));
  Reply r = h.Apply1(EncRange(Next(), "", "", 0));
  EXPECT_EQ(Keys(r), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(r.rangeMore);
  h.Apply1(EncPut(Next(), "z", std::string(60, 'v')));
  Reply big = h.Apply1(EncRange(Next(), "z", "", 0));
  EXPECT_EQ(Keys(big), (std::vector<std::string>{"z"}))
      << "a record over the byte limit still comes alone";
}

TEST_F(KvOperations, CommandsInOneBatchSeeTheEarlierOnes) {
  std::vector<Reply> r =
      h.Apply({EncPut(Next(), "k", "a"), EncAppend(Next(), "k", "b"),
               EncCas(Next(), "k", "ab", "abc"), EncPut(Next(), "j", "1"), EncDelete(Next(), "j"),
               EncRange(Next(), "", "", 0), EncGet(Next(), "k")});
  for (size_t i = 0; i < 5; ++i)
    EXPECT_EQ(r[i].code, ReplyCode::kOk) << i << ": " << r[i].ToString();
  EXPECT_EQ(Keys(r[5]), (std::vector<std::string>{"k"}))
      << "the range sees the put and not the deleted key";
  EXPECT_EQ(r[5].range[0].value, "abc");
  EXPECT_EQ(r[6].value, "abc");
}

TEST_F(KvOperations, ARetryLaterInTheBatchSeesTheRepliesAndWritesStagedBeforeAnyRead) {
  // Nothing before the retry reads, so its batch stages them without an
  // index; the retry's reply lookup and the Append's read must still see
  // them.
  const From tooBig = Next();
  From put = Next();
  put.firstOutstanding = tooBig.seq;  // the client has not seen tooBig's reply
  From append = Next();
  append.firstOutstanding = tooBig.seq;
  std::vector<Reply> r =
      h.Apply({EncPut(tooBig, "k", std::string(65, 'v')), EncPut(put, "k", "a"),
               EncPut(tooBig, "k", std::string(65, 'v')), EncAppend(append, "k", "b")});
  EXPECT_EQ(r[0].code, ReplyCode::kInvalidArgument);
  EXPECT_EQ(r[2], r[0]) << "the cached reply, found in the batch itself";
  EXPECT_EQ(r[3].code, ReplyCode::kOk);
  EXPECT_EQ(h.Get("k"), "ab");
}

TEST_F(KvOperations, OversizeOrEmptyKeysAndValuesAreRejectedAndChangeNothing) {
  h.Apply1(EncPut(Next(), "k", std::string(60, 'v')));
  const std::string longKey(17, 'k');   // limit 16
  const std::string bigValue(65, 'v');  // limit 64
  const std::vector<std::string> bad = {
      EncPut(Next(), longKey, "v"),
      EncPut(Next(), "k", bigValue),
      EncAppend(Next(), "k", "12345"),  // 60 + 5 > 64: the result is over
      EncCas(Next(), "k", std::string(60, 'v'), bigValue),
      EncCas(Next(), "k", bigValue, "x"),
      EncGet(Next(), longKey),
      EncDelete(Next(), longKey),
      EncPut(Next(), "", "v"),
      // A range bound may be one byte longer than a key (continuing after
      // a longest key), not two.
      EncRange(Next(), longKey + "k", "", 0)};
  const StateDigest before = h.Digest();
  for (const std::string& cmd : bad) {
    Reply r = h.Apply1(cmd);
    EXPECT_EQ(r.code, ReplyCode::kInvalidArgument) << r.ToString();
    EXPECT_FALSE(r.message.empty()) << "the reply says what was wrong";
  }
  EXPECT_EQ(h.Get("k"), std::string(60, 'v'));
  Reply all;
  ASSERT_TRUE(h.sm().Range("", "", 0, &all).ok());
  EXPECT_EQ(Keys(all), (std::vector<std::string>{"k"}));
  EXPECT_EQ(h.Digest().applied.index, before.applied.index + bad.size());
  EXPECT_EQ(h.Apply1(EncRange(Next(), longKey, "", 0)).code, ReplyCode::kOk)
      << "a bound of the longest key plus a 0 byte continues a range";
}

TEST_F(KvOperations, ReadsOutsideTheLogAnswerLikeAppliedReads) {
  for (const char* k : {"a", "b", "c"}) h.Apply1(EncPut(Next(), k, k));
  Reply direct, applied;
  ASSERT_TRUE(h.sm().Get("b", &direct).ok());
  applied = h.Apply1(EncGet(Next(), "b"));
  EXPECT_EQ(direct, applied);
  ASSERT_TRUE(h.sm().Get("zz", &direct).ok());
  EXPECT_EQ(direct, h.Apply1(EncGet(Next(), "zz")));
  ASSERT_TRUE(h.sm().Range("a", "c", 1, &direct).ok());
  EXPECT_EQ(direct, h.Apply1(EncRange(Next(), "a", "c", 1)));
  ASSERT_TRUE(h.sm().Get(std::string(17, 'k'), &direct).ok());
  EXPECT_EQ(direct.code, ReplyCode::kInvalidArgument);
}

}  // namespace
}  // namespace kvraft::statemachine
