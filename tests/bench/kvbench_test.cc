// kvbench end to end: short runs of each workload against a cluster it
// spawns, checked through the --json summary; the open loop completing
// every operation of --ops; --plot and --csv writing their files; and
// bench/flatness.sh, which runs it.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

// What a command printed on stdout and how it exited.
struct Finished {
  std::string out;
  int status = -1;  // as pclose returns it
  bool exitedWith(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
};

Finished RunCommand(const std::string& command) {
  Finished done;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen failed: " << command;
    return done;
  }
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) done.out.append(buffer, n);
  done.status = pclose(pipe);
  return done;
}

// Runs kvbench with `args`; returns its stdout (stderr, the progress
// lines, goes to the test's log). Fails the test on a non-zero exit.
std::string RunKvbench(const std::string& args) {
  const std::string command = std::string(KVBENCH_PATH) + " " + args;
  const Finished done = RunCommand(command);
  EXPECT_TRUE(done.exitedWith(0))
      << command << " exited with status " << done.status << "; output: " << done.out;
  return done.out;
}

nlohmann::json RunJson(const std::string& args) {
  const std::string out = RunKvbench("--spawn --json " + args);
  const nlohmann::json s = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(s.is_discarded()) << "not JSON: " << out;
  return s.is_discarded() ? nlohmann::json::object() : s;
}

void CheckSummary(const std::string& workload) {
  const nlohmann::json s =
      RunJson("--workload=" + workload + " --clients=4 --duration=2 --warmup=1");
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s["workload"], workload);
  EXPECT_EQ(s["async"], true) << "closed-loop clients make asynchronous calls by default";
  EXPECT_GT(s["ops"].get<uint64_t>(), 0u);
  EXPECT_GT(s["ops_per_second"].get<double>(), 0);
  EXPECT_EQ(s["errors"].get<uint64_t>(), 0u) << s["errors_by_code"].dump();
  const auto& l = s["latency_ms"];
  EXPECT_GT(l["p50"].get<double>(), 0);
  EXPECT_LE(l["p50"].get<double>(), l["p90"].get<double>());
  EXPECT_LE(l["p90"].get<double>(), l["p99"].get<double>());
  EXPECT_LE(l["p99"].get<double>(), l["p99_9"].get<double>());
  EXPECT_LE(l["p99_9"].get<double>(), l["max"].get<double>());
  ASSERT_TRUE(s.contains("server_cpu_seconds")) << s.dump();
  EXPECT_GT(s["server_cpu_seconds"].get<double>(), 0);
}

TEST(Kvbench, SpawnedPutRun) { CheckSummary("put"); }
TEST(Kvbench, SpawnedGetRun) { CheckSummary("get"); }

// One short run (one second, no warm-up) of `args`: every operation
// answered, none failed, each kind in `ops` seen.
nlohmann::json CheckShortRun(const std::string& args, const std::vector<std::string>& ops) {
  const nlohmann::json s = RunJson("--clients=4 --duration=1 --warmup=0 " + args);
  if (s.empty()) return s;
  EXPECT_GT(s["ops"].get<uint64_t>(), 0u) << args;
  EXPECT_EQ(s["errors"].get<uint64_t>(), 0u) << args << ": " << s["errors_by_code"].dump();
  for (const std::string& op : ops) {
    EXPECT_TRUE(s["by_op"].contains(op)) << args << ": no " << op << " in " << s["by_op"].dump();
  }
  EXPECT_FALSE(s["time_series"].empty()) << args;
  return s;
}

TEST(Kvbench, AppendRun) { CheckShortRun("--workload=append", {"append"}); }

TEST(Kvbench, CasChainsOnHotKeysCountCasFailedAsAnswers) {
  // Four clients swapping ten keys collide often: CAS_FAILED must show as
  // an answer, and every later swap starts from the value it reported.
  const nlohmann::json s = CheckShortRun("--workload=cas --key_space=10", {"cas"});
  if (s.empty()) return;
  EXPECT_GT(s["answers_by_code"].value("OK", 0u), 0u) << s.dump();
  EXPECT_GT(s["answers_by_code"].value("CAS_FAILED", 0u), 0u) << s.dump();
}

