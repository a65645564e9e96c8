#pragma once
// The default fault mix: one seed picks the cluster's parameters, a client
// workload and a schedule of crashes, partitions and network faults, runs
// it on a simulated cluster with every invariant checked, then heals all
// faults and checks that the cluster makes progress again (and, with the kv
// application, that the clients' history is linearizable).
#include <cstdint>
#include <optional>
#include <string>

namespace kvraft::sim {

struct ScenarioOptions {
  int nodes = 5;
  uint64_t simSeconds = 30;  // of faults and load, before the healing phase
  bool faults = true;
  bool trace = false;
  bool rocksdb = false;  // keep each node's log in a RocksDbStorage instead of memory
  // Run the real kv state machine (KvApp) with KvWorkload clients instead of
  // HashApp with raw commands; the client history must be linearizable and
  // the replicas' digests equal.
  bool kv = false;
  // With kv: take a snapshot and compact the log once this many entries, or
  // command bytes, were applied past the last one (KvReplica::Options).
  // Unset: the seed chooses.
  std::optional<uint64_t> snapshotEntries;
  std::optional<uint64_t> snapshotBytes;
  uint64_t tailCacheBytes = 16 << 20;  // the RocksDB store's in-memory tail
};

struct ScenarioResult {
  bool ok = true;
  std::string failure;
  std::string params;   // the parameters the seed chose
  uint64_t traceHash = 0;
  uint64_t events = 0;
  uint64_t messages = 0;
  uint64_t committed = 0;   // highest index applied anywhere
  uint64_t acked = 0;       // client commands known committed
  uint64_t reads = 0;       // linearizable reads served
  uint64_t readsDropped = 0;
  uint64_t leaders = 0;     // terms that had a leader
  uint64_t crashes = 0;
  uint64_t partitions = 0;
};

ScenarioResult RunScenario(uint64_t seed, const ScenarioOptions& options);

}  // namespace kvraft::sim
