// kvbench: throughput and latency of a kvraft cluster through the client
// library, closed or open loop, over the workloads of op_mix.h (see --help).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gflags/gflags.h>
#include <glog/logging.h>
#include <thrift/Thrift.h>

#include "bench/csv_writer.h"
#include "bench/key_chooser.h"
#include "bench/kept_data.h"
#include "bench/load_phase.h"
#include "bench/local_cluster.h"
#include "bench/op_mix.h"
#include "bench/plot.h"
#include "bench/run_loop.h"
#include "bench/summary.h"
#include "bench/workload.h"
#include "core/kv_client.h"

// What runs.
DEFINE_string(workload, "put",
              "What each operation is: put, get, append, cas, delete, range, mix (with --mix) or "
              "a YCSB core workload, ycsb-a .. ycsb-f. The list under 'Workloads' in --help says "
              "what each does.");
DEFINE_string(mix, "", "Operations by weight, e.g. get:95,put:5 (implies --workload=mix). The "
                       "operations: get, put, append, cas, delete, range, insert (a new key after "
                       "all others), rmw (get then put of one key, timed as one operation).");
DEFINE_bool(stale, false, "Reads (get, range, rmw's get) from any node's applied state instead of "
                          "linearizable reads.");
DEFINE_int64(range_limit, 0, "Keys per range. 0 (default): 10, or for ycsb-e 100, each of its "
                             "scans asking for a length drawn uniformly from 1 to this.");

// Keys and values.
DEFINE_string(keys, "", "How operations choose keys: uniform, zipfian (--zipf_theta; hot keys "
                        "spread over the key space), sequential (the clients walk the keys in "
                        "order) or latest (the newest keys hottest). Default: zipfian for "
                        "ycsb-a/b/c/e/f, latest for ycsb-d, uniform otherwise.");
DEFINE_double(zipf_theta, 0.99, "Skew of zipfian and latest keys, in (0, 1): key rank r is "
                                "chosen with probability proportional to 1/(r+1)^theta.");
DEFINE_uint64(key_space, 0, "Keys [0, N) that operations choose from. 0 (default): 1,000,000 for "
                            "write-only workloads (put, append, cas, insert), --load_keys for those "
                            "that read or delete.");
DEFINE_uint64(load_keys, 0, "How many keys (0 .. N-1) the load phase writes before anything is "
                            "measured, from max(--clients, 16) threads. Workloads that read or "
                            "delete load the whole key space (default 5,000 keys); write-only "
                            "ones load nothing unless this is given.");
DEFINE_uint64(read_keys, 0, "Old name of --load_keys, still accepted.");
DEFINE_uint64(key_size, 16, "Bytes per key.");
DEFINE_uint64(value_size, 256, "Bytes per value (and per append).");
DEFINE_uint64(seed, 1, "Seed of every client's choices of operations and keys.");

// Load.
DEFINE_int32(clients, 1, "Clients, each with one call in flight at a time. All share one client "
                         "library instance; see --async for how they are driven.");
DEFINE_bool(async, true, "Closed loop: each client makes its next call from the callback of its "
                         "last (the client library's asynchronous calls), so a batch of answers "
                         "costs kvbench one thread wake-up, not one per call. --noasync, --rate, "
                         "--batches=0 and workloads with range give each client a thread of its "
                         "own that blocks in every call.");
DEFINE_int32(conns, 0, "Connections per node the clients share; a call waits for a free one. "
                       "0 (default): one per client, as many as calls in flight.");
DEFINE_int32(batches, 2, "Batches of calls the client library may have out to one node at once; "
                        "calls made while that many are out travel together in the next "
                        "(KvClient::Options::maxBatchesInFlight). 0: every call in a request of "
                        "its own.");
DEFINE_int32(another_batch_cap, 8, "While a batch is out to a node, another goes out beside it once "
                                   "half the calls the clients keep going wait, but at most this "
                                   "many, or once a stale read waits "
                                   "(KvClient::Options::anotherBatchCap). 1: whenever any call "
                                   "waits.");
DEFINE_double(rate, 0, "Open loop: operations per second over all clients, on a fixed schedule; "
                       "each operation's latency runs from its intended start, so a backlog "
                       "(all clients busy) shows as latency. 0 (default): closed loop, each "
                       "client issuing its next call when the previous one returns.");
