// kvctl: one command against a kvraft cluster, through the client library
// (core/kv_client.h). Output is for people by default and one JSON object
// per command with --json; the exit code says how it went (kUsage below).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gflags/gflags.h>
#include <glog/logging.h>
#include <nlohmann/json.hpp>
#include <thrift/Thrift.h>

#include "core/kv_client.h"
#include "tools/command_line.h"

DEFINE_string(endpoints, "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103",
              "Client addresses (host:port) of some or all nodes, comma-separated; the leader "
              "is found among them");
DEFINE_bool(json, false,
            "Print one JSON object per command on stdout, errors included "
            "({\"ok\":false,\"code\":...,\"message\":...})");
DEFINE_int32(timeout_ms, 10000, "How long the command may take, retries included");
DEFINE_bool(stale, false,
            "get, range: read any node's applied state without asking the leader (faster, "
            "may be stale)");
DEFINE_bool(cas_absent, false,
            "cas: expect the key to be absent; the command is then `cas KEY NEW`");
DEFINE_int64(limit, 0, "range: at most this many keys (0: the node's maximum)");

namespace {

using kvraft::client::Code;
using kvraft::client::KvClient;
using kvraft::client::NodeStatus;
using kvraft::client::Result;
using Json = nlohmann::json;
using kvraft::tools::AsksForHelp;
using kvraft::tools::ParseArgs;
using kvraft::tools::SplitEndpoints;

enum Exit {
  kExitOk = 0,
  kExitNotFound = 1,
  kExitCasFailed = 2,
  kExitUnreachable = 3,
  kExitError = 4,
  kExitUsage = 64,
};

constexpr char kUsage[] = R"usage(reads and writes a kvraft cluster.

Usage: kvctl [flags] COMMAND [ARGS]
  get KEY                 print KEY's value (--stale: from any node)
  put KEY VALUE           set KEY to VALUE
  append KEY VALUE        append VALUE to KEY's value (an absent key counts as empty)
  del KEY                 delete KEY
  cas KEY EXPECTED NEW    set KEY to NEW if its value is EXPECTED
  cas KEY NEW             with --cas_absent: set KEY to NEW if KEY is absent
  range START [END]       print the keys in [START, END) and their values, one
                          "key<TAB>value" line each (no END: to the last key;
                          --limit, --stale)
  status                  print each node's id, role, term, leader and log indexes

Flags may come before or after the command; after "--" nothing is a flag
(for keys and values that start with "-").

Exit codes:
  0   success
  1   get, del: the key does not exist
  2   cas: the value did not match (the current value is printed, or "(absent)")
  3   timeout or unavailable: the cluster could not be reached or had no leader
      in time (see `kvctl status`); a write may or may not have been applied
  4   other errors: key or value too large, invalid argument, session expired
  64  usage: unknown command or flag, wrong number of arguments
status exits 0 if any node answered, 3 if none did.)usage";

// Keys and values are bytes; in a one-line message they are quoted with
// the unprintable ones escaped.
std::string Quote(std::string_view bytes) {
  std::string q = "\"";
  for (unsigned char c : bytes) {
    if (c == '"' || c == '\\') {
      q += '\\';
      q += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      q += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      q += hex;
    }
  }
  return q + "\"";
}

void PrintJson(const Json& j) {
  // Values need not be UTF-8; replacing what is not keeps the output JSON.
  std::cout << j.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
}

// Reports a failure in the chosen shape and returns the exit code.
int Fail(const std::string& command, int exitCode, const std::string& code,
         const std::string& line, Json details = Json::object()) {
  if (FLAGS_json) {
    Json j = {{"ok", false}, {"command", command}, {"code", code}, {"message", line}};
    j.update(details);
    PrintJson(j);
  }
  std::cerr << "kvctl: " << line << "\n";
  return exitCode;
}

int UsageError(const std::string& command, const std::string& what) {
  if (!FLAGS_json) std::cerr << "Usage: kvctl [flags] COMMAND [ARGS]; run kvctl --help for more\n";
  return Fail(command, kExitUsage, "USAGE", what + "; see kvctl --help");
}

// A call the library answered with a failure.
int CallFailed(const std::string& command, std::string_view key, const Result& r) {
  const std::string on = command + (key.empty() ? "" : " " + Quote(key));
  const Json details = key.empty() ? Json::object() : Json{{"key", key}};
  switch (r.code) {
    case Code::kNotFound:
      return Fail(command, kExitNotFound, "NOT_FOUND",
                  "key " + Quote(key) + " not found; list the keys there are with kvctl range \"\"",
                  details);
    case Code::kTimeout:
    case Code::kUnavailable:
      return Fail(command, kExitUnreachable, CodeName(r.code), on + ": " + r.message, details);
    default:
      return Fail(command, kExitError, CodeName(r.code), on + ": " + r.message, details);
  }
}

