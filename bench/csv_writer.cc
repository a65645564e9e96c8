#include "bench/csv_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace kvraft::bench {

namespace {

std::string Number(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.6g", v);
  return buffer;
}

}  // namespace

std::string CsvFromSummary(const nlohmann::json& s) {
  std::string csv =
      "kind,second,elapsed_s,seconds,ops,ops_per_second,errors,late,p50_ms,p90_ms,p99_ms,"
      "p99_9_ms,max_ms\n";
  for (const auto& row : s["time_series"]) {
    csv += std::string(row["warmup"].get<bool>() ? "warmup" : "measured") + "," +
           std::to_string(row["second"].get<int>()) + "," + Number(row["elapsed"].get<double>()) +
           "," + Number(row["seconds"].get<double>()) + "," +
           std::to_string(row["ops"].get<uint64_t>()) + "," +
           Number(row["ops_per_second"].get<double>()) + "," +
           std::to_string(row["errors"].get<uint64_t>()) + "," +
           std::to_string(row["late"].get<uint64_t>()) + "," + Number(row["p50_ms"].get<double>()) +
           "," + Number(row["p90_ms"].get<double>()) + "," + Number(row["p99_ms"].get<double>()) +
           "," + Number(row["p99_9_ms"].get<double>()) + "," + Number(row["max_ms"].get<double>()) +
           "\n";
  }
  const auto& l = s["latency_ms"];
  const double windowEnd = s["warmup_seconds"].get<double>() + s["seconds"].get<double>();
  csv += "summary,," + Number(windowEnd) + "," + Number(s["seconds"].get<double>()) + "," +
         std::to_string(s["ops"].get<uint64_t>()) + "," +
         Number(s["ops_per_second"].get<double>()) + "," +
         std::to_string(s["errors"].get<uint64_t>()) + "," +
         std::to_string(s.value("late_ops", uint64_t{0})) + "," + Number(l["p50"].get<double>()) +
         "," + Number(l["p90"].get<double>()) + "," + Number(l["p99"].get<double>()) + "," +
         Number(l["p99_9"].get<double>()) + "," + Number(l["max"].get<double>()) + "\n";
  return csv;
}

bool WriteTextFile(const std::string& path, const std::string& content, std::string* error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    *error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  out << content;
  out.close();
  if (!out) {
    *error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace kvraft::bench
