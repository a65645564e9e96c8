#include "core/peer_sender.h"

#include <glog/logging.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include <linux/sock_diag.h>
#include <sys/socket.h>

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
  // True when the kernel will take `bytes` more without waiting: a send
  // blocks only while the socket's queued memory (unsent and unacknowledged
  // data, with its buffers' overhead) is over its send buffer. Acknowledged
  // bytes do not count, so this does not wait for the peer's delayed ACKs.
  bool TakesWithoutBlocking(uint64_t bytes) const {
    uint32_t info[SK_MEMINFO_VARS] = {};
    socklen_t length = sizeof(info);
    if (getsockopt(socket_->getSocketFD(), SOL_SOCKET, SO_MEMINFO, info, &length) != 0) return false;
    if (length < sizeof(uint32_t) * (SK_MEMINFO_WMEM_QUEUED + 1)) return false;
    // Room for the data and a generous allowance for its buffer's overhead.
    constexpr uint64_t kOverhead = 16 << 10;
    return uint64_t{info[SK_MEMINFO_WMEM_QUEUED]} + bytes + kOverhead <= info[SK_MEMINFO_SNDBUF];
  }
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
  if (TrySendDirectly(m, bytes)) return;
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

bool PeerSender::TrySendDirectly(const raft::Message& m, uint64_t bytes) {
  if (bytes > options_.directSendBytes) return false;
  Connection* c = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // An empty queue and no write in progress keep the messages in order.
    if (!connected_ || broken_ || writing_ || !queue_.empty() || !connection_->TakesWithoutBlocking(bytes)) {
      return false;
    }
    writing_ = true;
    c = connection_.get();
  }
  std::vector<thrift::RaftMessage> batch;
  batch.push_back(ToWire(m));
  const bool ok = Deliver(*c, batch);
  if (ok) sentDirectly_.fetch_add(1, std::memory_order_relaxed);
  bool wakeThread = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) broken_ = true;
    // The thread sleeps through a direct send unless it has work.
    wakeThread = !ok || stopping_ || !queue_.empty();
  }
  if (wakeThread) wake_.notify_all();
  return true;
}

bool PeerSender::Deliver(Connection& c, const std::vector<thrift::RaftMessage>& batch) {
  try {
    c.client().Deliver(clusterId_, static_cast<int64_t>(self_), batch);
    return true;
  } catch (const std::exception& e) {
    LOG(WARNING) << "lost connection to peer " << peer_ << " at " << address_.ToString() << ": "
                 << e.what() << "; reconnecting";
    return false;
  }
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
      connection_ = std::move(c);
      connected_ = true;
      broken_ = false;
    }
    std::vector<raft::Message> taken;
    std::vector<thrift::RaftMessage> batch;
    while (true) {
      taken.clear();
      batch.clear();
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return stopping_ || broken_ || (!queue_.empty() && !writing_); });
        if (stopping_ || broken_) break;
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
        writing_ = true;
      }
      // Converted and written outside the lock: Send() never waits on them.
      batch.reserve(taken.size());
      for (const raft::Message& m : taken) batch.push_back(ToWire(m));
      const bool ok = Deliver(*connection_, batch);
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) break;
    }
    std::unique_lock<std::mutex> lock(mu_);
    // A direct send may still be writing on the connection.
    wake_.wait(lock, [&] { return !writing_; });
    connected_ = false;
    connection_.reset();
    dropped_ += queue_.size();
    queue_.clear();
    queuedBytes_ = 0;
    if (stopping_) return;
  }
}

}  // namespace kvraft::core
