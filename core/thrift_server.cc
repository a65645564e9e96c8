#include "core/thrift_server.h"

#include <glog/logging.h>
#include <thrift/TOutput.h>
#include <thrift/concurrency/ThreadFactory.h>
#include <thrift/concurrency/ThreadManager.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TNonblockingServer.h>
#include <thrift/transport/TNonblockingServerSocket.h>

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <string_view>

#include "core/thread_name.h"

namespace kvraft::core {

using apache::thrift::concurrency::ThreadFactory;
using apache::thrift::concurrency::ThreadManager;
using apache::thrift::server::TNonblockingServer;

namespace {

// Tells Start() that the listener is up (or that serve() failed first), and
// the owner of each connection taken on.
class ServerEvents : public apache::thrift::server::TServerEventHandler {
 public:
  explicit ServerEvents(std::function<void()> onConnection) : onConnection_(std::move(onConnection)) {}
  void preServe() override { ready_.set_value(); }
  void* createContext(std::shared_ptr<apache::thrift::protocol::TProtocol>,
                      std::shared_ptr<apache::thrift::protocol::TProtocol>) override {
    if (onConnection_) onConnection_();
    return nullptr;
  }
  std::future<void> future() { return ready_.get_future(); }

 private:
  std::function<void()> onConnection_;
  std::promise<void> ready_;
};

// The listening socket, with a descriptor of its own for the IO thread.
// Thrift 0.17 closes the descriptor getSocketFD() returns twice: once in
// ~TNonblockingIOThread (which it hands to the IO thread that accepts) and
// again in ~TNonblockingServerSocket. Between the two, another thread of the
// process (RocksDB, another node's connections) may have opened a file under
// that number, and the second close would take it away. Here each owner
// closes a number of its own: the IO thread a duplicate, the socket the
// original; the listener ends when both are closed.
class ListenSocket : public apache::thrift::transport::TNonblockingServerSocket {
 public:
  using TNonblockingServerSocket::TNonblockingServerSocket;

  THRIFT_SOCKET getSocketFD() override {
    const THRIFT_SOCKET own = TNonblockingServerSocket::getSocketFD();
    if (forIoThread_ < 0 && own >= 0) {
      forIoThread_ = ::fcntl(own, F_DUPFD_CLOEXEC, 0);
      if (forIoThread_ < 0)
        throw apache::thrift::transport::TTransportException(
            "cannot duplicate the listening descriptor: " + std::string(std::strerror(errno)));
    }
    return forIoThread_;
  }

 private:
  THRIFT_SOCKET forIoThread_ = -1;  // closed by the IO thread, never here
};

}  // namespace

Status ThriftServer::Start(std::shared_ptr<apache::thrift::TProcessorFactory> processors,
                           const Options& options, std::unique_ptr<ThriftServer>* out) {
  std::unique_ptr<ThriftServer> s(new ThriftServer);
  s->options_ = options;
  auto socket = std::make_shared<ListenSocket>(options.listen.host, options.listen.port);
  auto protocols = std::make_shared<apache::thrift::protocol::TBinaryProtocolFactory>();
  if (options.workerThreads > 0) {
    s->workers_ = ThreadManager::newSimpleThreadManager(options.workerThreads);
    s->workers_->threadFactory(std::make_shared<ThreadFactory>());
    s->workers_->start();
    s->server_ = std::make_shared<TNonblockingServer>(processors, protocols, socket, s->workers_);
  } else {
    s->server_ = std::make_shared<TNonblockingServer>(processors, protocols, socket);
  }
  s->server_->setMaxFrameSize(options.maxFrameBytes);
  s->server_->setMaxConnections(options.maxConnections);
  s->server_->setOverloadAction(apache::thrift::server::T_OVERLOAD_CLOSE_ON_ACCEPT);
  auto events = std::make_shared<ServerEvents>(options.onConnection);
  std::future<void> listening = events->future();
  s->server_->setServerEventHandler(events);

  auto failed = std::make_shared<std::promise<std::string>>();
  std::future<std::string> failure = failed->get_future();
  auto served = std::make_shared<std::promise<void>>();
  s->served_ = served->get_future();
  TNonblockingServer* server = s->server_.get();
  s->thread_ = std::thread([server, failed, served, name = options.name] {
    SetThreadName(name + "-io");
    try {
      server->serve();
    } catch (const std::exception& e) {
      failed->set_value(e.what());
    }
    served->set_value();
  });
  while (true) {
    if (listening.wait_for(std::chrono::milliseconds(10)) == std::future_status::ready) break;
    if (failure.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready) {
      s->thread_.join();
      if (s->workers_) s->workers_->stop();
      return Status::IOError("cannot serve " + options.name + " requests on " +
                             options.listen.ToString() + ": " + failure.get() +
                             " (is another process using the port?)");
    }
  }
  s->port_ = s->server_->getListenPort();
  LOG(INFO) << "serving " << options.name << " requests on " << options.listen.host << ":" << s->port_;
  *out = std::move(s);
  return Status::Ok();
}

ThriftServer::~ThriftServer() { Stop(); }

void ThriftServer::WaitIdle(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (server_ && server_->getNumActiveProcessors() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void ThriftServer::Stop() {
  if (!server_) return;
  // Thrift drops a stop() that comes before the IO thread has made the pipe
  // it is woken through, which happens just after preServe (when Start()
  // returns): so it is repeated until serve() has returned.
  if (served_.valid()) {
    do {
      server_->stop();
    } while (served_.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready);
  }
  if (thread_.joinable()) thread_.join();
  if (workers_) workers_->stop();
  server_.reset();
  workers_.reset();
}

void RouteThriftLogsToGlog() {
  apache::thrift::GlobalOutput.setOutputFunction([](const char* message) {
    const std::string_view m(message);
    // Start-up chatter, and connection failures that PeerSender already
    // reports in its own words.
    const bool routine = m.find("Serving with") != m.npos || m.find("using libevent") != m.npos ||
                         m.find("registered for") != m.npos || m.find("TSocket::open()") != m.npos ||
                         m.find("IO thread #") != m.npos;
    if (routine) {
      VLOG(1) << "thrift: " << m;
    } else {
      LOG(WARNING) << "thrift: " << m;
    }
  });
}

}  // namespace kvraft::core
