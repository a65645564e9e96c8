#include "core/kv_client_retry.h"

#include <algorithm>

namespace kvraft::client {

Backoff::Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max)
    : next_(std::max(min, std::chrono::milliseconds(1))), max_(std::max(max, next_)) {}

std::chrono::milliseconds Backoff::Next() {
  const std::chrono::milliseconds pause = next_;
  next_ = std::min(next_ * 2, max_);
  return pause;
}

AttemptLog::Node& AttemptLog::Find(const std::string& endpoint, const std::string& outcome) {
  for (Node& n : nodes_) {
    if (n.endpoint == endpoint) return n;
  }
  return nodes_.emplace_back(Node{endpoint, outcome, 0});
}

void AttemptLog::Add(const std::string& endpoint, const std::string& outcome) {
  Node& n = Find(endpoint, outcome);
  n.lastOutcome = outcome;
  ++n.attempts;
}

void AttemptLog::AddCutShort(const std::string& endpoint, const std::string& outcome) {
  ++Find(endpoint, outcome).attempts;
}

std::string AttemptLog::Summary() const {
  std::string s;
  for (const Node& n : nodes_) {
    if (!s.empty()) s += ", ";
    s += n.endpoint + " (" + n.lastOutcome;
    if (n.attempts > 1) s += "; " + std::to_string(n.attempts) + " attempts";
    s += ")";
  }
  return s;
}

}  // namespace kvraft::client
