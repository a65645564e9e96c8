#include "core/kv_client.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <list>
#include <mutex>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>

#include <glog/logging.h>
#include <thrift/transport/TTransportException.h>

#include "KvService.h"
#include "core/kv_client_endpoints.h"
#include "core/kv_client_retry.h"
#include "core/kv_client_session.h"
#include "core/kv_connection.h"
#include "core/thrift_enum.h"

namespace kvraft::client {

namespace wire = kvraft::thrift;
using apache::thrift::TException;
using apache::thrift::transport::TTransportException;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kNotFound: return "NOT_FOUND";
    case Code::kCasFailed: return "CAS_FAILED";
    case Code::kTooLarge: return "TOO_LARGE";
    case Code::kInvalidArgument: return "INVALID_ARGUMENT";
    case Code::kSessionExpired: return "SESSION_EXPIRED";
    case Code::kTimeout: return "TIMEOUT";
    case Code::kUnavailable: return "UNAVAILABLE";
  }
  return "UNKNOWN";
}

std::string Result::ToString() const {
  std::string s = CodeName(code);
  if (!message.empty()) s += ": " + message;
  return s;
}

namespace {

// Which nodes may answer a call.
enum class Route {
  kLeader,   // writes, registration and linearizable reads
  kAnyNode,  // stale reads: any node's applied state will do
};

struct CallSpec {
  const char* what;  // the RPC, for logs
  Route route;
  // A write that reached a node and got no definite answer may still be
  // applied; the call's failure must then say so.
  bool write;
};

std::string Describe(const TTransportException& e, milliseconds timeout) {
  const std::string what = e.what();
  switch (e.getType()) {
    case TTransportException::TIMED_OUT:
      return "no answer within " + std::to_string(timeout.count()) + " ms";
    case TTransportException::END_OF_FILE:
      return "connection closed by the node";
    default:
      break;
  }
  if (what.find("refused") != std::string::npos) return "connection refused";
  if (what.find("timed out") != std::string::npos) {
    return "could not connect within " + std::to_string(timeout.count()) + " ms";
  }
  return what;
}

milliseconds Remaining(Deadline deadline) {
  return std::chrono::ceil<milliseconds>(deadline - Clock::now());
}

// A node's final answer (anything but NOT_LEADER, TIMEOUT and UNAVAILABLE,
// which the retry loop handles) as the client's Result.
Result FromAnswer(const wire::Result& answer) {
  Result r;
  const std::string& said = answer.message;
  switch (core::RawEnum(answer.code)) {
    case wire::Code::OK:
      return r;
    case wire::Code::NOT_FOUND:
      r.code = Code::kNotFound;
      r.message = said.empty() ? "no such key" : said;
      return r;
    case wire::Code::CAS_FAILED:
      r.code = Code::kCasFailed;
      r.message = said.empty() ? "the current value did not match" : said;
      return r;
    case wire::Code::TOO_LARGE:
      r.code = Code::kTooLarge;
      r.message = (said.empty() ? "the request is over the cluster's limits" : said) +
                  "; nothing changed";
      return r;
    case wire::Code::INVALID_ARGUMENT:
      r.code = Code::kInvalidArgument;
      r.message = (said.empty() ? "the node refused the request as malformed" : said) +
                  "; nothing changed";
      return r;
    case wire::Code::SESSION_EXPIRED:
      r.code = Code::kSessionExpired;
      r.message = (said.empty() ? "the cluster no longer knows this client's session" : said) +
                  "; the write was not applied. The next write registers a new session: repeat "
                  "this one if it is still wanted";
      return r;
    case wire::Code::STALE_SEQUENCE:
      r.code = Code::kInvalidArgument;
      r.message =
          "the node refused the write as STALE_SEQUENCE (" + said +
          "), which a correct client never provokes: its sequence number was below the "
          "session's first outstanding one. This is a bug in the client library or the node; "
          "nothing was applied";
      LOG(WARNING) << "KvClient: " << r.message;
      return r;
    default:
      r.code = Code::kInvalidArgument;
      r.message = "the node answered with result code " +
                  std::to_string(core::RawEnum(answer.code)) +
                  ", which this client does not know (" + said +
                  "); is the client older than the cluster?";
      return r;
  }
}

// Most bytes of keys and values in one batch: the node refuses request
// frames over --max_request_bytes (2 MiB by default).
constexpr size_t kMaxBatchBytes = 512 << 10;

size_t OpBytes(const wire::BatchOp& op) {
  if (op.__isset.get) return op.get.key.size();
  if (op.__isset.put) return op.put.key.size() + op.put.value.size();
  if (op.__isset.append) return op.append.key.size() + op.append.value.size();
  if (op.__isset.remove) return op.remove.key.size();
  return op.cas.key.size() + op.cas.value.size() + op.cas.expected.size();
}

constexpr const char* kNoAnswerOfItsKind =
    "the node's answer to the batch had no answer of the right kind for this call";

// The answers a Batch can carry: those of gets and writes.
template <class Response>
constexpr bool kBatchable = std::is_same_v<Response, wire::GetResponse> ||
                            std::is_same_v<Response, wire::WriteResponse>;

// A call's answer out of its batch's; false if the node left it out.
bool TakeAnswer(wire::BatchResult& result, wire::GetResponse* response) {
  if (!result.__isset.getResponse) return false;
  *response = std::move(result.getResponse);
  return true;
}
bool TakeAnswer(wire::BatchResult& result, wire::WriteResponse* response) {
  if (!result.__isset.writeResponse) return false;
  *response = std::move(result.writeResponse);
  return true;
}

}  // namespace

