#include "tests/integration/raw_socket.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/kv_connection.h"

namespace kvraft::integration {

using Steady = std::chrono::steady_clock;

RawSocket::RawSocket(const std::string& endpoint) {
  std::string host;
  int port = 0;
  if (!client::SplitEndpoint(endpoint, &host, &port)) {
    ADD_FAILURE() << "not a host:port: " << endpoint;
    return;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    ADD_FAILURE() << "not an IPv4 address: " << host;
    return;
  }
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ADD_FAILURE() << "cannot connect to " << endpoint << ": " << std::strerror(errno);
    Close();
  }
}

RawSocket::~RawSocket() { Close(); }

void RawSocket::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool RawSocket::Send(std::string_view bytes) {
  while (fd_ >= 0 && !bytes.empty()) {
    // MSG_NOSIGNAL: a server that closed the connection must fail the send,
    // not kill the test with SIGPIPE.
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return fd_ >= 0;
}

bool RawSocket::WaitClosedByPeer(std::chrono::milliseconds limit) {
  if (fd_ < 0) return false;
  const Steady::time_point deadline = Steady::now() + limit;
  char buffer[4096];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n == 0) return true;                                     // end of stream
    if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) return true;  // reset
    if (n < 0 && errno != EINTR && errno != EAGAIN) return true;
  }
}

std::string FrameHeader(uint32_t length) {
  const uint32_t big = htonl(length);
  return std::string(reinterpret_cast<const char*>(&big), sizeof big);
}

}  // namespace kvraft::integration
