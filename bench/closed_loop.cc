#include "bench/closed_loop.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "bench/progress_line.h"

namespace kvraft::bench {
namespace {

using Clock = std::chrono::steady_clock;

// One client thread's tallies. The reporter takes `interval` once a second;
// the mutex is uncontended between those moments, so holding it around each
// record costs little next to a network round trip.
struct ClientTally {
  std::mutex mu;
  LatencyHistogram interval;  // this second so far (warmup included)
  uint64_t intervalErrors = 0;
  LatencyHistogram measured;
  uint64_t measuredOk = 0;
  CodeCounts measuredErrors{};
};

}  // namespace

ClosedLoopResult RunClosedLoop(const ClosedLoopOptions& options, const WorkloadOptions& workload,
                               client::KvClient& client) {
  const Clock::time_point start = Clock::now();
  const Clock::time_point measureStart = start + options.warmup;
  // Written by the reporter when the run ends early; read by the clients.
  std::atomic<int64_t> measureEndNanos{
      (measureStart + options.duration).time_since_epoch().count()};
  auto measureEnd = [&] { return Clock::time_point(Clock::duration(measureEndNanos.load())); };

  std::vector<std::unique_ptr<ClientTally>> tallies;
  for (int i = 0; i < options.clients; ++i) tallies.push_back(std::make_unique<ClientTally>());

  std::vector<std::thread> threads;
  for (int i = 0; i < options.clients; ++i) {
    threads.emplace_back([&, i] {
      Workload work(workload, client, 0x6b7662656e6368ULL + static_cast<uint64_t>(i));
      ClientTally& tally = *tallies[i];
      for (;;) {
        const Clock::time_point begin = Clock::now();
        if (begin >= measureEnd()) break;
        const client::Code code = work.Next();
        const Clock::time_point end = Clock::now();
        const bool ok = code == client::Code::kOk;
        // A call counts if it lies wholly inside the window: calls that
        // straddle the ends belong to the warmup or to nobody.
        const bool measured = begin >= measureStart && end <= measureEnd();
        std::lock_guard<std::mutex> lock(tally.mu);
        if (ok) {
          tally.interval.Record(end - begin);
        } else {
          ++tally.intervalErrors;
        }
        if (!measured) continue;
        if (ok) {
          tally.measured.Record(end - begin);
          ++tally.measuredOk;
        } else {
          ++tally.measuredErrors[static_cast<size_t>(code)];
        }
      }
    });
  }

  // The reporter: one progress line a second, and the window's edges.
  ProgressLine progress;
  LatencyHistogram second;
  bool started = false;
  Clock::time_point tick = start;
  for (;;) {
    tick += std::chrono::seconds(1);
    const Clock::time_point wake = std::min(tick, measureEnd());
    while (Clock::now() < wake) {
      if (options.stop != nullptr && options.stop->load()) break;
      // Wake at the window's start too, so that the servers' CPU time is
      // sampled at that moment rather than up to one sleep later.
      Clock::duration nap = std::min<Clock::duration>(std::chrono::milliseconds(50), wake - Clock::now());
      if (!started) nap = std::min<Clock::duration>(nap, measureStart - Clock::now());
      std::this_thread::sleep_for(nap);
      if (!started && Clock::now() >= measureStart) {
        started = true;
        if (options.onMeasureStart) options.onMeasureStart();
      }
    }
    const Clock::time_point now = Clock::now();
    if (options.stop != nullptr && options.stop->load() && now < measureEnd()) {
      measureEndNanos = now.time_since_epoch().count();
    }
    second.Reset();
    uint64_t errors = 0;
    for (auto& t : tallies) {
      std::lock_guard<std::mutex> lock(t->mu);
      second.Merge(t->interval);
      t->interval.Reset();
      errors += t->intervalErrors;
      t->intervalErrors = 0;
    }
    // A second is warmup if it ended (on schedule) by the window's start.
    progress.Print(std::chrono::duration<double>(now - start).count(), tick <= measureStart, second,
                   errors);
    if (now >= measureEnd()) break;
  }
  if (!started && options.onMeasureStart) options.onMeasureStart();
  if (options.onMeasureEnd) options.onMeasureEnd();
  for (auto& t : threads) t.join();
  progress.Finish();

  ClosedLoopResult result;
  for (auto& t : tallies) {
    result.latency.Merge(t->measured);
    result.ok += t->measuredOk;
    for (size_t c = 0; c < kCodeCount; ++c) result.errors[c] += t->measuredErrors[c];
  }
  result.seconds =
      std::max(0.0, std::chrono::duration<double>(measureEnd() - measureStart).count());
  return result;
}

}  // namespace kvraft::bench