int Succeeded(const std::string& command, std::string_view key) {
  if (FLAGS_json) {
    PrintJson({{"ok", true}, {"command", command}, {"key", key}});
  } else {
    std::cout << "OK\n";
  }
  return kExitOk;
}

int Get(KvClient& client, const std::string& key) {
  Result r = client.Get(key, FLAGS_stale);
  if (!r.ok()) return CallFailed("get", key, r);
  const std::string& value = r.value.value_or("");
  if (FLAGS_json) {
    PrintJson({{"ok", true}, {"command", "get"}, {"key", key}, {"value", value}});
  } else {
    std::cout << value << "\n";
  }
  return kExitOk;
}

int Write(const std::string& command, const std::string& key, const Result& r) {
  return r.ok() ? Succeeded(command, key) : CallFailed(command, key, r);
}

int CompareAndSwap(KvClient& client, const std::string& key,
                   std::optional<std::string> expected, const std::string& value) {
  Result r = client.CompareAndSwap(key, expected, value);
  if (r.code != Code::kCasFailed) return Write("cas", key, r);
  if (!FLAGS_json) std::cout << (r.value ? *r.value : "(absent)") << "\n";
  return Fail("cas", kExitCasFailed, "CAS_FAILED",
              "cas " + Quote(key) + ": the current value is not the expected one" +
                  (FLAGS_json ? "" : " (it is on stdout)") +
                  "; nothing changed: retry with the current value as EXPECTED",
              {{"key", key}, {"current", r.value ? Json(*r.value) : Json(nullptr)}});
}

int Range(KvClient& client, const std::string& start, const std::string& end) {
  Result r = client.Range(start, end, FLAGS_limit, FLAGS_stale);
  if (!r.ok()) return CallFailed("range", "", r);
  if (FLAGS_json) {
    Json items = Json::array();
    for (const auto& kv : r.items) items.push_back({{"key", kv.key}, {"value", kv.value}});
    Json j = {{"ok", true}, {"command", "range"}, {"items", items}, {"more", r.more}};
    if (r.more && !r.items.empty()) j["continue_after"] = r.items.back().key;
    PrintJson(j);
    return kExitOk;
  }
  for (const auto& kv : r.items) std::cout << kv.key << "\t" << kv.value << "\n";
  if (r.more && !r.items.empty()) {
    std::cerr << "(more: continue after " << Quote(r.items.back().key) << ")\n";
  }
  return kExitOk;
}

std::string OrDash(int64_t n) { return n == 0 ? "-" : std::to_string(n); }

void PrintStatusTable(const std::vector<NodeStatus>& nodes) {
  std::vector<std::vector<std::string>> rows = {
      {"ENDPOINT", "NODE", "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED", "LAST LOG", "SNAPSHOT"}};
  for (const NodeStatus& n : nodes) {
    if (!n.reachable) {
      rows.push_back({n.endpoint, "unreachable: " + n.error});
      continue;
    }
    rows.push_back({n.endpoint, std::to_string(n.nodeId), n.role, std::to_string(n.term),
                    OrDash(n.leaderId), std::to_string(n.commitIndex),
                    std::to_string(n.appliedIndex), std::to_string(n.lastLogIndex),
                    std::to_string(n.snapshotIndex)});
    if (!n.error.empty()) rows.back().push_back("(" + n.error + ")");
  }
  // Column widths from the full rows; an unreachable row's reason runs on.
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    if (row.size() < 3) {
      width[0] = std::max(width[0], row[0].size());
      continue;
    }
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      std::string cell = row[c];
      const bool last = c + 1 == row.size();
      if (!last && c < width.size()) cell.resize(width[c], ' ');
      line += cell;
      if (!last) line += "  ";
    }
    std::cout << line << "\n";
  }
}