DEFINE_double(late_ms, 1.0, "--rate: an operation issued more than this many ms after its "
                            "intended start counts as late in the summary.");
DEFINE_int32(duration, 10, "Seconds measured (after --warmup). With --rate, every operation "
                           "intended in the window runs, so a cluster that falls behind makes "
                           "the run longer.");
DEFINE_uint64(ops, 0, "Measure this many operations instead of --duration seconds.");
DEFINE_int32(warmup, 2, "Seconds of load before the measured window, not counted.");
DEFINE_int32(timeout_ms, 10000, "Deadline of one call, the client's retries included.");

// Output.
DEFINE_bool(json, false, "Print the summary as one JSON object (with a per-second time series) "
                         "instead of text.");
DEFINE_string(csv, "", "Also write a CSV file: one row per second (second, ops, errors, "
                       "latency percentiles) and a summary row.");
DEFINE_string(plot, "", "Also draw a PNG: throughput and latency over time, and latency by "
                        "percentile. Needs gnuplot (Debian: gnuplot-nox).");

// The cluster.
DEFINE_bool(spawn, false, "Start a fresh local 3-node cluster (--kvd), run against it, stop it "
                          "and delete its data. Reports the servers' CPU time.");
DEFINE_string(kvd, "", "--spawn: the kvd binary. Default: the kvd beside this kvbench.");
DEFINE_string(data_root, "/tmp",
              "--spawn: the cluster's temporary data directory is made under this.");
DEFINE_string(spawn_dir, "",
              "--spawn: the cluster's directory, kept after the run (default: a temporary one, "
              "deleted). A cluster an earlier run left there is reopened, and if that run loaded "
              "exactly the keys this one needs (count, --key_size, --value_size) the load phase is "
              "skipped; otherwise the load writes its keys over what the directory holds. A run "
              "that deletes, appends or inserts keys, writes values of another size or keys past "
              "the loaded ones makes the next run load again.");
DEFINE_string(kvd_args, "", "--spawn: extra flags for every kvd, space-separated.");
DEFINE_int32(leader_wait_ms, 30000, "--spawn: how long to wait for a leader.");
DEFINE_string(endpoints, "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103",
              "Without --spawn: client addresses (host:port) of the running cluster, "
              "comma-separated.");

namespace {

using namespace kvraft;

std::atomic<bool> gStop{false};
void OnSignal(int) { gStop = true; }

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, sep)) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

int Fail(const std::string& message) {
  std::cerr << "kvbench: " << message << std::endl;
  return 1;
}

bool Given(const char* flag) { return !gflags::GetCommandLineFlagInfoOrDie(flag).is_default; }

// The kvd in this program's own directory, else the one the build made.
std::string DefaultKvd() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path beside = self.parent_path() / "kvd";
    if (access(beside.c_str(), X_OK) == 0) return beside.string();
  }
  return KVD_PATH;
}

