#pragma once
// LinkProxy: a TCP forwarder on loopback that stands for one direction of
// a peer link (node A's connections to node B). The fault tests point A's
// --peers entry for B at the proxy, so cutting the proxy cuts exactly
// A -> B: a partition without root, namespaces or packet filters.
//
// While cut, the proxy closes the connections it carries and closes new
// ones as soon as it accepts them, which a sender sees as a dead peer.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>

namespace kvraft::faults {

class LinkProxy {
 public:
  // Forwards to 127.0.0.1:targetPort; listens on an ephemeral loopback port.
  explicit LinkProxy(int targetPort);
  ~LinkProxy();
  LinkProxy(const LinkProxy&) = delete;
  LinkProxy& operator=(const LinkProxy&) = delete;

  int port() const { return port_; }
  void SetCut(bool cut) { cut_.store(cut); }
  bool cut() const { return cut_.load(); }
  uint64_t bytesForwarded() const { return bytes_.load(); }

 private:
  void Run();

  const int targetPort_;
  int listenFd_ = -1;
  int port_ = 0;
  int wakeFds_[2] = {-1, -1};  // a pipe that tells Run() to stop
  std::atomic<bool> cut_{false};
  std::atomic<uint64_t> bytes_{0};
  std::thread thread_;
};

}  // namespace kvraft::faults
