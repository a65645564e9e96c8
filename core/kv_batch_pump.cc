#include "core/kv_batch_pump.h"

#include <string>

#include "core/thread_name.h"

namespace kvraft::client {
namespace {

// The pump whose sender, on this thread, is telling the last call of a
// batch. A call that `done` submits is seen by that sender as soon as it
// returns, so no other sender need be woken for it: a caller that makes its
// next call from the last one's `done` (kvbench's clients) then costs no
// thread switch on the way out.
thread_local const BatchPump* tLastTellerOf = nullptr;

}  // namespace

BatchPump::BatchPump(BatchQueue::Limits limits, BatchQueue::Sender send)
    : limits_(BatchQueue::AtLeastOne(limits)), send_(std::move(send)) {}

BatchPump::~BatchPump() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  for (std::thread& t : senders_) t.join();
}

void BatchPump::Submit(std::shared_ptr<BatchCall> call) {
  std::lock_guard<std::mutex> lock(mu_);
  if (senders_.empty()) {
    // One more than may send at once, so that one is always free to tell a
    // call whose time ran out while every batch was out.
    for (size_t i = 0; i < limits_.maxInFlight + 1; ++i) {
      senders_.emplace_back([this] {
        core::SetThreadName("kv-batch-pump");
        SenderLoop();
      });
    }
  }
  if (call->quick()) ++quickQueued_;
  queue_.push_back(std::move(call));
  if (tLastTellerOf == this) return;  // that sender looks at the queue next
  // A new oldest call is a new time to watch for, even if it cannot go yet.
  if (MaySendLocked() || queue_.size() == 1) work_.notify_one();
}

void BatchPump::SenderLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    BatchQueue::Batch expired;
    TakeExpiredLocked(BatchCall::Clock::now(), &expired);
    if (!expired.empty()) {
      const std::string outcome =
          stopping_ ? "the client was closed before the call was sent"
                    : "the call waited for the client's batches out to the node (at most " +
                          std::to_string(limits_.maxInFlight) +
                          " at once) to come back until its time ran out";
      lock.unlock();
      for (const std::shared_ptr<BatchCall>& c : expired) {
        c->delivery = Delivery::kNoFreeConnection;
        c->outcome = outcome;
        c->done(*c);
      }
      lock.lock();
      continue;
    }
    if (stopping_) return;
    if (queue_.empty()) {
      work_.wait(lock);
      continue;
    }
    if (!MaySendLocked()) {
      // A copy: wait_until reads its time point again after waking, and
      // another sender may have taken (and freed) the front call by then.
      const BatchCall::Clock::time_point oldestEnd = queue_.front()->end;
      work_.wait_until(lock, oldestEnd);
      continue;
    }
    BatchQueue::Batch batch{std::move(queue_.front())};
    queue_.pop_front();
    if (batch.front()->quick()) --quickQueued_;
    quickQueued_ -= BatchQueue::Fill(limits_, queue_, &batch, batch.front()->bytes);
    ++inFlight_;
    callsInFlight_ += batch.size();
    lock.unlock();
    send_(batch);
    lock.lock();
    callsKeptGoing_ = callsInFlight_ + queue_.size();
    --inFlight_;
    callsInFlight_ -= batch.size();
    // The other sender may go now; this one is busy telling the callers.
    if (!queue_.empty() && MaySendLocked()) work_.notify_one();
    lock.unlock();
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i + 1 == batch.size()) tLastTellerOf = this;
      batch[i]->done(*batch[i]);
    }
    tLastTellerOf = nullptr;
    lock.lock();
  }
}

void BatchPump::TakeExpiredLocked(BatchCall::Clock::time_point now, BatchQueue::Batch* expired) {
  while (!queue_.empty() && (stopping_ || queue_.front()->end <= now)) {
    if (queue_.front()->quick()) --quickQueued_;
    expired->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

bool BatchPump::MaySendLocked() const {
  return BatchQueue::MaySend(limits_, inFlight_, queue_.size(), quickQueued_, callsKeptGoing_);
}

}  // namespace kvraft::client
