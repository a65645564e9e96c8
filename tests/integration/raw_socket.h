#pragma once
// RawSocket: a plain TCP connection for sending bytes that no Thrift client
// would: garbage, truncated frames, frames over the size limit.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace kvraft::integration {

class RawSocket {
 public:
  // Connects to "127.0.0.1:port"; fails the test if it cannot.
  explicit RawSocket(const std::string& endpoint);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends all of `bytes`; false if the connection failed (the server may
  // already have closed it).
  bool Send(std::string_view bytes);
  // Waits up to `limit` for the server to close the connection, discarding
  // whatever it sends. True if it closed it (end of stream or reset).
  bool WaitClosedByPeer(std::chrono::milliseconds limit);
  void Close();

 private:
  int fd_ = -1;
};

// The 4-byte big-endian length that starts a frame (TFramedTransport).
std::string FrameHeader(uint32_t length);

}  // namespace kvraft::integration
