#include "core/cluster_config.h"

#include <set>
#include <sstream>

namespace kvraft::core {
namespace {

bool ParsePositive(const std::string& text, int64_t max, int64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v <= 0 || v > max) return false;
  *out = v;
  return true;
}

// "1=host:port,2=host:port" -> id -> address.
Status ParseAddressList(const std::string& flag, const std::string& text,
                        std::map<raft::NodeId, Address>* out) {
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    int64_t id = 0;
    if (eq == std::string::npos || !ParsePositive(item.substr(0, eq), INT64_MAX, &id)) {
      return Status::InvalidArgument("--" + flag + ": '" + item +
                                     "' is not ID=HOST:PORT with a positive node id");
    }
    Address address;
    Status s = ParseAddress(item.substr(eq + 1), &address);
    if (!s.ok()) return Status::InvalidArgument("--" + flag + ": " + s.message());
    if (!out->emplace(static_cast<raft::NodeId>(id), address).second) {
      return Status::InvalidArgument("--" + flag + ": node " + std::to_string(id) + " is listed twice");
    }
  }
  if (out->empty()) {
    return Status::InvalidArgument("--" + flag + " is empty: list every member as ID=HOST:PORT, comma-separated");
  }
  return Status::Ok();
}

}  // namespace

Status ParseAddress(const std::string& text, Address* out) {
  const size_t colon = text.rfind(':');
  int64_t port = 0;
  if (colon == std::string::npos || colon == 0 || !ParsePositive(text.substr(colon + 1), 65535, &port)) {
    return Status::InvalidArgument("'" + text + "' is not HOST:PORT with a port from 1 to 65535");
  }
  out->host = text.substr(0, colon);
  out->port = static_cast<int>(port);
  return Status::Ok();
}

std::vector<raft::NodeId> ClusterConfig::Voters() const {
  std::vector<raft::NodeId> ids;
  for (const auto& [id, member] : members) ids.push_back(id);
  return ids;
}

std::string ClusterConfig::ClientAddressOf(raft::NodeId id) const {
  auto it = members.find(id);
  return it == members.end() ? "" : it->second.client.ToString();
}

Status ParseClusterConfig(const std::string& clusterId, int64_t self, const std::string& peers,
                          const std::string& clientAddresses, ClusterConfig* out) {
  if (clusterId.empty()) {
    return Status::InvalidArgument("--cluster_id is empty: give every node of a cluster the same name");
  }
  std::map<raft::NodeId, Address> raftAddresses, clients;
  Status s = ParseAddressList("peers", peers, &raftAddresses);
  if (!s.ok()) return s;
  s = ParseAddressList("client_addresses", clientAddresses, &clients);
  if (!s.ok()) return s;
  ClusterConfig config;
  config.clusterId = clusterId;
  std::set<std::string> seen;
  for (const auto& [id, raftAddress] : raftAddresses) {
    auto client = clients.find(id);
    if (client == clients.end()) {
      return Status::InvalidArgument("node " + std::to_string(id) +
                                     " is in --peers but not in --client_addresses");
    }
    for (const Address* a : {&raftAddress, static_cast<const Address*>(&client->second)}) {
      if (!seen.insert(a->ToString()).second) {
        return Status::InvalidArgument("address " + a->ToString() + " is used twice");
      }
    }
    config.members[id] = Member{raftAddress, client->second};
  }
  if (clients.size() != raftAddresses.size()) {
    return Status::InvalidArgument("--client_addresses names a node that is not in --peers");
  }
  if (self <= 0 || !config.members.count(static_cast<raft::NodeId>(self))) {
    return Status::InvalidArgument("--node_id=" + std::to_string(self) +
                                   " is not one of the nodes in --peers");
  }
  config.self = static_cast<raft::NodeId>(self);
  *out = std::move(config);
  return Status::Ok();
}

}  // namespace kvraft::core
