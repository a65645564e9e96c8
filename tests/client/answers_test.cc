// KvClient passes a node's final answers through once, unretried: values,
// NOT_FOUND, CAS_FAILED with the current value, TOO_LARGE and
// INVALID_ARGUMENT; and it sends what it was given, bytes intact.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/kv_client.h"
#include "tests/client/fake_kv_node.h"
#include "tests/client/test_options.h"

namespace kvraft::client::testing {
namespace {

using ::testing::HasSubstr;

TEST(Answers, GetReturnsTheValueBytesIntact) {
  const std::string key("k\0\xff", 3);
  const std::string value("v\0\x80\n", 4);
  FakeKvNode node;
  node.onGet = [&](const wire::GetRequest& request, wire::GetResponse& out) {
    if (request.key == key) out.__set_value(value);
  };
  node.Start();
  KvClient client(TestOptions({node.endpoint()}));
  Result r = client.Get(key);
  ASSERT_TRUE(r.ok()) << r.ToString();
  EXPECT_EQ(r.value, value);
  EXPECT_TRUE(r.message.empty());
}

TEST(Answers, NotFoundIsFinal) {
  FakeKvNode node;
  node.onWrite = [](const WriteCall&, wire::WriteResponse& out) {
    out.result.code = wire::Code::NOT_FOUND;
  };
  node.Start();
  KvClient client(TestOptions({node.endpoint()}));
  Result get = client.Get("k");
  EXPECT_EQ(get.code, Code::kNotFound);
  EXPECT_FALSE(get.value.has_value());
  EXPECT_EQ(node.gets().size(), 1u);

  Result del = client.Delete("k");
  EXPECT_EQ(del.code, Code::kNotFound);
  EXPECT_EQ(node.writes().size(), 1u);
}

TEST(Answers, CasFailedCarriesTheCurrentValueOrItsAbsence) {
  FakeKvNode node;
  node.onWrite = [](const WriteCall& w, wire::WriteResponse& out) {
    out.result.code = wire::Code::CAS_FAILED;
    if (w.key == "present") out.__set_current("now");
  };
  node.Start();
  KvClient client(TestOptions({node.endpoint()}));

  Result present = client.CompareAndSwap("present", "then", "next");
  EXPECT_EQ(present.code, Code::kCasFailed);
  EXPECT_EQ(present.value, "now");
  Result absent = client.CompareAndSwap("absent", "then", "next");
  EXPECT_EQ(absent.code, Code::kCasFailed);
  EXPECT_FALSE(absent.value.has_value());
  EXPECT_EQ(node.writes().size(), 2u);
}

TEST(Answers, CompareAndSwapSendsExpectedOnlyWhenGiven) {
  FakeKvNode node;
  node.Start();
  KvClient client(TestOptions({node.endpoint()}));
  ASSERT_TRUE(client.CompareAndSwap("k", std::nullopt, "first").ok());
  ASSERT_TRUE(client.CompareAndSwap("k", "", "second").ok());

  std::vector<WriteCall> writes = node.writes();
  ASSERT_EQ(writes.size(), 2u);
  EXPECT_FALSE(writes[0].expected.has_value());
  EXPECT_EQ(writes[0].value, "first");
  EXPECT_EQ(writes[1].expected, "");
  EXPECT_EQ(writes[1].value, "second");
}

TEST(Answers, TooLargeAndInvalidArgumentAreFinal) {
  FakeKvNode node;
  node.onWrite = [](const WriteCall& w, wire::WriteResponse& out) {
    if (w.key.empty()) {
      out.result.code = wire::Code::INVALID_ARGUMENT;
      out.result.message = "empty key";
    } else {
      out.result.code = wire::Code::TOO_LARGE;
      out.result.message = "value of 2000000 bytes over the limit of 1048576";
    }
  };
  node.Start();
  KvClient client(TestOptions({node.endpoint()}));

  Result big = client.Put("k", "v");
  EXPECT_EQ(big.code, Code::kTooLarge);
  EXPECT_THAT(big.message, HasSubstr("over the limit"));
  EXPECT_EQ(node.writes().size(), 1u);

  Result empty = client.Append("", "v");
  EXPECT_EQ(empty.code, Code::kInvalidArgument);
  EXPECT_THAT(empty.message, HasSubstr("empty key"));
  EXPECT_EQ(node.writes().size(), 2u);
}

TEST(Answers, RangePassesItsBoundsAndReturnsItemsInOrder) {
  FakeKvNode node;
  wire::RangeRequest seen;
  node.onRange = [&](const wire::RangeRequest& request, wire::RangeResponse& out) {
    seen = request;
    for (const char* k : {"a", "b"}) {
      wire::KeyValue kv;
      kv.key = k;
      kv.value = std::string(k) + "!";
      out.items.push_back(kv);
    }
    out.more = true;
  };
  node.Start();
  KvClient client(TestOptions({node.endpoint()}));
  Result r = client.Range("a", "z", 2);
  ASSERT_TRUE(r.ok()) << r.ToString();
  EXPECT_EQ(r.items, (std::vector<KeyValue>{{"a", "a!"}, {"b", "b!"}}));
  EXPECT_TRUE(r.more);
  EXPECT_EQ(seen.startKey, "a");
  EXPECT_EQ(seen.endKey, "z");
  EXPECT_EQ(seen.limit, 2);
  EXPECT_FALSE(seen.stale);
  EXPECT_EQ(node.ranges(), 1);
}

TEST(Answers, ResultToStringNamesTheCode) {
  EXPECT_EQ(Result{}.ToString(), "OK");
  Result r;
  r.code = Code::kTimeout;
  r.message = "no leader";
  EXPECT_EQ(r.ToString(), "TIMEOUT: no leader");
  EXPECT_STREQ(CodeName(Code::kCasFailed), "CAS_FAILED");
  EXPECT_STREQ(CodeName(Code::kSessionExpired), "SESSION_EXPIRED");
}

}  // namespace
}  // namespace kvraft::client::testing