class KvClient::Impl {
 public:
  explicit Impl(Options options)
      : options_(std::move(options)),
        endpoints_(options_.endpoints, options_.maxConnectionsPerEndpoint,
                   BatchQueue::Limits{options_.maxBatchesInFlight, options_.maxBatchOps,
                                      kMaxBatchBytes, options_.anotherBatchCap}) {}

  ~Impl();

  // Builds a call's op for a Batch request, afresh for each attempt.
  using OpMaker = std::function<void(wire::BatchOp*)>;

  // Each public call is its parts, made by a *Parts method, run now on the
  // calling thread or later with `done` called from one of the client's.
  template <class Response, class Make>
  Result Now(const Make& make);
  template <class Response, class Make>
  void Later(const Make& make, Done done);

  // A call's parts, made once and used by every attempt: which nodes may
  // answer, the request alone (`send`) or as an op of a batch (`makeOp`;
  // empty if it never travels in one), what to do when the call ends
  // (`ended`; may be empty), and the answer as a Result.
  template <class Response>
  struct CallParts {
    CallSpec spec;
    std::function<void(wire::KvServiceClient&, Response&)> send;
    OpMaker makeOp;
    std::function<void(bool answered, const Response&)> ended;
    std::function<Result(Response&)> toResult;
  };
  // The parts of each call; false (with *failure) if the call cannot start.
  bool GetParts(std::string_view key, bool stale, Deadline deadline,
                CallParts<wire::GetResponse>* parts, Result* failure);
  bool PutParts(std::string_view key, std::string_view value, Deadline deadline,
                CallParts<wire::WriteResponse>* parts, Result* failure);
  bool AppendParts(std::string_view key, std::string_view value, Deadline deadline,
                   CallParts<wire::WriteResponse>* parts, Result* failure);
  bool DeleteParts(std::string_view key, Deadline deadline, CallParts<wire::WriteResponse>* parts,
                   Result* failure);
  bool CasParts(std::string_view key, std::optional<std::string_view> expected,
                std::string_view value, Deadline deadline, CallParts<wire::WriteResponse>* parts,
                Result* failure);
  bool RangeParts(std::string_view start, std::string_view end, int64_t limit, bool stale,
                  Deadline deadline, CallParts<wire::RangeResponse>* parts, Result* failure);
  std::vector<NodeStatus> Status();

 private:
  // Where a call stands between attempts.
  struct CallState {
    CallSpec spec;
    Deadline deadline;
    ConnectionPool* node;  // the next to try; null if the client knows none
    Backoff backoff;
    AttemptLog log;
    int attempts = 0;
    size_t hopsWithoutPause = 0;
    bool outcomeUnknown = false;    // a write reached a node that did not say it failed
    bool nodeTimedOut = false;      // a node took the request and did not finish it in time
    bool leaderlessAnswer = false;  // a node answered but could not serve: no leader, or busy
    bool connectionsBusy = false;   // waited in vain for one of its connections or batches
  };

  // Runs `send` against the nodes `spec.route` allows until one gives an
  // answer that ends the call, which lands in *response (true); or until
  // the deadline, when *failure says what was tried (false). A call with a
  // `batchable` op may travel in a Batch instead.
  template <class Response, class Send>
  bool Call(const CallSpec& spec, Deadline deadline, Send send, Response* response,
            Result* failure, const OpMaker* batchable = nullptr);
  CallState StartCall(const CallSpec& spec, Deadline deadline);
  // Call's attempts from where `state` stands.
  template <class Response, class Send>
  bool Continue(CallState& state, Send& send, Response* response, Result* failure,
                const OpMaker* batchable);
  // After an attempt: true if `response` is an answer that ends the call.
  // Otherwise the attempt is logged, state.node is the node to try next,
  // and *pause how long to wait before that.
  template <class Response>
  bool Judge(CallState& state, Delivery delivery, const Response& response, std::string outcome,
             milliseconds* pause);
  template <class Response, class Send>
  Delivery Attempt(ConnectionPool* node, milliseconds timeout, Send& send, Response* response,
                   std::string* outcome);
  // Attempt, as one op of a batch to `node`.
  template <class Response>
  Delivery AttemptInBatch(ConnectionPool* node, milliseconds timeout, const OpMaker& makeOp,
                          Response* response, std::string* outcome);
  // Sends one batch (BatchQueue::Sender) and hands out the answers.
  void SendBatch(ConnectionPool* node, const BatchQueue::Batch& batch);
  Result Failure(const CallState& state) const;

