#pragma once
// ThriftLink: one connection to a kvd port with a generated Thrift client on
// it (TSocket + TFramedTransport + TBinaryProtocol, as kvd serves), for tests
// that must control exactly which connection carries what: the KvClient
// library pools and replaces connections on its own. Unlike the library's
// KvConnection (core/kv_connection.h) it serves either port (KvService or
// RaftService) and lends out its transport and protocol, so that a test can
// write messages by hand.
#include <chrono>
#include <memory>
#include <string>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include "KvService.h"
#include "RaftService.h"
#include "core/kv_connection.h"

namespace kvraft::integration {

template <class Client>
class ThriftLink {
 public:
  // Connects; throws apache::thrift::TException if it cannot. `timeout`
  // bounds the connect and every send and receive.
  ThriftLink(const std::string& endpoint, std::chrono::milliseconds timeout) {
    std::string host;
    int port = 0;
    if (!kvraft::client::SplitEndpoint(endpoint, &host, &port)) {
      throw apache::thrift::TException("not a host:port: '" + endpoint + "'");
    }
    socket_ = std::make_shared<apache::thrift::transport::TSocket>(host, port);
    const int ms = static_cast<int>(timeout.count());
    socket_->setConnTimeout(ms);
    socket_->setSendTimeout(ms);
    socket_->setRecvTimeout(ms);
    socket_->setNoDelay(true);
    transport_ = std::make_shared<apache::thrift::transport::TFramedTransport>(socket_);
    protocol_ = std::make_shared<apache::thrift::protocol::TBinaryProtocol>(transport_);
    client_ = std::make_unique<Client>(protocol_);
    transport_->open();
  }
  ~ThriftLink() {
    try {
      transport_->close();
    } catch (const std::exception&) {
    }
  }
  ThriftLink(const ThriftLink&) = delete;
  ThriftLink& operator=(const ThriftLink&) = delete;

  Client* operator->() { return client_.get(); }
  Client& client() { return *client_; }
  // For hand-written messages (a method the service does not have).
  apache::thrift::protocol::TBinaryProtocol& protocol() { return *protocol_; }
  apache::thrift::transport::TFramedTransport& transport() { return *transport_; }

 private:
  std::shared_ptr<apache::thrift::transport::TSocket> socket_;
  std::shared_ptr<apache::thrift::transport::TFramedTransport> transport_;
  std::shared_ptr<apache::thrift::protocol::TBinaryProtocol> protocol_;
  std::unique_ptr<Client> client_;
};

using KvLink = ThriftLink<kvraft::thrift::KvServiceClient>;
using RaftLink = ThriftLink<kvraft::thrift::RaftServiceClient>;

// One KvService.Status call on a fresh connection; false (and *error says
// why, if given) when the node does not answer within `timeout`.
bool QueryStatus(const std::string& endpoint, std::chrono::milliseconds timeout,
                 kvraft::thrift::NodeStatus* out, std::string* error = nullptr);

}  // namespace kvraft::integration
