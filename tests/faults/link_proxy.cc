#include "tests/faults/link_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glog/logging.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace kvraft::faults {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// One forwarded connection: bytes read from one side wait in a buffer
// until the other side takes them, so neither side is read faster than the
// other drains (TCP flow control passes through).
struct Pair {
  int fd[2];                 // 0: accepted from the sender, 1: to the target
  std::vector<char> buf[2];  // bytes read from fd[i], for fd[1 - i]
  bool open = true;
};

void Close(Pair& p) {
  for (int& fd : p.fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  p.open = false;
}

}  // namespace

LinkProxy::LinkProxy(int targetPort) : targetPort_(targetPort) {
  listenFd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK_GE(listenFd_, 0);
  int one = 1;
  setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = Loopback(0);
  CHECK_EQ(bind(listenFd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << strerror(errno);
  CHECK_EQ(listen(listenFd_, 64), 0);
  socklen_t len = sizeof a;
  getsockname(listenFd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  CHECK_EQ(pipe2(wakeFds_, O_CLOEXEC), 0);
  thread_ = std::thread([this] { Run(); });
}

LinkProxy::~LinkProxy() {
  const char c = 'x';
  (void)!write(wakeFds_[1], &c, 1);
  thread_.join();
  close(listenFd_);
  close(wakeFds_[0]);
  close(wakeFds_[1]);
}

void LinkProxy::Run() {
  constexpr size_t kChunk = 64 << 10;
  constexpr size_t kMaxBuffered = 1 << 20;
  std::vector<Pair> pairs;
  std::vector<char> scratch(kChunk);
  while (true) {
    if (cut_.load()) {
      for (Pair& p : pairs) Close(p);
    }
    std::erase_if(pairs, [](const Pair& p) { return !p.open; });
    // pollfd layout: wake pipe, listener, then two per pair.
    std::vector<pollfd> fds = {{wakeFds_[0], POLLIN, 0}, {listenFd_, POLLIN, 0}};
    for (Pair& p : pairs) {
      for (int i = 0; i < 2; ++i) {
        short events = 0;
        if (p.buf[i].size() < kMaxBuffered) events |= POLLIN;
        if (!p.buf[1 - i].empty()) events |= POLLOUT;
        fds.push_back({p.fd[i], events, 0});
      }
    }
    // A short timeout so that a cut takes effect promptly on idle links.
    if (poll(fds.data(), fds.size(), 20) < 0 && errno != EINTR) PLOG(FATAL) << "poll";
    if (fds[0].revents) return;
    const size_t polled = pairs.size();  // a pair accepted below is polled next round
    if (fds[1].revents & POLLIN) {
      const int in = accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (in >= 0) {
        const int out = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in target = Loopback(targetPort_);
        if (cut_.load() || out < 0 || connect(out, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
          close(in);
          if (out >= 0) close(out);
        } else {
          fcntl(in, F_SETFL, O_NONBLOCK);
          fcntl(out, F_SETFL, O_NONBLOCK);
          pairs.push_back(Pair{{in, out}, {}, true});
        }
      }
    }
    for (size_t k = 0; k < polled; ++k) {
      Pair& p = pairs[k];
      for (int i = 0; i < 2 && p.open; ++i) {
        const pollfd& f = fds[2 + 2 * k + i];
        if (f.revents & POLLOUT) {
          std::vector<char>& pending = p.buf[1 - i];
          const ssize_t n = send(p.fd[i], pending.data(), pending.size(), MSG_NOSIGNAL);
          if (n > 0) {
            pending.erase(pending.begin(), pending.begin() + n);
            bytes_ += static_cast<uint64_t>(n);
          } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            Close(p);
          }
        }
        if (p.open && (f.revents & (POLLIN | POLLHUP | POLLERR))) {
          const ssize_t n = recv(p.fd[i], scratch.data(), scratch.size(), 0);
          if (n > 0) {
            p.buf[i].insert(p.buf[i].end(), scratch.begin(), scratch.begin() + n);
          } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            Close(p);  // either side gone: the link is gone
          }
        }
      }
    }
  }
}

}  // namespace kvraft::faults
