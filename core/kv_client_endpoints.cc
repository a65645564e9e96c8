#include "core/kv_client_endpoints.h"

namespace kvraft::client {

EndpointSet::EndpointSet(const std::vector<std::string>& endpoints, size_t maxOpenPerNode,
                         BatchQueue::Limits batching)
    : maxOpenPerNode_(maxOpenPerNode), batching_(batching) {
  for (const std::string& e : endpoints) {
    if (!e.empty()) AddLocked(e);
  }
}

bool EndpointSet::empty() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pools_.empty();
}

size_t EndpointSet::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pools_.size();
}

std::vector<ConnectionPool*> EndpointSet::All() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ConnectionPool*> all;
  all.reserve(pools_.size());
  for (const auto& p : pools_) all.push_back(p.get());
  return all;
}

ConnectionPool* EndpointSet::First() {
  std::lock_guard<std::mutex> lock(mu_);
  if (leader_ != nullptr) return leader_;
  if (pools_.empty()) return nullptr;
  return pools_[nextStart_++ % pools_.size()].get();
}

ConnectionPool* EndpointSet::After(const ConnectionPool* node) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < pools_.size(); ++i) {
    if (pools_[i].get() == node) return pools_[(i + 1) % pools_.size()].get();
  }
  return pools_.empty() ? nullptr : pools_.front().get();
}

ConnectionPool* EndpointSet::Learn(const std::string& endpoint) {
  std::lock_guard<std::mutex> lock(mu_);
  return AddLocked(endpoint);
}

void EndpointSet::SetLeader(ConnectionPool* node) {
  std::lock_guard<std::mutex> lock(mu_);
  leader_ = node;
}

void EndpointSet::ForgetLeader(const ConnectionPool* node) {
  std::lock_guard<std::mutex> lock(mu_);
  if (leader_ == node) leader_ = nullptr;
}

ConnectionPool* EndpointSet::AddLocked(const std::string& endpoint) {
  for (const auto& p : pools_) {
    if (p->endpoint() == endpoint) return p.get();
  }
  pools_.push_back(std::make_unique<ConnectionPool>(endpoint, maxOpenPerNode_, batching_));
  return pools_.back().get();
}

}  // namespace kvraft::client
