// kvadmin: inspects and verifies what a kvd node keeps on disk (offline
// commands, kvadmin_offline.h) and asks running nodes about their state
// (online commands, kvadmin_online.h). This file is the command line only.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/command_line.h"
#include "tools/kvadmin_offline.h"
#include "tools/kvadmin_online.h"

DEFINE_string(data_dir, "", "Offline commands: the node's data directory (kvd --data_dir), holding raft/, kv/ and snapshots/.");
DEFINE_bool(json, false, "One JSON document per command on stdout (schemas: tools/KVADMIN.md).");
DEFINE_uint64(from, 0, "log: first index shown (0: the first stored entry).");
DEFINE_uint64(to, 0, "log: last index shown (0: the last stored entry).");
DEFINE_string(prefix, "", "kv: only keys starting with these bytes.");
DEFINE_uint64(limit, 0, "kv: at most this many keys (0: all).");
DEFINE_string(endpoints, "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103",
              "Online commands: client addresses (host:port,...); snapshot-now and compact take exactly one.");
DEFINE_int64(timeout_ms, 5000, "Online commands: how long to wait for the nodes.");

namespace {

using namespace kvraft::tools;

constexpr char kUsage[] = R"usage(inspects and verifies what a kvd node keeps on disk.

Usage: kvadmin COMMAND [flags]

Offline commands read --data_dir (a node's data directory). They open every
RocksDB instance read-only and create no file, so they never change the
directory and are safe while kvd runs (they then see the kv state as of its
last flush: the kv instance is written without a WAL).
  hard-state   cluster id, node id, format version, term, votedFor, commit,
               snapshot index and term, voters (the configuration), first
               and last log index
  log          one line per log entry in [--from, --to]: index, term, type
               (normal/noop), payload size and the decoded command (op,
               client id, sequence, key, value preview: first 32 bytes and
               the total size)
  kv           the state machine's keys and values (--prefix, --limit), one
               "key" "value" per line, in key order
  sessions     the dedup table: one line per client (last active time, first
               outstanding sequence), then one per cached reply
  applied      the kv instance's applied index, term and leader time
  stats        keys, key and value bytes, RocksDB's estimated keys, SST and
               memtable bytes per column family of both instances; disk
               bytes of raft/, kv/ and snapshots/
  verify       every checksum (entries, meta records, RocksDB blocks), log
               continuity (no holes, terms never decrease), snapshot index <=
               applied <= last log index, applied term = log term there,
               snapshot store consistent with both; prints "where: what" per
               problem, or "OK: ..."

Online commands ask running nodes over their client port (--endpoints):
  status        every node: role, term, leader, commit, applied, last log and
                snapshot index; the leader's view of its peers
  snapshot-now  one node snapshots at its applied index and compacts its log
  compact       one node compacts both of its RocksDB instances

Bytes (keys, values) are shown quoted with printable ASCII as is, `"` and `\`
escaped with a backslash and every other byte as \xNN; in JSON a field NAME
holds that text unquoted and NAME_hex the exact bytes in hex.

--json prints one JSON document per command instead of lines; each
command's schema is in tools/KVADMIN.md.

Exit codes:
  0   success (verify: every check holds)
  1   verify found problems (listed on stdout)
  2   the data directory cannot be opened or read (message on stderr; with
      --json also {"command", "error"} on stdout); log and sessions also
      exit 2 when records are damaged (they still print the rest)
  3   online: no node answered (or the one named did not)
  4   online: the node refused
  64  usage: unknown command or flag, missing --data_dir, bad argument
)usage";

int UsageError(const std::string& what) {
  std::cerr << "kvadmin: " << what << "\nUsage: kvadmin COMMAND [flags]; run kvadmin --help for more\n";
  return kExitUsage;
}

bool IsDefault(const char* flag) {
  gflags::CommandLineFlagInfo info;
  return gflags::GetCommandLineFlagInfo(flag, &info) && info.is_default;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage(kUsage);
  // Logs are for debugging (--v=2 shows RocksDB's info log); no log files.
  FLAGS_logtostderr = true;
  if (AsksForHelp(argc, argv)) {
    gflags::ShowUsageWithFlagsRestrict(argv[0], "tools/kvadmin.cc");
    return kExitOk;
  }
  std::vector<std::string> positional;
  std::string argError;
  if (!ParseArgs(argc, argv, &positional, &argError)) return UsageError(argError);
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/false);
  google::InitGoogleLogging(argv[0]);

  if (positional.empty()) return UsageError("no command given");
  if (positional.size() > 1) return UsageError("one command at a time; extra argument \"" + positional[1] + "\"");
  const std::string& command = positional[0];

  if (IsOnlineCommand(command)) {
    if (!FLAGS_data_dir.empty()) return UsageError(command + " asks running nodes; --data_dir is for offline commands");
    if (FLAGS_timeout_ms <= 0) return UsageError("--timeout_ms must be positive");
    OnlineOptions options;
    options.endpoints = SplitEndpoints(FLAGS_endpoints);
    options.json = FLAGS_json;
    options.timeout = std::chrono::milliseconds(FLAGS_timeout_ms);
    if (options.endpoints.empty()) return UsageError("--endpoints names no node");
    return RunOnline(command, options);
  }
  if (!IsOfflineCommand(command)) return UsageError("unknown command \"" + command + "\"");

  if (FLAGS_data_dir.empty()) return UsageError(command + " needs --data_dir (the node's data directory)");
  if (!IsDefault("endpoints") || !IsDefault("timeout_ms")) {
    return UsageError("--endpoints and --timeout_ms are for online commands");
  }
  // A flag the command ignores would mislead whoever reads the command line.
  if (command != "log" && (FLAGS_from != 0 || FLAGS_to != 0)) return UsageError("--from and --to apply to log only");
  if (command != "kv" && (!FLAGS_prefix.empty() || FLAGS_limit != 0)) {
    return UsageError("--prefix and --limit apply to kv only");
  }
  if (FLAGS_to != 0 && FLAGS_to < FLAGS_from) return UsageError("--to must not be below --from");

  OfflineOptions options;
  options.dataDir = FLAGS_data_dir;
  options.json = FLAGS_json;
  options.from = FLAGS_from;
  options.to = FLAGS_to;
  options.prefix = FLAGS_prefix;
  options.limit = FLAGS_limit;
  return RunOffline(command, options);
}