  template <class Response>
  Result RunNow(CallParts<Response>& parts, Deadline deadline);
  // The first attempt goes in the node's BatchPump and no thread waits for
  // it; a call that needs another attempt goes on on a thread of its own.
  template <class Response>
  void RunLater(std::shared_ptr<CallParts<Response>> parts, Deadline deadline, Done done);
  template <class Response>
  static Result EndOf(CallParts<Response>& parts, bool answered, Response& response,
                      Result& failure);
  // Runs `work` on a thread of its own, joined by the time the client is
  // destroyed; the threads that finished are joined as new ones start.
  void Spawn(std::function<void()> work);
  // Asynchronous calls begun and not yet done.
  void AsyncBegun();
  void AsyncDone();

  bool Register(Deadline deadline, int64_t* clientId, Result* failure);
  // The parts of one write of a session: every attempt carries the write's
  // sequence number in `request->session`.
  template <class Request>
  bool WriteParts(const char* what, std::shared_ptr<Request> request,
                  void (wire::KvServiceClient::*rpc)(wire::WriteResponse&, const Request&),
                  void (wire::BatchOp::*setOp)(const Request&), Deadline deadline,
                  CallParts<wire::WriteResponse>* parts, Result* failure);
  NodeStatus AskStatus(ConnectionPool* node);

  Deadline DeadlineFromNow() const { return Clock::now() + options_.timeout; }

  const Options options_;
  EndpointSet endpoints_;
  ClientSession session_;

  struct Helper {
    std::thread thread;
    std::atomic<bool> finished{false};
  };
  std::mutex helpersMu_;
  std::list<Helper> helpers_;
  std::mutex asyncMu_;
  std::condition_variable asyncIdle_;
  size_t asyncCalls_ = 0;
};

template <class Response, class Send>
bool KvClient::Impl::Call(const CallSpec& spec, Deadline deadline, Send send, Response* response,
                          Result* failure, const OpMaker* batchable) {
  CallState state = StartCall(spec, deadline);
  return Continue(state, send, response, failure, batchable);
}

KvClient::Impl::CallState KvClient::Impl::StartCall(const CallSpec& spec, Deadline deadline) {
  // A stale read starts at the leader too when one is known: it answers
  // fastest, being the node the client last reached.
  return CallState{spec, deadline, endpoints_.First(),
                   Backoff(options_.minBackoff, options_.maxBackoff), AttemptLog()};
}

template <class Response, class Send>
bool KvClient::Impl::Continue(CallState& state, Send& send, Response* response, Result* failure,
                              const OpMaker* batchable) {
  if (state.node == nullptr) {
    failure->code = Code::kInvalidArgument;
    failure->message = "the client knows no nodes: give it the host:port of at least one";
    return false;
  }
  for (;;) {
    const milliseconds remaining = Remaining(state.deadline);
    if (remaining.count() <= 0) break;
    std::string outcome;
    const milliseconds timeout = std::min(options_.attemptTimeout, remaining);
    Delivery delivery;
    if constexpr (kBatchable<Response>) {
      delivery = batchable != nullptr && options_.maxBatchesInFlight > 0
                     ? AttemptInBatch(state.node, timeout, *batchable, response, &outcome)
                     : Attempt(state.node, timeout, send, response, &outcome);
    } else {
      delivery = Attempt(state.node, timeout, send, response, &outcome);
    }
    milliseconds pause{0};
    if (Judge(state, delivery, *response, std::move(outcome), &pause)) return true;
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
  }
  *failure = Failure(state);
  return false;
}

