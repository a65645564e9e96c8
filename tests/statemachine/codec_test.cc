// Encodings: byte helpers, CRC32C, commands and replies. Decoding must
// accept exactly what encoding produces and turn anything else (truncated,
// trailing, garbage) into an error without reading outside its input.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "statemachine/byte_io.h"
#include "statemachine/command.h"
#include "statemachine/crc32c.h"
#include "statemachine/kv_layout.h"
#include "statemachine/reply.h"

namespace kvraft::statemachine {
namespace {

TEST(ByteIo, VarintRoundTripsAtEveryLengthBoundary) {
  const std::vector<uint64_t> values = {0,
                                        1,
                                        127,
                                        128,
                                        16383,
                                        16384,
                                        (1ull << 35) - 1,
                                        1ull << 63,
                                        std::numeric_limits<uint64_t>::max()};
  for (uint64_t v : values) {
    std::string buf;
    ByteWriter(&buf).Varint(v);
    ByteReader r(buf);
    uint64_t got = 0;
    ASSERT_TRUE(r.Varint(&got)) << v;
    EXPECT_EQ(got, v);
    EXPECT_EQ(r.remaining(), 0u);
  }
  std::string one;
  ByteWriter(&one).Varint(127);
  EXPECT_EQ(one.size(), 1u) << "small numbers must take one byte";
}

TEST(ByteIo, VarintRejectsOverflowAndTruncation) {
  uint64_t v = 0;
  // 2^64 needs a 10th byte of 2: too large.
  const std::string overflow("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10);
  EXPECT_FALSE(ByteReader(overflow).Varint(&v));
  const std::string tooLong(11, '\x80');
  EXPECT_FALSE(ByteReader(tooLong).Varint(&v));
  EXPECT_FALSE(ByteReader(std::string("\x80\x80", 2)).Varint(&v));
  EXPECT_FALSE(ByteReader("").Varint(&v));
}

TEST(ByteIo, BytesRejectsALengthPastTheEndWithoutConsuming) {
  std::string buf;
  ByteWriter(&buf).Varint(1000);
  buf += "short";
  ByteReader r(buf);
  std::string_view got;
  EXPECT_FALSE(r.Bytes(&got));
  EXPECT_EQ(r.position(), 0u);
}

TEST(ByteIo, BigEndianKeysSortNumerically) {
  EXPECT_LT(EncodeFixed64BE(255), EncodeFixed64BE(256));
  EXPECT_LT(EncodeFixed64BE(1), EncodeFixed64BE(1ull << 56));
  EXPECT_EQ(DecodeFixed64BE(EncodeFixed64BE(0x0102030405060708ull)), 0x0102030405060708ull);
}

TEST(Crc32c, MatchesTheStandardCheckValueWholeAndInPieces) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);  // RFC 3720's check value
  Crc32cAccumulator acc;
  acc.Extend("1234");
  EXPECT_EQ(acc.Value(), Crc32c("1234")) << "Value() must not end the computation";
  acc.Extend("");
  acc.Extend("56789");
  EXPECT_EQ(acc.Value(), 0xE3069283u);
}

// One command of every shape.
std::vector<Command> SampleCommands() {
  static const std::string big(3000, 'v');
  std::vector<Command> out;
  Command c;
  c.clientId = 77;
  c.sequence = 300;
  c.firstOutstanding = 290;
  c.leaderTimeMs = 1'700'000'000'000ull;
  for (Operation op :
       {Operation::kNoOp, Operation::kRegisterClient, Operation::kGet, Operation::kPut,
        Operation::kAppend, Operation::kDelete, Operation::kCompareAndSwap, Operation::kRange}) {
    Command x = c;
    x.op = op;
    if (op != Operation::kNoOp && op != Operation::kRegisterClient) x.key = "key-1";
    if (op == Operation::kPut || op == Operation::kAppend || op == Operation::kCompareAndSwap)
      x.value = big;
    if (op == Operation::kRange) {
      x.rangeEnd = "key-9";
      x.rangeLimit = 50;
    }
    out.push_back(x);
  }
  Command casAbsent = out[6];
  casAbsent.expected = std::nullopt;
  Command casValue = out[6];
  casValue.expected = std::string_view("old");
  Command casEmptyExpected = out[6];
  casEmptyExpected.expected =
      std::string_view("");  // "expect the empty value" differs from "expect absent"
  Command rangeOpen = out[7];
  rangeOpen.rangeEnd = "";
  rangeOpen.rangeLimit = 0;
  Command putEmpty = out[3];
  putEmpty.value = "";
  out.insert(out.end(), {casAbsent, casValue, casEmptyExpected, rangeOpen, putEmpty});
  return out;
}

TEST(CommandCodec, EveryOperationRoundTrips) {
  for (const Command& c : SampleCommands()) {
    const std::string bytes = EncodeCommand(c);
    Command got;
    Status s = DecodeCommand(bytes, &got);
    ASSERT_TRUE(s.ok()) << OperationName(c.op) << ": " << s.ToString();
    EXPECT_EQ(got, c) << OperationName(c.op);
    EXPECT_EQ(CommandFormatVersion(bytes), kCommandFormatVersion);
  }
}

TEST(CommandCodec, APutIsCompact) {
  Command c;
  c.op = Operation::kPut;
  c.clientId = 123456;
  c.sequence = 1000;
  c.firstOutstanding = 990;
  c.leaderTimeMs = 1'700'000'000'000ull;
  const std::string key(16, 'k'), value(256, 'v');
  c.key = key;
  c.value = value;
  // version, op, 4 varints (3 + 2 + 2 + 6), two 1-2 byte lengths.
  EXPECT_LE(EncodeCommand(c).size(), 16u + 256u + 18u);
}

TEST(CommandCodec, EveryTruncationIsRejected) {
  for (const Command& c : SampleCommands()) {
    const std::string bytes = EncodeCommand(c);
    for (size_t n = 0; n < bytes.size(); ++n) {
      // A copy of exactly n bytes, so that reading past it would be caught
      // by AddressSanitizer.
      const std::string prefix = bytes.substr(0, n);
      Command got;
      Status s = DecodeCommand(prefix, &got);
      EXPECT_EQ(s.code(), Status::Code::kInvalidArgument)
          << OperationName(c.op) << " cut to " << n << " of " << bytes.size() << " bytes";
    }
  }
}

TEST(CommandCodec, TrailingBytesUnknownOperationsAndVersionsAreRejected) {
  Command c = SampleCommands()[3];
  const std::string bytes = EncodeCommand(c);
  Command got;

  Status s = DecodeCommand(bytes + "x", &got);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("unexpected bytes"), std::string::npos) << s.message();

