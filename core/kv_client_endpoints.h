#pragma once
// EndpointSet: the nodes a KvClient knows, in the order it tries them, with
// a connection pool each, and the node that last answered as leader.
//
// The list only grows: leaders named in NOT_LEADER answers join it, and a
// pool's address stays valid for the client's lifetime, so callers hold
// plain pointers to pools without holding the lock.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/kv_connection.h"

namespace kvraft::client {

class EndpointSet {
 public:
  // Duplicates and empty strings are dropped. Every pool, learned ones
  // too, keeps at most `maxOpenPerNode` connections open (0: no limit) and
  // batches calls within `batching`.
  explicit EndpointSet(const std::vector<std::string>& endpoints, size_t maxOpenPerNode = 0,
                       BatchQueue::Limits batching = {});

  bool empty() const;
  size_t size() const;
  std::vector<ConnectionPool*> All() const;

  // Where a call starts: the remembered leader, else the next node in turn,
  // so that calls made while no leader is known spread over the nodes.
  // Null when there are no endpoints.
  ConnectionPool* First();
  // The node after `node` in the list, wrapping around.
  ConnectionPool* After(const ConnectionPool* node) const;
  // The pool of `endpoint`, added at the end of the list if it is new.
  ConnectionPool* Learn(const std::string& endpoint);

  void SetLeader(ConnectionPool* node);
  // Forgets the leader if it is still `node` (another call may have found a
  // newer one meanwhile).
  void ForgetLeader(const ConnectionPool* node);

 private:
  ConnectionPool* AddLocked(const std::string& endpoint);

  const size_t maxOpenPerNode_;
  const BatchQueue::Limits batching_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<ConnectionPool>> pools_;
  ConnectionPool* leader_ = nullptr;
  size_t nextStart_ = 0;
};

}  // namespace kvraft::client
