// kvctl against a fake node: what it prints and the exit codes its usage
// text promises.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/client/fake_kv_node.h"

namespace kvraft::client::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct KvctlRun {
  int exitCode = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string ShellQuote(const std::string& arg) {
  std::string q = "'";
  for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

KvctlRun Kvctl(const std::vector<std::string>& args) {
  // ctest runs tests in parallel processes: the files are this process's own.
  const std::string prefix =
      ::testing::TempDir() + "/kvctl_test." + std::to_string(getpid()) + ".";
  const std::string out = prefix + "out";
  const std::string err = prefix + "err";
  std::string command = ShellQuote(KVCTL_PATH);
  for (const std::string& a : args) command += " " + ShellQuote(a);
  command += " >" + ShellQuote(out) + " 2>" + ShellQuote(err) + " </dev/null";
  const int status = std::system(command.c_str());
  KvctlRun run;
  if (WIFEXITED(status)) run.exitCode = WEXITSTATUS(status);
  run.out = ReadFile(out);
  run.err = ReadFile(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  return run;
}

class KvctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_.onGet = [](const wire::GetRequest& request, wire::GetResponse& out) {
      if (request.key == "k") out.__set_value("hello");
      if (request.key == "latin1") out.__set_value("caf\xe9");
      if (request.key == "absent") out.result.code = wire::Code::NOT_FOUND;
    };
    node_.onWrite = [](const WriteCall& w, wire::WriteResponse& out) {
      if (w.method == "CompareAndSwap") {
        out.result.code = wire::Code::CAS_FAILED;
        if (w.key == "present") out.__set_current("now");
      }
      if (w.key == "big") {
        out.result.code = wire::Code::TOO_LARGE;
        out.result.message = "value over the limit";
      }
    };
    node_.onRange = [](const wire::RangeRequest&, wire::RangeResponse& out) {
      for (const char* k : {"a", "b"}) {
        wire::KeyValue kv;
        kv.key = k;
        kv.value = std::string(k) + "!";
        out.items.push_back(kv);
      }
      out.more = true;
    };
    node_.Start();
  }

  KvctlRun Against(std::vector<std::string> args) {
    args.insert(args.begin(), "--endpoints=" + node_.endpoint());
    return Kvctl(args);
  }

  FakeKvNode node_;
};

TEST_F(KvctlTest, GetPrintsTheValueAlone) {
  KvctlRun r = Against({"get", "k"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(KvctlTest, WritesPrintOk) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"put", "k", "v"}, {"append", "k", "v"}, {"del", "k"}}) {
    KvctlRun r = Against(args);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(r.out, "OK\n");
  }
  EXPECT_EQ(node_.writes().size(), 3u);
}

TEST_F(KvctlTest, NotFoundExitsOne) {
  KvctlRun r = Against({"get", "absent"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, StartsWith("kvctl: key \"absent\" not found; "));
}

TEST_F(KvctlTest, CasFailedExitsTwoAndPrintsTheCurrentValue) {
  KvctlRun present = Against({"cas", "present", "then", "next"});
  EXPECT_EQ(present.exitCode, 2);
  EXPECT_EQ(present.out, "now\n");
  EXPECT_THAT(present.err, StartsWith("kvctl: cas \"present\": "));

  KvctlRun absent = Against({"--cas_absent", "cas", "gone", "next"});
  EXPECT_EQ(absent.exitCode, 2);
  EXPECT_EQ(absent.out, "(absent)\n");
  std::vector<WriteCall> writes = node_.writes();
  ASSERT_EQ(writes.size(), 2u);
  EXPECT_EQ(writes[0].expected, "then");
  EXPECT_FALSE(writes[1].expected.has_value());
}

TEST_F(KvctlTest, AnUnreachableClusterExitsThree) {
  ClosedPort dead;
  KvctlRun r = Kvctl({"--endpoints=" + dead.endpoint(), "--timeout_ms=200", "get", "k"});
  EXPECT_EQ(r.exitCode, 3);
  EXPECT_THAT(r.err, StartsWith("kvctl: get \"k\": no leader answered within 200 ms"));
  EXPECT_THAT(r.err, HasSubstr("connection refused"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  KvctlRun status = Kvctl({"--endpoints=" + dead.endpoint(), "status"});
  EXPECT_EQ(status.exitCode, 3);
  EXPECT_THAT(status.out, HasSubstr(dead.endpoint() + "  unreachable: connection refused"));
}

TEST_F(KvctlTest, OtherErrorsExitFour) {
  KvctlRun r = Against({"put", "big", "v"});
  EXPECT_EQ(r.exitCode, 4);
  EXPECT_THAT(r.err, HasSubstr("value over the limit"));
}

TEST_F(KvctlTest, UsageErrorsExitSixtyFour) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{}, {"frob"}, {"get"}, {"put", "k"}, {"cas", "k", "new"},
        {"--cas_absent", "cas", "k", "x", "y"}, {"--no_such_flag", "get", "k"},
        {"--timeout_ms=soon", "get", "k"}, {"--stale", "put", "k", "v"}}) {
    KvctlRun r = Against(args);
    EXPECT_EQ(r.exitCode, 64) << ::testing::PrintToString(args);
    EXPECT_THAT(r.err, HasSubstr("kvctl: ")) << ::testing::PrintToString(args);
  }
}

