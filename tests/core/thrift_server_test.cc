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
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <memory>

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

// Whether a TCP connection to 127.0.0.1:port is accepted by someone.
bool Connects(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::shared_ptr<thrift::RaftServiceProcessorFactory> NullProcessors() {
  return std::make_shared<thrift::RaftServiceProcessorFactory>(
      std::make_shared<thrift::RaftServiceIfSingletonFactory>(std::make_shared<thrift::RaftServiceNull>()));
}

class ThriftServerDescriptors : public ::testing::TestWithParam<size_t> {};

TEST_P(ThriftServerDescriptors, StopClosesEachOnceAndTheListenerEnds) {
  RouteThriftLogsToGlog();
  const size_t before = OpenDescriptors();
  gClosesOfFreeNumbers = 0;
  ThriftServer::Options o;
  o.name = "descriptor-test";
  o.listen = Address{"127.0.0.1", 0};
  o.workerThreads = GetParam();
  std::unique_ptr<ThriftServer> server;
  ASSERT_TRUE(ThriftServer::Start(NullProcessors(), o, &server).ok());
  const int port = server->port();
  EXPECT_TRUE(Connects(port));  // a connection the server accepts and then closes
  server->Stop();
  server.reset();
  EXPECT_EQ(gClosesOfFreeNumbers.load(), 0)
      << "a descriptor was closed twice (or one that was never opened)";
  EXPECT_FALSE(Connects(port)) << "the listener outlived the server";
  EXPECT_EQ(OpenDescriptors(), before) << "descriptors left open after Stop";
}

// 0: handlers on the IO thread (the peer server); 4: on workers (the client server).
INSTANTIATE_TEST_SUITE_P(Workers, ThriftServerDescriptors, ::testing::Values(0, 4));

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
  std::unique_ptr<ThriftServer> second;
  const Status s = ThriftServer::Start(NullProcessors(), o, &second);
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  EXPECT_NE(s.ToString().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << s.ToString();
  EXPECT_EQ(second, nullptr);
  EXPECT_TRUE(Connects(port)) << "the failed start disturbed the first server";

  first.reset();
  EXPECT_EQ(gClosesOfFreeNumbers.load(), 0);
  EXPECT_EQ(OpenDescriptors(), before) << "descriptors left open";
}

}  // namespace
}  // namespace kvraft::core
