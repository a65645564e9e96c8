#pragma once
// --plot: a PNG of the run drawn by gnuplot (Debian's gnuplot-nox): on top
// throughput and p50/p99 latency second by second, warm-up shaded; below
// the measured window's latency by percentile, the tail stretched out on a
// log scale (the x axis is 1 / (1 - percentile)). Data and script go to a
// temporary directory that is removed afterwards.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace kvraft::bench {

// The path of `program` if it is on $PATH (or, if it holds a '/', if it is
// executable there); nullopt otherwise.
std::optional<std::string> FindProgram(const std::string& program);

// What --plot needs before a run starts: gnuplot. Its path, or nullopt with
// *error saying what to install.
std::optional<std::string> FindGnuplot(std::string* error);

// The data files and script, as text; exposed for tests. The script reads
// the data from `dir` and writes `png`.
std::string PlotSeriesData(const nlohmann::json& summary);
std::string PlotPercentileData(const nlohmann::json& summary);
std::string PlotScript(const nlohmann::json& summary, const std::string& dir,
                       const std::string& png);

// Draws `summary` (from SummaryJson) into `png` with the gnuplot at
// `gnuplot`. False, with gnuplot's own complaint, if it fails.
bool WritePlot(const nlohmann::json& summary, const std::string& gnuplot, const std::string& png,
               std::string* error);

}  // namespace kvraft::bench
