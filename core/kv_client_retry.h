#pragma once
// Bookkeeping of one KvClient call's attempts: the pause between them, and
// what each node said, so that a call that runs out of time can tell its
// caller what it tried.
#include <chrono>
#include <string>
#include <vector>

namespace kvraft::client {

// What became of one attempt of a call on one node.
enum class Delivery {
  kAnswered,          // the node replied; its Result says how the call went
  kNotConnected,      // the request was never sent
  kLost,              // sent, or may have been, and the connection failed
  kNoAnswerInTime,    // sent, and no reply within the attempt's timeout
  kNoFreeConnection,  // not sent: this client's other calls held every
                      // connection to the node (maxConnectionsPerEndpoint),
                      // or every batch it may have out to the node
};

// Pauses that double from `min` up to `max`: quick to find a new leader
// after a failover, without hammering a cluster that has none.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max);
  std::chrono::milliseconds Next();

 private:
  std::chrono::milliseconds next_;
  std::chrono::milliseconds max_;
};

class AttemptLog {
 public:
  void Add(const std::string& endpoint, const std::string& outcome);
  // An attempt that got no answer only because the call's own deadline
  // came first says nothing about the node: it is counted, but what the
  // node said before stays the outcome reported for it.
  void AddCutShort(const std::string& endpoint, const std::string& outcome);
  bool empty() const { return nodes_.empty(); }
  // "127.0.0.1:7101 (connection refused), 127.0.0.1:7102 (not the leader
  // and knows of none; 3 attempts)": each node once, in the order first
  // tried, with what it said last.
  std::string Summary() const;

 private:
  struct Node {
    std::string endpoint;
    std::string lastOutcome;
    int attempts = 0;
  };
  Node& Find(const std::string& endpoint, const std::string& outcome);
  std::vector<Node> nodes_;
};

}  // namespace kvraft::client
