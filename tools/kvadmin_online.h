#pragma once
// kvadmin's online commands: they ask running kvd nodes over the client
// port (KvService) and print what the nodes say.
//   status         every endpoint: id, address, role, term, leader, commit,
//                  applied, last log and snapshot index, and, from the
//                  leader, each peer's match index
//   snapshot-now   one node takes a snapshot at its applied index and
//                  compacts its log through it
//   compact        one node runs a RocksDB compaction of both its instances
#include <chrono>
#include <string>
#include <vector>

namespace kvraft::tools {

struct OnlineOptions {
  std::vector<std::string> endpoints;  // client addresses, host:port
  bool json = false;
  std::chrono::milliseconds timeout{5000};
};

// True for "status", "snapshot-now" and "compact".
bool IsOnlineCommand(const std::string& command);

// Runs one online command; prints to stdout (errors to stderr) and returns
// the process exit code: 0 success, 3 no node answered (or the one named
// did not), 4 the node refused, 64 usage (snapshot-now and compact need
// exactly one endpoint).
int RunOnline(const std::string& command, const OnlineOptions& options);

}  // namespace kvraft::tools
