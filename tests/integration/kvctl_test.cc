// kvctl against a real cluster: each command, plain and --json, and the
// exit codes scripts rely on (0 success, 1 not found, 2 CAS failed,
// 3 timeout or unreachable, 4 other errors).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/integration/child_process.h"
#include "tests/integration/kvd_cluster.h"
#include "tests/integration/loopback_port.h"
#include "tests/integration/test_util.h"

#ifndef KVCTL_PATH
#error "KVCTL_PATH must name where the kvctl binary is built (a compile definition)"
#endif

namespace kvraft::integration {
namespace {

using namespace std::chrono_literals;

class KvctlRunner {
 public:
  explicit KvctlRunner(std::string endpoints) : endpoints_(std::move(endpoints)) {}

  // kvctl --endpoints=... [--json] <args>
  ProgramResult Run(std::vector<std::string> args, bool json = false,
                    std::vector<std::string> flags = {}) const {
    std::vector<std::string> argv = {KVCTL_PATH, "--endpoints=" + endpoints_};
    if (json) argv.push_back("--json");
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, {}, 60s);
  }

 private:
  std::string endpoints_;
};

std::string Joined(const std::vector<std::string>& parts) {
  std::string s;
  for (const std::string& p : parts) s += (s.empty() ? "" : ",") + p;
  return s;
}

// The first non-blank character of a JSON document.
char FirstNonBlank(const std::string& s) {
  const size_t at = s.find_first_not_of(" \t\r\n");
  return at == std::string::npos ? '\0' : s[at];
}

TEST(Kvd, KvctlEndToEnd) {
  ASSERT_TRUE(std::filesystem::exists(KVCTL_PATH)) << KVCTL_PATH << " is not built";
  KvdCluster cluster({});
  cluster.StartAll();
  ASSERT_NE(cluster.WaitForLeader(kLeaderLimit), 0) << "no leader";
  const KvctlRunner kvctl(Joined(cluster.ClientEndpoints()));

  for (const bool json : {false, true}) {
    SCOPED_TRACE(json ? "--json" : "plain");
    const std::string key = json ? "json-key" : "plain-key";
    ProgramResult r = kvctl.Run({"put", key, "v1"}, json);
    EXPECT_EQ(r.exitCode, 0) << r.output;
    r = kvctl.Run({"get", key}, json);
    EXPECT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("v1"), std::string::npos) << r.output;
    if (json) {
      EXPECT_EQ(FirstNonBlank(r.output), '{') << r.output;
    }

    r = kvctl.Run({"cas", key, "v1", "v2"}, json);
    EXPECT_EQ(r.exitCode, 0) << r.output;
    r = kvctl.Run({"cas", key, "wrong", "v3"}, json);
    EXPECT_EQ(r.exitCode, 2) << "a failed CAS: " << r.output;
    EXPECT_NE(r.output.find("v2"), std::string::npos) << "a failed CAS shows the current value: " << r.output;
    r = kvctl.Run({"get", key}, json);
    EXPECT_NE(r.output.find("v2"), std::string::npos) << r.output;

    r = kvctl.Run({"del", key}, json);
    EXPECT_EQ(r.exitCode, 0) << r.output;
    r = kvctl.Run({"get", key}, json);
    EXPECT_EQ(r.exitCode, 1) << "a missing key: " << r.output;
    r = kvctl.Run({"del", key}, json);
    EXPECT_EQ(r.exitCode, 1) << "deleting a missing key: " << r.output;

    // Expecting absence.
    r = kvctl.Run({"cas", key, "new"}, json, {"--cas_absent"});
    EXPECT_EQ(r.exitCode, 0) << r.output;
    r = kvctl.Run({"cas", key, "newer"}, json, {"--cas_absent"});
    EXPECT_EQ(r.exitCode, 2) << "the key is there: " << r.output;
    EXPECT_NE(r.output.find("new"), std::string::npos) << r.output;

    // Over a limit: neither found nor missing, another error.
    r = kvctl.Run({"put", std::string(5000, 'k'), "v"}, json);
    EXPECT_EQ(r.exitCode, 4) << "a key over --max_key_bytes: " << r.output;

    r = kvctl.Run({"status"}, json);
    EXPECT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("leader"), std::string::npos) << r.output;
    if (json) {
      EXPECT_NE(std::string("{[").find(FirstNonBlank(r.output)), std::string::npos) << r.output;
    }
  }

  // Nobody listens on a reserved port: unreachable, within the timeout.
  const KvctlRunner nowhere("127.0.0.1:" + std::to_string(ReserveLoopbackPort()));
  for (const bool json : {false, true}) {
    ProgramResult r = nowhere.Run({"get", "k"}, json, {"--timeout_ms=500"});
    EXPECT_EQ(r.exitCode, 3) << "unreachable " << (json ? "--json" : "") << ": " << r.output;
    r = nowhere.Run({"put", "k", "v"}, json, {"--timeout_ms=500"});
    EXPECT_EQ(r.exitCode, 3) << "unreachable " << (json ? "--json" : "") << ": " << r.output;
    r = nowhere.Run({"status"}, json, {"--timeout_ms=500"});
    EXPECT_EQ(r.exitCode, 3) << "no node answered status " << (json ? "--json" : "") << ": " << r.output;
  }
}

}  // namespace
}  // namespace kvraft::integration
