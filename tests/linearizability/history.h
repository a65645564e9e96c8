#pragma once
// What a client saw: the operations it issued against the KV store, when it
// issued each one, when (and whether) the answer came back, and the answer.
// The checker (checker.h) decides whether some single order of these
// operations, each taking effect at one instant between its call and its
// return, explains every answer (Herlihy & Wing 1990, linearizability).
//
// What to record:
// - Every operation whose effect may have happened, with the answer the
//   client got. An operation that never returned (timeout, lost
//   connection, client crash) is recorded with `ret = kNeverReturned`: it
//   may or may not have taken effect, at any instant after its call, and
//   the checker accepts both.
// - If the store promises more about such an operation, say so: with
//   Unanswered(t) it may or may not have taken effect, but not after t.
//   kvraft's sessions can give such a t (DESIGN.md, client semantics): if
//   the state machine never applies a sequence number below the last one
//   it applied for that client, a command the client gave up on takes
//   effect before the client's next command does, or never; t is then the
//   return time of the client's next answered command. Check that the
//   implementation keeps that promise first: a bound that is too early
//   turns a correct history into a violation. Bounds are what keep the
//   check cheap: an operation without one stays a candidate for the rest
//   of the history, and a few hundred of them on one key can exhaust the
//   budget.
// - Not an operation that definitely did not happen: one the store
//   rejected with an error that promises "no effect" (bad input, a request
//   refused before it was proposed). Leave it out: it constrains nothing,
//   and recording it as successful would be wrong. An error that does not
//   promise that (a deadline, NOT_LEADER after the proposal may have
//   reached the log) is an unknown outcome: record kNeverReturned.
// - Time stamps from one clock that all clients share (one process, or
//   CLOCK_MONOTONIC on one machine). Operation A precedes B only when
//   A.ret < B.call strictly; equal stamps count as concurrent, so clock
//   granularity can only make the check more lenient, never wrong.
//
// Client ids are only printed in explanations: a client may have several
// operations in flight at once (the client library uses several
// connections), so the checker does not assume a client is sequential.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kvraft::linearizability {

// Microseconds on the clock that every recorder shares.
using Time = int64_t;
// `ret` of an operation without an answer and without a bound.
inline constexpr Time kNeverReturned = std::numeric_limits<Time>::max();

using ClientId = int64_t;

// The value of a key; nullopt when the key is absent.
using Value = std::optional<std::string>;
// (key, value) pairs in ascending key order, as a Range read returns them.
using KeyValues = std::vector<std::pair<std::string, std::string>>;

enum class OpKind : uint8_t {
  kGet,             // key -> got
  kPut,             // key, argument (the value) -> ok
  kAppend,          // key, argument (the suffix) -> ok; absent counts as ""
  kDelete,          // key -> ok
  kCompareAndSwap,  // key, expected, argument (the new value) -> swapped
  kRange,           // [key, rangeEnd) -> range
};

// One operation of a history. Which fields matter depends on `kind` (see
// OpKind); the factory functions below fill exactly those. Given
// kNeverReturned as `ret` they make an operation without an answer.
struct Operation {
  ClientId client = 0;
  Time call = 0;
  // When the answer arrived. For an operation without an answer: the last
  // instant it could take effect, kNeverReturned if there is no bound.
  Time ret = kNeverReturned;
  // Whether the client got an answer (then the fields below hold it).
  bool answered = false;
  OpKind kind = OpKind::kGet;

  std::string key;       // Range: the first key of the range (inclusive)
  std::string argument;  // Put: the value; Append: the suffix; CAS: the new value
  Value expected;        // CAS: the value it requires; nullopt = requires absent
  // Range: the first key past the range (exclusive); nullopt = no upper end.
  std::optional<std::string> rangeEnd;

  // The answer; ignored when !answered.
  Value got;             // Get
  bool swapped = false;  // CAS: whether it reported success
  KeyValues range;       // Range: the pairs present in the range, in key order

  // A copy without its answer, that took effect by `noEffectAfter` or
  // never. For a client that gave up at a known bound.
  Operation Unanswered(Time noEffectAfter = kNeverReturned) const;

  static Operation Get(ClientId c, Time call, Time ret, std::string key, Value got);
  static Operation Put(ClientId c, Time call, Time ret, std::string key, std::string value);
  static Operation Append(ClientId c, Time call, Time ret, std::string key, std::string suffix);
  static Operation Delete(ClientId c, Time call, Time ret, std::string key);
  static Operation CompareAndSwap(ClientId c, Time call, Time ret, std::string key, Value expected,
                                  std::string newValue, bool swapped);
  static Operation Range(ClientId c, Time call, Time ret, std::string start,
                         std::optional<std::string> end, KeyValues result);
};

using History = std::vector<Operation>;

// Printable forms for explanations: strings are quoted with C escapes and
// long ones shortened, so a failure report stays readable.
std::string Quote(const std::string& s);
std::string QuoteValue(const Value& v);  // "absent" for nullopt
// E.g. `client 3 Put("k", "v") [100, 250]`, `client 2 Put("k", "w") [5, never)`
// or, when unanswered with a bound, `client 2 Put("k", "w") [5, 90?]`.
std::string Describe(const Operation& op);

}  // namespace kvraft::linearizability
