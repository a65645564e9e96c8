#include "bench/summary.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace kvraft::bench {

namespace {

nlohmann::json ByCode(const CodeCounts& counts) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t c = 0; c < kCodeCount; ++c) {
    if (counts[c] > 0) j[client::CodeName(static_cast<client::Code>(c))] = counts[c];
  }
  return j;
}

nlohmann::json LatencyMs(const LatencyHistogram& h) {
  return {{"p50", h.Percentile(0.50) * 1e3},  {"p90", h.Percentile(0.90) * 1e3},
          {"p99", h.Percentile(0.99) * 1e3},  {"p99_9", h.Percentile(0.999) * 1e3},
          {"max", h.Max() * 1e3},             {"mean", h.Mean() * 1e3},
          {"relative_error", h.RelativeError()}};
}

double PerSecond(uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}

nlohmann::json SecondJson(const SecondStats& s) {
  return {{"second", s.second},
          {"elapsed", s.elapsed},
          {"seconds", s.span},
          {"warmup", s.warmup},
          {"ops", s.ops},
          {"ops_per_second", s.OpsPerSecond()},
          {"errors", s.errors},
          {"late", s.late},
          {"p50_ms", s.p50 * 1e3},
          {"p90_ms", s.p90 * 1e3},
          {"p99_ms", s.p99 * 1e3},
          {"p99_9_ms", s.p999 * 1e3},
          {"max_ms", s.max * 1e3}};
}

}  // namespace

nlohmann::json LatencyByPercentile(const LatencyHistogram& h) {
  nlohmann::json points = nlohmann::json::array();
  if (h.Count() == 0) return points;
  const double decades = std::log10(static_cast<double>(h.Count()));
  for (int step = 0; step * 0.05 <= decades + 1e-9; ++step) {
    const double q = 1 - std::pow(10.0, -step * 0.05);
    points.push_back({{"percentile", q * 100}, {"ms", h.Percentile(q) * 1e3}});
  }
  return points;
}

nlohmann::json SummaryJson(const RunDescription& run, const RunResult& result) {
  const OpStats& total = result.total;
  const uint64_t ops = total.Answered();
  nlohmann::json j = {
      {"workload", run.workload},
      {"mix", run.mix},
      {"stale", run.stale},
      {"clients", run.clients},
      {"async", run.async},
      {"conns", run.conns},
      {"batches", run.batches},
      {"another_batch_cap", run.anotherBatchCap},
      {"keys", run.keys},
      {"key_space", run.keySpace},
      {"load_keys", run.loadKeys},
      {"load_seconds", run.loadSeconds},
      {"load_reused", run.loadReused},
      {"key_size", run.keySize},
      {"value_size", run.valueSize},
      {"mode", run.rate > 0 ? "open" : "closed"},
      {"warmup_seconds", run.warmupSeconds},
      {"seed", run.seed},
      {"spawned", run.spawned},
      {"seconds", result.seconds},
      {"ops", ops},
      {"ops_per_second", PerSecond(ops, result.seconds)},
      {"answers_by_code", ByCode(total.answers)},
      {"errors", total.Errors()},
      {"errors_by_code", ByCode(total.errors)},
      {"latency_ms", LatencyMs(total.latency)},
      {"latency_by_percentile", LatencyByPercentile(total.latency)}};
  // The name the get workload's loaded keys had before there were others.
  if (run.readsLoadedKeys) j["read_keys"] = run.loadKeys;
  if (run.keys == "zipfian" || run.keys == "latest") j["zipf_theta"] = run.zipfTheta;
  if (run.rangeLimit) {
    j["range_limit"] = *run.rangeLimit;
    j["range_length"] = run.rangeLengthUniform ? "uniform from 1" : "fixed";
  }
  if (run.opsTarget > 0) j["ops_target"] = run.opsTarget;
  if (run.rate > 0) {
    j["rate"] = run.rate;
    j["late_ops"] = result.late;
    j["late_threshold_ms"] = run.lateThresholdMs;
    j["max_schedule_lag_ms"] = result.maxLagSeconds * 1e3;
  }
  nlohmann::json byOp = nlohmann::json::object();
  for (size_t k = 0; k < kOpKindCount; ++k) {
    if (!result.byOp[k]) continue;
    const OpStats& s = *result.byOp[k];
    byOp[OpKindName(static_cast<OpKind>(k))] = {
        {"ops", s.Answered()},
        {"ops_per_second", PerSecond(s.Answered(), result.seconds)},
        {"answers_by_code", ByCode(s.answers)},
        {"errors", s.Errors()},
        {"errors_by_code", ByCode(s.errors)},
        {"latency_ms", LatencyMs(s.latency)}};
  }
  j["by_op"] = byOp;
  nlohmann::json series = nlohmann::json::array();
  for (const SecondStats& s : result.timeSeries) series.push_back(SecondJson(s));
  j["time_series"] = series;
  if (run.serverCpuSeconds) {
    j["server_cpu_seconds"] = *run.serverCpuSeconds;
    j["server_nodes"] = run.serverNodes;
    j["ops_per_server_cpu_second"] =
        *run.serverCpuSeconds > 0 ? static_cast<double>(ops) / *run.serverCpuSeconds : 0;
  }
  return j;
}

