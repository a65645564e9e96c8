// ThriftServer and the descriptors it opens: each is closed exactly once, by
// one owner. A second close of a number is harmless only while nothing else
// has opened that number since; in kvd, RocksDB's threads and the other
// connections open files all the time, so a second close can take away
// another module's file. This binary defines close() itself (an
// executable's definition takes precedence over libc's for every library)
// and counts the closes of numbers that were not open.
// The server is stopped as soon as Start() returns, which once lost the stop
// (Thrift makes the IO thread's wake-up pipe only after Start's signal) and
// left Stop() waiting forever: the ctest timeout is what fails then.
//
// The thread-per-connection shape has tests of its own: Thrift's per
// connection read budget, the connection limit, running out of
// descriptors, and a stop while a handler runs.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "RaftService.h"
#include "core/thrift_server.h"

namespace {
std::atomic<int> gClosesOfFreeNumbers{0};
}  // namespace

extern "C" int close(int fd) {
  const long r = ::syscall(SYS_close, fd);
  if (r != 0 && errno == EBADF) gClosesOfFreeNumbers.fetch_add(1);
  return static_cast<int>(r);
}

namespace kvraft::core {
namespace {

size_t OpenDescriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Connects `fd` to 127.0.0.1:port; true if someone accepted.
bool ConnectLoopback(int fd, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

// Whether a TCP connection to 127.0.0.1:port is accepted by someone.
bool Connects(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const bool ok = ConnectLoopback(fd, port);
  ::close(fd);
  return ok;
}

std::shared_ptr<thrift::RaftServiceProcessorFactory> NullProcessors() {
  return std::make_shared<thrift::RaftServiceProcessorFactory>(
      std::make_shared<thrift::RaftServiceIfSingletonFactory>(std::make_shared<thrift::RaftServiceNull>()));
}

// The three ways kvd serves: handlers on the IO thread (the peer server),
// on workers, and on a thread per connection (the client server).
struct Shape {
  bool threadPerConnection;
  size_t workerThreads;
};

class ThriftServerDescriptors : public ::testing::TestWithParam<Shape> {};

TEST_P(ThriftServerDescriptors, StopClosesEachOnceAndTheListenerEnds) {
  RouteThriftLogsToGlog();
  const size_t before = OpenDescriptors();
  gClosesOfFreeNumbers = 0;
  ThriftServer::Options o;
  o.name = "descriptor-test";
  o.listen = Address{"127.0.0.1", 0};
  o.threadPerConnection = GetParam().threadPerConnection;
  o.workerThreads = GetParam().workerThreads;
  std::unique_ptr<ThriftServer> server;
  ASSERT_TRUE(ThriftServer::Start(NullProcessors(), o, &server).ok());
  const int port = server->port();
  ASSERT_GT(port, 0);
  EXPECT_TRUE(Connects(port));  // a connection the server accepts and then closes
  server->Stop();
  server.reset();
  EXPECT_EQ(gClosesOfFreeNumbers.load(), 0)
      << "a descriptor was closed twice (or one that was never opened)";
  EXPECT_FALSE(Connects(port)) << "the listener outlived the server";
  EXPECT_EQ(OpenDescriptors(), before) << "descriptors left open after Stop";
}

INSTANTIATE_TEST_SUITE_P(Shapes, ThriftServerDescriptors,
                         ::testing::Values(Shape{false, 0}, Shape{false, 4}, Shape{true, 0}),
                         [](const ::testing::TestParamInfo<Shape>& info) {
                           return info.param.threadPerConnection
                                      ? std::string("ThreadPerConnection")
                                      : "Workers" + std::to_string(info.param.workerThreads);
                         });

TEST(ThriftServer, APortInUseIsAnErrorThatNamesTheAddressAndLeavesNothingOpen) {
  RouteThriftLogsToGlog();
  const size_t before = OpenDescriptors();
  gClosesOfFreeNumbers = 0;
  ThriftServer::Options o;
  o.name = "first";
  o.listen = Address{"127.0.0.1", 0};
  std::unique_ptr<ThriftServer> first;
  ASSERT_TRUE(ThriftServer::Start(NullProcessors(), o, &first).ok());
  const int port = first->port();

  o.name = "second";
  o.listen.port = port;
  o.workerThreads = 2;
  for (bool threadPerConnection : {false, true}) {
    o.threadPerConnection = threadPerConnection;
    std::unique_ptr<ThriftServer> second;
    const Status s = ThriftServer::Start(NullProcessors(), o, &second);
    EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
    EXPECT_NE(s.ToString().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << s.ToString();
    EXPECT_EQ(second, nullptr);
    EXPECT_TRUE(Connects(port)) << "the failed start disturbed the first server";
  }

  first.reset();
  EXPECT_EQ(gClosesOfFreeNumbers.load(), 0);
  EXPECT_EQ(OpenDescriptors(), before) << "descriptors left open";
}

// A RaftService that counts what it is given, and whose Hello can be held
// until the test lets it answer.
class CountingPeer : public thrift::RaftServiceIf {
 public:
  void Hello(thrift::HelloResponse& out, const std::string&, int64_t fromNode, int64_t) override {
    if (fromNode == kHeldHello) {
      helloStarted_.set_value();
      releaseHello_.wait();
    }
    out.code = thrift::HelloCode::OK;
    out.message = "hello " + std::to_string(fromNode);
  }
  void Deliver(const std::string& clusterId, int64_t, const std::vector<thrift::RaftMessage>&) override {
    bytes_ += clusterId.size();
  }

  static constexpr int64_t kHeldHello = 7;
  std::promise<void> helloStarted_;
  std::shared_future<void> releaseHello_;
  std::atomic<uint64_t> bytes_{0};
};

// A client connection, framed like kvd's.
struct Link {
  explicit Link(int port)
      : socket(std::make_shared<apache::thrift::transport::TSocket>("127.0.0.1", port)),
        framed(std::make_shared<apache::thrift::transport::TFramedTransport>(socket)),
        rpc(std::make_shared<apache::thrift::protocol::TBinaryProtocol>(framed)) {
    socket->setRecvTimeout(5000);
    framed->open();
  }
  std::string Hello(int64_t from) {
    thrift::HelloResponse r;
    rpc.Hello(r, "c", from, 1);
    return r.message;
  }
  std::shared_ptr<apache::thrift::transport::TSocket> socket;
  std::shared_ptr<apache::thrift::transport::TFramedTransport> framed;
  thrift::RaftServiceClient rpc;
};

std::unique_ptr<ThriftServer> StartThreaded(std::shared_ptr<CountingPeer> peer, size_t maxConnections) {
  RouteThriftLogsToGlog();
  ThriftServer::Options o;
  o.name = "threaded-test";
  o.listen = Address{"127.0.0.1", 0};
  o.threadPerConnection = true;
  o.maxFrameBytes = 2 << 20;
  o.maxConnections = maxConnections;
  std::unique_ptr<ThriftServer> server;
  const Status s = ThriftServer::Start(
      std::make_shared<thrift::RaftServiceProcessorFactory>(
          std::make_shared<thrift::RaftServiceIfSingletonFactory>(std::move(peer))),
      o, &server);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return server;
}

// Whether a new connection gets node `from`'s Hello answered, trying for
// about two seconds: a server frees places and resumes accepting on
// threads of its own.
bool ServedSoon(int port, int64_t from) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    try {
      Link link(port);
      if (link.Hello(from) == "hello " + std::to_string(from)) return true;
    } catch (const apache::thrift::transport::TTransportException&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return false;
}

// Thrift 0.17's threaded servers count every byte a connection reads
// against one 100 MiB budget and then drop it; a kvd client connection
// lives for days.
TEST(ThriftServerThreadPerConnection, OneConnectionCarriesMoreThanThriftsReadBudget) {
  auto peer = std::make_shared<CountingPeer>();
  std::unique_ptr<ThriftServer> server = StartThreaded(peer, 16);
  ASSERT_NE(server, nullptr);
  Link link(server->port());
  const std::string mebibyte(1 << 20, 'x');
  constexpr uint64_t kMessages = 120;  // past the 100 MiB default
  for (uint64_t i = 0; i < kMessages; ++i) link.rpc.Deliver(mebibyte, 1, {});
  EXPECT_EQ(link.Hello(1), "hello 1") << "the connection did not survive";
  EXPECT_EQ(peer->bytes_.load(), kMessages * mebibyte.size());
}

TEST(ThriftServerThreadPerConnection, AConnectionOverTheLimitIsClosedAndTheOthersGoOn) {
  auto peer = std::make_shared<CountingPeer>();
  std::unique_ptr<ThriftServer> server = StartThreaded(peer, 2);
  ASSERT_NE(server, nullptr);
  Link first(server->port());
  Link second(server->port());
  EXPECT_EQ(first.Hello(1), "hello 1");  // both are being served
  EXPECT_EQ(second.Hello(2), "hello 2");
  Link third(server->port());  // the kernel accepts it; the server closes it
  EXPECT_THROW(third.Hello(3), apache::thrift::transport::TTransportException);
  EXPECT_EQ(first.Hello(1), "hello 1");
  EXPECT_EQ(second.Hello(2), "hello 2");
  first.framed->close();
  // A place is free again once the first connection's thread has ended.
  EXPECT_TRUE(ServedSoon(server->port(), 4))
      << "a closed connection's place was never given to a new one";
}

// TThreadedServer stops accepting for good at the first accept that fails;
// out of descriptors, a node would then serve no client again until it
// restarts. It must pause instead, and serve once descriptors are free.
TEST(ThriftServerThreadPerConnection, RunningOutOfDescriptorsOnlyPausesAccepting) {
  auto peer = std::make_shared<CountingPeer>();
  std::unique_ptr<ThriftServer> server = StartThreaded(peer, 1024);
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  // Whatever fails below, the other tests get their descriptors back.
  struct Restore {
    rlimit normal{};
    std::vector<int> fds;
    ~Restore() {
      for (int fd : fds) ::close(fd);
      ::setrlimit(RLIMIT_NOFILE, &normal);
    }
  } restore;
  rlimit& normal = restore.normal;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &normal), 0);
  int highest = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    highest = std::max(highest, std::stoi(e.path().filename().string()));
  }
  rlimit tight = normal;
  tight.rlim_cur = static_cast<rlim_t>(highest + 1 + 16);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  // Three connections wait in the listener's backlog while every
  // descriptor is taken, so each accept of them fails (EMFILE).
  std::vector<int> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(::socket(AF_INET, SOCK_STREAM, 0));
    ASSERT_GE(clients.back(), 0);
    restore.fds.push_back(clients.back());
  }
  while (true) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    restore.fds.push_back(fd);
  }
  ASSERT_EQ(errno, EMFILE);
  for (int fd : clients) {
    ASSERT_TRUE(ConnectLoopback(fd, port));
    // The listener defers a connection (TCP_DEFER_ACCEPT) until it sends.
    ASSERT_EQ(::send(fd, "\0\0\0", 3, 0), 3);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // accepts fail meanwhile
  for (int fd : restore.fds) ::close(fd);
  restore.fds.clear();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &normal), 0);
  EXPECT_TRUE(ServedSoon(port, 5)) << "the server stopped accepting after running out of descriptors";
}

TEST(ThriftServerThreadPerConnection, StopLetsARunningCallAnswerFirst) {
  auto peer = std::make_shared<CountingPeer>();
  std::promise<void> release;
  peer->releaseHello_ = release.get_future().share();
  std::future<void> started = peer->helloStarted_.get_future();
  std::unique_ptr<ThriftServer> server = StartThreaded(peer, 16);
  ASSERT_NE(server, nullptr);
  Link link(server->port());
  std::future<std::string> answer =
      std::async(std::launch::async, [&] { return link.Hello(CountingPeer::kHeldHello); });
  ASSERT_EQ(started.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  std::thread stopper([&] { server->Stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // Stop is under way
  release.set_value();
  EXPECT_EQ(answer.get(), "hello 7");
  stopper.join();
  EXPECT_FALSE(Connects(server->port()));
}

}  // namespace
}  // namespace kvraft::core
