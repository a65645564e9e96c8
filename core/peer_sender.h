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
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/cluster_config.h"
#include "raftlog/types.h"

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

 private:
  class Connection;
  void Run();
  // Opens a connection and says Hello; nullptr (logged) on failure.
  std::unique_ptr<Connection> Connect();

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
  bool stopping_ = false;            // under mu_
  uint64_t dropped_ = 0;             // under mu_: since the last report
};

}  // namespace kvraft::core