// An output file's directory must exist and be writable before the run
// spends minutes producing it.
bool CanWrite(const std::string& path, std::string* error) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  if (access(dir.c_str(), W_OK) != 0) {
    *error = "cannot write " + path + ": directory " + dir.string() +
             " does not exist or is not writable";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "throughput and latency of a kvraft cluster.\n\n"
      "  kvbench --spawn --workload=put --clients=64 --duration=10\n"
      "  kvbench --spawn --workload=ycsb-b --clients=32 --conns=8 --plot=b.png\n"
      "  kvbench --spawn --mix=get:90,cas:10 --keys=zipfian --rate=5000 --clients=64 --ops=50000\n"
      "  kvbench --endpoints=127.0.0.1:7101,127.0.0.1:7102 --workload=get --clients=16\n\n"
      "Each of --clients threads issues one call at a time through the client library (key "
      "--key_size bytes, value --value_size bytes): as fast as answers come (closed loop) or on "
      "the schedule of --rate (open loop). Workloads that read first load their keys; then "
      "--warmup seconds are not counted, and --duration seconds (or --ops operations) are. A "
      "progress line goes to stderr once a second; the summary goes to stdout: ops/s, answers "
      "and errors by code, latency percentiles in ms within 1% (p50, p90, p99, p99.9, max; "
      "overall and per operation), and with --spawn the kvd nodes' CPU seconds in the "
      "measured window. CAS_FAILED (cas) and NOT_FOUND (delete; get when the mix deletes) are "
      "answers, not errors.\n\nWorkloads:\n" +
      bench::WorkloadHelp());
  FLAGS_logtostderr = false;
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  // Failed connects are the client's business (Result, VLOG); keep them
  // off the progress line.
  apache::thrift::GlobalOutput.setOutputFunction([](const char* msg) { VLOG(1) << msg; });

  // What runs.
  std::string error;
  bench::WorkloadPreset preset;
  if (!bench::FindWorkloadPreset(FLAGS_workload, Given("workload"), FLAGS_mix, &preset, &error)) {
    return Fail(error);
  }
  bench::WorkloadOptions workload;
  workload.mix = preset.mix;
  workload.stale = FLAGS_stale;
  workload.keySize = FLAGS_key_size;
  workload.valueSize = FLAGS_value_size;
  workload.rangeLengthUniform = preset.rangeLengthUniform;
  workload.rangeLimit = FLAGS_range_limit > 0 ? FLAGS_range_limit : preset.defaultRangeLimit;
  if (FLAGS_range_limit < 0) return Fail("--range_limit must be positive (or 0 for the default)");
  if (workload.keySize < 2) return Fail("--key_size must be at least 2");

  // Keys.
  bench::KeyOrder keyOrder = preset.keys;
  if (!FLAGS_keys.empty()) {
    const auto order = bench::ParseKeyOrder(FLAGS_keys);
    if (!order) {
      return Fail("--keys must be uniform, zipfian, sequential or latest, not '" + FLAGS_keys +
                  "'");
    }
    keyOrder = *order;
  }
  if (!(FLAGS_zipf_theta > 0 && FLAGS_zipf_theta < 1)) {
    std::ostringstream theta;
    theta << FLAGS_zipf_theta;
    return Fail("--zipf_theta must be between 0 and 1 (exclusive), not " + theta.str());
  }
  if (Given("load_keys") && Given("read_keys")) {
    return Fail("--read_keys is the old name of --load_keys: give one of them");
  }
  std::optional<uint64_t> loadKeysFlag;
  if (Given("load_keys")) loadKeysFlag = FLAGS_load_keys;
  if (Given("read_keys")) loadKeysFlag = FLAGS_read_keys;
  std::optional<uint64_t> keySpaceFlag;
  if (FLAGS_key_space > 0) keySpaceFlag = FLAGS_key_space;
  bench::KeyCounts counts;
  if (!bench::ResolveKeyCounts(workload.NeedsLoadedKeys(), keySpaceFlag, loadKeysFlag, &counts,
                               &error)) {
    return Fail(error);
  }

  // Load and measurement.
  if (FLAGS_clients < 1) return Fail("--clients must be at least 1");
  if (FLAGS_conns < 0) return Fail("--conns must be at least 1 (or 0: one per client)");
  if (FLAGS_batches < 0) return Fail("--batches must be at least 1 (or 0: no batching)");
  if (FLAGS_another_batch_cap < 1) return Fail("--another_batch_cap must be at least 1");
  if (FLAGS_rate < 0) return Fail("--rate must be positive (or 0 for the closed loop)");
  if (FLAGS_late_ms < 0) return Fail("--late_ms must not be negative");
  if (FLAGS_warmup < 0) return Fail("--warmup must not be negative");
  if (FLAGS_ops > 0 && Given("duration")) return Fail("give --duration or --ops, not both");
  if (FLAGS_ops == 0 && FLAGS_duration < 1) return Fail("--duration must be at least 1");
  std::optional<std::string> gnuplot;
  if (!FLAGS_plot.empty()) {
    gnuplot = bench::FindGnuplot(&error);
    if (!gnuplot || !CanWrite(FLAGS_plot, &error)) return Fail(error);
  }
  if (!FLAGS_csv.empty() && !CanWrite(FLAGS_csv, &error)) return Fail(error);
  if (!FLAGS_spawn_dir.empty() && !FLAGS_spawn) return Fail("--spawn_dir needs --spawn");
  std::optional<bench::LoadedKeys> keptKeys;
  if (!FLAGS_spawn_dir.empty()) keptKeys = bench::ReadLoadedKeys(FLAGS_spawn_dir);
  const bench::LoadedKeys wantedKeys{counts.loadKeys, workload.keySize, workload.valueSize};
  if (keptKeys && counts.loadKeys > 0 &&
      (keptKeys->keys > counts.loadKeys || keptKeys->keySize != workload.keySize)) {
    return Fail("--spawn_dir " + FLAGS_spawn_dir + " holds " + std::to_string(keptKeys->keys) +
                " keys of " + std::to_string(keptKeys->keySize) + " bytes from an earlier load; "
                "this run loads " + std::to_string(counts.loadKeys) + " of " +
                std::to_string(workload.keySize) + " bytes, and the old keys would stay, so it "
                "would measure another key space than it says. Give another directory, or delete "
                "this one");
  }
  std::string kvdPath;
  if (FLAGS_spawn) {
    kvdPath = FLAGS_kvd.empty() ? DefaultKvd() : FLAGS_kvd;
    if (access(kvdPath.c_str(), X_OK) != 0) {
      return Fail("--kvd: " + kvdPath + " is not an executable file");
    }
  }

  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  // Zipfian keys precompute zeta over the key space: about 10 ms per
  // million keys, so say so when it will be noticed.
  if (keyOrder != bench::KeyOrder::kUniform && keyOrder != bench::KeyOrder::kSequential &&
      counts.keySpace >= 50000000) {
    std::cerr << "precomputing zipfian constants over " << counts.keySpace << " keys..."
              << std::endl;
  }
  const auto zetaStart = std::chrono::steady_clock::now();
  // Keys [0, max(key space, loaded)) exist before inserts add more.
  bench::KeySpace keys(keyOrder, counts.keySpace, FLAGS_zipf_theta,
                       std::max(counts.keySpace, counts.loadKeys));
  if (keys.zipfian() != nullptr) {
    LOG(INFO) << "zeta(" << counts.keySpace << ", " << FLAGS_zipf_theta << ") = "
              << keys.zipfian()->zetaN() << " in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - zetaStart).count()
              << " s";
  }

  std::unique_ptr<bench::LocalCluster> cluster;
  std::vector<std::string> endpoints = Split(FLAGS_endpoints, ',');
  if (FLAGS_spawn) {
    bench::LocalCluster::Options options;
    options.kvdPath = kvdPath;
    options.dataRoot = FLAGS_data_root;
    options.extraKvdArgs = Split(FLAGS_kvd_args, ' ');
    options.keptDir = FLAGS_spawn_dir;
    cluster = std::make_unique<bench::LocalCluster>(options);
    if (!cluster->Start(&error) ||
        !cluster->WaitForLeader(std::chrono::milliseconds(FLAGS_leader_wait_ms), &error)) {
      return Fail(error);
    }
    endpoints = cluster->Endpoints();
    LOG(INFO) << "cluster up, data in " << cluster->DataDir();
  }

  client::KvClient::Options clientOptions;
  clientOptions.endpoints = endpoints;
  clientOptions.timeout = std::chrono::milliseconds(FLAGS_timeout_ms);
  clientOptions.maxConnectionsPerEndpoint = static_cast<size_t>(FLAGS_conns);
  clientOptions.maxBatchesInFlight = static_cast<size_t>(FLAGS_batches);
  clientOptions.anotherBatchCap = static_cast<size_t>(FLAGS_another_batch_cap);
  client::KvClient client(clientOptions);

  bench::LoadResult load;
  const bool loadReused = counts.loadKeys > 0 && keptKeys && *keptKeys == wantedKeys;
  if (loadReused) {
    std::cerr << "reusing the " << counts.loadKeys << " keys an earlier run loaded into "
              << FLAGS_spawn_dir << std::endl;
  } else if (counts.loadKeys > 0) {
    // Until this load completes, the directory's keys are not what any
    // record says.
    if (!FLAGS_spawn_dir.empty()) bench::ForgetLoadedKeys(FLAGS_spawn_dir);
    keptKeys.reset();
    const int loaders = std::max(FLAGS_clients, 16);
    std::cerr << "loading " << counts.loadKeys << " keys with " << loaders << " clients..."
              << std::endl;
    load = bench::LoadKeys(workload, counts.loadKeys, client, loaders);
    if (load.failed > 0) {
      return Fail(std::to_string(load.failed) + " puts of the load phase failed (see the log "
                  "for the first ones); the cluster is not ready to measure");
    }
    if (!FLAGS_spawn_dir.empty()) {
      if (!bench::WriteLoadedKeys(FLAGS_spawn_dir, wantedKeys, &error)) return Fail(error);
      keptKeys = wantedKeys;
    }
  }
  if (keptKeys && !bench::RunKeepsLoadedKeys(workload.mix, counts.keySpace, workload.valueSize,
                                             *keptKeys)) {
    bench::ForgetLoadedKeys(FLAGS_spawn_dir);
  }

  std::optional<double> cpuStart, cpuEnd;
  bench::RunOptions run;
  run.plan.rate = FLAGS_rate;
  run.plan.warmup = std::chrono::seconds(FLAGS_warmup);
  run.plan.duration = std::chrono::seconds(FLAGS_duration);
  run.plan.ops = FLAGS_ops;
  run.clients = FLAGS_clients;
  run.async = FLAGS_async && FLAGS_batches > 0 && bench::Workload::AsyncCan(workload.mix);
  run.lateThreshold = std::chrono::duration_cast<bench::Clock::duration>(
      std::chrono::duration<double, std::milli>(FLAGS_late_ms));
  run.seed = FLAGS_seed;
  run.stop = &gStop;
  if (cluster) {
    run.onMeasureStart = [&] { cpuStart = cluster->CpuSeconds(); };
    run.onMeasureEnd = [&] { cpuEnd = cluster->CpuSeconds(); };
  }
  const bench::RunResult result = bench::Run(run, workload, keys, client);

  bench::RunDescription description;
  description.workload = FLAGS_mix.empty() ? FLAGS_workload : "mix";
  description.mix = workload.mix.ToString();
  description.stale = FLAGS_stale;
  description.clients = FLAGS_clients;
  description.async = run.async && FLAGS_rate <= 0;
  description.conns = FLAGS_conns > 0 ? FLAGS_conns : FLAGS_clients;
  description.batches = FLAGS_batches;
  description.anotherBatchCap = FLAGS_another_batch_cap;
  description.keys = bench::KeyOrderName(keyOrder);
  description.zipfTheta = FLAGS_zipf_theta;
  description.keySpace = counts.keySpace;
  description.loadKeys = counts.loadKeys;
  description.loadSeconds = load.seconds;
  description.loadReused = loadReused;
  description.readsLoadedKeys = workload.NeedsLoadedKeys();
  description.keySize = workload.keySize;
  description.valueSize = workload.valueSize;
  if (workload.mix.Contains(bench::OpKind::kRange)) description.rangeLimit = workload.rangeLimit;
  description.rangeLengthUniform = workload.rangeLengthUniform;
  description.rate = FLAGS_rate;
  description.lateThresholdMs = FLAGS_late_ms;
  description.opsTarget = FLAGS_ops;
  description.warmupSeconds = FLAGS_warmup;
  description.seed = FLAGS_seed;
  description.spawned = FLAGS_spawn;
  if (cpuStart && cpuEnd && *cpuStart >= 0 && *cpuEnd >= 0) {
    description.serverCpuSeconds = *cpuEnd - *cpuStart;
  }

  if (cluster) {
    cluster->Stop();
    cluster->RemoveData();
  }
  const nlohmann::json summary = bench::SummaryJson(description, result);
  if (FLAGS_json) {
    std::cout << summary.dump() << std::endl;
  } else {
    std::cout << bench::SummaryText(summary);
  }
  if (!FLAGS_csv.empty() &&
      !bench::WriteTextFile(FLAGS_csv, bench::CsvFromSummary(summary), &error)) {
    return Fail(error);
  }
  if (gnuplot && !bench::WritePlot(summary, *gnuplot, FLAGS_plot, &error)) return Fail(error);
  return gStop ? 130 : 0;
}
