#include "core/thrift_server.h"

#include <glog/logging.h>
#include <thrift/TOutput.h>
#include <thrift/concurrency/ThreadFactory.h>
#include <thrift/concurrency/ThreadManager.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TNonblockingServer.h>
#include <thrift/server/TThreadedServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TNonblockingServerSocket.h>
#include <thrift/transport/TServerSocket.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <string_view>
#include <thread>

#include "core/thread_name.h"

namespace kvraft::core {

using apache::thrift::concurrency::ThreadFactory;
using apache::thrift::concurrency::ThreadManager;
using apache::thrift::server::TNonblockingServer;
using apache::thrift::server::TThreadedServer;

namespace {

// Tells Start() that the listener is up (or that serve() failed first), and
// the owner of each connection taken on.
class ServerEvents : public apache::thrift::server::TServerEventHandler {
 public:
  // `connectionThread`: a name for the thread of each connection ("": the
  // connections share threads, which are named elsewhere).
  ServerEvents(std::function<void()> onConnection, std::string connectionThread)
      : onConnection_(std::move(onConnection)), connectionThread_(std::move(connectionThread)) {}
  void preServe() override { ready_.set_value(); }
  void* createContext(std::shared_ptr<apache::thrift::protocol::TProtocol>,
                      std::shared_ptr<apache::thrift::protocol::TProtocol>) override {
    if (!connectionThread_.empty()) SetThreadName(connectionThread_);
    if (onConnection_) onConnection_();
    return nullptr;
  }
  std::future<void> future() { return ready_.get_future(); }

 private:
  std::function<void()> onConnection_;
  const std::string connectionThread_;
  std::promise<void> ready_;
};

// A framed transport whose read budget starts afresh with every frame, so
// that a long-lived connection is limited per message (the frame size),
// not by the total it has ever received (THRIFT-5492).
class FramePerBudgetTransport : public apache::thrift::transport::TFramedTransport {
 public:
  using TFramedTransport::TFramedTransport;

 protected:
  bool readFrame() override {
    resetConsumedMessageSize();
    return TFramedTransport::readFrame();
  }
};

class FramePerBudgetFactory : public apache::thrift::transport::TTransportFactory {
 public:
  explicit FramePerBudgetFactory(size_t maxFrameBytes) : maxFrameBytes_(maxFrameBytes) {}
  std::shared_ptr<apache::thrift::transport::TTransport> getTransport(
      std::shared_ptr<apache::thrift::transport::TTransport> socket) override {
    auto framed = std::make_shared<FramePerBudgetTransport>(std::move(socket));
    framed->setMaxFrameSize(static_cast<uint32_t>(maxFrameBytes_));
    return framed;
  }

 private:
  const size_t maxFrameBytes_;
};

// The threaded shape's listener. A connection that arrives while
// `maxConnections` are open is closed at once, as TNonblockingServer's
// T_OVERLOAD_CLOSE_ON_ACCEPT does, rather than left waiting in the backlog
// for a thread. A failed accept (out of descriptors, say) is retried:
// TThreadedServer would otherwise stop serving for good on the first one.
class LimitedServerSocket : public apache::thrift::transport::TServerSocket {
 public:
  LimitedServerSocket(const std::string& host, int port, size_t maxConnections, std::string name)
      : TServerSocket(host, port), maxConnections_(maxConnections), name_(std::move(name)) {}
  // The number of open connections; set before serve().
  void countOpen(std::function<int64_t()> open) { open_ = std::move(open); }

 protected:
  std::shared_ptr<apache::thrift::transport::TTransport> acceptImpl() override {
    using apache::thrift::transport::TTransportException;
    while (true) {
      std::shared_ptr<apache::thrift::transport::TTransport> c;
      try {
        c = TServerSocket::acceptImpl();
      } catch (const TTransportException& e) {
        // Stop()'s interrupt, and the timeouts the server itself retries.
        if (e.getType() != TTransportException::UNKNOWN) throw;
        LOG_EVERY_T(ERROR, 10) << "cannot accept " << name_ << " connections: " << e.what()
                               << "; retrying until it can (check the open file limit, ulimit -n)";
        std::this_thread::sleep_for(std::chrono::milliseconds(kAcceptRetryMs));
        continue;
      }
      if (!open_ || open_() < static_cast<int64_t>(maxConnections_)) return c;
      LOG_EVERY_N(WARNING, 100) << "closed a new " << name_ << " connection: " << maxConnections_
                                << " are open already";
      c->close();
    }
  }

