// raftsim: runs seeded whole-cluster simulations of the Raft core under
// faults and checks Raft's safety and liveness properties on every one.
//
//   raftsim --seeds=2000                 run seeds 1..2000, report failures
//   raftsim --seed=17 --trace            replay one seed, printing every event
//   raftsim --seed=17 --trace_hash       ... ending with trace_hash=<hex>
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "raftlog/mutants.h"
#include "tests/sim/scenario.h"

DEFINE_uint64(seed, 0, "Run this one seed in-process (replay); 0 = use --seeds");
DEFINE_uint64(seeds, 0, "Number of seeds to run, starting at --first_seed");
DEFINE_uint64(first_seed, 1, "First seed of a --seeds run");
DEFINE_int32(nodes, 5, "Nodes in the simulated cluster (3 or 5 are typical)");
DEFINE_uint64(sim_seconds, 30, "Simulated seconds of load and faults before healing");
DEFINE_bool(faults, true, "Inject crashes, partitions, drops, duplicates and delays");
DEFINE_string(store, "memory",
              "Where nodes keep their logs: memory, or rocksdb (a RocksDB store per node "
              "in a temporary directory, on /dev/shm when present)");
DEFINE_string(app, "hash",
              "Each node's application: hash (a running hash of the applied commands, "
              "cheapest), or kv (the real kv state machine on RocksDB, with clients doing "
              "Get/Put/Append/Delete/CompareAndSwap whose history is checked for "
              "linearizability, and replica digests compared)");
DEFINE_int64(snapshot_entries, -1,
             "With --app=kv: take a snapshot and compact the log once this many entries were "
             "applied past the last snapshot (0: never on this count; -1: each seed chooses)");
DEFINE_int64(snapshot_bytes, -1,
             "With --app=kv: take a snapshot and compact the log once this many command bytes "
             "were applied past the last snapshot (0: never on this count; -1: each seed "
             "chooses)");
DEFINE_uint64(raft_tail_cache_bytes, 16 << 20,
              "With --store=rocksdb: bytes of recent log entries each store keeps in memory "
              "(default 16 MiB); older entries are read from RocksDB");
DEFINE_bool(trace, false, "Print every simulated event (use with --seed)");
DEFINE_bool(trace_hash, false, "End a --seed run with trace_hash=<hex>, a digest of every event");
DEFINE_bool(summary, true, "Print one line of statistics per seed run with --seed");
DEFINE_bool(isolate, true,
            "Run each seed of a --seeds run in a child process, so that a crash or hang "
            "fails that seed only");
DEFINE_uint64(seed_timeout_s, 300, "Real seconds a seed may take before it counts as hung");
DEFINE_bool(stop_on_failure, false, "Stop a --seeds run at the first failing seed");
DEFINE_string(mutant, "",
              "Planted bug to run with (raftsim_mutants only): heartbeat_skips_log_check, "
              "truncate_on_stale_append, clear_vote_on_append, commit_previous_term_by_count, "
              "reply_before_persist, no_prevote_term_check");

