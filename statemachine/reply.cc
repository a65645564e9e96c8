#include "statemachine/reply.h"

#include "statemachine/byte_io.h"

namespace kvraft::statemachine {
namespace {

constexpr uint8_t kHasValue = 1;
constexpr uint8_t kRangeMore = 2;

Status Truncated(const char* field) {
  return Status::Corruption(std::string("reply: truncated or malformed at field '") + field + "'");
}

}  // namespace

const char* ReplyCodeName(ReplyCode code) {
  switch (code) {
    case ReplyCode::kOk:
      return "OK";
    case ReplyCode::kNotFound:
      return "NOT_FOUND";
    case ReplyCode::kCasFailed:
      return "CAS_FAILED";
    case ReplyCode::kSessionExpired:
      return "SESSION_EXPIRED";
    case ReplyCode::kStaleSequence:
      return "STALE_SEQUENCE";
    case ReplyCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case ReplyCode::kSkipped:
      return "SKIPPED";
  }
  return "UNKNOWN";
}

std::string Reply::ToString() const {
  std::string s = ReplyCodeName(code);
  if (clientId != 0) s += " clientId=" + std::to_string(clientId);
  if (value) s += " value=" + std::to_string(value->size()) + "B";
  if (!range.empty() || rangeMore) {
    s += " range=" + std::to_string(range.size()) + (rangeMore ? "+more" : "");
  }
  if (!message.empty()) s += " (" + message + ")";
  return s;
}

std::string EncodeReply(const Reply& reply) {
  std::string out;
  ByteWriter w(&out);
  w.U8(kReplyFormatVersion);
  w.U8(static_cast<uint8_t>(reply.code));
  w.Varint(reply.clientId);
  w.U8((reply.value ? kHasValue : 0) | (reply.rangeMore ? kRangeMore : 0));
  if (reply.value) w.Bytes(*reply.value);
  w.Bytes(reply.message);
  w.Varint(reply.range.size());
  for (const KeyValue& kv : reply.range) {
    w.Bytes(kv.key);
    w.Bytes(kv.value);
  }
  return out;
}

Status DecodeReply(std::string_view bytes, Reply* reply) {
  ByteReader r(bytes);
  uint8_t version = 0, code = 0, flags = 0;
  if (!r.U8(&version)) return Truncated("version");
  if (version != kReplyFormatVersion) {
    return Status::Corruption("reply: format version " + std::to_string(version) +
                              " is not supported (this build reads version " +
                              std::to_string(kReplyFormatVersion) + ")");
  }
  if (!r.U8(&code) || code > static_cast<uint8_t>(ReplyCode::kSkipped)) return Truncated("code");
  Reply out;
  out.code = static_cast<ReplyCode>(code);
  if (!r.Varint(&out.clientId)) return Truncated("clientId");
  if (!r.U8(&flags) || (flags & ~(kHasValue | kRangeMore)) != 0) return Truncated("flags");
  std::string_view field;
  if (flags & kHasValue) {
    if (!r.Bytes(&field)) return Truncated("value");
    out.value.emplace(field);
  }
  if (!r.Bytes(&field)) return Truncated("message");
  out.message.assign(field);
  uint64_t count = 0;
  if (!r.Varint(&count)) return Truncated("range count");
  // Each result takes at least two bytes: a count beyond that is garbage,
  // and checking first keeps garbage from reserving huge vectors.
  if (count > r.remaining() / 2) return Truncated("range count");
  out.range.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view key, value;
    if (!r.Bytes(&key)) return Truncated("range key");
    if (!r.Bytes(&value)) return Truncated("range value");
    out.range.push_back({std::string(key), std::string(value)});
  }
  out.rangeMore = (flags & kRangeMore) != 0;
  if (r.remaining() != 0) return Truncated("end (unexpected trailing bytes)");
  *reply = std::move(out);
  return Status::Ok();
}

}  // namespace kvraft::statemachine
