#pragma once
// Who is in the cluster and where to reach them, from kvd's flags:
//   --peers=1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003
//   --client_addresses=1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103
// Both list every member, this node included, with the same ids.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "raftlog/status.h"
#include "raftlog/types.h"

namespace kvraft::core {

struct Address {
  std::string host;
  int port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

// "host:port"; InvalidArgument naming what is wrong.
Status ParseAddress(const std::string& text, Address* out);

struct Member {
  Address raft;    // where peers connect (RaftService)
  Address client;  // where clients connect (KvService)
};

struct ClusterConfig {
  std::string clusterId;
  raft::NodeId self = raft::kNoNode;
  std::map<raft::NodeId, Member> members;

  std::vector<raft::NodeId> Voters() const;
  const Member& Self() const { return members.at(self); }
  // The member's client address, or "" for an unknown id.
  std::string ClientAddressOf(raft::NodeId id) const;
};

// Builds and checks the configuration: ids are positive and unique, the
// two lists name the same ids, `self` is one of them, no address repeats.
Status ParseClusterConfig(const std::string& clusterId, int64_t self, const std::string& peers,
                          const std::string& clientAddresses, ClusterConfig* out);

}  // namespace kvraft::core
