#include "bench/run_loop.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>

#include "bench/progress_line.h"
#include "bench/random.h"

namespace kvraft::bench {
namespace {

// One client thread's tallies. The reporter takes the interval's once a
// second; the mutex is uncontended between those moments, so holding it
// around each record costs little next to a network round trip.
struct ClientTally {
  std::mutex mu;
  LatencyHistogram interval;  // this second so far (warm-up included)
  uint64_t intervalErrors = 0;
  uint64_t intervalLate = 0;
  std::array<std::unique_ptr<OpStats>, kOpKindCount> measured;  // made on first use
  uint64_t late = 0;
  Clock::duration maxLag{};
  std::optional<Clock::time_point> lastEnd;  // of a measured operation
};

// Sleeps until `when`, waking every 50 ms to see whether the run stopped.
// False if it did.
bool SleepUntil(Clock::time_point when, const OpPlan& plan) {
  for (;;) {
    if (plan.stopped()) return false;
    const Clock::time_point now = Clock::now();
    if (now >= when) return true;
    std::this_thread::sleep_for(
        std::min<Clock::duration>(when - now, std::chrono::milliseconds(50)));
  }
}

// Records one operation that was issued at `issued` and returned at `end`.
void Record(const OpPlan& plan, const RunOptions& options, bool keysMayBeMissing,
            const OpPlan::Ticket& ticket, Clock::time_point issued, Clock::time_point end,
            const OpOutcome& outcome, ClientTally& tally) {
  const Clock::duration latency = OpPlan::Latency(ticket, end);
  const bool answer = IsAnswer(outcome, keysMayBeMissing);
  const bool late = plan.Late(ticket, issued, options.lateThreshold);

  std::lock_guard<std::mutex> lock(tally.mu);
  if (answer) {
    tally.interval.Record(latency);
  } else {
    ++tally.intervalErrors;
  }
  tally.intervalLate += late ? 1 : 0;
  if (!plan.Counts(ticket, end)) return;
  auto& stats = tally.measured[static_cast<size_t>(outcome.kind)];
  if (!stats) stats = std::make_unique<OpStats>();
  const auto code = static_cast<size_t>(outcome.code);
  if (answer) {
    stats->latency.Record(latency);
    ++stats->answers[code];
  } else {
    ++stats->errors[code];
  }
  if (late) ++tally.late;
  if (plan.open()) tally.maxLag = std::max(tally.maxLag, issued - ticket.intended);
  if (!tally.lastEnd || end > *tally.lastEnd) tally.lastEnd = end;
}

void ClientLoop(OpPlan& plan, Workload& work, const RunOptions& options, bool keysMayBeMissing,
                ClientTally& tally) {
  for (;;) {
    const OpPlan::Ticket ticket = plan.Next(Clock::now());
    if (!ticket.issue) return;
    if (plan.open() && !SleepUntil(ticket.intended, plan)) return;
    const Clock::time_point issued = Clock::now();
    const OpOutcome outcome = work.Next();
    Record(plan, options, keysMayBeMissing, ticket, issued, Clock::now(), outcome, tally);
  }
}

// The closed loop without a thread per client: each client's next call is
// made from the callback of its last. `running` counts the clients whose
// chain of calls has not ended.
void IssueAsync(OpPlan& plan, Workload& work, const RunOptions& options, bool keysMayBeMissing,
                ClientTally& tally, std::atomic<int>& running) {
  const OpPlan::Ticket ticket = plan.Next(Clock::now());
  if (!ticket.issue) {
    --running;
    return;
  }
  const Clock::time_point issued = Clock::now();
  work.NextAsync([&plan, &work, &options, keysMayBeMissing, &tally, &running, ticket,
                  issued](OpOutcome outcome) {
    Record(plan, options, keysMayBeMissing, ticket, issued, Clock::now(), outcome, tally);
    IssueAsync(plan, work, options, keysMayBeMissing, tally, running);
  });
}

}  // namespace

RunResult Run(const RunOptions& options, const WorkloadOptions& workload, KeySpace& keys,
              client::KvClient& client) {
  const Clock::time_point start = Clock::now();
  OpPlan plan(options.plan, start);
  const bool keysMayBeMissing = workload.KeysMayBeMissing();
  // The closed loop by duration ends on the clock; the other modes end
  // when every client has finished its share.
  const bool endsOnTheClock = !plan.open() && plan.byDuration();

  std::vector<std::unique_ptr<ClientTally>> tallies;
  std::vector<std::unique_ptr<Workload>> works;
  for (int i = 0; i < options.clients; ++i) {
    tallies.push_back(std::make_unique<ClientTally>());
    const uint64_t seed = Mix64(options.seed * 0x100000001b3ULL + static_cast<uint64_t>(i));
    works.push_back(std::make_unique<Workload>(workload, keys, client, seed, i, options.clients));
  }
  std::atomic<int> running{options.clients};
  std::vector<std::thread> threads;
  const bool async = options.async && !plan.open();
  for (int i = 0; i < options.clients; ++i) {
    if (async) {
      IssueAsync(plan, *works[i], options, keysMayBeMissing, *tallies[i], running);
      continue;
    }
    threads.emplace_back([&, i] {
      ClientLoop(plan, *works[i], options, keysMayBeMissing, *tallies[i]);
      --running;
    });
  }

  // The reporter: one progress line a second, the time series, and the
  // window's edges.
  RunResult result;
  ProgressLine progress;
  LatencyHistogram second;
  bool started = false;
  double lastElapsed = 0;
  auto stopRequested = [&] { return options.stop != nullptr && options.stop->load(); };
  Clock::time_point tick = start;
  for (;;) {
    tick += std::chrono::seconds(1);
    Clock::time_point wake = tick;
    if (endsOnTheClock) wake = std::min(wake, *plan.WindowEnd());
    while (Clock::now() < wake) {
      if (stopRequested() || (!endsOnTheClock && running.load() == 0)) break;
      // Wake at the window's start too, so that the servers' CPU time is
      // sampled at that moment rather than up to one sleep later.
      Clock::duration nap =
          std::min<Clock::duration>(std::chrono::milliseconds(50), wake - Clock::now());
      if (!started) nap = std::min<Clock::duration>(nap, plan.measureStart() - Clock::now());
      std::this_thread::sleep_for(std::max<Clock::duration>(nap, Clock::duration::zero()));
      if (!started && Clock::now() >= plan.measureStart()) {
        started = true;
        if (options.onMeasureStart) options.onMeasureStart();
      }
    }
    const Clock::time_point now = Clock::now();
    if (stopRequested()) plan.Stop(now);

    SecondStats row;
    second.Reset();
    for (auto& t : tallies) {
      std::lock_guard<std::mutex> lock(t->mu);
      second.Merge(t->interval);
      t->interval.Reset();
      row.errors += t->intervalErrors;
      t->intervalErrors = 0;
      row.late += t->intervalLate;
      t->intervalLate = 0;
    }
    row.second = static_cast<int>(result.timeSeries.size()) + 1;
    row.elapsed = std::chrono::duration<double>(now - start).count();
    row.span = row.elapsed - lastElapsed;
    lastElapsed = row.elapsed;
    // A second is warm-up if it ended (on schedule) by the window's start.
    row.warmup = tick <= plan.measureStart();
    row.ops = second.Count();
    row.SetLatency(second);
    result.timeSeries.push_back(row);
    progress.Print(row, plan.open());

    const bool done = endsOnTheClock ? now >= *plan.WindowEnd()
                                     : running.load() == 0 || plan.stopped();
    if (done) break;
  }
  if (!started && options.onMeasureStart) options.onMeasureStart();
  if (options.onMeasureEnd) options.onMeasureEnd();
  for (auto& t : threads) t.join();
  // The asynchronous clients' last calls end within the call timeout.
  while (running.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  progress.Finish();

  std::optional<Clock::time_point> lastEnd;
  Clock::duration maxLag{};
  for (auto& t : tallies) {
    for (size_t k = 0; k < kOpKindCount; ++k) {
      if (!t->measured[k]) continue;
      if (!result.byOp[k]) result.byOp[k].emplace();
      result.byOp[k]->Merge(*t->measured[k]);
      result.total.Merge(*t->measured[k]);
    }
    result.late += t->late;
    maxLag = std::max(maxLag, t->maxLag);
    if (t->lastEnd && (!lastEnd || *t->lastEnd > *lastEnd)) lastEnd = t->lastEnd;
  }
  result.maxLagSeconds = std::chrono::duration<double>(maxLag).count();
  // The window: by its planned (or interrupted) end in the closed loop by
  // duration; otherwise until the last measured operation returned, and
  // no shorter than planned.
  Clock::time_point windowEnd = plan.measureStart();
  if (const auto planned = plan.WindowEnd()) windowEnd = *planned;
  if (!endsOnTheClock && lastEnd) windowEnd = std::max(windowEnd, *lastEnd);
  result.seconds =
      std::max(0.0, std::chrono::duration<double>(windowEnd - plan.measureStart()).count());
  return result;
}

}  // namespace kvraft::bench
