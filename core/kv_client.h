#pragma once
// KvClient: the C++ client of a kvraft cluster (DESIGN.md, "Client
// semantics"). It finds the leader and remembers it, retries on other nodes
// with backoff until the call's deadline, and numbers its writes within a
// session so that a retried write is applied at most once.
//
// Threads: every method may be called from many threads at once, and the
// calls run in parallel. A Thrift connection carries one request at a time,
// so requests in flight take connections of their own from a pool; with
// Options::maxConnectionsPerEndpoint, they share that many connections to a
// node, taking turns. Gets and writes made at the same time may share a
// request (Options::maxBatchesInFlight).
//
// Outcomes are values: every call returns a Result whose code says what
// happened. kOk, kNotFound and kCasFailed are answers; the other codes are
// failures, and `message` says what to try.
//
// Thrift reports failed connects on stderr through its process-wide
// apache::thrift::GlobalOutput; the client's own account of them is the
// Result's message and VLOG(1). Programs that want stderr quiet point
// GlobalOutput elsewhere (kvctl sends it to VLOG(1)).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvraft::client {

enum class Code {
  kOk,
  kNotFound,        // Get/Delete: no such key
  kCasFailed,       // CompareAndSwap: the value did not match (see Result::value)
  kTooLarge,        // the key or value is over the cluster's limits; nothing changed
  kInvalidArgument, // e.g. an empty key; nothing changed
  kSessionExpired,  // the session was lost; the write was not applied. A new
                    // session is registered for the next call.
  kTimeout,         // the deadline passed; a write may or may not have been applied
  kUnavailable,     // no node could be reached, or none had a leader, before the deadline
};
const char* CodeName(Code code);

struct KeyValue {
  std::string key;
  std::string value;
  bool operator==(const KeyValue&) const = default;
};

struct Result {
  Code code = Code::kOk;
  std::string message;  // empty for kOk
  // Get: the value. kCasFailed: the current value (nullopt: absent).
  std::optional<std::string> value;
  std::vector<KeyValue> items;  // Range: results in key order
  bool more = false;            // Range: stopped at a limit; continue after the last key

  bool ok() const { return code == Code::kOk; }
  std::string ToString() const;
};

// One node's answer to Status.
struct NodeStatus {
  std::string endpoint;  // the address asked
  bool reachable = false;
  // Why not reachable; or, when reachable, what the node said if it
  // answered Status with an error code.
  std::string error;
  int64_t nodeId = 0;
  std::string clusterId;
  std::string role;
  int64_t term = 0;
  int64_t leaderId = 0;
  std::string leaderAddress;
  int64_t commitIndex = 0;
  int64_t appliedIndex = 0;
  int64_t lastLogIndex = 0;
  int64_t snapshotIndex = 0;
  std::vector<int64_t> voters;
};

class KvClient {
 public:
  struct Options {
    // Client addresses ("host:port") of some or all nodes. Leaders named in
    // NOT_LEADER answers are added as they are learned.
    std::vector<std::string> endpoints;
    // How long one call may take, retries included.
    std::chrono::milliseconds timeout{10000};
    // Connect, send and receive timeout of one attempt on one node. The node
    // answers a write within its own request timeout, so keep this above it.
    std::chrono::milliseconds attemptTimeout{6000};
    // Pause between attempts: doubles from min to max.
    std::chrono::milliseconds minBackoff{10};
    std::chrono::milliseconds maxBackoff{500};
    // Most connections open to one node at once; 0 (the default): no limit,
    // a connection per call in flight. With a limit, a call for which every
    // connection is busy waits for one within its attempt's timeout, and
    // fails with kTimeout (nothing sent) if none comes free by its deadline.
    // Fewer connections than concurrent calls trade queueing in the client
    // for fewer sockets and server-side connection state.
    size_t maxConnectionsPerEndpoint = 0;
    // Gets and writes that threads make to the same node at the same time
    // travel together, in Batch requests of at most maxBatchOps calls, at
    // most this many out to that node at once (a lone call goes out at
    // once; see anotherBatchCap for when a second one goes). Each call keeps
    // its own answer, deadline and retries. Fewer requests cost the nodes
    // less per call; 0: every call goes in a request of its own.
    size_t maxBatchesInFlight = 2;
    size_t maxBatchOps = 256;
    // While a batch is out to a node, another goes out once half the calls
    // the threads keep going wait for it, but at most this many, or once a
    // stale read does: writes and linearizable reads wait a round at the
    // node anyway, and fewer, fuller batches cost it less. 1: whenever any
    // call waits.
    size_t anotherBatchCap = 8;
  };

  explicit KvClient(Options options);
  ~KvClient();
  KvClient(const KvClient&) = delete;
  KvClient& operator=(const KvClient&) = delete;

  // Linearizable unless `stale`: a stale read is served by whichever node
  // answers, from its applied state.
  Result Get(std::string_view key, bool stale = false);
  Result Put(std::string_view key, std::string_view value);
  Result Append(std::string_view key, std::string_view value);
  Result Delete(std::string_view key);
  // Sets `value` if the key's value is `expected` (nullopt: the key is absent).
  Result CompareAndSwap(std::string_view key, std::optional<std::string_view> expected,
                        std::string_view value);
  // Keys in [start, end) (empty end: no bound), at most `limit` (0: the
  // node's maximum); Result::more says whether to continue.
  Result Range(std::string_view start, std::string_view end, int64_t limit = 0,
               bool stale = false);

  // The same calls without a waiting thread: each returns at once, and
  // `done` gets the Result later, exactly once, on one of the client's own
  // threads (never inside the call that made it, so `done` may make the
  // caller's next call). Meant for programs that keep many calls going
  // from few threads (kvbench): the first attempt travels in the node's
  // batches, sent by the client's threads, and a batch of N answers costs
  // one wake-up rather than N. A call that needs another attempt (a new
  // leader, a failed connection) goes on on a thread of its own, with the
  // same retries, deadline and session number as a blocking call.
  //
  // `done` runs on a thread that may hold other calls' answers: keep it
  // short. A write may block while the client registers its session (the
  // first write, and the first after the session expired). The destructor
  // waits for every call's `done` to return; do not destroy the client from
  // inside one.
  using Done = std::function<void(Result)>;
  void GetAsync(std::string_view key, bool stale, Done done);
  void PutAsync(std::string_view key, std::string_view value, Done done);
  void AppendAsync(std::string_view key, std::string_view value, Done done);
  void DeleteAsync(std::string_view key, Done done);
  void CompareAndSwapAsync(std::string_view key, std::optional<std::string_view> expected,
                           std::string_view value, Done done);

  // Asks every known endpoint for its status (no retries).
  std::vector<NodeStatus> Status();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvraft::client
