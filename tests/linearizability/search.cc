#include "tests/linearizability/search.h"

#include <algorithm>
#include <cassert>
#include <optional>

#include "tests/linearizability/event_list.h"
#include "tests/linearizability/linearized_set.h"
#include "tests/linearizability/state_table.h"
#include "tests/linearizability/visited_configurations.h"

namespace kvraft::linearizability {

namespace {

// Operations in the search's order: those with a return event (answered,
// or bounded) by call time, then those without.
std::vector<size_t> SearchOrder(const std::vector<const Operation*>& ops) {
  std::vector<size_t> order(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    bool aBounded = ops[a]->ret != kNeverReturned, bBounded = ops[b]->ret != kNeverReturned;
    if (aBounded != bBounded) return aBounded;
    return ops[a]->call < ops[b]->call;
  });
  return order;
}

std::vector<const Operation*> Permute(const std::vector<const Operation*>& ops,
                                      const std::vector<size_t>& order) {
  std::vector<const Operation*> out;
  for (size_t i : order) out.push_back(ops[i]);
  return out;
}

uint32_t CountBounded(const std::vector<const Operation*>& ops) {
  return static_cast<uint32_t>(std::count_if(
      ops.begin(), ops.end(), [](const Operation* op) { return op->ret != kNeverReturned; }));
}

// Operations that never change the state: Get, Range, a CAS that reported
// failure. When one of them could take effect now and fits the current
// state, placing it now is the only choice worth trying: if any
// linearization extends the current prefix, one with it next does too.
// Every operation that must precede it (returned before its call) is
// already placed, or that return event would come before its call event
// and end the scan; and moving it earlier changes no state and breaks no
// real-time order. This takes the reads out of the branching.
bool IsReadOnly(const Operation& op) {
  if (op.kind == OpKind::kGet || op.kind == OpKind::kRange) return true;
  return op.kind == OpKind::kCompareAndSwap && op.answered && !op.swapped;
}

bool IsBlindWrite(const Operation& op) {
  return op.kind == OpKind::kPut || op.kind == OpKind::kDelete;
}

class Search {
 public:
  Search(const std::vector<const Operation*>& ops, const KvModel& model);
  SearchResult Run(const SearchOptions& options);

 private:
  enum class How : uint8_t {
    kChosen,      // one choice among several
    kForcedRead,  // a read-only operation that fit: the only choice tried
    kDropped,     // an unanswered operation whose bound came: no effect
  };
  // Marks the choice to drop the operation rather than place it.
  static constexpr uint32_t kDrop = uint32_t{1} << 31;

  // One configuration on the current path: its state, the moves that
  // may leave it (in call order), and the one taken.
  struct Level {
    uint32_t state = 0;
    std::vector<uint32_t> choices;
    size_t nextChoice = 0;
    uint32_t placed = 0;
    How how = How::kChosen;
  };

  // Lists the choices of the configuration at depth_; returns a read-only
  // operation that fits, if there is one (then there is nothing to choose).
  std::optional<uint32_t> Enter(uint32_t state);
  // The state id after `op` in state `stateId`, or -1 if the model rejects
  // it. Memoized: the same step recurs in many orders.
  int32_t Transition(uint32_t stateId, uint32_t op);
  // An operation without an answer, taking effect, directly followed by a
  // Put or Delete of its key, is overwritten unseen: the same as its never
  // taking effect, which it may. So after one the search tries no Put or
  // Delete of that key. Without this, every such operation is a choice at
  // every configuration until its bound, and each one placed doubles the
  // configurations.
  bool MustBeSeen(const Level& level) const {
    return level.how == How::kChosen && !ops_[level.placed]->answered;
  }
  // Takes the move (`op` with `how`), reaching state `after` one level
  // deeper, unless that configuration was explored before (then changes
  // nothing).
  bool Move(uint32_t op, How how, uint32_t after);
  // Undoes moves back to the deepest level with choices left; false when
  // there is none.
  bool Backtrack();
  void RecordIfLongest(uint32_t state);
  size_t BytesHeld() const;
  SearchResult Finish(SearchOutcome outcome);