template <class Response>
bool KvClient::Impl::Judge(CallState& state, Delivery delivery, const Response& response,
                           std::string outcome, milliseconds* pause) {
  ++state.attempts;
  ConnectionPool* const node = state.node;
  ConnectionPool* hinted = nullptr;
  if (delivery == Delivery::kNoFreeConnection) {
    // Not the node's fault: the client's own calls hold its connections.
    // The attempt already waited, so try the same node again at once.
    state.connectionsBusy = true;
    state.log.Add(node->endpoint(), outcome);
    VLOG(1) << "KvClient: " << state.spec.what << " attempt " << state.attempts << " on "
            << node->endpoint() << ": " << outcome;
    *pause = milliseconds(0);
    return false;
  }
  const bool write = state.spec.write;
  if (delivery == Delivery::kAnswered) {
    const wire::Result& answer = response.result;
    switch (core::RawEnum(answer.code)) {
      case wire::Code::OK:
      case wire::Code::NOT_FOUND:
      case wire::Code::CAS_FAILED:
        if (state.spec.route == Route::kLeader) endpoints_.SetLeader(node);
        return true;
      case wire::Code::NOT_LEADER:
        endpoints_.ForgetLeader(node);
        state.outcomeUnknown |= write && !answer.notInLog;
        if (!answer.leaderAddress.empty() && answer.leaderAddress != node->endpoint()) {
          hinted = endpoints_.Learn(answer.leaderAddress);
          outcome = "not the leader; it named " + answer.leaderAddress;
        } else {
          state.leaderlessAnswer = true;
          outcome = "not the leader, and knows of none";
        }
        break;
      case wire::Code::TIMEOUT:
        state.outcomeUnknown |= write;
        state.nodeTimedOut = true;
        outcome = "answered TIMEOUT: " + answer.message;
        break;
      case wire::Code::UNAVAILABLE:
        state.outcomeUnknown |= write && !answer.notInLog;
        state.leaderlessAnswer = true;
        outcome = "answered UNAVAILABLE: " + answer.message;
        break;
      default:
        // Final answers (TOO_LARGE, SESSION_EXPIRED, ...) are the caller's to map.
        return true;
    }
  } else {
    endpoints_.ForgetLeader(node);
    state.outcomeUnknown |= write && delivery != Delivery::kNotConnected;
    state.nodeTimedOut |= delivery == Delivery::kNoAnswerInTime;
  }
  // The last attempt of a call gets only the time its deadline leaves, a
  // few milliseconds perhaps; its silence must not hide what the node said
  // to the attempts before it.
  if (delivery == Delivery::kNoAnswerInTime && Remaining(state.deadline).count() <= 0) {
    state.log.AddCutShort(node->endpoint(), outcome);
  } else {
    state.log.Add(node->endpoint(), outcome);
  }

  // A named leader is tried at once, but nodes naming each other in turn
  // (a stale hint during an election) must not spin: after a round of
  // hops without an answer, pause like any other retry.
  ConnectionPool* next = hinted;
  *pause = milliseconds(0);
  if (hinted == nullptr || ++state.hopsWithoutPause > endpoints_.size()) {
    if (next == nullptr) next = endpoints_.After(node);
    *pause = std::min(state.backoff.Next(), Remaining(state.deadline));
    state.hopsWithoutPause = 0;
  }
  VLOG(1) << "KvClient: " << state.spec.what << " attempt " << state.attempts << " on "
          << node->endpoint() << ": " << outcome << "; next " << next->endpoint() << " in "
          << pause->count() << " ms";
  state.node = next;
  return false;
}

template <class Response, class Send>
Delivery KvClient::Impl::Attempt(ConnectionPool* node, milliseconds timeout, Send& send,
                                 Response* response, std::string* outcome) {
  // An idle connection can have been cut (the node restarted, say) with no
  // sign until it is used. When one fails that way, the call gets one more
  // try on a new connection before the node counts as failed; the request
  // may have arrived the first time, though, so that is what is reported if
  // the second try cannot even connect.
  //
  // A pool without a cap never waits, and its calls get the whole `timeout`
  // each. In a capped pool the wait for a free connection (and the connect)
  // comes out of `timeout`, and the call is sent with what is left of it.
  const bool capped = node->maxOpen() > 0;
  const Deadline attemptEnd = Clock::now() + timeout;
  const auto busy = [&] {
    return "all " + std::to_string(node->maxOpen()) +
           " of the client's connections to the node stayed busy with its other calls for " +
           std::to_string(timeout.count()) + " ms";
  };
  std::string earlier;
  for (bool firstTry = true;; firstTry = false) {
    bool reused = false;
    std::unique_ptr<KvConnection> connection;
    try {
      connection =
          node->Take(capped ? std::max(Remaining(attemptEnd), milliseconds(1)) : timeout, &reused);
    } catch (const TTransportException& e) {
      *outcome = earlier + Describe(e, timeout);
      return firstTry ? Delivery::kNotConnected : Delivery::kLost;
    }
    const milliseconds callTimeout = capped ? Remaining(attemptEnd) : timeout;
    if (connection == nullptr || callTimeout.count() <= 0) {
      if (connection != nullptr) node->Return(std::move(connection));
      *outcome = earlier + busy();
      return firstTry ? Delivery::kNoFreeConnection : Delivery::kLost;
    }
    try {
      connection->SetCallTimeout(callTimeout);
      *response = Response();
      send(connection->rpc(), *response);
      node->Return(std::move(connection));
      return Delivery::kAnswered;
    } catch (const TTransportException& e) {
      node->Discard(std::move(connection));
      node->DropIdle();
      const bool timedOut = e.getType() == TTransportException::TIMED_OUT;
      if (reused && !timedOut && firstTry) {
        earlier = Describe(e, timeout) + " on an idle connection, then ";
        continue;
      }
      *outcome = earlier + Describe(e, timeout);
      return timedOut ? Delivery::kNoAnswerInTime : Delivery::kLost;
    } catch (const TException& e) {
      // The node's handler failed (TApplicationException) or the reply was
      // garbled (TProtocolException): what the connection holds now is unknown.
      node->Discard(std::move(connection));
      *outcome = earlier + "failed: " + e.what();
      return Delivery::kLost;
    }
  }
}

template <class Response>
Delivery KvClient::Impl::AttemptInBatch(ConnectionPool* node, milliseconds timeout,
                                        const OpMaker& makeOp, Response* response,
                                        std::string* outcome) {
  auto call = std::make_shared<BatchCall>();
  makeOp(&call->op);
  call->bytes = OpBytes(call->op);
  call->end = Clock::now() + timeout;
  const Delivery delivery = node->batches().Run(
      call, [this, node](const BatchQueue::Batch& batch) { SendBatch(node, batch); }, outcome);
  if (delivery != Delivery::kAnswered) return delivery;
  if (!TakeAnswer(call->result, response)) {
    *outcome = kNoAnswerOfItsKind;
    return Delivery::kLost;
  }
  return Delivery::kAnswered;
}

