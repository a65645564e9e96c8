#include "tools/kvadmin_online.h"

#include <cstdio>
#include <future>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include <glog/logging.h>
#include <thrift/TOutput.h>

#include "KvService.h"
#include "core/kv_connection.h"
#include "core/thrift_enum.h"

namespace kvraft::tools {
namespace {

using nlohmann::json;

// One call on a fresh connection to `endpoint`; the exception's text if it
// could not be made.
template <typename Response, typename Call>
std::optional<Response> Ask(const std::string& endpoint, std::chrono::milliseconds timeout, Call call,
                            std::string* error) {
  std::string host;
  int port = 0;
  if (!client::SplitEndpoint(endpoint, &host, &port)) {
    *error = "not a host:port address";
    return std::nullopt;
  }
  try {
    client::KvConnection connection(host, port, timeout);
    connection.SetCallTimeout(timeout);
    Response response;
    call(connection.rpc(), response);
    return response;
  } catch (const std::exception& e) {
    *error = e.what();
    return std::nullopt;
  }
}

struct Answer {
  std::string endpoint;
  std::optional<thrift::NodeStatus> status;
  std::string error;
};

json StatusJson(const Answer& a) {
  json j = {{"endpoint", a.endpoint}, {"reachable", a.status.has_value()}};
  if (!a.status) {
    j["error"] = a.error;
    return j;
  }
  const thrift::NodeStatus& s = *a.status;
  j["node_id"] = s.nodeId;
  j["cluster_id"] = s.clusterId;
  j["role"] = s.role;
  j["term"] = s.term;
  j["leader_id"] = s.leaderId;
  j["leader_address"] = s.leaderAddress;
  j["commit_index"] = s.commitIndex;
  j["applied_index"] = s.appliedIndex;
  j["last_log_index"] = s.lastLogIndex;
  j["snapshot_index"] = s.snapshotIndex;
  j["voters"] = s.voters;
  json peers = json::array();
  for (const thrift::PeerProgress& p : s.peers) {
    peers.push_back({{"node_id", p.nodeId}, {"match_index", p.matchIndex}, {"next_index", p.nextIndex},
                     {"state", p.state}});
  }
  j["peers"] = peers;
  return j;
}

void PrintStatusTable(const std::vector<Answer>& answers) {
  std::printf("%-21s %4s %-13s %6s %6s %8s %8s %8s %8s\n", "ENDPOINT", "NODE", "ROLE", "TERM", "LEADER",
              "COMMIT", "APPLIED", "LAST LOG", "SNAPSHOT");
  for (const Answer& a : answers) {
    if (!a.status) {
      std::printf("%-21s does not answer: %s\n", a.endpoint.c_str(), a.error.c_str());
      continue;
    }
    const thrift::NodeStatus& s = *a.status;
    std::printf("%-21s %4lld %-13s %6lld %6lld %8lld %8lld %8lld %8lld\n", a.endpoint.c_str(),
                static_cast<long long>(s.nodeId), s.role.c_str(), static_cast<long long>(s.term),
                static_cast<long long>(s.leaderId), static_cast<long long>(s.commitIndex),
                static_cast<long long>(s.appliedIndex), static_cast<long long>(s.lastLogIndex),
                static_cast<long long>(s.snapshotIndex));
  }
  for (const Answer& a : answers) {
    if (!a.status || a.status->peers.empty()) continue;
    std::printf("\nleader %lld's view of its followers:\n", static_cast<long long>(a.status->nodeId));
    std::printf("  %4s %8s %8s %s\n", "NODE", "MATCH", "NEXT", "STATE");
    for (const thrift::PeerProgress& p : a.status->peers) {
      std::printf("  %4lld %8lld %8lld %s\n", static_cast<long long>(p.nodeId),
                  static_cast<long long>(p.matchIndex), static_cast<long long>(p.nextIndex), p.state.c_str());
    }
  }
}

int Status(const OnlineOptions& options) {
  // Every node at once: one that is paused or gone costs the timeout once,
  // not once per node.
  std::vector<std::future<Answer>> pending;
  for (const std::string& endpoint : options.endpoints) {
    pending.push_back(std::async(std::launch::async, [endpoint, &options] {
      Answer a{endpoint, std::nullopt, ""};
      a.status = Ask<thrift::NodeStatus>(
          endpoint, options.timeout, [](thrift::KvServiceClient& c, thrift::NodeStatus& r) { c.Status(r); },
          &a.error);
      return a;
    }));
  }
  std::vector<Answer> answers;
  for (auto& p : pending) answers.push_back(p.get());
  bool any = false;
  for (const Answer& a : answers) any |= a.status.has_value();
  if (options.json) {
    json nodes = json::array();
    for (const Answer& a : answers) nodes.push_back(StatusJson(a));
    std::cout << json{{"command", "status"}, {"nodes", nodes}}.dump(2, ' ', false, json::error_handler_t::replace)
              << "\n";
  } else {
    PrintStatusTable(answers);
  }
  if (!any) {
    std::fprintf(stderr, "kvadmin: no node answered; check --endpoints and that kvd runs\n");
    return 3;
  }
  return 0;
}

// snapshot-now and compact: one node, named by the only endpoint.
int OnNode(const std::string& command, const OnlineOptions& options) {
  if (options.endpoints.size() != 1) {
    std::fprintf(stderr, "kvadmin: %s acts on one node: give exactly one address in --endpoints\n",
                 command.c_str());
    return 64;
  }
  const std::string& endpoint = options.endpoints.front();
  std::string error;
  std::optional<thrift::AdminResponse> r = Ask<thrift::AdminResponse>(
      endpoint, options.timeout,
      [&](thrift::KvServiceClient& c, thrift::AdminResponse& out) {
        if (command == "snapshot-now") {
          c.SnapshotNow(out);
        } else {
          c.Compact(out);
        }
      },
      &error);
  if (!r) {
    if (options.json) {
      std::cout << json{{"command", command}, {"endpoint", endpoint}, {"ok", false}, {"error", error}}.dump(2)
                << "\n";
    }
    std::fprintf(stderr, "kvadmin: %s on %s: the node did not answer: %s\n", command.c_str(),
                 endpoint.c_str(), error.c_str());
    return 3;
  }
  const bool ok = core::RawEnum(r->result.code) == thrift::Code::OK;
  if (options.json) {
    json j = {{"command", command}, {"endpoint", endpoint}, {"ok", ok}};
    if (ok) {
      j["detail"] = r->detail;
      if (command == "snapshot-now") j["snapshot_index"] = r->snapshotIndex;
    } else {
      j["error"] = r->result.message;
    }
    std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  } else if (ok) {
    std::printf("%s\n", r->detail.c_str());
  }
  if (!ok) {
    std::fprintf(stderr, "kvadmin: %s on %s: %s\n", command.c_str(), endpoint.c_str(),
                 r->result.message.c_str());
    return 4;
  }
  return 0;
}

}  // namespace

bool IsOnlineCommand(const std::string& command) {
  return command == "status" || command == "snapshot-now" || command == "compact";
}

int RunOnline(const std::string& command, const OnlineOptions& options) {
  // Thrift prints failed connects on stderr; the table and the exit code
  // already say which node did not answer.
  apache::thrift::GlobalOutput.setOutputFunction([](const char* m) { VLOG(1) << "thrift: " << m; });
  if (command == "status") return Status(options);
  return OnNode(command, options);
}

}  // namespace kvraft::tools
