#pragma once
// kvadmin's offline commands: they read a node's data directory (raft/,
// kv/, snapshots/) with every RocksDB instance opened read-only, so they
// never change it and work while kvd runs. Output and JSON schemas:
// tools/KVADMIN.md.
//   hard-state   identity, term, votedFor, commit, snapshot index/term, voters
//   log          one line per entry in [--from, --to]: index, term, type,
//                size, the decoded command
//   kv           user keys and values (--prefix, --limit)
//   sessions     the dedup table: each client's header and cached replies
//   applied      the kv instance's applied index and term
//   stats        keys and bytes per column family of both instances, sizes
//   verify       every check (kvadmin_verify.h)
#include <cstdint>
#include <string>

namespace kvraft::tools {

// Exit codes of the offline commands.
constexpr int kExitOk = 0;
constexpr int kExitProblems = 1;    // verify found problems
constexpr int kExitCannotRead = 2;  // the data directory cannot be opened or read
constexpr int kExitUsage = 64;

struct OfflineOptions {
  std::string dataDir;
  bool json = false;
  uint64_t from = 0;  // log: first index (0: the first stored)
  uint64_t to = 0;    // log: last index (0: the last stored)
  std::string prefix; // kv
  uint64_t limit = 0; // kv: at most this many keys (0: all)
};

bool IsOfflineCommand(const std::string& command);

// Runs one offline command; prints to stdout (errors to stderr, and with
// --json also as {"command", "error"} on stdout) and returns the exit code.
int RunOffline(const std::string& command, const OfflineOptions& options);

}  // namespace kvraft::tools