void KvClient::Impl::SendBatch(ConnectionPool* node, const BatchQueue::Batch& batch) {
  wire::BatchRequest request;
  request.ops.reserve(batch.size());
  // The calls' ops are not needed again: each attempt builds its own.
  for (const std::shared_ptr<BatchCall>& c : batch) request.ops.push_back(std::move(c->op));
  const auto send = [&request](wire::KvServiceClient& n, wire::BatchResponse& out) {
    n.Batch(out, request);
  };
  wire::BatchResponse answer;
  std::string outcome;
  const milliseconds timeout = std::max(Remaining(batch.front()->end), milliseconds(1));
  Delivery delivery = Attempt(node, timeout, send, &answer, &outcome);
  if (delivery == Delivery::kAnswered && core::RawEnum(answer.result.code) == wire::Code::OK &&
      answer.results.size() != batch.size()) {
    delivery = Delivery::kLost;
    outcome = "the node answered a batch of " + std::to_string(batch.size()) + " calls with " +
              std::to_string(answer.results.size()) + " answers";
  }
  VLOG(2) << "KvClient: a batch of " << batch.size() << " calls to " << node->endpoint();
  for (size_t i = 0; i < batch.size(); ++i) {
    BatchCall& c = *batch[i];
    c.delivery = delivery;
    if (delivery != Delivery::kAnswered) {
      c.outcome = outcome;
    } else if (core::RawEnum(answer.result.code) != wire::Code::OK) {
      // The node refused the batch as a whole: that is each call's answer.
      c.result.__set_getResponse(wire::GetResponse());
      c.result.getResponse.result = answer.result;
      c.result.__set_writeResponse(wire::WriteResponse());
      c.result.writeResponse.result = answer.result;
    } else {
      c.result = std::move(answer.results[i]);
    }
  }
}

Result KvClient::Impl::Failure(const CallState& state) const {
  Result r;
  // Waiting for the client's own connections is a timeout, not a cluster
  // that cannot be reached.
  r.code = state.outcomeUnknown || state.nodeTimedOut || state.connectionsBusy
               ? Code::kTimeout
               : Code::kUnavailable;
  r.message = std::string(state.spec.route == Route::kLeader ? "no leader" : "no node") +
              " answered within " + std::to_string(options_.timeout.count()) + " ms; ";
  r.message += state.log.empty() ? "the time ran out before any node was asked"
                                 : "tried " + state.log.Summary();
  if (state.spec.write && state.outcomeUnknown) {
    r.message +=
        "; the write may or may not have been applied: read the key before repeating a write "
        "that is not idempotent (Append, CompareAndSwap)";
  } else if (state.connectionsBusy) {
    r.message +=
        "; the client's other calls kept every connection or batch it may have out to the "
        "node busy: allow more (maxConnectionsPerEndpoint, maxBatchesInFlight, a lower "
        "anotherBatchCap) or make fewer calls at once";
  } else if (state.nodeTimedOut) {
    r.message +=
        "; the cluster took requests but did not finish them in time: it may have lost its "
        "quorum or be overloaded (check kvctl status)";
  } else if (state.leaderlessAnswer) {
    r.message +=
        "; nodes answered but none could serve: check that a majority of the nodes is up and "
        "can reach each other (kvctl status)";
  } else {
    r.message += "; check that the nodes are running at these addresses (kvctl status)";
  }
  return r;
}

bool KvClient::Impl::Register(Deadline deadline, int64_t* clientId, Result* failure) {
  wire::RegisterClientResponse response;
  const bool answered = Call(
      CallSpec{"RegisterClient", Route::kLeader, /*write=*/false}, deadline,
      [](wire::KvServiceClient& node, wire::RegisterClientResponse& out) {
        node.RegisterClient(out);
      },
      &response, failure);
  if (answered && core::RawEnum(response.result.code) == wire::Code::OK && response.clientId == 0) {
    failure->code = Code::kInvalidArgument;
    failure->message = "the cluster registered the session as client 0, which is not an id";
  } else if (answered && core::RawEnum(response.result.code) != wire::Code::OK) {
    *failure = FromAnswer(response.result);
  } else if (answered) {
    *clientId = response.clientId;
    VLOG(1) << "KvClient: registered as client " << response.clientId;
    return true;
  } else {
    // Registration is not the caller's write: a failed one applied nothing.
    failure->code = Code::kUnavailable;
  }
  failure->message = "could not register a client session, so the write was not sent: " +
                     failure->message;
  return false;
}

