#pragma once
// BatchPump: calls to one node that no thread waits for (KvClient's
// asynchronous calls), sent in Batch requests by threads of the pump's own.
//
// The batches are BatchQueue's: the same limits, and the same rule of when
// another goes out beside those already out. The difference is who sends
// and who is told. `limits.maxInFlight` + 1 threads, started by the first
// call, take turns sending (one is always free to watch the queue); when a
// batch comes back (or fails), its sender calls each call's `done`, one
// after another. A batch of N calls thus costs one
// thread wake-up instead of N, which is what a process making thousands of
// calls a second on a few cores needs (bench/RESULTS.md). A call submitted
// from the `done` of a batch's last call is left for the sender that told
// it, which looks at the queue next, rather than waking another.
//
// A call still queued when its `end` passes is done with
// kNoFreeConnection at that moment; the calls are checked oldest first,
// which is in order of `end` when, as in KvClient, every call gets the same
// time to wait.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/kv_batch_queue.h"

namespace kvraft::client {

class BatchPump {
 public:
  BatchPump(BatchQueue::Limits limits, BatchQueue::Sender send);
  // Calls still queued are done with kNoFreeConnection; a batch out is
  // waited for.
  ~BatchPump();
  BatchPump(const BatchPump&) = delete;
  BatchPump& operator=(const BatchPump&) = delete;

  // Queues `call`, whose `done` must be set. `done` is never called from
  // inside Submit, so it may submit the caller's next call.
  void Submit(std::shared_ptr<BatchCall> call);

 private:
  void SenderLoop();
  // Moves the queued calls whose time ran out (or all, when stopping) to
  // *expired.
  void TakeExpiredLocked(BatchCall::Clock::time_point now, BatchQueue::Batch* expired);
  bool MaySendLocked() const;

  const BatchQueue::Limits limits_;
  const BatchQueue::Sender send_;
  std::mutex mu_;
  std::condition_variable work_;  // a batch may go out, a call expires, or stopping
  std::deque<std::shared_ptr<BatchCall>> queue_;  // oldest first
  size_t inFlight_ = 0;
  size_t callsInFlight_ = 0;
  size_t callsKeptGoing_ = 0;  // as in BatchQueue
  size_t quickQueued_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> senders_;  // started by the first Submit
};

}  // namespace kvraft::client
