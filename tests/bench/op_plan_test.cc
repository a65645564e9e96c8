// The schedule of operations, driven with made-up times: open-loop
// operations have intended starts on a fixed grid and are charged latency
// from them (a backlog becomes latency); closed-loop calls count only
// inside the window; --ops windows hold exactly that many operations.
#include "bench/op_plan.h"

#include <chrono>
#include <vector>

#include <gtest/gtest.h>

namespace kvraft::bench {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// An arbitrary origin: the plan must not care where the clock starts.
const Clock::time_point kStart = Clock::time_point(seconds(1000));

OpPlan::Options Open(double rate, Clock::duration warmup, Clock::duration duration,
                     uint64_t ops = 0) {
  OpPlan::Options o;
  o.rate = rate;
  o.warmup = warmup;
  o.duration = duration;
  o.ops = ops;
  return o;
}

TEST(KvbenchOpPlan, OpenLoopIntendedStartsAreAFixedGrid) {
  OpPlan plan(Open(1000, seconds(0), seconds(1)), kStart);
  // However late the clients ask, op i is due at start + i ms.
  for (int i = 0; i < 5; ++i) {
    const OpPlan::Ticket t = plan.Next(kStart + seconds(30));
    ASSERT_TRUE(t.issue);
    EXPECT_EQ(t.intended, kStart + milliseconds(i));
    EXPECT_TRUE(t.measured);
  }
  EXPECT_EQ(plan.IntendedStart(999), kStart + milliseconds(999));
}

TEST(KvbenchOpPlan, OpenLoopChargesLatencyFromTheIntendedStart) {
  OpPlan plan(Open(100, seconds(0), seconds(1)), kStart);
  const OpPlan::Ticket first = plan.Next(kStart);
  const OpPlan::Ticket second = plan.Next(kStart);
  EXPECT_EQ(second.intended, kStart + milliseconds(10));
  // Every client was busy until 50 ms: the second op starts 40 ms late
  // and takes 2 ms, so it is charged 42 ms, not 2.
  const Clock::time_point issued = kStart + milliseconds(50);
  const Clock::time_point end = issued + milliseconds(2);
  EXPECT_EQ(OpPlan::Latency(second, end), milliseconds(42));
  EXPECT_TRUE(plan.Late(second, issued, milliseconds(1)));
  // On time is not late; and the closed loop is never late.
  EXPECT_FALSE(plan.Late(first, kStart + std::chrono::microseconds(500), milliseconds(1)));
  OpPlan closed(OpPlan::Options{0, seconds(0), seconds(1), 0}, kStart);
  const OpPlan::Ticket c = closed.Next(kStart + milliseconds(5));
  EXPECT_EQ(c.intended, kStart + milliseconds(5));
  EXPECT_EQ(OpPlan::Latency(c, kStart + milliseconds(7)), milliseconds(2));
  EXPECT_FALSE(closed.Late(c, kStart + seconds(1), milliseconds(1)));
}

TEST(KvbenchOpPlan, OpenLoopByDurationIssuesEveryOpIntendedInTheWindow) {
  // 10 ops/s, 1 s warm-up, 2 s measured: ops 0-9 warm up, 10-29 count.
  OpPlan plan(Open(10, seconds(1), seconds(2)), kStart);
  EXPECT_EQ(plan.FirstMeasuredOp(), 10u);
  int warmup = 0, measured = 0;
  for (;;) {
    // Asked long after the window ended: the backlog is still issued.
    const OpPlan::Ticket t = plan.Next(kStart + seconds(60));
    if (!t.issue) break;
    (t.measured ? measured : warmup)++;
    EXPECT_TRUE(plan.Counts(t, kStart + seconds(61)) == t.measured);
  }
  EXPECT_EQ(warmup, 10);
  EXPECT_EQ(measured, 20);
  EXPECT_FALSE(plan.Next(kStart).issue);  // done stays done
}

TEST(KvbenchOpPlan, OpenLoopWithOpsMeasuresExactlyThatMany) {
  // 1,000 ops/s, 0.5 s warm-up, 250 measured ops: 750 tickets in all.
  OpPlan plan(Open(1000, milliseconds(500), seconds(0), 250), kStart);
  int warmup = 0, measured = 0;
  Clock::time_point lastMeasured;
  while (true) {
    const OpPlan::Ticket t = plan.Next(kStart);
    if (!t.issue) break;
    if (t.measured) {
      ++measured;
      EXPECT_GE(t.intended, plan.measureStart());
      lastMeasured = t.intended;
    } else {
      ++warmup;
      EXPECT_LT(t.intended, plan.measureStart());
    }
  }
  EXPECT_EQ(warmup, 500);
  EXPECT_EQ(measured, 250);
  EXPECT_EQ(lastMeasured, kStart + milliseconds(749));
  EXPECT_EQ(plan.WindowEnd(), std::nullopt);
}

TEST(KvbenchOpPlan, ClosedLoopCountsOnlyCallsInsideTheWindow) {
  OpPlan plan(OpPlan::Options{0, seconds(1), seconds(2), 0}, kStart);
  const OpPlan::Ticket warm = plan.Next(kStart + milliseconds(500));
  EXPECT_TRUE(warm.issue);
  EXPECT_FALSE(warm.measured);
  EXPECT_FALSE(plan.Counts(warm, kStart + milliseconds(1500)));  // straddles the start
  const OpPlan::Ticket in = plan.Next(kStart + milliseconds(1500));
  EXPECT_TRUE(in.measured);
  EXPECT_TRUE(plan.Counts(in, kStart + milliseconds(2999)));
  EXPECT_FALSE(plan.Counts(in, kStart + milliseconds(3001)));  // straddles the end
  EXPECT_FALSE(plan.Next(kStart + seconds(3)).issue);
  EXPECT_EQ(plan.WindowEnd(), kStart + seconds(3));
}

TEST(KvbenchOpPlan, ClosedLoopWithOpsHandsOutExactlyThatManyAfterTheWarmup) {
  OpPlan plan(OpPlan::Options{0, seconds(1), seconds(0), 3}, kStart);
  EXPECT_FALSE(plan.Next(kStart).measured);  // warm-up calls are not rationed
  EXPECT_FALSE(plan.Next(kStart + milliseconds(999)).measured);
  int measured = 0;
  while (plan.Next(kStart + seconds(2)).issue) ++measured;
  EXPECT_EQ(measured, 3);
}

TEST(KvbenchOpPlan, StopEndsTheRunAndTheWindow) {
  OpPlan plan(OpPlan::Options{0, seconds(0), seconds(10), 0}, kStart);
  EXPECT_TRUE(plan.Next(kStart + seconds(1)).issue);
  plan.Stop(kStart + seconds(2));
  EXPECT_TRUE(plan.stopped());
  EXPECT_FALSE(plan.Next(kStart + seconds(2)).issue);
  EXPECT_EQ(plan.WindowEnd(), kStart + seconds(2));

  OpPlan open(Open(100, seconds(0), seconds(0), 1000), kStart);
  EXPECT_TRUE(open.Next(kStart).issue);
  open.Stop(kStart + seconds(1));
  EXPECT_FALSE(open.Next(kStart).issue);  // the backlog is dropped too
  EXPECT_EQ(open.WindowEnd(), kStart + seconds(1));
}

}  // namespace
}  // namespace kvraft::bench