template <class Request>
bool KvClient::Impl::WriteParts(
    const char* what, std::shared_ptr<Request> request,
    void (wire::KvServiceClient::*rpc)(wire::WriteResponse&, const Request&),
    void (wire::BatchOp::*setOp)(const Request&), Deadline deadline,
    CallParts<wire::WriteResponse>* parts, Result* failure) {
  ClientSession::Ticket ticket;
  const auto registrar = [&](int64_t* clientId, Result* f) {
    return Register(deadline, clientId, f);
  };
  if (!session_.Begin(registrar, deadline, &ticket, failure)) return false;
  // Every attempt carries the same sequence number; the first outstanding
  // one is read afresh, as other writes may have finished meanwhile.
  // Attempts follow one another, so they may share the request.
  const auto stamp = [this, request, ticket] {
    request->session.clientId = ticket.clientId;
    request->session.sequence = ticket.sequence;
    request->session.firstOutstanding = session_.FirstOutstanding(ticket);
  };
  parts->spec = CallSpec{what, Route::kLeader, /*write=*/true};
  parts->send = [stamp, request, rpc](wire::KvServiceClient& node, wire::WriteResponse& out) {
    stamp();
    (node.*rpc)(out, *request);
  };
  parts->makeOp = [stamp, request, setOp](wire::BatchOp* op) {
    stamp();
    (op->*setOp)(*request);
  };
  parts->ended = [this, ticket](bool answered, const wire::WriteResponse& response) {
    if (answered && core::RawEnum(response.result.code) == wire::Code::SESSION_EXPIRED) {
      VLOG(1) << "KvClient: client " << ticket.clientId << "'s session expired; "
              << "the next write registers a new one";
      session_.Expire(ticket);
    }
    session_.Finish(ticket);
  };
  parts->toResult = [](wire::WriteResponse& response) { return FromAnswer(response.result); };
  return true;
}

bool KvClient::Impl::GetParts(std::string_view key, bool stale, Deadline /*deadline*/,
                              CallParts<wire::GetResponse>* parts, Result* /*failure*/) {
  auto request = std::make_shared<wire::GetRequest>();
  request->key = key;
  request->stale = stale;
  parts->spec = CallSpec{"Get", stale ? Route::kAnyNode : Route::kLeader, /*write=*/false};
  parts->send = [request](wire::KvServiceClient& node, wire::GetResponse& out) {
    node.Get(out, *request);
  };
  parts->makeOp = [request](wire::BatchOp* op) { op->__set_get(*request); };
  parts->toResult = [](wire::GetResponse& response) {
    Result r = FromAnswer(response.result);
    if (r.ok()) r.value = std::move(response.value);
    return r;
  };
  return true;
}

bool KvClient::Impl::PutParts(std::string_view key, std::string_view value, Deadline deadline,
                              CallParts<wire::WriteResponse>* parts, Result* failure) {
  auto request = std::make_shared<wire::PutRequest>();
  request->key = key;
  request->value = value;
  return WriteParts("Put", std::move(request), &wire::KvServiceClient::Put,
                    &wire::BatchOp::__set_put, deadline, parts, failure);
}

bool KvClient::Impl::AppendParts(std::string_view key, std::string_view value, Deadline deadline,
                                 CallParts<wire::WriteResponse>* parts, Result* failure) {
  auto request = std::make_shared<wire::AppendRequest>();
  request->key = key;
  request->value = value;
  return WriteParts("Append", std::move(request), &wire::KvServiceClient::Append,
                    &wire::BatchOp::__set_append, deadline, parts, failure);
}

bool KvClient::Impl::DeleteParts(std::string_view key, Deadline deadline,
                                 CallParts<wire::WriteResponse>* parts, Result* failure) {
  auto request = std::make_shared<wire::DeleteRequest>();
  request->key = key;
  return WriteParts("Delete", std::move(request), &wire::KvServiceClient::Delete,
                    &wire::BatchOp::__set_remove, deadline, parts, failure);
}

bool KvClient::Impl::CasParts(std::string_view key, std::optional<std::string_view> expected,
                              std::string_view value, Deadline deadline,
                              CallParts<wire::WriteResponse>* parts, Result* failure) {
  auto request = std::make_shared<wire::CompareAndSwapRequest>();
  request->key = key;
  if (expected) request->__set_expected(std::string(*expected));
  request->value = value;
  if (!WriteParts("CompareAndSwap", std::move(request), &wire::KvServiceClient::CompareAndSwap,
                  &wire::BatchOp::__set_cas, deadline, parts, failure)) {
    return false;
  }
  parts->toResult = [](wire::WriteResponse& response) {
    Result r = FromAnswer(response.result);
    if (r.code == Code::kCasFailed && response.__isset.current) {
      r.value = std::move(response.current);
    }
    return r;
  };
  return true;
}

bool KvClient::Impl::RangeParts(std::string_view start, std::string_view end, int64_t limit,
                                bool stale, Deadline /*deadline*/,
                                CallParts<wire::RangeResponse>* parts, Result* /*failure*/) {
  auto request = std::make_shared<wire::RangeRequest>();
  request->startKey = start;
  request->endKey = end;
  request->limit = limit;
  request->stale = stale;
  parts->spec = CallSpec{"Range", stale ? Route::kAnyNode : Route::kLeader, /*write=*/false};
  parts->send = [request](wire::KvServiceClient& node, wire::RangeResponse& out) {
    node.Range(out, *request);
  };
  parts->toResult = [](wire::RangeResponse& response) {
    Result r = FromAnswer(response.result);
    if (!r.ok()) return r;
    r.items.reserve(response.items.size());
    for (wire::KeyValue& kv : response.items) {
      r.items.push_back(KeyValue{std::move(kv.key), std::move(kv.value)});
    }
    r.more = response.more;
    return r;
  };
  return true;
}

