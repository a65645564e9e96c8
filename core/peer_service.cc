#include "core/peer_service.h"

#include <glog/logging.h>
#include <thrift/transport/TSocket.h>

#include "core/node.h"
#include "core/raft_wire.h"

namespace kvraft::core {
namespace {

class PeerHandler : public thrift::RaftServiceIf {
 public:
  PeerHandler(const ClusterConfig& cluster, Node* node, std::string remote)
      : cluster_(cluster), node_(node), remote_(std::move(remote)) {}

  void Hello(thrift::HelloResponse& out, const std::string& clusterId, int64_t fromNode,
             int64_t toNode) override {
    peer_ = raft::kNoNode;
    const auto from = static_cast<raft::NodeId>(fromNode);
    if (clusterId != cluster_.clusterId) {
      out.code = thrift::HelloCode::WRONG_CLUSTER;
      out.message = "node " + std::to_string(cluster_.self) + " belongs to cluster '" +
                    cluster_.clusterId + "', not '" + clusterId + "'";
    } else if (fromNode <= 0 || from == cluster_.self || !cluster_.members.count(from)) {
      out.code = thrift::HelloCode::UNKNOWN_NODE;
      out.message = "node id " + std::to_string(fromNode) + " is not a peer in node " +
                    std::to_string(cluster_.self) + "'s --peers";
    } else if (static_cast<raft::NodeId>(toNode) != cluster_.self) {
      out.code = thrift::HelloCode::WRONG_NODE;
      out.message = "this is node " + std::to_string(cluster_.self) + ", not node " + std::to_string(toNode);
    } else {
      out.code = thrift::HelloCode::OK;
      peer_ = from;
      VLOG(1) << "peer " << peer_ << " connected from " << remote_;
      return;
    }
    LOG(ERROR) << "refused a peer connection from " << remote_ << ": " << out.message;
  }

  void Deliver(const std::string& clusterId, int64_t fromNode,
               const std::vector<thrift::RaftMessage>& messages) override {
    if (peer_ == raft::kNoNode || clusterId != cluster_.clusterId ||
        static_cast<raft::NodeId>(fromNode) != peer_) {
      if (!complained_) {
        LOG(ERROR) << "dropping raft messages from " << remote_ << " (cluster '" << clusterId
                   << "', node " << fromNode
                   << "): the connection did not open with an accepted Hello for that node";
        complained_ = true;
      }
      return;
    }
    std::vector<raft::Message> batch;
    batch.reserve(messages.size());
    uint64_t bytes = 0;
    for (const thrift::RaftMessage& w : messages) {
      raft::Message m;
      // The generated handler hands out const messages; the copy is the
      // price of Thrift's interface.
      Status s = FromWire(thrift::RaftMessage(w), &m);
      if (s.ok() && (m.from != peer_ || m.to != cluster_.self)) {
        s = Status::InvalidArgument("message from node " + std::to_string(m.from) + " to node " +
                                    std::to_string(m.to) + " on node " + std::to_string(peer_) +
                                    "'s link to node " + std::to_string(cluster_.self));
      }
      if (!s.ok()) {
        LOG_EVERY_N(ERROR, 100) << "dropping a message from peer " << peer_ << ": " << s.ToString();
        continue;
      }
      bytes += m.ByteSize();
      batch.push_back(std::move(m));
    }
    if (!batch.empty()) node_->Deliver(std::move(batch), bytes);
  }

 private:
  const ClusterConfig& cluster_;
  Node* const node_;
  const std::string remote_;
  raft::NodeId peer_ = raft::kNoNode;  // set by an accepted Hello
  bool complained_ = false;
};

}  // namespace

thrift::RaftServiceIf* PeerHandlerFactory::getHandler(const apache::thrift::TConnectionInfo& info) {
  std::string remote = "an unknown address";
  if (auto socket = std::dynamic_pointer_cast<apache::thrift::transport::TSocket>(info.transport)) {
    remote = socket->getSocketInfo();
  }
  return new PeerHandler(cluster_, node_, remote);
}

void PeerHandlerFactory::releaseHandler(thrift::RaftServiceIf* handler) { delete handler; }

}  // namespace kvraft::core
