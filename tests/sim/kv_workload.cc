#include "tests/sim/kv_workload.h"

#include <glog/logging.h>

#include <algorithm>

#include "tests/linearizability/checker.h"

namespace kvraft::sim {

using linearizability::Operation;
using linearizability::OpKind;
using statemachine::Reply;
using statemachine::ReplyCode;

namespace {
// How long a client waits before trying again after a node said it is not
// the leader (an election may be under way).
constexpr uint64_t kNotLeaderBackoffUs = 10'000;
}  // namespace

KvWorkload::KvWorkload(Cluster& cluster, const KvWorkloadOptions& options)
    : c_(cluster), o_(options), clients_(options.clients) {
  for (int k = 0; k < o_.clients; ++k) {
    clients_[k].id = k;
    clients_[k].target = 1 + k % c_.size();
  }
  c_.SetApplyHook([this](int node, const raft::Entry& e, const std::string& reply) {
    OnApplied(node, e, reply);
  });
}

uint64_t KvWorkload::Between(uint64_t lo, uint64_t hi) {
  return hi <= lo ? lo : lo + c_.rng()() % (hi - lo + 1);
}

std::string KvWorkload::RandomValue() {
  std::string v = std::to_string(++valueCounter_) + ".";
  while (v.size() < o_.valueBytes) v.push_back(static_cast<char>('a' + c_.rng()() % 26));
  return v;
}

void KvWorkload::Start() {
  for (Client& c : clients_) {
    c.stopped = false;
    if (!c.busy) {
      c.busy = true;
      c_.Schedule(Between(0, 20'000), [this, &c] { Next(c); });
    }
  }
}

void KvWorkload::Stop() {
  for (Client& c : clients_) c.stopped = true;
}

bool KvWorkload::WaitIdle(uint64_t maxUs) {
  return c_.RunUntil(
      [this] {
        return std::none_of(clients_.begin(), clients_.end(), [](const Client& c) { return c.busy; });
      },
      maxUs);
}

void KvWorkload::Next(Client& c) {
  if (c.stopped || c_.failed()) {
    c.busy = false;
    return;
  }
  c.busy = true;
  if (c.clientId == 0) {
    c.registering = true;
    c.viaReadIndex = false;
    statemachine::Command reg;
    reg.op = statemachine::Operation::kRegisterClient;
    reg.leaderTimeMs = c_.now() / 1000;
    c.command = statemachine::EncodeCommand(reg);
  } else {
    c.registering = false;
    NewOperation(c);
  }
  Try(c);
}

void KvWorkload::NewOperation(Client& c) {
  namespace sm = statemachine;
  const int keyNo = o_.ownKeys ? c.id : static_cast<int>(c_.rng()() % o_.keys);
  const std::string key = "k" + std::to_string(keyNo);
  const int total = o_.getParts + o_.putParts + o_.appendParts + o_.deleteParts + o_.casParts;
  int pick = static_cast<int>(c_.rng()() % total);
  Operation& op = c.op;
  op = Operation();
  op.client = c.id;
  op.call = static_cast<linearizability::Time>(c_.now());
  op.key = key;
  sm::Command cmd;
  cmd.clientId = c.clientId;
  cmd.leaderTimeMs = c_.now() / 1000;
  cmd.key = op.key;
  if ((pick -= o_.getParts) < 0) {
    op.kind = OpKind::kGet;
    c.viaReadIndex = static_cast<double>(c_.rng()() % 1000) >= o_.logReadShare * 1000;
    cmd.op = sm::Operation::kGet;
  } else {
    c.viaReadIndex = false;
    cmd.sequence = c.nextSeq++;
    cmd.firstOutstanding = cmd.sequence;  // one call at a time: every earlier one was answered
    if ((pick -= o_.putParts) < 0) {
      op.kind = OpKind::kPut;
      op.argument = RandomValue();
      cmd.op = sm::Operation::kPut;
    } else if ((pick -= o_.appendParts) < 0) {
      op.kind = OpKind::kAppend;
      op.argument = RandomValue();
      cmd.op = sm::Operation::kAppend;
    } else if ((pick -= o_.deleteParts) < 0) {
      op.kind = OpKind::kDelete;
      cmd.op = sm::Operation::kDelete;
    } else {
      op.kind = OpKind::kCompareAndSwap;
      op.argument = RandomValue();
      // Expect one of the key's latest values, or absence: sometimes
      // right, sometimes not, so both outcomes occur.
      const std::vector<std::string>& recent = recentValues_[key];
      if (!recent.empty() && c_.rng()() % 4 != 0) op.expected = recent[c_.rng()() % recent.size()];
      cmd.op = sm::Operation::kCompareAndSwap;
      cmd.expected = op.expected ? std::optional<std::string_view>(*op.expected) : std::nullopt;
    }
    cmd.value = op.argument;
    if (op.kind == OpKind::kPut || op.kind == OpKind::kCompareAndSwap) {
      std::vector<std::string>& recent = recentValues_[key];
      recent.push_back(op.argument);
      if (recent.size() > 3) recent.erase(recent.begin());
    }
  }
  c.inOperation = true;
  c.command = c.viaReadIndex ? std::string() : sm::EncodeCommand(cmd);
}

void KvWorkload::Retry(Client& c, uint64_t delayUs) {
  // The node may know who leads; otherwise try the next one.
  const raft::Raft* core = c_.up(c.target) ? c_.core(c.target) : nullptr;
  const int hint = core != nullptr ? static_cast<int>(core->leader()) : 0;
  c.target = hint != 0 && hint != c.target ? hint : c.target % c_.size() + 1;
  const uint64_t attempt = ++c.attempt;
  c_.Schedule(delayUs, [this, &c, attempt] {
    if (c.attempt == attempt) Try(c);
  });
}

void KvWorkload::Try(Client& c) {
  if (c_.failed()) {
    c.busy = false;
    return;
  }
  const uint64_t attempt = ++c.attempt;
  const int node = c.target;
  if (c.viaReadIndex) {
    const bool asked = c_.ReadIndex(
        node,
        [this, &c, attempt, node](uint64_t) {
          if (c.attempt != attempt) return;
          auto* app = dynamic_cast<KvApp*>(&c_.app(node));
          CHECK(app != nullptr && app->kv() != nullptr);
          Reply reply;
          const Status s = app->kv()->Get(c.op.key, &reply);
          if (!s.ok()) return c_.Fail("node " + std::to_string(node) + " failed a read: " + s.ToString());
          Answer(c, reply);
        },
        [this, &c, attempt] {
          if (c.attempt == attempt) Retry(c, 0);
        });
    if (!asked) return Retry(c, kNotLeaderBackoffUs);
  } else {
    const StartResult r = c_.Start(node, c.command);
    if (!r.isLeader) return Retry(c, kNotLeaderBackoffUs);
    c.tryNode = node;
    c.tryIndex = r.index;
    waiting_[{node, r.index}] = c.id;
  }
  c_.Schedule(o_.tryTimeoutUs, [this, &c, attempt] {
    if (c.attempt != attempt || !c.busy) return;
    waiting_.erase({c.tryNode, c.tryIndex});
    Retry(c, 0);
  });
}

void KvWorkload::OnApplied(int node, const raft::Entry& e, const std::string& reply) {
  auto it = waiting_.find({node, e.index});
  if (it == waiting_.end()) return;
  Client& c = clients_[it->second];
  waiting_.erase(it);
  if (!c.busy || c.viaReadIndex || c.tryNode != node || c.tryIndex != e.index) return;
  if (e.data != c.command) {
    // Another entry took the index (a new leader overwrote ours): ours may
    // still be applied elsewhere; the retry's sequence number sees to it
    // that it takes effect at most once.
    return Retry(c, 0);
  }
  Reply decoded;
  const Status s = statemachine::DecodeReply(reply, &decoded);
  if (!s.ok()) return c_.Fail("undecodable reply at index " + std::to_string(e.index) + ": " + s.ToString());
  Answer(c, decoded);
}

void KvWorkload::Answer(Client& c, const Reply& reply) {
  ++c.attempt;  // whatever else is pending for this call is now stale
  if (c.registering) {
    if (reply.code != ReplyCode::kOk || reply.clientId == 0) {
      return c_.Fail("client " + std::to_string(c.id) + " could not register: " + reply.ToString());
    }
    c.clientId = reply.clientId;
  } else {
    const linearizability::Time now = static_cast<linearizability::Time>(c_.now());
    Operation& op = c.op;
    switch (reply.code) {
      case ReplyCode::kOk:
      case ReplyCode::kNotFound:
      case ReplyCode::kCasFailed:
        break;
      case ReplyCode::kSessionExpired:
        // The first try may have been applied before the session expired:
        // the outcome is unknown, and the client needs a new session.
        history_.push_back(op.Unanswered());
        c.inOperation = false;
        c.clientId = 0;
        c.busy = false;
        c_.Schedule(Between(0, o_.thinkUs), [this, &c] { Next(c); });
        return;
      default:
        return c_.Fail("client " + std::to_string(c.id) + " got an unexpected reply to " +
                       linearizability::Describe(op) + ": " + reply.ToString());
    }
    op.ret = now;
    op.answered = true;
    if (op.kind == OpKind::kGet) op.got = reply.code == ReplyCode::kOk ? reply.value : std::nullopt;
    if (op.kind == OpKind::kCompareAndSwap) op.swapped = reply.code == ReplyCode::kOk;
    history_.push_back(op);
    c.inOperation = false;
    ++answered_;
    ++c.answered;
  }
  c.busy = false;
  if (c.stopped) return;
  c.busy = true;
  c_.Schedule(Between(0, o_.thinkUs), [this, &c] { Next(c); });
}

linearizability::History KvWorkload::FullHistory() const {
  linearizability::History h = history_;
  for (const Client& c : clients_) {
    if (c.inOperation) h.push_back(c.op.Unanswered());
  }
  return h;
}

std::string KvWorkload::Check() const {
  const linearizability::CheckResult r = linearizability::CheckLinearizability(FullHistory());
  if (r.verdict != linearizability::Verdict::kOk) return r.Describe();
  DigestBook atEnd;
  for (int i = 1; i <= c_.size(); ++i) {
    const auto* app = dynamic_cast<const KvApp*>(&c_.app(i));
    if (app == nullptr || app->kv() == nullptr) continue;
    statemachine::StateDigest d;
    const Status s = app->kv()->Digest(&d);
    if (!s.ok()) return "node " + std::to_string(i) + ": " + s.ToString();
    const std::string disagreement = atEnd.Record(i, d, "at the end of the run");
    if (!disagreement.empty()) return disagreement;
  }
  return "";
}

}  // namespace kvraft::sim