TEST(Kvbench, DeleteRun) {
  const nlohmann::json s =
      CheckShortRun("--workload=delete --keys=sequential --load_keys=200", {"delete"});
  if (s.empty()) return;
  EXPECT_EQ(s["load_keys"], 200u);
}

TEST(Kvbench, AKeptClusterIsReopenedAndItsLoadedKeysReused) {
  const std::string dir = ::testing::TempDir() + "/kvbench_kept";
  std::filesystem::remove_all(dir);
  const std::string kept = "--spawn_dir=" + dir + " --key_space=300 ";
  const nlohmann::json first = CheckShortRun(kept + "--workload=get", {"get"});
  if (first.empty()) return;
  EXPECT_EQ(first["load_reused"], false);
  EXPECT_TRUE(std::filesystem::exists(dir + "/kvbench-loaded.json"));

  // Every get of the second run finds its key: the reopened cluster (on new
  // ports) still holds what the first run loaded, though nothing loaded it.
  const nlohmann::json second = CheckShortRun(kept + "--workload=get", {"get"});
  EXPECT_EQ(second["load_reused"], true);
  EXPECT_EQ(second["load_seconds"], 0.0);

  // Deleting keys ends the reuse: the next run would miss them.
  CheckShortRun(kept + "--workload=delete --keys=sequential", {"delete"});
  EXPECT_FALSE(std::filesystem::exists(dir + "/kvbench-loaded.json"));
  const nlohmann::json third = CheckShortRun(kept + "--workload=get", {"get"});
  EXPECT_EQ(third["load_reused"], false) << "the deleted keys were loaded again";
  std::filesystem::remove_all(dir);
}

TEST(Kvbench, AKeptClusterWithMoreKeysThanARunLoadsIsRefused) {
  const std::string dir = ::testing::TempDir() + "/kvbench_kept_more";
  std::filesystem::remove_all(dir);
  CheckShortRun("--spawn_dir=" + dir + " --key_space=200 --workload=get", {"get"});
  const Finished done = RunCommand(std::string(KVBENCH_PATH) + " --spawn --spawn_dir=" + dir +
                                   " --key_space=100 --workload=get 2>&1");
  EXPECT_TRUE(done.exitedWith(1)) << done.status << ": " << done.out;
  EXPECT_THAT(done.out, ::testing::HasSubstr("holds 200 keys"));
  std::filesystem::remove_all(dir);
}

TEST(Kvbench, RangeRun) {
  const nlohmann::json s =
      CheckShortRun("--workload=range --range_limit=5 --key_space=500", {"range"});
  if (s.empty()) return;
  EXPECT_EQ(s["range_limit"], 5);
  EXPECT_EQ(s["async"], false) << "range has no asynchronous call: a thread per client";
}

TEST(Kvbench, NoAsyncGivesEachClientAThread) {
  const nlohmann::json s = CheckShortRun("--workload=put --noasync", {"put"});
  if (s.empty()) return;
  EXPECT_EQ(s["async"], false);
}

TEST(Kvbench, MixWithoutRangeRunsOnAsynchronousCalls) {
  // Every operation but range, chained through callbacks: rmw's put from
  // its get's, insert's key released in its put's, cas learning values.
  const nlohmann::json s = CheckShortRun(
      "--mix=get:40,put:10,append:10,cas:10,delete:10,insert:10,rmw:10 --keys=zipfian "
      "--key_space=1000",
      {"get", "put", "append", "cas", "delete", "insert", "rmw"});
  if (s.empty()) return;
  EXPECT_EQ(s["async"], true);
}

TEST(Kvbench, MixOfEveryOperationOnZipfianKeys) {
  CheckShortRun("--mix=get:40,put:10,append:10,cas:10,delete:10,range:10,insert:5,rmw:5 "
                "--keys=zipfian --key_space=1000",
                {"get", "put", "append", "cas", "delete", "range", "insert", "rmw"});
}

