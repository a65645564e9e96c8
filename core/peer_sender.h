#pragma once
// PeerSender: the link from this node to one peer. A thread of its own
// keeps one Thrift connection open (framed, binary), says Hello, and then
// streams batches of Raft messages as oneway Deliver calls, so many
// AppendEntries are in flight on the connection at once.
//
// Send() never blocks: a slow or dead peer only fills its own bounded
// queue, and messages for a peer that cannot be reached are dropped. Raft
// is built for lost messages (heartbeats and retries resend what matters),
// so dropping is always safe; blocking the loop would not be.
//
// A small message that finds the connection idle (nothing queued, nothing
// being written, and room in the socket's send buffer, so the kernel takes
// it at once) is written by the caller itself. At low load that saves two
// thread hand-offs per message, one on each side of a put's round.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/cluster_config.h"
#include "raftlog/types.h"

namespace kvraft::thrift {
class RaftMessage;
}

namespace kvraft::core {

class PeerSender {
 public:
  struct Options {
    // Bytes of messages queued for the peer; past this new ones are dropped.
    uint64_t maxQueueBytes = 64 << 20;
    // Bytes of messages in one Deliver call (one message may exceed it).
    uint64_t maxBatchBytes = 4 << 20;
    std::chrono::milliseconds connectTimeout{1000};
    // A send that cannot proceed this long (the peer stopped reading) drops
    // the connection.
    std::chrono::milliseconds ioTimeout{2000};
    // A message up to this size that finds the connection idle is written
    // by the caller of Send(); 0 sends everything from the thread.
    uint64_t directSendBytes = 8 << 10;
    // Between reconnection attempts: doubles from min to max.
    std::chrono::milliseconds minBackoff{20};
    std::chrono::milliseconds maxBackoff{1000};
  };

  PeerSender(const ClusterConfig& cluster, raft::NodeId peer, const Options& options);
  ~PeerSender();  // Stop()s
  PeerSender(const PeerSender&) = delete;
  PeerSender& operator=(const PeerSender&) = delete;

  void Start();
  void Stop();
  void Send(const raft::Message& m);
  // Messages the callers of Send() wrote themselves, since the start.
  uint64_t sentDirectly() const { return sentDirectly_.load(std::memory_order_relaxed); }

 private:
  class Connection;
  void Run();
  // Opens a connection and says Hello; nullptr (logged) on failure.
  std::unique_ptr<Connection> Connect();
  // Writes `m` on the connection from the caller's thread, if it may.
  bool TrySendDirectly(const raft::Message& m, uint64_t bytes);
  // One Deliver call; false (logged) if the connection broke.
  bool Deliver(Connection& c, const std::vector<thrift::RaftMessage>& batch);

  const std::string clusterId_;
  const raft::NodeId self_;
  const raft::NodeId peer_;
  const Address address_;
  const Options options_;
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<raft::Message> queue_;  // under mu_
  uint64_t queuedBytes_ = 0;         // under mu_
  bool connected_ = false;           // under mu_: queue only while connected
  // The open connection. Only the thread replaces it, under mu_ and while
  // no one writes on it, so the thread itself may use it without the lock.
  std::unique_ptr<Connection> connection_;
  bool writing_ = false;  // under mu_: a Deliver call is on the connection
  bool broken_ = false;   // under mu_: a direct send failed; reconnect
  bool stopping_ = false;            // under mu_
  uint64_t dropped_ = 0;             // under mu_: since the last report
  std::atomic<uint64_t> sentDirectly_{0};
};

}  // namespace kvraft::core