  std::string badOp = bytes;
  badOp[1] = 42;
  s = DecodeCommand(badOp, &got);
  EXPECT_NE(s.message().find("unknown operation 42"), std::string::npos) << s.message();

  for (char version : {'\x00', '\x02'}) {
    std::string v = bytes;
    v[0] = version;
    s = DecodeCommand(v, &got);
    EXPECT_NE(s.message().find("format version"), std::string::npos) << s.message();
  }

  Command cas = SampleCommands()[9];  // expected "old"
  std::string badFlag = EncodeCommand(cas);
  const size_t flagPos = badFlag.find("key-1") + 5;
  ASSERT_EQ(badFlag[flagPos], 1);
  badFlag[flagPos] = 2;
  EXPECT_FALSE(DecodeCommand(badFlag, &got).ok()) << "hasExpected must be 0 or 1";
}

TEST(CommandCodec, RandomGarbageNeverCrashesAndDecodesOnlyWithinItsInput) {
  std::mt19937_64 rng(20261125);
  const std::vector<Command> samples = SampleCommands();
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      // Mutations of valid commands find the deep paths.
      bytes = EncodeCommand(samples[rng() % samples.size()]);
      for (int flips = 1 + rng() % 4; flips > 0; --flips)
        bytes[rng() % bytes.size()] = static_cast<char>(rng());
    } else {
      bytes.resize(rng() % 64);
      for (char& ch : bytes) ch = static_cast<char>(rng());
      if (!bytes.empty()) bytes[0] = 1;  // get past the version check
    }
    Command got;
    if (!DecodeCommand(bytes, &got).ok()) continue;
    ++accepted;
    for (std::string_view v : {got.key, got.value, got.rangeEnd, got.expected.value_or("")}) {
      if (v.empty()) continue;
      EXPECT_GE(v.data(), bytes.data());
      EXPECT_LE(v.data() + v.size(), bytes.data() + bytes.size());
    }
  }
  EXPECT_GT(accepted, 0) << "the mutations should leave some commands valid";
}

TEST(ReplyCodec, RoundTripsEveryField) {
  std::vector<Reply> replies(4);
  replies[0].code = ReplyCode::kOk;
  replies[0].clientId = 99;
  replies[1].code = ReplyCode::kCasFailed;
  replies[1].value = "current";
  replies[2].code = ReplyCode::kCasFailed;
  replies[2].value = std::nullopt;  // the key was absent
  replies[2].message = "why";
  replies[3].range = {{"a", "1"}, {"b", ""}, {std::string(300, 'k'), std::string(5000, 'v')}};
  replies[3].rangeMore = true;
  Reply emptyValue;
  emptyValue.value = "";
  replies.push_back(emptyValue);
  for (const Reply& r : replies) {
    Reply got;
    Status s = DecodeReply(EncodeReply(r), &got);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(got, r) << r.ToString();
  }
}

