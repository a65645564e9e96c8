#pragma once
// The client library's connections to one kvraft node: a Thrift
// KvServiceClient over a framed socket (the node's TNonblockingServer
// speaks framed only), and a pool of idle ones per endpoint.
//
// A Thrift connection carries one call at a time, so a thread takes a
// connection out of the pool for its call and gives it back only if the
// call came back whole. A connection whose call threw may hold half a
// frame or a late reply; it is closed, never reused.
//
// A pool may be capped: then at most that many connections to the node are
// open at once, and calls beyond them wait their turn for one.
//
// The pool also holds the node's BatchQueue, where calls made at the same
// time gather to travel in one request, and its BatchPump, which does the
// same for calls no thread waits for.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "KvService.h"
#include "core/kv_batch_pump.h"
#include "core/kv_batch_queue.h"

namespace apache::thrift::transport {
class TSocket;
class TTransport;
}  // namespace apache::thrift::transport

namespace kvraft::client {

// "host:port", "[v6 address]:port". False if `endpoint` is neither.
bool SplitEndpoint(const std::string& endpoint, std::string* host, int* port);

class KvConnection {
 public:
  // Connects within `timeout`; throws apache::thrift::transport::TTransportException.
  KvConnection(const std::string& host, int port, std::chrono::milliseconds timeout);
  ~KvConnection();
  KvConnection(const KvConnection&) = delete;
  KvConnection& operator=(const KvConnection&) = delete;

  // Send and receive timeout of the next call. A call must not outlive its
  // caller's deadline, so each attempt sets what is left of it.
  void SetCallTimeout(std::chrono::milliseconds timeout);
  kvraft::thrift::KvServiceClient& rpc() { return rpc_; }

 private:
  std::shared_ptr<apache::thrift::transport::TSocket> socket_;
  std::shared_ptr<apache::thrift::transport::TTransport> transport_;
  kvraft::thrift::KvServiceClient rpc_;
  int callTimeoutMs_ = -1;  // what the socket is set to; -1: not yet set
};

class ConnectionPool {
 public:
  // `maxOpen`: most connections open at once, idle and in use together;
  // 0 for no limit (a connection per call in flight).
  explicit ConnectionPool(std::string endpoint, size_t maxOpen = 0,
                          BatchQueue::Limits batching = {});

  const std::string& endpoint() const { return endpoint_; }
  size_t maxOpen() const { return maxOpen_; }
  BatchQueue& batches() { return batches_; }
  // The node's pump, made by the first call with `send` (which every call
  // must pass alike: the first one's is kept).
  BatchPump& pump(const BatchQueue::Sender& send);

  // An idle connection if there is one (`*reused` = true), else a new one
  // connected within what is left of `timeout`. When `maxOpen` connections
  // are open and all in use, first waits up to `timeout` for one to come
  // back or close, and returns null if none does. Throws
  // TTransportException when the node cannot be reached (or the endpoint
  // is not host:port).
  std::unique_ptr<KvConnection> Take(std::chrono::milliseconds timeout, bool* reused);
  // Gives back a connection whose last call completed.
  void Return(std::unique_ptr<KvConnection> connection);
  // Closes a connection whose call failed, freeing its place for another.
  void Discard(std::unique_ptr<KvConnection> connection);
  // Closes the idle connections: after one failed, the others were most
  // likely cut by the same restart of the node.
  void DropIdle();

 private:
  // Enough for the calls a busy process keeps in flight to one node; more
  // are closed when they come back rather than held open forever.
  static constexpr size_t kMaxIdle = 64;

  // One connection fewer is open; wakes a call waiting for a place.
  void Closed();

  const std::string endpoint_;
  const size_t maxOpen_;
  std::string host_;
  int port_ = 0;
  bool valid_ = false;
  std::mutex mu_;
  std::condition_variable freed_;  // a connection came back idle, or one closed
  std::vector<std::unique_ptr<KvConnection>> idle_;
  // Connections made and not yet closed, idle or in use (counted whether
  // or not there is a cap). A place is taken before connecting, so
  // connects in progress count too.
  size_t open_ = 0;
  const BatchQueue::Limits batching_;
  BatchQueue batches_;
  std::unique_ptr<BatchPump> pump_;  // under mu_; destroyed first, as its threads use the pool
};

}  // namespace kvraft::client
