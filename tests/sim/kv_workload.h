#pragma once
// Simulated clients of the kv store on a Cluster of KvApps: each registers
// a session through the log, then issues Get, Put, Append, Delete and
// CompareAndSwap one at a time, retrying on other nodes (same sequence
// number, so exactly-once) until answered, the way the client library
// does. Every operation goes into a history for the linearizability
// checker; Check() also compares the replicas' state digests.
//
// Reads mostly go through ReadIndex (the node confirms leadership, waits
// until it has applied the read index, then reads its own state); the rest
// go through the log as commands.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "statemachine/command.h"
#include "statemachine/reply.h"
#include "tests/linearizability/history.h"
#include "tests/sim/cluster.h"
#include "tests/sim/kv_app.h"

namespace kvraft::sim {

struct KvWorkloadOptions {
  int clients = 3;
  // Keys "k0".."k<keys-1>": clients pick one at random (contention), or each
  // client keeps to key "k<client>" when ownKeys is set (6.824's default).
  int keys = 3;
  bool ownKeys = false;
  // Operation mix, in parts.
  int getParts = 4, putParts = 2, appendParts = 4, deleteParts = 1, casParts = 2;
  // Of the Gets: this share goes through the log instead of ReadIndex.
  double logReadShare = 0.2;
  // A try waits this long for its answer before the client tries another node.
  uint64_t tryTimeoutUs = 600'000;
  // Pause between one answer and the next call, at random up to this.
  uint64_t thinkUs = 2'000;
  size_t valueBytes = 8;
};

class KvWorkload {
 public:
  // Takes over the cluster's apply hook.
  KvWorkload(Cluster& cluster, const KvWorkloadOptions& options);

  // Clients start calling (again). Operations already in flight go on.
  void Start();
  // Clients make no new calls once their current one is answered.
  void Stop();
  // Runs the cluster until every client is idle, or maxUs passes.
  bool WaitIdle(uint64_t maxUs);

  // Operations answered so far, over all clients.
  uint64_t answered() const { return answered_; }
  // Operations answered per client.
  uint64_t answeredBy(int client) const { return clients_[client].answered; }
  const linearizability::History& history() const { return history_; }
  // The history so far, with the operations still in flight as unanswered.
  linearizability::History FullHistory() const;

  // "" when the history is linearizable and all up replicas at the same
  // applied index have the same state digest; else what is wrong. An
  // inconclusive check (budget exhausted) counts as wrong: a test should
  // stay within what the checker can decide.
  std::string Check() const;

 private:
  struct Client {
    int id = 0;
    uint64_t clientId = 0;  // 0 until registered
    uint64_t nextSeq = 1;
    int target = 1;         // the node it believes leads
    bool busy = false;
    bool stopped = true;
    uint64_t answered = 0;
    // The operation in flight.
    linearizability::Operation op;
    bool inOperation = false;  // op was called and not yet answered
    std::string command;    // encoded, for writes and log reads; empty for ReadIndex reads
    bool viaReadIndex = false;
    bool registering = false;
    // Bumped by every try and answer, never reset: a callback or timeout
    // of an earlier try (of this call or an earlier one) sees it moved on.
    uint64_t attempt = 0;
    // The try in flight through the log: where it should land.
    int tryNode = 0;
    uint64_t tryIndex = 0;
  };

  void Next(Client& c);
  void NewOperation(Client& c);
  void Try(Client& c);
  void Retry(Client& c, uint64_t delayUs);
  void OnApplied(int node, const raft::Entry& e, const std::string& reply);
  void Answer(Client& c, const statemachine::Reply& reply);
  std::string RandomValue();
  uint64_t Between(uint64_t lo, uint64_t hi);

  Cluster& c_;
  const KvWorkloadOptions o_;
  std::vector<Client> clients_;
  // (node, index) -> client waiting for that entry's reply.
  std::map<std::pair<int, uint64_t>, int> waiting_;
  linearizability::History history_;
  uint64_t answered_ = 0;
  uint64_t valueCounter_ = 0;
  // The last few values written to each key, for CompareAndSwap to expect.
  std::map<std::string, std::vector<std::string>> recentValues_;
};

}  // namespace kvraft::sim