int Status(KvClient& client) {
  const std::vector<NodeStatus> nodes = client.Status();
  const bool anyAnswered =
      std::any_of(nodes.begin(), nodes.end(), [](const NodeStatus& n) { return n.reachable; });
  if (FLAGS_json) {
    Json list = Json::array();
    for (const NodeStatus& n : nodes) {
      Json j = {{"endpoint", n.endpoint}, {"reachable", n.reachable}};
      if (!n.error.empty()) j["error"] = n.error;
      if (n.reachable) {
        j.update({{"nodeId", n.nodeId}, {"clusterId", n.clusterId}, {"role", n.role},
                  {"term", n.term}, {"leaderId", n.leaderId},
                  {"leaderAddress", n.leaderAddress}, {"commitIndex", n.commitIndex},
                  {"appliedIndex", n.appliedIndex}, {"lastLogIndex", n.lastLogIndex},
                  {"snapshotIndex", n.snapshotIndex}, {"voters", n.voters}});
      }
      list.push_back(j);
    }
    Json j = {{"ok", anyAnswered}, {"command", "status"}, {"nodes", list}};
    if (!anyAnswered) {
      j["code"] = "UNAVAILABLE";
      j["message"] = "no node answered";
    }
    PrintJson(j);
  } else {
    PrintStatusTable(nodes);
  }
  if (anyAnswered) return kExitOk;
  std::cerr << "kvctl: no node answered status; check that kvd is running at --endpoints="
            << FLAGS_endpoints << " (for a local cluster: tools/cluster.sh status)\n";
  return kExitUnreachable;
}

// How many arguments each command takes, after its name.
struct Arity {
  const char* command;
  size_t min;
  size_t max;
};

constexpr Arity kCommands[] = {
    {"get", 1, 1}, {"put", 2, 2},   {"append", 2, 2}, {"del", 1, 1},
    {"cas", 3, 3}, {"range", 1, 2}, {"status", 0, 0},
};

int RunCommand(KvClient& client, const std::string& command,
               const std::vector<std::string>& args) {
  if (command == "get") return Get(client, args[0]);
  if (command == "put") return Write("put", args[0], client.Put(args[0], args[1]));
  if (command == "append") return Write("append", args[0], client.Append(args[0], args[1]));
  if (command == "del") return Write("del", args[0], client.Delete(args[0]));
  if (command == "cas") {
    if (FLAGS_cas_absent) return CompareAndSwap(client, args[0], std::nullopt, args[1]);
    return CompareAndSwap(client, args[0], args[1], args[2]);
  }
  if (command == "range") return Range(client, args[0], args.size() > 1 ? args[1] : "");
  return Status(client);
}


}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage(kUsage);
  // Logs are for debugging (--v=1 shows each retry); no log files per command.
  FLAGS_logtostderr = true;
  if (AsksForHelp(argc, argv)) {
    // gflags would list every library's flags and exit with 1; the truth
    // about kvctl is its own flags, and asking for help is no failure.
    gflags::ShowUsageWithFlagsRestrict(argv[0], "tools/kvctl.cc");
    return kExitOk;
  }
  std::vector<std::string> positional;
  std::string argError;
  if (!ParseArgs(argc, argv, &positional, &argError)) return UsageError("", argError);
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/false);
  google::InitGoogleLogging(argv[0]);
  // Thrift writes failed connects to stderr itself; the error line says
  // what matters, and --v=1 still shows them.
  apache::thrift::GlobalOutput.setOutputFunction([](const char* msg) { VLOG(1) << msg; });

  if (positional.empty()) return UsageError("", "no command given");
  const std::string command = positional[0];
  const std::vector<std::string> args(positional.begin() + 1, positional.end());
  const Arity* arity = nullptr;
  for (const Arity& a : kCommands) {
    if (command == a.command) arity = &a;
  }
  if (arity == nullptr) return UsageError(command, "unknown command \"" + command + "\"");
  size_t min = arity->min;
  size_t max = arity->max;
  if (command == "cas" && FLAGS_cas_absent) min = max = 2;
  if (args.size() < min || args.size() > max) {
    return UsageError(command, command + " takes " +
                                   (min == max ? std::to_string(min)
                                               : std::to_string(min) + " or " + std::to_string(max)) +
                                   " argument" + (max == 1 ? "" : "s") + ", not " +
                                   std::to_string(args.size()));
  }
  // A flag the command ignores would mislead whoever reads the command line.
  if (command != "cas" && FLAGS_cas_absent) {
    return UsageError(command, "--cas_absent applies to cas only");
  }
  if (command != "get" && command != "range" && FLAGS_stale) {
    return UsageError(command, "--stale applies to get and range only");
  }
  if (command != "range" && FLAGS_limit != 0) {
    return UsageError(command, "--limit applies to range only");
  }
  if (FLAGS_timeout_ms <= 0) return UsageError(command, "--timeout_ms must be positive");
  if (FLAGS_limit < 0) return UsageError(command, "--limit must not be negative");

  KvClient::Options options;
  options.endpoints = SplitEndpoints(FLAGS_endpoints);
  if (options.endpoints.empty()) return UsageError(command, "--endpoints names no node");
  options.timeout = std::chrono::milliseconds(FLAGS_timeout_ms);
  KvClient client(options);
  return RunCommand(client, command, args);
}
