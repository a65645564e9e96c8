#include "statemachine/kv_operations.h"

#include <glog/logging.h>

namespace kvraft::statemachine {
namespace {

Status ViewFailure(const char* what, const rocksdb::Status& s) {
  return Status::IOError(std::string("kv instance: ") + what + " failed: " + s.ToString());
}

void Invalid(Reply* reply, std::string message) {
  *reply = Reply{};
  reply->code = ReplyCode::kInvalidArgument;
  reply->message = std::move(message);
}

// Empty when the key is acceptable, else why not.
std::string CheckKey(std::string_view key, const Limits& limits, const char* what = "key") {
  if (key.empty()) return std::string(what) + " is empty";
  if (key.size() > limits.maxKeyBytes) {
    return std::string(what) + " is " + std::to_string(key.size()) + " bytes, over the limit of " +
           std::to_string(limits.maxKeyBytes);
  }
  return {};
}

std::string ValueTooLarge(size_t size, const Limits& limits, const char* what) {
  return std::string(what) + " would be " + std::to_string(size) + " bytes, over the limit of " +
         std::to_string(limits.maxValueBytes);
}

// Reads `key` into *current (nullopt when absent).
Status ReadCurrent(KvView* view, std::string_view key, std::optional<std::string>* current) {
  std::string value;
  rocksdb::Status s = view->Get(key, &value);
  if (s.IsNotFound()) {
    current->reset();
    return Status::Ok();
  }
  if (!s.ok()) return ViewFailure("read", s);
  *current = std::move(value);
  return Status::Ok();
}

Status Write(KvView* view, std::string_view key, std::string_view value) {
  rocksdb::Status s = view->Put(key, value);
  return s.ok() ? Status::Ok() : ViewFailure("write", s);
}

Status ExecuteGet(const Command& c, KvView* view, Reply* reply) {
  Status s = ReadCurrent(view, c.key, &reply->value);
  if (s.ok() && !reply->value) reply->code = ReplyCode::kNotFound;
  return s;
}

Status ExecutePut(const Command& c, const Limits& limits, KvView* view, Reply* reply) {
  if (c.value.size() > limits.maxValueBytes) {
    Invalid(reply, ValueTooLarge(c.value.size(), limits, "the value"));
    return Status::Ok();
  }
  return Write(view, c.key, c.value);
}

Status ExecuteAppend(const Command& c, const Limits& limits, KvView* view, Reply* reply) {
  std::optional<std::string> current;
  Status s = ReadCurrent(view, c.key, &current);
  if (!s.ok()) return s;
  const size_t oldSize = current ? current->size() : 0;
  if (c.value.size() > limits.maxValueBytes - oldSize) {  // no overflow: oldSize <= max
    Invalid(reply, ValueTooLarge(oldSize + c.value.size(), limits, "the appended value"));
    return Status::Ok();
  }
  if (!current) return Write(view, c.key, c.value);
  current->append(c.value);
  return Write(view, c.key, *current);
}

Status ExecuteDelete(const Command& c, KvView* view, Reply* reply) {
  // Reading first costs a lookup (cheap with the Bloom filter for absent
  // keys) and tells the client whether the key existed.
  std::optional<std::string> current;
  Status s = ReadCurrent(view, c.key, &current);
  if (!s.ok()) return s;
  if (!current) {
    reply->code = ReplyCode::kNotFound;
    return Status::Ok();
  }
  rocksdb::Status rs = view->Delete(c.key);
  return rs.ok() ? Status::Ok() : ViewFailure("delete", rs);
}

Status ExecuteCompareAndSwap(const Command& c, const Limits& limits, KvView* view, Reply* reply) {
  if (c.value.size() > limits.maxValueBytes) {
    Invalid(reply, ValueTooLarge(c.value.size(), limits, "the new value"));
    return Status::Ok();
  }
  if (c.expected && c.expected->size() > limits.maxValueBytes) {
    Invalid(reply, ValueTooLarge(c.expected->size(), limits, "the expected value"));
    return Status::Ok();
  }
  std::optional<std::string> current;
  Status s = ReadCurrent(view, c.key, &current);
  if (!s.ok()) return s;
  const bool matches = c.expected ? (current && *current == *c.expected) : !current;
  if (!matches) {
    reply->code = ReplyCode::kCasFailed;
    reply->value = std::move(current);
    return Status::Ok();
  }
  return Write(view, c.key, c.value);
}

Status ExecuteRange(const Command& c, const Limits& limits, KvView* view, Reply* reply) {
  // One byte over the key limit is allowed: a range continues after its
  // last key by starting from that key plus a 0 byte.
  const size_t maxBound = limits.maxKeyBytes + 1;
  if (c.key.size() > maxBound || c.rangeEnd.size() > maxBound) {
    Invalid(reply, "a range bound is over the key limit of " + std::to_string(limits.maxKeyBytes) +
                       " bytes");
    return Status::Ok();
  }
  const bool bounded = !c.rangeEnd.empty();
  if (bounded && c.key > c.rangeEnd) {
    Invalid(reply,
            "the range start is after its end: pass start <= end, or an empty end for "
            "no bound");
    return Status::Ok();
  }
  const uint64_t limit = (c.rangeLimit == 0 || c.rangeLimit > limits.maxRangeResults)
                             ? limits.maxRangeResults
                             : c.rangeLimit;
  const rocksdb::Slice upper(c.rangeEnd.data(), c.rangeEnd.size());
  std::unique_ptr<rocksdb::Iterator> it = view->NewIterator(bounded ? &upper : nullptr);
  uint64_t bytes = 0;
  for (it->Seek(rocksdb::Slice(c.key.data(), c.key.size())); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    if (bounded && key >= c.rangeEnd) break;
    const uint64_t size = it->key().size() + it->value().size();
    if (reply->range.size() == limit ||
        (!reply->range.empty() && bytes + size > limits.maxRangeBytes)) {
      reply->rangeMore = true;
      break;
    }
    bytes += size;
    reply->range.push_back({std::string(key), it->value().ToString()});
  }
  if (!it->status().ok()) return ViewFailure("range scan", it->status());
  return Status::Ok();
}

}  // namespace

Status ExecuteOperation(const Command& c, const Limits& limits, KvView* view, Reply* reply) {
  *reply = Reply{};
  if (c.op != Operation::kRange) {
    if (std::string why = CheckKey(c.key, limits); !why.empty()) {
      Invalid(reply, why);
      return Status::Ok();
    }
  }
  switch (c.op) {
    case Operation::kGet:
      return ExecuteGet(c, view, reply);
    case Operation::kPut:
      return ExecutePut(c, limits, view, reply);
    case Operation::kAppend:
      return ExecuteAppend(c, limits, view, reply);
    case Operation::kDelete:
      return ExecuteDelete(c, view, reply);
    case Operation::kCompareAndSwap:
      return ExecuteCompareAndSwap(c, limits, view, reply);
    case Operation::kRange:
      return ExecuteRange(c, limits, view, reply);
    case Operation::kNoOp:
    case Operation::kRegisterClient:
      break;
  }
  LOG(FATAL) << "ExecuteOperation called with session operation " << OperationName(c.op);
  return Status::Ok();
}

}  // namespace kvraft::statemachine
