#include "bench/summary.h"

#include <cstdio>
#include <sstream>

namespace kvraft::bench {

nlohmann::json SummaryJson(const RunDescription& run, const ClosedLoopResult& result) {
  uint64_t errorTotal = 0;
  nlohmann::json errors = nlohmann::json::object();
  for (size_t c = 0; c < kCodeCount; ++c) {
    if (result.errors[c] == 0) continue;
    errors[client::CodeName(static_cast<client::Code>(c))] = result.errors[c];
    errorTotal += result.errors[c];
  }
  const LatencyHistogram& h = result.latency;
  nlohmann::json latency = {
      {"p50", h.Percentile(0.50) * 1e3},  {"p90", h.Percentile(0.90) * 1e3},
      {"p99", h.Percentile(0.99) * 1e3},  {"p99_9", h.Percentile(0.999) * 1e3},
      {"max", h.Max() * 1e3},             {"mean", h.Mean() * 1e3},
      {"relative_error", h.RelativeError()}};
  nlohmann::json j = {
      {"workload", run.workload},
      {"stale", run.stale},
      {"clients", run.clients},
      {"key_size", run.keySize},
      {"value_size", run.valueSize},
      {"spawned", run.spawned},
      {"seconds", result.seconds},
      {"ops", result.ok},
      {"ops_per_second", result.seconds > 0 ? static_cast<double>(result.ok) / result.seconds : 0},
      {"errors", errorTotal},
      {"errors_by_code", errors},
      {"latency_ms", latency}};
  if (run.workload == "get") {
    j["read_keys"] = run.readKeys;
  } else {
    j["key_space"] = run.keySpace;
  }
  if (run.serverCpuSeconds) {
    j["server_cpu_seconds"] = *run.serverCpuSeconds;
    j["ops_per_server_cpu_second"] =
        *run.serverCpuSeconds > 0 ? static_cast<double>(result.ok) / *run.serverCpuSeconds : 0;
  }
  return j;
}

std::string SummaryText(const nlohmann::json& s) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof(line), "workload        %s%s, %d clients, key %zu B, value %zu B, %s\n",
                s["workload"].get<std::string>().c_str(), s["stale"].get<bool>() ? " (stale)" : "",
                s["clients"].get<int>(), s["key_size"].get<size_t>(), s["value_size"].get<size_t>(),
                s.contains("read_keys")
                    ? ("reads over " + std::to_string(s["read_keys"].get<uint64_t>()) + " loaded keys").c_str()
                    : ("key space " + std::to_string(s["key_space"].get<uint64_t>())).c_str());
  out << line;
  std::snprintf(line, sizeof(line), "throughput      %.0f ops/s (%llu ops in %.2f s)\n",
                s["ops_per_second"].get<double>(),
                static_cast<unsigned long long>(s["ops"].get<uint64_t>()), s["seconds"].get<double>());
  out << line;
  out << "errors          " << s["errors"].get<uint64_t>();
  for (const auto& [code, count] : s["errors_by_code"].items()) out << "  " << code << "=" << count;
  out << "\n";
  const auto& l = s["latency_ms"];
  std::snprintf(line, sizeof(line),
                "latency ms      p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f "
                "(within %.0f%%)\n",
                l["p50"].get<double>(), l["p90"].get<double>(), l["p99"].get<double>(),
                l["p99_9"].get<double>(), l["max"].get<double>(), l["mean"].get<double>(),
                l["relative_error"].get<double>() * 100);
  out << line;
  if (s.contains("server_cpu_seconds")) {
    std::snprintf(line, sizeof(line), "server CPU      %.2f s (3 nodes), %.0f ops per server CPU-s\n",
                  s["server_cpu_seconds"].get<double>(), s["ops_per_server_cpu_second"].get<double>());
    out << line;
  } else {
    out << "server CPU      not measured (cluster not spawned by kvbench)\n";
  }
  return out.str();
}

}  // namespace kvraft::bench
