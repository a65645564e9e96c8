#include "core/thrift_server.h"

#include <glog/logging.h>
#include <thrift/TOutput.h>
#include <thrift/concurrency/ThreadFactory.h>
#include <thrift/concurrency/ThreadManager.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/server/TNonblockingServer.h>
#include <thrift/transport/TNonblockingServerSocket.h>

#include <future>
#include <string_view>

#include "core/thread_name.h"

namespace kvraft::core {

using apache::thrift::concurrency::ThreadFactory;
using apache::thrift::concurrency::ThreadManager;
using apache::thrift::server::TNonblockingServer;

namespace {

// Tells Start() that the listener is up (or that serve() failed first).
class ReadySignal : public apache::thrift::server::TServerEventHandler {
 public:
  void preServe() override { ready_.set_value(); }
  std::future<void> future() { return ready_.get_future(); }

 private:
  std::promise<void> ready_;
};

}  // namespace

Status ThriftServer::Start(std::shared_ptr<apache::thrift::TProcessorFactory> processors,
                           const Options& options, std::unique_ptr<ThriftServer>* out) {
  std::unique_ptr<ThriftServer> s(new ThriftServer);
  s->options_ = options;
  auto socket = std::make_shared<apache::thrift::transport::TNonblockingServerSocket>(
      options.listen.host, options.listen.port);
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
  auto ready = std::make_shared<ReadySignal>();
  std::future<void> listening = ready->future();
  s->server_->setServerEventHandler(ready);

  auto failed = std::make_shared<std::promise<std::string>>();
  std::future<std::string> failure = failed->get_future();
  TNonblockingServer* server = s->server_.get();
  s->thread_ = std::thread([server, failed, name = options.name] {
    SetThreadName(name + "-io");
    try {
      server->serve();
    } catch (const std::exception& e) {
      failed->set_value(e.what());
    }
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
  server_->stop();
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
