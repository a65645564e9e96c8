#pragma once
// ThriftServer: one listening Thrift service of kvd, on TNonblockingServer
// (framed transport, binary protocol). TNonblockingServer hands each request
// to the protocol in a memory buffer of its own, so Thrift 0.17's read
// budget (THRIFT-5492: threaded servers drop a connection after ~100 MiB
// received) applies per message, not per connection; and a stalled peer
// costs a buffer, not a thread.
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "core/cluster_config.h"
#include "raftlog/status.h"

namespace apache::thrift {
class TProcessorFactory;
namespace concurrency {
class ThreadManager;
}
namespace server {
class TNonblockingServer;
}
}  // namespace apache::thrift

namespace kvraft::core {

class ThriftServer {
 public:
  struct Options {
    std::string name;  // for logs: "peer" or "client"
    Address listen;
    // Handlers that block (client calls wait for the log) run on this many
    // worker threads; 0 runs them on the IO thread (they must not block).
    size_t workerThreads = 0;
    // A request frame over this is refused by closing the connection.
    size_t maxFrameBytes = 16 << 20;
    // Connections beyond this are closed as they arrive.
    size_t maxConnections = 1024;
    // Called on the IO thread for each connection it takes on; must not block.
    std::function<void()> onConnection;
  };

  // Binds and starts serving; InvalidArgument/IOError (address in use, ...)
  // if it cannot listen.
  static Status Start(std::shared_ptr<apache::thrift::TProcessorFactory> processors,
                      const Options& options, std::unique_ptr<ThriftServer>* out);
  ~ThriftServer();  // Stop()s

  // Waits (at most `limit`) until no handler is running.
  void WaitIdle(std::chrono::milliseconds limit);
  // Closes the listener and every connection, and joins the threads.
  void Stop();
  int port() const { return port_; }

 private:
  ThriftServer() = default;

  Options options_;
  std::shared_ptr<apache::thrift::concurrency::ThreadManager> workers_;
  std::shared_ptr<apache::thrift::server::TNonblockingServer> server_;
  std::thread thread_;
  std::future<void> served_;  // ready once serve() has returned
  int port_ = 0;
};

// Routes Thrift's own diagnostics (refused frames, broken connections) to
// glog, where the rest of kvd's log goes.
void RouteThriftLogsToGlog();

}  // namespace kvraft::core
