#pragma once
// ClientSession: the client library's side of exactly-once writes
// (thrift/kv.thrift, Session). It holds the client id the cluster gave,
// numbers writes 1, 2, 3, ... in the order they are issued, and knows the
// lowest number whose call is still running, so that the cluster may forget
// the answers below it while many writes are in flight from many threads.
//
// The session is registered lazily, by the first write that needs it; the
// other writers wait for that one registration rather than each making
// their own. When the cluster says the session expired, it is dropped and
// the next write registers a new one.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>

#include "core/kv_client.h"

namespace kvraft::client {

class ClientSession {
 public:
  using Deadline = std::chrono::steady_clock::time_point;

  // One write's place in a session. `epoch` tells sessions apart, so that a
  // write of a dropped session cannot touch its successor's numbers.
  struct Ticket {
    int64_t clientId = 0;
    int64_t sequence = 0;
    uint64_t epoch = 0;
  };

  // Registers a session on the cluster: sets *clientId and returns true, or
  // returns false and sets *failure.
  using Registrar = std::function<bool(int64_t* clientId, Result* failure)>;

  // Issues the next sequence number, registering through `registrar` first
  // if there is no session. False (with *failure) if registration failed or
  // the deadline passed while another call was registering.
  bool Begin(const Registrar& registrar, Deadline deadline, Ticket* ticket, Result* failure);
  // The lowest sequence number issued in the ticket's session whose call is
  // still running (at most ticket.sequence while the ticket is).
  int64_t FirstOutstanding(const Ticket& ticket) const;
  // The ticket's call returned: its number is no longer outstanding.
  void Finish(const Ticket& ticket);
  // The cluster no longer knows the ticket's session: forget it, so that the
  // next Begin registers anew. Only the first report of an epoch counts.
  void Expire(const Ticket& ticket);

 private:
  mutable std::mutex mu_;
  std::condition_variable registered_;
  bool registering_ = false;
  int64_t clientId_ = 0;  // 0: no session
  uint64_t epoch_ = 0;
  int64_t nextSequence_ = 1;
  std::set<int64_t> outstanding_;  // of the current epoch
};

}  // namespace kvraft::client