 private:
  static constexpr int kAcceptRetryMs = 20;
  const size_t maxConnections_;
  const std::string name_;
  std::function<int64_t()> open_;
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

constexpr int kThreadedSendTimeoutMs = 10000;

// The port the threaded shape's listener is bound to (asked for 0: the
// kernel's choice).
int BoundPort(apache::thrift::server::TServer& server) {
  const THRIFT_SOCKET fd = server.getServerTransport()->getSocketFD();
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

}  // namespace

Status ThriftServer::Start(std::shared_ptr<apache::thrift::TProcessorFactory> processors,
                           const Options& options, std::unique_ptr<ThriftServer>* out) {
  std::unique_ptr<ThriftServer> s(new ThriftServer);
  auto protocols = std::make_shared<apache::thrift::protocol::TBinaryProtocolFactory>();
  auto events = std::make_shared<ServerEvents>(options.onConnection,
                                               options.threadPerConnection ? options.name + "-conn" : "");
  std::future<void> listening = events->future();
  if (options.threadPerConnection) {
    auto socket = std::make_shared<LimitedServerSocket>(options.listen.host, options.listen.port,
                                                        options.maxConnections, options.name);
    // A client that stops reading would hold its thread, and Stop(), for
    // ever; past this its connection is closed instead.
    socket->setSendTimeout(kThreadedSendTimeoutMs);
    auto server = std::make_shared<TThreadedServer>(
        processors, socket, std::make_shared<FramePerBudgetFactory>(options.maxFrameBytes), protocols);
    socket->countOpen([server = server.get()] { return server->getConcurrentClientCount(); });
    s->server_ = server;
  } else {
    auto socket = std::make_shared<ListenSocket>(options.listen.host, options.listen.port);
    if (options.workerThreads > 0) {
      s->workers_ = ThreadManager::newSimpleThreadManager(options.workerThreads);
      s->workers_->threadFactory(std::make_shared<ThreadFactory>());
      s->workers_->start();
      s->nonblocking_ = new TNonblockingServer(processors, protocols, socket, s->workers_);
    } else {
      s->nonblocking_ = new TNonblockingServer(processors, protocols, socket);
    }
    s->server_.reset(s->nonblocking_);
    s->nonblocking_->setMaxFrameSize(options.maxFrameBytes);
    s->nonblocking_->setMaxConnections(options.maxConnections);
    s->nonblocking_->setOverloadAction(apache::thrift::server::T_OVERLOAD_CLOSE_ON_ACCEPT);
  }
  s->server_->setServerEventHandler(events);

  auto failed = std::make_shared<std::promise<std::string>>();
  std::future<std::string> failure = failed->get_future();
  auto served = std::make_shared<std::promise<void>>();
  s->served_ = served->get_future();
  apache::thrift::server::TServer* server = s->server_.get();
  const std::string threadName = options.name + (options.threadPerConnection ? "-accept" : "-io");
  s->thread_ = std::thread([server, failed, served, threadName] {
    SetThreadName(threadName);
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
  s->port_ = s->nonblocking_ != nullptr ? s->nonblocking_->getListenPort() : BoundPort(*s->server_);
  LOG(INFO) << "serving " << options.name << " requests on " << options.listen.host << ":" << s->port_;
  *out = std::move(s);
  return Status::Ok();
}

ThriftServer::~ThriftServer() { Stop(); }

void ThriftServer::WaitIdle(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (nonblocking_ != nullptr && nonblocking_->getNumActiveProcessors() > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void ThriftServer::Stop() {
  if (!server_) return;
  // Thrift drops a stop() that comes before the IO thread has made the pipe
  // it is woken through, which happens just after preServe (when Start()
  // returns): so it is repeated until serve() has returned. The threaded
  // shape interrupts its connections' reads; a handler that is running
  // writes its answer first, and serve() returns once every connection's
  // thread has ended.
  if (served_.valid()) {
    if (nonblocking_ == nullptr) {
      // Its listener made the interrupt it is stopped through before
      // preServe; once serve() is done with it, it is closed.
      server_->stop();
    } else {
      do {
        server_->stop();
      } while (served_.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready);
    }
  }
  if (thread_.joinable()) thread_.join();
  if (workers_) workers_->stop();
  nonblocking_ = nullptr;
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
                         m.find("IO thread #") != m.npos ||
                         // A failed accept, which the threaded listener reports itself.
                         m.find("TServerSocket::acceptImpl()") != m.npos;
    if (routine) {
      VLOG(1) << "thrift: " << m;
    } else {
      LOG(WARNING) << "thrift: " << m;
    }
  });
}

}  // namespace kvraft::core
