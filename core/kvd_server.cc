#include "core/kvd_server.h"

#include <glog/logging.h>

#include <chrono>

#include "core/peer_service.h"

namespace kvraft::core {

Status KvdServer::Start(Options options, std::unique_ptr<KvdServer>* out) {
  std::unique_ptr<KvdServer> server(new KvdServer);
  Status s = Node::Open(options.node, &server->node_);
  if (!s.ok()) return s;
  Node* node = server->node_.get();
  const ClusterConfig& cluster = node->cluster();
  node->Start();

  ThriftServer::Options peer;
  peer.name = "peer";
  peer.listen = options.peerListen;
  peer.maxFrameBytes = options.maxPeerFrameBytes;
  peer.maxConnections = 4 * cluster.members.size() + 16;
  s = ThriftServer::Start(std::make_shared<thrift::RaftServiceProcessorFactory>(
                              std::make_shared<PeerHandlerFactory>(cluster, node)),
                          peer, &server->peerServer_);
  if (!s.ok()) return s;

  ThriftServer::Options client;
  client.name = "client";
  client.listen = options.clientListen;
  client.threadPerConnection = options.clientThreadPerConnection;
  client.workerThreads = options.clientThreads;
  client.maxFrameBytes = options.maxRequestBytes;
  client.maxConnections = options.maxConnections;
  s = ThriftServer::Start(std::make_shared<thrift::KvServiceProcessorFactory>(
                              std::make_shared<thrift::KvServiceIfSingletonFactory>(
                                  std::make_shared<KvServiceHandler>(node, options.service))),
                          client, &server->clientServer_);
  if (!s.ok()) return s;
  LOG(INFO) << "kvd node " << cluster.self << " is up";
  *out = std::move(server);
  return Status::Ok();
}

KvdServer::~KvdServer() { Shutdown(); }

void KvdServer::Shutdown() {
  if (!node_) return;
  const raft::NodeId self = node_->cluster().self;
  // Waiting calls are answered first, so that the handlers have returned
  // before the client service closes their connections.
  node_->BeginShutdown();
  if (clientServer_) {
    clientServer_->WaitIdle(std::chrono::milliseconds(2000));
    clientServer_->Stop();
  }
  if (peerServer_) peerServer_->Stop();
  node_->Stop();
  node_.reset();
  LOG(INFO) << "kvd node " << self << " stopped cleanly";
}

}  // namespace kvraft::core
