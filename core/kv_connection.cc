#include "core/kv_connection.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <utility>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>
#include <thrift/transport/TTransportException.h>

namespace kvraft::client {

using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TSocket;
using apache::thrift::transport::TTransportException;

namespace {

int Milliseconds(std::chrono::milliseconds d) {
  // A zero timeout means "wait forever" to the socket: never hand it one.
  return static_cast<int>(std::clamp<int64_t>(d.count(), 1, INT32_MAX));
}

}  // namespace

bool SplitEndpoint(const std::string& endpoint, std::string* host, int* port) {
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == endpoint.size()) return false;
  std::string h = endpoint.substr(0, colon);
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string::npos) {
    return false;  // an IPv6 address needs brackets to tell it from the port
  }
  int p = 0;
  const char* first = endpoint.data() + colon + 1;
  const char* last = endpoint.data() + endpoint.size();
  auto [end, ec] = std::from_chars(first, last, p);
  if (ec != std::errc() || end != last || p <= 0 || p > 65535) return false;
  *host = std::move(h);
  *port = p;
  return true;
}

KvConnection::KvConnection(const std::string& host, int port, std::chrono::milliseconds timeout)
    : socket_(std::make_shared<TSocket>(host, port)),
      transport_(std::make_shared<TFramedTransport>(socket_)),
      rpc_(std::make_shared<TBinaryProtocol>(transport_)) {
  socket_->setConnTimeout(Milliseconds(timeout));
  // Requests are small and answered one at a time: Nagle would only delay them.
  socket_->setNoDelay(true);
  SetCallTimeout(timeout);
  transport_->open();
}

KvConnection::~KvConnection() {
  try {
    transport_->close();
  } catch (const apache::thrift::TException&) {
    // Closing a broken socket has nothing left to report.
  }
}

void KvConnection::SetCallTimeout(std::chrono::milliseconds timeout) {
  const int ms = Milliseconds(timeout);
  if (ms == callTimeoutMs_) return;
  socket_->setSendTimeout(ms);
  socket_->setRecvTimeout(ms);
  callTimeoutMs_ = ms;
}

ConnectionPool::ConnectionPool(std::string endpoint, size_t maxOpen, BatchQueue::Limits batching)
    : endpoint_(std::move(endpoint)), maxOpen_(maxOpen), batching_(batching), batches_(batching) {
  valid_ = SplitEndpoint(endpoint_, &host_, &port_);
}

BatchPump& ConnectionPool::pump(const BatchQueue::Sender& send) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pump_ == nullptr) pump_ = std::make_unique<BatchPump>(batching_, send);
  return *pump_;
}

std::unique_ptr<KvConnection> ConnectionPool::Take(std::chrono::milliseconds timeout, bool* reused) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (!idle_.empty()) {
        std::unique_ptr<KvConnection> c = std::move(idle_.back());
        idle_.pop_back();
        *reused = true;
        return c;
      }
      if (maxOpen_ == 0 || open_ < maxOpen_) break;
      if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= maxOpen_) {
        return nullptr;
      }
    }
    ++open_;
  }
  *reused = false;
  if (!valid_) {
    Closed();
    throw TTransportException(TTransportException::BAD_ARGS,
                              "\"" + endpoint_ + "\" is not host:port");
  }
  try {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return std::make_unique<KvConnection>(host_, port_, left);
  } catch (...) {
    Closed();
    throw;
  }
}

void ConnectionPool::Return(std::unique_ptr<KvConnection> connection) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdle) {
      idle_.push_back(std::move(connection));
      freed_.notify_one();
      return;
    }
  }
  // One too many: closed here, outside the lock.
  connection.reset();
  Closed();
}

void ConnectionPool::Discard(std::unique_ptr<KvConnection> connection) {
  connection.reset();
  Closed();
}

void ConnectionPool::DropIdle() {
  std::vector<std::unique_ptr<KvConnection>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(idle_);
    open_ -= dropped.size();
  }
  // Closed here, outside the lock.
  dropped.clear();
  freed_.notify_all();
}

void ConnectionPool::Closed() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
  }
  freed_.notify_one();
}

}  // namespace kvraft::client
