#include "bench/op_plan.h"

#include <cmath>
#include <limits>

#include <glog/logging.h>

namespace kvraft::bench {

OpPlan::OpPlan(const Options& options, Clock::time_point start)
    : options_(options), start_(start), measureStart_(start + options.warmup) {
  CHECK_GE(options.rate, 0);
  CHECK(options.ops > 0 || options.duration > Clock::duration::zero());
  endNanos_ = byDuration() ? (measureStart_ + options.duration).time_since_epoch().count()
                           : std::numeric_limits<int64_t>::max();
  if (open()) {
    // The first op whose intended start is not before the window's start.
    const double warmupSeconds = std::chrono::duration<double>(options.warmup).count();
    uint64_t first = static_cast<uint64_t>(std::ceil(warmupSeconds * options.rate));
    while (IntendedStart(first) < measureStart_) ++first;
    while (first > 0 && IntendedStart(first - 1) >= measureStart_) --first;
    firstMeasured_ = first;
  }
}

Clock::time_point OpPlan::IntendedStart(uint64_t i) const {
  const double nanos = static_cast<double>(i) * 1e9 / options_.rate;
  return start_ + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::nanoseconds(static_cast<int64_t>(std::llround(nanos))));
}

OpPlan::Ticket OpPlan::Next(Clock::time_point now) {
  Ticket ticket;
  if (stopped_.load()) return ticket;
  const Clock::time_point end{Clock::duration(endNanos_.load())};
  if (open()) {
    const uint64_t i = handedOut_++;
    ticket.intended = IntendedStart(i);
    if (byDuration() ? ticket.intended >= end : i >= firstMeasured_ + options_.ops) return ticket;
    ticket.issue = true;
    ticket.measured = i >= firstMeasured_;
    return ticket;
  }
  ticket.intended = now;
  if (byDuration()) {
    if (now >= end) return ticket;
    ticket.issue = true;
    ticket.measured = now >= measureStart_;
    return ticket;
  }
  if (now < measureStart_) {
    ticket.issue = true;  // a warm-up call
    return ticket;
  }
  if (handedOut_++ >= options_.ops) return ticket;
  ticket.issue = true;
  ticket.measured = true;
  return ticket;
}

bool OpPlan::Counts(const Ticket& ticket, Clock::time_point end) const {
  if (!ticket.measured) return false;
  if (open() || !byDuration()) return true;
  // Closed loop: a call that straddles the window's end belongs to nobody,
  // or the window would hold more than its length of calls.
  return end.time_since_epoch().count() <= endNanos_.load();
}

void OpPlan::Stop(Clock::time_point now) {
  if (stopped_.exchange(true)) return;
  const int64_t nanos = now.time_since_epoch().count();
  if (nanos < endNanos_.load()) endNanos_ = nanos;
}

std::optional<Clock::time_point> OpPlan::WindowEnd() const {
  const int64_t nanos = endNanos_.load();
  if (nanos == std::numeric_limits<int64_t>::max()) return std::nullopt;
  return Clock::time_point(Clock::duration(nanos));
}

}  // namespace kvraft::bench
