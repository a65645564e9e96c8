// linearizability_bench: checks one generated history and prints how long
// it took, for the cost figures in README.md.
//
//   linearizability_bench --clients=16 --keys=200 --ops_per_client=6250
//   linearizability_bench --clients=8 --keys=1 --ops_per_client=1250 --corrupt
//   linearizability_bench ... --timeouts_percent=2 --bounded
#include <gflags/gflags.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "tests/linearizability/atomic_kv_simulation.h"
#include "tests/linearizability/checker.h"

DEFINE_uint64(seed, 7, "Seed of the generated history");
DEFINE_int32(clients, 16, "Simulated clients, each with one operation in flight");
DEFINE_int32(keys, 200, "Keys the clients pick from uniformly");
DEFINE_int32(ops_per_client, 6250, "Operations each client issues");
DEFINE_int64(max_latency_us, 200, "An operation lasts up to this long (uniform)");
DEFINE_int64(max_think_us, 10, "A client waits up to this long between operations (uniform)");
DEFINE_uint32(timeouts_percent, 2, "Percent of operations that never get an answer");
DEFINE_bool(bounded, false, "Record a bound for unanswered operations (Operation::Unanswered)");
DEFINE_bool(ranges, false, "Include Range reads (8% of operations), which tie keys together");
DEFINE_bool(corrupt, false, "Change one read, 90% of the way in, to a value never written");
DEFINE_uint64(max_steps, 20'000'000, "CheckOptions::maxStepsPerPartition");
DEFINE_bool(explain, false, "Print the checker's explanation");

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  using namespace kvraft::linearizability;
  SimulationOptions o;
  o.seed = FLAGS_seed;
  o.clients = FLAGS_clients;
  o.keys = FLAGS_keys;
  o.operationsPerClient = FLAGS_ops_per_client;
  o.maxLatency = FLAGS_max_latency_us;
  o.maxThink = FLAGS_max_think_us;
  o.neverReturnsPercent = FLAGS_timeouts_percent;
  o.boundUnanswered = FLAGS_bounded;
  if (FLAGS_ranges) o.mix.range = 8;
  History h = SimulateAtomicKv(o);
  if (FLAGS_corrupt) {
    Time last = 0;
    for (const Operation& op : h) last = std::max(last, op.call);
    for (Operation& op : h) {
      if (op.kind == OpKind::kGet && op.answered && op.call >= last / 10 * 9) {
        op.got = "never written";
        break;
      }
    }
  }

  CheckOptions options;
  options.maxStepsPerPartition = FLAGS_max_steps;
  auto start = std::chrono::steady_clock::now();
  CheckResult r = CheckLinearizability(h, options);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "%s: %zu operations, %zu partitions, %llu steps (at most %llu in one), %.3f s, %.0f ops/s\n",
      VerdictName(r.verdict), h.size(), r.partitions, static_cast<unsigned long long>(r.steps),
      static_cast<unsigned long long>(r.maxPartitionSteps), seconds,
      static_cast<double>(h.size()) / seconds);
  if (FLAGS_explain) std::fputs(r.Describe().c_str(), stdout);
  return r.verdict == Verdict::kInvalidHistory ? 2 : 0;
}
