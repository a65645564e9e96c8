// The summary's outputs from a made-up run: the JSON fields (with the
// per-second time series), the CSV table, and the gnuplot script and data
// (drawing them is the integration tests' job).
#include <algorithm>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bench/csv_writer.h"
#include "bench/plot.h"
#include "bench/summary.h"

namespace kvraft::bench {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using std::chrono::milliseconds;

// Two seconds: one warm-up, one measured with 100 gets (1..100 ms), 3
// CAS_FAILED answers and 2 timeouts; open loop at 100 ops/s.
RunResult MadeUpRun() {
  RunResult r;
  OpStats gets;
  for (int ms = 1; ms <= 100; ++ms) {
    gets.latency.Record(milliseconds(ms));
    ++gets.answers[static_cast<size_t>(client::Code::kOk)];
  }
  OpStats cas;
  for (int i = 0; i < 3; ++i) {
    cas.latency.Record(milliseconds(5));
    ++cas.answers[static_cast<size_t>(client::Code::kCasFailed)];
  }
  cas.errors[static_cast<size_t>(client::Code::kTimeout)] = 2;
  r.byOp[static_cast<size_t>(OpKind::kGet)] = gets;
  r.byOp[static_cast<size_t>(OpKind::kCas)] = cas;
  r.total.Merge(gets);
  r.total.Merge(cas);
  r.seconds = 1.0;
  r.late = 4;
  r.maxLagSeconds = 0.012;
  SecondStats warm;
  warm.second = 1;
  warm.elapsed = 1.0;
  warm.span = 1.0;
  warm.warmup = true;
  warm.ops = 90;
  warm.SetLatency(gets.latency);
  SecondStats measured = warm;
  measured.second = 2;
  measured.elapsed = 2.0;
  measured.warmup = false;
  measured.ops = 103;
  measured.errors = 2;
  measured.late = 4;
  r.timeSeries = {warm, measured};
  return r;
}

RunDescription MadeUpDescription() {
  RunDescription d;
  d.workload = "mix";
  d.mix = "get:90,cas:10";
  d.clients = 4;
  d.conns = 2;
  d.keys = "zipfian";
  d.zipfTheta = 0.99;
  d.keySpace = 1000;
  d.loadKeys = 1000;
  d.readsLoadedKeys = true;
  d.keySize = 16;
  d.valueSize = 256;
  d.rate = 100;
  d.lateThresholdMs = 1;
  d.warmupSeconds = 1;
  d.seed = 9;
  d.serverCpuSeconds = 2.0;
  return d;
}

TEST(KvbenchJson, SummaryHasTheCountsPercentilesAndTimeSeries) {
  const nlohmann::json s = SummaryJson(MadeUpDescription(), MadeUpRun());
  EXPECT_EQ(s["workload"], "mix");
  EXPECT_EQ(s["mix"], "get:90,cas:10");
  EXPECT_EQ(s["mode"], "open");
  EXPECT_EQ(s["rate"], 100.0);
  EXPECT_EQ(s["ops"], 103u);  // CAS_FAILED answers count as operations
  EXPECT_EQ(s["ops_per_second"], 103.0);
  EXPECT_EQ(s["answers_by_code"]["OK"], 100u);
  EXPECT_EQ(s["answers_by_code"]["CAS_FAILED"], 3u);
  EXPECT_EQ(s["errors"], 2u);
  EXPECT_EQ(s["errors_by_code"]["TIMEOUT"], 2u);
  EXPECT_EQ(s["late_ops"], 4u);
  EXPECT_NEAR(s["max_schedule_lag_ms"].get<double>(), 12.0, 1e-9);
  EXPECT_EQ(s["conns"], 2);
  EXPECT_EQ(s["keys"], "zipfian");
  EXPECT_EQ(s["zipf_theta"], 0.99);
  EXPECT_EQ(s["read_keys"], 1000u);
  for (const char* p : {"p50", "p90", "p99", "p99_9", "max", "mean"}) {
    EXPECT_TRUE(s["latency_ms"].contains(p)) << p;
  }
  EXPECT_NEAR(s["latency_ms"]["max"].get<double>(), 100.0, 1e-9);
  EXPECT_EQ(s["by_op"]["get"]["ops"], 100u);
  EXPECT_EQ(s["by_op"]["cas"]["errors_by_code"]["TIMEOUT"], 2u);
  EXPECT_NEAR(s["by_op"]["get"]["latency_ms"]["p90"].get<double>(), 90.0, 0.9);
  ASSERT_EQ(s["time_series"].size(), 2u);
  EXPECT_EQ(s["time_series"][0]["warmup"], true);
  EXPECT_EQ(s["time_series"][1]["ops"], 103u);
  EXPECT_EQ(s["time_series"][1]["second"], 2);
  EXPECT_NEAR(s["ops_per_server_cpu_second"].get<double>(), 51.5, 1e-9);
  // The percentile curve rises and reaches into the tail.
  const auto& curve = s["latency_by_percentile"];
  ASSERT_GT(curve.size(), 10u);
  EXPECT_EQ(curve.front()["percentile"], 0.0);
  EXPECT_GE(curve.back()["percentile"].get<double>(), 99.0);
  for (size_t i = 1; i < curve.size(); ++i) {
    EXPECT_GE(curve[i]["ms"].get<double>(), curve[i - 1]["ms"].get<double>());
  }
  // The text form names the same figures.
  const std::string text = SummaryText(s);
  EXPECT_THAT(text, HasSubstr("open loop at 100 ops/s"));
  EXPECT_THAT(text, HasSubstr("CAS_FAILED=3"));
  EXPECT_THAT(text, HasSubstr("TIMEOUT=2"));
  EXPECT_THAT(text, HasSubstr("p99.9"));
}

TEST(KvbenchCsv, ARowPerSecondAndASummaryRow) {
  const std::string csv = CsvFromSummary(SummaryJson(MadeUpDescription(), MadeUpRun()));
  std::vector<std::string> lines;
  size_t from = 0;
  for (size_t nl; (nl = csv.find('\n', from)) != std::string::npos; from = nl + 1) {
    lines.push_back(csv.substr(from, nl - from));
  }
  ASSERT_EQ(lines.size(), 4u) << csv;
  EXPECT_EQ(lines[0],
            "kind,second,elapsed_s,seconds,ops,ops_per_second,errors,late,p50_ms,p90_ms,p99_ms,"
            "p99_9_ms,max_ms");
  EXPECT_THAT(lines[1], StartsWith("warmup,1,1,1,90,90,0,0,"));
  EXPECT_THAT(lines[2], StartsWith("measured,2,2,1,103,103,2,4,"));
  EXPECT_THAT(lines[3], StartsWith("summary,,2,1,103,103,2,4,"));
  // Every row has all 13 columns.
  for (const std::string& line : lines) {
    EXPECT_EQ(std::count(line.begin(), line.end(), ','), 12) << line;
  }
}

TEST(KvbenchPlot, ScriptDrawsBothPanelsFromItsDataFiles) {
  const nlohmann::json s = SummaryJson(MadeUpDescription(), MadeUpRun());
  const std::string script = PlotScript(s, "/tmp/d", "/out/it's.png");
  EXPECT_THAT(script, HasSubstr("set terminal pngcairo"));
  EXPECT_THAT(script, HasSubstr("set output '/out/it''s.png'"));  // quote doubled
  EXPECT_THAT(script, HasSubstr("'/tmp/d/series.dat'"));
  EXPECT_THAT(script, HasSubstr("'/tmp/d/percentiles.dat'"));
  EXPECT_THAT(script, HasSubstr("'99.9%%' 1000"));
  EXPECT_THAT(script, HasSubstr("warm-up"));
  EXPECT_THAT(script, HasSubstr("open loop at 100 ops/s"));

  const std::string series = PlotSeriesData(s);
  EXPECT_THAT(series, HasSubstr("\n0.500 90.000 "));  // each second at its middle
  EXPECT_THAT(series, HasSubstr("\n1.500 103.000 "));
  nlohmann::json shortLast = s;
  shortLast["time_series"].push_back(shortLast["time_series"][1]);
  shortLast["time_series"][2]["elapsed"] = 2.1;
  shortLast["time_series"][2]["seconds"] = 0.1;
  EXPECT_EQ(PlotSeriesData(shortLast), series) << "a 0.1 s interval is no rate to draw";
  const std::string percentiles = PlotPercentileData(s);
  EXPECT_THAT(percentiles, HasSubstr("\n1.000000 0.000000 "));  // q = 0 at x = 1
}

TEST(KvbenchPlot, FindsProgramsOnThePath) {
  EXPECT_NE(FindProgram("sh"), std::nullopt);
  EXPECT_EQ(FindProgram("no-such-program-here"), std::nullopt);
  EXPECT_EQ(FindProgram("/no/such/dir/gnuplot"), std::nullopt);
}

}  // namespace
}  // namespace kvraft::bench
