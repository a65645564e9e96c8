#include "core/kv_batch_queue.h"

#include <algorithm>

namespace kvraft::client {

BatchQueue::Limits BatchQueue::AtLeastOne(Limits limits) {
  limits.maxInFlight = std::max<size_t>(limits.maxInFlight, 1);
  limits.maxOps = std::max<size_t>(limits.maxOps, 1);
  limits.anotherBatchCap = std::max<size_t>(limits.anotherBatchCap, 1);
  return limits;
}

BatchQueue::BatchQueue(Limits limits) : limits_(AtLeastOne(limits)) {}

Delivery BatchQueue::Run(const std::shared_ptr<BatchCall>& call, const Sender& send,
                         std::string* outcome) {
  std::unique_lock<std::mutex> lock(mu_);
  call->state = BatchCall::State::kQueued;
  queue_.push_back(call);
  if (call->quick()) ++quickQueued_;
  for (;;) {
    if (call->state == BatchCall::State::kDone) {
      if (call->delivery != Delivery::kAnswered) *outcome = call->outcome;
      return call->delivery;
    }
    if (call->state == BatchCall::State::kQueued && MaySendLocked()) {
      Batch batch = TakeLocked(call);
      ++inFlight_;
      callsInFlight_ += batch.size();
      lock.unlock();
      send(batch);
      lock.lock();
      callsKeptGoing_ = callsInFlight_ + queue_.size();
      --inFlight_;
      callsInFlight_ -= batch.size();
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
      if (call->quick()) --quickQueued_;
      WakeNextSenderLocked();
      if (inFlight_ < limits_.maxInFlight) {
        *outcome = "the call waited for the client's batch out to the node to come back "
                   "(another goes out beside it once half the calls the client keeps going, "
                   "but at most " +
                   std::to_string(limits_.anotherBatchCap) + ", wait) until its time ran out";
      } else {
        *outcome = "the client's other calls kept all " + std::to_string(limits_.maxInFlight) +
                   " batches it may have out to the node busy until the call's time ran out";
      }
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
  queue_.erase(std::find(queue_.begin(), queue_.end(), own));
  if (own->quick()) --quickQueued_;
  quickQueued_ -= Fill(limits_, queue_, &batch, own->bytes);
  for (const std::shared_ptr<BatchCall>& c : batch) c->state = BatchCall::State::kSent;
  return batch;
}

size_t BatchQueue::Fill(const Limits& limits, std::deque<std::shared_ptr<BatchCall>>& queue,
                        Batch* batch, size_t bytes) {
  size_t quick = 0;
  while (!queue.empty() && batch->size() < limits.maxOps &&
         bytes + queue.front()->bytes <= limits.maxBytes) {
    std::shared_ptr<BatchCall> next = std::move(queue.front());
    queue.pop_front();
    bytes += next->bytes;
    if (next->quick()) ++quick;
    batch->push_back(std::move(next));
  }
  return quick;
}

bool BatchQueue::MaySendLocked() const {
  return MaySend(limits_, inFlight_, queue_.size(), quickQueued_, callsKeptGoing_);
}

bool BatchQueue::MaySend(const Limits& limits, size_t inFlight, size_t queued,
                         size_t quickQueued, size_t callsKeptGoing) {
  if (inFlight >= limits.maxInFlight) return false;
  if (inFlight == 0 || quickQueued > 0) return true;
  const size_t half = (callsKeptGoing + 1) / 2;
  return queued >= std::clamp<size_t>(half, 1, limits.anotherBatchCap);
}

void BatchQueue::WakeNextSenderLocked() {
  if (!queue_.empty() && MaySendLocked()) queue_.front()->wake.notify_one();
}

}  // namespace kvraft::client
