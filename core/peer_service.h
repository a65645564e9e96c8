#pragma once
// The RaftService side of the peer links: one handler per incoming
// connection (Thrift's handler factory makes them), so that the Hello a
// connection opened with vouches for every Deliver on it.
#include <memory>

#include "RaftService.h"
#include "core/cluster_config.h"

namespace kvraft::core {

class Node;

class PeerHandlerFactory : public thrift::RaftServiceIfFactory {
 public:
  PeerHandlerFactory(const ClusterConfig& cluster, Node* node) : cluster_(cluster), node_(node) {}
  thrift::RaftServiceIf* getHandler(const apache::thrift::TConnectionInfo& info) override;
  void releaseHandler(thrift::RaftServiceIf* handler) override;

 private:
  const ClusterConfig& cluster_;
  Node* const node_;
};

}  // namespace kvraft::core
