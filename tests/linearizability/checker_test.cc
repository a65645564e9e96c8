// Known-answer tests of the linearizability checker. Each history is small
// enough to check by hand; the comment above it says why it is or is not
// linearizable.
#include "tests/linearizability/checker.h"

#include <gtest/gtest.h>

namespace kvraft::linearizability {
namespace {

using Op = Operation;
constexpr Time kNever = kNeverReturned;
const Value kAbsent = std::nullopt;

Verdict Check(const History& h) { return CheckLinearizability(h).verdict; }

// --- Sequential histories --------------------------------------------------

TEST(CheckerSequential, EveryOperationKindInOrderIsLinearizable) {
  History h = {
      Op::Get(1, 0, 1, "x", kAbsent),
      Op::Put(1, 2, 3, "x", "a"),
      Op::Get(1, 4, 5, "x", "a"),
      Op::Append(1, 6, 7, "x", "b"),
      Op::Get(1, 8, 9, "x", "ab"),
      Op::CompareAndSwap(1, 10, 11, "x", "ab", "c", true),
      Op::CompareAndSwap(1, 12, 13, "x", "ab", "d", false),
      Op::Get(1, 14, 15, "x", "c"),
      Op::Delete(1, 16, 17, "x"),
      Op::Get(1, 18, 19, "x", kAbsent),
      Op::Append(1, 20, 21, "x", "e"),  // absent counts as ""
      Op::Get(1, 22, 23, "x", "e"),
      Op::Delete(1, 24, 25, "x"),
      Op::CompareAndSwap(1, 26, 27, "x", kAbsent, "f", true),
      Op::Get(1, 28, 29, "x", "f"),
  };
  CheckResult r = CheckLinearizability(h);
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.Describe();
  EXPECT_EQ(r.partitions, 1u);
  EXPECT_EQ(r.operations, h.size());
}

TEST(CheckerSequential, WrongAnswerIsNotLinearizable) {
  History h = {
      Op::Put(1, 0, 1, "x", "a"), Op::Append(1, 2, 3, "x", "b"),
      Op::Get(1, 4, 5, "x", "ba"),  // the suffix goes at the end
  };
  EXPECT_EQ(Check(h), Verdict::kNotLinearizable);
}

TEST(CheckerSequential, CasThatFailsAgainstTheExpectedValueIsNotLinearizable) {
  History h = {
      Op::Put(1, 0, 1, "x", "a"),
      Op::CompareAndSwap(1, 2, 3, "x", "a", "b", false),
  };
  EXPECT_EQ(Check(h), Verdict::kNotLinearizable);
}

TEST(CheckerSequential, EmptyHistoryIsLinearizable) { EXPECT_EQ(Check({}), Verdict::kOk); }

// --- Concurrency ---------------------------------------------------------------

// Two Puts overlap everything. The reads pin their order: "a" is seen
// first, "b" last, so only Put a, Get a, Put b, Get b works.
TEST(CheckerConcurrent, OverlappingWritesOrderedByTheReads) {
  History h = {
      Op::Put(1, 0, 100, "x", "a"),
      Op::Put(2, 0, 100, "x", "b"),
      Op::Get(3, 10, 20, "x", "a"),
      Op::Get(3, 110, 120, "x", "b"),
  };
  EXPECT_EQ(Check(h), Verdict::kOk);
}

// a, then b, then a again: each Put takes effect once, so the value
// cannot go back to "a".
TEST(CheckerConcurrent, ValueCannotFlipBackWithoutAWrite) {
  History h = {
      Op::Put(1, 0, 100, "x", "a"), Op::Put(2, 0, 100, "x", "b"), Op::Get(3, 10, 20, "x", "a"),
      Op::Get(3, 30, 40, "x", "b"), Op::Get(3, 50, 60, "x", "a"),
  };
  EXPECT_EQ(Check(h), Verdict::kNotLinearizable);
}

// A read overlapping a write may see either value.
TEST(CheckerConcurrent, ReadOverlappingAWriteSeesOldOrNew) {
  for (const Value& seen : {Value("old"), Value("new")}) {
    History h = {
        Op::Put(1, 0, 10, "x", "old"),
        Op::Put(1, 20, 40, "x", "new"),
        Op::Get(2, 30, 50, "x", seen),
    };
    EXPECT_EQ(Check(h), Verdict::kOk) << *seen;
  }
}

// Stamps that touch count as concurrent (history.h): the read returning
// "a" at the instant the Put of "b" returned is fine.
TEST(CheckerConcurrent, EqualStampsAreConcurrent) {
  History h = {
      Op::Put(1, 0, 10, "x", "a"),
      Op::Put(1, 20, 30, "x", "b"),
      Op::Get(2, 30, 40, "x", "a"),
  };
  EXPECT_EQ(Check(h), Verdict::kOk);
  h[2].call = 31;
  EXPECT_EQ(Check(h), Verdict::kNotLinearizable);
}

// --- The classic anomalies ---------------------------------------------------

// The Put of "b" completed before the Get started, yet the Get saw "a".
TEST(CheckerAnomaly, StaleReadIsNotLinearizable) {
  History h = {
      Op::Put(1, 0, 10, "x", "a"),
      Op::Put(1, 20, 30, "x", "b"),
      Op::Get(2, 40, 50, "x", "a"),
  };
  CheckResult r = CheckLinearizability(h);
  ASSERT_EQ(r.verdict, Verdict::kNotLinearizable);
  ASSERT_EQ(r.problems.size(), 1u);
  const PartitionReport& p = r.problems[0];
  EXPECT_EQ(p.name, "key \"x\"");
  ASSERT_TRUE(p.violation);
  EXPECT_EQ(p.violation->prefix, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(p.violation->stateAfterPrefix, "\"x\" = \"b\"");
  ASSERT_EQ(p.violation->candidates.size(), 1u);
  EXPECT_EQ(p.violation->candidates[0].op, 2u);
  EXPECT_EQ(p.violation->candidates[0].why, "returned \"a\" but the value was \"b\"");
  EXPECT_EQ(p.violation->deadline, 2u);
  // What a person sees:
  std::string text = r.Describe();
  EXPECT_NE(text.find("key \"x\": not linearizable"), std::string::npos) << text;
  EXPECT_NE(text.find("#2 client 2 Get(\"x\") -> \"a\" [40, 50]"), std::string::npos) << text;
}

// Both Appends were acknowledged, yet a later read shows only one.
TEST(CheckerAnomaly, LostAppendIsNotLinearizable) {
  History h = {
      Op::Append(1, 0, 10, "x", "1"),
      Op::Append(2, 5, 15, "x", "2"),
      Op::Get(3, 20, 30, "x", "1"),
  };
  CheckResult r = CheckLinearizability(h);
  EXPECT_EQ(r.verdict, Verdict::kNotLinearizable);
  for (const char* both : {"12", "21"}) {
    h[2].got = both;
    EXPECT_EQ(Check(h), Verdict::kOk) << both;
  }
}

TEST(CheckerAnomaly, ValueNeverWrittenIsNotLinearizable) {
  History h = {
      Op::Put(1, 0, 10, "x", "a"),
      Op::Get(2, 5, 15, "x", "ghost"),
  };
  CheckResult r = CheckLinearizability(h);
  ASSERT_EQ(r.verdict, Verdict::kNotLinearizable);
  // Neither before nor after the Put can the Get see "ghost".
  EXPECT_EQ(r.problems[0].violation->candidates.size(), 1u) << r.Describe();
}

TEST(CheckerAnomaly, DeletedKeyReappearingIsNotLinearizable) {
  History h = {
      Op::Put(1, 0, 10, "x", "a"),
      Op::Delete(1, 20, 30, "x"),
      Op::Get(2, 40, 50, "x", "a"),
  };
  EXPECT_EQ(Check(h), Verdict::kNotLinearizable);
}

// --- Compare-and-swap races --------------------------------------------------

// Two concurrent CAS from "a": only the first to take effect can find "a".
TEST(CheckerCompareAndSwap, TwoWinnersOnTheSameExpectedValueIsNotLinearizable) {
  History h = {
      Op::Put(1, 0, 10, "x", "a"),
      Op::CompareAndSwap(2, 20, 40, "x", "a", "b", true),
      Op::CompareAndSwap(3, 25, 35, "x", "a", "c", true),
  };
  EXPECT_EQ(Check(h), Verdict::kNotLinearizable);
}

TEST(CheckerCompareAndSwap, OneWinnerOneLoserIsLinearizable) {
  History h = {
      Op::Put(1, 0, 10, "x", "a"),
      Op::CompareAndSwap(2, 20, 40, "x", "a", "b", true),
      Op::CompareAndSwap(3, 25, 35, "x", "a", "c", false),
      Op::Get(1, 50, 60, "x", "b"),
  };
  EXPECT_EQ(Check(h), Verdict::kOk);
  // Either may be the winner.
  h[1].swapped = false;
  h[2].swapped = true;
  h[3].got = "c";
  EXPECT_EQ(Check(h), Verdict::kOk);
}

TEST(CheckerCompareAndSwap, OnAbsentKeyRacesLikeAnyOther) {
  History h = {
      Op::CompareAndSwap(1, 0, 20, "x", kAbsent, "a", true),
      Op::CompareAndSwap(2, 5, 25, "x", kAbsent, "b", true),
  };
  EXPECT_EQ(Check(h), Verdict::kNotLinearizable);
  h[1].swapped = false;
  EXPECT_EQ(Check(h), Verdict::kOk);
}

// --- Operations without an answer -----------------------------------------------

TEST(CheckerUnanswered, PutMayHaveTakenEffect) {
  History h = {
      Op::Put(1, 0, 10, "x", "a"),
      Op::Put(2, 20, kNever, "x", "b"),
      Op::Get(3, 1000, 1010, "x", "b"),
  };
  EXPECT_EQ(Check(h), Verdict::kOk);
}

TEST(CheckerUnanswered, PutMayNotHaveTakenEffect) {
  History h = {
      Op::Put(1, 0, 10, "x", "a"),
      Op::Put(2, 20, kNever, "x", "b"),
      Op::Get(3, 1000, 1010, "x", "a"),
  };
  EXPECT_EQ(Check(h), Verdict::kOk);
}

// It may take effect long after the client gave up, between two reads.
TEST(CheckerUnanswered, PutMayTakeEffectAnyTimeAfterItsCall) {
  History h = {
      Op::Put(1, 0, 10, "x", "a"),
      Op::Put(2, 20, kNever, "x", "b"),
      Op::Get(3, 1000, 1010, "x", "a"),
      Op::Get(3, 2000, 2010, "x", "b"),
  };
  EXPECT_EQ(Check(h), Verdict::kOk);
}

// But not before its call, and only once.
TEST(CheckerUnanswered, PutCannotTakeEffectBeforeItsCallOrTwice) {
  History early = {
      Op::Get(3, 0, 10, "x", "b"),
      Op::Put(2, 20, kNever, "x", "b"),
  };
  EXPECT_EQ(Check(early), Verdict::kNotLinearizable);
  History twice = {
      Op::Put(2, 0, kNever, "x", "b"),
      Op::Get(3, 10, 20, "x", "b"),
      Op::Put(1, 30, 40, "x", "a"),
      Op::Get(3, 50, 60, "x", "b"),
  };
  EXPECT_EQ(Check(twice), Verdict::kNotLinearizable);
}

TEST(CheckerUnanswered, AppendAndCasMayOrMayNotHaveTakenEffect) {
  for (const char* seen : {"a", "a+", "a+!"}) {
    History h = {
        Op::Put(1, 0, 10, "x", "a"),
        Op::Append(2, 20, kNever, "x", "+"),
        Op::CompareAndSwap(3, 30, kNever, "x", "a+", "a+!", false),  // answer unknown
        Op::Get(4, 1000, 1010, "x", seen),
    };
    EXPECT_EQ(Check(h), Verdict::kOk) << seen;
  }
}

// A read without an answer constrains nothing, whatever it recorded.
TEST(CheckerUnanswered, ReadIsIgnored) {
  History h = {
      Op::Put(1, 0, 10, "x", "a"),
      Op::Get(2, 20, kNever, "x", "ghost"),
  };
  CheckResult r = CheckLinearizability(h);
  EXPECT_EQ(r.verdict, Verdict::kOk);
  EXPECT_EQ(r.operations, 1u);
}

// With a bound (Operation::Unanswered): it took effect by then, or never.
TEST(CheckerUnanswered, BoundedPutTakesEffectByItsBoundOrNever) {
  History h = {
      Op::Put(1, 0, 10, "x", "a"),
      Op::Put(2, 20, kNever, "x", "b").Unanswered(/*noEffectAfter=*/30),
      Op::Get(3, 40, 50, "x", "a"),
  };
  EXPECT_EQ(Check(h), Verdict::kOk);  // never
  h[2].got = "b";
  EXPECT_EQ(Check(h), Verdict::kOk);  // by 30
  // Not seen at 40-50 but seen later: it would have taken effect after 30.
  h[2].got = "a";
  h.push_back(Op::Get(3, 60, 70, "x", "b"));
  EXPECT_EQ(Check(h), Verdict::kNotLinearizable);
  for (Operation& op : h) {
    if (!op.answered) op.ret = kNever;
  }
  EXPECT_EQ(Check(h), Verdict::kOk);  // without the bound it may land at 55
}

// The case bounds are for: a client that times out again and again on one
// key. Each write it gave up on is a choice at every step until its bound;
// without bounds, hundreds of them could not be ruled out in budget.
TEST(CheckerUnanswered, ManyBoundedTimeoutsStayCheap) {
  History h;
  for (int i = 0; i < 2000; ++i) {
    Time t = 20 * i;
    std::string v = "v" + std::to_string(i);
    h.push_back(Op::Put(1, t, t + 5, "x", v));
    h.push_back(Op::Get(1, t + 6, t + 10, "x", v));
    if (i % 5 == 0) h.push_back(Op::Put(2, t + 1, kNever, "x", "lost" + v).Unanswered(t + 30));
  }
  h.back().got = "v0";  // a stale read at the very end
  CheckResult r = CheckLinearizability(h);
  EXPECT_EQ(r.verdict, Verdict::kNotLinearizable);
  EXPECT_LT(r.steps, 100'000u);
}

// --- Partitioning by key -----------------------------------------------------

TEST(CheckerPartitioning, ViolationOnOneKeyIsFoundAmongMany) {
  History h;
  for (int k = 0; k < 2000; ++k) {
    std::string key = "key" + std::to_string(k);
    Time t = k % 50;
    h.push_back(Op::Put(k % 7, t, t + 100, key, "v" + std::to_string(k)));
    h.push_back(Op::Append(k % 5, t + 110, t + 200, key, "+"));
    h.push_back(
        Op::Get(k % 3, t + 50, t + 150, key, "v" + std::to_string(k)));  // before the Append
    h.push_back(Op::Get(k % 3, t + 250, t + 260, key, "v" + std::to_string(k) + "+"));
  }
  h[4 * 1234 + 3].got = "v1234";  // this read misses the acknowledged Append
  CheckResult r = CheckLinearizability(h);
  ASSERT_EQ(r.verdict, Verdict::kNotLinearizable) << r.Describe();
  EXPECT_EQ(r.partitions, 2000u);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].keys, std::vector<std::string>{"key1234"});
}

// Every operation overlaps every other, across 200 keys. Searched as one
// object this would be hopeless (the cache cannot merge configurations
// that differ on any key); split by key it is 200 small searches.
TEST(CheckerPartitioning, ConcurrencyAcrossKeysDoesNotMultiply) {
  History h;
  for (int k = 0; k < 200; ++k) {
    std::string key = "key" + std::to_string(k);
    std::string all;
    for (int i = 0; i < 6; ++i) {
      h.push_back(Op::Append(i, 0, 1000, key, std::to_string(i)));
      all += std::to_string(i);
    }
    h.push_back(Op::Get(9, 2000, 2010, key, all));
  }
  CheckResult r = CheckLinearizability(h);
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.Describe();
  EXPECT_EQ(r.partitions, 200u);
  EXPECT_LT(r.maxPartitionSteps, 10'000u);
}

// --- Range reads ---------------------------------------------------------------

TEST(CheckerRange, ConsistentSnapshotIsLinearizable) {
  History h = {
      Op::Put(1, 0, 10, "a", "1"),
      Op::Put(2, 0, 10, "c", "3"),
      Op::Put(1, 20, 60, "b", "2"),
      Op::Range(3, 30, 40, "a", "c", {{"a", "1"}}),  // Put b not yet
      Op::Range(3, 70, 80, "a", "d", {{"a", "1"}, {"b", "2"}, {"c", "3"}}),
      Op::Put(4, 100, 110, "z", "9"),
  };
  CheckResult r = CheckLinearizability(h);
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.Describe();
  // a, b, c are tied by the Ranges; z is alone.
  EXPECT_EQ(r.partitions, 2u);
}

// The Range saw b's write, which was called after a's write returned, but
// not a's write: no single instant shows that state.
TEST(CheckerRange, TornSnapshotIsNotLinearizable) {
  History h = {
      Op::Put(1, 0, 100, "a", "1"),
      Op::Put(2, 0, 100, "b", "1"),
      Op::Get(3, 10, 20, "a", "1"),
      Op::Get(3, 30, 40, "b", kAbsent),
      Op::Range(4, 10, 40, "a", "c", {{"b", "1"}}),
  };
  CheckResult r = CheckLinearizability(h);
  ASSERT_EQ(r.verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(r.problems[0].keys, (std::vector<std::string>{"a", "b"}));
  // Without the Range each key alone is fine.
  h.pop_back();
  EXPECT_EQ(Check(h), Verdict::kOk);
}

TEST(CheckerRange, OverKeysNeverWrittenMustBeEmpty) {
  History h = {
      Op::Put(1, 0, 10, "a", "1"),
      Op::Range(2, 20, 30, "m", "p", {}),
  };
  EXPECT_EQ(Check(h), Verdict::kOk);
  h[1].range = {{"n", "?"}};
  EXPECT_EQ(Check(h), Verdict::kNotLinearizable);
}

// --- Malformed input -------------------------------------------------------------

TEST(CheckerInvalid, AnswerWithoutReturnTimeIsRejected) {
  Operation op = Op::Get(2, 30, 40, "x", "a");
  op.ret = kNever;
  CheckResult r = CheckLinearizability({op});
  EXPECT_EQ(r.verdict, Verdict::kInvalidHistory);
  EXPECT_NE(r.error.find("#0"), std::string::npos) << r.error;
}

TEST(CheckerInvalid, ReturnBeforeCallIsRejected) {
  History h = {Op::Put(1, 0, 10, "x", "a"), Op::Get(2, 30, 20, "x", "a")};
  CheckResult r = CheckLinearizability(h);
  EXPECT_EQ(r.verdict, Verdict::kInvalidHistory);
  EXPECT_NE(r.error.find("#1"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace kvraft::linearizability
