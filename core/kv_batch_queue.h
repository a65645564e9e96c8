#pragma once
// BatchQueue: the calls a client's threads make to one node at the same
// time, sent to it together in Batch requests (thrift/kv.thrift).
//
// A call joins the node's queue. If no batch to the node is out, the
// calling thread sends one at once: its own call and as many queued ones as
// fit. While batches are out, another one (up to `maxInFlight`) goes out as
// soon as a quick call waits (a stale read, which the node answers from its
// own state) or half of the calls the client keeps going do (counted when
// the last batch came back), but never more than `anotherBatchCap`.
// Otherwise the call sleeps, and the first batch to come back wakes the
// call at the head of the queue, whose thread sends the next batch with
// everything queued by then. A lone call therefore goes out at once, and
// calls that arrive while the node is busy wait no timer: they travel
// together, and the node writes them to its log together.
//
// Why half: writes and linearizable reads wait a log or heartbeat round at
// the node anyway, so a batch sent with one or two calls while a full one
// is out costs the node a request and gains little. Two batches carrying
// about equal shares keep both slots useful: 2 threads still send one call
// each, 16 send two batches of 8 (bench/RESULTS.md).
//
// Each call keeps its own answer and its own deadline: a call whose
// deadline passes while it waits leaves (kNoFreeConnection if it was never
// sent, kNoAnswerInTime if it was); its batch goes on without it.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "KvService.h"
#include "core/kv_client_retry.h"

namespace kvraft::client {

struct BatchCall {
  using Clock = std::chrono::steady_clock;

  kvraft::thrift::BatchOp op;
  size_t bytes = 0;       // the op's keys and values, to bound a batch's size
  Clock::time_point end;  // when the caller stops waiting
  // A call no thread waits for (BatchPump): called once the call is done.
  std::function<void(BatchCall&)> done;

  // A stale read: the node answers it without a round to its peers.
  bool quick() const { return op.__isset.get && op.get.stale; }

  // Filled in by the thread that sends the call's batch.
  Delivery delivery = Delivery::kLost;
  kvraft::thrift::BatchResult result;  // kAnswered: the node's answer to this op
  std::string outcome;                 // otherwise: what went wrong, for people

 private:
  friend class BatchQueue;
  enum class State { kQueued, kSent, kDone };
  State state = State::kQueued;         // under the queue's mutex
  std::condition_variable wake;         // its turn to send, or its batch came back
};

class BatchQueue {
 public:
  using Batch = std::vector<std::shared_ptr<BatchCall>>;
  struct Limits {
    size_t maxInFlight = 2;       // batches out to the node at once; at least 1
    size_t maxOps = 256;          // calls in one batch
    size_t maxBytes = 512 << 10;  // BatchCall::bytes of one batch, unless one call is larger
    // The most calls that must wait before a batch goes out beside those
    // already out (see above); at least 1, and 1 sends one whenever any
    // call waits.
    size_t anotherBatchCap = 8;
  };
  // Sends `batch` and fills in every call's delivery, and its result or
  // outcome. batch[0] is the sending thread's own call: the send must end
  // by that call's end, so that no caller outlives its deadline (a call
  // with a later end that gets no answer in time simply tries again).
  using Sender = std::function<void(const Batch& batch)>;

  explicit BatchQueue(Limits limits);

  // Runs `call` in a batch; returns its delivery. When that is kAnswered,
  // call->result holds the node's answer; otherwise *outcome says why not.
  Delivery Run(const std::shared_ptr<BatchCall>& call, const Sender& send, std::string* outcome);

  // Calls waiting for a batch to go out in.
  size_t queued() const;

  // `limits` with every count at least 1.
  static Limits AtLeastOne(Limits limits);
  // The rule of when a batch may go out (see the top of this file), over
  // a queue's counts; BatchPump keeps the same rule.
  static bool MaySend(const Limits& limits, size_t inFlight, size_t queued, size_t quickQueued,
                      size_t callsKeptGoing);
  // Moves calls from the front of `queue` to the end of `batch` while the
  // batch stays within `limits` (`bytes`: what it holds already); returns
  // how many of the moved calls were quick.
  static size_t Fill(const Limits& limits, std::deque<std::shared_ptr<BatchCall>>& queue,
                     Batch* batch, size_t bytes);

 private:
  // Takes `own` and the queued calls after it that fit into one batch.
  Batch TakeLocked(const std::shared_ptr<BatchCall>& own);
  bool MaySendLocked() const;
  // Someone must send when a batch may go out and calls are waiting.
  void WakeNextSenderLocked();

  const Limits limits_;
  mutable std::mutex mu_;
  std::deque<std::shared_ptr<BatchCall>> queue_;  // calls not yet sent, oldest first
  size_t inFlight_ = 0;
  size_t callsInFlight_ = 0;   // calls in the batches out
  size_t callsKeptGoing_ = 0;  // calls out or queued when the last batch came back
  size_t quickQueued_ = 0;     // quick calls in queue_
};

}  // namespace kvraft::client
