#include "core/kv_batch_queue.h"

#include <algorithm>

namespace kvraft::client {

namespace {

BatchQueue::Limits AtLeastOne(BatchQueue::Limits limits) {
  limits.maxInFlight = std::max<size_t>(limits.maxInFlight, 1);
  limits.maxOps = std::max<size_t>(limits.maxOps, 1);
  return limits;
}

}  // namespace

BatchQueue::BatchQueue(Limits limits) : limits_(AtLeastOne(limits)) {}

Delivery BatchQueue::Run(const std::shared_ptr<BatchCall>& call, const Sender& send,
                         std::string* outcome) {
  std::unique_lock<std::mutex> lock(mu_);
  call->state = BatchCall::State::kQueued;
  queue_.push_back(call);
  for (;;) {
    if (call->state == BatchCall::State::kDone) {
      if (call->delivery != Delivery::kAnswered) *outcome = call->outcome;
      return call->delivery;
    }
    if (call->state == BatchCall::State::kQueued && inFlight_ < limits_.maxInFlight) {
      Batch batch = TakeLocked(call);
      ++inFlight_;
      lock.unlock();
      send(batch);
      lock.lock();
      --inFlight_;
      for (const std::shared_ptr<BatchCall>& c : batch) {
        c->state = BatchCall::State::kDone;
        if (c != call) c->wake.notify_one();
      }
      WakeNextSenderLocked();
      continue;
    }
    if (call->wake.wait_until(lock, call->end) == std::cv_status::no_timeout) continue;
    if (call->state == BatchCall::State::kQueued) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), call));
      WakeNextSenderLocked();
      *outcome = "the client's other calls kept all " + std::to_string(limits_.maxInFlight) +
                 " batches it may have out to the node busy until the call's time ran out";
      return Delivery::kNoFreeConnection;
    }
    if (call->state == BatchCall::State::kSent) {
      // Its batch may still come back; the answer is dropped then.
      *outcome = "no answer before the call's time ran out";
      return Delivery::kNoAnswerInTime;
    }
  }
}

size_t BatchQueue::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

BatchQueue::Batch BatchQueue::TakeLocked(const std::shared_ptr<BatchCall>& own) {
  Batch batch{own};
  size_t bytes = own->bytes;
  own->state = BatchCall::State::kSent;
  queue_.erase(std::find(queue_.begin(), queue_.end(), own));
  while (!queue_.empty() && batch.size() < limits_.maxOps &&
         bytes + queue_.front()->bytes <= limits_.maxBytes) {
    std::shared_ptr<BatchCall> next = std::move(queue_.front());
    queue_.pop_front();
    bytes += next->bytes;
    next->state = BatchCall::State::kSent;
    batch.push_back(std::move(next));
  }
  return batch;
}

void BatchQueue::WakeNextSenderLocked() {
  if (!queue_.empty() && inFlight_ < limits_.maxInFlight) queue_.front()->wake.notify_one();
}

}  // namespace kvraft::client
