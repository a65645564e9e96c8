#include "bench/plot.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <glog/logging.h>

#include "bench/csv_writer.h"

extern char** environ;

namespace kvraft::bench {

namespace {

// A gnuplot string literal: single quotes, in which '' stands for one.
std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The rows of the time series worth drawing. A last interval cut much
// shorter than a second holds too few operations to give a rate, so it is
// left out (the CSV and JSON keep it, with its length), unless the whole
// run was that short.
nlohmann::json DrawnSeconds(const nlohmann::json& s) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : s["time_series"]) {
    if (row["seconds"].get<double>() >= 0.5) rows.push_back(row);
  }
  return rows.empty() ? s["time_series"] : rows;
}

std::string Title(const nlohmann::json& s) {
  std::string title = "kvbench " + s["workload"].get<std::string>();
  if (s["mix"].get<std::string>().find(',') != std::string::npos) {
    title += " (" + s["mix"].get<std::string>() + ")";
  }
  const int clients = s["clients"].get<int>();
  title += ", " + std::to_string(clients) + (clients == 1 ? " client, " : " clients, ");
  if (s["mode"] == "open") {
    char rate[64];
    std::snprintf(rate, sizeof(rate), "open loop at %.0f ops/s", s["rate"].get<double>());
    title += rate;
  } else {
    title += "closed loop";
  }
  title += ", " + s["keys"].get<std::string>() + " keys";
  return title;
}

}  // namespace

std::optional<std::string> FindProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    if (access(program.c_str(), X_OK) == 0) return program;
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

std::optional<std::string> FindGnuplot(std::string* error) {
  std::optional<std::string> gnuplot = FindProgram("gnuplot");
  if (!gnuplot) {
    *error =
        "--plot needs gnuplot, which is not on $PATH: install Debian's gnuplot-nox "
        "(apt-get install gnuplot-nox; tools/install-deps.sh does), or leave --plot out";
  }
  return gnuplot;
}

std::string PlotSeriesData(const nlohmann::json& s) {
  // Each second is drawn at its middle, so warm-up seconds fall inside
  // the shaded warm-up.
  std::string data = "# mid_s ops_per_second p50_ms p99_ms\n";
  char line[160];
  for (const auto& row : DrawnSeconds(s)) {
    const double middle = row["elapsed"].get<double>() - row["seconds"].get<double>() / 2;
    std::snprintf(line, sizeof(line), "%.3f %.3f %.6f %.6f\n", middle,
                  row["ops_per_second"].get<double>(), row["p50_ms"].get<double>(),
                  row["p99_ms"].get<double>());
    data += line;
  }
  return data;
}

std::string PlotPercentileData(const nlohmann::json& s) {
  std::string data = "# x=1/(1-q) percentile ms\n";
  char line[160];
  for (const auto& point : s["latency_by_percentile"]) {
    const double percentile = point["percentile"].get<double>();
    const double x = 1.0 / (1.0 - percentile / 100.0);
    std::snprintf(line, sizeof(line), "%.6f %.6f %.6f\n", x, percentile, point["ms"].get<double>());
    data += line;
  }
  return data;
}

