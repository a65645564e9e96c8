#pragma once
// FakeKvNode: a KvService on 127.0.0.1 whose answers each test scripts,
// served the way kvd serves it (core::ThriftServer: framed, binary), and
// which records every request it gets. With it the client's leader
// finding, retries and session numbering are checked without a cluster.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "KvService.h"

namespace kvraft::core {
class ThriftServer;
}

namespace kvraft::client::testing {

namespace wire = kvraft::thrift;

// How long a test waits for something that should happen at once before it
// fails instead of hanging.
inline constexpr std::chrono::seconds kPatience{10};

// A write as the node received it, whichever of the four RPCs carried it.
struct WriteCall {
  std::string method;  // "Put", "Append", "Delete", "CompareAndSwap"
  wire::Session session;
  std::string key;
  std::string value;
  std::optional<std::string> expected;  // CompareAndSwap only
};

// Opens once, stays open: lets a test hold handlers until it has seen what
// it needs to. Wait gives up after kPatience so that a broken test fails
// rather than hangs.
class Gate {
 public:
  void Open();
  bool Wait();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

class FakeKvNode {
 public:
  // The answers; set before Start(). Unset ones answer OK (Get: NOT_FOUND;
  // RegisterClient: ids 1, 2, 3, ...; Status: a leader with id nodeId).
  std::function<void(wire::RegisterClientResponse&)> onRegister;
  std::function<void(const WriteCall&, wire::WriteResponse&)> onWrite;
  std::function<void(const wire::GetRequest&, wire::GetResponse&)> onGet;
  std::function<void(const wire::RangeRequest&, wire::RangeResponse&)> onRange;
  std::function<void(wire::NodeStatus&)> onStatus;
  int64_t nodeId = 1;

  FakeKvNode();
  ~FakeKvNode();
  FakeKvNode(const FakeKvNode&) = delete;
  FakeKvNode& operator=(const FakeKvNode&) = delete;

  void Start();
  void Stop();
  std::string endpoint() const;  // "127.0.0.1:<port>"

  int registrations() const;
  std::vector<WriteCall> writes() const;
  std::vector<wire::GetRequest> gets() const;
  int ranges() const;
  // The number of ops in each Batch request, in arrival order (the ops
  // themselves are recorded like single calls).
  std::vector<size_t> batchSizes() const;
  // Connections the node has accepted.
  int connections() const;
  // True once `n` writes have arrived (not necessarily been answered).
  bool WaitForWrites(size_t n) const;

 private:
  class Service;
  friend class Service;

  mutable std::mutex mu_;
  mutable std::condition_variable arrived_;
  int registrations_ = 0;
  std::vector<WriteCall> writes_;
  std::vector<wire::GetRequest> gets_;
  int ranges_ = 0;
  std::vector<size_t> batchSizes_;
  int connections_ = 0;

  std::unique_ptr<core::ThriftServer> server_;
  int port_ = 0;
};

// A 127.0.0.1 port that refuses connections: bound, so no one else takes
// it during the test, but not listening.
class ClosedPort {
 public:
  ClosedPort();
  ~ClosedPort();
  std::string endpoint() const;

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace kvraft::client::testing