TEST(ReplyCodec, TruncationsAndGarbageAreRejected) {
  Reply r;
  r.code = ReplyCode::kOk;
  r.value = "value";
  r.message = "m";
  r.range = {{"k1", "v1"}, {"k2", "v2"}};
  const std::string bytes = EncodeReply(r);
  for (size_t n = 0; n < bytes.size(); ++n) {
    Reply got;
    EXPECT_EQ(DecodeReply(bytes.substr(0, n), &got).code(), Status::Code::kCorruption) << n;
  }
  Reply got;
  EXPECT_FALSE(DecodeReply(bytes + "x", &got).ok());
  // A huge range count must be refused before anything is reserved for it.
  std::string hugeCount;
  ByteWriter w(&hugeCount);
  w.U8(kReplyFormatVersion);
  w.U8(0);
  w.Varint(0);
  w.U8(0);
  w.Bytes("");
  w.Varint(1ull << 60);
  EXPECT_FALSE(DecodeReply(hugeCount, &got).ok());
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5000; ++i) {
    std::string g = bytes;
    g[rng() % g.size()] = static_cast<char>(rng());
    DecodeReply(g, &got).ok();  // must not crash; either answer is fine
  }
}

TEST(LayoutCodec, AppliedStateAndSessionHeaderRoundTripAndRejectDamage) {
  AppliedState a{12345, 7, 1'700'000'000'000ull};
  AppliedState gotA;
  ASSERT_TRUE(DecodeAppliedState(EncodeAppliedState(a), &gotA).ok());
  EXPECT_EQ(gotA, a);
  EXPECT_FALSE(DecodeAppliedState(EncodeAppliedState(a).substr(0, 24), &gotA).ok());

  SessionHeader h{99, 42, {}};
  SessionHeader gotH;
  ASSERT_TRUE(DecodeSessionHeader(EncodeSessionHeader(h), &gotH).ok());
  EXPECT_EQ(gotH, h);
  EXPECT_FALSE(DecodeSessionHeader(EncodeSessionHeader(h) + "x", &gotH).ok());
  h.okSequences = {42, 43, 300, 1ull << 40};
  ASSERT_TRUE(DecodeSessionHeader(EncodeSessionHeader(h), &gotH).ok());
  EXPECT_EQ(gotH, h);
  const std::string full = EncodeSessionHeader(h);
  for (size_t n = 0; n < full.size(); ++n)
    EXPECT_FALSE(DecodeSessionHeader(full.substr(0, n), &gotH).ok()) << n << " bytes";

}

TEST(LayoutCodec, SessionHeaderReadsVersionOneAndRejectsUnorderedOkSequences) {
  // Version 1, as nodes before the plain-OK list wrote it: 1 | varint 99 | varint 42.
  SessionHeader got;
  ASSERT_TRUE(DecodeSessionHeader(std::string("\x01\x63\x2a", 3), &got).ok());
  EXPECT_EQ(got, (SessionHeader{99, 42, {}}));
  EXPECT_FALSE(DecodeSessionHeader(std::string("\x01\x63\x2a\x00", 4), &got).ok())
      << "version 1 has no list";
  // Version 2 with sequences 42 then 42 again (delta 0): not ascending.
  EXPECT_FALSE(DecodeSessionHeader(std::string("\x02\x63\x2a\x02\x00\x00", 6), &got).ok());
  // A count larger than the bytes left is damage, not an allocation.
  EXPECT_FALSE(DecodeSessionHeader(std::string("\x02\x63\x2a\x7f\x00", 5), &got).ok());
  EXPECT_FALSE(DecodeSessionHeader(std::string("\x03\x63\x2a", 3), &got).ok())
      << "an unknown version";
}

TEST(LayoutCodec, SessionKeysSortHeaderFirstThenRepliesBySequence) {
  uint64_t client = 0, seq = 0;
  bool isReply = false;
  ASSERT_TRUE(ParseSessionKey(CachedReplyKey(5, 9), &client, &isReply, &seq));
  EXPECT_EQ(client, 5u);
  EXPECT_TRUE(isReply);
  EXPECT_EQ(seq, 9u);
  EXPECT_LT(SessionHeaderKey(5), CachedReplyKey(5, 0))
      << "a session's header sorts before its replies";
  EXPECT_LT(CachedReplyKey(5, UINT64_MAX), SessionHeaderKey(6));
}

}  // namespace
}  // namespace kvraft::statemachine
