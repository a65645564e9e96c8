// tools/python/kvraft_example.py against a real cluster: a client in
// another language, on the generated Python code of kv.thrift.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/kv_client.h"
#include "tests/integration/child_process.h"
#include "tests/integration/kvd_cluster.h"
#include "tests/integration/test_util.h"

#if !defined(KVRAFT_PYTHON_EXAMPLE) || !defined(KVRAFT_PYTHON_GEN_DIR)
#error "KVRAFT_PYTHON_EXAMPLE and KVRAFT_PYTHON_GEN_DIR must be compile definitions"
#endif

namespace kvraft::integration {
namespace {

using namespace std::chrono_literals;

// Debian's python3-thrift is installed for the system interpreter; a
// python3 found first on PATH (pyenv, a virtualenv) may not see it.
std::string PythonWithThrift() {
  for (const std::string candidate : {"/usr/bin/python3", "python3"}) {
    const std::string path = FindProgram(candidate);
    if (path.empty()) continue;
    if (RunProgram({path, "-c", "import thrift"}, {}, 30s).exitCode == 0) return path;
  }
  return "";
}

TEST(PythonExampleClient, PutThenGet) {
  const std::string python = PythonWithThrift();
  // tools/install-deps.sh installs python3-thrift: its absence is a set-up
  // failure, not a reason to skip.
  ASSERT_FALSE(python.empty()) << "no python3 that can import thrift (run tools/install-deps.sh)";
  KvdCluster cluster({});
  cluster.StartAll();
  ASSERT_NE(cluster.WaitForLeader(kLeaderLimit), 0) << "no leader";

  std::string endpoints;
  // The last node first: the example must find the leader wherever it is.
  for (int i = cluster.size(); i >= 1; --i) endpoints += (endpoints.empty() ? "" : ",") + cluster.ClientEndpoint(i);
  const ProgramResult r = RunProgram(
      {python, KVRAFT_PYTHON_EXAMPLE, "--endpoints=" + endpoints, "--key=from-python", "--value=hello, kvraft"},
      {std::string("PYTHONPATH=") + KVRAFT_PYTHON_GEN_DIR}, 60s);
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("from-python"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hello, kvraft"), std::string::npos) << r.output;
  std::printf("%s", r.output.c_str());

  // What Python wrote, C++ reads.
  client::KvClient kv(ClientOptions(cluster.ClientEndpoints()));
  const client::Result got = kv.Get("from-python");
  EXPECT_EQ(got.code, client::Code::kOk) << got.ToString();
  EXPECT_EQ(got.value, "hello, kvraft");
}

}  // namespace
}  // namespace kvraft::integration
