// The client's wire to a kvraft node (DESIGN.md, "Client semantics").
//
// Every call returns a response whose `result` says how it went; errors are
// codes, never strings to parse. A call that is not answered OK changed
// nothing, except where the code says the outcome is unknown (TIMEOUT,
// UNAVAILABLE, NOT_LEADER after a write was proposed): retry those with
// the same session and sequence number, and the cluster applies the
// command at most once.
//
// Writes carry a Session: the client id from RegisterClient, a sequence
// number per command (1, 2, 3, ... in the order the client issues them;
// a retry reuses its number), and the lowest sequence number whose answer
// the client has not yet received, so that the cluster may forget the
// answers below it.
namespace cpp kvraft.thrift
namespace py kvraft_kv

enum Code {
  OK = 0,
  // Get, Delete: the key does not exist.
  NOT_FOUND = 1,
  // CompareAndSwap: the current value did not match; `current` holds it.
  CAS_FAILED = 2,
  // This node is not the leader (or stopped being it before the command
  // was applied). leaderId/leaderAddress name the leader when known.
  // A write may still be applied: retry it with the same sequence number.
  NOT_LEADER = 3,
  // The session is unknown or expired: register a new client. A write that
  // got this was not applied.
  SESSION_EXPIRED = 4,
  // A key, value or request over the node's limits; nothing changed.
  TOO_LARGE = 5,
  // A malformed request (an empty key, a sequence number of 0, ...);
  // nothing changed.
  INVALID_ARGUMENT = 6,
  // The node did not see the command applied in time; it may still be.
  TIMEOUT = 7,
  // The node cannot serve now (shutting down, overloaded, no quorum);
  // try another node.
  UNAVAILABLE = 8,
  // The sequence number is below the session's first outstanding one: its
  // answer was already delivered and forgotten. Nothing was applied.
  STALE_SEQUENCE = 9,
}

struct Result {
  1: Code code,
  // For people: what happened and what to do.
  2: string message,
  // NOT_LEADER: the leader this node knows of (0: none known).
  3: i64 leaderId,
  // NOT_LEADER: that leader's client address, host:port ("" if unknown).
  4: string leaderAddress,
  // NOT_LEADER, UNAVAILABLE: true when this node refused the command before
  // it entered its log, so this attempt did not apply it (false: it may
  // have, or the call was a read).
  5: bool notInLog,
}

struct Session {
  1: i64 clientId,
  2: i64 sequence,
  3: i64 firstOutstanding,
}

struct RegisterClientResponse {
  1: Result result,
  2: i64 clientId,
}

struct GetRequest {
  1: binary key,
  // true: read this node's applied state without asking the leader; may be
  // stale, and is served by followers too.
  2: bool stale,
}

struct GetResponse {
  1: Result result,
  2: optional binary value,
}

struct PutRequest {
  1: Session session,
  2: binary key,
  3: binary value,
}

struct AppendRequest {
  1: Session session,
  2: binary key,
  3: binary value,
}

struct DeleteRequest {
  1: Session session,
  2: binary key,
}

struct CompareAndSwapRequest {
  1: Session session,
  2: binary key,
  // Unset: the key must be absent.
  3: optional binary expected,
  4: binary value,
}

struct WriteResponse {
  1: Result result,
  // CAS_FAILED: the current value (unset: the key is absent).
  2: optional binary current,
}

struct RangeRequest {
  // Keys in [startKey, endKey); an empty endKey means no upper bound.
  1: binary startKey,
  2: binary endKey,
  // Most results wanted; 0: the node's maximum.
  3: i64 limit,
  4: bool stale,
}

struct KeyValue {
  1: binary key,
  2: binary value,
}

struct RangeResponse {
  1: Result result,
  2: list<KeyValue> items,
  // The node stopped at a limit: continue from after the last key.
  3: bool more,
}

// How the leader sees one follower's log (Figure 2's matchIndex and
// nextIndex).
struct PeerProgress {
  1: i64 nodeId,
  2: i64 matchIndex,
  3: i64 nextIndex,
  // "probe" (finding where the logs agree) or "replicate" (streaming);
  // "snapshot" while one is being sent.
  4: string state,
}

struct NodeStatus {
  1: Result result,
  2: i64 nodeId,
  3: string clusterId,
  // "follower", "pre-candidate", "candidate" or "leader".
  4: string role,
  5: i64 term,
  6: i64 leaderId,
  7: string leaderAddress,
  8: i64 commitIndex,
  9: i64 appliedIndex,
  10: i64 lastLogIndex,
  // Entries up to here are compacted into the latest snapshot.
  11: i64 snapshotIndex,
  12: list<i64> voters,
  // The leader only: each follower's progress.
  13: list<PeerProgress> peers,
}

// snapshot-now and compact (kvadmin), on the node that receives them.
struct AdminResponse {
  1: Result result,
  // SnapshotNow: the index the node's latest snapshot now covers.
  2: i64 snapshotIndex,
  // What was done, for people.
  3: string detail,
}

// One call of a Batch: exactly one field is set.
union BatchOp {
  1: GetRequest get,
  2: PutRequest put,
  3: AppendRequest append,
  4: DeleteRequest remove,
  5: CompareAndSwapRequest cas,
}

// The answer to the op at the same position: getResponse for a get,
// writeResponse for the others. Each op is answered as if it had come alone; they succeed or
// fail one by one.
struct BatchResult {
  1: optional GetResponse getResponse,
  2: optional WriteResponse writeResponse,
}

struct BatchRequest {
  1: list<BatchOp> ops,
}

struct BatchResponse {
  // Set when the batch as a whole was refused (INVALID_ARGUMENT: an op with
  // no field set, or too many ops); then `results` is empty and no op was
  // carried out.
  1: Result result,
  2: list<BatchResult> results,
}

service KvService {
  RegisterClientResponse RegisterClient(),
  GetResponse Get(1: GetRequest request),
  WriteResponse Put(1: PutRequest request),
  WriteResponse Append(1: AppendRequest request),
  WriteResponse Delete(1: DeleteRequest request),
  WriteResponse CompareAndSwap(1: CompareAndSwapRequest request),
  RangeResponse Range(1: RangeRequest request),
  // Several independent calls in one request, as a client sends the calls
  // its threads make at the same time: writes enter the log together and
  // linearizable reads share one leadership confirmation. Ops in a batch
  // are concurrent: they take effect in no promised order among
  // themselves.
  BatchResponse Batch(1: BatchRequest request),
  NodeStatus Status(),
  // Takes a snapshot at this node's applied index and compacts its log
  // through it.
  AdminResponse SnapshotNow(),
  // Compacts this node's RocksDB instances (log and kv state) to reclaim
  // space; the data does not change.
  AdminResponse Compact(),
}