template <class Response, class Make>
Result KvClient::Impl::Now(const Make& make) {
  const Deadline deadline = DeadlineFromNow();
  CallParts<Response> parts;
  Result failure;
  if (!make(deadline, &parts, &failure)) return failure;
  return RunNow(parts, deadline);
}

template <class Response, class Make>
void KvClient::Impl::Later(const Make& make, Done done) {
  AsyncBegun();
  const Deadline deadline = DeadlineFromNow();
  auto parts = std::make_shared<CallParts<Response>>();
  Result failure;
  if (!make(deadline, parts.get(), &failure)) {
    Spawn([this, failure = std::move(failure), done = std::move(done)]() mutable {
      done(std::move(failure));
      AsyncDone();
    });
    return;
  }
  RunLater(std::move(parts), deadline, std::move(done));
}

template <class Response>
Result KvClient::Impl::EndOf(CallParts<Response>& parts, bool answered, Response& response,
                             Result& failure) {
  if (parts.ended) parts.ended(answered, response);
  return answered ? parts.toResult(response) : std::move(failure);
}

template <class Response>
Result KvClient::Impl::RunNow(CallParts<Response>& parts, Deadline deadline) {
  Response response;
  Result failure;
  const bool answered = Call(parts.spec, deadline, parts.send, &response, &failure,
                             parts.makeOp ? &parts.makeOp : nullptr);
  return EndOf(parts, answered, response, failure);
}

template <class Response>
void KvClient::Impl::RunLater(std::shared_ptr<CallParts<Response>> parts, Deadline deadline,
                              Done done) {
  struct Pending {
    CallState state;
    std::shared_ptr<CallParts<Response>> parts;
    Done done;
  };
  auto pending = std::make_shared<Pending>(
      Pending{StartCall(parts->spec, deadline), std::move(parts), std::move(done)});
  // The rest of the call, on a thread of its own, after `pause`.
  const auto goOn = [this, pending](milliseconds pause) {
    Spawn([this, pending, pause] {
      if (pause.count() > 0) std::this_thread::sleep_for(pause);
      CallParts<Response>& p = *pending->parts;
      Response response;
      Result failure;
      const bool answered = Continue(pending->state, p.send, &response, &failure,
                                     p.makeOp ? &p.makeOp : nullptr);
      pending->done(EndOf(p, answered, response, failure));
      AsyncDone();
    });
  };
  ConnectionPool* const node = pending->state.node;
  const milliseconds remaining = Remaining(deadline);
  if (node == nullptr || !pending->parts->makeOp || options_.maxBatchesInFlight == 0 ||
      remaining.count() <= 0) {
    goOn(milliseconds(0));
    return;
  }
  auto call = std::make_shared<BatchCall>();
  pending->parts->makeOp(&call->op);
  call->bytes = OpBytes(call->op);
  call->end = Clock::now() + std::min(options_.attemptTimeout, remaining);
  call->done = [this, pending, goOn](BatchCall& c) {
    Response response;
    Delivery delivery = c.delivery;
    std::string outcome = std::move(c.outcome);
    if (delivery == Delivery::kAnswered && !TakeAnswer(c.result, &response)) {
      delivery = Delivery::kLost;
      outcome = kNoAnswerOfItsKind;
    }
    milliseconds pause{0};
    if (!Judge(pending->state, delivery, response, std::move(outcome), &pause)) {
      goOn(pause);
      return;
    }
    Result none;
    pending->done(EndOf(*pending->parts, /*answered=*/true, response, none));
    AsyncDone();
  };
  node->pump([this, node](const BatchQueue::Batch& batch) { SendBatch(node, batch); })
      .Submit(std::move(call));
}

void KvClient::Impl::Spawn(std::function<void()> work) {
  std::lock_guard<std::mutex> lock(helpersMu_);
  for (auto it = helpers_.begin(); it != helpers_.end();) {
    if (!it->finished.load()) {
      ++it;
      continue;
    }
    it->thread.join();
    it = helpers_.erase(it);
  }
  Helper& helper = helpers_.emplace_back();
  helper.thread = std::thread([&helper, work = std::move(work)] {
    work();
    helper.finished.store(true);
  });
}

void KvClient::Impl::AsyncBegun() {
  std::lock_guard<std::mutex> lock(asyncMu_);
  ++asyncCalls_;
}

void KvClient::Impl::AsyncDone() {
  std::lock_guard<std::mutex> lock(asyncMu_);
  if (--asyncCalls_ == 0) asyncIdle_.notify_all();
}