namespace {

std::string LatencyLine(const nlohmann::json& l) {
  char line[256];
  std::snprintf(line, sizeof(line), "p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f",
                l["p50"].get<double>(), l["p90"].get<double>(), l["p99"].get<double>(),
                l["p99_9"].get<double>(), l["max"].get<double>(), l["mean"].get<double>());
  return line;
}

std::string Counts(const nlohmann::json& byCode) {
  std::string s;
  for (const auto& [code, count] : byCode.items()) s += "  " + code + "=" + count.dump();
  return s;
}

}  // namespace

std::string SummaryText(const nlohmann::json& s) {
  std::ostringstream out;
  char line[512];
  const std::string keys =
      s["keys"].get<std::string>() +
      (s.contains("zipf_theta") ? " (theta " + nlohmann::json(s["zipf_theta"]).dump() + ")" : "");
  std::snprintf(line, sizeof(line), "workload        %s%s%s, key %zu B, value %zu B\n",
                s["workload"].get<std::string>().c_str(),
                // A mix of one operation says nothing the name does not.
                s["mix"].get<std::string>().find(',') == std::string::npos
                    ? ""
                    : (" (" + s["mix"].get<std::string>() + ")").c_str(),
                s["stale"].get<bool>() ? ", stale reads" : "", s["key_size"].get<size_t>(),
                s["value_size"].get<size_t>());
  out << line;
  char loaded[64];
  if (s.value("load_reused", false)) {
    std::snprintf(loaded, sizeof(loaded), "by an earlier run");
  } else {
    std::snprintf(loaded, sizeof(loaded), "first (%.1f s)", s["load_seconds"].get<double>());
  }
  std::snprintf(line, sizeof(line), "keys            %s over %llu keys, %llu loaded %s\n",
                keys.c_str(), static_cast<unsigned long long>(s["key_space"].get<uint64_t>()),
                static_cast<unsigned long long>(s["load_keys"].get<uint64_t>()), loaded);
  out << line;
  if (s["mode"] == "open") {
    std::snprintf(line, sizeof(line),
                  "load            open loop at %.0f ops/s, %d clients, %d connections per node; "
                  "%llu ops issued over %.1f ms late (latest %.1f ms)\n",
                  s["rate"].get<double>(), s["clients"].get<int>(), s["conns"].get<int>(),
                  static_cast<unsigned long long>(s["late_ops"].get<uint64_t>()),
                  s["late_threshold_ms"].get<double>(), s["max_schedule_lag_ms"].get<double>());
  } else {
    std::snprintf(line, sizeof(line),
                  "load            closed loop, %d clients (%s), %d connections per node\n",
                  s["clients"].get<int>(),
                  s["async"].get<bool>() ? "asynchronous calls" : "a thread each",
                  s["conns"].get<int>());
  }
  out << line;
  std::snprintf(line, sizeof(line), "throughput      %.0f ops/s (%llu ops in %.2f s)\n",
                s["ops_per_second"].get<double>(),
                static_cast<unsigned long long>(s["ops"].get<uint64_t>()),
                s["seconds"].get<double>());
  out << line;
  out << "answers       " << Counts(s["answers_by_code"]) << "\n";
  out << "errors          " << s["errors"].get<uint64_t>() << Counts(s["errors_by_code"]) << "\n";
  const auto& l = s["latency_ms"];
  out << "latency ms      " << LatencyLine(l);
  std::snprintf(line, sizeof(line), " (within %.0f%%)\n", l["relative_error"].get<double>() * 100);
  out << line;
  if (s["by_op"].size() > 1) {
    for (const auto& [op, o] : s["by_op"].items()) {
      std::snprintf(line, sizeof(line), "  %-7s %9.0f ops/s  errors %llu  latency ms ", op.c_str(),
                    o["ops_per_second"].get<double>(),
                    static_cast<unsigned long long>(o["errors"].get<uint64_t>()));
      out << line << LatencyLine(o["latency_ms"]) << "\n";
    }
  }
  if (s.contains("server_cpu_seconds")) {
    std::snprintf(line, sizeof(line),
                  "server CPU      %.2f s (%d nodes), %.0f ops per server CPU-s\n",
                  s["server_cpu_seconds"].get<double>(), s["server_nodes"].get<int>(),
                  s["ops_per_server_cpu_second"].get<double>());
    out << line;
  } else {
    out << "server CPU      not measured (cluster not spawned by kvbench)\n";
  }
  return out.str();
}

}  // namespace kvraft::bench