namespace {

using kvraft::sim::RunScenario;
using kvraft::sim::ScenarioOptions;
using kvraft::sim::ScenarioResult;

std::string ReplayCommand(const char* argv0, uint64_t seed) {
  std::string cmd = std::string(argv0) + " --seed=" + std::to_string(seed);
  if (FLAGS_nodes != 5) cmd += " --nodes=" + std::to_string(FLAGS_nodes);
  if (FLAGS_sim_seconds != 30) cmd += " --sim_seconds=" + std::to_string(FLAGS_sim_seconds);
  if (!FLAGS_faults) cmd += " --faults=false";
  if (FLAGS_store != "memory") cmd += " --store=" + FLAGS_store;
  if (FLAGS_app != "hash") cmd += " --app=" + FLAGS_app;
  if (FLAGS_snapshot_entries >= 0) cmd += " --snapshot_entries=" + std::to_string(FLAGS_snapshot_entries);
  if (FLAGS_snapshot_bytes >= 0) cmd += " --snapshot_bytes=" + std::to_string(FLAGS_snapshot_bytes);
  if (!gflags::GetCommandLineFlagInfoOrDie("raft_tail_cache_bytes").is_default) {
    cmd += " --raft_tail_cache_bytes=" + std::to_string(FLAGS_raft_tail_cache_bytes);
  }
  if (!FLAGS_mutant.empty()) cmd += " --mutant=" + FLAGS_mutant;
  return cmd + " --trace";
}

ScenarioOptions Options() {
  ScenarioOptions o;
  o.nodes = FLAGS_nodes;
  o.simSeconds = FLAGS_sim_seconds;
  o.faults = FLAGS_faults;
  o.trace = FLAGS_trace;
  o.rocksdb = FLAGS_store == "rocksdb";
  o.kv = FLAGS_app == "kv";
  if (FLAGS_snapshot_entries >= 0) o.snapshotEntries = static_cast<uint64_t>(FLAGS_snapshot_entries);
  if (FLAGS_snapshot_bytes >= 0) o.snapshotBytes = static_cast<uint64_t>(FLAGS_snapshot_bytes);
  o.tailCacheBytes = FLAGS_raft_tail_cache_bytes;
  return o;
}

void PrintSummary(uint64_t seed, const ScenarioResult& r) {
  std::printf(
      "seed=%" PRIu64 " %s: %" PRIu64 " events, %" PRIu64 " messages, %" PRIu64
      " leaders, %" PRIu64 " crashes, %" PRIu64 " partitions; committed through %" PRIu64
      ", %" PRIu64 " client writes acknowledged, %" PRIu64 " linearizable reads (%" PRIu64
      " dropped)\n  params: %s\n",
      seed, r.ok ? "ok" : "FAILED", r.events, r.messages, r.leaders, r.crashes, r.partitions,
      r.committed, r.acked, r.reads, r.readsDropped, r.params.c_str());
}

// One seed in a child process: 0 ok, 1 invariant violated, else crashed/hung.
int RunIsolated(const char* argv0, uint64_t seed) {
  std::fflush(stdout);
  const pid_t pid = fork();
  PCHECK(pid >= 0) << "fork";
  if (pid == 0) {
    alarm(static_cast<unsigned>(FLAGS_seed_timeout_s));
    ScenarioResult r = RunScenario(seed, Options());
    if (!r.ok) {
      std::printf("FAIL seed=%" PRIu64 ": %s\n  params: %s\n  replay: %s\n", seed, r.failure.c_str(),
                  r.params.c_str(), ReplayCommand(argv0, seed).c_str());
    }
    std::fflush(stdout);
    _exit(r.ok ? 0 : 1);
  }
  int status = 0;
  PCHECK(waitpid(pid, &status, 0) == pid) << "waitpid";
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  std::printf("FAIL seed=%" PRIu64 ": %s (signal %d)\n  replay: %s\n", seed,
              sig == SIGALRM ? "hung: no result within --seed_timeout_s" : "crashed", sig,
              ReplayCommand(argv0, seed).c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "seeded whole-cluster simulation of the Raft core under faults.\n"
      "  raftsim --seeds=N [--first_seed=S]   run N seeds; last line: seeds=N failures=F\n"
      "  raftsim --seed=S [--trace] [--trace_hash]   replay one seed exactly");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  FLAGS_logtostderr = true;
  // Thousands of store opens per run would drown the report: warnings and
  // errors only, unless the caller chose a level.
  if (gflags::GetCommandLineFlagInfoOrDie("minloglevel").is_default) FLAGS_minloglevel = 1;
  google::InitGoogleLogging(argv[0]);

  if (!FLAGS_mutant.empty()) {
#ifdef KVRAFT_MUTANTS
    kvraft::raft::mutants::Mutant m;
    if (!kvraft::raft::mutants::Parse(FLAGS_mutant, &m)) {
      std::fprintf(stderr, "raftsim: unknown --mutant=%s; known: %s\n", FLAGS_mutant.c_str(),
                   kvraft::raft::mutants::AllNames());
      return 2;
    }
    kvraft::raft::mutants::Set(m);
#else
    std::fprintf(stderr,
                 "raftsim: --mutant needs the mutant build; run raftsim_mutants instead\n");
    return 2;
#endif
  }
  if (FLAGS_app != "hash" && FLAGS_app != "kv") {
    std::fprintf(stderr, "raftsim: --app must be hash or kv, not %s\n", FLAGS_app.c_str());
    return 2;
  }
  if (FLAGS_store != "memory" && FLAGS_store != "rocksdb") {
    std::fprintf(stderr, "raftsim: --store must be memory or rocksdb, not %s\n", FLAGS_store.c_str());
    return 2;
  }
  if (FLAGS_nodes < 1 || FLAGS_nodes > 9) {
    std::fprintf(stderr, "raftsim: --nodes must be between 1 and 9\n");
    return 2;
  }

  if (FLAGS_seed != 0) {
    ScenarioResult r = RunScenario(FLAGS_seed, Options());
    if (!r.ok) {
      std::printf("FAIL seed=%" PRIu64 ": %s\n  replay: %s\n", FLAGS_seed, r.failure.c_str(),
                  ReplayCommand(argv[0], FLAGS_seed).c_str());
    }
    if (FLAGS_summary) PrintSummary(FLAGS_seed, r);
    if (FLAGS_trace_hash) std::printf("trace_hash=%016" PRIx64 "\n", r.traceHash);
    return r.ok ? 0 : 1;
  }
  if (FLAGS_seeds == 0) {
    std::fprintf(stderr, "raftsim: give --seed=S or --seeds=N (see --help)\n");
    return 2;
  }

  const auto start = std::chrono::steady_clock::now();
  uint64_t run = 0, failures = 0;
  for (uint64_t s = FLAGS_first_seed; s < FLAGS_first_seed + FLAGS_seeds; ++s) {
    int rc = 0;
    if (FLAGS_isolate) {
      rc = RunIsolated(argv[0], s);
    } else {
      ScenarioResult r = RunScenario(s, Options());
      if (!r.ok) {
        std::printf("FAIL seed=%" PRIu64 ": %s\n  params: %s\n  replay: %s\n", s, r.failure.c_str(),
                    r.params.c_str(), ReplayCommand(argv[0], s).c_str());
        rc = 1;
      }
    }
    ++run;
    if (rc != 0) ++failures;
    if (rc != 0 && FLAGS_stop_on_failure) break;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.1f s, %.2f seeds/s\n", secs, static_cast<double>(run) / secs);
  std::printf("seeds=%" PRIu64 " failures=%" PRIu64 "\n", run, failures);
  return failures == 0 ? 0 : 1;
}
