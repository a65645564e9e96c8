// kvbench end to end: short runs of each workload against a cluster it
// spawns, checked through the --json summary.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

// Runs kvbench with `args`; returns its stdout (stderr, the progress
// lines, goes to the test's log). Fails the test on a non-zero exit.
std::string RunKvbench(const std::string& args) {
  const std::string command = std::string(KVBENCH_PATH) + " " + args;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen failed: " << command;
    return "";
  }
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << command << " exited with status " << status << "; output: " << out;
  return out;
}

void CheckSummary(const std::string& workload) {
  const std::string out = RunKvbench("--spawn --workload=" + workload +
                                     " --clients=4 --duration=2 --warmup=1 --json");
  const nlohmann::json s = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(s.is_discarded()) << "not JSON: " << out;
  EXPECT_EQ(s["workload"], workload);
  EXPECT_GT(s["ops"].get<uint64_t>(), 0u);
  EXPECT_GT(s["ops_per_second"].get<double>(), 0);
  EXPECT_EQ(s["errors"].get<uint64_t>(), 0u) << s["errors_by_code"].dump();
  const auto& l = s["latency_ms"];
  EXPECT_GT(l["p50"].get<double>(), 0);
  EXPECT_LE(l["p50"].get<double>(), l["p99"].get<double>());
  EXPECT_LE(l["p99"].get<double>(), l["max"].get<double>());
  ASSERT_TRUE(s.contains("server_cpu_seconds")) << out;
  EXPECT_GT(s["server_cpu_seconds"].get<double>(), 0);
}

TEST(Kvbench, SpawnedPutRun) { CheckSummary("put"); }
TEST(Kvbench, SpawnedGetRun) { CheckSummary("get"); }

TEST(Kvbench, RejectsUnknownWorkload) {
  const int status = std::system((std::string(KVBENCH_PATH) + " --workload=scan 2>/dev/null").c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
}

}  // namespace
