#include "statemachine/command.h"

#include "statemachine/byte_io.h"

namespace kvraft::statemachine {
namespace {

Status Malformed(const std::string& what) { return Status::InvalidArgument("command: " + what); }

Status Truncated(const char* field) {
  return Malformed(std::string("truncated or malformed at field '") + field + "'");
}

}  // namespace

const char* OperationName(Operation op) {
  switch (op) {
    case Operation::kNoOp:
      return "NoOp";
    case Operation::kRegisterClient:
      return "RegisterClient";
    case Operation::kGet:
      return "Get";
    case Operation::kPut:
      return "Put";
    case Operation::kAppend:
      return "Append";
    case Operation::kDelete:
      return "Delete";
    case Operation::kCompareAndSwap:
      return "CompareAndSwap";
    case Operation::kRange:
      return "Range";
  }
  return "Unknown";
}

bool IsReadOnly(Operation op) { return op == Operation::kGet || op == Operation::kRange; }

void EncodeCommand(const Command& c, std::string* out) {
  ByteWriter w(out);
  w.U8(kCommandFormatVersion);
  w.U8(static_cast<uint8_t>(c.op));
  w.Varint(c.clientId);
  w.Varint(c.sequence);
  w.Varint(c.firstOutstanding);
  w.Varint(c.leaderTimeMs);
  switch (c.op) {
    case Operation::kNoOp:
    case Operation::kRegisterClient:
      break;
    case Operation::kGet:
    case Operation::kDelete:
      w.Bytes(c.key);
      break;
    case Operation::kPut:
    case Operation::kAppend:
      w.Bytes(c.key);
      w.Bytes(c.value);
      break;
    case Operation::kCompareAndSwap:
      w.Bytes(c.key);
      w.U8(c.expected.has_value() ? 1 : 0);
      if (c.expected) w.Bytes(*c.expected);
      w.Bytes(c.value);
      break;
    case Operation::kRange:
      w.Bytes(c.key);
      w.Bytes(c.rangeEnd);
      w.Varint(c.rangeLimit);
      break;
  }
}

std::string EncodeCommand(const Command& command) {
  std::string out;
  EncodeCommand(command, &out);
  return out;
}

Status DecodeCommand(std::string_view bytes, Command* command) {
  ByteReader r(bytes);
  uint8_t version = 0;
  uint8_t op = 0;
  if (!r.U8(&version)) return Malformed("empty");
  if (version != kCommandFormatVersion) {
    return Malformed("format version " + std::to_string(version) +
                     " is not supported (this build reads version " +
                     std::to_string(kCommandFormatVersion) + ")");
  }
  if (!r.U8(&op)) return Truncated("operation");
  if (op > static_cast<uint8_t>(Operation::kRange)) {
    return Malformed("unknown operation " + std::to_string(op));
  }
  Command c;
  c.op = static_cast<Operation>(op);
  if (!r.Varint(&c.clientId)) return Truncated("clientId");
  if (!r.Varint(&c.sequence)) return Truncated("sequence");
  if (!r.Varint(&c.firstOutstanding)) return Truncated("firstOutstanding");
  if (!r.Varint(&c.leaderTimeMs)) return Truncated("leaderTimeMs");
  switch (c.op) {
    case Operation::kNoOp:
    case Operation::kRegisterClient:
      break;
    case Operation::kGet:
    case Operation::kDelete:
      if (!r.Bytes(&c.key)) return Truncated("key");
      break;
    case Operation::kPut:
    case Operation::kAppend:
      if (!r.Bytes(&c.key)) return Truncated("key");
      if (!r.Bytes(&c.value)) return Truncated("value");
      break;
    case Operation::kCompareAndSwap: {
      if (!r.Bytes(&c.key)) return Truncated("key");
      uint8_t hasExpected = 0;
      if (!r.U8(&hasExpected) || hasExpected > 1) return Truncated("hasExpected");
      if (hasExpected) {
        std::string_view expected;
        if (!r.Bytes(&expected)) return Truncated("expected");
        c.expected = expected;
      }
      if (!r.Bytes(&c.value)) return Truncated("value");
      break;
    }
    case Operation::kRange:
      if (!r.Bytes(&c.key)) return Truncated("key");
      if (!r.Bytes(&c.rangeEnd)) return Truncated("rangeEnd");
      if (!r.Varint(&c.rangeLimit)) return Truncated("rangeLimit");
      break;
  }
  if (r.remaining() != 0) {
    return Malformed(std::to_string(r.remaining()) + " unexpected bytes after the " +
                     OperationName(c.op) + " fields");
  }
  *command = c;
  return Status::Ok();
}

}  // namespace kvraft::statemachine
