#pragma once
// ThriftServer: one listening Thrift service of kvd (framed transport,
// binary protocol), in one of two shapes:
//
//  - TNonblockingServer: an IO thread reads every connection and hands each
//    request to a worker (or runs it itself, for handlers that never block).
//    A stalled connection costs a buffer, not a thread. The peer service.
//  - TThreadedServer (threadPerConnection): each connection has a thread
//    that reads a request, runs the handler and writes the answer itself.
//    A call that blocks until its command is applied then crosses no
//    thread besides the Raft loop; through an IO thread and a worker it
//    crosses two more on the way in and out. The client service.
//
// Thrift 0.17 counts every byte a transport reads against one 100 MiB
// budget per connection and drops the connection when it runs out
// (THRIFT-5492); TNonblockingServer reads each request into a fresh buffer,
// and the threaded shape starts each frame with a fresh budget, so the
// limit applies per message in both.
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
class TServer;
class TNonblockingServer;
}
}  // namespace apache::thrift

namespace kvraft::core {

class ThriftServer {
 public:
  struct Options {
    std::string name;  // for logs: "peer" or "client"
    Address listen;
    // A thread for each connection instead of an IO thread (and workers).
    bool threadPerConnection = false;
    // Without threadPerConnection: handlers that block (client calls wait
    // for the log) run on this many worker threads; 0 runs them on the IO
    // thread (they must not block).
    size_t workerThreads = 0;
    // A request frame over this is refused by closing the connection.
    size_t maxFrameBytes = 16 << 20;
    // Connections beyond this are closed as they arrive.
    size_t maxConnections = 1024;
    // Called for each connection taken on, on the thread that will serve
    // it; must not block.
    std::function<void()> onConnection;
  };

  // Binds and starts serving; InvalidArgument/IOError (address in use, ...)
  // if it cannot listen.
  static Status Start(std::shared_ptr<apache::thrift::TProcessorFactory> processors,
                      const Options& options, std::unique_ptr<ThriftServer>* out);
  ~ThriftServer();  // Stop()s

  // Waits (at most `limit`) until no handler is running. (With a thread per
  // connection, Stop() itself lets running handlers answer first.)
  void WaitIdle(std::chrono::milliseconds limit);
  // Closes the listener and every connection, and joins the threads.
  void Stop();
  int port() const { return port_; }

 private:
  ThriftServer() = default;

  std::shared_ptr<apache::thrift::concurrency::ThreadManager> workers_;
  std::shared_ptr<apache::thrift::server::TServer> server_;
  apache::thrift::server::TNonblockingServer* nonblocking_ = nullptr;  // in server_, if that shape
  std::thread thread_;
  std::future<void> served_;  // ready once serve() has returned
  int port_ = 0;
};

// Routes Thrift's own diagnostics (refused frames, broken connections) to
// glog, where the rest of kvd's log goes.
void RouteThriftLogsToGlog();

}  // namespace kvraft::core