KvClient::Impl::~Impl() {
  {
    std::unique_lock<std::mutex> lock(asyncMu_);
    asyncIdle_.wait(lock, [this] { return asyncCalls_ == 0; });
  }
  std::lock_guard<std::mutex> lock(helpersMu_);
  for (Helper& helper : helpers_) helper.thread.join();
}

NodeStatus KvClient::Impl::AskStatus(ConnectionPool* node) {
  NodeStatus status;
  status.endpoint = node->endpoint();
  wire::NodeStatus answer;
  auto send = [](wire::KvServiceClient& n, wire::NodeStatus& out) { n.Status(out); };
  const milliseconds timeout = std::min(options_.attemptTimeout, options_.timeout);
  if (Attempt(node, timeout, send, &answer, &status.error) != Delivery::kAnswered) return status;
  status.reachable = true;
  if (core::RawEnum(answer.result.code) != wire::Code::OK) {
    status.error = wire::to_string(answer.result.code) + ": " + answer.result.message;
  }
  status.nodeId = answer.nodeId;
  status.clusterId = std::move(answer.clusterId);
  status.role = std::move(answer.role);
  status.term = answer.term;
  status.leaderId = answer.leaderId;
  status.leaderAddress = std::move(answer.leaderAddress);
  status.commitIndex = answer.commitIndex;
  status.appliedIndex = answer.appliedIndex;
  status.lastLogIndex = answer.lastLogIndex;
  status.snapshotIndex = answer.snapshotIndex;
  status.voters = std::move(answer.voters);
  return status;
}

std::vector<NodeStatus> KvClient::Impl::Status() {
  // In parallel: a node that is stopped (not dead) costs a whole attempt
  // timeout, and the others should not wait behind it.
  const std::vector<ConnectionPool*> nodes = endpoints_.All();
  std::vector<NodeStatus> statuses(nodes.size());
  std::vector<std::thread> askers;
  askers.reserve(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    askers.emplace_back([this, &nodes, &statuses, i] { statuses[i] = AskStatus(nodes[i]); });
  }
  for (std::thread& t : askers) t.join();
  return statuses;
}

KvClient::KvClient(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
KvClient::~KvClient() = default;

// The public calls: each one's parts, run now or later.
#define KVRAFT_PARTS(Response, call) \
  [&](Deadline d, Impl::CallParts<wire::Response>* p, Result* f) { return impl_->call; }

Result KvClient::Get(std::string_view key, bool stale) {
  return impl_->Now<wire::GetResponse>(KVRAFT_PARTS(GetResponse, GetParts(key, stale, d, p, f)));
}
Result KvClient::Put(std::string_view key, std::string_view value) {
  return impl_->Now<wire::WriteResponse>(
      KVRAFT_PARTS(WriteResponse, PutParts(key, value, d, p, f)));
}
Result KvClient::Append(std::string_view key, std::string_view value) {
  return impl_->Now<wire::WriteResponse>(
      KVRAFT_PARTS(WriteResponse, AppendParts(key, value, d, p, f)));
}
Result KvClient::Delete(std::string_view key) {
  return impl_->Now<wire::WriteResponse>(KVRAFT_PARTS(WriteResponse, DeleteParts(key, d, p, f)));
}
Result KvClient::CompareAndSwap(std::string_view key, std::optional<std::string_view> expected,
                                std::string_view value) {
  return impl_->Now<wire::WriteResponse>(
      KVRAFT_PARTS(WriteResponse, CasParts(key, expected, value, d, p, f)));
}
Result KvClient::Range(std::string_view start, std::string_view end, int64_t limit, bool stale) {
  return impl_->Now<wire::RangeResponse>(
      KVRAFT_PARTS(RangeResponse, RangeParts(start, end, limit, stale, d, p, f)));
}

void KvClient::GetAsync(std::string_view key, bool stale, Done done) {
  impl_->Later<wire::GetResponse>(KVRAFT_PARTS(GetResponse, GetParts(key, stale, d, p, f)),
                                  std::move(done));
}
void KvClient::PutAsync(std::string_view key, std::string_view value, Done done) {
  impl_->Later<wire::WriteResponse>(KVRAFT_PARTS(WriteResponse, PutParts(key, value, d, p, f)),
                                    std::move(done));
}
void KvClient::AppendAsync(std::string_view key, std::string_view value, Done done) {
  impl_->Later<wire::WriteResponse>(
      KVRAFT_PARTS(WriteResponse, AppendParts(key, value, d, p, f)), std::move(done));
}
void KvClient::DeleteAsync(std::string_view key, Done done) {
  impl_->Later<wire::WriteResponse>(KVRAFT_PARTS(WriteResponse, DeleteParts(key, d, p, f)),
                                    std::move(done));
}
void KvClient::CompareAndSwapAsync(std::string_view key, std::optional<std::string_view> expected,
                                   std::string_view value, Done done) {
  impl_->Later<wire::WriteResponse>(
      KVRAFT_PARTS(WriteResponse, CasParts(key, expected, value, d, p, f)), std::move(done));
}
#undef KVRAFT_PARTS

std::vector<NodeStatus> KvClient::Status() { return impl_->Status(); }

}  // namespace kvraft::client
