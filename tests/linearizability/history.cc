#include "tests/linearizability/history.h"

#include <cstdio>

namespace kvraft::linearizability {

namespace {

Operation Make(ClientId c, Time call, Time ret, OpKind kind, std::string key) {
  Operation op;
  op.client = c;
  op.call = call;
  op.ret = ret;
  op.answered = ret != kNeverReturned;
  op.kind = kind;
  op.key = std::move(key);
  return op;
}

// Values in explanations are for recognising, not for copying out: beyond
// this many bytes only the head and the length are shown.
constexpr size_t kMaxQuotedBytes = 48;

std::string DescribeRange(const KeyValues& kvs) {
  std::string s = "{";
  for (size_t i = 0; i < kvs.size(); ++i) {
    if (i > 0) s += ", ";
    s += Quote(kvs[i].first) + ": " + Quote(kvs[i].second);
  }
  return s + "}";
}

std::string DescribeCall(const Operation& op) {
  switch (op.kind) {
    case OpKind::kGet:
      return "Get(" + Quote(op.key) + ")";
    case OpKind::kPut:
      return "Put(" + Quote(op.key) + ", " + Quote(op.argument) + ")";
    case OpKind::kAppend:
      return "Append(" + Quote(op.key) + ", " + Quote(op.argument) + ")";
    case OpKind::kDelete:
      return "Delete(" + Quote(op.key) + ")";
    case OpKind::kCompareAndSwap:
      return "CompareAndSwap(" + Quote(op.key) + ", " + QuoteValue(op.expected) + " -> " +
             Quote(op.argument) + ")";
    case OpKind::kRange:
      return "Range([" + Quote(op.key) + ", " + (op.rangeEnd ? Quote(*op.rangeEnd) : "end") + "))";
  }
  return "?";
}

std::string DescribeAnswer(const Operation& op) {
  if (!op.answered) return "";
  switch (op.kind) {
    case OpKind::kGet:
      return " -> " + QuoteValue(op.got);
    case OpKind::kCompareAndSwap:
      return op.swapped ? " -> swapped" : " -> not swapped";
    case OpKind::kRange:
      return " -> " + DescribeRange(op.range);
    default:
      return "";
  }
}

}  // namespace

Operation Operation::Get(ClientId c, Time call, Time ret, std::string key, Value got) {
  Operation op = Make(c, call, ret, OpKind::kGet, std::move(key));
  op.got = std::move(got);
  return op;
}

Operation Operation::Put(ClientId c, Time call, Time ret, std::string key, std::string value) {
  Operation op = Make(c, call, ret, OpKind::kPut, std::move(key));
  op.argument = std::move(value);
  return op;
}

Operation Operation::Append(ClientId c, Time call, Time ret, std::string key, std::string suffix) {
  Operation op = Make(c, call, ret, OpKind::kAppend, std::move(key));
  op.argument = std::move(suffix);
  return op;
}

Operation Operation::Delete(ClientId c, Time call, Time ret, std::string key) {
  return Make(c, call, ret, OpKind::kDelete, std::move(key));
}

Operation Operation::CompareAndSwap(ClientId c, Time call, Time ret, std::string key,
                                    Value expected, std::string newValue, bool swapped) {
  Operation op = Make(c, call, ret, OpKind::kCompareAndSwap, std::move(key));
  op.expected = std::move(expected);
  op.argument = std::move(newValue);
  op.swapped = swapped;
  return op;
}

Operation Operation::Range(ClientId c, Time call, Time ret, std::string start,
                           std::optional<std::string> end, KeyValues result) {
  Operation op = Make(c, call, ret, OpKind::kRange, std::move(start));
  op.rangeEnd = std::move(end);
  op.range = std::move(result);
  return op;
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  size_t shown = s.size() > kMaxQuotedBytes ? kMaxQuotedBytes - 8 : s.size();
  for (size_t i = 0; i < shown; ++i) {
    unsigned char ch = static_cast<unsigned char>(s[i]);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch >= 0x20 && ch < 0x7f) {
      out += static_cast<char>(ch);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", ch);
      out += hex;
    }
  }
  out += '"';
  if (shown < s.size()) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

std::string QuoteValue(const Value& v) { return v ? Quote(*v) : "absent"; }

Operation Operation::Unanswered(Time noEffectAfter) const {
  Operation op = *this;
  op.answered = false;
  op.ret = noEffectAfter;
  return op;
}

std::string Describe(const Operation& op) {
  std::string when = "[" + std::to_string(op.call) + ", ";
  if (op.ret == kNeverReturned) {
    when += "never)";
  } else {
    when += std::to_string(op.ret) + (op.answered ? "]" : "?]");
  }
  return "client " + std::to_string(op.client) + " " + DescribeCall(op) + DescribeAnswer(op) + " " +
         when;
}

}  // namespace kvraft::linearizability
