#pragma once
// KvdServer: a whole kvd node in one object: the Node, the peer service and
// the client service. kvd's main() builds one from its flags; tests build
// several in one process (so the sanitizer builds see the concurrent code).
#include <memory>

#include "core/kv_service.h"
#include "core/node.h"
#include "core/thrift_server.h"

namespace kvraft::core {

class KvdServer {
 public:
  struct Options {
    Node::Options node;
    KvServiceHandler::Options service;
    Address peerListen;    // where peers connect (usually the node's --peers address)
    Address clientListen;  // where clients connect
    // Each client connection on a thread of its own; otherwise one IO thread
    // reads them all and hands calls to clientThreads workers.
    bool clientThreadPerConnection = true;
    size_t clientThreads = 32;
    size_t maxRequestBytes = 2 << 20;
    size_t maxPeerFrameBytes = 64 << 20;
    size_t maxConnections = 1024;
  };

  // Opens the stores, starts the node and both services. A non-OK status
  // says what could not be done; nothing keeps running then.
  static Status Start(Options options, std::unique_ptr<KvdServer>* out);
  ~KvdServer();  // Shutdown()s

  // The clean stop: waiting calls are answered UNAVAILABLE, the services
  // close, the node stops and its stores are closed (the kv state flushed).
  void Shutdown();

  Node& node() { return *node_; }

 private:
  KvdServer() = default;

  std::unique_ptr<Node> node_;
  std::unique_ptr<ThriftServer> peerServer_;
  std::unique_ptr<ThriftServer> clientServer_;
};

}  // namespace kvraft::core
