#pragma once
// When each operation starts, and whether it is measured.
//
// Closed loop (no rate): each client issues its next call as soon as the
// previous one returns. Open loop (rate R ops/s over all clients): op i
// has an intended start of start + i/R on a fixed schedule, whichever
// client is free takes the next op and waits for its time, and its latency
// runs from the intended start, not from when a client got to it: when
// every client is busy the backlog shows up as latency instead of quietly
// lowering the rate (no coordinated omission).
//
// The measured window follows a warm-up and lasts either a duration or a
// number of operations:
//   closed loop, duration: calls that begin and end inside the window;
//   closed loop, --ops=N:  the first N calls begun after the warm-up;
//   open loop, duration:   every op intended inside the window, each
//                          issued however late (the run outlasts the
//                          window if the cluster falls behind);
//   open loop, --ops=N:    the N ops intended first after the warm-up.
//
// Pure bookkeeping over the time points its callers pass in, so tests can
// drive it with made-up times; thread-safe.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace kvraft::bench {

using Clock = std::chrono::steady_clock;

class OpPlan {
 public:
  struct Options {
    double rate = 0;  // ops per second over all clients; 0: closed loop
    Clock::duration warmup{};
    Clock::duration duration{};  // the measured window when ops == 0
    uint64_t ops = 0;            // measured operations; 0: measure for `duration`
  };

  struct Ticket {
    bool issue = false;          // false: the run is over for the client that asked
    Clock::time_point intended;  // open loop: its place on the schedule; closed: when asked
    bool measured = false;       // in the measured window (see Counts)
  };

  OpPlan(const Options& options, Clock::time_point start);

  // The next operation for a client that is free at `now`.
  Ticket Next(Clock::time_point now);

  // Whether an operation of `ticket` that returned at `end` counts in the
  // summary: a measured ticket, and in the closed loop by duration one that
  // also ended inside the window.
  bool Counts(const Ticket& ticket, Clock::time_point end) const;

  // The latency charged to an operation: from its intended start.
  static Clock::duration Latency(const Ticket& ticket, Clock::time_point end) {
    return end - ticket.intended;
  }
  // Open loop: whether an operation issued at `issued` started more than
  // `threshold` after its intended start.
  bool Late(const Ticket& ticket, Clock::time_point issued, Clock::duration threshold) const {
    return open() && issued - ticket.intended > threshold;
  }

  // Ends the run at `now` (an interrupt): no further ticket is issued, and
  // a window by duration ends then.
  void Stop(Clock::time_point now);
  bool stopped() const { return stopped_.load(); }

  bool open() const { return options_.rate > 0; }
  bool byDuration() const { return options_.ops == 0; }
  Clock::time_point start() const { return start_; }
  Clock::time_point measureStart() const { return measureStart_; }
  // The window's end when it is known in advance (by duration; moved by
  // Stop) or fixed by Stop; nullopt for a window of --ops still running.
  std::optional<Clock::time_point> WindowEnd() const;
  // Open loop: op i's intended start.
  Clock::time_point IntendedStart(uint64_t i) const;
  // Open loop: the first op intended at or after the measured window's start.
  uint64_t FirstMeasuredOp() const { return firstMeasured_; }

 private:
  Options options_;
  Clock::time_point start_;
  Clock::time_point measureStart_;
  // The window's end in nanoseconds since the clock's epoch: by duration,
  // its planned end; otherwise the largest value, until Stop.
  std::atomic<int64_t> endNanos_;
  std::atomic<bool> stopped_{false};
  // Open loop: ops handed out so far. Closed loop by --ops: measured ones.
  std::atomic<uint64_t> handedOut_{0};
  uint64_t firstMeasured_ = 0;
};

}  // namespace kvraft::bench