TEST_F(KvctlTest, HelpTellsTheExitCodes) {
  KvctlRun r = Kvctl({"--help"});
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_THAT(r.out, HasSubstr("64  usage"));
  EXPECT_THAT(r.out, HasSubstr("-timeout_ms"));
}

TEST_F(KvctlTest, AValueStartingWithADashFollowsDoubleDash) {
  KvctlRun r = Against({"put", "--", "k", "-5"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  ASSERT_EQ(node_.writes().size(), 1u);
  EXPECT_EQ(node_.writes()[0].value, "-5");
}

TEST_F(KvctlTest, RangePrintsTabSeparatedLinesAndWhereToContinue) {
  KvctlRun r = Against({"--limit=2", "range", "a"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "a\ta!\nb\tb!\n");
  EXPECT_EQ(r.err, "(more: continue after \"b\")\n");
}

TEST_F(KvctlTest, JsonIsOneObjectPerCommandErrorsIncluded) {
  KvctlRun get = Against({"--json", "get", "k"});
  EXPECT_EQ(get.exitCode, 0);
  nlohmann::json j = nlohmann::json::parse(get.out);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["value"], "hello");

  KvctlRun missing = Against({"--json", "get", "absent"});
  EXPECT_EQ(missing.exitCode, 1);
  j = nlohmann::json::parse(missing.out);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["code"], "NOT_FOUND");

  KvctlRun cas = Against({"--json", "cas", "present", "then", "next"});
  EXPECT_EQ(cas.exitCode, 2);
  j = nlohmann::json::parse(cas.out);
  EXPECT_EQ(j["code"], "CAS_FAILED");
  EXPECT_EQ(j["current"], "now");

  // Not UTF-8: still valid JSON, with the byte replaced.
  KvctlRun latin1 = Against({"--json", "get", "latin1"});
  EXPECT_EQ(latin1.exitCode, 0) << latin1.err;
  j = nlohmann::json::parse(latin1.out);
  EXPECT_EQ(j["value"], "caf\xef\xbf\xbd");

  KvctlRun range = Against({"--json", "range", "a", "z"});
  j = nlohmann::json::parse(range.out);
  EXPECT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["more"], true);
  EXPECT_EQ(j["continue_after"], "b");

  KvctlRun status = Against({"--json", "status"});
  EXPECT_EQ(status.exitCode, 0);
  j = nlohmann::json::parse(status.out);
  ASSERT_EQ(j["nodes"].size(), 1u);
  EXPECT_EQ(j["nodes"][0]["role"], "leader");

  KvctlRun usage = Against({"--json", "frob"});
  EXPECT_EQ(usage.exitCode, 64);
  EXPECT_EQ(nlohmann::json::parse(usage.out)["code"], "USAGE");
}

TEST_F(KvctlTest, StatusPrintsATable) {
  KvctlRun r = Against({"status"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("ENDPOINT"));
  EXPECT_THAT(r.out, HasSubstr("SNAPSHOT"));
  EXPECT_THAT(r.out, HasSubstr(node_.endpoint()));
  EXPECT_THAT(r.out, HasSubstr("leader"));
}

}  // namespace
}  // namespace kvraft::client::testing