  const KvModel& model_;
  std::vector<size_t> inputIndex_;  // search order -> index into the caller's ops
  std::vector<const Operation*> ops_;
  uint32_t bounded_;  // ops_[bounded_, n) have no return event
  std::vector<bool> readOnly_;
  std::vector<bool> blindWrite_;
  EventList events_;
  LinearizedSet linearized_;  // placed or dropped
  StateTable states_;
  TransitionMemo transitions_;
  VisitedConfigurations visited_;
  std::vector<uint64_t> key_;  // Move's scratch

  std::vector<Level> levels_;  // [0, depth_] are live; deeper ones keep their buffers
  size_t depth_ = 0;
  uint64_t steps_ = 0;

  struct Step {
    uint32_t op;
    How how;
  };
  // The path that placed the most answered operations (unanswered ones
  // prove nothing, so they do not count toward the explanation's prefix).
  size_t answeredPlaced_ = 0;  // on the current path
  size_t longestAnswered_ = 0;
  std::vector<Step> longest_;
  size_t longestValidUpTo_ = 0;  // the path and longest_ agree below this depth
  uint32_t stateAfterLongest_ = 0;
};

Search::Search(const std::vector<const Operation*>& ops, const KvModel& model)
    : model_(model),
      inputIndex_(SearchOrder(ops)),
      ops_(Permute(ops, inputIndex_)),
      bounded_(CountBounded(ops_)),
      events_(ops_),
      linearized_(ops_, bounded_) {
  for (const Operation* op : ops_) {
    readOnly_.push_back(IsReadOnly(*op));
    blindWrite_.push_back(IsBlindWrite(*op));
  }
}

int32_t Search::Transition(uint32_t stateId, uint32_t op) {
  int32_t after = transitions_.Find(stateId, op);
  if (after != TransitionMemo::kUnknown) return after;
  std::optional<KvState> next = model_.Step(states_[stateId], *ops_[op]);
  after = next ? static_cast<int32_t>(states_.Intern(std::move(*next))) : TransitionMemo::kRejected;
  transitions_.Insert(stateId, op, after);
  return after;
}

std::optional<uint32_t> Search::Enter(uint32_t state) {
  if (levels_.size() <= depth_) levels_.resize(depth_ + 1);
  Level& level = levels_[depth_];
  level.state = state;
  level.choices.clear();
  level.nextChoice = 0;
  const std::string* noBlindWriteTo = depth_ > 0 && MustBeSeen(levels_[depth_ - 1])
                                          ? &ops_[levels_[depth_ - 1].placed]->key
                                          : nullptr;
  // The candidates are the calls before the first return still listed.
  // While a bounded operation is undecided its return is listed, so the
  // scan stops at a return before the tail.
  uint32_t node = events_.First();
  for (; EventList::IsCall(node); node = events_.Next(node)) {
    ++steps_;
    uint32_t op = EventList::OpOf(node);
    if (readOnly_[op]) {
      if (model_.Observes(states_[state], *ops_[op])) return op;
    } else if (!(noBlindWriteTo && blindWrite_[op] && ops_[op]->key == *noBlindWriteTo)) {
      level.choices.push_back(op);
    }
  }
  // The first return is an unanswered operation's bound: it may not have
  // taken effect at all. Trying that first keeps it out of the choices of
  // everything below.
  assert(!events_.IsTail(node));
  uint32_t due = EventList::OpOf(node);
  if (!ops_[due]->answered) level.choices.insert(level.choices.begin(), due | kDrop);
  return std::nullopt;
}

bool Search::Move(uint32_t op, How how, uint32_t after) {
  linearized_.Mark(op);
  if (!linearized_.AllBoundedDecided()) {
    std::span<const uint64_t> encoding = linearized_.Encode();
    key_.assign(encoding.begin(), encoding.end());
    uint64_t hash = linearized_.hash() ^ MixBits(after);
    // What may follow depends on MustBeSeen too: it is part of the
    // configuration.
    if (how == How::kChosen && !ops_[op]->answered) {
      key_[0] |= uint64_t{1} << 63;
      hash = ~hash;
    }
    if (!visited_.Insert(hash, after, key_)) {
      linearized_.Unmark(op);  // explored before, reached by another order
      return false;
    }
  }
  levels_[depth_].placed = op;
  levels_[depth_].how = how;
  events_.Lift(op);
  ++depth_;
  if (how != How::kDropped && ops_[op]->answered) ++answeredPlaced_;
  RecordIfLongest(after);
  return true;
}

bool Search::Backtrack() {
  while (depth_ > 0) {
    --depth_;
    longestValidUpTo_ = std::min(longestValidUpTo_, depth_);
    const Level& level = levels_[depth_];
    if (level.how != How::kDropped && ops_[level.placed]->answered) --answeredPlaced_;
    linearized_.Unmark(level.placed);
    events_.Unlift(level.placed);
    if (level.how != How::kForcedRead) return true;
  }
  return false;
}

void Search::RecordIfLongest(uint32_t state) {
  if (answeredPlaced_ <= longestAnswered_) return;
  longestAnswered_ = answeredPlaced_;
  // Copy only what changed since the last record: amortized O(1) a level.
  longest_.resize(longestValidUpTo_);
  for (size_t d = longestValidUpTo_; d < depth_; ++d) {
    longest_.push_back({levels_[d].placed, levels_[d].how});
  }
  longestValidUpTo_ = depth_;
  stateAfterLongest_ = state;
}

size_t Search::BytesHeld() const {
  return states_.bytes() + transitions_.bytes() + visited_.bytes() +
         levels_.capacity() * sizeof(Level) + depth_ * 4 * sizeof(uint32_t);
}

SearchResult Search::Finish(SearchOutcome outcome) {
  SearchResult result;
  result.outcome = outcome;
  result.steps = steps_;
  result.configurations = visited_.size();
  result.bytes = BytesHeld();
  if (outcome != SearchOutcome::kNotLinearizable) return result;
  for (const Step& step : longest_) {
    (step.how == How::kDropped ? result.droppedInPrefix : result.longestPrefix)
        .push_back(inputIndex_[step.op]);
  }
  result.stateAfterPrefix = states_[stateAfterLongest_];
  return result;
}

// Depth-first over configurations. Entering one lists what may happen
// next; each choice the model accepts leads one level deeper unless the
// cache has seen the result; a level out of choices is a dead end (some
// operation would have to take effect after it returned), so the search
// backs up one level and tries that level's next choice.
SearchResult Search::Run(const SearchOptions& options) {
  uint32_t state = states_.Intern(model_.Initial());
  stateAfterLongest_ = state;
  bool entering = true;
  while (true) {
    if (linearized_.AllBoundedDecided()) return Finish(SearchOutcome::kLinearizable);
    if (steps_ >= options.maxSteps) return Finish(SearchOutcome::kBudgetExhausted);
    if (entering) {
      entering = false;
      // Memory grows by at most a few configurations a level: checking it
      // when entering one is often enough.
      if (BytesHeld() > options.maxBytes) return Finish(SearchOutcome::kMemoryExhausted);
      if (std::optional<uint32_t> read = Enter(state)) {
        entering = Move(*read, How::kForcedRead, state);
        if (entering) continue;
        // The read leads somewhere explored already, and so does this.
        if (!Backtrack()) return Finish(SearchOutcome::kNotLinearizable);
        state = levels_[depth_].state;
        continue;
      }
    }
    Level& level = levels_[depth_];
    if (level.nextChoice == level.choices.size()) {
      if (!Backtrack()) return Finish(SearchOutcome::kNotLinearizable);
      state = levels_[depth_].state;
      continue;
    }
    ++steps_;
    uint32_t choice = level.choices[level.nextChoice++];
    if (choice & kDrop) {
      entering = Move(choice & ~kDrop, How::kDropped, state);
      continue;
    }
    int32_t after = Transition(level.state, choice);
    if (after >= 0 && Move(choice, How::kChosen, static_cast<uint32_t>(after))) {
      state = static_cast<uint32_t>(after);
      entering = true;
    }
  }
}

}  // namespace

SearchResult SearchLinearization(const std::vector<const Operation*>& ops, const KvModel& model,
                                 const SearchOptions& options) {
  return Search(ops, model).Run(options);
}

}  // namespace kvraft::linearizability
