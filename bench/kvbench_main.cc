// kvbench: closed-loop throughput and latency of a kvraft cluster through
// the client library, by the etcd anchor's method (see --help).
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gflags/gflags.h>
#include <glog/logging.h>
#include <thrift/Thrift.h>

#include "bench/closed_loop.h"
#include "bench/local_cluster.h"
#include "bench/summary.h"
#include "bench/workload.h"
#include "core/kv_client.h"

DEFINE_string(workload, "put", "put: Put of random keys over --key_space. get: Get of keys loaded "
                               "first (--read_keys of them, not counted), each read a uniformly random one.");
DEFINE_bool(stale, false, "get: read any node's applied state instead of a linearizable read.");
DEFINE_uint64(key_space, 1000000, "put: keys are drawn uniformly from this many.");
DEFINE_uint64(read_keys, 5000, "get: how many keys the load phase writes, and the reads choose from.");
DEFINE_uint64(key_size, 16, "Bytes per key.");
DEFINE_uint64(value_size, 256, "Bytes per value.");
DEFINE_int32(clients, 1, "Closed-loop client threads, each issuing its next call when the previous "
                         "returns. All share one client (one pooled connection per call in flight).");
DEFINE_int32(duration, 10, "Seconds measured.");
DEFINE_int32(warmup, 2, "Seconds of load before the measured window, not counted.");
DEFINE_bool(json, false, "Print the summary as one JSON object instead of text.");
DEFINE_bool(spawn, false, "Start a fresh local 3-node cluster from the built kvd, run against it, "
                          "stop it and delete its data. Reports the servers' CPU time.");
DEFINE_string(data_root, "/tmp", "--spawn: the cluster's temporary data directory is made under this.");
DEFINE_string(kvd_args, "", "--spawn: extra flags for every kvd, space-separated.");
DEFINE_int32(leader_wait_ms, 30000, "--spawn: how long to wait for a leader.");
DEFINE_string(endpoints, "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103",
              "Without --spawn: client addresses (host:port) of the running cluster, comma-separated.");
DEFINE_int32(timeout_ms, 10000, "Deadline of one call, the client's retries included.");

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

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "closed-loop benchmark of a kvraft cluster.\n\n"
      "  kvbench --spawn --workload=put --clients=64 --duration=10\n"
      "  kvbench --endpoints=127.0.0.1:7101,127.0.0.1:7102 --workload=get --clients=16\n\n"
      "Each of --clients threads issues one call at a time through the client library (key "
      "--key_size bytes, value --value_size bytes) for --warmup seconds, then for --duration "
      "measured seconds. A progress line goes to stderr once a second; the summary (ops/s, "
      "errors by code, latency percentiles in ms within 1%, and with --spawn the kvd nodes' CPU "
      "seconds in the measured window) goes to stdout.");
  FLAGS_logtostderr = false;
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  // Failed connects are the client's business (Result, VLOG); keep them
  // off the progress line.
  apache::thrift::GlobalOutput.setOutputFunction([](const char* msg) { VLOG(1) << msg; });

  bench::WorkloadOptions workload;
  if (!bench::ParseWorkloadKind(FLAGS_workload, &workload.kind)) {
    return Fail("--workload must be put or get, not '" + FLAGS_workload + "'");
  }
  workload.stale = FLAGS_stale;
  workload.keySpace = FLAGS_key_space;
  workload.readKeys = FLAGS_read_keys;
  workload.keySize = FLAGS_key_size;
  workload.valueSize = FLAGS_value_size;
  if (FLAGS_clients < 1) return Fail("--clients must be at least 1");
  if (FLAGS_duration < 1 || FLAGS_warmup < 0) return Fail("--duration >= 1 and --warmup >= 0");
  if (workload.keySize < 2) return Fail("--key_size must be at least 2");
  if ((workload.kind == bench::WorkloadKind::kPut ? workload.keySpace : workload.readKeys) == 0) {
    return Fail("--key_space and --read_keys must be positive");
  }

  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  std::unique_ptr<bench::LocalCluster> cluster;
  std::vector<std::string> endpoints = Split(FLAGS_endpoints, ',');
  if (FLAGS_spawn) {
    bench::LocalCluster::Options options;
    options.kvdPath = KVD_PATH;
    options.dataRoot = FLAGS_data_root;
    options.extraKvdArgs = Split(FLAGS_kvd_args, ' ');
    cluster = std::make_unique<bench::LocalCluster>(options);
    std::string error;
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
  client::KvClient client(clientOptions);

  if (workload.kind == bench::WorkloadKind::kGet) {
    std::cerr << "loading " << workload.readKeys << " keys..." << std::endl;
    const uint64_t failed = bench::LoadReadKeys(workload, client, std::min(FLAGS_clients, 64));
    if (failed > 0) return Fail(std::to_string(failed) + " puts of the load phase failed");
  }

  std::optional<double> cpuStart, cpuEnd;
  bench::ClosedLoopOptions loop;
  loop.clients = FLAGS_clients;
  loop.warmup = std::chrono::seconds(FLAGS_warmup);
  loop.duration = std::chrono::seconds(FLAGS_duration);
  loop.stop = &gStop;
  if (cluster) {
    loop.onMeasureStart = [&] { cpuStart = cluster->CpuSeconds(); };
    loop.onMeasureEnd = [&] { cpuEnd = cluster->CpuSeconds(); };
  }
  const bench::ClosedLoopResult result = bench::RunClosedLoop(loop, workload, client);

  bench::RunDescription run;
  run.workload = FLAGS_workload;
  run.stale = FLAGS_stale;
  run.clients = FLAGS_clients;
  run.keySpace = workload.keySpace;
  run.readKeys = workload.readKeys;
  run.keySize = workload.keySize;
  run.valueSize = workload.valueSize;
  run.spawned = FLAGS_spawn;
  if (cpuStart && cpuEnd && *cpuStart >= 0 && *cpuEnd >= 0) run.serverCpuSeconds = *cpuEnd - *cpuStart;

  if (cluster) {
    cluster->Stop();
    cluster->RemoveData();
  }
  const nlohmann::json summary = bench::SummaryJson(run, result);
  if (FLAGS_json) {
    std::cout << summary.dump() << std::endl;
  } else {
    std::cout << bench::SummaryText(summary);
  }
  return gStop ? 130 : 0;
}
