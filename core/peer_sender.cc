#include "core/peer_sender.h"

#include <glog/logging.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include <vector>

#include "RaftService.h"
#include "core/raft_wire.h"
#include "core/thread_name.h"

namespace kvraft::core {

using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TSocket;

class PeerSender::Connection {
 public:
  Connection(const Address& address, const Options& options)
      : socket_(std::make_shared<TSocket>(address.host, address.port)),
        transport_(std::make_shared<TFramedTransport>(socket_)),
        client_(std::make_shared<TBinaryProtocol>(transport_)) {
    socket_->setConnTimeout(static_cast<int>(options.connectTimeout.count()));
    socket_->setSendTimeout(static_cast<int>(options.ioTimeout.count()));
    socket_->setRecvTimeout(static_cast<int>(options.ioTimeout.count()));
    socket_->setNoDelay(true);
  }
  ~Connection() {
    try {
      transport_->close();
    } catch (const std::exception&) {
    }
  }
  void Open() { transport_->open(); }
  thrift::RaftServiceClient& client() { return client_; }

 private:
  std::shared_ptr<TSocket> socket_;
  std::shared_ptr<TFramedTransport> transport_;
  thrift::RaftServiceClient client_;
};

PeerSender::PeerSender(const ClusterConfig& cluster, raft::NodeId peer, const Options& options)
    : clusterId_(cluster.clusterId),
      self_(cluster.self),
      peer_(peer),
      address_(cluster.members.at(peer).raft),
      options_(options) {}

PeerSender::~PeerSender() { Stop(); }

void PeerSender::Start() {
  thread_ = std::thread([this] {
    SetThreadName("peer-to-" + std::to_string(peer_));
    Run();
  });
}

void PeerSender::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PeerSender::Send(const raft::Message& m) {
  const uint64_t bytes = m.ByteSize();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!connected_ || queuedBytes_ + bytes > options_.maxQueueBytes) {
      ++dropped_;
      return;
    }
    queue_.push_back(m);
    queuedBytes_ += bytes;
  }
  wake_.notify_one();
}

std::unique_ptr<PeerSender::Connection> PeerSender::Connect() {
  auto c = std::make_unique<Connection>(address_, options_);
  try {
    c->Open();
    thrift::HelloResponse hello;
    c->client().Hello(hello, clusterId_, static_cast<int64_t>(self_), static_cast<int64_t>(peer_));
    if (hello.code != thrift::HelloCode::OK) {
      LOG_EVERY_N(ERROR, 20) << "peer " << peer_ << " at " << address_.ToString()
                             << " refused this node: " << hello.message
                             << " (check --cluster_id, --node_id and --peers on both nodes)";
      return nullptr;
    }
  } catch (const std::exception& e) {
    VLOG(1) << "peer " << peer_ << " at " << address_.ToString() << ": cannot connect: " << e.what();
    return nullptr;
  }
  return c;
}

void PeerSender::Run() {
  auto backoff = options_.minBackoff;
  bool everConnected = false;
  while (true) {
    std::unique_ptr<Connection> c = Connect();
    if (!c) {
      std::unique_lock<std::mutex> lock(mu_);
      if (wake_.wait_for(lock, backoff, [&] { return stopping_; })) return;
      backoff = std::min(backoff * 2, options_.maxBackoff);
      continue;
    }
    backoff = options_.minBackoff;
    LOG(INFO) << "connected to peer " << peer_ << " at " << address_.ToString()
              << (everConnected ? " again" : "");
    everConnected = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      connected_ = true;
    }
    std::vector<raft::Message> taken;
    std::vector<thrift::RaftMessage> batch;
    while (true) {
      taken.clear();
      batch.clear();
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        uint64_t bytes = 0;
        while (!queue_.empty() &&
               (taken.empty() || bytes + queue_.front().ByteSize() <= options_.maxBatchBytes)) {
          const uint64_t size = queue_.front().ByteSize();
          bytes += size;
          queuedBytes_ -= size;
          taken.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        if (dropped_ > 0) {
          VLOG(1) << "peer " << peer_ << ": dropped " << dropped_ << " messages (queue full)";
          dropped_ = 0;
        }
      }
      // Converted outside the lock: the loop's Send() never waits on a copy.
      batch.reserve(taken.size());
      for (const raft::Message& m : taken) batch.push_back(ToWire(m));
      try {
        c->client().Deliver(clusterId_, static_cast<int64_t>(self_), batch);
      } catch (const std::exception& e) {
        LOG(WARNING) << "lost connection to peer " << peer_ << " at " << address_.ToString() << ": "
                     << e.what() << "; reconnecting";
        break;
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    connected_ = false;
    dropped_ += queue_.size();
    queue_.clear();
    queuedBytes_ = 0;
  }
}

}  // namespace kvraft::core