std::string PlotScript(const nlohmann::json& s, const std::string& dir, const std::string& png) {
  const double warmup = s["warmup_seconds"].get<double>();
  const nlohmann::json seconds = DrawnSeconds(s);
  const bool haveSeries = !seconds.empty();
  const bool havePercentiles = !s["latency_by_percentile"].empty();
  const double lastSecond = haveSeries ? seconds.back()["elapsed"].get<double>() : 1;
  // The percentile axis ends at the last point drawn: 1 / (1 - q).
  const double lastX =
      havePercentiles
          ? 1.0 / (1.0 - s["latency_by_percentile"].back()["percentile"].get<double>() / 100.0)
          : 10;
  std::ostringstream g;
  g << "set terminal pngcairo size 1100,900 font 'sans,10'\n"
    << "set output " << Quote(png) << "\n"
    << "set multiplot layout 2,1 title " << Quote(Title(s)) << " font 'sans,12'\n"
    << "set grid\n"
    << "set key below horizontal\n"
    << "set datafile commentschars '#'\n";

  // Top: throughput (left axis) and latency (right axis) per second.
  g << "set title 'Throughput and latency, second by second'\n"
    << "set xlabel 'seconds since start'\n"
    << "set ylabel 'ops/s'\n"
    << "set y2label 'latency (ms)'\n"
    << "set ytics nomirror\n"
    << "set y2tics\n"
    << "set yrange [0:*]\n"
    << "set y2range [0:*]\n"
    << "set xrange [0:" << lastSecond << "]\n";
  if (warmup > 0) {
    g << "set object 1 rect from 0, graph 0 to " << warmup
      << ", graph 1 behind fillcolor rgb '#e8e8e8' fillstyle solid noborder\n"
      << "set label 1 'warm-up' at " << warmup / 2 << ", graph 0.95 center\n";
  }
  if (haveSeries) {
    g << "plot " << Quote(dir + "/series.dat")
      << " using 1:2 axes x1y1 with linespoints lw 2 pt 7 ps 0.6 lc rgb '#1f77b4' title 'ops/s', \\\n"
      << "     '' using 1:3 axes x1y2 with lines lw 1.5 dt 2 lc rgb '#2ca02c' title 'p50 ms', \\\n"
      << "     '' using 1:4 axes x1y2 with lines lw 1.5 lc rgb '#d62728' title 'p99 ms'\n";
  } else {
    g << "set label 2 'no seconds recorded' at graph 0.5, graph 0.5 center\n"
      << "plot [0:1] [0:1] 2 notitle\n";
  }
  g << "unset object 1\nunset label\nunset y2tics\nunset y2label\nset ytics mirror\n"
    << "set autoscale\n";

  // Bottom: latency by percentile over the measured window.
  char max[32];
  std::snprintf(max, sizeof(max), "%.3f", s["latency_ms"]["max"].get<double>());
  g << "set title "
    << Quote("Latency by percentile, measured window (" +
             std::to_string(s["ops"].get<uint64_t>()) + " ops, max " + max + " ms)")
    << "\n"
    << "set xlabel 'percentile'\n"
    << "set ylabel 'latency (ms)'\n"
    << "set logscale x\n"
    << "set xrange [1:" << std::max(lastX, 2.0) << "]\n"
    << "set yrange [0:*]\n"
    // Tic labels are formats to gnuplot: %% is a percent sign.
    << "set xtics ('0%%' 1, '50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, "
       "'99.999%%' 100000, '99.9999%%' 1000000)\n";
  if (havePercentiles) {
    g << "plot " << Quote(dir + "/percentiles.dat")
      << " using 1:3 with lines lw 2 lc rgb '#9467bd' notitle\n";
  } else {
    g << "set label 2 'no answered operations' at graph 0.5, graph 0.5 center\n"
      << "plot [1:10] [0:1] 2 notitle\n";
  }
  g << "unset multiplot\n";
  return g.str();
}

bool WritePlot(const nlohmann::json& summary, const std::string& gnuplot, const std::string& png,
               std::string* error) {
  std::error_code ec;
  std::string pattern = (std::filesystem::temp_directory_path(ec) / "kvbench-plot.XXXXXX").string();
  if (ec || mkdtemp(pattern.data()) == nullptr) {
    *error = "--plot: cannot make a temporary directory (" + pattern + "): " + std::strerror(errno);
    return false;
  }
  const std::string dir = pattern;
  const std::string script = dir + "/plot.gp";
  const std::string output = dir + "/gnuplot.out";
  const bool written = WriteTextFile(dir + "/series.dat", PlotSeriesData(summary), error) &&
                       WriteTextFile(dir + "/percentiles.dat", PlotPercentileData(summary), error) &&
                       WriteTextFile(script, PlotScript(summary, dir, png), error);
  bool ok = false;
  if (written) {
    // gnuplot's own messages go to a file, to be shown if it fails.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<std::string> args = {gnuplot, script};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, gnuplot.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    int status = 0;
    if (spawned != 0) {
      *error = "--plot: cannot run " + gnuplot + ": " + std::strerror(spawned);
    } else if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      *error = "--plot: gnuplot failed (status " + std::to_string(status) + ") drawing " + png +
               ": " + ReadFile(output);
    } else if (!std::filesystem::exists(png, ec)) {
      *error = "--plot: gnuplot exited cleanly but wrote no " + png + ": " + ReadFile(output);
    } else {
      ok = true;
    }
  }
  std::filesystem::remove_all(dir, ec);
  if (ec) LOG(WARNING) << "cannot remove " << dir << ": " << ec.message();
  return ok;
}

}  // namespace kvraft::bench
