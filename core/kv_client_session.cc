#include "core/kv_client_session.h"

namespace kvraft::client {

bool ClientSession::Begin(const Registrar& registrar, Deadline deadline, Ticket* ticket,
                          Result* failure) {
  std::unique_lock<std::mutex> lock(mu_);
  while (clientId_ == 0) {
    if (registering_) {
      if (registered_.wait_until(lock, deadline) == std::cv_status::timeout && clientId_ == 0) {
        // Nothing was sent, so the write's outcome is not in doubt.
        failure->code = Code::kUnavailable;
        failure->message =
            "the deadline passed while another call was registering this client's session, so "
            "the write was not sent; check that the cluster has a leader (kvctl status)";
        return false;
      }
      continue;
    }
    // This call registers; the lock is not held over the round trips.
    registering_ = true;
    lock.unlock();
    int64_t clientId = 0;
    const bool registered = registrar(&clientId, failure);
    lock.lock();
    registering_ = false;
    if (registered) {
      clientId_ = clientId;
      ++epoch_;
      nextSequence_ = 1;
      outstanding_.clear();
    }
    // Waiters either use the new session or, if this attempt failed, one of
    // them tries in turn within its own deadline.
    registered_.notify_all();
    if (!registered) return false;
  }
  ticket->clientId = clientId_;
  ticket->sequence = nextSequence_++;
  ticket->epoch = epoch_;
  outstanding_.insert(ticket->sequence);
  return true;
}

int64_t ClientSession::FirstOutstanding(const Ticket& ticket) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (ticket.epoch != epoch_ || outstanding_.empty()) return ticket.sequence;
  return *outstanding_.begin();
}

void ClientSession::Finish(const Ticket& ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ticket.epoch == epoch_) outstanding_.erase(ticket.sequence);
}

void ClientSession::Expire(const Ticket& ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ticket.epoch != epoch_ || clientId_ == 0) return;
  clientId_ = 0;
  ++epoch_;
  outstanding_.clear();
}

}  // namespace kvraft::client
