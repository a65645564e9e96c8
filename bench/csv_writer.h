#pragma once
// --csv: the run as one table for a spreadsheet. A row per second of the
// run (kind "warmup" or "measured") and a last row (kind "summary") for the
// measured window as a whole, all with the same columns:
//   kind,second,elapsed_s,seconds,ops,ops_per_second,errors,late,
//   p50_ms,p90_ms,p99_ms,p99_9_ms,max_ms
// `second` numbers the seconds from the start; on the summary row it is
// empty, `seconds` is the window's length and `elapsed_s` its end.
#include <string>

#include <nlohmann/json.hpp>

namespace kvraft::bench {

// The table for a summary made by SummaryJson.
std::string CsvFromSummary(const nlohmann::json& summary);

// Writes `content` to `path` (replacing it). False, with a message naming
// the file and the reason, if that fails.
bool WriteTextFile(const std::string& path, const std::string& content, std::string* error);

}  // namespace kvraft::bench