TEST(Kvbench, YcsbPresetRunsAndPlots) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "kvbench_plot";
  std::filesystem::create_directories(dir);
  const std::string png = (dir / "run.png").string();
  const std::string csv = (dir / "run.csv").string();
  std::filesystem::remove(png);
  const nlohmann::json s = CheckShortRun(
      "--workload=ycsb-e --key_space=1000 --plot=" + png + " --csv=" + csv, {"range", "insert"});
  if (s.empty()) return;
  EXPECT_EQ(s["keys"], "zipfian");
  EXPECT_EQ(s["mix"], "range:95,insert:5");
  // A PNG: its 8-byte signature, and more than an empty picture.
  std::ifstream in(png, std::ios::binary);
  std::string head(8, '\0');
  in.read(head.data(), 8);
  EXPECT_EQ(head, std::string("\x89PNG\r\n\x1a\n", 8)) << png;
  EXPECT_GT(std::filesystem::file_size(png), 10000u);
  std::ifstream table(csv);
  std::string header, row;
  std::getline(table, header);
  EXPECT_THAT(header, ::testing::StartsWith("kind,second,elapsed_s,seconds,ops,"));
  std::string last;
  while (std::getline(table, row)) last = row;
  EXPECT_THAT(last, ::testing::StartsWith("summary,"));
  std::filesystem::remove_all(dir);
}

TEST(Kvbench, OpenLoopWithOpsCompletesEveryOperation) {
  // 600 ops at 2,000/s through 2 connections shared by 8 clients.
  const nlohmann::json s =
      RunJson("--workload=ycsb-b --key_space=500 --rate=2000 --ops=600 --clients=8 --conns=2 "
              "--warmup=0");
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s["mode"], "open");
  EXPECT_EQ(s["ops_target"], 600u);
  EXPECT_EQ(s["ops"].get<uint64_t>() + s["errors"].get<uint64_t>(), 600u);
  EXPECT_EQ(s["errors"].get<uint64_t>(), 0u) << s["errors_by_code"].dump();
  EXPECT_EQ(s["conns"], 2);
  EXPECT_TRUE(s.contains("late_ops"));
}

TEST(Kvbench, RejectsUnknownWorkload) {
  const int status = std::system((std::string(KVBENCH_PATH) + " --workload=scan 2>/dev/null").c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
}

TEST(Kvbench, PlotWithoutGnuplotFailsBeforeTheRunSayingWhatToInstall) {
  const Finished done = RunCommand("PATH=/nonexistent " + std::string(KVBENCH_PATH) +
                                   " --plot=" + ::testing::TempDir() + "/x.png 2>&1");
  EXPECT_TRUE(done.exitedWith(1)) << done.status;
  EXPECT_THAT(done.out, ::testing::HasSubstr("gnuplot-nox"));
}

// bench/flatness.sh at toy sizes: it loads both kept clusters, alternates
// them for each workload and prints a row per pair and a ratio of the means.
TEST(Kvbench, FlatnessScriptPrintsARatioPerWorkload) {
  const std::string dir = ::testing::TempDir() + "/kvbench_flatness";
  std::filesystem::remove_all(dir);
  const Finished done = RunCommand("DIR='" + dir + "' KVBENCH='" + KVBENCH_PATH +
                                   "' SMALL=100 LARGE=1000 PAIRS=1 DURATION=1 WARMUP=0"
                                   " CLIENTS=4 WORKLOADS='get put:zipfian' bash '" +
                                   KVRAFT_FLATNESS_SCRIPT + "'");
  EXPECT_TRUE(done.exitedWith(0)) << done.status << ": " << done.out;
  EXPECT_THAT(done.out, ::testing::HasSubstr("Throughput at 1,000 keys against 100"));
  EXPECT_THAT(done.out, ::testing::ContainsRegex("\\| get \\| 1 \\| [0-9,]+ \\| [0-9,]+ \\| [0-9.]+ \\|"));
  EXPECT_THAT(done.out, ::testing::ContainsRegex("\\| put:zipfian \\| [0-9,]+ \\| [0-9,]+ \\| \\*\\*[0-9.]+\\*\\* \\|"));
  for (const char* kept : {"/keys-100/kvbench-loaded.json", "/keys-1000/kvbench-loaded.json"})
    EXPECT_TRUE(std::filesystem::exists(dir + kept)) << kept;
  std::filesystem::remove_all(dir);
}

}  // namespace
